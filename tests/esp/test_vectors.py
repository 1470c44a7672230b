"""Published ESP packets, checked byte for byte.

* RFC 3602 §4 cases #5-#8: AES-CBC ESP packets without integrity. The engine
  refuses confidentiality-only SAs, so these check the AES-CBC cipher layer
  (encryption with the given IV, decryption, padding) and, for the tunnel-mode
  cases, that the decrypted payload is an inner IPv4 packet + padding 1, 2, ...
  + Pad Length + Next Header 4.
* draft-mcgrew-gcm-test-01 §4: AES-GCM ESP packets (128/192/256-bit keys, with
  and without ESN). Checked at the cipher layer (seal with the published IV,
  open) and through the engine's inbound path: the draft's payloads carry Next
  Header 1, so the engine authenticates them (replay window and ESN inference
  included) and then drops them as NEXT_HEADER, as a tunnel-mode receiver must.
* RFC 7634 Appendix A: a complete tunnel-mode ChaCha20-Poly1305 ESP packet,
  decapsulated by the engine to the inner IPv4 packet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId
from ikeclient.esp import DropReason, EspEngine, EspSaConfig, Selector
from ikeclient.esp.cipher import make_cipher, make_unauthenticated_cbc_for_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    assert data["source"]
    return data


RFC3602 = load("esp_rfc3602_aes_cbc.json")
GCM = load("esp_gcm_draft_mcgrew.json")
RFC7634 = load("esp_rfc7634_chacha20poly1305.json")


def padded(payload: bytes, next_header: int, block: int) -> bytes:
    pad = -(len(payload) + 2) % block
    return payload + bytes(range(1, pad + 1)) + bytes((pad, next_header))


@pytest.mark.parametrize("case", RFC3602["cases"], ids=lambda c: c["name"])
def test_rfc3602_aes_cbc_packets(case: dict[str, Any]) -> None:
    key, iv, esp = bytes.fromhex(case["key"]), bytes.fromhex(case["iv"]), bytes.fromhex(case["esp"])
    plaintext = padded(bytes.fromhex(case["payload"]), case["next_header"], 16)
    sealer = make_unauthenticated_cbc_for_vectors(case["spi"], key, decrypt=False)
    assert sealer.seal(case["seq"], plaintext, iv=iv) == esp
    opener = make_unauthenticated_cbc_for_vectors(case["spi"], key, decrypt=True)
    assert opener.open(esp, case["seq"]) == plaintext
    if case["mode"] == "tunnel":
        inner = bytes.fromhex(case["payload"])
        assert inner[0] >> 4 == 4 and int.from_bytes(inner[2:4], "big") == len(inner)


def test_rfc3602_persistent_decryptor_is_stateless_across_packets() -> None:
    """The per-direction CBC decryptor is reused: packets decrypt in any order."""
    cases = [c for c in RFC3602["cases"] if c["key"] == RFC3602["cases"][2]["key"]]
    opener = make_unauthenticated_cbc_for_vectors(
        0x8765, bytes.fromhex(cases[0]["key"]), decrypt=True
    )
    for case in cases[::-1] + cases:
        expected = padded(bytes.fromhex(case["payload"]), case["next_header"], 16)
        assert opener.open(bytes.fromhex(case["esp"]), case["seq"]) == expected


def gcm_cipher(case: dict[str, Any], *, decrypt: bool) -> Any:
    return make_cipher(
        case["spi"],
        case["esn"],
        EncrId.AES_GCM_16,
        case["key_bits"],
        bytes.fromhex(case["keymat"]),
        None,
        b"",
        decrypt=decrypt,
        rng=DeterministicRandomSource(b"unused"),
    )


@pytest.mark.parametrize("case", GCM["cases"], ids=lambda c: c["name"])
def test_gcm_draft_packets_cipher_layer(case: dict[str, Any]) -> None:
    packet, plaintext = bytes.fromhex(case["packet"]), bytes.fromhex(case["plaintext"])
    assert gcm_cipher(case, decrypt=False).seal(case["seq"], plaintext, iv=packet[8:16]) == packet
    opener = gcm_cipher(case, decrypt=True)
    assert opener.open(packet, case["seq"]) == plaintext
    if case["esn"]:  # a wrong guess of the ESN's high half breaks the ICV (RFC 4303 §3.3.2.1)
        assert opener.open(packet, case["seq"] ^ (1 << 32)) is None
    tampered = bytearray(packet)
    tampered[-1] ^= 1
    assert opener.open(bytes(tampered), case["seq"]) is None


ENGINE_CASES = [c for c in GCM["cases"] if c["spi"] >= 256]


@pytest.mark.parametrize("case", ENGINE_CASES, ids=lambda c: c["name"])
def test_gcm_draft_packets_through_the_engine(case: dict[str, Any]) -> None:
    keymat = bytes.fromhex(case["keymat"])
    config = EspSaConfig(
        spi_in=case["spi"],
        spi_out=0x1000,
        encr_id=EncrId.AES_GCM_16,
        encr_key_bits=case["key_bits"],
        integ_id=None,
        esn=case["esn"],
        encr_key_in=keymat,
        integ_key_in=b"",
        encr_key_out=keymat,
        integ_key_out=b"",
        local_ts=(Selector.any(4),),
        remote_ts=(Selector.any(4),),
    )
    engine = EspEngine(DeterministicRandomSource(b"e"))
    engine.install_sa(config)
    if case["esn"]:
        # Put the window just below the packet so the receiver must infer the high
        # 32 bits (RFC 4303 Appendix A2.2) from the low half on the wire.
        engine.set_sequence_for_testing(case["spi"], inbound_top=case["seq"] - 1)
    packet = bytes.fromhex(case["packet"])
    assert engine.decapsulate(packet, 0.0) is None
    # Authenticated (the ICV is checked before the trailer), then refused: Next Header 1.
    assert engine.drops[DropReason.NEXT_HEADER] == 1
    assert engine.drops[DropReason.ICV] == 0
    # The window moved: the same packet again is a replay.
    assert engine.decapsulate(packet, 0.0) is None
    assert engine.drops[DropReason.REPLAY] == 1


def rfc7634_config() -> EspSaConfig:
    keymat = bytes.fromhex(RFC7634["keymat"])
    return EspSaConfig(
        spi_in=RFC7634["spi"],
        spi_out=0x1000,
        encr_id=EncrId.CHACHA20_POLY1305,
        encr_key_bits=None,
        integ_id=None,
        esn=False,
        encr_key_in=keymat,
        integ_key_in=b"",
        encr_key_out=keymat,
        integ_key_out=b"",
        local_ts=(Selector.from_network(RFC7634["inner_destination"]),),
        remote_ts=(Selector.from_network(RFC7634["inner_source"]),),
    )


def rfc7634_packet() -> bytes:
    header: bytes = RFC7634["spi"].to_bytes(4, "big") + RFC7634["seq"].to_bytes(4, "big")
    assert header.hex() == RFC7634["aad"]
    return header + bytes.fromhex(RFC7634["iv"] + RFC7634["ciphertext_icv"])


def test_rfc7634_cipher_layer() -> None:
    keymat = bytes.fromhex(RFC7634["keymat"])
    sealer = make_cipher(
        RFC7634["spi"],
        False,
        EncrId.CHACHA20_POLY1305,
        None,
        keymat,
        None,
        b"",
        decrypt=False,
        rng=DeterministicRandomSource(b"unused"),
    )
    plaintext = bytes.fromhex(RFC7634["plaintext"])
    packet = rfc7634_packet()
    assert sealer.seal(RFC7634["seq"], plaintext, iv=bytes.fromhex(RFC7634["iv"])) == packet


def test_rfc7634_packet_through_the_engine() -> None:
    engine = EspEngine(DeterministicRandomSource(b"e"))
    engine.install_sa(rfc7634_config())
    inner = engine.decapsulate(rfc7634_packet(), 5.0)
    plaintext = bytes.fromhex(RFC7634["plaintext"])
    assert inner == plaintext[:-4]  # padding 01 02, Pad Length 2, Next Header 4
    stats = engine.stats(RFC7634["spi"])
    assert (stats.packets_in, stats.bytes_in, stats.last_in) == (1, len(plaintext) - 4, 5.0)
    assert sum(engine.drops.values()) == 0


def test_rfc7634_engine_encapsulation_matches_the_published_packet_but_the_iv() -> None:
    """Our engine uses the sequence number as IV; with the RFC's IV the bytes would be equal."""
    engine = EspEngine(DeterministicRandomSource(b"e"))
    config = rfc7634_config()
    # Mirror the SA: the RFC packet travels from 198.51.100.5 to 192.0.2.5.
    mirrored = EspSaConfig(
        spi_in=0x1000,
        spi_out=RFC7634["spi"],
        encr_id=config.encr_id,
        encr_key_bits=None,
        integ_id=None,
        esn=False,
        encr_key_in=config.encr_key_in,
        integ_key_in=b"",
        encr_key_out=config.encr_key_out,
        integ_key_out=b"",
        local_ts=config.remote_ts,
        remote_ts=config.local_ts,
    )
    engine.install_sa(mirrored)
    engine.set_sequence_for_testing(0x1000, outbound=RFC7634["seq"] - 1)
    inner = bytes.fromhex(RFC7634["plaintext"])[:-4]
    esp = engine.encapsulate(inner, 0.0)
    assert esp is not None
    assert esp[:8] == rfc7634_packet()[:8]
    assert esp[8:16] == RFC7634["seq"].to_bytes(8, "big")
    receiver = EspEngine(DeterministicRandomSource(b"r"))
    receiver.install_sa(config)
    assert receiver.decapsulate(esp, 0.0) == inner
