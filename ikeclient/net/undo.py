"""The undo operations a journal can replay, by name.

A journal entry is data (an operation name and JSON arguments), never code, so a
later process can replay the entries of one that crashed. Each operation is
idempotent and best effort: what is already gone counts as undone, and it never
removes something this client did not make (routes carry our protocol number,
links must be TUN devices, files are restored only while they still hold our
contents).

An operation returns ``None`` when the undo is done (or nothing was left to
undo) and raises :class:`UndoFailed` when it could not do it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ikeclient.net._command import describe, run_command

logger = logging.getLogger(__name__)

#: The routing protocol number that marks our routes (``ip route ... proto 157``), so an undo
#: deletes only a route this client added, even one with the same prefix as somebody else's.
ROUTE_PROTO = 157

UndoHandler = Callable[[Mapping[str, Any]], None]


class UndoFailed(Exception):
    """One undo could not be done; the message says what and why."""


_GONE_LINK = ("Cannot find device", "does not exist")
_GONE_ADDR = ("Cannot find device", "Address not found", "Cannot assign requested address")
_GONE_ROUTE = ("No such process", "Cannot find device", "not found")


def _gone(stderr: str, markers: tuple[str, ...]) -> bool:
    return any(marker in stderr for marker in markers)


def ifindex_of(name: str) -> int | None:
    """The interface index of ``name`` in this network namespace, or None if there is none."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def _replaced(args: Mapping[str, Any], dev_key: str) -> bool:
    """True when the recorded device is gone and another one has its name (or none has).

    Entries record the ifindex of their device: after a crash our TUN vanishes, and another
    client may create a TUN of the same name, which our undo must not touch.
    """
    recorded = args.get("ifindex")
    if recorded is None or not args.get(dev_key):
        return False
    return ifindex_of(str(args[dev_key])) != int(recorded)


def undo_link_delete(args: Mapping[str, Any]) -> None:
    """Delete the TUN device ``args['name']`` if it still exists (and is a TUN)."""
    name = str(args["name"])
    if _replaced(args, "name"):
        return
    show = ["ip", "-j", "-d", "link", "show", "dev", name]
    result = run_command(show)
    if result.returncode != 0:
        if _gone(result.stderr, _GONE_LINK):
            return
        raise UndoFailed(describe(show, result))
    if f'"info_kind":"{args.get("kind", "tun")}"' not in result.stdout.replace(" ", ""):
        logger.warning("not deleting link %s: it is no longer our TUN device", name)
        return
    argv = ["ip", "link", "del", "dev", name]
    result = run_command(argv)
    if result.returncode != 0 and not _gone(result.stderr, _GONE_LINK):
        raise UndoFailed(describe(argv, result))


def undo_addr_delete(args: Mapping[str, Any]) -> None:
    """Remove address ``args['address']`` (CIDR) from ``args['dev']``."""
    if _replaced(args, "dev"):
        return
    argv = ["ip", "addr", "del", str(args["address"]), "dev", str(args["dev"])]
    result = run_command(argv)
    if result.returncode != 0 and not _gone(result.stderr, _GONE_ADDR):
        raise UndoFailed(describe(argv, result))


def route_delete_argv(args: Mapping[str, Any]) -> list[str]:
    """The ``ip route del`` that removes exactly the route described by ``args``."""
    argv = ["ip", "-6" if ":" in str(args["dst"]) else "-4", "route", "del", str(args["dst"])]
    if args.get("via"):
        argv += ["via", str(args["via"])]
    if args.get("dev"):
        argv += ["dev", str(args["dev"])]
    if args.get("table"):
        argv += ["table", str(args["table"])]
    argv += ["proto", str(args.get("proto", ROUTE_PROTO))]
    return argv


def undo_route_delete(args: Mapping[str, Any]) -> None:
    """Delete our route (matched by prefix, next hop, device and our protocol number)."""
    if _replaced(args, "dev"):
        return
    argv = route_delete_argv(args)
    result = run_command(argv)
    if result.returncode != 0 and not _gone(result.stderr, _GONE_ROUTE):
        raise UndoFailed(describe(argv, result))


def undo_resolvectl_revert(args: Mapping[str, Any]) -> None:
    """``resolvectl revert LINK``: drop the per-link DNS settings we made."""
    link = str(args["link"])
    if not Path("/run/systemd/resolve").is_dir():
        return  # systemd-resolved is gone, and with it every per-link setting
    show = ["ip", "link", "show", "dev", link]
    if run_command(show).returncode != 0:
        return  # the link is gone, and resolved forgets its settings with it
    argv = ["resolvectl", "revert", link]
    try:
        result = run_command(argv)
    except Exception as exc:
        raise UndoFailed(f"'{' '.join(argv)}': {exc}") from None
    if result.returncode != 0:
        raise UndoFailed(describe(argv, result))


def decode_bytes(text: str) -> bytes:
    """Bytes stored in a journal as text (UTF-8 with surrogate escapes, lossless)."""
    return text.encode("utf-8", "surrogateescape")


def encode_bytes(data: bytes) -> str:
    """The lossless text form of ``data`` for a JSON journal."""
    return data.decode("utf-8", "surrogateescape")


def write_in_place(path: Path, data: bytes) -> None:
    """Overwrite ``path`` without replacing it: a bind-mounted file cannot be renamed over."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def undo_file_restore(args: Mapping[str, Any]) -> None:
    """Put back a file's original bytes, if it still holds what we wrote.

    ``args``: ``path``; ``original`` (text form of the bytes, or ``None`` when the file did not
    exist); ``written`` (what we wrote); ``marker`` (our first line); ``inode`` ([dev, ino] of
    the file when we recorded it, or ``None``). A file that another program has replaced or
    rewritten since is left alone: it is theirs now.
    """
    path = Path(str(args["path"]))
    original = args.get("original")
    written = decode_bytes(str(args["written"]))
    marker = decode_bytes(str(args.get("marker") or "")) or None
    try:
        st = path.stat()
        current = path.read_bytes()
    except FileNotFoundError:
        if original is not None:
            logger.warning("%s was removed by someone else; not restoring it", path)
        return
    except OSError as exc:
        raise UndoFailed(f"cannot read {path}: {exc.strerror}") from None
    inode = args.get("inode")
    if inode is not None and [st.st_dev, st.st_ino] != list(inode):
        logger.warning("%s was replaced by another program; leaving it as it is", path)
        return
    if original is not None and current == decode_bytes(str(original)):
        return
    ours = current == written or (marker is not None and current.startswith(marker))
    if not ours:
        logger.warning("%s was rewritten by another program; leaving it as it is", path)
        return
    try:
        if original is None:
            path.unlink()
        else:
            write_in_place(path, decode_bytes(str(original)))
    except OSError as exc:
        raise UndoFailed(f"cannot restore {path}: {exc.strerror}") from None


#: Operation name → undo function. Journals refuse to record an operation not listed here.
UNDO_HANDLERS: Mapping[str, UndoHandler] = {
    "link_delete": undo_link_delete,
    "addr_delete": undo_addr_delete,
    "route_delete": undo_route_delete,
    "resolvectl_revert": undo_resolvectl_revert,
    "file_restore": undo_file_restore,
}
