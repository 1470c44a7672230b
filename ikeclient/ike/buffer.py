"""A byte buffer for the IKE codecs (IKEv2 now, IKEv1 later).

Modelled on aioquic's ``Buffer`` and its ``pull_block``/``push_block`` helpers
(``src/aioquic/buffer.py``, ``src/aioquic/tls.py``):

* The pull side reads big-endian integers and byte strings from a read
  position.  A short read raises :class:`~ikeclient.errors.InvalidSyntax`; a
  pull never returns fewer bytes than asked for.
* :meth:`Buffer.pull_block` limits reads to a declared length (a payload body,
  a proposal, a transform, ...) and insists that the parser consumed exactly
  that block, so a length field that lies is always caught.
* The push side appends to the end of the buffer.
  :meth:`Buffer.push_length` reserves a length field and back-fills it when
  the block is done; the length counts from a chosen start offset, which is
  how the IKE generic payload header (RFC 7296 §3.2) counts its own 4 bytes.

Network byte order throughout (RFC 7296 §3.1: "all multi-octet fields ... are
sent in network byte order").  Reads use :func:`struct.unpack_from` on the
underlying buffer: no per-byte loops, no copies for integers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

from ikeclient.errors import InvalidSyntax

__all__ = ["Buffer"]

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_LENGTH_STRUCTS = {1: _U8, 2: _U16, 4: _U32, 8: _U64}


class Buffer:
    """A read position over some bytes plus an append-only write side.

    ``Buffer(data)`` parses ``data``; ``Buffer()`` builds a new encoding.
    Pulls read ``data`` from :meth:`tell`; pushes append after it, and
    :attr:`data` is the input followed by everything pushed.
    """

    __slots__ = ("_data", "_end", "_out", "_pos")

    def __init__(self, data: bytes = b"") -> None:
        # Pulls read the immutable input (slicing bytes copies once); pushes
        # append to a separate bytearray, logically after the input.
        self._data = bytes(data)
        self._out = bytearray()
        self._pos = 0
        # Reads may not go past _end; pull_block narrows it temporarily.
        self._end = len(self._data)

    # ------------------------------------------------------------------ pull

    @property
    def remaining(self) -> int:
        """Bytes left to read in the current block (or the whole buffer)."""
        return self._end - self._pos

    def eof(self) -> bool:
        """True when the current block (or the whole buffer) is fully read."""
        return self._pos >= self._end

    def tell(self) -> int:
        """The read position, an offset from the start of the buffer."""
        return self._pos

    def _need(self, n: int) -> int:
        pos = self._pos
        if n < 0 or pos + n > self._end:
            raise InvalidSyntax(
                f"short read: need {n} bytes at offset {pos}, have {self._end - pos}"
            )
        self._pos = pos + n
        return pos

    def pull_uint8(self) -> int:
        """Read one octet."""
        pos = self._need(1)
        return self._data[pos]

    def pull_uint16(self) -> int:
        """Read a big-endian 16-bit unsigned integer."""
        pos = self._need(2)
        return int(_U16.unpack_from(self._data, pos)[0])

    def pull_uint32(self) -> int:
        """Read a big-endian 32-bit unsigned integer."""
        pos = self._need(4)
        return int(_U32.unpack_from(self._data, pos)[0])

    def pull_uint64(self) -> int:
        """Read a big-endian 64-bit unsigned integer."""
        pos = self._need(8)
        return int(_U64.unpack_from(self._data, pos)[0])

    def pull_bytes(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; raise InvalidSyntax if fewer are left."""
        pos = self._need(n)
        return self._data[pos : pos + n]

    def pull_rest(self) -> bytes:
        """Read everything left in the current block (possibly nothing)."""
        return self.pull_bytes(self._end - self._pos)

    @contextmanager
    def pull_block(self, length: int) -> Iterator[int]:
        """Limit reads to the next ``length`` bytes; yield ``length``.

        Raises InvalidSyntax if fewer than ``length`` bytes are left, or if the
        body of the ``with`` did not consume the block exactly.
        """
        start = self._pos
        if length < 0 or start + length > self._end:
            raise InvalidSyntax(
                f"block of {length} bytes at offset {start} overruns its container "
                f"({self._end - start} bytes left)"
            )
        outer_end = self._end
        self._end = start + length
        try:
            yield length
            if self._pos != self._end:
                raise InvalidSyntax(
                    f"block of {length} bytes at offset {start} has "
                    f"{self._end - self._pos} unparsed trailing bytes"
                )
        finally:
            self._end = outer_end

    # ------------------------------------------------------------------ push

    @property
    def data(self) -> bytes:
        """Everything in the buffer (what was given plus what was pushed)."""
        return self._data + self._out if self._data else bytes(self._out)

    def push_uint8(self, value: int) -> None:
        """Append one octet (OverflowError if it does not fit)."""
        self._out += value.to_bytes(1, "big")

    def push_uint16(self, value: int) -> None:
        """Append a big-endian 16-bit unsigned integer."""
        self._out += value.to_bytes(2, "big")

    def push_uint32(self, value: int) -> None:
        """Append a big-endian 32-bit unsigned integer."""
        self._out += value.to_bytes(4, "big")

    def push_uint64(self, value: int) -> None:
        """Append a big-endian 64-bit unsigned integer."""
        self._out += value.to_bytes(8, "big")

    def push_bytes(self, value: bytes) -> None:
        """Append raw bytes."""
        self._out += value

    @property
    def write_offset(self) -> int:
        """Where the next push goes (the length of the buffer)."""
        return len(self._data) + len(self._out)

    @contextmanager
    def push_length(self, size: int = 2, start: int | None = None) -> Iterator[None]:
        """Reserve a ``size``-byte length field here and back-fill it on exit.

        The stored length is the number of bytes from ``start`` (an offset from
        :attr:`write_offset`; default: the length field itself) to the end of
        what the ``with`` body pushed.  For the generic payload header (RFC 7296
        §3.2), pass the offset of the header's first byte so the length counts
        its own 4 bytes.  OverflowError if the length does not fit.
        """
        fmt = _LENGTH_STRUCTS[size]
        field_at = len(self._out)
        begin = self.write_offset if start is None else start
        self._out += bytes(size)
        yield
        length = self.write_offset - begin
        if length >= 1 << (8 * size):
            raise OverflowError(f"length {length} does not fit in {size} bytes")
        fmt.pack_into(self._out, field_at, length)
