"""Events and plain data shared by the IKEv2 and IKEv1 connections.

Both protocol versions emit these same events, so the runtime that installs
child SAs, sets addresses and routes, and reports progress does not care which
version negotiated them. Everything here is a frozen dataclass of plain values;
keys are hidden from ``repr`` so an event can be logged safely.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import NamedTuple

from ikeclient.errors import IkeError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Endpoint(NamedTuple):
    """A UDP endpoint: textual IP address and port."""

    host: str
    port: int


def same_endpoint(a: Endpoint, b: Endpoint) -> bool:
    """True when two UDP endpoints are the same address (in any spelling) and port."""
    if a.port != b.port:
        return False
    try:
        return ipaddress.ip_address(a.host) == ipaddress.ip_address(b.host)
    except ValueError:
        return a.host == b.host


@dataclass(frozen=True, slots=True)
class TrafficSelectorRange:
    """One traffic selector: an address range, an IP protocol (0 = any) and a port range."""

    start: IPAddress
    end: IPAddress
    ip_protocol: int = 0
    start_port: int = 0
    end_port: int = 65535

    def contains(self, other: TrafficSelectorRange) -> bool:
        """True when ``other`` lies wholly inside this selector (RFC 7296 §2.9 narrowing)."""
        if self.start.version != other.start.version:
            return False
        if self.ip_protocol not in (0, other.ip_protocol):
            return False
        return (
            int(self.start) <= int(other.start)
            and int(other.end) <= int(self.end)
            and self.start_port <= other.start_port
            and other.end_port <= self.end_port
        )

    def networks(self) -> list[IPNetwork]:
        """The address range as the smallest list of CIDR networks (for routes)."""
        return list(ipaddress.summarize_address_range(self.start, self.end))

    def __str__(self) -> str:
        nets = ",".join(str(n) for n in self.networks())
        if self.ip_protocol == 0 and (self.start_port, self.end_port) == (0, 65535):
            return nets
        return f"{nets}[{self.ip_protocol}/{self.start_port}-{self.end_port}]"


@dataclass(frozen=True, slots=True)
class IkeSaEstablished:
    """The IKE SA is authenticated and ready (RFC 7296 §1.2)."""

    spi_i: bytes
    spi_r: bytes
    algorithms: str
    local: Endpoint
    remote: Endpoint
    local_behind_nat: bool
    remote_behind_nat: bool
    udp_encapsulation: bool
    remote_identity: str


@dataclass(frozen=True, slots=True)
class ConfigReceived:
    """Configuration the gateway handed out in a CP(CFG_REPLY) (RFC 7296 §3.15, RFC 8598)."""

    addresses: tuple[IPAddress, ...] = ()
    ipv4_netmask: ipaddress.IPv4Address | None = None
    ipv6_prefix_lengths: tuple[int, ...] = ()
    dns_servers: tuple[IPAddress, ...] = ()
    subnets: tuple[IPNetwork, ...] = ()
    dns_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildSaKeys:
    """Keys of one child SA, as seen from our side (in = from the gateway, out = to it)."""

    encr_out: bytes = field(repr=False)
    integ_out: bytes = field(repr=False)
    encr_in: bytes = field(repr=False)
    integ_in: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChildSaEstablished:
    """A child SA is ready: everything the ESP engine needs to install it (RFC 7296 §1.3, §2.17)."""

    name: str
    spi_in: int
    spi_out: int
    encr_id: int
    encr_key_bits: int | None
    integ_id: int | None
    esn: bool
    keys: ChildSaKeys
    local_ts: tuple[TrafficSelectorRange, ...]
    remote_ts: tuple[TrafficSelectorRange, ...]
    local: Endpoint
    remote: Endpoint
    udp_encapsulation: bool
    algorithms: str
    rekeyed_spi_in: int | None = None
    """The inbound SPI of the SA this one replaces (a rekey, RFC 7296 §2.8), or None."""
    outbound_deferred: bool = False
    """True when the gateway installs this SA only when our next message reaches it (it
    started the exchange, IKEv2; any IKEv1 Quick Mode rekey: the gateway installs at our
    HASH(3) or after our HASH(2)), so our outbound traffic moves to this SA once it has
    proven itself (its first valid inbound packet) or the SA it replaces is deleted.
    False: the gateway has it already; send on it at once."""
    started_by_gateway: bool | None = None
    """Who started the exchange, when the connection says so (IKEv1); None: the gateway
    exactly when ``outbound_deferred`` (IKEv2)."""


@dataclass(frozen=True, slots=True)
class ChildSaDeleted:
    """A child SA is gone (deleted by either side, expired, or with its IKE SA).

    ``rekeyed`` is True when a newer SA carries its traffic already: the old
    inbound half may still see packets that were in flight, so the data plane
    keeps it for a grace period (make-before-break).
    """

    spi_in: int
    spi_out: int
    reason: str
    rekeyed: bool = False


@dataclass(frozen=True, slots=True)
class IkeSaRekeyed:
    """A new IKE SA replaced the old one; the child SAs moved to it (RFC 7296 §2.18).

    ``we_initiated`` tells who started the rekey (the new SA's original initiator).
    """

    spi_i: bytes
    spi_r: bytes
    old_spi_i: bytes
    old_spi_r: bytes
    algorithms: str
    we_initiated: bool


@dataclass(frozen=True, slots=True)
class IkeSaAddressesUpdated:
    """MOBIKE moved the IKE SA and its child SAs to new addresses (RFC 4555 §3.5)."""

    local: Endpoint
    remote: Endpoint
    local_behind_nat: bool
    udp_encapsulation: bool


@dataclass(frozen=True, slots=True)
class IkeSaClosed:
    """The IKE SA is closed; ``error`` says why when it was not an orderly close."""

    reason: str
    error: IkeError | None = None
    deleted_by_gateway: bool = False
    """The gateway deleted the IKE SA without our asking (a Delete of it, RFC 7296 §1.4.1):
    an orderly close at its end, e.g. the gateway shutting down or restarting."""


IkeEvent = (
    IkeSaEstablished
    | ConfigReceived
    | ChildSaEstablished
    | ChildSaDeleted
    | IkeSaClosed
    | IkeSaRekeyed
    | IkeSaAddressesUpdated
)
