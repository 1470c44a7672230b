"""Buffer: exact reads, block limits and length back-fill (aioquic-style, RFC 7296 §3.2)."""

from __future__ import annotations

import pytest

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.buffer import Buffer


def test_pull_integers_big_endian() -> None:
    buf = Buffer(bytes.fromhex("01 0203 04050607 08090a0b0c0d0e0f"))
    assert buf.pull_uint8() == 0x01
    assert buf.pull_uint16() == 0x0203
    assert buf.pull_uint32() == 0x04050607
    assert buf.pull_uint64() == 0x08090A0B0C0D0E0F
    assert buf.eof()
    assert buf.tell() == 15
    assert buf.remaining == 0


@pytest.mark.parametrize("method", ["pull_uint8", "pull_uint16", "pull_uint32", "pull_uint64"])
def test_pull_integer_short_read(method: str) -> None:
    with pytest.raises(InvalidSyntax):
        getattr(Buffer(b""), method)()


def test_pull_bytes_never_returns_fewer() -> None:
    buf = Buffer(b"abc")
    with pytest.raises(InvalidSyntax):
        buf.pull_bytes(4)
    assert buf.tell() == 0  # a failed read does not move
    assert buf.pull_bytes(3) == b"abc"
    assert buf.pull_bytes(0) == b""
    with pytest.raises(InvalidSyntax):
        buf.pull_bytes(-1)


def test_pull_rest() -> None:
    buf = Buffer(b"abcdef")
    buf.pull_bytes(2)
    assert buf.pull_rest() == b"cdef"
    assert buf.pull_rest() == b""


def test_pull_block_limits_reads() -> None:
    buf = Buffer(b"abcdef")
    with buf.pull_block(3):
        assert buf.remaining == 3
        assert buf.pull_rest() == b"abc"
        assert buf.eof()
    assert buf.remaining == 3
    assert buf.pull_rest() == b"def"


def test_pull_block_read_past_block_fails() -> None:
    buf = Buffer(b"abcdef")
    with pytest.raises(InvalidSyntax), buf.pull_block(2):
        buf.pull_bytes(3)


def test_pull_block_must_be_consumed_exactly() -> None:
    buf = Buffer(b"abcdef")
    with pytest.raises(InvalidSyntax, match="unparsed"), buf.pull_block(4):
        buf.pull_bytes(3)


def test_pull_block_longer_than_data() -> None:
    buf = Buffer(b"abc")
    with pytest.raises(InvalidSyntax, match="overruns"), buf.pull_block(4):
        pass  # pragma: no cover
    with pytest.raises(InvalidSyntax), buf.pull_block(-1):
        pass  # pragma: no cover


def test_nested_blocks() -> None:
    buf = Buffer(b"\x01\x02\x03\x04")
    with buf.pull_block(4):
        with buf.pull_block(2):
            assert buf.pull_uint16() == 0x0102
        with pytest.raises(InvalidSyntax), buf.pull_block(3):
            pass  # pragma: no cover
        assert buf.pull_uint16() == 0x0304


def test_push_integers_and_bytes() -> None:
    buf = Buffer()
    buf.push_uint8(1)
    buf.push_uint16(0x0203)
    buf.push_uint32(0x04050607)
    buf.push_uint64(0x08090A0B0C0D0E0F)
    buf.push_bytes(b"xy")
    assert buf.data == bytes.fromhex("01 0203 04050607 08090a0b0c0d0e0f") + b"xy"
    assert buf.write_offset == 17


def test_push_overflow() -> None:
    with pytest.raises(OverflowError):
        Buffer().push_uint8(256)
    with pytest.raises(OverflowError):
        Buffer().push_uint16(-1)


def test_push_length_counts_from_start() -> None:
    # A generic payload header: the length counts its own 4 bytes (RFC 7296 §3.2).
    buf = Buffer()
    buf.push_bytes(b"zz")
    start = buf.write_offset
    buf.push_uint8(40)
    buf.push_uint8(0)
    with buf.push_length(2, start=start):
        buf.push_bytes(b"12345")
    assert buf.data == b"zz" + bytes([40, 0, 0, 9]) + b"12345"


def test_push_length_default_counts_field_and_body() -> None:
    buf = Buffer()
    with buf.push_length(4):
        buf.push_bytes(b"ab")
    assert buf.data == b"\x00\x00\x00\x06ab"


def test_push_length_overflow() -> None:
    buf = Buffer()
    with pytest.raises(OverflowError), buf.push_length(1):
        buf.push_bytes(bytes(300))


def test_push_after_input() -> None:
    buf = Buffer(b"ab")
    assert buf.write_offset == 2
    start = buf.write_offset
    buf.push_uint8(7)
    with buf.push_length(1, start=start):
        buf.push_bytes(b"c")
    assert buf.data == b"ab\x07\x03c"
    assert buf.pull_bytes(2) == b"ab"
    assert buf.eof()  # pushed bytes are not pulled
