"""EAP packets (RFC 3748 §4) as carried in the IKEv2 EAP payload (RFC 7296 §3.16).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Code      |  Identifier   |            Length             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |  Type-Data ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
                      EAP packet, RFC 3748 §4 (§4.1, §4.2)

Success and Failure (§4.2) are only the four header octets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ikeclient.errors import InvalidSyntax

__all__ = ["EapCode", "EapPacket", "EapType", "pull_eap_packet", "push_eap_packet"]

_HEADER = 4


class EapCode(IntEnum):
    """EAP Codes (RFC 3748 §4)."""

    REQUEST = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


class EapType(IntEnum):
    """EAP method Types used here (RFC 3748 §5, IANA "Method Types")."""

    IDENTITY = 1
    NOTIFICATION = 2
    NAK = 3  # Legacy Nak, Response only (RFC 3748 §5.3.1)
    MD5_CHALLENGE = 4
    GTC = 6
    TLS = 13  # RFC 5216
    TTLS = 21
    PEAP = 25
    MSCHAPV2 = 26  # draft-kamath-pppext-eap-mschapv2
    EXPANDED = 254


@dataclass(frozen=True, slots=True)
class EapPacket:
    """One EAP packet; ``type`` is None for Success and Failure."""

    code: int
    identifier: int
    type: int | None = None
    data: bytes = b""


def pull_eap_packet(data: bytes) -> EapPacket:
    """Parse an EAP packet; its Length must be the whole of ``data`` (RFC 3748 §4)."""
    if len(data) < _HEADER:
        raise InvalidSyntax(f"EAP packet of {len(data)} octets")
    code, identifier = data[0], data[1]
    length = int.from_bytes(data[2:4], "big")
    if length != len(data):
        raise InvalidSyntax(f"EAP Length {length} in {len(data)} octets")
    if code in (EapCode.SUCCESS, EapCode.FAILURE):
        if length != _HEADER:
            raise InvalidSyntax("EAP Success/Failure with data")
        return EapPacket(code, identifier)
    if code not in (EapCode.REQUEST, EapCode.RESPONSE):
        raise InvalidSyntax(f"EAP Code {code}")
    if length == _HEADER:
        raise InvalidSyntax("EAP Request/Response without a Type")
    return EapPacket(code, identifier, data[4], data[5:])


def push_eap_packet(packet: EapPacket) -> bytes:
    """Encode an EAP packet; Length is computed."""
    body = b"" if packet.type is None else bytes((packet.type,)) + packet.data
    length = _HEADER + len(body)
    if length > 0xFFFF:
        raise ValueError("EAP packet too long")
    return bytes((packet.code, packet.identifier)) + length.to_bytes(2, "big") + body
