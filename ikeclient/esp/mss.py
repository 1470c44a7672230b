"""TCP MSS clamping for packets entering or leaving the tunnel.

ESP, UDP and the outer IP header shrink the path MTU seen by inner TCP
connections. Lowering the Maximum Segment Size option (RFC 9293 §3.7.1) of
SYN and SYN-ACK segments to what fits keeps TCP from relying on ICMP
"packet too big" messages, which many networks drop.

:func:`clamp_mss` rewrites the MSS option in place of a copy and fixes the TCP
checksum incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). Anything it
does not understand - not TCP, not a SYN, a fragment, a malformed header, an
MSS already small enough - is returned unchanged. It never raises.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

__all__ = ["clamp_mss"]

_U16: Final = Struct("!H")
_PROTO_TCP: Final = 6
_TCP_MIN_HEADER: Final = 20
_TCP_SYN: Final = 0x02
_OPT_END: Final = 0
_OPT_NOP: Final = 1
_OPT_MSS: Final = 2
_OPT_MSS_LEN: Final = 4
_TCP_CHECKSUM: Final = 16  # offset of the checksum in the TCP header
_V6_SKIPPABLE: Final = (0, 43, 60)  # Hop-by-Hop, Routing, Destination Options (RFC 8200 §4)
_V6_MAX_EXT_HEADERS: Final = 8


def _tcp_offset(packet: bytes) -> int:
    """Offset of the TCP header of an unfragmented IPv4/IPv6 TCP packet, or -1."""
    n = len(packet)
    if n < 1:
        return -1
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or n < ihl + _TCP_MIN_HEADER or packet[9] != _PROTO_TCP:
            return -1
        if _U16.unpack_from(packet, 6)[0] & 0x3FFF:  # MF flag or fragment offset: a fragment
            return -1
        if _U16.unpack_from(packet, 2)[0] > n:
            return -1
        return ihl
    if version == 6 and n >= 40:
        nh, offset = packet[6], 40
        for _ in range(_V6_MAX_EXT_HEADERS):
            if nh not in _V6_SKIPPABLE:
                break
            if offset + 2 > n:
                return -1
            nh, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
        if nh != _PROTO_TCP or n < offset + _TCP_MIN_HEADER:
            return -1
        return offset
    return -1


def _checksum_update(checksum: int, old: int, new: int) -> int:
    """RFC 1624 eqn. 3 for one 16-bit word: HC' = ~(~HC + ~m + m')."""
    total = (~checksum & 0xFFFF) + (~old & 0xFFFF) + new
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def clamp_mss(packet: bytes, max_mss: int) -> bytes:
    """Lower the MSS option of a TCP SYN or SYN-ACK to ``max_mss``; otherwise return ``packet``.

    IPv4 and IPv6 (after Hop-by-Hop, Routing and Destination Options headers)
    are handled; fragments are left alone. The TCP checksum is updated
    incrementally (RFC 1624), so the result is as valid as the input.
    """
    if not 0 < max_mss <= 0xFFFF:
        return packet
    tcp = _tcp_offset(packet)
    if tcp < 0 or not packet[tcp + 13] & _TCP_SYN:
        return packet
    end = tcp + (packet[tcp + 12] >> 4) * 4
    if end - tcp < _TCP_MIN_HEADER or end > len(packet):
        return packet
    i = tcp + _TCP_MIN_HEADER
    while i < end:
        kind = packet[i]
        if kind == _OPT_END:
            return packet
        if kind == _OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return packet
        length = packet[i + 1]
        if length < 2 or i + length > end:
            return packet
        if kind == _OPT_MSS and length == _OPT_MSS_LEN:
            if _U16.unpack_from(packet, i + 2)[0] <= max_mss:
                return packet
            return _rewrite(packet, tcp, i + 2, max_mss)
        i += length
    return packet


def _rewrite(packet: bytes, tcp: int, at: int, mss: int) -> bytes:
    """Write ``mss`` at ``at`` and fix the TCP checksum word by word (handles odd offsets)."""
    out = bytearray(packet)
    _U16.pack_into(out, at, mss)
    checksum = _U16.unpack_from(out, tcp + _TCP_CHECKSUM)[0]
    # The checksum sums 16-bit words aligned to the start of the TCP header; the
    # MSS value may straddle two of them when options put it at an odd offset.
    first = tcp + ((at - tcp) & ~1)
    for word in range(first, at + 2, 2):
        old = (packet[word] << 8) | (packet[word + 1] if word + 1 < len(packet) else 0)
        new = (out[word] << 8) | (out[word + 1] if word + 1 < len(out) else 0)
        checksum = _checksum_update(checksum, old, new)
    _U16.pack_into(out, tcp + _TCP_CHECKSUM, checksum)
    return bytes(out)
