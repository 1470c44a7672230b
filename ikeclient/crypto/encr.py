"""Encryption transforms and protection of the Encrypted (SK) payload.

Descriptors (:class:`Encr`, RFC 7296 §3.3.2 Transform Type 1) say how much
keying material each cipher takes; :func:`make_sk_cipher` builds the object
that seals and opens the SK payload body (RFC 7296 §3.14)::

    SK payload body = IV | Encrypted(IKE payloads | Padding | Pad Length) | ICV

* AES-CBC (RFC 3602) and 3DES-CBC (RFC 2451) with a separate integrity
  algorithm; the ICV covers the whole message from the IKE header through
  the ciphertext (RFC 7296 §3.14).
* AES-CTR (RFC 5930, with the RFC 3686 counter block) with a separate
  integrity algorithm; 4 bytes of nonce follow the key in the keying material.
* AES-GCM with 8, 12 or 16 byte ICVs (RFC 5282) and ChaCha20-Poly1305
  (RFC 7634 §3): AEAD, 4 bytes of salt follow the key; the AAD is the IKE
  header through the SK payload's generic header (RFC 5282 §5.1).

Cipher keys are prepared once per SA direction. Explicit IVs of the
counter-based modes (CTR, GCM, ChaCha20-Poly1305) come from a per-cipher
64-bit counter so they never repeat under one key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import (
    BlockCipherAlgorithm,
    Cipher,
    CipherAlgorithm,
    algorithms,
    modes,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ikeclient.crypto.integ import Signer, get_integ
from ikeclient.crypto.random import RandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

try:  # cryptography >= 43 keeps TripleDES in the "decrepit" module
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES as _TripleDES

__all__ = ["Encr", "SkCipher", "get_encr", "make_sk_cipher", "supported_encrs"]

_SALT_SIZE: Final = 4
_COUNTER_IV_SIZE: Final = 8
_IV_SPACE: Final = 1 << 64


@dataclass(frozen=True, slots=True)
class Encr:
    """An encryption transform (RFC 7296 §3.3.2, Transform Type 1).

    ``block_size`` is the padding granularity of the SK payload (1 for the
    stream-like modes, which still carry the Pad Length byte), ``iv_size`` the
    explicit IV carried in each message, ``icv_size`` the AEAD tag length (0 for
    non-AEAD ciphers). ``key_bits_allowed`` are the values accepted in the Key
    Length attribute (RFC 7296 §3.3.5); ``default_key_bits`` is None for
    ciphers that take no Key Length attribute (3DES, ChaCha20-Poly1305).
    ``salt_size`` bytes of salt or nonce follow the key in the keying material.
    """

    id: EncrId
    block_size: int
    iv_size: int
    is_aead: bool
    icv_size: int
    key_bits_allowed: tuple[int, ...]
    default_key_bits: int | None
    salt_size: int = 0

    @property
    def uses_key_length_attribute(self) -> bool:
        """True when proposals must carry a Key Length attribute (AES)."""
        return self.default_key_bits is not None

    def key_size(self, key_bits: int | None) -> int:
        """Bytes of keying material for this cipher, salt or nonce included.

        AES-GCM adds 4 bytes of salt (RFC 5282 §7.1), AES-CTR 4 bytes of nonce
        (RFC 5930 §2, RFC 3686 §5.1), ChaCha20-Poly1305 is 32 + 4 (RFC 7634 §3).
        ``key_bits`` is the Key Length attribute; it is required for ciphers that
        use one and must be absent (or equal the fixed size) for the others.
        Raises :class:`UnsupportedAlgorithm` for a length not allowed.
        """
        if key_bits is None:
            if self.uses_key_length_attribute:
                raise UnsupportedAlgorithm(f"{self.id.name} needs a Key Length attribute")
            key_bits = self.key_bits_allowed[0]
        if key_bits not in self.key_bits_allowed:
            raise UnsupportedAlgorithm(f"{self.id.name} does not support {key_bits}-bit keys")
        return key_bits // 8 + self.salt_size


_AES_BITS: Final = (128, 192, 256)

_ENCRS: Final[dict[EncrId, Encr]] = {
    e.id: e
    for e in (
        Encr(EncrId.DES3, 8, 8, False, 0, (192,), None),
        Encr(EncrId.AES_CBC, 16, 16, False, 0, _AES_BITS, 128),
        Encr(EncrId.AES_CTR, 1, _COUNTER_IV_SIZE, False, 0, _AES_BITS, 128, _SALT_SIZE),
        Encr(EncrId.AES_GCM_8, 1, _COUNTER_IV_SIZE, True, 8, _AES_BITS, 128, _SALT_SIZE),
        Encr(EncrId.AES_GCM_12, 1, _COUNTER_IV_SIZE, True, 12, _AES_BITS, 128, _SALT_SIZE),
        Encr(EncrId.AES_GCM_16, 1, _COUNTER_IV_SIZE, True, 16, _AES_BITS, 128, _SALT_SIZE),
        Encr(EncrId.CHACHA20_POLY1305, 1, _COUNTER_IV_SIZE, True, 16, (256,), None, _SALT_SIZE),
    )
}


def supported_encrs() -> tuple[EncrId, ...]:
    """The encryption transform IDs :func:`get_encr` accepts."""
    return tuple(_ENCRS)


def get_encr(id: int) -> Encr:
    """Return the :class:`Encr` for Transform Type 1 ID ``id``.

    Raises :class:`UnsupportedAlgorithm` for an ID this build does not implement.
    """
    try:
        return _ENCRS[EncrId(id)]
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported encryption transform {id}") from None


class _IvCounter:
    """A 64-bit explicit-IV counter starting at a random value (never repeats under a key)."""

    __slots__ = ("_next", "_used")

    def __init__(self) -> None:
        self._next: int | None = None
        self._used = 0

    def next_iv(self, rng: RandomSource) -> bytes:
        if self._next is None:
            self._next = int.from_bytes(rng.random_bytes(_COUNTER_IV_SIZE), "big")
        if self._used >= _IV_SPACE:
            raise CryptoError("IV space of this key is exhausted; rekey")
        iv = self._next.to_bytes(_COUNTER_IV_SIZE, "big")
        self._next = (self._next + 1) % _IV_SPACE
        self._used += 1
        return iv


class SkCipher(ABC):
    """Seals and opens the Encrypted payload body for one SA direction (RFC 7296 §3.14)."""

    __slots__ = ("encr",)

    def __init__(self, encr: Encr) -> None:
        self.encr = encr

    @property
    @abstractmethod
    def icv_size(self) -> int:
        """Bytes of Integrity Checksum Data at the end of the body."""

    def _padded_length(self, plaintext_len: int) -> int:
        """Length of plaintext + padding + Pad Length, the minimum multiple of the block size."""
        block = self.encr.block_size
        return -(-(plaintext_len + 1) // block) * block

    def sealed_length(self, plaintext_len: int) -> int:
        """Bytes :meth:`seal` returns for ``plaintext_len`` bytes of payloads.

        IV + encrypted(plaintext + padding + Pad Length) + ICV, known before
        sealing so the IKE header's length can be written into the AAD.
        """
        if plaintext_len < 0:
            raise CryptoError("plaintext length must be non-negative")
        return self.encr.iv_size + self._padded_length(plaintext_len) + self.icv_size

    def _pad(self, plaintext: bytes) -> bytes:
        pad_len = self._padded_length(len(plaintext)) - len(plaintext) - 1
        return plaintext + bytes(pad_len) + bytes((pad_len,))

    @staticmethod
    def _unpad(padded: bytes) -> bytes:
        pad_len = padded[-1]
        if pad_len + 1 > len(padded):
            raise CryptoError("SK payload pad length exceeds the decrypted data")
        return padded[: len(padded) - pad_len - 1]

    @abstractmethod
    def seal(self, aad: bytes, plaintext: bytes, rng: RandomSource) -> bytes:
        """Return IV | ciphertext | ICV for ``plaintext`` (the inner payloads).

        ``aad`` is the message from the IKE header through the SK payload's
        generic header, with the final lengths already filled in.
        """

    @abstractmethod
    def open(self, aad: bytes, body: bytes) -> bytes:
        """Verify and decrypt an SK payload body; return the inner payloads.

        Raises :class:`IntegrityError` when the ICV does not verify and
        :class:`CryptoError` for malformed lengths or padding.
        """


class _ClassicSkCipher(SkCipher):
    """CBC or CTR encryption with a separate integrity algorithm (encrypt-then-MAC)."""

    __slots__ = ("_algorithm", "_counter", "_ctr_nonce", "_signer")

    def __init__(
        self, encr: Encr, algorithm: CipherAlgorithm, ctr_nonce: bytes | None, signer: Signer
    ) -> None:
        super().__init__(encr)
        self._algorithm = algorithm
        self._ctr_nonce = ctr_nonce
        self._signer = signer
        self._counter = _IvCounter()

    @property
    def icv_size(self) -> int:
        return self._signer.icv_size

    def _mode(self, iv: bytes) -> modes.CBC | modes.CTR:
        if self._ctr_nonce is None:
            return modes.CBC(iv)
        # RFC 3686 §4: counter block = nonce | IV | block counter starting at 1.
        return modes.CTR(self._ctr_nonce + iv + b"\x00\x00\x00\x01")

    def seal(self, aad: bytes, plaintext: bytes, rng: RandomSource) -> bytes:
        if self._ctr_nonce is None:
            iv = rng.random_bytes(self.encr.iv_size)  # RFC 7296 §3.14: unpredictable CBC IV
        else:
            iv = self._counter.next_iv(rng)
        encryptor = Cipher(self._algorithm, self._mode(iv)).encryptor()
        ciphertext = encryptor.update(self._pad(plaintext)) + encryptor.finalize()
        return iv + ciphertext + self._signer.sign(aad + iv + ciphertext)

    def open(self, aad: bytes, body: bytes) -> bytes:
        iv_size, icv_size, block = self.encr.iv_size, self.icv_size, self.encr.block_size
        ct_len = len(body) - iv_size - icv_size
        if ct_len < max(block, 1):
            raise CryptoError("SK payload too short")
        if ct_len % block:
            raise CryptoError("SK payload ciphertext is not a multiple of the block size")
        self._signer.verify(aad + body[: len(body) - icv_size], body[len(body) - icv_size :])
        iv = body[:iv_size]
        decryptor = Cipher(self._algorithm, self._mode(iv)).decryptor()
        padded = decryptor.update(body[iv_size : iv_size + ct_len]) + decryptor.finalize()
        return self._unpad(padded)


class _AeadSkCipher(SkCipher):
    """AES-GCM (RFC 5282) or ChaCha20-Poly1305 (RFC 7634 §3) SK payload protection."""

    __slots__ = ("_aead", "_counter", "_gcm_key", "_salt")

    def __init__(self, encr: Encr, key: bytes, salt: bytes) -> None:
        super().__init__(encr)
        self._salt = salt
        self._counter = _IvCounter()
        self._aead: AESGCM | ChaCha20Poly1305 | None = None
        self._gcm_key: algorithms.AES | None = None
        if encr.id is EncrId.CHACHA20_POLY1305:
            self._aead = ChaCha20Poly1305(key)
        elif encr.icv_size == 16:
            self._aead = AESGCM(key)
        else:  # AESGCM only does 16-byte tags; truncated tags go through Cipher/GCM
            self._gcm_key = algorithms.AES(key)

    @property
    def icv_size(self) -> int:
        return self.encr.icv_size

    def seal(self, aad: bytes, plaintext: bytes, rng: RandomSource) -> bytes:
        iv = self._counter.next_iv(rng)
        nonce = self._salt + iv  # RFC 5282 §4 / RFC 7634 §2: salt | IV
        padded = self._pad(plaintext)
        if self._aead is not None:
            return iv + self._aead.encrypt(nonce, padded, aad)
        assert self._gcm_key is not None
        cipher: Cipher[modes.GCM] = Cipher(self._gcm_key, modes.GCM(nonce))
        encryptor = cipher.encryptor()
        encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return iv + ciphertext + encryptor.tag[: self.encr.icv_size]

    def open(self, aad: bytes, body: bytes) -> bytes:
        iv_size, icv_size = self.encr.iv_size, self.encr.icv_size
        if len(body) < iv_size + 1 + icv_size:
            raise CryptoError("SK payload too short")
        nonce = self._salt + body[:iv_size]
        try:
            if self._aead is not None:
                padded = self._aead.decrypt(nonce, body[iv_size:], aad)
            else:
                assert self._gcm_key is not None
                tag = body[len(body) - icv_size :]
                cipher: Cipher[modes.GCM] = Cipher(
                    self._gcm_key, modes.GCM(nonce, tag, min_tag_length=icv_size)
                )
                decryptor = cipher.decryptor()
                decryptor.authenticate_additional_data(aad)
                padded = decryptor.update(body[iv_size : len(body) - icv_size])
                padded += decryptor.finalize()
        except InvalidTag:
            raise IntegrityError(f"{self.encr.id.name} ICV mismatch") from None
        return self._unpad(padded)


def _block_algorithm(encr_id: EncrId, key: bytes) -> BlockCipherAlgorithm:
    if encr_id is EncrId.DES3:
        return _TripleDES(key)
    return algorithms.AES(key)


def make_sk_cipher(
    encr_id: int,
    key_bits: int | None,
    encr_key: bytes,
    integ_id: int | None,
    integ_key: bytes | None,
) -> SkCipher:
    """Build the SK payload cipher for one direction (SK_ei/SK_ai or SK_er/SK_ar).

    ``encr_key`` is the full keying material (salt or nonce included, see
    :meth:`Encr.key_size`). AEAD ciphers take no integrity algorithm
    (``integ_id`` None or NONE, RFC 5282 §8, RFC 7634 §4); the others need one.
    """
    encr = get_encr(encr_id)
    expected = encr.key_size(key_bits)
    if len(encr_key) != expected:
        raise CryptoError(f"{encr.id.name} needs {expected} bytes of keying material")
    key = encr_key[: expected - encr.salt_size]
    salt = encr_key[expected - encr.salt_size :]
    if encr.is_aead:
        if integ_id not in (None, IntegId.NONE) or integ_key:
            raise UnsupportedAlgorithm(f"{encr.id.name} is AEAD; no integrity algorithm allowed")
        return _AeadSkCipher(encr, key, salt)
    if integ_id is None or integ_id == IntegId.NONE or integ_key is None:
        raise UnsupportedAlgorithm(f"{encr.id.name} needs an integrity algorithm")
    signer = get_integ(integ_id).signer(integ_key)
    ctr_nonce = salt if encr.id is EncrId.AES_CTR else None
    return _ClassicSkCipher(encr, _block_algorithm(encr.id, key), ctr_nonce, signer)
