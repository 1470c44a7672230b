"""Encryption of ISAKMP messages: CBC with IV chaining (RFC 2409 §5.3, Appendix B).

Phase 1 messages (Message ID 0) chain one IV: the first is hash(g^xi | g^xr), each next one
the last ciphertext block of the previous encrypted phase 1 message, in either direction.
Every phase 2 exchange (Quick Mode, Informational, Transaction) has its own IV per Message
ID: the first is hash(last phase 1 CBC block | M-ID), each next one the last ciphertext
block of the previous message of that exchange.

A received message's IV change is committed only once the message checked out (its HASH),
so a forged or corrupt message cannot derail the chain. The body is padded with zeros to
the block size (RFC 2408 §3.1: the Length includes the padding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from ikeclient.errors import CryptoError, UnsupportedAlgorithm
from ikeclient.ike.v1.enums import Phase1Encryption
from ikeclient.ike.v1.keys import phase2_iv

try:  # cryptography >= 43 keeps TripleDES in the "decrepit" module
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES as _TripleDES

__all__ = ["MessageCipher", "Phase1Cipher", "phase1_cipher_spec"]

# encryption algorithm: (block size, allowed key lengths in bits, default bits)
_SPECS: Final[dict[Phase1Encryption, tuple[int, tuple[int, ...], int]]] = {
    Phase1Encryption.AES_CBC: (16, (128, 192, 256), 128),
    Phase1Encryption.TRIPLE_DES_CBC: (8, (192,), 192),
}


def phase1_cipher_spec(encr: int, key_bits: int | None) -> tuple[int, int]:
    """(block size, key length in bytes) of a phase 1 cipher; UnsupportedAlgorithm if unknown.

    AES needs its KEY_LENGTH attribute (RFC 3602 §5); 3DES has a fixed 192-bit key.
    """
    try:
        block, allowed, default = _SPECS[Phase1Encryption(encr)]
    except (ValueError, KeyError):
        raise UnsupportedAlgorithm(f"unsupported IKEv1 encryption algorithm {encr}") from None
    bits = default if key_bits is None else key_bits
    if bits not in allowed:
        raise UnsupportedAlgorithm(f"IKEv1 encryption algorithm {encr} with {bits}-bit keys")
    return block, bits // 8


@dataclass(slots=True)
class MessageCipher:
    """A decrypted message body and the IV its exchange moves to once it is accepted."""

    plaintext: bytes
    next_iv: bytes = field(repr=False)


class Phase1Cipher:
    """Encrypts and decrypts ISAKMP message bodies for one ISAKMP SA, IVs included."""

    __slots__ = ("_algorithm", "_hash_alg", "_ivs", "_phase1_iv", "block_size")

    def __init__(self, encr: int, key: bytes, hash_alg: int, first_iv: bytes) -> None:
        block, key_size = phase1_cipher_spec(encr, len(key) * 8)
        if len(key) != key_size:
            raise CryptoError("wrong phase 1 key length")
        self.block_size = block
        self._algorithm: BlockCipherAlgorithm = (
            algorithms.AES(key) if encr == Phase1Encryption.AES_CBC else _TripleDES(key)
        )
        self._hash_alg = hash_alg
        self._phase1_iv = first_iv[:block]
        self._ivs: dict[int, bytes] = {}

    def __repr__(self) -> str:
        return f"Phase1Cipher(block_size={self.block_size})"

    @property
    def phase1_last_block(self) -> bytes:
        """The last CBC block of phase 1 (the seed of every phase 2 IV)."""
        return self._phase1_iv

    def iv(self, message_id: int) -> bytes:
        """The IV the next message of exchange ``message_id`` uses."""
        if message_id == 0:
            return self._phase1_iv
        iv = self._ivs.get(message_id)
        if iv is None:
            iv = phase2_iv(self._hash_alg, self._phase1_iv, message_id, self.block_size)
        return iv

    def commit(self, message_id: int, iv: bytes) -> None:
        """Move exchange ``message_id`` to ``iv`` (after a message was sent or accepted)."""
        if message_id == 0:
            self._phase1_iv = iv
        else:
            self._ivs[message_id] = iv

    def forget(self, message_id: int) -> None:
        """Drop the IV of a finished phase 2 exchange."""
        self._ivs.pop(message_id, None)

    def encrypt(self, message_id: int, plaintext: bytes) -> bytes:
        """Pad and encrypt a body with the exchange's IV; the IV moves on (it was sent)."""
        block = self.block_size
        padded = plaintext + bytes(-len(plaintext) % block)
        if not padded:
            padded = bytes(block)
        enc = Cipher(self._algorithm, modes.CBC(self.iv(message_id))).encryptor()
        ciphertext = enc.update(padded) + enc.finalize()
        self.commit(message_id, ciphertext[-block:])
        return ciphertext

    def decrypt(self, message_id: int, ciphertext: bytes) -> MessageCipher:
        """Decrypt a body; the IV moves on only when the caller commits ``next_iv``."""
        block = self.block_size
        if not ciphertext or len(ciphertext) % block:
            raise CryptoError(
                f"encrypted body of {len(ciphertext)} bytes is not a multiple of {block}"
            )
        dec = Cipher(self._algorithm, modes.CBC(self.iv(message_id))).decryptor()
        plaintext = dec.update(ciphertext) + dec.finalize()
        return MessageCipher(plaintext, ciphertext[-block:])
