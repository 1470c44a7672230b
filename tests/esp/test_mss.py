"""TCP MSS clamping (RFC 9293 §3.7.1) with the RFC 1624 incremental checksum update."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.esp.mss import clamp_mss
from tests.esp.helpers import ipv4, ipv6


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tcp_segment(options: bytes, flags: int = 0x02, payload: bytes = b"") -> bytes:
    doff = (20 + len(options)) // 4
    return (
        struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, doff << 4, flags, 65535, 0, 0)
        + options
        + payload
    )


def pseudo_header(packet: bytes, tcp_len: int) -> bytes:
    if packet[0] >> 4 == 4:
        return packet[12:20] + struct.pack("!BBH", 0, 6, tcp_len)
    return packet[8:40] + struct.pack("!IxxxB", tcp_len, 6)


def with_checksum(packet: bytes, offset: int) -> bytes:
    tcp = packet[offset:]
    checksum = ~ones_complement_sum(pseudo_header(packet, len(tcp)) + tcp) & 0xFFFF
    return packet[: offset + 16] + struct.pack("!H", checksum) + packet[offset + 18 :]


def checksum_ok(packet: bytes, offset: int) -> bool:
    tcp = packet[offset:]
    return ones_complement_sum(pseudo_header(packet, len(tcp)) + tcp) == 0xFFFF


def syn4(options: bytes, flags: int = 0x02, payload: bytes = b"") -> bytes:
    return with_checksum(ipv4("10.0.0.2", "192.0.2.1", tcp_segment(options, flags, payload), 6), 20)


def syn6(options: bytes, flags: int = 0x02) -> bytes:
    return with_checksum(ipv6("fd00::2", "2001:db8::1", tcp_segment(options, flags), 6), 40)


MSS_1460 = b"\x02\x04\x05\xb4"


def mss_of(packet: bytes, offset: int) -> int | None:
    i, end = offset + 20, offset + (packet[offset + 12] >> 4) * 4
    while i < end:
        if packet[i] == 1:
            i += 1
            continue
        if packet[i] == 2:
            return int(struct.unpack_from("!H", packet, i + 2)[0])
        i += packet[i + 1]
    return None


@pytest.mark.parametrize("flags", [0x02, 0x12], ids=["syn", "syn-ack"])
def test_ipv4_syn_is_clamped_with_a_valid_checksum(flags: int) -> None:
    packet = syn4(MSS_1460 + b"\x01\x03\x03\x07", flags)  # MSS, NOP, window scale
    assert checksum_ok(packet, 20)
    clamped = clamp_mss(packet, 1360)
    assert mss_of(clamped, 20) == 1360 and checksum_ok(clamped, 20)
    assert len(clamped) == len(packet) and clamped[:20] == packet[:20]


def test_ipv6_syn_is_clamped_with_a_valid_checksum() -> None:
    packet = syn6(b"\x01\x01" + b"\x04\x02" + MSS_1460 + b"\x01\x01\x01\x01")
    assert mss_of(packet, 40) == 1460
    clamped = clamp_mss(packet, 1220)
    assert mss_of(clamped, 40) == 1220 and checksum_ok(clamped, 40)


@pytest.mark.parametrize("nops", [1, 3])
def test_mss_at_an_odd_offset(nops: int) -> None:
    options = b"\x01" * nops + MSS_1460
    options += b"\x00" * (-len(options) % 4)
    for payload in (b"", b"x", b"xy"):
        packet = syn4(options, payload=payload)
        clamped = clamp_mss(packet, 1000)
        assert mss_of(clamped, 20) == 1000 and checksum_ok(clamped, 20)


def test_left_alone() -> None:
    small = syn4(b"\x02\x04\x02\x00")  # MSS 512
    assert clamp_mss(small, 1360) is small
    ack = syn4(MSS_1460, flags=0x10)
    assert clamp_mss(ack, 1360) is ack
    no_mss = syn4(b"\x01\x01\x01\x00")
    assert clamp_mss(no_mss, 1360) is no_mss
    udp = ipv4("10.0.0.2", "192.0.2.1", tcp_segment(MSS_1460), 17)
    assert clamp_mss(udp, 1360) is udp
    fragment = bytearray(syn4(MSS_1460))
    fragment[6] = 0x20  # More Fragments
    assert clamp_mss(bytes(fragment), 1360) == bytes(fragment)
    assert clamp_mss(syn4(MSS_1460), 0) == syn4(MSS_1460)
    assert clamp_mss(syn4(MSS_1460), 70000) == syn4(MSS_1460)
    bad_option = syn4(b"\x02\x00\x05\xb4")  # option length 0
    assert clamp_mss(bad_option, 1360) is bad_option
    assert clamp_mss(b"", 1360) == b""


def test_ipv6_extension_header_before_tcp() -> None:
    segment = tcp_segment(MSS_1460)
    hop_by_hop = bytes((6, 0)) + bytes(6)
    packet = ipv6("fd00::2", "2001:db8::1", hop_by_hop + segment, 0)
    packet = with_checksum(packet, 48)
    clamped = clamp_mss(packet, 1300)
    assert mss_of(clamped, 48) == 1300 and checksum_ok(clamped, 48)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=-5, max_value=70000))
def test_never_raises(data: bytes, mss: int) -> None:
    assert isinstance(clamp_mss(data, mss), bytes)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=80), st.integers(min_value=0, max_value=59))
def test_never_raises_on_damaged_syns(noise: bytes, at: int) -> None:
    packet = bytearray(syn4(b"\x01" + MSS_1460 + b"\x01\x01\x00"))
    packet[at : at + len(noise)] = noise
    assert isinstance(clamp_mss(bytes(packet), 1200), bytes)
