"""MD4 (RFC 1320), for the NT password hash of MS-CHAPv2 (RFC 2759 §8.3) and nothing else.

OpenSSL 3 moved MD4 to its legacy provider, which ``hashlib`` and ``cryptography``
do not load, so the few lines of RFC 1320 live here. MD4 is broken as a hash;
MS-CHAPv2 uses it because the protocol says so, never for anything else.
"""

from __future__ import annotations

import struct

__all__ = ["md4"]

_MASK = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def _compress(state: list[int], block: bytes) -> None:
    """One 64-byte block: rounds 1-3 of RFC 1320 §3.4."""
    x = struct.unpack("<16I", block)
    a, b, c, d = state
    # Round 1: F(X,Y,Z) = XY v not(X) Z; [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
    for k in range(0, 16, 4):
        a = _rotl((a + ((b & c) | (~b & d)) + x[k]) & _MASK, 3)
        d = _rotl((d + ((a & b) | (~a & c)) + x[k + 1]) & _MASK, 7)
        c = _rotl((c + ((d & a) | (~d & b)) + x[k + 2]) & _MASK, 11)
        b = _rotl((b + ((c & d) | (~c & a)) + x[k + 3]) & _MASK, 19)
    # Round 2: G(X,Y,Z) = XY v XZ v YZ; a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
    for k in range(4):
        a = _rotl((a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999) & _MASK, 3)
        d = _rotl((d + ((a & b) | (a & c) | (b & c)) + x[k + 4] + 0x5A827999) & _MASK, 5)
        c = _rotl((c + ((d & a) | (d & b) | (a & b)) + x[k + 8] + 0x5A827999) & _MASK, 9)
        b = _rotl((b + ((c & d) | (c & a) | (d & a)) + x[k + 12] + 0x5A827999) & _MASK, 13)
    # Round 3: H(X,Y,Z) = X xor Y xor Z; a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s
    for k in (0, 2, 1, 3):
        a = _rotl((a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1) & _MASK, 3)
        d = _rotl((d + (a ^ b ^ c) + x[k + 8] + 0x6ED9EBA1) & _MASK, 9)
        c = _rotl((c + (d ^ a ^ b) + x[k + 4] + 0x6ED9EBA1) & _MASK, 11)
        b = _rotl((b + (c ^ d ^ a) + x[k + 12] + 0x6ED9EBA1) & _MASK, 15)
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """The 16-byte MD4 digest of ``data`` (RFC 1320 §3)."""
    # §3.1-3.2: pad with 0x80, zeros to 56 mod 64, then the bit length (little endian).
    padded = data + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack("<Q", 8 * len(data))
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]  # §3.3
    for offset in range(0, len(padded), 64):
        _compress(state, padded[offset : offset + 64])
    return struct.pack("<4I", *state)
