"""IKEv1 key derivation (RFC 2409 §5, §5.5, Appendix B) and the phase 1 hashes.

    SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)                      (PSK, §5)
    SKEYID   = prf(Ni_b | Nr_b, g^xy)                                (signatures, §5)
    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    Ka = K1 | K2 | ...,  K1 = prf(SKEYID_e, 0),  Kn = prf(SKEYID_e, Kn-1)   (Appendix B)
    HASH_I   = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
    HASH_R   = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
    IV       = hash(g^xi | g^xr)                                     (Appendix B)
    KEYMAT   = K1 | K2 | ...,  K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
               Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)   (§5.5)

The PRF is the HMAC of the negotiated hash (RFC 2409 §4: "the HMAC version of the
negotiated hash algorithm is used as a pseudo-random function"). Keys never appear in reprs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final

from ikeclient.crypto.prf import Prf, get_prf
from ikeclient.crypto.transforms import PrfId
from ikeclient.errors import UnsupportedAlgorithm
from ikeclient.ike.v1.enums import HashAlgorithm

__all__ = [
    "Phase1Keys",
    "derive_phase1_keys",
    "expand_key",
    "hash_for",
    "initial_iv",
    "phase2_iv",
    "prf_for",
    "quick_mode_keymat",
]

_PRF_OF_HASH: Final[dict[HashAlgorithm, PrfId]] = {
    HashAlgorithm.MD5: PrfId.HMAC_MD5,
    HashAlgorithm.SHA: PrfId.HMAC_SHA1,
    HashAlgorithm.SHA2_256: PrfId.HMAC_SHA2_256,
    HashAlgorithm.SHA2_384: PrfId.HMAC_SHA2_384,
    HashAlgorithm.SHA2_512: PrfId.HMAC_SHA2_512,
}
_HASHLIB_NAME: Final[dict[HashAlgorithm, str]] = {
    HashAlgorithm.MD5: "md5",
    HashAlgorithm.SHA: "sha1",
    HashAlgorithm.SHA2_256: "sha256",
    HashAlgorithm.SHA2_384: "sha384",
    HashAlgorithm.SHA2_512: "sha512",
}


def prf_for(hash_alg: int) -> Prf:
    """The HMAC PRF of an Oakley hash algorithm (RFC 2409 §4, Appendix A)."""
    try:
        return get_prf(_PRF_OF_HASH[HashAlgorithm(hash_alg)])
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported IKEv1 hash algorithm {hash_alg}") from None


def hash_for(hash_alg: int, data: bytes) -> bytes:
    """The plain hash of an Oakley hash algorithm (for the IVs and NAT-D)."""
    try:
        name = _HASHLIB_NAME[HashAlgorithm(hash_alg)]
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported IKEv1 hash algorithm {hash_alg}") from None
    return hashlib.new(name, data).digest()


@dataclass(frozen=True, slots=True)
class Phase1Keys:
    """SKEYID and its three children (RFC 2409 §5), plus the expanded encryption key."""

    skeyid: bytes = field(repr=False)
    skeyid_d: bytes = field(repr=False)
    skeyid_a: bytes = field(repr=False)
    skeyid_e: bytes = field(repr=False)
    encryption_key: bytes = field(repr=False)


def expand_key(prf: Prf, skeyid_e: bytes, length: int) -> bytes:
    """The phase 1 encryption key of ``length`` bytes (RFC 2409 §5.3 and Appendix B).

    SKEYID_e itself when it is long enough (its first bytes), else K1 | K2 | ... with
    K1 = prf(SKEYID_e, 0) (a single zero octet) and Kn = prf(SKEYID_e, Kn-1).
    """
    if len(skeyid_e) >= length:
        return skeyid_e[:length]
    mac = prf.prepare(skeyid_e)
    blocks = [mac(b"\x00")]
    while sum(map(len, blocks)) < length:
        blocks.append(mac(blocks[-1]))
    return b"".join(blocks)[:length]


def derive_phase1_keys(
    prf: Prf,
    *,
    psk: bytes | None,
    ni: bytes,
    nr: bytes,
    gxy: bytes,
    cky_i: bytes,
    cky_r: bytes,
    key_length: int,
) -> Phase1Keys:
    """Derive SKEYID, SKEYID_d/a/e and the encryption key (RFC 2409 §5, Appendix B).

    ``psk`` selects the pre-shared key form of SKEYID; None selects the signature form.
    """
    skeyid = prf.compute(psk, ni + nr) if psk is not None else prf.compute(ni + nr, gxy)
    mac = prf.prepare(skeyid)
    skeyid_d = mac(gxy + cky_i + cky_r + b"\x00")
    skeyid_a = mac(skeyid_d + gxy + cky_i + cky_r + b"\x01")
    skeyid_e = mac(skeyid_a + gxy + cky_i + cky_r + b"\x02")
    return Phase1Keys(skeyid, skeyid_d, skeyid_a, skeyid_e, expand_key(prf, skeyid_e, key_length))


def hash_i(
    prf: Prf, skeyid: bytes, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes,
    sai_b: bytes, idii_b: bytes,
) -> bytes:  # fmt: skip
    """HASH_I (RFC 2409 §5)."""
    return prf.compute(skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)


def hash_r(
    prf: Prf, skeyid: bytes, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes,
    sai_b: bytes, idir_b: bytes,
) -> bytes:  # fmt: skip
    """HASH_R (RFC 2409 §5)."""
    return prf.compute(skeyid, gxr + gxi + cky_r + cky_i + sai_b + idir_b)


def verify(expected: bytes, received: bytes) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(expected, received)


def initial_iv(hash_alg: int, gxi: bytes, gxr: bytes, block_size: int) -> bytes:
    """The phase 1 IV: hash(g^xi | g^xr) truncated to the block size (Appendix B)."""
    return hash_for(hash_alg, gxi + gxr)[:block_size]


def phase2_iv(hash_alg: int, last_phase1_block: bytes, message_id: int, block_size: int) -> bytes:
    """The first IV of a phase 2 exchange: hash(last phase 1 CBC block | M-ID) (Appendix B)."""
    return hash_for(hash_alg, last_phase1_block + message_id.to_bytes(4, "big"))[:block_size]


def quick_mode_keymat(
    prf: Prf,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    ni: bytes,
    nr: bytes,
    length: int,
    gxy: bytes | None = None,
) -> bytes:
    """KEYMAT for one direction of an IPsec SA (RFC 2409 §5.5), expanded to ``length``."""
    seed = (gxy or b"") + bytes((protocol,)) + spi + ni + nr
    mac = prf.prepare(skeyid_d)
    blocks = [mac(seed)]
    while sum(map(len, blocks)) < length:
        blocks.append(mac(blocks[-1] + seed))
    return b"".join(blocks)[:length]
