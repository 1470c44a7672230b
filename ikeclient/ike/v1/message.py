"""The ISAKMP message: header plus payload chain (RFC 2408 §3.1, §3.2).

:func:`pull_header` parses the fixed header; :func:`encode_message` builds a message from
payloads, encrypting the body when a :class:`~ikeclient.ike.v1.protection.CbcState` is given
(RFC 2408 §3.1 E flag: everything after the header is encrypted; the header's Length counts
the padded ciphertext).  Decryption lives in :mod:`ikeclient.ike.v1.protection`, because it
needs the IV of the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.v1.enums import HeaderFlag, NotifyType
from ikeclient.ike.v1.payloads import NotifyPayload, Payload

__all__ = [
    "COOKIE_SIZE",
    "HEADER_SIZE",
    "IsakmpHeader",
    "Message",
    "find_all",
    "find_notify",
    "find_payload",
    "pull_header",
    "push_header",
]

HEADER_SIZE = 28
COOKIE_SIZE = 8
MAJOR_VERSION = 1
MINOR_VERSION = 0
MAX_MESSAGE = 65535

_P = TypeVar("_P")


@dataclass(frozen=True, slots=True)
class IsakmpHeader:
    """The ISAKMP header (RFC 2408 §3.1); numbers stay ints."""

    cky_i: bytes
    cky_r: bytes
    next_payload: int
    major_version: int
    minor_version: int
    exchange_type: int
    flags: int
    message_id: int
    length: int

    @property
    def encrypted(self) -> bool:
        """The E (Encryption) flag (RFC 2408 §3.1)."""
        return bool(self.flags & HeaderFlag.ENCRYPTION)


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed ISAKMP message: header, the (decrypted) payloads and their raw body.

    ``body`` is the plaintext payload chain as sent (padding removed), and ``spans`` the
    (start, end) offset of each payload in it, for the HASH computations of RFC 2409.
    """

    header: IsakmpHeader
    payloads: tuple[Payload, ...]
    body: bytes
    spans: tuple[tuple[int, int], ...]

    def after(self, index: int) -> bytes:
        """The raw bytes of every payload after payload ``index`` (padding excluded)."""
        if index + 1 >= len(self.spans):
            return b""
        return self.body[self.spans[index + 1][0] : self.spans[-1][1]]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !                          Initiator                            !
# !                            Cookie                             !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !                          Responder                            !
# !                            Cookie                             !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !                          Message ID                           !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !                            Length                             !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                    ISAKMP Header, RFC 2408 §3.1
def pull_header(data: bytes) -> IsakmpHeader:
    """Parse the ISAKMP header of a datagram (RFC 2408 §3.1).

    Raises InvalidSyntax if the datagram is shorter than the header, the major version is
    not 1 (RFC 2408 §5.1: INVALID-MAJOR-VERSION), or Length disagrees with the datagram.
    """
    if len(data) < HEADER_SIZE:
        raise InvalidSyntax(f"datagram of {len(data)} octets is shorter than the ISAKMP header")
    buf = Buffer(data[:HEADER_SIZE])
    cky_i = buf.pull_bytes(COOKIE_SIZE)
    cky_r = buf.pull_bytes(COOKIE_SIZE)
    next_payload = buf.pull_uint8()
    version = buf.pull_uint8()
    exchange_type = buf.pull_uint8()
    flags = buf.pull_uint8()
    message_id = buf.pull_uint32()
    length = buf.pull_uint32()
    if version >> 4 != MAJOR_VERSION:
        raise InvalidSyntax(
            f"ISAKMP major version {version >> 4}, not {MAJOR_VERSION}",
            int(NotifyType.INVALID_MAJOR_VERSION),
        )
    if length != len(data):
        raise InvalidSyntax(f"ISAKMP Length {length} in a datagram of {len(data)} octets")
    return IsakmpHeader(
        cky_i,
        cky_r,
        next_payload,
        version >> 4,
        version & 0x0F,
        exchange_type,
        flags,
        message_id,
        length,
    )


def push_header(
    cky_i: bytes,
    cky_r: bytes,
    next_payload: int,
    exchange_type: int,
    flags: int,
    message_id: int,
    length: int,
) -> bytes:
    """Encode an ISAKMP header of version 1.0 (RFC 2408 §3.1)."""
    if len(cky_i) != COOKIE_SIZE or len(cky_r) != COOKIE_SIZE:
        raise ValueError("ISAKMP cookies are 8 octets")
    buf = Buffer()
    buf.push_bytes(cky_i)
    buf.push_bytes(cky_r)
    buf.push_uint8(next_payload)
    buf.push_uint8((MAJOR_VERSION << 4) | MINOR_VERSION)
    buf.push_uint8(exchange_type)
    buf.push_uint8(flags)
    buf.push_uint32(message_id)
    buf.push_uint32(length)
    return buf.data


def find_payload(payloads: Iterable[Payload], cls: type[_P]) -> _P | None:
    """The first payload of class ``cls``, or None."""
    for payload in payloads:
        if isinstance(payload, cls):
            return payload
    return None


def find_all(payloads: Iterable[Payload], cls: type[_P]) -> tuple[_P, ...]:
    """Every payload of class ``cls``, in message order."""
    return tuple(p for p in payloads if isinstance(p, cls))


def find_notify(payloads: Iterable[Payload], notify_type: int) -> NotifyPayload | None:
    """The first Notification payload of type ``notify_type``, or None."""
    for p in payloads:
        if isinstance(p, NotifyPayload) and p.notify_type == notify_type:
            return p
    return None
