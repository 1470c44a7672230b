"""Integrity algorithms (RFC 7296 §3.3.2, Transform Type 3).

* AUTH_HMAC_MD5_96 (RFC 2403, legacy), AUTH_HMAC_SHA1_96 (RFC 2404);
* AUTH_AES_XCBC_96 (RFC 3566), AUTH_AES_CMAC_96 (RFC 4494);
* AUTH_HMAC_SHA2_256_128 / 384_192 / 512_256 (RFC 4868 §2).

A :class:`Signer` is built once per SA direction with its key; it produces the
truncated ICV and verifies one in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Final

from ikeclient.crypto._mac import MacFunction, aes_cmac, aes_xcbc, hmac_mac
from ikeclient.crypto.transforms import IntegId
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

__all__ = ["Integ", "Signer", "get_integ", "supported_integs"]


class Signer:
    """An integrity algorithm bound to one key: computes and checks truncated ICVs."""

    __slots__ = ("_icv_size", "_mac", "id")

    def __init__(self, integ_id: IntegId, mac: MacFunction, icv_size: int) -> None:
        self.id = integ_id
        self._mac = mac
        self._icv_size = icv_size

    @property
    def icv_size(self) -> int:
        """Length in bytes of the ICVs this signer produces."""
        return self._icv_size

    def sign(self, data: bytes) -> bytes:
        """Return the truncated ICV over ``data``."""
        return self._mac(data)[: self._icv_size]

    def verify(self, data: bytes, icv: bytes) -> None:
        """Raise :class:`IntegrityError` unless ``icv`` is the ICV of ``data`` (constant time)."""
        if not hmac.compare_digest(self.sign(data), icv):
            raise IntegrityError(f"{self.id.name} ICV mismatch")

    def __repr__(self) -> str:
        return f"Signer({self.id.name})"


@dataclass(frozen=True, slots=True)
class Integ:
    """A negotiated integrity transform: its key length and ICV length in bytes."""

    id: IntegId
    key_size: int
    icv_size: int
    _hmac_digest: str | None = field(default=None, repr=False, compare=False)

    def signer(self, key: bytes) -> Signer:
        """Build the :class:`Signer` for ``key`` (exactly ``key_size`` bytes)."""
        if self.id is IntegId.NONE:
            raise UnsupportedAlgorithm("integrity algorithm NONE has no signer")
        if len(key) != self.key_size:
            raise CryptoError(f"{self.id.name} needs a {self.key_size}-byte key, got {len(key)}")
        mac: MacFunction
        if self._hmac_digest is not None:
            mac = hmac_mac(key, self._hmac_digest)
        elif self.id is IntegId.AES_XCBC_96:
            mac = aes_xcbc(key)
        else:
            mac = aes_cmac(key)
        return Signer(self.id, mac, self.icv_size)


_INTEGS: Final[dict[IntegId, tuple[int, int, str | None]]] = {
    # id: (key size, ICV size, hashlib digest)
    IntegId.NONE: (0, 0, None),
    IntegId.HMAC_MD5_96: (16, 12, "md5"),  # RFC 2403
    IntegId.HMAC_SHA1_96: (20, 12, "sha1"),  # RFC 2404
    IntegId.AES_XCBC_96: (16, 12, None),  # RFC 3566
    IntegId.AES_CMAC_96: (16, 12, None),  # RFC 4494
    IntegId.HMAC_SHA2_256_128: (32, 16, "sha256"),  # RFC 4868 §2.1
    IntegId.HMAC_SHA2_384_192: (48, 24, "sha384"),
    IntegId.HMAC_SHA2_512_256: (64, 32, "sha512"),
}


def supported_integs() -> tuple[IntegId, ...]:
    """The integrity transform IDs :func:`get_integ` accepts (NONE included, for AEAD)."""
    return tuple(_INTEGS)


def get_integ(id: int) -> Integ:
    """Return the :class:`Integ` for a Transform Type 3 ID, or raise :class:`UnsupportedAlgorithm`.

    ``IntegId.NONE`` is returned with ``key_size == icv_size == 0`` (for AEAD
    proposals); asking it for a signer raises.
    """
    try:
        integ_id = IntegId(id)
        key_size, icv_size, digest = _INTEGS[integ_id]
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported integrity transform {id}") from None
    return Integ(integ_id, key_size, icv_size, digest)
