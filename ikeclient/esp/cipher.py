"""Per-direction ESP packet protection: build once per SA direction, call per packet.

An :class:`EspCipher` is bound to one SPI, one key set and the ESN setting of
one SA direction. :meth:`EspCipher.seal` turns the ESP payload (inner packet,
padding, Pad Length, Next Header; RFC 4303 §2) into the whole ESP packet::

    SPI | Sequence Number (low 32 bits) | IV | ciphertext | ICV

and :meth:`EspCipher.open` verifies and decrypts it back, returning None when
the ICV does not verify (never raising on wire data). Suites:

* AES-GCM with a 16-byte ICV (RFC 4106): nonce = 4-byte salt | 8-byte explicit
  IV (§4); AAD = SPI | Sequence Number, or SPI | seq-hi | seq-lo with ESN (§5).
* ChaCha20-Poly1305 (RFC 7634 §2-§3): same nonce and AAD construction.
* AES-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404) or HMAC-SHA2-256-128 /
  384-192 / 512-256 (RFC 4868 §2): encrypt-then-MAC; the ICV covers SPI,
  Sequence Number, IV and ciphertext, then seq-hi when ESN is on (RFC 4303
  §2.8, §3.3.2.1).
* AES-CTR (RFC 3686) with the same HMACs: counter block = 4-byte nonce | 8-byte
  IV | 32-bit block counter starting at 1 (§4).

Explicit IVs of the counter-based suites are the 64-bit sequence number of the
packet, unique per key because sequence numbers never repeat (RFC 4106 §3.1,
RFC 3686 §3, RFC 7634 §2). AES-CBC needs unpredictable IVs (RFC 3602 §2.3):
the IV is E_K(prefix | sequence number), the forward cipher applied to a unique
nonce under the data key (NIST SP 800-38A Appendix C), obtained for free from
one persistent CBC context: feeding ``N xor C_prev`` as the first block, where
``C_prev`` is the chaining value the context holds, yields ``E_K(N)``, which
then chains into the packet's own blocks exactly as an explicit IV would. No
cipher object is built per packet for AES-GCM, ChaCha20-Poly1305 and AES-CBC;
AES-CTR needs a fresh counter context per packet (``cryptography`` cannot
reposition a CTR stream).
"""

from __future__ import annotations

import hmac as _stdlib_hmac
from abc import ABC, abstractmethod
from struct import Struct
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.random import RandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import CryptoError, UnsupportedAlgorithm

__all__ = ["EspCipher", "make_cipher", "supported_suites"]

_HEADER: Final = Struct("!II")  # SPI, Sequence Number (RFC 4303 §2)
_AAD_ESN: Final = Struct("!III")  # SPI, seq-hi, seq-lo (RFC 4106 §5)
_U32: Final = Struct("!I")
_LOW32: Final = 0xFFFFFFFF
_AES_BLOCK: Final = 16
_COUNTER_IV: Final = 8
_CTR_BLOCK_ONE: Final = b"\x00\x00\x00\x01"
_compare_digest = _stdlib_hmac.compare_digest

# Integrity transforms the ESP engine implements: hash and truncated ICV length.
_HMACS: Final[dict[int, tuple[type[hashes.HashAlgorithm], int]]] = {
    IntegId.HMAC_SHA1_96: (hashes.SHA1, 12),  # RFC 2404
    IntegId.HMAC_SHA2_256_128: (hashes.SHA256, 16),  # RFC 4868 §2.1
    IntegId.HMAC_SHA2_384_192: (hashes.SHA384, 24),
    IntegId.HMAC_SHA2_512_256: (hashes.SHA512, 32),
}
_AEADS: Final = (EncrId.AES_GCM_16, EncrId.CHACHA20_POLY1305)
_CLASSIC: Final = (EncrId.AES_CBC, EncrId.AES_CTR)


def supported_suites() -> tuple[tuple[EncrId, ...], tuple[IntegId, ...]]:
    """The encryption and integrity transform IDs the ESP engine accepts."""
    return _AEADS + _CLASSIC, tuple(IntegId(i) for i in _HMACS)


class _Mac(Protocol):
    """What the ESP ciphers use of ``cryptography``'s HMAC (prepared once, copied per packet)."""

    def copy(self) -> _Mac: ...
    def update(self, data: bytes) -> None: ...
    def finalize(self) -> bytes: ...


class EspCipher(ABC):
    """Seals and opens ESP packets for one SA direction (RFC 4303 §3.3, §3.4).

    ``iv_size`` bytes of IV follow the ESP header, ``icv_size`` bytes of ICV end
    the packet; ``align`` is the padding granularity of the payload (the cipher
    block size, at least 4: RFC 4303 §2.4); ``block`` is the granularity the
    ciphertext must have on receive (1 for stream-like modes).
    """

    __slots__ = ("align", "block", "esn", "icv_size", "iv_size", "spi")

    def __init__(self, spi: int, esn: bool, iv_size: int, icv_size: int, align: int, block: int):
        self.spi = spi
        self.esn = esn
        self.iv_size = iv_size
        self.icv_size = icv_size
        self.align = align
        self.block = block

    @abstractmethod
    def seal(self, seq: int, payload: bytes, iv: bytes | None = None) -> bytes:
        """Return the ESP packet carrying ``payload`` (already padded) as number ``seq``.

        ``seq`` is the full (64-bit with ESN) sequence number; only its low 32
        bits travel. ``iv`` overrides the IV the cipher would choose (test
        vectors only; the engine never passes it).
        """

    @abstractmethod
    def open(self, packet: bytes, seq: int) -> bytes | None:
        """Verify the ICV of an ESP packet and return its decrypted payload, or None.

        ``seq`` is the full sequence number (the receiver's ESN guess); its high
        half enters the ICV when ESN is on. The caller has checked the length
        (:attr:`iv_size`, :attr:`icv_size`, :attr:`block`).
        """


class _AeadCipher(EspCipher):
    """AES-GCM-16 (RFC 4106) or ChaCha20-Poly1305 (RFC 7634): one AEAD call per packet."""

    __slots__ = ("_aead", "_salt")

    def __init__(self, spi: int, esn: bool, aead: AESGCM | ChaCha20Poly1305, salt: bytes) -> None:
        super().__init__(spi, esn, _COUNTER_IV, 16, 4, 1)
        self._aead = aead
        self._salt = salt

    def seal(self, seq: int, payload: bytes, iv: bytes | None = None) -> bytes:
        low = seq & _LOW32
        header = _HEADER.pack(self.spi, low)
        if iv is None:
            iv = seq.to_bytes(8, "big")  # RFC 4106 §3.1: a counter is the recommended IV
        aad = _AAD_ESN.pack(self.spi, seq >> 32, low) if self.esn else header
        return header + iv + self._aead.encrypt(self._salt + iv, payload, aad)

    def open(self, packet: bytes, seq: int) -> bytes | None:
        aad = _AAD_ESN.pack(self.spi, seq >> 32, seq & _LOW32) if self.esn else packet[:8]
        try:
            return self._aead.decrypt(self._salt + packet[8:16], packet[16:], aad)
        except InvalidTag:
            return None


class _HmacCipher(EspCipher):
    """Common part of the encrypt-then-MAC suites (RFC 4303 §3.3.2.1, §3.4.4.1)."""

    __slots__ = ("_mac",)

    def __init__(
        self, spi: int, esn: bool, iv_size: int, align: int, block: int, mac: _Mac, icv: int
    ) -> None:
        super().__init__(spi, esn, iv_size, icv, align, block)
        self._mac = mac

    def _icv(self, data: bytes, seq: int) -> bytes:
        h = self._mac.copy()
        h.update(data)
        if self.esn:
            h.update(_U32.pack(seq >> 32))  # RFC 4303 §3.3.2.1: seq-hi after the payload
        return h.finalize()[: self.icv_size]

    def _verify(self, packet: bytes, seq: int) -> bool:
        cut = len(packet) - self.icv_size
        return _compare_digest(self._icv(packet[:cut], seq), packet[cut:])


class _CbcCipher(_HmacCipher):
    """AES-CBC (RFC 3602) with an HMAC; one persistent CBC context per direction."""

    __slots__ = ("_algorithm", "_chain", "_context", "_prefix")

    def __init__(
        self,
        spi: int,
        esn: bool,
        algorithm: algorithms.AES,
        mac: _Mac,
        icv: int,
        decrypt: bool,
        prefix: int,
    ) -> None:
        super().__init__(spi, esn, _AES_BLOCK, _AES_BLOCK, _AES_BLOCK, mac, icv)
        self._algorithm = algorithm
        zero_iv = bytes(_AES_BLOCK)
        cipher = Cipher(algorithm, modes.CBC(zero_iv))
        self._context: CipherContext = cipher.decryptor() if decrypt else cipher.encryptor()
        self._chain = 0  # the chaining value the encrypting context holds, as an int
        self._prefix = prefix << 64  # random high half of the IV nonce block

    def seal(self, seq: int, payload: bytes, iv: bytes | None = None) -> bytes:
        header = _HEADER.pack(self.spi, seq & _LOW32)
        if iv is None:
            # First block N xor chain encrypts to E_K(N): the IV (SP 800-38A App. C).
            first = ((self._prefix | seq) ^ self._chain).to_bytes(_AES_BLOCK, "big")
            body = self._context.update(first + payload)
            self._chain = int.from_bytes(body[-_AES_BLOCK:], "big")
        else:  # explicit IV (test vectors): a one-off context
            enc = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
            body = iv + enc.update(payload) + enc.finalize()
        data = header + body
        return data + self._icv(data, seq)

    def open(self, packet: bytes, seq: int) -> bytes | None:
        if not self._verify(packet, seq):
            return None
        # Feeding IV | ciphertext to a persistent CBC decryptor: the first output
        # block is garbage (it depends on the previous packet), every following
        # block depends only on the ciphertext block before it, the IV first.
        return self._context.update(packet[8 : len(packet) - self.icv_size])[_AES_BLOCK:]


class _CtrCipher(_HmacCipher):
    """AES-CTR (RFC 3686) with an HMAC."""

    __slots__ = ("_algorithm", "_nonce")

    def __init__(
        self,
        spi: int,
        esn: bool,
        algorithm: algorithms.AES,
        nonce: bytes,
        mac: _Mac,
        icv: int,
    ) -> None:
        super().__init__(spi, esn, _COUNTER_IV, 4, 1, mac, icv)
        self._algorithm = algorithm
        self._nonce = nonce

    def seal(self, seq: int, payload: bytes, iv: bytes | None = None) -> bytes:
        if iv is None:
            iv = seq.to_bytes(8, "big")  # RFC 3686 §3: unique per packet under the key
        ctx = Cipher(self._algorithm, modes.CTR(self._nonce + iv + _CTR_BLOCK_ONE)).encryptor()
        data = _HEADER.pack(self.spi, seq & _LOW32) + iv + ctx.update(payload)
        return data + self._icv(data, seq)

    def open(self, packet: bytes, seq: int) -> bytes | None:
        if not self._verify(packet, seq):
            return None
        counter = self._nonce + packet[8:16] + _CTR_BLOCK_ONE
        ctx = Cipher(self._algorithm, modes.CTR(counter)).decryptor()
        return ctx.update(packet[16 : len(packet) - self.icv_size])


def make_cipher(
    spi: int,
    esn: bool,
    encr_id: int,
    encr_key_bits: int | None,
    encr_key: bytes,
    integ_id: int | None,
    integ_key: bytes,
    *,
    decrypt: bool,
    rng: RandomSource,
) -> EspCipher:
    """Build the :class:`EspCipher` of one SA direction.

    ``encr_key`` is the full KEYMAT slice, salt or nonce included (RFC 4106
    §8.1, RFC 3686 §5.1, RFC 7634 §3). AEAD suites take no integrity algorithm
    (``integ_id`` None or 0); AES-CBC and AES-CTR need one. ``decrypt`` selects
    the inbound direction; ``rng`` seeds the AES-CBC IV nonce prefix. Raises
    :class:`UnsupportedAlgorithm` or :class:`CryptoError` for a suite or key
    this engine does not take.
    """
    encr = get_encr(encr_id)
    if encr.id not in _AEADS and encr.id not in _CLASSIC:
        raise UnsupportedAlgorithm(f"ESP engine does not implement {encr.id.name}")
    expected = encr.key_size(encr_key_bits)
    if len(encr_key) != expected:
        raise CryptoError(f"{encr.id.name} needs {expected} bytes of keying material")
    key, salt = encr_key[: expected - encr.salt_size], encr_key[expected - encr.salt_size :]
    if encr.id in _AEADS:
        if integ_id not in (None, IntegId.NONE) or integ_key:
            raise UnsupportedAlgorithm(f"{encr.id.name} is AEAD; no integrity algorithm allowed")
        aead = ChaCha20Poly1305(key) if encr.id is EncrId.CHACHA20_POLY1305 else AESGCM(key)
        return _AeadCipher(spi, esn, aead, salt)
    if integ_id is None or integ_id not in _HMACS:
        raise UnsupportedAlgorithm(f"{encr.id.name} needs HMAC-SHA1-96 or HMAC-SHA2 integrity")
    hash_cls, icv = _HMACS[integ_id]
    integ_key_size = get_integ(integ_id).key_size
    if len(integ_key) != integ_key_size:
        raise CryptoError(f"{IntegId(integ_id).name} needs a {integ_key_size}-byte key")
    mac = crypto_hmac.HMAC(integ_key, hash_cls())
    algorithm = algorithms.AES(key)
    if encr.id is EncrId.AES_CBC:
        prefix = int.from_bytes(rng.random_bytes(8), "big")
        return _CbcCipher(spi, esn, algorithm, mac, icv, decrypt, prefix)
    return _CtrCipher(spi, esn, algorithm, salt, mac, icv)


def make_unauthenticated_cbc_for_vectors(spi: int, key: bytes, *, decrypt: bool) -> EspCipher:
    """AES-CBC without integrity, only to check the RFC 3602 §4 packets (they carry no ICV).

    The engine never builds this: confidentiality-only ESP is not offered.
    """
    return _CbcCipher(spi, False, algorithms.AES(key), _NullMac(), 0, decrypt, 0)


class _NullMac:
    """An HMAC stand-in with an empty tag, for :func:`make_unauthenticated_cbc_for_vectors`."""

    __slots__ = ()

    def copy(self) -> _NullMac:
        return self

    def update(self, data: bytes) -> None:
        pass

    def finalize(self) -> bytes:
        return b""
