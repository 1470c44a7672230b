"""``ikeclient secret set|delete PROFILE``: secrets go to the OS keyring, read safely.

The secret is read from a hidden prompt at a terminal, or from standard input when it is
not a terminal (``printf '%s\\n' "$PSK" | ikeclient secret set lab``); never from an
argument, so it never shows in the process list or the shell history.
"""

from __future__ import annotations

import getpass
import sys

import typer

from ikeclient.errors import SecretStoreError
from ikeclient.secretstore import KINDS, delete_secret, describe, set_secret


def _read(profile: str, kind: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"{describe(kind)} for {profile}: ")
        second = getpass.getpass("again: ")
        if first != second:
            raise SecretStoreError("the two entries differ; nothing stored")
        return first
    line = sys.stdin.readline()
    value = line.rstrip("\r\n")
    if not value:
        raise SecretStoreError("no secret on standard input; nothing stored")
    return value


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SecretStoreError(f"unknown secret kind {kind!r} (one of {', '.join(KINDS)})")


def run_set(profile: str, kind: str) -> int:
    _check_kind(kind)
    set_secret(profile, kind, _read(profile, kind))
    typer.echo(f"stored the {describe(kind)} of {profile} in the keyring")
    return 0


def run_delete(profile: str, kind: str) -> int:
    _check_kind(kind)
    if delete_secret(profile, kind):
        typer.echo(f"deleted the {describe(kind)} of {profile} from the keyring")
        return 0
    typer.echo(f"no {describe(kind)} of {profile} in the keyring")
    return 1
