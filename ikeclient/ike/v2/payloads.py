"""IKEv2 payloads: one frozen dataclass and one ``pull_x``/``push_x`` pair each (RFC 7296 §3).

Every payload starts with the generic payload header (RFC 7296 §3.2), which
:func:`pull_payload_chain` and :func:`push_payload_chain` handle; the per-payload
functions see only the body after it.  ``pull_x(buf, length)`` is called inside
``buf.pull_block(length)``, so a parser that reads too little or too much is an
:class:`~ikeclient.errors.InvalidSyntax`, never a silent misparse.
``push_x(buf, payload)`` appends the body.

Rules that hold across this module:

* Numbers that come from the wire and may be unknown (transform IDs, notify
  types, protocol IDs, ...) stay plain ``int``; compare them with the enums.
* Reserved fields and reserved bits are written as zero and ignored on receipt
  (RFC 7296 §3.2 "MUST be sent as zero; MUST be ignored on receipt").
* An unknown payload type is kept as :class:`UnknownPayload`, unless its
  critical bit is set: then :class:`~ikeclient.errors.UnsupportedCriticalPayload`
  (RFC 7296 §2.5).  The critical bit of a payload we understand is ignored.
* Unknown Traffic Selector types are rejected with InvalidSyntax: their layout
  is type-specific (TS_SECLABEL has no ports or addresses), and a responder may
  only return types the initiator offered, which are IPv4/IPv6 ranges here.
* Push functions trust their caller: a value that does not fit its field
  raises ValueError or OverflowError (a bug on our side, not a peer's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from ikeclient.crypto.transforms import TransformAttributeType
from ikeclient.errors import InvalidSyntax, UnsupportedCriticalPayload
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.v2.enums import PayloadType, ProtocolId, TsType

__all__ = [
    "PAYLOAD_CODECS",
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "ConfigAttribute",
    "CpPayload",
    "DeletePayload",
    "EapPayload",
    "IdiPayload",
    "IdrPayload",
    "KePayload",
    "NoncePayload",
    "NotifyPayload",
    "Payload",
    "PayloadCodec",
    "Proposal",
    "SaPayload",
    "SkPayload",
    "SkfPayload",
    "TrafficSelector",
    "Transform",
    "TransformAttribute",
    "TsiPayload",
    "TsrPayload",
    "UnknownPayload",
    "VendorIdPayload",
    "payload_type_of",
    "pull_payload_chain",
    "push_payload",
    "push_payload_chain",
]

GENERIC_HEADER_SIZE = 4
_CRITICAL = 0x80
_ATTRIBUTE_FORMAT_TV = 0x8000
_ATTRIBUTE_TYPE_MASK = 0x7FFF
_LAST_PROPOSAL, _MORE_PROPOSALS = 0, 2
_LAST_TRANSFORM, _MORE_TRANSFORMS = 0, 3
_NONCE_MIN, _NONCE_MAX = 16, 256
_IKE_SPI_SIZE_IN_DELETE = 0
_CHILD_SPI_SIZE = 4
_TS_HEADER_SIZE = 8
_TS_ADDRESS_SIZE: dict[int, int] = {TsType.TS_IPV4_ADDR_RANGE: 4, TsType.TS_IPV6_ADDR_RANGE: 16}
_EAP_HEADER_SIZE = 4
_EAP_REQUEST, _EAP_RESPONSE = 1, 2


# --------------------------------------------------------------------- SA


@dataclass(frozen=True, slots=True)
class TransformAttribute:
    """A Transform Attribute (RFC 7296 §3.3.5).

    ``value`` is an ``int`` for the TV form (AF bit set, 16-bit value) and
    ``bytes`` for the TLV form (AF bit clear).
    """

    type: int
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Transform:
    """A Transform Substructure (RFC 7296 §3.3.2); ``type``/``id`` are raw ints."""

    type: int
    id: int
    attributes: tuple[TransformAttribute, ...] = ()

    @property
    def key_length(self) -> int | None:
        """The KEY_LENGTH attribute in bits (RFC 7296 §3.3.5), or None if absent."""
        for attribute in self.attributes:
            is_key_length = attribute.type == TransformAttributeType.KEY_LENGTH
            if is_key_length and isinstance(attribute.value, int):
                return attribute.value
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A Proposal Substructure (RFC 7296 §3.3.1)."""

    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]


@dataclass(frozen=True, slots=True)
class SaPayload:
    """Security Association payload (RFC 7296 §3.3)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.SA
    proposals: tuple[Proposal, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |A|       Attribute Type        |    AF=0  Attribute Length     |
# |F|                             |    AF=1  Attribute Value      |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                   AF=0  Attribute Value                       |
# |                   AF=1  Not Transmitted                       |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                 Data Attributes, RFC 7296 §3.3.5
def pull_transform_attribute(buf: Buffer) -> TransformAttribute:
    """Read one Transform Attribute, TV or TLV form (RFC 7296 §3.3.5)."""
    word = buf.pull_uint16()
    type_ = word & _ATTRIBUTE_TYPE_MASK
    if word & _ATTRIBUTE_FORMAT_TV:
        return TransformAttribute(type_, buf.pull_uint16())
    return TransformAttribute(type_, buf.pull_bytes(buf.pull_uint16()))


def push_transform_attribute(buf: Buffer, attribute: TransformAttribute) -> None:
    """Write one Transform Attribute (RFC 7296 §3.3.5)."""
    if not 0 <= attribute.type <= _ATTRIBUTE_TYPE_MASK:
        raise ValueError(f"attribute type {attribute.type} does not fit 15 bits")
    if isinstance(attribute.value, int):
        buf.push_uint16(_ATTRIBUTE_FORMAT_TV | attribute.type)
        buf.push_uint16(attribute.value)
    else:
        buf.push_uint16(attribute.type)
        buf.push_uint16(len(attribute.value))
        buf.push_bytes(attribute.value)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Last Substruc |   RESERVED    |        Transform Length       |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |Transform Type |   RESERVED    |          Transform ID         |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                      Transform Attributes                     ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Transform Substructure, RFC 7296 §3.3.2
def _pull_transform(buf: Buffer) -> tuple[bool, Transform]:
    """Read one Transform Substructure; return (is_last, transform)."""
    last = buf.pull_uint8()
    if last not in (_LAST_TRANSFORM, _MORE_TRANSFORMS):
        raise InvalidSyntax(f"transform Last Substruc is {last}, not 0 or 3")
    buf.pull_uint8()
    length = buf.pull_uint16()
    if length < 8:
        raise InvalidSyntax(f"transform length {length} is below 8")
    with buf.pull_block(length - 4):
        type_ = buf.pull_uint8()
        buf.pull_uint8()
        id_ = buf.pull_uint16()
        attributes = []
        while not buf.eof():
            attributes.append(pull_transform_attribute(buf))
    return last == _LAST_TRANSFORM, Transform(type_, id_, tuple(attributes))


def _push_transform(buf: Buffer, transform: Transform, is_last: bool) -> None:
    start = buf.write_offset
    buf.push_uint8(_LAST_TRANSFORM if is_last else _MORE_TRANSFORMS)
    buf.push_uint8(0)
    with buf.push_length(2, start=start):
        buf.push_uint8(transform.type)
        buf.push_uint8(0)
        buf.push_uint16(transform.id)
        for attribute in transform.attributes:
            push_transform_attribute(buf, attribute)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Last Substruc |   RESERVED    |         Proposal Length       |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                        SPI (variable)                         ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                        <Transforms>                           ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Proposal Substructure, RFC 7296 §3.3.1
def _pull_proposal(buf: Buffer) -> tuple[bool, Proposal]:
    """Read one Proposal Substructure; return (is_last, proposal)."""
    last = buf.pull_uint8()
    if last not in (_LAST_PROPOSAL, _MORE_PROPOSALS):
        raise InvalidSyntax(f"proposal Last Substruc is {last}, not 0 or 2")
    buf.pull_uint8()
    length = buf.pull_uint16()
    if length < 8:
        raise InvalidSyntax(f"proposal length {length} is below 8")
    with buf.pull_block(length - 4):
        number = buf.pull_uint8()
        protocol = buf.pull_uint8()
        spi_size = buf.pull_uint8()
        count = buf.pull_uint8()
        spi = buf.pull_bytes(spi_size)
        transforms = []
        transform_last = count == 0
        while not buf.eof():
            if transform_last:
                raise InvalidSyntax("data after the last transform of a proposal")
            transform_last, transform = _pull_transform(buf)
            transforms.append(transform)
        if not transform_last:
            raise InvalidSyntax("the last transform of a proposal is not marked last")
        if len(transforms) != count:
            raise InvalidSyntax(f"proposal announces {count} transforms, carries {len(transforms)}")
    return last == _LAST_PROPOSAL, Proposal(number, protocol, spi, tuple(transforms))


def _push_proposal(buf: Buffer, proposal: Proposal, is_last: bool) -> None:
    start = buf.write_offset
    buf.push_uint8(_LAST_PROPOSAL if is_last else _MORE_PROPOSALS)
    buf.push_uint8(0)
    with buf.push_length(2, start=start):
        buf.push_uint8(proposal.number)
        buf.push_uint8(proposal.protocol)
        buf.push_uint8(len(proposal.spi))
        buf.push_uint8(len(proposal.transforms))
        buf.push_bytes(proposal.spi)
        for i, transform in enumerate(proposal.transforms):
            _push_transform(buf, transform, i == len(proposal.transforms) - 1)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                          <Proposals>                          ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#           Security Association Payload, RFC 7296 §3.3
def pull_sa(buf: Buffer, length: int) -> SaPayload:
    """Read an SA payload body: one or more proposals (RFC 7296 §3.3)."""
    proposals = []
    last = False
    while not buf.eof():
        if last:
            raise InvalidSyntax("data after the last proposal of an SA payload")
        last, proposal = _pull_proposal(buf)
        proposals.append(proposal)
    if not proposals:
        raise InvalidSyntax("SA payload without proposals")
    if not last:
        raise InvalidSyntax("the last proposal of an SA payload is not marked last")
    return SaPayload(tuple(proposals))


def push_sa(buf: Buffer, payload: SaPayload) -> None:
    """Write an SA payload body (RFC 7296 §3.3)."""
    for i, proposal in enumerate(payload.proposals):
        _push_proposal(buf, proposal, i == len(payload.proposals) - 1)


# --------------------------------------------------------------------- KE


@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange payload (RFC 7296 §3.4)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.KE
    group: int
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |   Diffie-Hellman Group Num    |           RESERVED            |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                       Key Exchange Data                       ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Key Exchange Payload, RFC 7296 §3.4
def pull_ke(buf: Buffer, length: int) -> KePayload:
    """Read a KE payload body (RFC 7296 §3.4)."""
    group = buf.pull_uint16()
    buf.pull_uint16()
    return KePayload(group, buf.pull_rest())


def push_ke(buf: Buffer, payload: KePayload) -> None:
    """Write a KE payload body (RFC 7296 §3.4)."""
    buf.push_uint16(payload.group)
    buf.push_uint16(0)
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- ID


@dataclass(frozen=True, slots=True)
class IdiPayload:
    """Identification - Initiator payload (RFC 7296 §3.5)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.IDI
    id_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class IdrPayload:
    """Identification - Responder payload (RFC 7296 §3.5)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.IDR
    id_type: int
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |   ID Type     |                 RESERVED                      |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                   Identification Data                         ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Identification Payload, RFC 7296 §3.5
def _pull_identification(buf: Buffer) -> tuple[int, bytes]:
    id_type = buf.pull_uint8()
    buf.pull_bytes(3)
    return id_type, buf.pull_rest()


def _push_identification(buf: Buffer, id_type: int, data: bytes) -> None:
    buf.push_uint8(id_type)
    buf.push_bytes(b"\x00\x00\x00")
    buf.push_bytes(data)


def pull_idi(buf: Buffer, length: int) -> IdiPayload:
    """Read an IDi payload body (RFC 7296 §3.5)."""
    return IdiPayload(*_pull_identification(buf))


def push_idi(buf: Buffer, payload: IdiPayload) -> None:
    """Write an IDi payload body (RFC 7296 §3.5)."""
    _push_identification(buf, payload.id_type, payload.data)


def pull_idr(buf: Buffer, length: int) -> IdrPayload:
    """Read an IDr payload body (RFC 7296 §3.5)."""
    return IdrPayload(*_pull_identification(buf))


def push_idr(buf: Buffer, payload: IdrPayload) -> None:
    """Write an IDr payload body (RFC 7296 §3.5)."""
    _push_identification(buf, payload.id_type, payload.data)


# --------------------------------------------------------------------- CERT, CERTREQ


@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate payload (RFC 7296 §3.6)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.CERT
    encoding: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CertReqPayload:
    """Certificate Request payload (RFC 7296 §3.7); ``data`` is the CA hashes."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.CERTREQ
    encoding: int
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Cert Encoding |                                               |
# +-+-+-+-+-+-+-+-+                                               |
# ~        Certificate Data (CERT) / Certification Authority      ~
# |                          (CERTREQ)                            |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#     Certificate Payload, RFC 7296 §3.6; Certificate Request, §3.7
def pull_cert(buf: Buffer, length: int) -> CertPayload:
    """Read a CERT payload body (RFC 7296 §3.6)."""
    return CertPayload(buf.pull_uint8(), buf.pull_rest())


def push_cert(buf: Buffer, payload: CertPayload) -> None:
    """Write a CERT payload body (RFC 7296 §3.6)."""
    buf.push_uint8(payload.encoding)
    buf.push_bytes(payload.data)


def pull_certreq(buf: Buffer, length: int) -> CertReqPayload:
    """Read a CERTREQ payload body (RFC 7296 §3.7)."""
    return CertReqPayload(buf.pull_uint8(), buf.pull_rest())


def push_certreq(buf: Buffer, payload: CertReqPayload) -> None:
    """Write a CERTREQ payload body (RFC 7296 §3.7)."""
    buf.push_uint8(payload.encoding)
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- AUTH


@dataclass(frozen=True, slots=True)
class AuthPayload:
    """Authentication payload (RFC 7296 §3.8)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.AUTH
    method: int
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Auth Method   |                RESERVED                       |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                      Authentication Data                      ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Authentication Payload, RFC 7296 §3.8
def pull_auth(buf: Buffer, length: int) -> AuthPayload:
    """Read an AUTH payload body (RFC 7296 §3.8)."""
    method = buf.pull_uint8()
    buf.pull_bytes(3)
    return AuthPayload(method, buf.pull_rest())


def push_auth(buf: Buffer, payload: AuthPayload) -> None:
    """Write an AUTH payload body (RFC 7296 §3.8)."""
    buf.push_uint8(payload.method)
    buf.push_bytes(b"\x00\x00\x00")
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- Nonce


@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce payload (RFC 7296 §3.9); 16 to 256 octets on the wire."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NONCE
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                            Nonce Data                         ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                   Nonce Payload, RFC 7296 §3.9
def pull_nonce(buf: Buffer, length: int) -> NoncePayload:
    """Read a Nonce payload body; its size MUST be 16..256 octets (RFC 7296 §3.9)."""
    if not _NONCE_MIN <= length <= _NONCE_MAX:
        raise InvalidSyntax(f"nonce of {length} octets, not {_NONCE_MIN}..{_NONCE_MAX}")
    return NoncePayload(buf.pull_rest())


def push_nonce(buf: Buffer, payload: NoncePayload) -> None:
    """Write a Nonce payload body (RFC 7296 §3.9)."""
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- Notify


@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notify payload (RFC 7296 §3.10); ``notify_type`` stays an int."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NOTIFY
    protocol: int
    spi: bytes
    notify_type: int
    data: bytes = b""


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |  Protocol ID  |   SPI Size    |      Notify Message Type      |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                Security Parameter Index (SPI)                 ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                       Notification Data                       ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                  Notify Payload, RFC 7296 §3.10
def pull_notify(buf: Buffer, length: int) -> NotifyPayload:
    """Read a Notify payload body (RFC 7296 §3.10)."""
    protocol = buf.pull_uint8()
    spi_size = buf.pull_uint8()
    notify_type = buf.pull_uint16()
    spi = buf.pull_bytes(spi_size)
    return NotifyPayload(protocol, spi, notify_type, buf.pull_rest())


def push_notify(buf: Buffer, payload: NotifyPayload) -> None:
    """Write a Notify payload body (RFC 7296 §3.10)."""
    buf.push_uint8(payload.protocol)
    buf.push_uint8(len(payload.spi))
    buf.push_uint16(payload.notify_type)
    buf.push_bytes(payload.spi)
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- Delete


@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete payload (RFC 7296 §3.11).

    The SPI size is not stored: it is 0 for IKE (the SA is the one the message
    travels on, so ``spis`` is empty) and 4 for AH and ESP.  For other protocol
    numbers all SPIs must have one common size.
    """

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.DELETE
    protocol: int
    spis: tuple[bytes, ...] = ()


def _delete_spi_size(protocol: int) -> int | None:
    if protocol == ProtocolId.IKE:
        return _IKE_SPI_SIZE_IN_DELETE
    if protocol in (ProtocolId.AH, ProtocolId.ESP):
        return _CHILD_SPI_SIZE
    return None


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Protocol ID   |   SPI Size    |          Num of SPIs          |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~               Security Parameter Index(es) (SPI)              ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                   Delete Payload, RFC 7296 §3.11
def pull_delete(buf: Buffer, length: int) -> DeletePayload:
    """Read a Delete payload body; check SPI size against the protocol (RFC 7296 §3.11)."""
    protocol = buf.pull_uint8()
    spi_size = buf.pull_uint8()
    count = buf.pull_uint16()
    expected = _delete_spi_size(protocol)
    if expected is not None and spi_size != expected:
        raise InvalidSyntax(f"Delete for protocol {protocol} with SPI size {spi_size}")
    if protocol == ProtocolId.IKE and count != 0:
        raise InvalidSyntax(f"Delete of the IKE SA lists {count} SPIs")
    if buf.remaining != spi_size * count:
        raise InvalidSyntax(
            f"Delete announces {count} SPIs of {spi_size} octets in {buf.remaining} octets"
        )
    spis = tuple(buf.pull_bytes(spi_size) for _ in range(count))
    return DeletePayload(protocol, spis)


def push_delete(buf: Buffer, payload: DeletePayload) -> None:
    """Write a Delete payload body (RFC 7296 §3.11)."""
    expected = _delete_spi_size(payload.protocol)
    sizes = {len(spi) for spi in payload.spis}
    if len(sizes) > 1:
        raise ValueError("Delete payload SPIs of different sizes")
    spi_size = sizes.pop() if sizes else (expected or 0)
    if expected is not None and spi_size != expected:
        raise ValueError(f"Delete for protocol {payload.protocol} needs {expected}-octet SPIs")
    buf.push_uint8(payload.protocol)
    buf.push_uint8(spi_size)
    buf.push_uint16(len(payload.spis))
    for spi in payload.spis:
        buf.push_bytes(spi)


# --------------------------------------------------------------------- Vendor ID


@dataclass(frozen=True, slots=True)
class VendorIdPayload:
    """Vendor ID payload (RFC 7296 §3.12)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.VENDOR_ID
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                        Vendor ID (VID)                        ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                  Vendor ID Payload, RFC 7296 §3.12
def pull_vendor_id(buf: Buffer, length: int) -> VendorIdPayload:
    """Read a Vendor ID payload body (RFC 7296 §3.12)."""
    return VendorIdPayload(buf.pull_rest())


def push_vendor_id(buf: Buffer, payload: VendorIdPayload) -> None:
    """Write a Vendor ID payload body (RFC 7296 §3.12)."""
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- TSi, TSr


@dataclass(frozen=True, slots=True)
class TrafficSelector:
    """One Traffic Selector (RFC 7296 §3.13.1); addresses are packed (4 or 16 octets)."""

    ts_type: int
    ip_protocol: int
    start_port: int
    end_port: int
    start_address: bytes
    end_address: bytes


@dataclass(frozen=True, slots=True)
class TsiPayload:
    """Traffic Selector - Initiator payload (RFC 7296 §3.13)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.TSI
    selectors: tuple[TrafficSelector, ...]


@dataclass(frozen=True, slots=True)
class TsrPayload:
    """Traffic Selector - Responder payload (RFC 7296 §3.13)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.TSR
    selectors: tuple[TrafficSelector, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |   TS Type     |IP Protocol ID |       Selector Length         |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |           Start Port          |           End Port            |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                         Starting Address                      ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                         Ending Address                        ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                  Traffic Selector, RFC 7296 §3.13.1
def pull_traffic_selector(buf: Buffer) -> TrafficSelector:
    """Read one IPv4 or IPv6 range selector; other TS types are InvalidSyntax (§3.13.1)."""
    ts_type = buf.pull_uint8()
    ip_protocol = buf.pull_uint8()
    length = buf.pull_uint16()
    address_size = _TS_ADDRESS_SIZE.get(ts_type)
    if address_size is None:
        raise InvalidSyntax(f"unsupported traffic selector type {ts_type}")
    if length != _TS_HEADER_SIZE + 2 * address_size:
        raise InvalidSyntax(f"traffic selector of type {ts_type} with length {length}")
    start_port = buf.pull_uint16()
    end_port = buf.pull_uint16()
    start_address = buf.pull_bytes(address_size)
    end_address = buf.pull_bytes(address_size)
    return TrafficSelector(ts_type, ip_protocol, start_port, end_port, start_address, end_address)


def push_traffic_selector(buf: Buffer, selector: TrafficSelector) -> None:
    """Write one Traffic Selector (RFC 7296 §3.13.1).

    Known types must carry addresses of their size; other types are written as
    given (so tests can build what a hostile peer would send).
    """
    address_size = _TS_ADDRESS_SIZE.get(selector.ts_type)
    if address_size is not None and not (
        len(selector.start_address) == len(selector.end_address) == address_size
    ):
        raise ValueError(
            f"traffic selector type {selector.ts_type} needs {address_size}-octet addresses"
        )
    start = buf.write_offset
    buf.push_uint8(selector.ts_type)
    buf.push_uint8(selector.ip_protocol)
    with buf.push_length(2, start=start):
        buf.push_uint16(selector.start_port)
        buf.push_uint16(selector.end_port)
        buf.push_bytes(selector.start_address)
        buf.push_bytes(selector.end_address)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Number of TSs |                 RESERVED                      |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                       <Traffic Selectors>                     ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#              Traffic Selector Payload, RFC 7296 §3.13
def _pull_selectors(buf: Buffer) -> tuple[TrafficSelector, ...]:
    count = buf.pull_uint8()
    buf.pull_bytes(3)
    selectors = []
    while not buf.eof():
        selectors.append(pull_traffic_selector(buf))
    if len(selectors) != count:
        raise InvalidSyntax(f"TS payload announces {count} selectors, carries {len(selectors)}")
    return tuple(selectors)


def _push_selectors(buf: Buffer, selectors: Sequence[TrafficSelector]) -> None:
    buf.push_uint8(len(selectors))
    buf.push_bytes(b"\x00\x00\x00")
    for selector in selectors:
        push_traffic_selector(buf, selector)


def pull_tsi(buf: Buffer, length: int) -> TsiPayload:
    """Read a TSi payload body (RFC 7296 §3.13)."""
    return TsiPayload(_pull_selectors(buf))


def push_tsi(buf: Buffer, payload: TsiPayload) -> None:
    """Write a TSi payload body (RFC 7296 §3.13)."""
    _push_selectors(buf, payload.selectors)


def pull_tsr(buf: Buffer, length: int) -> TsrPayload:
    """Read a TSr payload body (RFC 7296 §3.13)."""
    return TsrPayload(_pull_selectors(buf))


def push_tsr(buf: Buffer, payload: TsrPayload) -> None:
    """Write a TSr payload body (RFC 7296 §3.13)."""
    _push_selectors(buf, payload.selectors)


# --------------------------------------------------------------------- SK


@dataclass(frozen=True, slots=True)
class SkPayload:
    """Encrypted and Authenticated payload (RFC 7296 §3.14).

    ``first_inner`` is the generic header's Next Payload field, which for SK
    names the first payload inside; ``body`` is IV, ciphertext and ICV, raw.
    """

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.SK
    first_inner: int
    body: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                     Initialization Vector                     |
# |         (length is block size for encryption algorithm)       |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                    Encrypted IKE Payloads                     ~
# +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |               |             Padding (0-255 octets)            |
# +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
# |                                               |  Pad Length   |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                    Integrity Checksum Data                    ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                Encrypted Payload, RFC 7296 §3.14
def pull_sk(buf: Buffer, length: int) -> SkPayload:
    """Read an SK payload body, raw (RFC 7296 §3.14).

    ``first_inner`` is 0 here; :func:`pull_payload_chain` fills it in from the
    generic header.
    """
    return SkPayload(0, buf.pull_rest())


def push_sk(buf: Buffer, payload: SkPayload) -> None:
    """Write an SK payload body (RFC 7296 §3.14)."""
    buf.push_bytes(payload.body)


@dataclass(frozen=True, slots=True)
class SkfPayload:
    """Encrypted and Authenticated Fragment payload (RFC 7383 §2.5).

    ``first_inner`` is the first inner payload type in fragment 1 and 0 in the
    others; ``body`` is IV, ciphertext and ICV, raw.
    """

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.SKF
    first_inner: int
    fragment_number: int
    total_fragments: int
    body: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |        Fragment Number        |        Total Fragments        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |                     Initialization Vector                     |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                      Encrypted content                        ~
# +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |               |             Padding (0-255 octets)            |
# +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
# |                                               |  Pad Length   |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                    Integrity Checksum Data                    ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#         Encrypted Fragment Payload, RFC 7383 §2.5
def pull_skf(buf: Buffer, length: int) -> SkfPayload:
    """Read an SKF payload body (RFC 7383 §2.5): 1 <= Fragment Number <= Total Fragments."""
    number = buf.pull_uint16()
    total = buf.pull_uint16()
    if total == 0 or not 1 <= number <= total:
        raise InvalidSyntax(f"fragment {number} of {total}")
    return SkfPayload(0, number, total, buf.pull_rest())


def push_skf(buf: Buffer, payload: SkfPayload) -> None:
    """Write an SKF payload body (RFC 7383 §2.5)."""
    buf.push_uint16(payload.fragment_number)
    buf.push_uint16(payload.total_fragments)
    buf.push_bytes(payload.body)


# --------------------------------------------------------------------- CP


@dataclass(frozen=True, slots=True)
class ConfigAttribute:
    """A Configuration Attribute (RFC 7296 §3.15.1); ``type`` stays an int."""

    type: int
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class CpPayload:
    """Configuration payload (RFC 7296 §3.15); attributes keep order and repeats."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.CP
    cfg_type: int
    attributes: tuple[ConfigAttribute, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |R|         Attribute Type      |            Length             |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                             Value                             ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#             Configuration Attribute, RFC 7296 §3.15.1
def pull_config_attribute(buf: Buffer) -> ConfigAttribute:
    """Read one Configuration Attribute; the R bit is ignored (RFC 7296 §3.15.1)."""
    type_ = buf.pull_uint16() & _ATTRIBUTE_TYPE_MASK
    return ConfigAttribute(type_, buf.pull_bytes(buf.pull_uint16()))


def push_config_attribute(buf: Buffer, attribute: ConfigAttribute) -> None:
    """Write one Configuration Attribute (RFC 7296 §3.15.1)."""
    if not 0 <= attribute.type <= _ATTRIBUTE_TYPE_MASK:
        raise ValueError(f"configuration attribute type {attribute.type} does not fit 15 bits")
    buf.push_uint16(attribute.type)
    buf.push_uint16(len(attribute.value))
    buf.push_bytes(attribute.value)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C| RESERVED    |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |   CFG Type    |                    RESERVED                   |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                   Configuration Attributes                    ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                Configuration Payload, RFC 7296 §3.15
def pull_cp(buf: Buffer, length: int) -> CpPayload:
    """Read a CP payload body (RFC 7296 §3.15)."""
    cfg_type = buf.pull_uint8()
    buf.pull_bytes(3)
    attributes = []
    while not buf.eof():
        attributes.append(pull_config_attribute(buf))
    return CpPayload(cfg_type, tuple(attributes))


def push_cp(buf: Buffer, payload: CpPayload) -> None:
    """Write a CP payload body (RFC 7296 §3.15)."""
    buf.push_uint8(payload.cfg_type)
    buf.push_bytes(b"\x00\x00\x00")
    for attribute in payload.attributes:
        push_config_attribute(buf, attribute)


# --------------------------------------------------------------------- EAP


@dataclass(frozen=True, slots=True)
class EapPayload:
    """EAP payload (RFC 7296 §3.16); ``data`` is the whole EAP message (RFC 3748 §4)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.EAP
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |     Code      | Identifier    |           Length              |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |     Type      | Type_Data...
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#          EAP Payload, RFC 7296 §3.16 (EAP packet: RFC 3748 §4)
def pull_eap(buf: Buffer, length: int) -> EapPayload:
    """Read an EAP payload body: an EAP packet whose Length field must match (§3.16)."""
    data = buf.pull_rest()
    if len(data) < _EAP_HEADER_SIZE:
        raise InvalidSyntax(f"EAP message of {len(data)} octets")
    eap_length = int.from_bytes(data[2:4], "big")
    if eap_length != len(data):
        raise InvalidSyntax(f"EAP Length {eap_length} in an EAP payload of {len(data)} octets")
    if data[0] in (_EAP_REQUEST, _EAP_RESPONSE) and len(data) <= _EAP_HEADER_SIZE:
        raise InvalidSyntax("EAP Request/Response without a Type")
    return EapPayload(data)


def push_eap(buf: Buffer, payload: EapPayload) -> None:
    """Write an EAP payload body (RFC 7296 §3.16)."""
    buf.push_bytes(payload.data)


# --------------------------------------------------------------------- unknown


@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload type this codec does not understand, kept raw (RFC 7296 §2.5)."""

    payload_type: int
    critical: bool
    data: bytes


# --------------------------------------------------------------------- dispatch

Payload: TypeAlias = (
    SaPayload
    | KePayload
    | IdiPayload
    | IdrPayload
    | CertPayload
    | CertReqPayload
    | AuthPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | TsiPayload
    | TsrPayload
    | SkPayload
    | CpPayload
    | EapPayload
    | SkfPayload
    | UnknownPayload
)


@dataclass(frozen=True, slots=True)
class PayloadCodec:
    """How to pull and push the body of one payload type."""

    cls: type[Any]
    pull: Callable[[Buffer, int], Payload]
    push: Callable[[Buffer, Any], None]


def _codec(
    cls: type[Any], pull: Callable[[Buffer, int], Payload], push: Callable[[Buffer, Any], None]
) -> tuple[int, PayloadCodec]:
    return int(cls.PAYLOAD_TYPE), PayloadCodec(cls, pull, push)


PAYLOAD_CODECS = MappingProxyType(
    dict(
        [
            _codec(SaPayload, pull_sa, push_sa),
            _codec(KePayload, pull_ke, push_ke),
            _codec(IdiPayload, pull_idi, push_idi),
            _codec(IdrPayload, pull_idr, push_idr),
            _codec(CertPayload, pull_cert, push_cert),
            _codec(CertReqPayload, pull_certreq, push_certreq),
            _codec(AuthPayload, pull_auth, push_auth),
            _codec(NoncePayload, pull_nonce, push_nonce),
            _codec(NotifyPayload, pull_notify, push_notify),
            _codec(DeletePayload, pull_delete, push_delete),
            _codec(VendorIdPayload, pull_vendor_id, push_vendor_id),
            _codec(TsiPayload, pull_tsi, push_tsi),
            _codec(TsrPayload, pull_tsr, push_tsr),
            _codec(SkPayload, pull_sk, push_sk),
            _codec(CpPayload, pull_cp, push_cp),
            _codec(EapPayload, pull_eap, push_eap),
            _codec(SkfPayload, pull_skf, push_skf),
        ]
    )
)
"""Payload type number → codec; a type missing here is parsed as UnknownPayload."""


def payload_type_of(payload: Payload) -> int:
    """The Payload Type number of ``payload`` (RFC 7296 §3.2)."""
    if isinstance(payload, UnknownPayload):
        return payload.payload_type
    return int(payload.PAYLOAD_TYPE)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |C|  RESERVED   |         Payload Length        |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                Generic Payload Header, RFC 7296 §3.2
def pull_payload_chain(data: bytes, first_type: int) -> tuple[Payload, ...]:
    """Parse a chain of payloads linked by their Next Payload fields (RFC 7296 §3.2).

    ``first_type`` is the Next Payload field of whatever precedes the chain (the
    IKE header, or the SK payload for the decrypted inner chain).  The chain
    must cover ``data`` exactly.  An SK or SKF payload ends the chain (§3.14:
    it MUST be the last payload); its Next Payload field becomes its
    ``first_inner``.  Raises InvalidSyntax on any malformation and
    UnsupportedCriticalPayload for an unknown payload with the critical bit;
    nothing else.
    """
    buf = Buffer(data)
    payloads: list[Payload] = []
    payload_type = first_type
    while payload_type != PayloadType.NONE:
        if buf.eof():
            raise InvalidSyntax(f"payload chain ends where a payload of type {payload_type} is due")
        next_type = buf.pull_uint8()
        critical = bool(buf.pull_uint8() & _CRITICAL)
        length = buf.pull_uint16()
        if length < GENERIC_HEADER_SIZE:
            raise InvalidSyntax(f"payload of type {payload_type} with length {length}")
        body_length = length - GENERIC_HEADER_SIZE
        codec = PAYLOAD_CODECS.get(payload_type)
        payload: Payload
        with buf.pull_block(body_length):
            if codec is None:
                if critical:
                    raise UnsupportedCriticalPayload(payload_type)
                payload = UnknownPayload(payload_type, critical, buf.pull_rest())
            else:
                payload = codec.pull(buf, body_length)
        if isinstance(payload, SkPayload | SkfPayload):
            if isinstance(payload, SkfPayload) and payload.fragment_number > 1 and next_type:
                raise InvalidSyntax("Next Payload of a non-first fragment is not zero")
            if not buf.eof():
                raise InvalidSyntax("data after the Encrypted payload, which must be last")
            payloads.append(dataclasses.replace(payload, first_inner=next_type))
            return tuple(payloads)
        payloads.append(payload)
        payload_type = next_type
    if not buf.eof():
        raise InvalidSyntax(f"{buf.remaining} octets after the last payload")
    return tuple(payloads)


def push_payload(buf: Buffer, payload: Payload, next_type: int) -> None:
    """Append one payload with its generic header (RFC 7296 §3.2)."""
    start = buf.write_offset
    buf.push_uint8(next_type)
    if isinstance(payload, UnknownPayload):
        if payload.payload_type == PayloadType.NONE:
            raise ValueError("payload type 0 (NONE) would end the chain")
        buf.push_uint8(_CRITICAL if payload.critical else 0)
        with buf.push_length(2, start=start):
            buf.push_bytes(payload.data)
        return
    buf.push_uint8(0)
    with buf.push_length(2, start=start):
        PAYLOAD_CODECS[payload.PAYLOAD_TYPE].push(buf, payload)


def push_payload_chain(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """Encode payloads, filling Next Payload and Payload Length fields (RFC 7296 §3.2).

    Returns the type of the first payload (for the IKE header or the SK
    payload's Next Payload field) and the bytes.  An SK/SKF payload must be
    last; its Next Payload field is its ``first_inner``.
    """
    buf = Buffer()
    count = len(payloads)
    for i, payload in enumerate(payloads):
        if isinstance(payload, SkPayload | SkfPayload):
            if i != count - 1:
                raise ValueError("the Encrypted payload must be the last payload")
            next_type = payload.first_inner
        elif i + 1 < count:
            next_type = payload_type_of(payloads[i + 1])
        else:
            next_type = PayloadType.NONE
        push_payload(buf, payload, next_type)
    first = payload_type_of(payloads[0]) if payloads else int(PayloadType.NONE)
    return first, buf.data
