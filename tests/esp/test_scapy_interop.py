"""Cross-check with an independent ESP implementation: scapy's ``SecurityAssociation``.

scapy (``scapy.layers.ipsec``) decrypts what our engine encrypts and our engine
decrypts what scapy encrypts, tunnel mode, for every suite both implement:
AES-GCM-16 (128/256), ChaCha20-Poly1305, AES-CBC with HMAC-SHA2-256-128,
HMAC-SHA2-512-256 and HMAC-SHA1-96, AES-CTR with HMAC-SHA2-256-128; with and
without ESN (scapy sends a fixed high half ``esn``; the engine is moved into
that sub-space through its test hook).

Conventions checked: scapy takes the KEYMAT with the 4-byte salt (GCM,
ChaCha20-Poly1305) or nonce (CTR) at the end, as RFC 4106 §8.1 / RFC 3686 §5.1
say and as :class:`EspSaConfig` does; it draws random IVs, ours are sequence
numbers (GCM/CTR/ChaCha20) or E_K(nonce) (CBC) - both legal, the receiver
reads the IV from the packet.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.esp import DropReason
from tests.esp.helpers import (
    CLIENT_VIP,
    CLIENT_VIP6,
    SPI_CLIENT,
    SPI_GATEWAY,
    engine_pair,
    ipv4,
    ipv6,
    sa_pair,
)

ipsec = pytest.importorskip("scapy.layers.ipsec")
inet = pytest.importorskip("scapy.layers.inet")
inet6 = pytest.importorskip("scapy.layers.inet6")
packet_mod = pytest.importorskip("scapy.packet")

CLIENT_ADDR, GATEWAY_ADDR = "198.51.100.2", "203.0.113.1"

SCAPY_SUITES = [
    ("aes128gcm16", EncrId.AES_GCM_16, 128, None, "AES-GCM", None),
    ("aes256gcm16", EncrId.AES_GCM_16, 256, None, "AES-GCM", None),
    ("chacha20poly1305", EncrId.CHACHA20_POLY1305, None, None, "CHACHA20-POLY1305", None),
    ("aes128-sha256", EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, "AES-CBC", "SHA2-256-128"),
    ("aes256-sha512", EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_512_256, "AES-CBC", "SHA2-512-256"),
    ("aes256-sha1", EncrId.AES_CBC, 256, IntegId.HMAC_SHA1_96, "AES-CBC", "HMAC-SHA1-96"),
    ("aes128ctr-sha256", EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128, "AES-CTR", "SHA2-256-128"),
]


def scapy_gateway_sa(
    encr: int, bits: int | None, integ: int | None, crypt: str, auth: str | None, esn: bool, hi: int
) -> tuple[Any, Any]:
    """scapy SAs playing the gateway: (one sending to us, one receiving from us)."""
    client_sa, _ = sa_pair(encr, bits, integ, esn=esn)
    common = {"crypt_algo": crypt, "esn_en": esn, "esn": hi}
    to_client = ipsec.SecurityAssociation(
        ipsec.ESP,
        spi=SPI_CLIENT,
        crypt_key=client_sa.encr_key_in,
        auth_algo=auth,
        auth_key=client_sa.integ_key_in or None,
        tunnel_header=inet.IP(src=GATEWAY_ADDR, dst=CLIENT_ADDR),
        **common,
    )
    from_client = ipsec.SecurityAssociation(
        ipsec.ESP,
        spi=SPI_GATEWAY,
        crypt_key=client_sa.encr_key_out,
        auth_algo=auth,
        auth_key=client_sa.integ_key_out or None,
        tunnel_header=inet.IP(src=CLIENT_ADDR, dst=GATEWAY_ADDR),
        **common,
    )
    return to_client, from_client


def inner_packets() -> list[bytes]:
    out = [ipv4(CLIENT_VIP, "192.0.2.1", os.urandom(n)) for n in (0, 1, 2, 3, 17, 100, 1379)]
    out += [ipv6(CLIENT_VIP6, "2001:db8::1", os.urandom(n)) for n in (0, 5, 1200)]
    return out


def replies() -> list[bytes]:
    out = [ipv4("192.0.2.1", CLIENT_VIP, os.urandom(n)) for n in (0, 1, 2, 3, 17, 100, 1379)]
    out += [ipv6("2001:db8::1", CLIENT_VIP6, os.urandom(n)) for n in (0, 5, 1200)]
    return out


def parse_inner(raw: bytes) -> Any:
    return inet.IP(raw) if raw[0] >> 4 == 4 else inet6.IPv6(raw)


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize(
    ("name", "encr", "bits", "integ", "crypt", "auth"),
    SCAPY_SUITES,
    ids=[s[0] for s in SCAPY_SUITES],
)
def test_scapy_decrypts_what_we_encrypt(
    name: str,
    encr: int,
    bits: int | None,
    integ: int | None,
    crypt: str,
    auth: str | None,
    esn: bool,
) -> None:
    hi = 1 if esn else 0
    client, _ = engine_pair(encr, bits, integ, esn=esn)
    if esn:  # start just below 2^32 + 1: the high half scapy is told is 1
        client.set_sequence_for_testing(SPI_CLIENT, outbound=1 << 32)
    _, from_client = scapy_gateway_sa(encr, bits, integ, crypt, auth, esn, hi)
    for inner in inner_packets():
        esp = client.encapsulate(inner, 0.0)
        assert esp is not None
        outer = inet.IP(
            bytes(inet.IP(src=CLIENT_ADDR, dst=GATEWAY_ADDR, proto=50) / packet_mod.Raw(esp))
        )
        decrypted = from_client.decrypt(outer)  # raises on a bad ICV or padding
        assert bytes(decrypted) == inner


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize(
    ("name", "encr", "bits", "integ", "crypt", "auth"),
    SCAPY_SUITES,
    ids=[s[0] for s in SCAPY_SUITES],
)
def test_we_decrypt_what_scapy_encrypts(
    name: str,
    encr: int,
    bits: int | None,
    integ: int | None,
    crypt: str,
    auth: str | None,
    esn: bool,
) -> None:
    hi = 1 if esn else 0
    client, _ = engine_pair(encr, bits, integ, esn=esn)
    if esn:
        client.set_sequence_for_testing(SPI_CLIENT, inbound_top=1 << 32)
    to_client, _ = scapy_gateway_sa(encr, bits, integ, crypt, auth, esn, hi)
    to_client.seq_num = 1
    for inner in replies():
        encrypted = to_client.encrypt(parse_inner(inner))
        esp = bytes(encrypted[ipsec.ESP])
        assert client.decapsulate(esp, 0.0) == inner, client.drops
    # And scapy's packets are protected: one flipped ICV bit is refused.
    encrypted = to_client.encrypt(parse_inner(replies()[0]))
    tampered = bytearray(bytes(encrypted[ipsec.ESP]))
    tampered[-1] ^= 1
    assert client.decapsulate(bytes(tampered), 0.0) is None
    assert client.drops[DropReason.ICV] == 1
