"""The ESP anti-replay window (RFC 4303 §3.4.3, Appendix A for ESN).

Theory of operation
-------------------
The receiver remembers the highest sequence number it has *authenticated*,
``top``, and one bit for each of the ``size`` numbers ending at ``top``: set if
that number was already received. A number is acceptable when it is above
``top`` (the window slides) or inside the window with its bit clear. Anything
at or below ``top - size`` is too old.

The bitmap is a ring of 64-bit words, as in wireguard-go's ``replay`` package
(``replay.go``): number ``n`` lives in bit ``n % 64`` of word ``(n // 64) %
len(ring)``. Sliding forward clears only the words the window newly covers (at
most the whole ring, however big the jump), so both operations cost O(1) in
the common case and never shift a big bitmap. The ring holds one word more
than the window needs, so the word containing ``top`` may be partly in the
future without losing any bit of the window.

Checking and recording are separate on purpose (RFC 4303 §3.4.3, strongSwan
``libipsec/esp_packet.c``): :meth:`ReplayWindow.check` is read-only and runs
*before* the ICV is verified, to drop duplicates cheaply; :meth:`commit` runs
only *after* the ICV verified, so a forged packet can never move the window.

Extended Sequence Numbers (RFC 4304): only the low 32 bits travel. The
receiver reconstructs the high 32 bits from ``top`` and the window with the
algorithm of RFC 4303 Appendix A2.2 (:meth:`ReplayWindow.infer_esn`); the
guess is then authenticated because the high bits are part of the ICV input. A
wrong guess is indistinguishable from a forgery and is dropped as an ICV
failure (RFC 4303 Appendix A3 resynchronisation is not attempted).

Sequence number 0 is never valid: the sender starts at 1 (RFC 4303 §3.3.3).
"""

from __future__ import annotations

from typing import Final

__all__ = ["ReplayWindow"]

_WORD_BITS: Final = 64
_WORD_SHIFT: Final = 6
_BIT_MASK: Final = _WORD_BITS - 1
_U32: Final = 1 << 32
_LOW32: Final = _U32 - 1
_SEQ_MAX: Final = (1 << 64) - 1


class ReplayWindow:
    """A sliding anti-replay window of ``size`` packets over 64-bit sequence numbers.

    Used with 32-bit sequence numbers too (they are simply below 2^32).
    """

    __slots__ = ("_mask", "_ring", "size", "top")

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError("replay window size must be positive")
        self.size: int = size
        # Enough words for the window plus the partly-filled word holding top,
        # rounded up to a power of two so the index is a mask (wireguard-go).
        words = 1
        while words < (size + _WORD_BITS - 1) // _WORD_BITS + 1:
            words <<= 1
        self._ring: list[int] = [0] * words
        self._mask: int = words - 1
        self.top: int = 0
        """The highest authenticated sequence number so far (0 before the first)."""

    def check(self, seq: int) -> bool:
        """True when ``seq`` is new and inside or above the window. Read-only (RFC 4303 §3.4.3)."""
        top = self.top
        if seq > top:
            return seq <= _SEQ_MAX
        if seq <= 0 or top - seq >= self.size:
            return False
        return not (self._ring[(seq >> _WORD_SHIFT) & self._mask] >> (seq & _BIT_MASK)) & 1

    def commit(self, seq: int) -> bool:
        """Record an authenticated ``seq``; slide the window if it is above ``top``.

        Returns False (and changes nothing) when ``seq`` is not acceptable, so a
        caller that skipped :meth:`check` still cannot record a replay.
        """
        ring = self._ring
        mask = self._mask
        top = self.top
        if seq > top:
            if seq > _SEQ_MAX:
                return False
            word = seq >> _WORD_SHIFT
            current = top >> _WORD_SHIFT
            if word != current:
                # Clear the words the window newly covers, (current, word]; a jump
                # of a whole ring or more clears everything.
                if word - current >= len(ring):
                    ring = self._ring = [0] * len(ring)
                else:
                    for i in range(current + 1, word + 1):
                        ring[i & mask] = 0
            self.top = seq
        elif seq <= 0 or top - seq >= self.size:
            return False
        index = (seq >> _WORD_SHIFT) & mask
        bit = 1 << (seq & _BIT_MASK)
        if ring[index] & bit:
            return False
        ring[index] |= bit
        return True

    def infer_esn(self, seq_low: int) -> int:
        """The full 64-bit sequence number for the received low 32 bits (RFC 4303 Appendix A2.2).

        Returns -1 when the only candidate lies below 0 (necessarily a replay).
        """
        top = self.top
        top_high = top >> 32
        top_low = top & _LOW32
        window = self.size
        if top_low >= window - 1:
            # Case A: the window lies within one 2^32 sub-space.
            if seq_low >= top_low - window + 1:
                return (top_high << 32) | seq_low
            return ((top_high + 1) << 32) | seq_low
        # Case B: the window spans two sub-spaces.
        if seq_low >= (top_low - window + 1) & _LOW32:
            if top_high == 0:
                return -1
            return ((top_high - 1) << 32) | seq_low
        return (top_high << 32) | seq_low

    def reset(self, top: int) -> None:
        """Forget everything and start as if ``top`` had just been received (test hook)."""
        if not 0 <= top <= _SEQ_MAX:
            raise ValueError("sequence number out of range")
        self._ring = [0] * len(self._ring)
        self.top = top
        if top:
            self._ring[(top >> _WORD_SHIFT) & self._mask] = 1 << (top & _BIT_MASK)

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self.size}, top={self.top})"
