"""Addresses and routes through iproute2, each change journaled with its undo.

Reading uses ``ip -j`` (JSON); changes are ``ip`` argument lists, never a shell.
Our routes carry :data:`ROUTE_PROTO` so an undo deletes exactly what we added.

Full tunnel (a remote selector of 0.0.0.0/0 or ::/0) is routed as two halves,
``0.0.0.0/1`` + ``128.0.0.0/1`` (``::/1`` + ``8000::/1``): longer than any default
route, so they win without the default route being touched, and removing them
brings the old state back exactly. A host route to the gateway through its
original path (``ip route get`` before any change) keeps the tunnel's own packets
out of the tunnel.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ikeclient.errors import RouteError
from ikeclient.net._command import check, ip_json, raise_for, run_command
from ikeclient.net.journal import UndoJournal
from ikeclient.net.undo import ROUTE_PROTO, ifindex_of

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

FULL_V4 = ipaddress.IPv4Network("0.0.0.0/0")
FULL_V6 = ipaddress.IPv6Network("::/0")


@dataclass(frozen=True, slots=True)
class PathInfo:
    """How the host reaches an address now (``ip -j route get``)."""

    dst: IPAddress
    dev: str
    gateway: IPAddress | None = None
    prefsrc: IPAddress | None = None
    local: bool = False


def _family_flag(version: int) -> str:
    return "-6" if version == 6 else "-4"


def route_get(address: IPAddress) -> PathInfo:
    """The path the kernel would use to reach ``address`` (RouteError when there is none)."""
    routes = ip_json([_family_flag(address.version), "route", "get", str(address)], RouteError)
    if not routes or "dev" not in routes[0]:
        raise RouteError(f"no route to {address}")
    route = routes[0]
    gateway = route.get("gateway")
    prefsrc = route.get("prefsrc")
    return PathInfo(
        dst=address,
        dev=str(route["dev"]),
        gateway=ipaddress.ip_address(gateway) if gateway else None,
        prefsrc=ipaddress.ip_address(prefsrc) if prefsrc else None,
        local=route.get("type") == "local",
    )


def default_path(version: int, *, exclude_dev: str | None = None) -> PathInfo | None:
    """The preferred default route of this family (lowest metric) not through ``exclude_dev``.

    For re-pinning a full tunnel's host route to the gateway after its link went away:
    the tunnel's own halves (``0.0.0.0/1``, ...) are not default routes, so what is left
    is the uplinks. None when there is no such route.
    """
    routes = ip_json([_family_flag(version), "route", "show", "default"], RouteError)
    best: tuple[int, PathInfo] | None = None
    for route in routes:
        dev = route.get("dev")
        if not isinstance(dev, str) or dev == exclude_dev:
            continue
        metric = route.get("metric", 0)
        metric = metric if isinstance(metric, int) else 0
        via = route.get("gateway")
        path = PathInfo(
            dst=FULL_V4.network_address if version == 4 else FULL_V6.network_address,
            dev=dev,
            gateway=ipaddress.ip_address(via) if isinstance(via, str) else None,
        )
        if best is None or metric < best[0]:
            best = (metric, path)
    return best[1] if best is not None else None


def _ifindex(dev: str) -> int:
    index = ifindex_of(dev)
    if index is None:
        raise RouteError(f"network device {dev!r} does not exist")
    return index


def add_address(journal: UndoJournal, dev: str, address: IPInterface) -> None:
    """Add ``address`` (with its prefix length) to ``dev``; undo removes it."""
    argv = ["ip", _family_flag(address.version), "addr", "add", str(address), "dev", dev]
    if address.version == 6:
        argv.append("nodad")  # a point-to-point TUN has no neighbours; usable at once
    with journal.change("addr_delete", dev=dev, address=str(address), ifindex=_ifindex(dev)):
        check(argv, RouteError)


def route_add_argv(
    dst: IPNetwork,
    *,
    dev: str,
    via: IPAddress | None = None,
    src: IPAddress | None = None,
    table: str | None = None,
) -> list[str]:
    """The ``ip route add`` for one of our routes."""
    argv = ["ip", _family_flag(dst.version), "route", "add", str(dst)]
    if via is not None:
        argv += ["via", str(via)]
    argv += ["dev", dev]
    if src is not None:
        argv += ["src", str(src)]
    if table is not None:
        argv += ["table", table]
    argv += ["proto", str(ROUTE_PROTO)]
    return argv


def add_unreachable(journal: UndoJournal, dst: IPNetwork) -> None:
    """Add ``unreachable DST proto 157`` (journaled: undo deletes it): packets to ``dst`` fail
    at once (ENETUNREACH) instead of leaving by another path."""
    argv = ["ip", _family_flag(dst.version), "route", "add", "unreachable", str(dst)]
    argv += ["proto", str(ROUTE_PROTO)]
    with journal.change("route_delete", dst=str(dst), type="unreachable", proto=ROUTE_PROTO):
        check(argv, RouteError)


def add_route(
    journal: UndoJournal,
    dst: IPNetwork,
    *,
    dev: str,
    via: IPAddress | None = None,
    src: IPAddress | None = None,
    table: str | None = None,
    allow_existing: bool = False,
) -> bool:
    """Add a route (journaled: undo deletes it). Returns False when ``allow_existing`` and an
    equal route was already there (then nothing changed and nothing will be undone)."""
    argv = route_add_argv(dst, dev=dev, via=via, src=src, table=table)
    seq = journal.record(
        "route_delete",
        dst=str(dst),
        dev=dev,
        via=str(via) if via is not None else None,
        table=table,
        proto=ROUTE_PROTO,
        ifindex=_ifindex(dev),
    )
    result = run_command(argv)
    if result.returncode == 0:
        return True
    journal.cancel(seq)
    exists = "File exists" in result.stderr
    if allow_existing and exists:
        return False
    raise_for(
        argv, result, RouteError, f" (another route to {dst} is in the way)" if exists else ""
    )


def interface_of(address: IPAddress | IPInterface | str) -> IPInterface:
    """An address as an interface: a bare IPv4 address is a /32, a bare IPv6 one a /128."""
    return ipaddress.ip_interface(str(address))


def split_full(network: IPNetwork) -> list[IPNetwork]:
    """``0.0.0.0/0`` → its two /1 halves (likewise ``::/0``); other networks unchanged."""
    if network.prefixlen == 0:
        return list(network.subnets(prefixlen_diff=1))
    return [network]


# --- snapshots for tests and diagnostics -----------------------------------------------------

_VOLATILE_LINK_KEYS = ("stats", "stats64")


def _ip_ns(ns: str | None, args: Sequence[str]) -> list[dict[str, Any]]:
    prefix = ["-n", ns] if ns else []
    return ip_json([*prefix, *args])


def snapshot(ns: str | None = None) -> dict[str, Any]:
    """The network state of namespace ``ns`` (None: this process's): links, addresses, routes
    of every table (IPv4 and IPv6) and the text of /etc/resolv.conf as that namespace sees it.
    Two snapshots compare equal when nothing changed."""
    links = [
        {k: v for k, v in link.items() if k not in _VOLATILE_LINK_KEYS}
        for link in _ip_ns(ns, ["link", "show"])
    ]
    addresses = [
        {"ifname": link.get("ifname"), "addr_info": link.get("addr_info", [])}
        for link in _ip_ns(ns, ["addr", "show"])
    ]
    routes = {
        "ipv4": _ip_ns(ns, ["-4", "route", "show", "table", "all"]),
        "ipv6": _ip_ns(ns, ["-6", "route", "show", "table", "all"]),
    }
    if ns:
        argv = ["ip", "netns", "exec", ns, "cat", "/etc/resolv.conf"]
        result = subprocess.run(argv, capture_output=True, check=False, timeout=15)
        resolv = (
            result.stdout.decode("utf-8", "surrogateescape") if result.returncode == 0 else None
        )
    else:
        try:
            with open("/etc/resolv.conf", "rb") as handle:
                resolv = handle.read().decode("utf-8", "surrogateescape")
        except OSError:
            resolv = None
    return {"links": links, "addresses": addresses, "routes": routes, "resolv_conf": resolv}
