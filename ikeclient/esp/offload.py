"""TUN offloads, sans-I/O: the virtio-net header, TSO splitting and GRO-style coalescing.

With ``IFF_VNET_HDR`` every read from and write to the TUN carries a 10-byte
``struct virtio_net_hdr`` (linux/virtio_net.h) before the IP packet. With
``TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)`` the kernel may hand us

- TCP super-packets of up to 64 KB (``gso_type`` TCPV4/TCPV6, ``gso_size`` = MSS)
  whose checksum is left to us (``NEEDS_CSUM``): :func:`from_tun` cuts them into
  ordinary segments with complete checksums, as the kernel's own
  ``tcp_gso_segment`` would (IPv4 ID incremented per segment, sequence numbers
  advanced, FIN/PSH only on the last segment, CWR only on the first);
- single packets with ``NEEDS_CSUM``: the checksum at ``csum_start + csum_offset``
  holds the pseudo-header sum; :func:`from_tun` completes it.

The other way, :func:`coalesce` merges consecutive in-order TCP segments of one flow
from a batch of decapsulated packets into one super-packet (``gso_type`` TCPV4/TCPV6,
``gso_size`` = the segment size), which the kernel takes like a virtio device's GRO'd
packet: one write system call and one pass through the TCP receive path for up to 64 KB.
The merge rules are those of the kernel's ``tcp_gro_receive`` (and wireguard-go's
``tun/offload_linux.go``): same addresses, ports, ACK number, window, urgent pointer and
TCP options (timestamps included); IPv4 without options or fragmentation with equal TOS,
TTL and DF; IPv6 with equal version/traffic class/flow label and hop limit; only ACK or
ACK|PSH flags, PSH ending a run; contiguous sequence numbers; equal payload sizes, a
smaller one ending a run; at most 64 KB.

The super-packet's TCP checksum, two ways:

- default: a complete checksum, derived from the segments' own checksums without reading
  a payload byte (each payload sums to minus its pseudo-header and TCP header). The kernel
  verifies it over the whole super-packet as it would each segment, so a corrupt segment
  still gets the run dropped (and resent by TCP), at C speed;
- ``partial=True``: the virtio way wireguard-go uses, ``NEEDS_CSUM`` with the
  pseudo-header sum in the field. The kernel then trusts the payload, so every segment's
  checksum is verified here first: a pass over every byte in Python, about 2 µs a segment.

Checksums in Python: the ones'-complement sum of big-endian 16-bit words is
congruent to the bytes read as one integer modulo 0xFFFF (2^16 ≡ 1), so
``int.from_bytes(data) % 0xFFFF`` sums at C speed. Reading little-endian is a bit
faster and gives the byte-swapped sum (x 256 mod 0xFFFF swaps it back); it also
pads an odd length with a zero byte for free. Sums are kept modulo 0xFFFF, where
0 stands for the ones'-complement "negative zero" 0xFFFF.

Nothing here raises on packet data: malformed input gives None (the caller drops
and counts it) or is passed through untouched.
"""

from __future__ import annotations

from struct import Struct
from typing import Final, NamedTuple

__all__ = [
    "GSO_ECN",
    "GSO_NONE",
    "GSO_TCPV4",
    "GSO_TCPV6",
    "NEEDS_CSUM",
    "VNET_HDR_LEN",
    "ZERO_VNET_HDR",
    "VnetHeader",
    "checksum",
    "coalesce",
    "complete_checksum",
    "from_tun",
    "ones_sum",
    "pack_vnet_header",
    "split_tcp",
    "unpack_vnet_header",
]

VNET_HDR_LEN: Final = 10
NEEDS_CSUM: Final = 1  # VIRTIO_NET_HDR_F_NEEDS_CSUM
DATA_VALID: Final = 2  # VIRTIO_NET_HDR_F_DATA_VALID
GSO_NONE: Final = 0
GSO_TCPV4: Final = 1
GSO_UDP: Final = 3
GSO_TCPV6: Final = 4
GSO_ECN: Final = 0x80
ZERO_VNET_HDR: Final = bytes(VNET_HDR_LEN)

# Native byte order: the legacy virtio header of a TUN is in the host's order (little-endian
# on every platform we run on); "=" also means no padding, 10 bytes.
_VNET: Final = Struct("=BBHHHH")
_U16: Final = Struct("!H")
_U32: Final = Struct("!I")
_TCP: Final = 6
_TCP_CSUM: Final = 16  # offset of the checksum in the TCP header
_FIN: Final = 0x01
_PSH: Final = 0x08
_ACK: Final = 0x10
_CWR: Final = 0x80
_M: Final = 0xFFFF
_MAX_IP: Final = 0xFFFF
_MASKS: dict[int, int] = {}


class VnetHeader(NamedTuple):
    """``struct virtio_net_hdr`` (without ``num_buffers``)."""

    flags: int = 0
    gso_type: int = GSO_NONE
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0


def pack_vnet_header(header: VnetHeader) -> bytes:
    return _VNET.pack(*header)


def unpack_vnet_header(data: bytes) -> VnetHeader | None:
    """The header at the start of ``data``, or None when ``data`` is too short."""
    if len(data) < VNET_HDR_LEN:
        return None
    return VnetHeader(*_VNET.unpack_from(data))


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    """The ones'-complement sum of ``data`` as big-endian 16-bit words, modulo 0xFFFF.

    An odd length is padded with a zero byte (RFC 1071). Sums of parts add up (mod 0xFFFF)
    as long as every part starts at an even offset.
    """
    n = len(data)
    x = int.from_bytes(data, "little")
    # Halve the number by adding its two halves (cut at a multiple of 16 bits: 2^16k = 1
    # modulo 0xFFFF) until it is small: cheaper than one long division by 0xFFFF.
    while n > 256:
        bits = ((n + 3) >> 2) << 4
        mask = _MASKS.get(bits)
        if mask is None:
            mask = _MASKS[bits] = (1 << bits) - 1
        x = (x >> bits) + (x & mask)
        n = (bits >> 3) + 1
    return (x % _M) * 256 % _M


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The Internet checksum field for ``data`` (its checksum field zero) plus ``initial``.

    Like the kernel's ``csum_fold``: 0 when the sum is the negative zero 0xFFFF.
    """
    return -(ones_sum(data) + initial) % _M


def _pseudo_sum(packet: bytes, version: int) -> int:
    """The source and destination address part of the TCP/UDP pseudo-header, mod 0xFFFF."""
    if version == 4:
        return ones_sum(packet[12:20])
    return ones_sum(packet[8:40])


# --- read side: what the kernel hands us --------------------------------------------------


def complete_checksum(packet: bytes, start: int, offset: int) -> bytes | None:
    """Finish a ``NEEDS_CSUM`` checksum: the field holds the pseudo-header sum; sum from
    ``start`` to the end and store the complement at ``start + offset``. None if out of range."""
    at = start + offset
    if at + 2 > len(packet) or offset < 0:
        return None
    value = -ones_sum(packet[start:]) % _M or _M  # 0xFFFF, never 0: also right for UDP
    return packet[:at] + _U16.pack(value) + packet[at + 2 :]


def split_tcp(packet: bytes, header: VnetHeader) -> list[bytes] | None:
    """Cut a TCP super-packet (TSO) into segments of ``gso_size`` payload bytes.

    Each segment gets its own IP header (IPv4: total length, ID + i, header checksum;
    IPv6: payload length), its sequence number, FIN/PSH only when last, CWR only when
    first, and a complete TCP checksum. None when the packet is malformed.
    """
    n = len(packet)
    mss = header.gso_size
    start = header.csum_start
    gso = header.gso_type & ~GSO_ECN
    if n < 40 or mss <= 0 or header.csum_offset != _TCP_CSUM or n > _MAX_IP:
        return None
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if gso != GSO_TCPV4 or ihl < 20 or start != ihl or packet[9] != _TCP:
            return None
    elif version == 6:
        if gso != GSO_TCPV6 or start < 40 or (start == 40 and packet[6] != _TCP):
            return None
    else:
        return None
    if n < start + 20:
        return None
    thl = (packet[start + 12] >> 4) * 4
    end = start + thl
    if thl < 20 or n < end:
        return None

    ip = bytearray(packet[:start])
    tcp = bytearray(packet[start:end])
    seq0 = _U32.unpack_from(tcp, 4)[0]
    flags0 = tcp[13]
    tcp[4:8] = b"\0\0\0\0"
    tcp[13] = 0
    tcp[16:18] = b"\0\0"
    # Everything of the TCP checksum but the payload, the length, the sequence number and flags.
    base = (_pseudo_sum(packet, version) + _TCP + ones_sum(tcp)) % _M
    ip_base = 0
    ip_id = 0
    if version == 4:
        ip_id = _U16.unpack_from(ip, 4)[0]
        ip[2:6] = b"\0\0\0\0"
        ip[10:12] = b"\0\0"
        ip_base = ones_sum(ip)
    payload = n - end
    view = memoryview(packet)
    segments: list[bytes] = []
    count = max(1, -(-payload // mss))
    pack_u16 = _U16.pack_into
    pack_u32 = _U32.pack_into
    for i in range(count):
        a = end + i * mss
        b = min(a + mss, n)
        total = start + thl + (b - a)
        if version == 4:
            ident = (ip_id + i) & 0xFFFF
            pack_u16(ip, 2, total)
            pack_u16(ip, 4, ident)
            pack_u16(ip, 10, -(ip_base + total + ident) % _M)
        else:
            pack_u16(ip, 4, total - 40)
        flags = flags0
        if i:
            flags &= ~_CWR
        if i < count - 1:
            flags &= ~(_FIN | _PSH)
        seq = (seq0 + i * mss) & 0xFFFFFFFF
        data = view[a:b]
        csum = -(base + total - start + seq + flags + ones_sum(data)) % _M
        pack_u32(tcp, 4, seq)
        tcp[13] = flags
        pack_u16(tcp, 16, csum)
        segments.append(b"".join((ip, tcp, data)))
    return segments


def from_tun(data: bytes) -> list[bytes] | None:
    """What one TUN read (virtio header + packet) holds: the IP packets, ready to send.

    None when it is malformed or of a kind we did not ask for (UDP GSO): drop it.
    """
    if len(data) <= VNET_HDR_LEN:
        return None
    flags, gso_type, hdr_len, gso_size, start, offset = _VNET.unpack_from(data)
    packet = data[VNET_HDR_LEN:]
    if gso_type == GSO_NONE:
        if flags & NEEDS_CSUM:
            done = complete_checksum(packet, start, offset)
            return None if done is None else [done]
        return [packet]
    if gso_type & ~GSO_ECN not in (GSO_TCPV4, GSO_TCPV6):
        return None
    return split_tcp(packet, VnetHeader(flags, gso_type, hdr_len, gso_size, start, offset))


# --- write side: coalescing a batch before it goes to the TUN -------------------------------


class _Run:
    """Segments of one flow being merged: the first packet, the payloads after it, and the
    sums the super-packet's checksum is derived from."""

    __slots__ = (
        "acc",
        "count",
        "first",
        "gso_size",
        "head",
        "hl",
        "iphl",
        "len_adj",
        "len_at",
        "mask",
        "next_seq",
        "payloads",
        "psh",
        "size",
        "version",
    )

    def __init__(
        self, first: bytes, version: int, iphl: int, hl: int, seq: int, size: int, vary: int
    ) -> None:
        self.first = first
        self.version = version
        self.iphl = iphl
        self.hl = hl
        self.gso_size = size
        self.size = len(first)
        self.next_seq = (seq + size) & 0xFFFFFFFF
        self.payloads: list[bytes] = []
        self.psh = False
        # What must be equal in every segment's headers, as one masked integer.
        self.mask = _header_mask(version, hl)
        self.head = int.from_bytes(first[:hl], "big") & self.mask
        self.len_at, self.len_adj = (2, 0) if version == 4 else (4, 40)
        # Per segment, what varies in its TCP checksum: length + sequence + flags + checksum
        # field (its payload's sum is minus the rest). Index 1: payloads at an odd offset of
        # the super-packet (an odd gso_size), whose sums count byte-swapped.
        self.acc = [vary, 0]
        self.count = [1, 0]


_HEADER_MASKS: dict[tuple[int, int], int] = {}


def _header_mask(version: int, hl: int) -> int:
    """Ones over the header bytes every segment of a run shares: all but the IP length (and
    IPv4 ID and checksum), the TCP sequence number, the PSH flag and the TCP checksum."""
    mask = _HEADER_MASKS.get((version, hl))
    if mask is None:
        raw = bytearray(b"\xff" * hl)
        iphl = 20 if version == 4 else 40
        if version == 4:
            raw[2:6] = b"\0\0\0\0"
            raw[10:12] = b"\0\0"
        else:
            raw[4:6] = b"\0\0"
        raw[iphl + 4 : iphl + 8] = b"\0\0\0\0"
        raw[iphl + 13] = 0xFF & ~_PSH
        raw[iphl + 16 : iphl + 18] = b"\0\0"
        mask = _HEADER_MASKS[version, hl] = int.from_bytes(raw, "big")
    return mask


def _segment_ok(packet: bytes, version: int, iphl: int) -> bool:
    """Does the TCP checksum of this segment verify?"""
    total = _pseudo_sum(packet, version) + _TCP + (len(packet) - iphl) + ones_sum(packet[iphl:])
    return total % _M == 0


def _super_packet(run: _Run, partial: bool) -> bytes:
    """The run as one GSO packet with its virtio header (or the lone packet, zero header)."""
    first = run.first
    if not run.payloads:
        return ZERO_VNET_HDR + first
    iphl, hl, version = run.iphl, run.hl, run.version
    head = bytearray(first[:hl])
    total = run.size
    if version == 4:
        _U16.pack_into(head, 2, total)
        head[10:12] = b"\0\0"
        _U16.pack_into(head, 10, checksum(head[:iphl]))
        gso_type = GSO_TCPV4
    else:
        _U16.pack_into(head, 4, total - 40)
        gso_type = GSO_TCPV6
    if run.psh:
        head[iphl + 13] |= _PSH
    pseudo = _pseudo_sum(first, version) + _TCP
    if partial:
        # CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the kernel adds the rest
        # and trusts the result (every segment was verified on its way in).
        _U16.pack_into(head, iphl + _TCP_CSUM, (pseudo + total - iphl) % _M)
        vnet = _VNET.pack(NEEDS_CSUM, gso_type, hl, run.gso_size, iphl, _TCP_CSUM)
    else:
        # A complete checksum, derived from the segments' own: segment i's payload sums to
        # minus (pseudo-header + its TCP header), so no payload byte is read here. The kernel
        # verifies the super-packet as it would have verified each segment: one bad segment
        # makes the whole sum wrong and the super-packet is dropped (TCP resends it).
        seq0, flags0, csum0 = (
            _U32.unpack_from(first, iphl + 4)[0],
            first[iphl + 13],
            _U16.unpack_from(first, iphl + _TCP_CSUM)[0],
        )
        common = pseudo + ones_sum(first[iphl:hl]) - seq0 - flags0 - csum0  # the fixed part
        even, odd = run.acc
        n_even, n_odd = run.count
        payloads = -(n_even * common + even) - 256 * (n_odd * common + odd)
        flags = head[iphl + 13]
        value = -(common + total - iphl + seq0 + flags + payloads) % _M
        _U16.pack_into(head, iphl + _TCP_CSUM, value)
        vnet = _VNET.pack(0, gso_type, hl, run.gso_size, 0, 0)
    return b"".join((vnet, head, first[hl:], *run.payloads))


def coalesce(packets: list[bytes], *, partial: bool = False) -> list[bytes]:
    """Merge what can be merged; return what to write, each with its virtio header.

    The order of packets within a flow is kept (a packet that cannot join closes its
    flow's run); runs sit where their first packet was.

    ``partial=False`` (the default) writes a super-packet with a complete TCP checksum
    derived from the segments' checksums without reading their payloads: the kernel
    checks it once over the super-packet, as it checks any segment. ``partial=True``
    is the virtio way (``NEEDS_CSUM``, pseudo-header sum in the field, what
    wireguard-go does): the kernel trusts it, so each segment's checksum is verified
    here first, which costs a pass over every byte in Python.
    """
    out: list[bytes | _Run] = []
    runs: dict[bytes, _Run] = {}
    last: _Run | None = None  # the run the previous packet joined: tried first
    unpack_u16 = _U16.unpack_from
    unpack_u32 = _U32.unpack_from
    from_bytes = int.from_bytes
    for packet in packets:
        n = len(packet)
        run = last
        if run is not None:
            # Fast path: the next segment of the previous packet's run.
            hl = run.hl
            size = n - hl
            iphl = run.iphl
            if (
                0 < size <= run.gso_size
                and run.size + size <= _MAX_IP
                and from_bytes(packet[:hl], "big") & run.mask == run.head
                and unpack_u32(packet, iphl + 4)[0] == run.next_seq
                and unpack_u16(packet, run.len_at)[0] + run.len_adj == n
                and (
                    not partial
                    or (
                        (run.payloads or _segment_ok(run.first, run.version, iphl))
                        and _segment_ok(packet, run.version, iphl)
                    )
                )
            ):
                flags = packet[iphl + 13]
                parity = (run.size - hl) & 1
                run.acc[parity] += (
                    n - iphl + run.next_seq + flags + unpack_u16(packet, iphl + 16)[0]
                )
                run.count[parity] += 1
                run.payloads.append(packet[hl:])
                run.size += size
                run.next_seq = (run.next_seq + size) & 0xFFFFFFFF
                if flags & _PSH or size < run.gso_size:
                    run.psh = bool(flags & _PSH)
                    del runs[packet[12:24] if run.version == 4 else packet[8:44]]
                    last = None  # PSH or a short segment ends a run
                continue
        last = None
        if n < 40:
            out.append(packet)
            continue
        b0 = packet[0]
        if b0 == 0x45:  # IPv4 without options
            if packet[9] != _TCP:
                out.append(packet)
                continue
            version, iphl = 4, 20
            ok = unpack_u16(packet, 2)[0] == n and not packet[6] & 0x3F and not packet[7]
        elif b0 >> 4 == 6:
            if packet[6] != _TCP or n < 60:
                out.append(packet)
                continue
            version, iphl = 6, 40
            ok = unpack_u16(packet, 4)[0] == n - 40
        else:
            if runs and b0 >> 4 == 4 and n > 20 and packet[9] == _TCP:
                ihl = (b0 & 0x0F) * 4
                runs.pop(packet[12:20] + packet[ihl : ihl + 4], None)
            out.append(packet)
            continue
        thl = (packet[iphl + 12] >> 4) * 4
        hl = iphl + thl
        flags = packet[iphl + 13]
        size = n - hl
        if not ok or thl < 20 or size <= 0 or (flags != _ACK and flags != _ACK | _PSH):
            if runs:  # keep the flow's order: nothing after this joins an older run
                runs.pop(packet[12:24] if version == 4 else packet[8:44], None)
            out.append(packet)
            continue
        key = packet[12:24] if version == 4 else packet[8:44]
        seq = unpack_u32(packet, iphl + 4)[0]
        vary = n - iphl + seq + flags + unpack_u16(packet, iphl + _TCP_CSUM)[0]
        run = runs.get(key)
        if (
            run is not None
            and run.hl == hl
            and from_bytes(packet[:hl], "big") & run.mask == run.head
            and run.next_seq == seq
            and size <= run.gso_size
            and run.size + size <= _MAX_IP
            and (
                not partial
                or (
                    (run.payloads or _segment_ok(run.first, version, iphl))
                    and _segment_ok(packet, version, iphl)
                )
            )
        ):
            parity = (run.size - hl) & 1
            run.acc[parity] += vary
            run.count[parity] += 1
            run.payloads.append(packet[hl:])
            run.size += size
            run.next_seq = (seq + size) & 0xFFFFFFFF
            if flags & _PSH or size < run.gso_size:
                run.psh = bool(flags & _PSH)
                del runs[key]  # PSH or a short segment ends a run
            else:
                last = run
            continue
        run = _Run(packet, version, iphl, hl, seq, size, vary)
        out.append(run)
        if flags & _PSH:
            runs.pop(key, None)
        else:
            runs[key] = last = run
    return [
        ZERO_VNET_HDR + item if isinstance(item, bytes) else _super_packet(item, partial)
        for item in out
    ]
