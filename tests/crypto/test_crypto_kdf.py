"""IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18) against NIST CAVP SP 800-135 vectors."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.kdf import (
    ChildSaKeys,
    IkeSaKeys,
    derive_child_sa_keys,
    derive_ike_sa_keys,
    derive_rekeyed_ike_sa_keys,
)
from ikeclient.crypto.prf import get_prf, prf_plus
from ikeclient.crypto.transforms import PrfId

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
KDF_SETS: list[dict[str, Any]] = json.loads((VECTORS / "ikev2_kdf.json").read_text())["sets"]


def _h(v: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(v[name])


def _concat(keys: IkeSaKeys) -> bytes:
    return b"".join(
        (keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr)
    )


@pytest.mark.parametrize("v", KDF_SETS, ids=lambda v: f"prf{v['prf_id']}")
def test_nist_ikev2_kdf(v: dict[str, Any]) -> None:
    prf = get_prf(v["prf_id"])
    ni, nr, spi_i, spi_r = _h(v, "ni"), _h(v, "nr"), _h(v, "spi_i"), _h(v, "spi_r")
    dkm = _h(v, "dkm")
    # Split DKM's length over the seven keys: 3 * key_size + 2 * (integ + encr).
    rest = len(dkm) - 3 * prf.key_size
    integ_size = rest // 4
    encr_size = rest // 2 - integ_size
    keys = derive_ike_sa_keys(prf, ni, nr, _h(v, "gir"), spi_i, spi_r, encr_size, integ_size)
    assert keys.skeyseed == _h(v, "skeyseed")
    assert _concat(keys) == dkm
    assert keys.sk_d == dkm[: prf.key_size]
    assert prf_plus(prf, keys.skeyseed, ni + nr + spi_i + spi_r, len(dkm)) == dkm

    rekeyed = derive_rekeyed_ike_sa_keys(
        prf, keys.sk_d, _h(v, "gir_new"), ni, nr, spi_i, spi_r, encr_size, integ_size
    )
    assert rekeyed.skeyseed == _h(v, "skeyseed_rekey")
    assert _concat(rekeyed) == prf_plus(prf, rekeyed.skeyseed, ni + nr + spi_i + spi_r, len(dkm))

    if "dkm_child" in v:
        child_len = len(_h(v, "dkm_child"))
        e = child_len // 4
        i = child_len // 2 - e
        child = derive_child_sa_keys(prf, keys.sk_d, ni, nr, e, i)
        assert child.encr_i + child.integ_i + child.encr_r + child.integ_r == _h(v, "dkm_child")
        child_dh = derive_child_sa_keys(prf, keys.sk_d, ni, nr, e, i, _h(v, "gir_new"))
        assert child_dh.encr_i + child_dh.integ_i + child_dh.encr_r + child_dh.integ_r == _h(
            v, "dkm_child_dh"
        )


def test_ike_sa_key_layout() -> None:
    """SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr, SK_d/pi/pr = PRF key size."""
    prf = get_prf(PrfId.HMAC_SHA2_384)
    ni, nr, gir = b"N" * 32, b"R" * 32, b"G" * 256
    spi_i, spi_r = bytes(range(8)), bytes(range(8, 16))
    keys = derive_ike_sa_keys(prf, ni, nr, gir, spi_i, spi_r, 36, 0)  # AES-256-GCM: no SK_a
    assert keys.skeyseed == prf.compute(ni + nr, gir)
    stream = prf_plus(prf, keys.skeyseed, ni + nr + spi_i + spi_r, 48 * 3 + 36 * 2)
    assert keys.sk_d == stream[:48]
    assert keys.sk_ai == keys.sk_ar == b""
    assert keys.sk_ei == stream[48:84]
    assert keys.sk_er == stream[84:120]
    assert keys.sk_pi == stream[120:168]
    assert keys.sk_pr == stream[168:216]


@pytest.mark.parametrize("prf_id", [PrfId.AES128_XCBC, PrfId.AES128_CMAC])
def test_fixed_key_prf_uses_first_64_bits_of_each_nonce(prf_id: PrfId) -> None:
    prf = get_prf(prf_id)
    ni, nr, gir = bytes(range(32)), bytes(range(100, 132)), b"\x42" * 32
    keys = derive_ike_sa_keys(prf, ni, nr, gir, b"i" * 8, b"r" * 8, 16, 16)
    assert keys.skeyseed == prf.compute(ni[:8] + nr[:8], gir)
    assert len(keys.sk_d) == len(keys.sk_pi) == len(keys.sk_pr) == 16
    # Changing nonce bytes beyond the first 8 leaves SKEYSEED alone, but not the keys.
    other = derive_ike_sa_keys(prf, ni[:8] + b"x" * 24, nr, gir, b"i" * 8, b"r" * 8, 16, 16)
    assert other.skeyseed == keys.skeyseed
    assert other.sk_d != keys.sk_d


def test_rekeyed_skeyseed_formula() -> None:
    prf = get_prf(PrfId.HMAC_SHA2_256)
    old_sk_d, gir, ni, nr = b"D" * 32, b"G" * 32, b"I" * 16, b"R" * 16
    keys = derive_rekeyed_ike_sa_keys(prf, old_sk_d, gir, ni, nr, b"a" * 8, b"b" * 8, 16, 32)
    assert keys.skeyseed == prf.compute(old_sk_d, gir + ni + nr)


def test_child_sa_key_order() -> None:
    """§2.17: initiator-to-responder keys first, encryption before integrity."""
    prf = get_prf(PrfId.HMAC_SHA2_256)
    sk_d, ni, nr = b"D" * 32, b"I" * 16, b"R" * 16
    keys = derive_child_sa_keys(prf, sk_d, ni, nr, 16, 32)
    keymat = prf_plus(prf, sk_d, ni + nr, 96)
    assert keys == ChildSaKeys(keymat[:16], keymat[16:48], keymat[48:64], keymat[64:96])
    with_dh = derive_child_sa_keys(prf, sk_d, ni, nr, 36, 0, shared_secret=b"G" * 32)
    keymat = prf_plus(prf, sk_d, b"G" * 32 + ni + nr, 72)
    assert (with_dh.encr_i, with_dh.encr_r) == (keymat[:36], keymat[36:])
    assert with_dh.integ_i == with_dh.integ_r == b""


def test_keys_never_in_repr() -> None:
    prf = get_prf(PrfId.HMAC_SHA2_256)
    keys = derive_ike_sa_keys(prf, b"n" * 16, b"m" * 16, b"g" * 32, b"i" * 8, b"r" * 8, 16, 32)
    text = repr(keys)
    for f in fields(keys):
        value = getattr(keys, f.name)
        assert value.hex() not in text and repr(value) not in text
    child = derive_child_sa_keys(prf, keys.sk_d, b"n" * 16, b"m" * 16, 16, 32)
    for f in fields(child):
        assert repr(getattr(child, f.name)) not in repr(child)
