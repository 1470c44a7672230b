"""IKEv1 key derivation (RFC 2409 §5, §5.5, Appendix B) against NIST CAVP SP 800-135 vectors,
and the expansions checked against the RFC's formulas computed independently with hmac."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from ikeclient.ike.v1 import keys as k
from ikeclient.ike.v1.enums import HashAlgorithm
from ikeclient.ike.v1.protection import Phase1Cipher

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SETS: list[dict[str, Any]] = json.loads((VECTORS / "ikev1_kdf.json").read_text())["sets"]
_HASHES = {
    "sha1": HashAlgorithm.SHA,
    "sha256": HashAlgorithm.SHA2_256,
    "sha384": HashAlgorithm.SHA2_384,
    "sha512": HashAlgorithm.SHA2_512,
}


def _h(v: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(v[name])


@pytest.mark.parametrize("v", SETS, ids=lambda v: f"{v['hash']}-{v['auth']}")
def test_nist_ikev1_kdf(v: dict[str, Any]) -> None:
    assert v["source"]
    prf = k.prf_for(_HASHES[v["hash"]])
    keys = k.derive_phase1_keys(
        prf,
        psk=_h(v, "psk") if v["auth"] == "psk" else None,
        ni=_h(v, "ni"),
        nr=_h(v, "nr"),
        gxy=_h(v, "gxy"),
        cky_i=_h(v, "cky_i"),
        cky_r=_h(v, "cky_r"),
        key_length=16,
    )
    assert keys.skeyid == _h(v, "skeyid")
    assert keys.skeyid_d == _h(v, "skeyid_d")
    assert keys.skeyid_a == _h(v, "skeyid_a")
    assert keys.skeyid_e == _h(v, "skeyid_e")
    assert keys.encryption_key == keys.skeyid_e[:16]
    assert "skeyid" not in repr(keys).lower().replace("phase1keys", "")


def test_psk_skeyid_is_prf_of_the_key_over_the_nonces() -> None:
    """RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b) for PSK authentication."""
    prf = k.prf_for(HashAlgorithm.SHA2_256)
    psk, ni, nr, gxy = b"secret", b"I" * 16, b"R" * 16, b"G" * 256
    keys = k.derive_phase1_keys(
        prf, psk=psk, ni=ni, nr=nr, gxy=gxy, cky_i=b"i" * 8, cky_r=b"r" * 8, key_length=32
    )
    assert keys.skeyid == hmac.digest(psk, ni + nr, "sha256")
    d = hmac.digest(keys.skeyid, gxy + b"i" * 8 + b"r" * 8 + b"\x00", "sha256")
    assert keys.skeyid_d == d


@pytest.mark.parametrize(("hash_alg", "name", "length"), [
    (HashAlgorithm.SHA, "sha1", 32),  # AES-256 with a 20-byte PRF: Appendix B needed
    (HashAlgorithm.MD5, "md5", 24),  # 3DES with a 16-byte PRF
    (HashAlgorithm.SHA2_256, "sha256", 32),  # long enough: SKEYID_e itself
])  # fmt: skip
def test_appendix_b_key_expansion(hash_alg: HashAlgorithm, name: str, length: int) -> None:
    skeyid_e = bytes(range(hashlib.new(name).digest_size))
    key = k.expand_key(k.prf_for(hash_alg), skeyid_e, length)
    if len(skeyid_e) >= length:
        assert key == skeyid_e[:length]
    else:
        k1 = hmac.digest(skeyid_e, b"\x00", name)
        k2 = hmac.digest(skeyid_e, k1, name)
        assert key == (k1 + k2)[:length]


def test_quick_mode_keymat_expansion() -> None:
    """RFC 2409 §5.5: K1 = prf(SKEYID_d, [g^xy |] protocol | SPI | Ni_b | Nr_b), Kn chained."""
    prf = k.prf_for(HashAlgorithm.SHA)
    d, spi, ni, nr, gxy = b"D" * 20, b"\x01\x02\x03\x04", b"n" * 16, b"m" * 16, b"g" * 32
    seed = gxy + b"\x03" + spi + ni + nr
    k1 = hmac.digest(d, seed, "sha1")
    k2 = hmac.digest(d, k1 + seed, "sha1")
    assert k.quick_mode_keymat(prf, d, 3, spi, ni, nr, 40, gxy) == (k1 + k2)[:40]
    assert k.quick_mode_keymat(prf, d, 3, spi, ni, nr, 20) == hmac.digest(
        d, b"\x03" + spi + ni + nr, "sha1"
    )


def test_ivs_chain_per_exchange() -> None:
    """Appendix B: phase 1 IV = hash(g^xi | g^xr); phase 2 IV = hash(last block | M-ID)."""
    iv = k.initial_iv(HashAlgorithm.SHA, b"x", b"y", 16)
    assert iv == hashlib.sha1(b"xy").digest()[:16]
    enc = Phase1Cipher(7, bytes(32), HashAlgorithm.SHA, iv)
    dec = Phase1Cipher(7, bytes(32), HashAlgorithm.SHA, iv)
    c1 = enc.encrypt(0, b"first phase 1 message")
    opened = dec.decrypt(0, c1)
    assert opened.plaintext.rstrip(b"\x00") == b"first phase 1 message"
    assert enc.iv(0) == c1[-16:] != iv
    dec.commit(0, opened.next_iv)
    mid = 0x01020304
    assert enc.iv(mid) == hashlib.sha1(c1[-16:] + mid.to_bytes(4, "big")).digest()[:16]
    c2 = enc.encrypt(mid, b"quick mode")
    assert dec.decrypt(mid, c2).plaintext.startswith(b"quick mode")
    assert enc.iv(0) == c1[-16:]  # phase 2 traffic leaves the phase 1 IV alone
