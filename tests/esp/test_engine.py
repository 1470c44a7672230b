"""Two engines back to back: our outbound ↔ the gateway's inbound, an in-memory TUN both ways.

Modelled on wireguard-go's TestTwoDevicePing: every packet a "TUN" on one side
hands to its engine must come out of the other side's engine unchanged, and
every damaged, replayed or misrouted packet must be dropped and counted under
the right reason.
"""

from __future__ import annotations

import os

import pytest

from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import CryptoError, UnsupportedAlgorithm
from ikeclient.esp import (
    DropReason,
    EspEngine,
    EspSaConfig,
    SaStats,
    Selector,
    SequenceExhausted,
)
from ikeclient.esp.cipher import EspCipher, make_cipher
from tests.esp.helpers import (
    CLIENT_VIP,
    CLIENT_VIP6,
    SPI_CLIENT,
    SPI_GATEWAY,
    SUITE_IDS,
    SUITES,
    engine_pair,
    ipv4,
    ipv6,
    sa_pair,
    udp,
)

GCM = (EncrId.AES_GCM_16, 128, None)
CBC = (EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128)


def only_drop(engine: EspEngine, reason: DropReason, count: int = 1) -> None:
    """Exactly ``count`` drops so far, all for ``reason``."""
    assert {r: n for r, n in engine.drops.items() if n} == {reason: count}


def sealer_for(config: EspSaConfig) -> EspCipher:
    """A cipher sealing packets *to* the SA ``config`` with its right keys (as the peer would)."""
    return make_cipher(
        config.spi_in,
        config.esn,
        config.encr_id,
        config.encr_key_bits,
        config.encr_key_in,
        config.integ_id,
        config.integ_key_in,
        decrypt=False,
        rng=DeterministicRandomSource(b"craft"),
    )


def opener_for(config: EspSaConfig) -> EspCipher:
    """A cipher opening what the SA ``config`` sends (as the peer would)."""
    return make_cipher(
        config.spi_out,
        config.esn,
        config.encr_id,
        config.encr_key_bits,
        config.encr_key_out,
        config.integ_id,
        config.integ_key_out,
        decrypt=True,
        rng=DeterministicRandomSource(b"craft"),
    )


def craft(config: EspSaConfig, seq: int, payload: bytes) -> bytes:
    """An ESP packet to ``config``'s inbound SPI with an arbitrary (possibly bad) payload."""
    return sealer_for(config).seal(seq, payload)


def trailer(length: int, next_header: int, align: int) -> bytes:
    pad = -(length + 2) % align
    return bytes(range(1, pad + 1)) + bytes((pad, next_header))


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize(("name", "encr", "bits", "integ"), SUITES, ids=SUITE_IDS)
def test_two_engines_ping_both_ways(
    name: str, encr: int, bits: int | None, integ: int | None, esn: bool
) -> None:
    client, gateway = engine_pair(encr, bits, integ, esn=esn)
    tun_client = [ipv4(CLIENT_VIP, "192.0.2.1", os.urandom(n)) for n in range(0, 1400, 97)]
    tun_client += [ipv6(CLIENT_VIP6, "2001:db8::1", os.urandom(n)) for n in range(0, 1400, 131)]
    wire = client.encapsulate_batch(tun_client, 1.0)
    assert len(wire) == len(tun_client)
    assert [gateway.decapsulate(esp, 2.0) for esp in wire] == tun_client
    replies = [ipv4("192.0.2.1", CLIENT_VIP, os.urandom(n)) for n in range(1, 1400, 211)]
    replies += [ipv6("2001:db8::1", CLIENT_VIP6, os.urandom(n)) for n in (0, 1, 2, 3, 1300)]
    assert [
        client.decapsulate(esp, 3.0) for esp in gateway.encapsulate_batch(replies, 2.5)
    ] == replies
    assert sum(client.drops.values()) == sum(gateway.drops.values()) == 0
    assert client.stats(SPI_CLIENT) == SaStats(
        packets_in=len(replies),
        bytes_in=sum(map(len, replies)),
        packets_out=len(tun_client),
        bytes_out=sum(map(len, tun_client)),
        last_in=3.0,
        last_out=1.0,
    )


@pytest.mark.parametrize(("name", "encr", "bits", "integ"), SUITES, ids=SUITE_IDS)
def test_wire_format(name: str, encr: int, bits: int | None, integ: int | None) -> None:
    client_sa, _ = sa_pair(encr, bits, integ)
    client = EspEngine(DeterministicRandomSource(b"c"))
    client.install_sa(client_sa)
    opener = opener_for(client_sa)
    overhead = EspEngine.overhead(client_sa)
    seen_overheads = set()
    for seq, n in enumerate(range(20, 200), start=1):
        inner = ipv4(CLIENT_VIP, "192.0.2.1", bytes(n - 20)) if n % 2 else None
        inner = inner or ipv6(CLIENT_VIP6, "2001:db8::1", bytes(max(0, n - 40)))
        esp = client.encapsulate(inner, 0.0)
        assert esp is not None
        assert int.from_bytes(esp[:4], "big") == SPI_GATEWAY
        assert int.from_bytes(esp[4:8], "big") == seq  # starts at 1, RFC 4303 §3.3.3
        payload = opener.open(esp, seq)
        assert payload is not None
        align = 16 if encr == EncrId.AES_CBC else 4
        assert len(payload) % align == 0  # RFC 4303 §2.4
        assert payload == inner + trailer(len(inner), 4 if inner[0] >> 4 == 4 else 41, align)
        seen_overheads.add(len(esp) - len(inner))
    assert max(seen_overheads) == overhead


def test_overhead_values() -> None:
    assert EspEngine.overhead(sa_pair(*GCM)[0]) == 8 + 8 + 3 + 2 + 16
    assert EspEngine.overhead(sa_pair(EncrId.CHACHA20_POLY1305, None, None)[0]) == 37
    assert EspEngine.overhead(sa_pair(*CBC)[0]) == 8 + 16 + 15 + 2 + 16
    sha1 = sa_pair(EncrId.AES_CBC, 256, IntegId.HMAC_SHA1_96)[0]
    assert EspEngine.overhead(sha1) == 8 + 16 + 15 + 2 + 12
    ctr = sa_pair(EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_512_256)[0]
    assert EspEngine.overhead(ctr) == 8 + 8 + 3 + 2 + 32


def test_cbc_ivs_are_distinct_and_depend_on_the_rng() -> None:
    client_sa, _ = sa_pair(*CBC)
    ivs = []
    for seed in (b"one", b"two"):
        engine = EspEngine(DeterministicRandomSource(seed))
        engine.install_sa(client_sa)
        packet = ipv4(CLIENT_VIP, "192.0.2.1", bytes(64))
        ivs.append([engine.encapsulate(packet, 0.0)[8:24] for _ in range(200)])  # type: ignore[index]
    assert len(set(ivs[0])) == len(set(ivs[1])) == 200
    assert not set(ivs[0]) & set(ivs[1])


# -- inbound drops ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "encr", "bits", "integ"), SUITES, ids=SUITE_IDS)
def test_replayed_packets_are_dropped(
    name: str, encr: int, bits: int | None, integ: int | None
) -> None:
    client, gateway = engine_pair(encr, bits, integ)
    esp = client.encapsulate_batch([ipv4(CLIENT_VIP, "192.0.2.1", b"%d" % i) for i in range(5)], 0)
    assert all(gateway.decapsulate(p, 0.0) is not None for p in esp[::-1])  # reordered: fine
    assert all(gateway.decapsulate(p, 0.0) is None for p in esp)
    only_drop(gateway, DropReason.REPLAY, 5)


@pytest.mark.parametrize(("name", "encr", "bits", "integ"), SUITES, ids=SUITE_IDS)
def test_every_byte_flipped_is_dropped(
    name: str, encr: int, bits: int | None, integ: int | None
) -> None:
    client, gateway = engine_pair(encr, bits, integ, esn=True)
    esp = client.encapsulate(ipv4(CLIENT_VIP, "192.0.2.1", bytes(range(40))), 0.0)
    assert esp is not None
    for i in range(len(esp)):
        for flip in (0x01, 0x80):
            tampered = bytearray(esp)
            tampered[i] ^= flip
            assert gateway.decapsulate(bytes(tampered), 0.0) is None
    drops = {r: n for r, n in gateway.drops.items() if n}
    # SPI flips miss the SA; seq 1 with its low bit flipped is 0, never valid; the rest: ICV.
    assert drops == {
        DropReason.UNKNOWN_SPI: 8,
        DropReason.REPLAY: 1,
        DropReason.ICV: 2 * (len(esp) - 4) - 1,
    }
    # Forgeries never moved the replay window: the genuine packet still gets through.
    assert gateway.decapsulate(esp, 0.0) is not None


@pytest.mark.parametrize(("name", "encr", "bits", "integ"), SUITES, ids=SUITE_IDS)
def test_truncated_packets_are_dropped(
    name: str, encr: int, bits: int | None, integ: int | None
) -> None:
    client, gateway = engine_pair(encr, bits, integ)
    esp = client.encapsulate(ipv4(CLIENT_VIP, "192.0.2.1", bytes(100)), 0.0)
    assert esp is not None
    for n in range(len(esp)):
        assert gateway.decapsulate(esp[:n], 0.0) is None
    drops = {r: n for r, n in gateway.drops.items() if n}
    assert set(drops) <= {DropReason.TOO_SHORT, DropReason.BAD_LENGTH, DropReason.ICV}
    assert drops[DropReason.TOO_SHORT] >= 8
    assert gateway.decapsulate(esp, 0.0) is not None


def test_unknown_spi() -> None:
    client, gateway = engine_pair(*GCM)
    esp = client.encapsulate(ipv4(CLIENT_VIP, "192.0.2.1"), 0.0)
    assert esp is not None
    assert gateway.decapsulate((SPI_GATEWAY + 1).to_bytes(4, "big") + esp[4:], 0.0) is None
    only_drop(gateway, DropReason.UNKNOWN_SPI)


@pytest.mark.parametrize("config", [GCM, CBC], ids=["gcm", "cbc"])
def test_crafted_payloads(config: tuple[int, int, int | None]) -> None:
    """Payloads sealed with the right keys but wrong inside: each drop reason in turn."""
    client_sa, _ = sa_pair(*config)
    align = 16 if config[0] == EncrId.AES_CBC else 4
    inner = ipv4("192.0.2.1", CLIENT_VIP, b"reply")
    seq = iter(range(1, 1000))

    def deliver(payload: bytes) -> bytes | None:
        engine = EspEngine(DeterministicRandomSource(b"c"))
        engine.install_sa(client_sa)
        result = engine.decapsulate(craft(client_sa, next(seq), payload), 0.0)
        deliver.drops = {r: n for r, n in engine.drops.items() if n}  # type: ignore[attr-defined]
        return result

    def dropped(payload: bytes, reason: DropReason) -> None:
        assert deliver(payload) is None
        assert deliver.drops == {reason: 1}  # type: ignore[attr-defined]

    assert deliver(inner + trailer(len(inner), 4, align)) == inner  # the control
    # Padding bytes must be 1, 2, 3, ... (RFC 4303 §2.4).
    good = inner + trailer(len(inner), 4, align)
    pad = good[-2]
    bad_padding = good[: -2 - pad] + bytes(pad)[:-1] + b"\x07" + good[-2:]
    dropped(bad_padding if pad else inner + b"\x05\x01" + bytes((1, 4)), DropReason.PADDING)
    # Pad Length beyond the payload.
    dropped(bytes(range(1, align - 1)) + bytes((200, 4)), DropReason.PADDING)
    # Next Header neither 4 nor 41 (6 = TCP would be transport mode).
    dropped(inner + trailer(len(inner), 6, align), DropReason.NEXT_HEADER)
    # Dummy packet (RFC 4303 §2.6): Next Header 59.
    dropped(b"\x00" * 8 + trailer(8, 59, align), DropReason.DUMMY)
    # Next Header says IPv4, the inner packet is IPv6 (and vice versa).
    v6 = ipv6("2001:db8::1", CLIENT_VIP6)
    dropped(v6 + trailer(len(v6), 4, align), DropReason.MALFORMED_INNER)
    dropped(inner + trailer(len(inner), 41, align), DropReason.MALFORMED_INNER)
    # Total length larger than what arrived; header shorter than 20 bytes.
    long_claim = inner[:2] + (len(inner) + 1).to_bytes(2, "big") + inner[4:]
    dropped(long_claim + trailer(len(long_claim), 4, align), DropReason.MALFORMED_INNER)
    dropped(inner[:12] + trailer(12, 4, align), DropReason.MALFORMED_INNER)
    bad_ihl = bytes((0x44,)) + inner[1:]
    dropped(bad_ihl + trailer(len(bad_ihl), 4, align), DropReason.MALFORMED_INNER)
    # TFC padding after the inner packet (RFC 4303 §2.7) is stripped.
    tfc = inner + bytes(37)
    assert deliver(tfc + trailer(len(tfc), 4, align)) == inner
    v6_tfc = ipv6("2001:db8::1", CLIENT_VIP6, b"x") + bytes(9)
    assert deliver(v6_tfc + trailer(len(v6_tfc), 41, align)) == v6_tfc[:-9]
    # Inner addresses outside the selectors (RFC 4301 §5.2).
    spoofed = ipv4("192.0.2.1", "10.99.0.3")
    dropped(spoofed + trailer(len(spoofed), 4, align), DropReason.SELECTOR)


def test_inner_source_outside_remote_selectors() -> None:
    remote = (Selector.from_network("192.0.2.0/24"),)
    client, gateway = engine_pair(*GCM, remote_ts=remote)
    assert (
        client.decapsulate(gateway.encapsulate(ipv4("192.0.2.9", CLIENT_VIP), 0.0) or b"", 0)
        is not None
    )
    # The gateway's engine would not send it; craft it with the right keys.
    client_sa, _ = sa_pair(*GCM, remote_ts=remote)
    outside = ipv4("198.51.100.1", CLIENT_VIP)
    assert client.decapsulate(craft(client_sa, 2, outside + trailer(len(outside), 4, 4)), 0) is None
    only_drop(client, DropReason.SELECTOR)


# -- outbound --------------------------------------------------------------------------------


def test_no_sa_and_malformed_outbound() -> None:
    client, _ = engine_pair(*GCM, remote_ts=(Selector.from_network("192.0.2.0/24"),))
    assert client.encapsulate(ipv4(CLIENT_VIP, "198.51.100.1"), 0.0) is None  # dst outside
    assert client.encapsulate(ipv4("10.99.0.77", "192.0.2.1"), 0.0) is None  # src not ours
    assert client.encapsulate(ipv6(CLIENT_VIP6, "2001:db8::1"), 0.0) is None  # no v6 remote
    only_drop(client, DropReason.NO_SA, 3)
    for junk in (b"", b"\x45" * 19, b"\x55" + bytes(40), b"\x60" + bytes(30)):
        assert client.encapsulate(junk, 0.0) is None
    assert client.drops[DropReason.MALFORMED_INNER] == 4
    assert client.encapsulate_batch([b"", ipv4(CLIENT_VIP, "192.0.2.1")], 0.0) != []
    assert len(client.encapsulate_batch([b"", ipv4(CLIENT_VIP, "192.0.2.1")], 0.0)) == 1


def test_port_and_protocol_selectors() -> None:
    https = Selector.from_network("192.0.2.0/24", ip_protocol=6, start_port=443, end_port=443)
    echo = Selector.from_network("192.0.2.0/24", ip_protocol=1, start_port=0x0800, end_port=0x08FF)
    client, gateway = engine_pair(*GCM, remote_ts=(https, echo))
    tcp443 = ipv4(CLIENT_VIP, "192.0.2.1", udp(40000, 443), protocol=6)
    assert gateway.decapsulate(client.encapsulate(tcp443, 0.0) or b"", 0.0) == tcp443
    assert (
        client.encapsulate(ipv4(CLIENT_VIP, "192.0.2.1", udp(40000, 80), protocol=6), 0.0) is None
    )
    assert client.encapsulate(ipv4(CLIENT_VIP, "192.0.2.1", udp(40000, 443)), 0.0) is None  # UDP
    ping = ipv4(CLIENT_VIP, "192.0.2.1", b"\x08\x00\x00\x00", protocol=1)  # echo request
    assert client.encapsulate(ping, 0.0) is not None
    unreachable = ipv4(CLIENT_VIP, "192.0.2.1", b"\x03\x01\x00\x00", protocol=1)
    assert client.encapsulate(unreachable, 0.0) is None
    # A non-initial fragment has no ports: only full-port-range selectors match it.
    fragment = bytearray(tcp443)
    fragment[6:8] = (0x0010).to_bytes(2, "big")
    assert client.encapsulate(bytes(fragment), 0.0) is None
    # Inbound: the gateway's reply from port 443 passes, from port 80 does not.
    reply = ipv4("192.0.2.1", CLIENT_VIP, udp(443, 40000), protocol=6)
    assert client.decapsulate(gateway.encapsulate(reply, 0.0) or b"", 0.0) == reply
    client_sa, _ = sa_pair(*GCM, remote_ts=(https, echo))
    other = ipv4("192.0.2.1", CLIENT_VIP, udp(80, 40000), protocol=6)
    assert client.decapsulate(craft(client_sa, 50, other + trailer(len(other), 4, 4)), 0.0) is None
    assert client.drops[DropReason.SELECTOR] == 1
    assert client.drops[DropReason.NO_SA] == 4


def test_ipv6_extension_headers_are_walked_for_ports() -> None:
    https6 = Selector.from_network("2001:db8::/32", ip_protocol=6, start_port=443, end_port=443)
    client, _ = engine_pair(*GCM, remote_ts=(https6,))
    hop_by_hop = bytes((6, 0)) + bytes(6)  # next header TCP, length 8 bytes
    packet = ipv6(CLIENT_VIP6, "2001:db8::1", hop_by_hop + udp(1234, 443), next_header=0)
    assert client.encapsulate(packet, 0.0) is not None
    first_fragment = bytes((6, 0, 0, 1)) + bytes(4)  # offset 0, M=1
    packet = ipv6(CLIENT_VIP6, "2001:db8::1", first_fragment + udp(1234, 443), next_header=44)
    assert client.encapsulate(packet, 0.0) is not None
    later_fragment = bytes((6, 0, 0, 0x19)) + bytes(4)  # offset 3
    packet = ipv6(CLIENT_VIP6, "2001:db8::1", later_fragment + udp(1234, 443), next_header=44)
    assert client.encapsulate(packet, 0.0) is None
    assert client.encapsulate(ipv6(CLIENT_VIP6, "2001:db8::1", b"\x00", next_header=0), 0) is None


def test_rekey_make_before_break() -> None:
    old_client, old_gateway = sa_pair(*GCM, seed=b"old")
    new_client, new_gateway = sa_pair(
        *GCM, seed=b"new", spi_client=0xD0000001, spi_gateway=0xD0000002
    )
    client = EspEngine(DeterministicRandomSource(b"c"))
    gateway = EspEngine(DeterministicRandomSource(b"g"))
    client.install_sa(old_client)
    gateway.install_sa(old_gateway)
    packet = ipv4(CLIENT_VIP, "192.0.2.1")
    in_flight = gateway.encapsulate(ipv4("192.0.2.1", CLIENT_VIP), 0.0)
    assert (client.encapsulate(packet, 0.0) or b"")[:4] == SPI_GATEWAY.to_bytes(4, "big")
    # Rekey: both install the new SA; outbound switches to it at once.
    gateway.install_sa(new_gateway)
    client.install_sa(new_client)
    esp = client.encapsulate(packet, 1.0)
    assert esp is not None and esp[:4] == (0xD0000002).to_bytes(4, "big")
    assert gateway.decapsulate(esp, 1.0) == packet
    # The old inbound SA still takes what was in flight, until removed.
    assert client.decapsulate(in_flight or b"", 1.0) is not None
    client.remove_sa(SPI_CLIENT)
    client.remove_sa(SPI_CLIENT)  # idempotent
    assert client.decapsulate(gateway.encapsulate(packet, 0.0) or b"", 1.0) is None
    with pytest.raises(KeyError):
        client.stats(SPI_CLIENT)
    assert client.stats(0xD0000001).packets_out == 1


# -- sequence numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("config", [GCM, CBC], ids=["gcm", "cbc"])
def test_esn_crosses_2_32(config: tuple[int, int, int | None]) -> None:
    client, gateway = engine_pair(*config, esn=True)
    start = (1 << 32) - 4
    client.set_sequence_for_testing(SPI_CLIENT, outbound=start)
    gateway.set_sequence_for_testing(SPI_GATEWAY, inbound_top=start)
    packets = [ipv4(CLIENT_VIP, "192.0.2.1", b"%d" % i) for i in range(10)]
    wire = client.encapsulate_batch(packets, 0.0)
    lows = [int.from_bytes(esp[4:8], "big") for esp in wire]
    assert lows == [0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 0, 1, 2, 3, 4, 5, 6]
    # Delivered out of order across the boundary, within the window: all accepted.
    order = [4, 3, 0, 6, 1, 2, 9, 5, 8, 7]
    assert [gateway.decapsulate(wire[i], 0.0) for i in order] == [packets[i] for i in order]
    assert all(gateway.decapsulate(esp, 0.0) is None for esp in wire)
    only_drop(gateway, DropReason.REPLAY, 10)


def test_without_esn_a_peer_sequence_low_half_cannot_cross() -> None:
    """A 32-bit SA never accepts sequence number 0, the only thing after 2^32 - 1."""
    client, _ = engine_pair(*GCM)
    client_sa, _ = sa_pair(*GCM)
    inner = ipv4("192.0.2.1", CLIENT_VIP)
    payload = inner + trailer(len(inner), 4, 4)
    assert client.decapsulate(craft(client_sa, (1 << 32) - 1, payload), 0.0) == inner
    assert client.decapsulate(craft(client_sa, 0, payload), 0.0) is None
    only_drop(client, DropReason.REPLAY)


@pytest.mark.parametrize(("esn", "last"), [(False, (1 << 32) - 1), (True, (1 << 64) - 1)])
def test_sequence_exhaustion_drops_and_asks_once_for_a_rekey(esn: bool, last: int) -> None:
    client, gateway = engine_pair(*GCM, esn=esn)
    client.set_sequence_for_testing(SPI_CLIENT, outbound=last - 2)
    gateway.set_sequence_for_testing(SPI_GATEWAY, inbound_top=last - 2)
    packet = ipv4(CLIENT_VIP, "192.0.2.1")
    sent = [client.encapsulate(packet, 0.0) for _ in range(2)]
    assert all(esp is not None for esp in sent)
    assert int.from_bytes(sent[-1][4:8], "big") == 0xFFFFFFFF  # type: ignore[index]
    assert client.next_event() is None
    for _ in range(5):  # never wraps
        assert client.encapsulate(packet, 0.0) is None
    only_drop(client, DropReason.SEQ_EXHAUSTED, 5)
    assert client.next_event() == SequenceExhausted(spi_in=SPI_CLIENT, spi_out=SPI_GATEWAY)
    assert client.next_event() is None  # one event only
    assert [gateway.decapsulate(esp or b"", 0.0) for esp in sent] == [packet, packet]
    # Inbound traffic on the exhausted SA still flows until the rekey.
    assert client.decapsulate(gateway.encapsulate(ipv4("192.0.2.1", CLIENT_VIP), 0) or b"", 0)


# -- configuration ---------------------------------------------------------------------------


def test_install_errors() -> None:
    engine = EspEngine(DeterministicRandomSource(b"e"))
    client_sa, _ = sa_pair(*GCM)
    engine.install_sa(client_sa)
    with pytest.raises(ValueError, match="already installed"):
        engine.install_sa(client_sa)
    ein = client_sa.encr_key_in

    def config(**changes: object) -> EspSaConfig:
        fields = {f: getattr(client_sa, f) for f in EspSaConfig.__dataclass_fields__}
        fields["spi_in"] = 0x5000
        fields.update(changes)
        return EspSaConfig(**fields)

    with pytest.raises(CryptoError):
        engine.install_sa(config(encr_key_in=ein[:-1]))
    with pytest.raises(UnsupportedAlgorithm):
        engine.install_sa(config(integ_id=IntegId.HMAC_SHA2_256_128, integ_key_in=bytes(32)))
    cbc_sa, _ = sa_pair(*CBC)
    with pytest.raises(UnsupportedAlgorithm):
        engine.install_sa(config(encr_id=EncrId.AES_CBC, encr_key_in=cbc_sa.encr_key_in))
    with pytest.raises(UnsupportedAlgorithm):
        engine.install_sa(config(encr_id=EncrId.DES3, encr_key_bits=None))
    with pytest.raises(UnsupportedAlgorithm):
        engine.install_sa(config(encr_key_bits=100))
    with pytest.raises(ValueError):
        config(spi_in=255)
    with pytest.raises(ValueError):
        config(replay_window=16)
    with pytest.raises(ValueError):
        config(local_ts=())
    cbc_repr = repr(cbc_sa)
    assert ein.hex() not in repr(client_sa)  # keys never in a repr
    assert cbc_sa.encr_key_in.hex() not in cbc_repr and cbc_sa.integ_key_in.hex() not in cbc_repr


def test_selector_constructors() -> None:
    assert Selector.from_network("10.0.0.0/8") == Selector(4, 0x0A000000, 0x0AFFFFFF)
    assert Selector.from_range("192.0.2.1", "192.0.2.9").end == 0xC0000209
    assert Selector.any(6).end == (1 << 128) - 1
    assert not Selector.any(4).needs_flow
    assert Selector.from_network("::/0", ip_protocol=17).needs_flow
    with pytest.raises(ValueError):
        Selector(5, 0, 0)
    with pytest.raises(ValueError):
        Selector(4, 10, 9)
    with pytest.raises(ValueError):
        Selector(4, 0, 1, start_port=10, end_port=9)
    with pytest.raises(ValueError):
        Selector.from_range("10.0.0.1", "::1")
    sel = Selector.from_network("192.0.2.0/24", ip_protocol=6, start_port=80, end_port=90)
    assert sel.matches(4, 0xC0000201, 6, 85)
    assert not sel.matches(4, 0xC0000201, 17, 85)
    assert not sel.matches(6, 0xC0000201, 6, 85)
    assert not sel.matches(4, 0xC0000201, 6, -1)
