"""The undo operations a journal can replay, by name.

A journal entry is data (an operation name and JSON arguments), never code, so a
later process can replay the entries of one that crashed. Each operation is
idempotent and best effort: what is already gone counts as undone, and it never
removes something this client did not make (routes carry our protocol number,
links must be TUN devices, files are restored only while they still hold our
contents).

A journal is also untrusted input (a file on disk that a root process replays), so
nothing that decides *what kind of thing* an undo touches comes from it: the route
protocol is always ours (:data:`ROUTE_PROTO`), a link must be a TUN device with one
of our names (:data:`TUN_NAME_RE`), and the only file an undo rewrites is the
resolv.conf the handlers were made for (:func:`undo_handlers`), whatever path the
journal names. Arguments that are not what we write (an address that does not
parse, a device name that is not one) make the undo fail with a message.

An operation returns ``None`` when the undo is done (or nothing was left to
undo) and raises :class:`UndoFailed` when it could not do it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
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

#: The names ikeclient gives its TUN devices (``ikc0``, ``ikc1``, ...; net/tun.py): the only
#: links, and the only devices of addresses and DNS settings, an undo may touch.
TUN_NAME_RE = re.compile(r"ikc[0-9]{1,8}")
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
_TABLE_RE = re.compile(r"main|[0-9]{1,10}")
#: The nftables table (family inet) of leak protection (net/firewall.py): the only one an undo
#: may delete, whatever table a journal names.
NFT_TABLE = "ikeclient"
#: The one file the DNS undo may rewrite, unless the handlers are made for another one.
RESOLV_CONF = Path("/etc/resolv.conf")


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


def _tun_name(args: Mapping[str, Any], key: str) -> str:
    """``args[key]`` if it is one of our TUN names, else UndoFailed."""
    name = args.get(key)
    if not isinstance(name, str) or not TUN_NAME_RE.fullmatch(name):
        raise UndoFailed(f"{key} {name!r} is not a TUN device of ikeclient; not touching it")
    return name


def undo_link_delete(args: Mapping[str, Any]) -> None:
    """Delete the TUN device ``args['name']`` if it still exists (and is a TUN)."""
    name = _tun_name(args, "name")
    if _replaced(args, "name"):
        return
    show = ["ip", "-j", "-d", "link", "show", "dev", name]
    result = run_command(show)
    if result.returncode != 0:
        if _gone(result.stderr, _GONE_LINK):
            return
        raise UndoFailed(describe(show, result))
    if '"info_kind":"tun"' not in result.stdout.replace(" ", ""):
        logger.warning("not deleting link %s: it is no longer our TUN device", name)
        return
    argv = ["ip", "link", "del", "dev", name]
    result = run_command(argv)
    if result.returncode != 0 and not _gone(result.stderr, _GONE_LINK):
        raise UndoFailed(describe(argv, result))


def undo_addr_delete(args: Mapping[str, Any]) -> None:
    """Remove address ``args['address']`` (CIDR) from our TUN device ``args['dev']``."""
    dev = _tun_name(args, "dev")
    try:
        address = ipaddress.ip_interface(str(args["address"]))
    except (KeyError, ValueError):
        raise UndoFailed(f"address {args.get('address')!r} is not an address") from None
    if _replaced(args, "dev"):
        return
    argv = ["ip", "addr", "del", str(address), "dev", dev]
    result = run_command(argv)
    if result.returncode != 0 and not _gone(result.stderr, _GONE_ADDR):
        raise UndoFailed(describe(argv, result))


def route_delete_argv(args: Mapping[str, Any]) -> list[str]:
    """The ``ip route del`` that removes exactly our route described by ``args``.

    The protocol is always ours (a journal's ``proto`` is ignored), so only a route that
    ikeclient added can match. UndoFailed when an argument is not what we record.
    """
    try:
        dst = ipaddress.ip_network(str(args["dst"]), strict=False)
        via = ipaddress.ip_address(str(args["via"])) if args.get("via") else None
    except (KeyError, ValueError):
        what = f"{args.get('dst')!r} via {args.get('via')!r}"
        raise UndoFailed(f"route {what} is not a route") from None
    argv = ["ip", f"-{dst.version}", "route", "del", str(dst)]
    if args.get("type") == "unreachable":  # the only other route type we add (net/routes.py)
        argv[4:4] = ["unreachable"]
    if via is not None:
        argv += ["via", str(via)]
    for key, pattern in (("dev", _IFNAME_RE), ("table", _TABLE_RE)):
        value = args.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise UndoFailed(f"route {dst}: {key} {value!r} is not valid")
        argv += [key, value]
    argv += ["proto", str(ROUTE_PROTO)]
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
    """``resolvectl revert LINK``: drop the per-link DNS settings we made on our TUN."""
    link = _tun_name(args, "link")
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


def undo_nft_delete_table(args: Mapping[str, Any]) -> None:
    """Delete our leak-protection table (``inet`` :data:`NFT_TABLE`) if it is still there."""
    if args.get("table", NFT_TABLE) != NFT_TABLE:
        raise UndoFailed(f"table {args.get('table')!r} is not ikeclient's; not touching it")
    argv = ["nft", "delete", "table", "inet", NFT_TABLE]
    try:
        result = run_command(argv)
    except Exception as exc:  # no nft: no table of ours can exist
        logger.info("%s: %s", " ".join(argv), exc)
        return
    if result.returncode != 0 and "No such file or directory" not in result.stderr:
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


def undo_file_restore(args: Mapping[str, Any], *, path: Path = RESOLV_CONF) -> None:
    """Put back ``path``'s original bytes, if it still holds what we wrote.

    ``path`` is given by the code that made the handler (:func:`undo_handlers`), never read
    from the journal: an entry that names another file is refused. ``args``: ``path`` (what
    was recorded, compared with ``path``); ``original`` (text form of the bytes, or ``None``
    when the file did not exist); ``written`` (what we wrote); ``marker`` (our first line);
    ``inode`` ([dev, ino] of the file when we recorded it, or ``None``). A file that another
    program has replaced or rewritten since is left alone: it is theirs now.
    """
    if str(args.get("path")) != str(path):
        raise UndoFailed(f"the journal names {args.get('path')!r}; only {path} is restored")
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


def undo_handlers(resolv_conf: Path = RESOLV_CONF) -> Mapping[str, UndoHandler]:
    """Operation name → undo function, with ``resolv_conf`` the one file DNS undo restores."""
    return {
        "link_delete": undo_link_delete,
        "addr_delete": undo_addr_delete,
        "route_delete": undo_route_delete,
        "resolvectl_revert": undo_resolvectl_revert,
        "file_restore": functools.partial(undo_file_restore, path=resolv_conf),
        "nft_delete_table": undo_nft_delete_table,
    }


#: The undo operations for /etc/resolv.conf. Journals refuse to record an operation not listed.
UNDO_HANDLERS: Mapping[str, UndoHandler] = undo_handlers()
