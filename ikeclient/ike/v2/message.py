"""The IKEv2 message: IKE header plus payload chain (RFC 7296 §3.1, §3.2).

:func:`pull_message` parses a datagram (after any NAT-T non-ESP marker has
been removed) into a :class:`Message`; :func:`encode_message` builds one.  The
SK payload is kept raw here; :mod:`ikeclient.ike.v2.protection` decrypts it
and parses the inner chain with :func:`~ikeclient.ike.v2.payloads.pull_payload_chain`.

A header whose major version is not 2 raises :class:`InvalidMajorVersion`, a
subclass of :class:`~ikeclient.errors.InvalidSyntax` that carries the parsed
header and the INVALID_MAJOR_VERSION notify number, so the connection can
answer it (RFC 7296 §2.5: a higher major version SHOULD get an unauthenticated
INVALID_MAJOR_VERSION notify) or drop it, and every caller that only cares
about "malformed" still catches it as InvalidSyntax.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.v2.enums import HeaderFlag, NotifyType
from ikeclient.ike.v2.payloads import (
    NotifyPayload,
    Payload,
    pull_payload_chain,
    push_payload_chain,
)

__all__ = [
    "HEADER_SIZE",
    "IKE_MAJOR_VERSION",
    "IKE_MINOR_VERSION",
    "SPI_SIZE",
    "IkeHeader",
    "InvalidMajorVersion",
    "Message",
    "encode_message",
    "find_all",
    "find_notify",
    "find_payload",
    "pull_header",
    "pull_message",
    "push_header",
]

HEADER_SIZE = 28
SPI_SIZE = 8
IKE_MAJOR_VERSION = 2
IKE_MINOR_VERSION = 0

_P = TypeVar("_P")


@dataclass(frozen=True, slots=True)
class IkeHeader:
    """The IKE header (RFC 7296 §3.1); numbers stay ints, ``flags`` keeps every bit."""

    spi_i: bytes
    spi_r: bytes
    next_payload: int
    major_version: int
    minor_version: int
    exchange_type: int
    flags: int
    message_id: int
    length: int

    @property
    def is_response(self) -> bool:
        """The R (Response) flag (RFC 7296 §3.1)."""
        return bool(self.flags & HeaderFlag.RESPONSE)

    @property
    def is_initiator(self) -> bool:
        """The I (Initiator) flag: sent by the original initiator of the IKE SA (§3.1)."""
        return bool(self.flags & HeaderFlag.INITIATOR)


class InvalidMajorVersion(InvalidSyntax):
    """The header's major version is not 2 (RFC 7296 §2.5); ``header`` is what was parsed."""

    default_notify = int(NotifyType.INVALID_MAJOR_VERSION)

    def __init__(self, header: IkeHeader) -> None:
        super().__init__(f"IKE major version {header.major_version}, not {IKE_MAJOR_VERSION}")
        self.header = header


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed IKEv2 message: header and the outer payload chain."""

    header: IkeHeader
    payloads: tuple[Payload, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                       IKE SA Initiator's SPI                  |
# |                                                               |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                       IKE SA Responder's SPI                  |
# |                                                               |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                          Message ID                           |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                            Length                             |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                     IKE Header, RFC 7296 §3.1
def pull_header(data: bytes) -> IkeHeader:
    """Parse the IKE header at the start of a datagram (RFC 7296 §3.1).

    Raises InvalidSyntax if ``data`` is shorter than the header or the Length
    field disagrees with ``len(data)``, and :class:`InvalidMajorVersion` (an
    InvalidSyntax) if the major version is not 2; the version is checked
    before the length.  The minor version and reserved flag bits are kept
    but not judged (§2.5: ignore them).
    """
    if len(data) < HEADER_SIZE:
        raise InvalidSyntax(f"datagram of {len(data)} octets is shorter than the IKE header")
    buf = Buffer(data[:HEADER_SIZE])
    spi_i = buf.pull_bytes(SPI_SIZE)
    spi_r = buf.pull_bytes(SPI_SIZE)
    next_payload = buf.pull_uint8()
    version = buf.pull_uint8()
    exchange_type = buf.pull_uint8()
    flags = buf.pull_uint8()
    message_id = buf.pull_uint32()
    length = buf.pull_uint32()
    header = IkeHeader(
        spi_i=spi_i,
        spi_r=spi_r,
        next_payload=next_payload,
        major_version=version >> 4,
        minor_version=version & 0x0F,
        exchange_type=exchange_type,
        flags=flags,
        message_id=message_id,
        length=length,
    )
    if header.major_version != IKE_MAJOR_VERSION:
        raise InvalidMajorVersion(header)
    if length != len(data):
        raise InvalidSyntax(f"IKE header Length {length} in a datagram of {len(data)} octets")
    return header


def push_header(header: IkeHeader) -> bytes:
    """Encode an IKE header (RFC 7296 §3.1); ``length`` is written as given."""
    if len(header.spi_i) != SPI_SIZE or len(header.spi_r) != SPI_SIZE:
        raise ValueError("IKE SPIs are 8 octets")
    buf = Buffer()
    buf.push_bytes(header.spi_i)
    buf.push_bytes(header.spi_r)
    buf.push_uint8(header.next_payload)
    buf.push_uint8((header.major_version << 4) | header.minor_version)
    buf.push_uint8(header.exchange_type)
    buf.push_uint8(header.flags)
    buf.push_uint32(header.message_id)
    buf.push_uint32(header.length)
    return buf.data


def pull_message(data: bytes) -> Message:
    """Parse a whole IKEv2 message (RFC 7296 §3.1, §3.2).

    Raises InvalidSyntax (or its subclass InvalidMajorVersion) for anything
    malformed and UnsupportedCriticalPayload for an unknown critical payload.
    """
    header = pull_header(data)
    payloads = pull_payload_chain(data[HEADER_SIZE:], header.next_payload)
    return Message(header, payloads)


def encode_message(
    spi_i: bytes,
    spi_r: bytes,
    exchange_type: int,
    flags: int,
    message_id: int,
    payloads: Sequence[Payload],
) -> bytes:
    """Encode a message of version 2.0; Next Payload and Length are computed (§3.1)."""
    first, body = push_payload_chain(payloads)
    header = IkeHeader(
        spi_i=spi_i,
        spi_r=spi_r,
        next_payload=first,
        major_version=IKE_MAJOR_VERSION,
        minor_version=IKE_MINOR_VERSION,
        exchange_type=exchange_type,
        flags=flags,
        message_id=message_id,
        length=HEADER_SIZE + len(body),
    )
    return push_header(header) + body


def find_payload(payloads: Iterable[Payload], cls: type[_P]) -> _P | None:
    """The first payload of class ``cls``, or None."""
    for payload in payloads:
        if isinstance(payload, cls):
            return payload
    return None


def find_all(payloads: Iterable[Payload], cls: type[_P]) -> tuple[_P, ...]:
    """Every payload of class ``cls``, in message order."""
    return tuple(payload for payload in payloads if isinstance(payload, cls))


def find_notify(payloads: Iterable[Payload], notify_type: int) -> NotifyPayload | None:
    """The first Notify payload of type ``notify_type``, or None (RFC 7296 §3.10)."""
    for payload in payloads:
        if isinstance(payload, NotifyPayload) and payload.notify_type == notify_type:
            return payload
    return None
