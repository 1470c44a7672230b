"""The host side of one connection: virtual IP, routes and DNS, all through the journal.

``HostNetwork.apply`` takes what the gateway handed out (RFC 7296 §3.15 CP reply)
as plain values; ``restore`` puts the host back. Order of ``apply``:

1. look up the uplink (the gateway's current path, that interface's prefixes, the
   routers: net/uplink.py) and plan (pure), checking the gateway's virtual IP and
   routes against it, before any change;
2. addresses on the TUN;
3. the gateway host route (first, so no moment exists in which the tunnel would
   carry its own packets);
4. the remote subnets via the TUN, with ``src`` = the virtual IP; then, next to a full
   IPv4 tunnel without an IPv6 address, ``::/1`` and ``8000::/1`` unreachable;
5. DNS.

If ``apply`` raises, what it did is in the journal: call ``restore()``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ikeclient.errors import PrivilegeError, RouteError
from ikeclient.net import firewall
from ikeclient.net.dns import AppliedBackend, DnsBackend, apply_dns
from ikeclient.net.firewall import LeakPolicy
from ikeclient.net.journal import UndoJournal
from ikeclient.net.routes import (
    FULL_V4,
    FULL_V6,
    IPAddress,
    IPInterface,
    IPNetwork,
    PathInfo,
    add_address,
    add_route,
    add_unreachable,
    default_path,
    interface_of,
    route_get,
    split_full,
)
from ikeclient.net.tun import DEFAULT_MTU, TunDevice
from ikeclient.net.undo import RESOLV_CONF, undo_handlers
from ikeclient.net.uplink import Uplink, check_virtual_ip, find_uplink, route_conflict

logger = logging.getLogger(__name__)

CAP_NET_ADMIN = 12
PROC_STATUS = Path("/proc/self/status")


def check_privileges(status_path: Path = PROC_STATUS) -> None:
    """Raise PrivilegeError unless this process has CAP_NET_ADMIN in its effective set."""
    try:
        status = status_path.read_text()
    except OSError as exc:
        raise PrivilegeError(f"cannot read {status_path} to check capabilities: {exc}") from None
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            effective = int(line.split()[1], 16)
            break
    else:
        raise PrivilegeError(f"{status_path} has no CapEff line; cannot check CAP_NET_ADMIN")
    if not effective & (1 << CAP_NET_ADMIN):
        raise PrivilegeError(
            "ikeclient needs CAP_NET_ADMIN: run it as root (sudo ikeclient up ...) "
            "or grant the capability"
        )


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    """One route via the TUN: destination and preferred source (the virtual IP)."""

    network: IPNetwork
    src: IPAddress | None


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """What ``apply`` will do, computed without touching the host."""

    addresses: tuple[IPInterface, ...]
    routes: tuple[PlannedRoute, ...]
    full_tunnel: bool
    gateway: IPAddress
    gateway_host_route: bool
    blocked: tuple[IPNetwork, ...] = ()  # unreachable routes (IPv6 next to a full IPv4 tunnel)
    refused: tuple[str, ...] = ()  # routes skipped, with the reason


def _exempt(network: IPNetwork, trusted: Sequence[IPNetwork] | None) -> bool:
    """A route the person chose: a full tunnel, or one of the profile's own networks."""
    return trusted is None or network.prefixlen == 0 or network in trusted


def plan_network(
    addresses: Iterable[IPAddress | IPInterface | str],
    remote_subnets: Iterable[IPNetwork | str],
    gateway_addr: IPAddress | str,
    full_tunnel: bool = False,
    *,
    uplink: Uplink | None = None,
    trusted: Iterable[IPNetwork | str] | None = None,
    block_ipv6: bool = False,
) -> NetworkPlan:
    """Addresses, routes and whether the gateway needs a host route.

    A remote subnet of ``0.0.0.0/0`` or ``::/0`` — or ``full_tunnel=True``, which adds them for
    each family we have a virtual address of — becomes the two /1 halves of that family.
    The gateway needs a host route through its original path whenever one of our routes
    covers its address.

    Gateway settings are checked against ``uplink`` (the host's path to the gateway): a
    virtual IP there raises SettingRefused; a route there is left out and its reason listed
    in ``refused`` — unless it is a full tunnel (``/0``) or one of ``trusted`` (the
    profile's ``remote_ts`` networks; None trusts every route). With ``block_ipv6``, a full IPv4
    tunnel without an IPv6 virtual IP gets ``::/1`` and ``8000::/1`` as unreachable routes,
    so IPv6 cannot leave beside the tunnel.
    """
    ifaces = tuple(dict.fromkeys(interface_of(a) for a in addresses))
    gateway = ipaddress.ip_address(str(gateway_addr))
    for iface in ifaces:
        check_virtual_ip(iface, gateway, uplink)
    trusted_nets = (
        None if trusted is None else [ipaddress.ip_network(str(t), strict=False) for t in trusted]
    )
    wanted: list[IPNetwork] = [ipaddress.ip_network(str(n), strict=False) for n in remote_subnets]
    if full_tunnel:
        families = {iface.version for iface in ifaces} or {gateway.version}
        wanted += [full for full in (FULL_V4, FULL_V6) if full.version in families]
    is_full = any(network.prefixlen == 0 for network in wanted)
    full_v4 = any(n.version == 4 and n.prefixlen == 0 for n in wanted)
    blocked: tuple[IPNetwork, ...] = ()
    if block_ipv6 and full_v4 and not any(i.version == 6 for i in ifaces):
        blocked = tuple(split_full(FULL_V6))
    routes: list[PlannedRoute] = []
    refused: list[str] = []
    seen: set[IPNetwork] = set(blocked)
    for network in wanted:
        exempt = _exempt(network, trusted_nets)
        for piece in split_full(network):
            if piece in seen:
                continue
            seen.add(piece)
            if not exempt:
                conflict = route_conflict(piece, gateway, uplink)
                if conflict is not None:
                    refused.append(f"{piece}: {conflict}")
                    continue
            src = next((i.ip for i in ifaces if i.version == piece.version), None)
            routes.append(PlannedRoute(piece, src))
    covers_gateway = any(
        n.version == gateway.version and gateway in n
        for n in (*(r.network for r in routes), *blocked)
    )
    return NetworkPlan(
        addresses=ifaces,
        routes=tuple(routes),
        full_tunnel=is_full,
        gateway=gateway,
        gateway_host_route=covers_gateway,
        blocked=blocked,
        refused=tuple(refused),
    )


@dataclass(frozen=True, slots=True)
class AppliedNetwork:
    """What ``apply`` did."""

    tun_name: str
    plan: NetworkPlan
    gateway_path: PathInfo | None
    dns_backend: AppliedBackend
    uplink: Uplink | None = None


class HostNetwork:
    """The host changes of one connection, all recorded in its undo journal."""

    def __init__(
        self,
        journal: UndoJournal,
        *,
        resolv_conf: Path = RESOLV_CONF,
        dns_backend: DnsBackend = "auto",
    ) -> None:
        self.journal = journal
        self.resolv_conf = resolv_conf
        self.dns_backend: DnsBackend = dns_backend
        self._tuns: list[TunDevice] = []
        self._leak_policy: LeakPolicy | None = None

    @classmethod
    def for_connection(
        cls,
        name: str,
        *,
        journal_dir: Path | None = None,
        resolv_conf: Path = RESOLV_CONF,
        dns_backend: DnsBackend = "auto",
    ) -> HostNetwork:
        """The host network of connection ``name``; opens (creates) its journal right away, so a
        bad journal directory or an already active connection fails before any change."""
        journal = UndoJournal.for_connection(name, journal_dir, handlers=undo_handlers(resolv_conf))
        journal.open()
        return cls(journal, resolv_conf=resolv_conf, dns_backend=dns_backend)

    def open_tun(self, name: str | None = None, mtu: int = DEFAULT_MTU) -> TunDevice:
        """Create the connection's TUN device (journaled; closed again by ``restore``)."""
        tun = TunDevice(self.journal, name, mtu)
        self._tuns.append(tun)
        return tun

    def apply(
        self,
        tun_name: str,
        addresses: Sequence[IPAddress | IPInterface | str],
        remote_subnets: Sequence[IPNetwork | str],
        dns_servers: Sequence[IPAddress | str],
        dns_domains: Sequence[str],
        gateway_addr: IPAddress | str,
        full_tunnel: bool = False,
        trusted: Sequence[IPNetwork | str] | None = None,
        block_ipv6: bool = True,
    ) -> AppliedNetwork:
        """Give the TUN the virtual addresses, route the remote subnets through it, set DNS.

        The uplink (the path to the gateway, its prefixes and routers) is looked up first, and
        the plan checked against it (:func:`plan_network`): a refused virtual IP raises
        SettingRefused before anything changes; refused routes are logged and skipped.
        """
        gateway = ipaddress.ip_address(str(gateway_addr))
        uplink = find_uplink(gateway)  # the original path, before any change
        if uplink.dev == tun_name:
            raise RouteError(
                f"the gateway {gateway} is already routed through {tun_name}; "
                "restore the previous connection first"
            )
        plan = plan_network(
            addresses,
            remote_subnets,
            gateway,
            full_tunnel,
            uplink=uplink,
            trusted=trusted,
            block_ipv6=block_ipv6,
        )
        for reason in plan.refused:
            logger.warning("refusing the route %s (sent by the gateway)", reason)
        gateway_path: PathInfo | None = None
        if plan.gateway_host_route:
            gateway_path = route_get(plan.gateway)
        self.journal.open()
        for iface in plan.addresses:
            add_address(self.journal, tun_name, iface)
        if gateway_path is not None and not gateway_path.local:
            host = ipaddress.ip_network(plan.gateway)
            added = add_route(
                self.journal,
                host,
                dev=gateway_path.dev,
                via=gateway_path.gateway,
                allow_existing=True,
            )
            if not added:
                logger.info("a host route to the gateway %s exists already", plan.gateway)
        for route in plan.routes:
            add_route(self.journal, route.network, dev=tun_name, src=route.src)
        for network in plan.blocked:
            add_unreachable(self.journal, network)
        if plan.blocked:
            logger.info(
                "full IPv4 tunnel without an IPv6 address: IPv6 is unreachable (%s)",
                ", ".join(str(n) for n in plan.blocked),
            )
        servers = [ipaddress.ip_address(str(s)) for s in dns_servers]
        backend = apply_dns(
            self.journal,
            tun_name,
            servers,
            dns_domains,
            full_tunnel=plan.full_tunnel,
            backend=self.dns_backend,
            resolv_conf=self.resolv_conf,
        )
        return AppliedNetwork(tun_name, plan, gateway_path, backend, uplink)

    def repin_gateway(self, tun_name: str, gateway_addr: IPAddress | str) -> bool:
        """Pin the host route to the gateway again, through the uplink that is left.

        A full tunnel's host route to the gateway goes away with its link (the kernel
        removes the routes of a link that goes down); the gateway would then be routed
        into the tunnel. The new route goes through the preferred default route that
        does not use ``tun_name`` (journaled like the first). Returns True when a route
        is in place (added, or already there), False when no uplink is left.
        """
        gateway = ipaddress.ip_address(str(gateway_addr))
        path = default_path(gateway.version, exclude_dev=tun_name)
        if path is None:
            return False
        host = ipaddress.ip_network(gateway)
        self.journal.open()
        added = add_route(self.journal, host, dev=path.dev, via=path.gateway, allow_existing=True)
        logger.info(
            "host route to the gateway %s %s via %s dev %s",
            gateway,
            "pinned again" if added else "already in place",
            path.gateway or "-",
            path.dev,
        )
        return True

    def protect(self, policy: LeakPolicy) -> None:
        """Leak protection for ``policy`` (net/firewall.py): installed and journaled the first
        time, replaced in one transaction when the policy changes."""
        if self._leak_policy == policy:
            return
        if self._leak_policy is None:
            firewall.install(self.journal, policy)
        else:
            firewall.update(policy)
        self._leak_policy = policy

    def restore(self, *, keep_leak_protection: bool = False) -> list[str]:
        """Close our TUN devices and undo every recorded change; returns the undos that failed.

        With ``keep_leak_protection`` the leak-protection table stays (fail-closed) and stays
        in the journal, for ``ikeclient down`` or the next start to remove.
        """
        for tun in self._tuns:
            tun.close()
        self._tuns.clear()
        keep = ("nft_delete_table",) if keep_leak_protection else ()
        self._leak_policy = None
        return self.journal.revert(keep=keep)
