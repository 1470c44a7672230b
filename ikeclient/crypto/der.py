"""The little DER (ITU-T X.690 §10) that RFC 7427 AlgorithmIdentifiers need.

RFC 7427 §3 puts an ASN.1 AlgorithmIdentifier (RFC 5280 §4.1.1.2) in front of
the signature; the RSASSA-PSS parameters (RFC 4055 §3.1) nest a few more
SEQUENCEs, context tags, OIDs and INTEGERs. ``cryptography`` has no public
parser for a bare AlgorithmIdentifier, so this module reads and writes just
those types. Reading is strict: definite, minimally encoded lengths, no bytes
left over; anything else raises :class:`~ikeclient.errors.CryptoError`.
"""

from __future__ import annotations

from ikeclient.errors import CryptoError

__all__ = [
    "INTEGER",
    "NULL",
    "OBJECT_IDENTIFIER",
    "SEQUENCE",
    "DerReader",
    "context",
    "decode_oid",
    "encode_integer",
    "encode_oid",
    "tlv",
]

INTEGER = 0x02
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30


def context(number: int) -> int:
    """The tag of a constructed context-specific [number] (EXPLICIT tagging)."""
    return 0xA0 | number


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content (X.690 §8.1.3)."""
    n = len(content)
    if n < 0x80:
        length = bytes((n,))
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes((0x80 | len(raw),)) + raw
    return bytes((tag,)) + length + content


def encode_oid(dotted: str) -> bytes:
    """The DER content octets of an OBJECT IDENTIFIER (X.690 §8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_oid(content: bytes) -> str:
    """The dotted form of OBJECT IDENTIFIER content octets (X.690 §8.19)."""
    if not content or content[-1] & 0x80:
        raise CryptoError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    starting = True
    for octet in content:
        if starting and octet == 0x80:
            raise CryptoError("OBJECT IDENTIFIER arc with a leading 0x80")
        value = (value << 7) | (octet & 0x7F)
        starting = not octet & 0x80
        if starting:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_integer(value: int) -> bytes:
    """The DER content octets of a non-negative INTEGER (X.690 §8.3)."""
    if value < 0:
        raise ValueError("only non-negative integers")
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


class DerReader:
    """Reads DER elements one after another from a byte string."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def peek_tag(self) -> int | None:
        """The tag of the next element, or None at the end."""
        return self._data[self._pos] if not self.at_end() else None

    def read(self, tag: int) -> bytes:
        """The content of the next element, which must carry ``tag``."""
        data, pos = self._data, self._pos
        if pos + 2 > len(data):
            raise CryptoError("truncated DER element")
        if data[pos] != tag:
            raise CryptoError(f"DER tag 0x{data[pos]:02x} where 0x{tag:02x} was expected")
        first = data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise CryptoError("unsupported DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            if length < 0x80 or data[pos] == 0:
                raise CryptoError("DER length not minimally encoded")
            pos += count
        if pos + length > len(data):
            raise CryptoError("DER element runs past its container")
        self._pos = pos + length
        return data[pos : pos + length]

    def read_integer(self) -> int:
        """A non-negative INTEGER (X.690 §8.3), minimally encoded."""
        content = self.read(INTEGER)
        if not content or content[0] & 0x80:
            raise CryptoError("negative or empty INTEGER")
        if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
            raise CryptoError("INTEGER not minimally encoded")
        return int.from_bytes(content, "big")

    def read_oid(self) -> str:
        return decode_oid(self.read(OBJECT_IDENTIFIER))

    def finish(self) -> None:
        """Insist that nothing is left."""
        if not self.at_end():
            raise CryptoError("trailing bytes after a DER element")
