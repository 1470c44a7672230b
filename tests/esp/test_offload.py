"""TUN offloads: virtio header, TSO splitting, checksum completion and GRO coalescing.

Checksums are checked with an independent word-by-word implementation, and packets are
parsed with scapy, so a mistake shared by the module's checksum and its tests shows up.
"""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from ikeclient.esp.offload import (
    GSO_ECN,
    GSO_NONE,
    GSO_TCPV4,
    GSO_TCPV6,
    NEEDS_CSUM,
    VNET_HDR_LEN,
    ZERO_VNET_HDR,
    VnetHeader,
    checksum,
    coalesce,
    complete_checksum,
    from_tun,
    ones_sum,
    pack_vnet_header,
    split_tcp,
    unpack_vnet_header,
)

SRC4, DST4 = "10.99.0.2", "192.0.2.10"
SRC6, DST6 = "fd00:99::2", "2001:db8::10"
TS_OPTIONS = [("NOP", None), ("NOP", None), ("Timestamp", (1000, 2000))]


# --- independent reference implementations --------------------------------------------------


def ref_sum(data: bytes) -> int:
    """RFC 1071, word by word, end-around carry; 0..0xFFFF."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def pseudo(packet: bytes, l4_offset: int, proto: int = 6) -> bytes:
    length = len(packet) - l4_offset
    if packet[0] >> 4 == 4:
        return packet[12:20] + struct.pack("!BBH", 0, proto, length)
    return packet[8:40] + struct.pack("!IxxxB", length, proto)


def l4_ok(packet: bytes, l4_offset: int, proto: int = 6) -> bool:
    return ref_sum(pseudo(packet, l4_offset, proto) + packet[l4_offset:]) == 0xFFFF


def ip4_header_ok(packet: bytes) -> bool:
    return ref_sum(packet[: (packet[0] & 0x0F) * 4]) == 0xFFFF


# --- packet builders ------------------------------------------------------------------------


def tcp4(
    payload: bytes,
    seq: int = 1000,
    flags: str = "A",
    *,
    ack: int = 5000,
    window: int = 512,
    ident: int = 7,
    ttl: int = 64,
    tos: int = 0,
    options: list[tuple[str, object]] | None = None,
    sport: int = 40000,
    dst: str = DST4,
) -> bytes:
    pkt = IP(src=SRC4, dst=dst, id=ident, ttl=ttl, tos=tos, flags="DF") / TCP(
        sport=sport,
        dport=5201,
        seq=seq,
        ack=ack,
        flags=flags,
        window=window,
        options=options or [],
    )
    return bytes(pkt / payload)


def tcp6(payload: bytes, seq: int = 1000, flags: str = "A", *, ack: int = 5000) -> bytes:
    pkt = IPv6(src=SRC6, dst=DST6, hlim=64) / TCP(
        sport=40000, dport=5201, seq=seq, ack=ack, flags=flags, window=512
    )
    return bytes(pkt / payload)


def as_tso(packet: bytes, mss: int, *, needs_csum: bool = True) -> bytes:
    """What the kernel hands a TSO-enabled TUN: the virtio header, the super-packet whose TCP
    checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL)."""
    version = packet[0] >> 4
    l4 = (packet[0] & 0x0F) * 4 if version == 4 else 40
    partial = ref_sum(pseudo(packet, l4))
    body = packet[: l4 + 16] + struct.pack("!H", partial) + packet[l4 + 18 :]
    thl = (packet[l4 + 12] >> 4) * 4
    header = VnetHeader(
        NEEDS_CSUM if needs_csum else 0,
        GSO_TCPV4 if version == 4 else GSO_TCPV6,
        l4 + thl,
        mss,
        l4,
        16,
    )
    return pack_vnet_header(header) + body


def stream4(
    sizes: list[int], *, seq: int = 1000, ident: int = 100, last_flags: str = "A", **kw: object
) -> list[bytes]:
    """Consecutive segments of one flow, IPv4 IDs counting up."""
    out = []
    for i, size in enumerate(sizes):
        flags = last_flags if i == len(sizes) - 1 else "A"
        out.append(tcp4(os.urandom(size), seq=seq, ident=ident + i, flags=flags, **kw))  # type: ignore[arg-type]
        seq += size
    return out


# --- virtio header and checksums ------------------------------------------------------------


def test_vnet_header_round_trip() -> None:
    header = VnetHeader(NEEDS_CSUM, GSO_TCPV4, 52, 1360, 20, 16)
    raw = pack_vnet_header(header)
    assert len(raw) == VNET_HDR_LEN
    assert raw == struct.pack("<BBHHHH", 1, 1, 52, 1360, 20, 16)  # little-endian on x86
    assert unpack_vnet_header(raw + b"x") == header
    assert unpack_vnet_header(raw[:9]) is None
    assert bytes(10) == ZERO_VNET_HDR


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_ones_sum_matches_rfc1071(data: bytes) -> None:
    assert ones_sum(data) == ref_sum(data) % 0xFFFF  # 0xFFFF and 0 are the same number
    if len(data) % 2 == 0 and any(data):
        # the field makes the sum the negative zero, as a receiver checks it
        assert ref_sum(data + struct.pack("!H", checksum(data))) == 0xFFFF


def test_checksum_edges() -> None:
    assert ones_sum(b"") == 0
    assert ones_sum(b"\xff\xff") == 0  # 0xFFFF is 0 modulo 0xFFFF
    assert checksum(b"\xff\xff") == 0  # like csum_fold: ~0xFFFF
    assert ones_sum(b"\x01") == 0x0100  # odd length: padded with a zero byte
    assert ones_sum(b"\x12\x34\x56") == 0x1234 + 0x5600
    assert checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7") == 0x220D  # RFC 1071 §3 example


# --- read side: TSO split -------------------------------------------------------------------


def check_segments(
    segments: list[bytes], original: bytes, mss: int, l4: int = 20, first_id: int | None = None
) -> None:
    version = original[0] >> 4
    otcp = TCP(original[l4:])
    payload = original[l4 + otcp.dataofs * 4 :]
    assert b"".join(s[l4 + (s[l4 + 12] >> 4) * 4 :] for s in segments) == payload
    n = len(segments)
    assert n == max(1, -(-len(payload) // mss))
    for i, seg in enumerate(segments):
        assert l4_ok(seg, l4), f"segment {i}: bad TCP checksum"
        if version == 4:
            ip = IP(seg)
            assert ip4_header_ok(seg)
            assert ip.len == len(seg)
            assert ip.id == ((first_id if first_id is not None else IP(original).id) + i) & 0xFFFF
            assert ip.ttl == IP(original).ttl and ip.flags == IP(original).flags
            tcp = ip[TCP]
        else:
            ip6 = IPv6(seg)
            assert ip6.plen == len(seg) - 40
            tcp = ip6[TCP]
        assert tcp.seq == (otcp.seq + i * mss) & 0xFFFFFFFF
        assert tcp.ack == otcp.ack and tcp.window == otcp.window
        assert tcp.options == otcp.options
        flags = int(otcp.flags)
        if i < n - 1:
            flags &= ~0x09  # no FIN/PSH before the last segment
        if i:
            flags &= ~0x80  # CWR on the first only
        assert int(tcp.flags) == flags
        # scapy agrees: recomputing the checksum gives what we wrote
        again = IP(seg) if version == 4 else IPv6(seg)
        del again[TCP].chksum
        if version == 4:
            del again.chksum
        assert bytes(again) == seg or checksum_zero_variant(bytes(again), seg)


def checksum_zero_variant(a: bytes, b: bytes) -> bool:
    """0x0000 and 0xFFFF are the same checksum (the two zeros of ones' complement)."""
    if len(a) != len(b):
        return False
    return all(x == y or {x, y} == {0, 0xFF} for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("size", [1, 1359, 1360, 1361, 4000, 13600, 64000 - 52])
def test_split_ipv4(size: int) -> None:
    original = tcp4(os.urandom(size), seq=0xFFFFF000, flags="PA", options=TS_OPTIONS, ident=0xFFFE)
    segments = from_tun(as_tso(original, 1348))
    assert segments is not None
    check_segments(segments, original, 1348)


def test_split_ipv4_fin_cwr_ece() -> None:
    original = tcp4(os.urandom(5000), flags="FPACE")
    data = as_tso(original, 1000)
    data = data[:1] + bytes([GSO_TCPV4 | GSO_ECN]) + data[2:]
    segments = from_tun(data)
    assert segments is not None and len(segments) == 5
    check_segments(segments, original, 1000)
    assert [int(TCP(s[20:]).flags) & 0x80 for s in segments] == [0x80, 0, 0, 0, 0]
    assert [int(TCP(s[20:]).flags) & 0x09 for s in segments] == [0, 0, 0, 0, 0x09]
    assert all(int(TCP(s[20:]).flags) & 0x40 for s in segments)  # ECE stays


@pytest.mark.parametrize("size", [10, 1000, 5001, 65000 - 32])
def test_split_ipv6(size: int) -> None:
    original = tcp6(os.urandom(size), flags="PA")
    segments = from_tun(as_tso(original, 1220))
    assert segments is not None
    check_segments(segments, original, 1220, l4=40)


def test_split_odd_mss() -> None:
    original = tcp4(os.urandom(3001))
    segments = from_tun(as_tso(original, 999))
    assert segments is not None and len(segments) == 4
    check_segments(segments, original, 999)


def test_needs_csum_without_gso_is_completed() -> None:
    tcp = tcp4(b"hello world!!")
    data = as_tso(tcp, 1400)
    data = data[:1] + bytes([GSO_NONE]) + data[2:]
    (done,) = from_tun(data) or []
    assert done == tcp or checksum_zero_variant(done, tcp)
    assert l4_ok(done, 20)

    udp = bytes(IPv6(src=SRC6, dst=DST6) / UDP(sport=5353, dport=53) / b"query")
    partial = ref_sum(pseudo(udp, 40, 17))
    body = udp[:46] + struct.pack("!H", partial) + udp[48:]
    (done6,) = from_tun(pack_vnet_header(VnetHeader(NEEDS_CSUM, 0, 48, 0, 40, 6)) + body) or []
    assert l4_ok(done6, 40, 17)
    assert done6[46:48] != b"\0\0"  # never 0 for UDP


def test_plain_reads_pass_through() -> None:
    packet = tcp4(b"x" * 100)
    assert from_tun(ZERO_VNET_HDR + packet) == [packet]
    valid = pack_vnet_header(VnetHeader(flags=2))  # DATA_VALID: nothing to do
    assert from_tun(valid + packet) == [packet]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, p: (h._replace(gso_size=0), p),
        lambda h, p: (h._replace(csum_start=24), p),
        lambda h, p: (h._replace(csum_offset=6), p),
        lambda h, p: (h._replace(gso_type=GSO_TCPV6), p),
        lambda h, p: (h._replace(gso_type=5), p),  # UDP_L4, never asked for
        lambda h, p: (h, p[:30]),
        lambda h, p: (h, p[:39]),
        lambda h, p: (h, b"\x75" + p[1:]),  # IP version 7
        lambda h, p: (h, p[:32] + b"\x10" + p[33:]),  # TCP data offset 4 words
        lambda h, p: (h, p[:32] + b"\xf0" + p[33:60]),  # data offset 60 > what is there
    ],
)
def test_split_drops_malformed(mutate: object) -> None:
    data = as_tso(tcp4(os.urandom(3000)), 1000)
    header = unpack_vnet_header(data)
    assert header is not None
    header2, packet2 = mutate(header, data[10:])  # type: ignore[operator]
    assert from_tun(pack_vnet_header(header2) + packet2) is None


def test_truncated_reads_are_dropped() -> None:
    assert from_tun(b"") is None
    assert from_tun(ZERO_VNET_HDR) is None
    assert from_tun(pack_vnet_header(VnetHeader(NEEDS_CSUM, 0, 0, 0, 20, 16)) + b"\x45") is None
    assert complete_checksum(b"\x45" * 30, 20, 16) is None


@given(st.binary(min_size=0, max_size=200), st.integers(0, 0xFFFF), st.integers(0, 255))
@settings(max_examples=500, deadline=None)
def test_from_tun_never_raises(body: bytes, gso_size: int, gso_type: int) -> None:
    for start, offset in ((20, 16), (40, 16), (0, 0), (0xFFFF, 0xFFFF)):
        header = VnetHeader(NEEDS_CSUM, gso_type, 0, gso_size, start, offset)
        result = from_tun(pack_vnet_header(header) + body)
        assert result is None or isinstance(result, list)


@given(st.integers(0, 200), st.integers(1, 2000), st.binary(min_size=60, max_size=60))
@settings(max_examples=200, deadline=None)
def test_split_never_raises_on_garbage_headers(cut: int, mss: int, junk: bytes) -> None:
    good = as_tso(tcp4(os.urandom(3000)), 1000)[10:]
    packet = junk[:cut] + good[cut:]
    for gso in (GSO_TCPV4, GSO_TCPV6):
        header = VnetHeader(NEEDS_CSUM, gso, 0, mss, (junk[0] & 0x0F) * 4, 16)
        result = split_tcp(packet, header)
        assert result is None or all(isinstance(s, bytes) for s in result)


# --- write side: coalescing -----------------------------------------------------------------


def unwrap(buffers: list[bytes]) -> list[tuple[VnetHeader, bytes]]:
    out = []
    for buf in buffers:
        header = unpack_vnet_header(buf)
        assert header is not None
        out.append((header, buf[VNET_HDR_LEN:]))
    return out


def kernel_view(header: VnetHeader, packet: bytes) -> bytes:
    """What a device honouring CHECKSUM_PARTIAL makes of it: complete the checksum."""
    if header.flags & NEEDS_CSUM:
        done = complete_checksum(packet, header.csum_start, header.csum_offset)
        assert done is not None
        return done
    return packet


def kernel_split(header: VnetHeader, packet: bytes) -> list[bytes]:
    """The kernel's segmentation of a GSO write (it finds the TCP header itself)."""
    iphl = 20 if packet[0] >> 4 == 4 else 40
    assert header.hdr_len == iphl + (packet[iphl + 12] >> 4) * 4
    if header.flags & NEEDS_CSUM:
        assert (header.csum_start, header.csum_offset) == (iphl, 16)
    pieces = split_tcp(packet, header._replace(csum_start=iphl, csum_offset=16))
    assert pieces is not None
    return pieces


MODES = pytest.mark.parametrize("partial", [False, True], ids=["full-csum", "needs-csum"])


@MODES
def test_coalesce_one_flow_ipv4(partial: bool) -> None:
    segments = stream4([1348] * 5 + [700], options=TS_OPTIONS, last_flags="PA")
    ((header, packet),) = unwrap(coalesce(segments, partial=partial))
    assert header.gso_type == GSO_TCPV4
    assert header.gso_size == 1348
    assert header.hdr_len == 20 + 32
    if not partial:
        assert header.flags == 0
        assert l4_ok(packet, 20)  # a complete checksum, for the kernel to verify
        again = kernel_split(header, packet)
        assert len(again) == 6
        for s, o in zip(again, segments, strict=True):
            assert s == o or checksum_zero_variant(s, o)
        return
    assert header.flags == NEEDS_CSUM
    assert header.csum_start == 20 and header.csum_offset == 16
    ip = IP(packet)
    assert ip.len == len(packet) == 52 + 5 * 1348 + 700
    assert ip4_header_ok(packet)
    assert ip.id == IP(segments[0]).id
    assert ip[TCP].seq == 1000 and int(ip[TCP].flags) == 0x18  # PSH of the last
    # the field is the pseudo-header sum, as the kernel puts it for CHECKSUM_PARTIAL
    assert struct.unpack("!H", packet[36:38])[0] == ref_sum(pseudo(packet, 20)) % 0xFFFF
    full = kernel_view(header, packet)
    assert l4_ok(full, 20)
    # round trip: the kernel's segmentation of it gives back the original segments
    again = split_tcp(packet, header)
    assert again is not None
    assert len(again) == 6
    for s, o in zip(again, segments, strict=True):
        assert s == o or checksum_zero_variant(s, o)


@MODES
@pytest.mark.parametrize("size", [1220, 1221])
def test_coalesce_one_flow_ipv6(partial: bool, size: int) -> None:
    segments = []
    seq = 77
    for _ in range(4):
        segments.append(tcp6(os.urandom(size), seq=seq))
        seq += size
    ((header, packet),) = unwrap(coalesce(segments, partial=partial))
    assert header.gso_type == GSO_TCPV6 and header.gso_size == size
    assert header.csum_start == (40 if partial else 0)
    assert IPv6(packet).plen == len(packet) - 40 == 20 + 4 * size
    assert l4_ok(kernel_view(header, packet), 40)
    again = kernel_split(header, packet)
    assert all(checksum_zero_variant(a, b) for a, b in zip(again, segments, strict=True))


def test_interleaved_flows_coalesce_separately_in_order() -> None:
    a = stream4([1000] * 3, sport=1111)
    b = stream4([1000] * 3, sport=2222, seq=9000)
    udp = bytes(IP(src=SRC4, dst=DST4) / UDP(sport=1, dport=2) / b"u")
    mixed = [a[0], b[0], udp, a[1], b[1], a[2], b[2]]
    out = unwrap(coalesce(mixed))
    assert len(out) == 3
    (ha, pa), (hb, pb), (hu, pu) = out
    assert TCP(pa[20:]).sport == 1111 and len(pa) == 40 + 3000 and ha.gso_type == GSO_TCPV4
    assert TCP(pb[20:]).sport == 2222 and len(pb) == 40 + 3000 and hb.gso_type == GSO_TCPV4
    assert hu == VnetHeader() and pu == udp


def test_lone_packets_get_a_zero_header() -> None:
    single = tcp4(b"x" * 100)
    assert coalesce([single]) == [ZERO_VNET_HDR + single]
    assert coalesce([]) == []


def _no_merge(packets: list[bytes]) -> None:
    out = coalesce(packets)
    assert out == [ZERO_VNET_HDR + p for p in packets]


def test_gap_in_sequence_numbers() -> None:
    _no_merge([tcp4(b"a" * 100, seq=1000), tcp4(b"b" * 100, seq=1101)])


def test_out_of_order() -> None:
    _no_merge([tcp4(b"a" * 100, seq=1100), tcp4(b"b" * 100, seq=1000)])


@pytest.mark.parametrize(
    "second",
    [
        {"ack": 5001},
        {"window": 513},
        {"ttl": 63},
        {"tos": 2},
        {"options": [("NOP", None), ("NOP", None), ("Timestamp", (1001, 2000))]},
        {"flags": "S"},
        {"flags": "FA"},
        {"flags": "UA"},
        {"flags": "RA"},
        {"flags": "AE"},
        {"flags": "AC"},
        {"dst": "192.0.2.11"},
    ],
)
def test_unequal_headers_do_not_merge(second: dict[str, object]) -> None:
    first = tcp4(b"a" * 100, seq=1000)
    _no_merge([first, tcp4(b"b" * 100, seq=1100, **second)])  # type: ignore[arg-type]


def test_psh_ends_a_run() -> None:
    packets = [*stream4([100, 100], last_flags="PA"), tcp4(b"c" * 100, seq=1200, ident=102)]
    out = unwrap(coalesce(packets))
    assert len(out) == 2
    assert out[0][0].gso_type == GSO_TCPV4 and len(out[0][1]) == 40 + 200
    assert out[1] == (VnetHeader(), packets[2])


def test_psh_first_is_written_alone() -> None:
    _no_merge([tcp4(b"a" * 100, seq=1000, flags="PA"), tcp4(b"b" * 100, seq=1100, flags="A")])


def test_smaller_segment_ends_a_run_and_larger_cannot_follow() -> None:
    packets = stream4([100, 50, 100])
    out = unwrap(coalesce(packets))
    assert len(out) == 2 and len(out[0][1]) == 40 + 150 and out[0][0].gso_size == 100
    _no_merge(stream4([50, 100]))


def test_pure_acks_and_empty_segments_are_not_merged() -> None:
    _no_merge([tcp4(b"", seq=1000), tcp4(b"", seq=1000)])


def test_a_non_candidate_closes_its_flow_run() -> None:
    a = stream4([100, 100, 100])
    fin = tcp4(b"", seq=1200, flags="FA")
    later = tcp4(b"z" * 100, seq=1200, ident=200)
    out = unwrap(coalesce([a[0], a[1], fin, later]))
    assert [len(p) for _, p in out] == [240, 40, 140]


def test_bad_checksum_spoils_the_super_packet() -> None:
    """Without NEEDS_CSUM a corrupt segment merges, and the kernel drops the whole run."""
    for corrupt in range(3):
        packets = stream4([100, 100, 99])
        bad = bytearray(packets[corrupt])
        bad[-1] ^= 0x5A
        packets[corrupt] = bytes(bad)
        ((header, packet),) = unwrap(coalesce(packets))
        assert header.gso_type == GSO_TCPV4
        assert not l4_ok(packet, 20)
        packets = stream4([101, 101, 100])  # odd size: payloads at odd offsets
        assert l4_ok(unwrap(coalesce(packets))[0][1], 20)
        bad = bytearray(packets[corrupt])
        bad[40 + corrupt] ^= 0x01
        packets[corrupt] = bytes(bad)
        assert not l4_ok(unwrap(coalesce(packets))[0][1], 20)


def test_bad_checksum_is_not_merged_with_needs_csum() -> None:
    packets = stream4([100, 100, 100])
    bad = bytearray(packets[1])
    bad[-1] ^= 0xFF
    out = unwrap(coalesce([packets[0], bytes(bad), packets[2]], partial=True))
    # the corrupt segment goes to the kernel as it is (which drops it); nothing merges over it
    assert [p for _, p in out] == [packets[0], bytes(bad), packets[2]]
    bad_first = bytearray(packets[0])
    bad_first[-1] ^= 0xFF
    out = unwrap(coalesce([bytes(bad_first), packets[1], packets[2]], partial=True))
    assert out[0] == (VnetHeader(), bytes(bad_first))
    assert len(out) == 2 and len(out[1][1]) == 40 + 200


def test_ipv4_options_fragments_and_lying_lengths() -> None:
    with_options = bytes(
        IP(src=SRC4, dst=DST4, options=[b"\x01\x01\x01\x00"]) / TCP(seq=1000, flags="A") / b"a"
    )
    _no_merge([with_options, with_options])
    frag = bytearray(tcp4(b"a" * 100))
    frag[6] |= 0x20  # MF
    _no_merge([bytes(frag), tcp4(b"b" * 100, seq=1100)])
    long = tcp4(b"a" * 100)
    _no_merge([long + b"\0\0", tcp4(b"b" * 100, seq=1100)])  # trailing bytes past total length


def test_runs_stay_within_64k() -> None:
    packets = stream4([1400] * 60)
    out = unwrap(coalesce(packets))
    assert all(len(p) <= 65535 for _, p in out)
    assert sum(len(p) - 40 for _, p in out) == 60 * 1400
    assert len(out) == 2


@MODES
def test_coalesce_then_split_round_trips_random_streams(partial: bool) -> None:
    rng = random.Random(7)
    for _ in range(30):
        mss = rng.choice([536, 1000, 1348, 1360, 1361])
        count = rng.randint(2, 50)
        sizes = [mss] * (count - 1) + [rng.randint(1, mss)]
        packets = stream4(sizes, seq=rng.getrandbits(32), ident=rng.getrandbits(16))
        out = unwrap(coalesce(packets, partial=partial))
        again: list[bytes] = []
        for header, packet in out:
            if header.gso_type == GSO_NONE:
                again.append(packet)
                continue
            assert l4_ok(kernel_view(header, packet), 20)
            again.extend(kernel_split(header, packet))
        assert len(again) == len(packets)
        for a, b in zip(again, packets, strict=True):
            assert a == b or checksum_zero_variant(a, b)


@given(st.lists(st.binary(min_size=0, max_size=120), max_size=10))
@settings(max_examples=300, deadline=None)
def test_coalesce_never_raises_on_garbage(packets: list[bytes]) -> None:
    out = coalesce(packets)
    assert len(out) <= len(packets)


@given(st.lists(st.integers(0, 60), min_size=1, max_size=8), st.binary(min_size=8, max_size=8))
@settings(max_examples=200, deadline=None)
def test_coalesce_never_raises_on_mangled_tcp(cuts: list[int], junk: bytes) -> None:
    packets = stream4([100] * len(cuts))
    mangled = [p[:c] + junk + p[c + 8 :] for p, c in zip(packets, cuts, strict=True)]
    out = coalesce(mangled)
    total = sum(len(b) - VNET_HDR_LEN for b in out)
    assert total <= sum(len(p) for p in mangled)
