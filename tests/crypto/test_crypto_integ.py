"""Integrity algorithm known answers (RFC 4868 §2.7.2, RFC 3566 §4.6, RFC 4493/4494, RFC 2202)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.integ import get_integ, supported_integs
from ikeclient.crypto.transforms import IntegId
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize("case", _load("integ_hmac_sha2.json")["cases"], ids=lambda c: c["name"])
def test_rfc4868_auth_vectors(case: dict[str, Any]) -> None:
    integ = get_integ(case["integ_id"])
    signer = integ.signer(bytes.fromhex(case["key"]))
    data = bytes.fromhex(case["data"])
    icv = bytes.fromhex(case["icv"])
    assert bytes.fromhex(case["prf_output"])[: integ.icv_size] == icv
    assert signer.sign(data) == icv
    signer.verify(data, icv)


def test_rfc3566_xcbc_mac_96() -> None:
    block = _load("aes_mac.json")["aes_xcbc_mac"]
    signer = get_integ(IntegId.AES_XCBC_96).signer(bytes.fromhex(block["key"]))
    for case in block["cases"]:
        data = bytes.fromhex(case["data"])
        expected = bytes.fromhex(case["mac"])[:12]  # AES-XCBC-MAC-96
        assert signer.sign(data) == expected
        signer.verify(data, expected)


def test_rfc4494_cmac_96() -> None:
    block = _load("aes_mac.json")["aes_cmac"]
    signer = get_integ(IntegId.AES_CMAC_96).signer(bytes.fromhex(block["key"]))
    for case in block["cases"]:
        data = bytes.fromhex(case["data"])
        assert signer.sign(data) == bytes.fromhex(case["mac"])[:12]


def test_hmac_sha1_96_and_md5_96() -> None:
    """RFC 2202 test case 1 truncated to 96 bits (RFC 2404 / RFC 2403)."""
    sha1 = get_integ(IntegId.HMAC_SHA1_96).signer(b"\x0b" * 20)
    assert sha1.sign(b"Hi There") == bytes.fromhex("b617318655057264e28bc0b6")
    md5 = get_integ(IntegId.HMAC_MD5_96).signer(b"\x0b" * 16)
    assert md5.sign(b"Hi There") == bytes.fromhex("9294727a3638bb1c13f48ef8")


@pytest.mark.parametrize(
    ("integ_id", "key_size", "icv_size"),
    [
        (IntegId.HMAC_MD5_96, 16, 12),
        (IntegId.HMAC_SHA1_96, 20, 12),
        (IntegId.AES_XCBC_96, 16, 12),
        (IntegId.AES_CMAC_96, 16, 12),
        (IntegId.HMAC_SHA2_256_128, 32, 16),
        (IntegId.HMAC_SHA2_384_192, 48, 24),
        (IntegId.HMAC_SHA2_512_256, 64, 32),
    ],
)
def test_descriptors_and_tamper(integ_id: IntegId, key_size: int, icv_size: int) -> None:
    integ = get_integ(int(integ_id))
    assert (integ.key_size, integ.icv_size) == (key_size, icv_size)
    signer = integ.signer(bytes(range(key_size)))
    data = b"some IKE message bytes"
    icv = signer.sign(data)
    assert len(icv) == icv_size
    signer.verify(data, icv)
    with pytest.raises(IntegrityError):
        signer.verify(data + b"x", icv)
    with pytest.raises(IntegrityError):
        signer.verify(data, bytes([icv[0] ^ 1]) + icv[1:])
    with pytest.raises(IntegrityError):
        signer.verify(data, icv[:-1])
    with pytest.raises(IntegrityError):
        signer.verify(data, b"")
    with pytest.raises(CryptoError):
        integ.signer(bytes(key_size + 1))


def test_none_and_unsupported() -> None:
    none = get_integ(IntegId.NONE)
    assert (none.key_size, none.icv_size) == (0, 0)
    with pytest.raises(UnsupportedAlgorithm):
        none.signer(b"")
    for bad in (3, 4, 9, 99):
        with pytest.raises(UnsupportedAlgorithm):
            get_integ(bad)
    assert IntegId.HMAC_SHA2_256_128 in supported_integs()


def test_signer_repr_has_no_key() -> None:
    key = bytes(range(32))
    signer = get_integ(IntegId.HMAC_SHA2_256_128).signer(key)
    assert key.hex() not in repr(signer)
    assert repr(key) not in repr(signer)
