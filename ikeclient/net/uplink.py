"""The host's own path to the gateway, and the checks gateway settings must pass against it.

Before a virtual IP or a route the gateway sent touches the host, it is compared with the
*uplink*: the interface through which the gateway is reached now (``ip route get``), the
prefixes of that interface's addresses (the local network), the next hop towards the gateway
and the default routers. A gateway that hands out an address or a route there could take the
host's own path to the gateway, its router, or the hosts of its local network into the tunnel.

* A virtual IP equal to the gateway's address or a router's, inside an uplink prefix, or not a
  unicast address at all, is refused: :class:`~ikeclient.errors.SettingRefused`, and the
  connection is not set up.
* A route that lies inside or around an uplink prefix, or covers the gateway's address or a
  router's, is skipped and logged (:func:`route_conflict`), unless it is one the profile
  itself lists (``remote_ts``) or a half of a full tunnel, which the person chose; the full
  tunnel keeps its host route to the gateway and its more specific local routes win.

:func:`find_uplink` does the look-up (``ip -j``); the checks are pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ikeclient.errors import RouteError, SettingRefused
from ikeclient.net._command import ip_json
from ikeclient.net.routes import IPAddress, IPInterface, IPNetwork, route_get


@dataclass(frozen=True, slots=True)
class Uplink:
    """How the host reaches the gateway now, looked up before any change."""

    dev: str
    prefixes: tuple[IPNetwork, ...] = ()  # the subnets of the interface's own addresses
    routers: tuple[IPAddress, ...] = ()  # the next hop to the gateway and the default routers


def _gateways_of(route: dict[str, Any]) -> list[IPAddress]:
    found: list[IPAddress] = []
    hops = [route, *(h for h in route.get("nexthops") or [] if isinstance(h, dict))]
    for hop in hops:
        text = hop.get("gateway")
        if isinstance(text, str):
            try:
                found.append(ipaddress.ip_address(text))
            except ValueError:
                continue
    return found


def find_uplink(gateway: IPAddress) -> Uplink:
    """The uplink towards ``gateway``: its device, the device's prefixes, the routers."""
    path = route_get(gateway)
    prefixes: list[IPNetwork] = []
    for link in ip_json(["addr", "show", "dev", path.dev], RouteError):
        for info in link.get("addr_info", []) or []:
            if not isinstance(info, dict) or "local" not in info or "prefixlen" not in info:
                continue
            try:
                prefix = ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
            except ValueError:
                continue
            if prefix not in prefixes:
                prefixes.append(prefix)
    routers: list[IPAddress] = [path.gateway] if path.gateway is not None else []
    for family in ("-4", "-6"):
        try:
            defaults = ip_json([family, "route", "show", "default"], RouteError)
        except RouteError:
            continue  # no IPv6 on this host, say
        for route in defaults:
            routers += [r for r in _gateways_of(route) if r not in routers]
    return Uplink(path.dev, tuple(prefixes), tuple(routers))


def check_virtual_ip(address: IPInterface, gateway: IPAddress, uplink: Uplink | None) -> None:
    """Raise SettingRefused when the gateway's virtual IP ``address`` would take our own path."""
    ip = address.ip
    reason = None
    if ip.is_unspecified or ip.is_loopback or ip.is_multicast:
        reason = "is not a unicast address"
    elif ip == gateway:
        reason = "is the gateway's own address"
    elif uplink is not None:
        if ip in uplink.routers:
            reason = f"is the address of the router {ip} of this host"
        else:
            inside = next((p for p in uplink.prefixes if p.version == ip.version and ip in p), None)
            if inside is not None:
                reason = f"lies in the local network {inside} of {uplink.dev}"
    if reason is not None:
        raise SettingRefused(
            f"refusing the virtual IP {ip} the gateway assigned: it {reason}; "
            "the host's own network would be taken into the tunnel"
        )


def route_conflict(network: IPNetwork, gateway: IPAddress, uplink: Uplink | None) -> str | None:
    """Why a route the gateway asked for must not be installed, or None when it may be."""
    if network.version == gateway.version and gateway in network:
        return f"it covers the gateway's own address {gateway}"
    if uplink is None:
        return None
    for router in uplink.routers:
        if router.version == network.version and router in network:
            return f"it covers the router {router} of this host"
    for prefix in uplink.prefixes:
        if prefix.version == network.version and network.overlaps(prefix):
            return f"it overlaps the local network {prefix} of {uplink.dev}"
    return None


def narrow_to(
    networks: Iterable[IPNetwork], allowed: Iterable[IPNetwork]
) -> tuple[list[IPNetwork], list[tuple[IPNetwork, IPNetwork | None]]]:
    """``networks`` cut down to what lies inside ``allowed``.

    Two CIDR networks either nest or are disjoint, so the intersection of one with another
    is the smaller of the two, or nothing. Returns (kept, changes): ``changes`` pairs a
    network that was narrowed with one of its pieces, or with None when nothing was left.
    """
    allowed = list(allowed)
    kept: list[IPNetwork] = []
    changes: list[tuple[IPNetwork, IPNetwork | None]] = []
    for network in networks:
        pieces: list[IPNetwork] = []
        for outer in allowed:
            if outer.version != network.version:
                continue
            if network.subnet_of(outer):  # type: ignore[arg-type]
                pieces = [network]
                break
            if outer.subnet_of(network):  # type: ignore[arg-type]
                pieces.append(outer)
        if not pieces:
            changes.append((network, None))
        elif pieces != [network]:
            changes += [(network, piece) for piece in pieces]
        kept += [p for p in pieces if p not in kept]
    return kept, changes
