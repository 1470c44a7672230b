"""Pseudorandom functions and prf+ (RFC 7296 §2.13, §3.3.2).

* PRF_HMAC_MD5 / PRF_HMAC_SHA1 (RFC 2104), PRF_HMAC_SHA2_256/384/512 (RFC 4868 §2);
* PRF_AES128_XCBC (RFC 4434) and PRF_AES128_CMAC (RFC 4615), both "fixed-key"
  PRFs: any key length is accepted and brought to 128 bits by each RFC's rule
  (RFC 4434 zero-pads shorter keys; RFC 4615 runs them through AES-CMAC under
  the zero key, as it does longer ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ikeclient.crypto._mac import AES_BLOCK, MacFunction, aes128_prf_key, aes_cmac, aes_xcbc
from ikeclient.crypto._mac import hmac_mac as _hmac_mac
from ikeclient.crypto.transforms import PrfId
from ikeclient.errors import CryptoError, UnsupportedAlgorithm

__all__ = ["Prf", "get_prf", "prf_plus", "supported_prfs"]

PRF_PLUS_MAX_ITERATIONS: Final = 255
"""RFC 7296 §2.13: the counter octet of prf+ cannot go past 255."""


@dataclass(frozen=True, slots=True)
class Prf:
    """A negotiated PRF transform (RFC 7296 §3.3.2, Transform Type 2).

    ``output_size`` is the PRF's output in bytes; ``key_size`` its preferred key
    length (RFC 7296 §2.13/§3.3.5), which is also the length of SK_d, SK_pi and
    SK_pr (§2.14). ``fixed_key`` marks the AES-based PRFs whose SKEYSEED key is
    made of the first 64 bits of each nonce (§2.14).
    """

    id: PrfId
    output_size: int
    key_size: int
    fixed_key: bool
    _hmac_digest: str | None = field(default=None, repr=False, compare=False)

    def prepare(self, key: bytes) -> MacFunction:
        """Bind ``key`` once; the returned callable maps data to the PRF output.

        Use it where many PRF calls share one key (prf+ does).
        """
        if self._hmac_digest is not None:
            return _hmac_mac(key, self._hmac_digest)
        if self.id is PrfId.AES128_XCBC:
            return aes_xcbc(aes128_prf_key(key, aes_xcbc, pad_short=True))
        return aes_cmac(aes128_prf_key(key, aes_cmac, pad_short=False))

    def compute(self, key: bytes, data: bytes) -> bytes:
        """Return prf(key, data)."""
        return self.prepare(key)(data)


_PRFS: Final[dict[PrfId, tuple[int, int, bool, str | None]]] = {
    # id: (output size, preferred key size, fixed key, hashlib digest)
    PrfId.HMAC_MD5: (16, 16, False, "md5"),
    PrfId.HMAC_SHA1: (20, 20, False, "sha1"),
    PrfId.HMAC_SHA2_256: (32, 32, False, "sha256"),
    PrfId.HMAC_SHA2_384: (48, 48, False, "sha384"),
    PrfId.HMAC_SHA2_512: (64, 64, False, "sha512"),
    PrfId.AES128_XCBC: (AES_BLOCK, AES_BLOCK, True, None),
    PrfId.AES128_CMAC: (AES_BLOCK, AES_BLOCK, True, None),
}


def supported_prfs() -> tuple[PrfId, ...]:
    """The PRF transform IDs :func:`get_prf` accepts."""
    return tuple(_PRFS)


def get_prf(id: int) -> Prf:
    """Return the :class:`Prf` for a Transform Type 2 ID, or raise :class:`UnsupportedAlgorithm`."""
    try:
        prf_id = PrfId(id)
        output_size, key_size, fixed_key, digest = _PRFS[prf_id]
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported PRF transform {id}") from None
    return Prf(prf_id, output_size, key_size, fixed_key, digest)


def prf_plus(prf: Prf, key: bytes, seed: bytes, length: int) -> bytes:
    """Return the first ``length`` bytes of prf+(key, seed) (RFC 7296 §2.13).

    prf+ (K,S) = T1 | T2 | T3 | ... where T1 = prf (K, S | 0x01) and
    Tn = prf (K, Tn-1 | S | n). Raises :class:`CryptoError` when more than 255
    iterations would be needed.
    """
    if length < 0:
        raise CryptoError("prf+ length must be non-negative")
    iterations = -(-length // prf.output_size)
    if iterations > PRF_PLUS_MAX_ITERATIONS:
        raise CryptoError(
            f"prf+ cannot produce {length} bytes with a {prf.output_size}-byte PRF"
            f" (at most {PRF_PLUS_MAX_ITERATIONS} iterations)"
        )
    mac = prf.prepare(key)
    out: list[bytes] = []
    previous = b""
    for counter in range(1, iterations + 1):
        previous = mac(previous + seed + bytes((counter,)))
        out.append(previous)
    return b"".join(out)[:length]
