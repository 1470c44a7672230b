"""Running iproute2 and resolvectl: argument lists, no shell, bounded time.

Every host change in ``ikeclient.net`` goes through :func:`run`; reading uses ``ip -j``
(JSON) so nothing parses human-oriented output.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ikeclient.errors import NetError, PrivilegeError

#: A command runner: argv in, finished process (text mode) out. Injectable for tests.
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]

COMMAND_TIMEOUT = 15.0

_PRIVILEGE_HINTS = ("Operation not permitted", "Permission denied")


def run_command(argv: Sequence[str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell), capture its output; never raise for a non-zero exit.

    ``input`` is written to its standard input (otherwise it reads /dev/null).
    """
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            **stdin,
        )
    except FileNotFoundError:
        raise NetError(f"{argv[0]!r} not found: install it (iproute2 provides 'ip')") from None
    except subprocess.TimeoutExpired:
        raise NetError(f"{' '.join(argv)} did not finish within {COMMAND_TIMEOUT:g} s") from None


def describe(argv: Sequence[str], result: subprocess.CompletedProcess[str]) -> str:
    """``'ip route add ...' failed: RTNETLINK answers: File exists`` (one line)."""
    detail = " ".join((result.stderr or result.stdout or "").split()) or f"exit {result.returncode}"
    return f"'{' '.join(argv)}' failed: {detail}"


def check(
    argv: Sequence[str],
    error: type[NetError],
    runner: Runner | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; on failure raise ``error`` (or PrivilegeError when it is EPERM)."""
    result = (runner or run_command)(argv)
    if result.returncode != 0:
        raise_for(argv, result, error)
    return result


def raise_for(
    argv: Sequence[str],
    result: subprocess.CompletedProcess[str],
    error: type[NetError],
    hint: str = "",
) -> NoReturn:
    """Raise ``error`` describing a failed command (PrivilegeError when it was EPERM)."""
    message = describe(argv, result)
    if any(marker in (result.stderr or "") for marker in _PRIVILEGE_HINTS):
        raise PrivilegeError(
            f"{message}: changing the network needs CAP_NET_ADMIN: run as root "
            "(sudo ikeclient up ...) or grant the capability"
        )
    raise error(f"{message}{hint}")


def ip_json(args: Sequence[str], error: type[NetError] = NetError) -> list[dict[str, Any]]:
    """``ip -j ARGS`` parsed; an empty answer is an empty list."""
    argv = ["ip", "-j", *args]
    result = check(argv, error)
    text = result.stdout.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"'{' '.join(argv)}' printed no valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise error(f"'{' '.join(argv)}' printed {type(data).__name__}, expected a list")
    return [item for item in data if isinstance(item, dict)]
