"""IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18).

    SKEYSEED = prf(Ni | Nr, g^ir)                                   §2.14
    {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
             = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
    SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)                §2.18
    KEYMAT   = prf+(SK_d, [g^ir (new) |] Ni | Nr)                   §2.17

Ni and Nr are the nonce values without payload headers, SPIi and SPIr the
8-byte SPIs of the IKE header, g^ir the shared secret as returned by
:meth:`KeyExchange.compute_shared_secret`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikeclient.crypto.prf import Prf, prf_plus
from ikeclient.errors import CryptoError

__all__ = [
    "ChildSaKeys",
    "IkeSaKeys",
    "derive_child_sa_keys",
    "derive_ike_sa_keys",
    "derive_rekeyed_ike_sa_keys",
]

_FIXED_KEY_NONCE_PART = 8  # RFC 7296 §2.14: first 64 bits of Ni and of Nr


@dataclass(frozen=True, slots=True)
class IkeSaKeys:
    """The keys of an IKE SA (RFC 7296 §2.14); none of them appears in a repr."""

    skeyseed: bytes = field(repr=False)
    sk_d: bytes = field(repr=False)
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    sk_pi: bytes = field(repr=False)
    sk_pr: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChildSaKeys:
    """Keys of a Child SA (RFC 7296 §2.17); ``*_i`` protect initiator-to-responder traffic."""

    encr_i: bytes = field(repr=False)
    integ_i: bytes = field(repr=False)
    encr_r: bytes = field(repr=False)
    integ_r: bytes = field(repr=False)


def _check_sizes(encr_key_size: int, integ_key_size: int) -> None:
    if encr_key_size < 0 or integ_key_size < 0:
        raise CryptoError("key sizes must be non-negative")


def _split_ike_sa_keys(
    prf: Prf,
    *,
    skeyseed: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
    encr_key_size: int,
    integ_key_size: int,
) -> IkeSaKeys:
    _check_sizes(encr_key_size, integ_key_size)
    sizes = (
        prf.key_size,  # SK_d
        integ_key_size,  # SK_ai
        integ_key_size,  # SK_ar
        encr_key_size,  # SK_ei
        encr_key_size,  # SK_er
        prf.key_size,  # SK_pi
        prf.key_size,  # SK_pr
    )
    keymat = prf_plus(prf, skeyseed, ni + nr + spi_i + spi_r, sum(sizes))
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(keymat[offset : offset + size])
        offset += size
    sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr = parts
    return IkeSaKeys(skeyseed, sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr)


def derive_ike_sa_keys(
    prf: Prf,
    ni: bytes,
    nr: bytes,
    shared_secret: bytes,
    spi_i: bytes,
    spi_r: bytes,
    encr_key_size: int,
    integ_key_size: int,
) -> IkeSaKeys:
    """Derive the keys of a new IKE SA (RFC 7296 §2.14).

    For the fixed-key PRFs (AES-XCBC-PRF-128, AES-CMAC-PRF-128) the SKEYSEED
    key is the first 64 bits of Ni followed by the first 64 bits of Nr.
    SK_d, SK_pi and SK_pr are ``prf.key_size`` bytes; ``integ_key_size`` is 0
    for AEAD ciphers; ``encr_key_size`` includes any salt (``Encr.key_size``).
    """
    if prf.fixed_key:
        skeyseed_key = ni[:_FIXED_KEY_NONCE_PART] + nr[:_FIXED_KEY_NONCE_PART]
    else:
        skeyseed_key = ni + nr
    skeyseed = prf.compute(skeyseed_key, shared_secret)
    return _split_ike_sa_keys(
        prf,
        skeyseed=skeyseed,
        ni=ni,
        nr=nr,
        spi_i=spi_i,
        spi_r=spi_r,
        encr_key_size=encr_key_size,
        integ_key_size=integ_key_size,
    )


def derive_rekeyed_ike_sa_keys(
    prf: Prf,
    old_sk_d: bytes,
    shared_secret: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
    encr_key_size: int,
    integ_key_size: int,
    *,
    split_prf: Prf | None = None,
) -> IkeSaKeys:
    """Derive the keys of an IKE SA created by rekeying (RFC 7296 §2.18).

    SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with Ni/Nr/SPIs those of
    the CREATE_CHILD_SA exchange and the new SA. §2.18: "it is the old IKE SA's
    PRF that is used to generate SKEYSEED"; the SK_* then come from prf+ of the
    new SA's PRF, ``split_prf`` (the same as ``prf`` when it is None).
    """
    skeyseed = prf.compute(old_sk_d, shared_secret + ni + nr)
    return _split_ike_sa_keys(
        split_prf or prf,
        skeyseed=skeyseed,
        ni=ni,
        nr=nr,
        spi_i=spi_i,
        spi_r=spi_r,
        encr_key_size=encr_key_size,
        integ_key_size=integ_key_size,
    )


def derive_child_sa_keys(
    prf: Prf,
    sk_d: bytes,
    ni: bytes,
    nr: bytes,
    encr_key_size: int,
    integ_key_size: int,
    shared_secret: bytes | None = None,
) -> ChildSaKeys:
    """Derive Child SA keys (RFC 7296 §2.17): KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr).

    Keys for initiator-to-responder traffic come first, and in each direction
    the encryption key before the integrity key.
    """
    _check_sizes(encr_key_size, integ_key_size)
    seed = (shared_secret or b"") + ni + nr
    total = 2 * (encr_key_size + integ_key_size)
    keymat = prf_plus(prf, sk_d, seed, total)
    e, i = encr_key_size, integ_key_size
    return ChildSaKeys(
        encr_i=keymat[:e],
        integ_i=keymat[e : e + i],
        encr_r=keymat[e + i : 2 * e + i],
        integ_r=keymat[2 * e + i :],
    )
