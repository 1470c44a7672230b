"""PRF and prf+ known answers (RFC 4231, RFC 2202, RFC 4434, RFC 4615; RFC 7296 §2.13)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.prf import Prf, get_prf, prf_plus, supported_prfs
from ikeclient.crypto.transforms import PrfId
from ikeclient.errors import CryptoError, UnsupportedAlgorithm

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _hmac_cases() -> list[tuple[int, str, str, str]]:
    doc = _load("prf_hmac.json")
    return [
        (s["prf_id"], c["key"], c["data"], c["output"]) for s in doc["sets"] for c in s["cases"]
    ]


@pytest.mark.parametrize(("prf_id", "key", "data", "output"), _hmac_cases())
def test_hmac_prf_known_answers(prf_id: int, key: str, data: str, output: str) -> None:
    prf = get_prf(prf_id)
    assert prf.compute(bytes.fromhex(key), bytes.fromhex(data)) == bytes.fromhex(output)


def _aes_prf_cases(kind: str, prf_id: PrfId) -> list[tuple[PrfId, str, str, str]]:
    block = _load("aes_mac.json")[kind]
    return [(prf_id, c["key"], block["data"], c["output"]) for c in block["cases"]]


@pytest.mark.parametrize(
    ("prf_id", "key", "data", "output"),
    _aes_prf_cases("aes_xcbc_prf_128", PrfId.AES128_XCBC)
    + _aes_prf_cases("aes_cmac_prf_128", PrfId.AES128_CMAC),
)
def test_aes_prf_known_answers(prf_id: PrfId, key: str, data: str, output: str) -> None:
    """RFC 4434 §2 and RFC 4615 §4, including the 10- and 18-byte key rules."""
    prf = get_prf(prf_id)
    assert prf.fixed_key
    assert prf.compute(bytes.fromhex(key), bytes.fromhex(data)) == bytes.fromhex(output)


@pytest.mark.parametrize(
    ("prf_id", "output_size", "key_size", "fixed_key"),
    [
        (PrfId.HMAC_MD5, 16, 16, False),
        (PrfId.HMAC_SHA1, 20, 20, False),
        (PrfId.HMAC_SHA2_256, 32, 32, False),
        (PrfId.HMAC_SHA2_384, 48, 48, False),
        (PrfId.HMAC_SHA2_512, 64, 64, False),
        (PrfId.AES128_XCBC, 16, 16, True),
        (PrfId.AES128_CMAC, 16, 16, True),
    ],
)
def test_prf_descriptors(prf_id: PrfId, output_size: int, key_size: int, fixed_key: bool) -> None:
    prf = get_prf(int(prf_id))
    assert (prf.id, prf.output_size, prf.key_size, prf.fixed_key) == (
        prf_id,
        output_size,
        key_size,
        fixed_key,
    )
    assert len(prf.compute(b"k" * 7, b"data")) == output_size
    assert prf_id in supported_prfs()


@pytest.mark.parametrize("prf_id", [0, 3, 9, 1000])
def test_unsupported_prf(prf_id: int) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        get_prf(prf_id)


def _reference_prf_plus(key: bytes, seed: bytes, length: int) -> bytes:
    """RFC 7296 §2.13 written out independently with hashlib's HMAC-SHA-256."""
    out = b""
    t = b""
    n = 1
    while len(out) < length:
        t = hmac.new(key, t + seed + bytes([n]), hashlib.sha256).digest()
        out += t
        n += 1
    return out[:length]


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 100, 255 * 32])
def test_prf_plus_structure_and_length(length: int) -> None:
    prf = get_prf(PrfId.HMAC_SHA2_256)
    key, seed = b"K" * 32, b"S" * 40
    out = prf_plus(prf, key, seed, length)
    assert len(out) == length
    assert out == _reference_prf_plus(key, seed, length)
    if length >= 32:
        # T1 = prf(K, S | 0x01)
        assert out[:32] == prf.compute(key, seed + b"\x01")


def test_prf_plus_prefix_property() -> None:
    prf = get_prf(PrfId.AES128_XCBC)
    long = prf_plus(prf, b"k" * 16, b"seed", 200)
    assert prf_plus(prf, b"k" * 16, b"seed", 77) == long[:77]


@pytest.mark.parametrize("prf_id", list(PrfId.__members__.values()))
def test_prf_plus_iteration_limit(prf_id: PrfId) -> None:
    try:
        prf: Prf = get_prf(prf_id)
    except UnsupportedAlgorithm:
        return
    assert len(prf_plus(prf, b"k" * 16, b"s", 255 * prf.output_size)) == 255 * prf.output_size
    with pytest.raises(CryptoError):
        prf_plus(prf, b"k" * 16, b"s", 255 * prf.output_size + 1)


def test_prf_plus_rejects_negative_length() -> None:
    with pytest.raises(CryptoError):
        prf_plus(get_prf(PrfId.HMAC_SHA1), b"k", b"s", -1)


def test_prepared_prf_matches_compute() -> None:
    for prf_id in supported_prfs():
        prf = get_prf(prf_id)
        bound = prf.prepare(b"0123456789abcdef0123")
        assert bound(b"abc") == prf.compute(b"0123456789abcdef0123", b"abc")
