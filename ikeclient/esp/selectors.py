"""Traffic selectors of a child SA, as integers, and the inner-packet flow they match.

A :class:`Selector` is one IKEv2 traffic selector (RFC 7296 §3.13.1): an IP
version, an inclusive address range, an IP protocol (0 = any) and an inclusive
port range. A child SA carries two tuples of them: ``local_ts`` (our side, the
virtual IP) and ``remote_ts`` (the gateway's side). A packet belongs to the SA
when its address on our side is in some local selector and its address on the
far side is in some remote selector (RFC 4301 §4.4.1, the SPD-S cache entry of
the SA).

Ports: for TCP, UDP, SCTP, UDP-Lite and DCCP the local selector checks the
port on our side, the remote selector the port on the far side. For ICMP and
ICMPv6 the 16-bit value Type << 8 | Code takes the place of both ports
(RFC 7296 §3.13.1, RFC 4301 §4.4.1.1). A packet whose ports cannot be read (a
non-initial fragment, RFC 4301 §7, or a truncated header) matches only
selectors whose port range is the full 0-65535.

Everything here is sans-I/O and allocation-light: the engine precompiles the
selectors of an SA into :class:`SelectorSet` once, at install time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from struct import Struct
from typing import Final

__all__ = ["FlowPorts", "Selector", "SelectorSet", "flow_ports"]

_ALL_PORTS_START: Final = 0
_ALL_PORTS_END: Final = 65535
_V4_MAX: Final = (1 << 32) - 1
_V6_MAX: Final = (1 << 128) - 1

# IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
_PROTO_ICMP: Final = 1
_PROTO_TCP: Final = 6
_PROTO_UDP: Final = 17
_PROTO_DCCP: Final = 33
_PROTO_ICMPV6: Final = 58
_PROTO_SCTP: Final = 132
_PROTO_UDPLITE: Final = 136
_PORT_PROTOCOLS: Final = frozenset(
    {_PROTO_TCP, _PROTO_UDP, _PROTO_DCCP, _PROTO_SCTP, _PROTO_UDPLITE}
)
# IPv6 extension headers walked to find the upper-layer header (RFC 8200 §4).
_V6_HOP_BY_HOP: Final = 0
_V6_ROUTING: Final = 43
_V6_FRAGMENT: Final = 44
_V6_DEST_OPTS: Final = 60
_V6_MAX_EXT_HEADERS: Final = 8

_U16: Final = Struct("!H")
_U16_PAIR: Final = Struct("!HH")

NO_PORT: Final = -1
"""The port value of a packet whose ports cannot be read (non-initial fragment, short header)."""

FlowPorts = tuple[int, int, int]
"""(IP protocol, source port, destination port) of an inner packet; ports may be :data:`NO_PORT`."""


@dataclass(frozen=True, slots=True)
class Selector:
    """One traffic selector (RFC 7296 §3.13.1), addresses as integers for speed.

    ``start`` and ``end`` are inclusive, as are ``start_port`` and ``end_port``.
    ``ip_protocol`` 0 means any protocol.
    """

    version: int
    start: int
    end: int
    ip_protocol: int = 0
    start_port: int = _ALL_PORTS_START
    end_port: int = _ALL_PORTS_END

    def __post_init__(self) -> None:
        if self.version not in (4, 6):
            raise ValueError(f"IP version must be 4 or 6, not {self.version}")
        top = _V4_MAX if self.version == 4 else _V6_MAX
        if not 0 <= self.start <= self.end <= top:
            raise ValueError("selector address range is empty or out of range")
        if not 0 <= self.ip_protocol <= 255:
            raise ValueError("IP protocol must be 0-255")
        if not 0 <= self.start_port <= self.end_port <= _ALL_PORTS_END:
            raise ValueError("selector port range is empty or out of range")

    @classmethod
    def from_network(
        cls,
        network: str,
        ip_protocol: int = 0,
        start_port: int = _ALL_PORTS_START,
        end_port: int = _ALL_PORTS_END,
    ) -> Selector:
        """Build a selector from a CIDR string (``"10.0.0.0/8"``, ``"::/0"``, ``"192.0.2.1"``)."""
        net = ipaddress.ip_network(network, strict=False)
        return cls(
            net.version,
            int(net.network_address),
            int(net.broadcast_address),
            ip_protocol,
            start_port,
            end_port,
        )

    @classmethod
    def from_range(
        cls,
        first: str,
        last: str,
        ip_protocol: int = 0,
        start_port: int = _ALL_PORTS_START,
        end_port: int = _ALL_PORTS_END,
    ) -> Selector:
        """Build a selector from two address strings, as IKEv2 carries them (RFC 7296 §3.13.1)."""
        a, b = ipaddress.ip_address(first), ipaddress.ip_address(last)
        if a.version != b.version:
            raise ValueError("selector addresses of different IP versions")
        return cls(a.version, int(a), int(b), ip_protocol, start_port, end_port)

    @classmethod
    def any(cls, version: int) -> Selector:
        """The selector that matches every packet of one IP version (0.0.0.0/0 or ::/0)."""
        return cls(version, 0, _V4_MAX if version == 4 else _V6_MAX)

    @property
    def all_ports(self) -> bool:
        """True when the port range is the full 0-65535 (ports need not be read)."""
        return self.start_port == _ALL_PORTS_START and self.end_port == _ALL_PORTS_END

    @property
    def needs_flow(self) -> bool:
        """True when matching needs the packet's protocol or ports, not only its addresses."""
        return self.ip_protocol != 0 or not self.all_ports

    def matches(self, version: int, address: int, protocol: int, port: int) -> bool:
        """True when a packet's address, protocol and port (on this selector's side) match.

        ``port`` is :data:`NO_PORT` when the packet's ports cannot be read; it
        then matches only a full port range.
        """
        if version != self.version or not self.start <= address <= self.end:
            return False
        if self.ip_protocol and self.ip_protocol != protocol:
            return False
        return self.all_ports or self.start_port <= port <= self.end_port


# A compiled selector: (start, end, protocol, start_port, end_port, all_ports).
_Compiled = tuple[int, int, int, int, int, bool]


class SelectorSet:
    """The selectors of one side of an SA, compiled per IP version for the per-packet match."""

    __slots__ = ("needs_flow", "v4", "v6")

    def __init__(self, selectors: tuple[Selector, ...]) -> None:
        v4: list[_Compiled] = []
        v6: list[_Compiled] = []
        for s in selectors:
            compiled = (s.start, s.end, s.ip_protocol, s.start_port, s.end_port, s.all_ports)
            (v4 if s.version == 4 else v6).append(compiled)
        self.v4: tuple[_Compiled, ...] = tuple(v4)
        self.v6: tuple[_Compiled, ...] = tuple(v6)
        self.needs_flow: bool = any(s.needs_flow for s in selectors)

    def match(self, version: int, address: int, protocol: int, port: int) -> bool:
        """True when some selector of this set matches (see :meth:`Selector.matches`)."""
        for start, end, proto, port_lo, port_hi, all_ports in self.v4 if version == 4 else self.v6:
            if (
                start <= address <= end
                and (not proto or proto == protocol)
                and (all_ports or port_lo <= port <= port_hi)
            ):
                return True
        return False


def flow_ports(packet: bytes, version: int) -> FlowPorts:
    """Return (protocol, source port, destination port) of an IP packet; never raises.

    IPv6 extension headers (Hop-by-Hop, Routing, Destination Options, Fragment;
    RFC 8200 §4) are walked to the upper-layer header. Ports of a non-initial
    fragment or a truncated header are :data:`NO_PORT`. For ICMP/ICMPv6 both
    ports are Type << 8 | Code (RFC 7296 §3.13.1). The caller has checked that
    the fixed IP header is present.
    """
    n = len(packet)
    if version == 4:
        protocol = packet[9]
        offset = (packet[0] & 0x0F) * 4
        if _U16.unpack_from(packet, 6)[0] & 0x1FFF:  # fragment offset != 0
            return protocol, NO_PORT, NO_PORT
    else:
        protocol = packet[6]
        offset = 40
        for _ in range(_V6_MAX_EXT_HEADERS):
            if protocol in (_V6_HOP_BY_HOP, _V6_ROUTING, _V6_DEST_OPTS):
                if offset + 2 > n:
                    return protocol, NO_PORT, NO_PORT
                protocol, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
            elif protocol == _V6_FRAGMENT:
                if offset + 8 > n:
                    return protocol, NO_PORT, NO_PORT
                nxt = packet[offset]
                if _U16.unpack_from(packet, offset + 2)[0] & 0xFFF8:  # non-initial fragment
                    return nxt, NO_PORT, NO_PORT
                protocol, offset = nxt, offset + 8
            else:
                break
    if protocol in _PORT_PROTOCOLS:
        if offset + 4 > n:
            return protocol, NO_PORT, NO_PORT
        sport, dport = _U16_PAIR.unpack_from(packet, offset)
        return protocol, sport, dport
    if protocol in (_PROTO_ICMP, _PROTO_ICMPV6):
        if offset + 2 > n:
            return protocol, NO_PORT, NO_PORT
        type_code: int = _U16.unpack_from(packet, offset)[0]
        return protocol, type_code, type_code
    return protocol, NO_PORT, NO_PORT
