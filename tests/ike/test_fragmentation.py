"""RFC 7383 send side (ikeclient.ike.v2.fragmentation): sizes, headers, reassembly round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.crypto.encr import make_sk_cipher
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import LocalProtocolError
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, PayloadType
from ikeclient.ike.v2.fragmentation import fragment_message, ike_message_limit
from ikeclient.ike.v2.fragments import FragmentReassembler
from ikeclient.ike.v2.message import pull_message
from ikeclient.ike.v2.payloads import (
    CertPayload,
    IdiPayload,
    SkfPayload,
    SkPayload,
    pull_payload_chain,
)
from ikeclient.ike.v2.protection import decrypt_fragment

CIPHERS = {
    "aes-gcm": (EncrId.AES_GCM_16, 256, bytes(36), None, b""),
    "aes-cbc-sha256": (EncrId.AES_CBC, 128, bytes(16), IntegId.HMAC_SHA2_256_128, bytes(32)),
    "chacha": (EncrId.CHACHA20_POLY1305, None, bytes(36), None, b""),
}
SPI_I, SPI_R = bytes(range(1, 9)), bytes(range(9, 17))


def make(kind: str):  # type: ignore[no-untyped-def]
    encr, bits, key, integ, ikey = CIPHERS[kind]
    return make_sk_cipher(encr, bits, key, integ, ikey or None)


def test_limit() -> None:
    assert ike_message_limit(1280, ipv6=False, non_esp_marker=True) == 1280 - 20 - 8 - 4
    assert ike_message_limit(1280, ipv6=True, non_esp_marker=False) == 1280 - 40 - 8


@pytest.mark.parametrize("kind", sorted(CIPHERS))
@pytest.mark.parametrize("size", [10, 1000, 3000, 9000])
def test_fragments_fit_and_reassemble(kind: str, size: int) -> None:
    cipher = make(kind)
    payloads = [
        IdiPayload(3, b"client@ike.lab"),
        CertPayload(4, bytes(range(256)) * (size // 256 + 1)),
    ]
    wires = fragment_message(
        spi_i=SPI_I,
        spi_r=SPI_R,
        exchange_type=ExchangeType.IKE_AUTH,
        flags=HeaderFlag.INITIATOR,
        message_id=1,
        payloads=payloads,
        cipher=cipher,
        rng=DeterministicRandomSource(b"f"),
        max_size=600,
    )
    if size <= 10:
        assert len(wires) == 1 and isinstance(pull_message(wires[0]).payloads[-1], SkPayload)
    r = FragmentReassembler()
    result = None
    for i, wire in enumerate(wires, start=1):
        assert len(wire) <= 600
        message = pull_message(wire)
        if len(wires) == 1:
            return
        skf = message.payloads[-1]
        assert isinstance(skf, SkfPayload)
        assert (skf.fragment_number, skf.total_fragments) == (i, len(wires))
        assert skf.first_inner == (PayloadType.IDI if i == 1 else 0)  # RFC 7383 §2.5
        body, aad = decrypt_fragment(wire, message)
        result = r.add(
            1,
            False,
            skf.fragment_number,
            skf.total_fragments,
            skf.first_inner,
            cipher.open(aad, body.body),
        )
    assert result is not None
    assert pull_payload_chain(result[1], result[0]) == tuple(payloads)


def test_too_small_or_too_many() -> None:
    cipher = make("aes-gcm")
    big = [CertPayload(4, bytes(60_000)) for _ in range(3)]
    common = dict(
        spi_i=SPI_I,
        spi_r=SPI_R,
        exchange_type=ExchangeType.IKE_AUTH,
        flags=HeaderFlag.INITIATOR,
        message_id=1,
        cipher=cipher,
        rng=DeterministicRandomSource(b"f"),
    )
    with pytest.raises(LocalProtocolError, match="no room"):
        fragment_message(payloads=big, max_size=80, **common)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="fragments"):
        fragment_message(payloads=big, max_size=1200, **common)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.integers(200, 1500), st.binary(max_size=5000))
def test_any_size_round_trips(limit: int, data: bytes) -> None:
    cipher = make("aes-cbc-sha256")
    wires = fragment_message(
        spi_i=SPI_I,
        spi_r=SPI_R,
        exchange_type=ExchangeType.IKE_AUTH,
        flags=0,
        message_id=7,
        payloads=[CertPayload(4, data)],
        cipher=cipher,
        rng=DeterministicRandomSource(b"g"),
        max_size=limit,
    )
    assert all(len(w) <= limit for w in wires)
