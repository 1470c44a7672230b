"""Sources of random bytes, injected everywhere randomness is needed.

Nonces (RFC 7296 §2.10), SPIs, key exchange private values and IVs all come
from a :class:`RandomSource`, so a whole exchange can be replayed byte for
byte in tests with :class:`DeterministicRandomSource`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

__all__ = ["DeterministicRandomSource", "RandomSource", "SystemRandomSource"]


class RandomSource(Protocol):
    """Anything that returns ``n`` random bytes on demand."""

    def random_bytes(self, n: int) -> bytes:
        """Return exactly ``n`` bytes."""
        ...


class SystemRandomSource:
    """The operating system's CSPRNG (``secrets.token_bytes``, i.e. ``os.urandom``)."""

    __slots__ = ()

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes from the OS CSPRNG."""
        if n < 0:
            raise ValueError("n must be non-negative")
        return secrets.token_bytes(n)

    def __repr__(self) -> str:
        return "SystemRandomSource()"


class DeterministicRandomSource:
    """A reproducible stream for tests: HMAC-SHA-256(seed, counter) in counter mode.

    The same seed always gives the same stream, whatever the sizes of the
    individual requests. Never use it outside tests.
    """

    __slots__ = ("_buffer", "_counter", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0
        self._buffer = b""

    def random_bytes(self, n: int) -> bytes:
        """Return the next ``n`` bytes of the stream."""
        if n < 0:
            raise ValueError("n must be non-negative")
        chunks = [self._buffer]
        have = len(self._buffer)
        while have < n:
            block = hmac.digest(self._seed, self._counter.to_bytes(8, "big"), hashlib.sha256)
            self._counter += 1
            chunks.append(block)
            have += len(block)
        stream = b"".join(chunks)
        self._buffer = stream[n:]
        return stream[:n]

    def __repr__(self) -> str:
        return "DeterministicRandomSource(<seed>)"
