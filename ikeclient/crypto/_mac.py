"""Keyed MAC primitives shared by :mod:`.prf` and :mod:`.integ`.

Each MAC is prepared once for a key (subkeys derived, cipher objects built)
and then called per message:

* HMAC (RFC 2104) through the stdlib ``hmac`` module;
* AES-XCBC-MAC (RFC 3566 §4), built on one AES-CBC pass under K1;
* AES-CMAC (RFC 4493) through ``cryptography``'s CMAC.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ikeclient.errors import CryptoError

__all__ = ["AES_BLOCK", "MacFunction", "aes_cmac", "aes_xcbc", "hmac_mac"]

AES_BLOCK = 16
_ZERO_IV = bytes(AES_BLOCK)

MacFunction = Callable[[bytes], bytes]
"""A MAC bound to its key: message in, full-length tag out."""


def hmac_mac(key: bytes, digest: str) -> MacFunction:
    """Prepare HMAC (RFC 2104) with ``digest`` (a hashlib name) under ``key``."""
    base = hmac.new(key, digestmod=digest)

    def mac(data: bytes) -> bytes:
        h = base.copy()
        h.update(data)
        return h.digest()

    return mac


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def aes_xcbc(key: bytes) -> MacFunction:
    """Prepare AES-XCBC-MAC (RFC 3566 §4) under a 128-bit ``key``; returns the 128-bit MAC.

    K1, K2 and K3 are derived once (§4.2 steps 1); each message is then one
    AES-CBC encryption under K1 with a zero IV over the message whose last
    block has been padded and XORed with K2 or K3 (§4.2 steps 2-4).
    """
    if len(key) != AES_BLOCK:
        raise CryptoError("AES-XCBC-MAC needs a 128-bit key")
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - key derivation only
    k1 = ecb.update(b"\x01" * AES_BLOCK)
    k2 = ecb.update(b"\x02" * AES_BLOCK)
    k3 = ecb.update(b"\x03" * AES_BLOCK)
    k1_algorithm = algorithms.AES(k1)

    def mac(data: bytes) -> bytes:
        n = len(data)
        if n and n % AES_BLOCK == 0:
            head, last, sub = data[: n - AES_BLOCK], data[n - AES_BLOCK :], k2
        else:
            cut = n - n % AES_BLOCK
            head = data[:cut]
            tail = data[cut:]
            last = tail + b"\x80" + bytes(AES_BLOCK - 1 - len(tail))
            sub = k3
        enc = Cipher(k1_algorithm, modes.CBC(_ZERO_IV)).encryptor()
        out = enc.update(head + _xor(last, sub)) + enc.finalize()
        return out[-AES_BLOCK:]

    return mac


def aes_cmac(key: bytes) -> MacFunction:
    """Prepare AES-CMAC (RFC 4493) under a 128/192/256-bit ``key``; returns the 128-bit MAC."""
    try:
        base = cmac.CMAC(algorithms.AES(key))
    except ValueError as exc:
        raise CryptoError("invalid AES-CMAC key length") from exc

    def mac(data: bytes) -> bytes:
        c = base.copy()
        c.update(data)
        return c.finalize()

    return mac


def aes128_prf_key(
    key: bytes, mac_for_key: Callable[[bytes], MacFunction], pad_short: bool
) -> bytes:
    """Bring a PRF key of any length to the 128 bits the AES-based PRFs use.

    A 16-byte key is used as is. A longer key is first reduced with the MAC
    keyed with the all-zero 128-bit key (RFC 4434 §2, RFC 4615 §3). A shorter
    key is padded on the right with zeros for AES-XCBC-PRF-128 (RFC 4434 §2,
    ``pad_short``) but reduced with the MAC like a longer one for
    AES-CMAC-PRF-128 (RFC 4615 §3).
    """
    if len(key) == AES_BLOCK:
        return key
    if len(key) < AES_BLOCK and pad_short:
        return key + bytes(AES_BLOCK - len(key))
    return mac_for_key(bytes(AES_BLOCK))(key)
