"""ISAKMP payloads (RFC 2408 §3): one frozen dataclass and one ``pull_x``/``push_x`` pair each.

Every payload starts with the generic payload header (RFC 2408 §3.2), handled by
:func:`pull_payload_chain` and :func:`push_payload_chain`; the per-payload functions see only
the body, inside ``Buffer.pull_block``, so a length that lies is always an
:class:`~ikeclient.errors.InvalidSyntax`.

* Numbers that may be unknown stay plain ints; unknown payload types are kept raw as
  :class:`UnknownPayload` (IKEv1 has no critical bit).
* Proposals and transforms of the SA payload are themselves payloads (types 2 and 3) chained
  by their Next Payload fields (RFC 2408 §3.5, §3.6).
* Data attributes use the TV (AF=1) and TLV (AF=0) forms of RFC 2408 §3.3; repeated
  attributes are all kept, in order.
* Reserved fields are written as zero and ignored on receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.v1.enums import PayloadType

__all__ = [
    "PAYLOAD_CODECS",
    "Attribute",
    "AttributePayload",
    "CertPayload",
    "CertRequestPayload",
    "DeletePayload",
    "HashPayload",
    "IdPayload",
    "KePayload",
    "NatDPayload",
    "NatOaPayload",
    "NoncePayload",
    "NotifyPayload",
    "Payload",
    "Proposal",
    "SaPayload",
    "SignaturePayload",
    "Transform",
    "UnknownPayload",
    "VendorIdPayload",
    "attribute_int",
    "payload_type_of",
    "pull_attribute",
    "pull_payload_chain",
    "push_attribute",
    "push_payload",
    "push_payload_chain",
]

GENERIC_HEADER_SIZE = 4
_AF_TV = 0x8000
_TYPE_MASK = 0x7FFF
_NONCE_MIN, _NONCE_MAX = 8, 256  # RFC 2409 §5: between 8 and 256 bytes inclusive
MAX_PAYLOADS = 128  # a bound on work per message


# --------------------------------------------------------------------- attributes


@dataclass(frozen=True, slots=True)
class Attribute:
    """A data attribute (RFC 2408 §3.3): ``int`` for the TV form, ``bytes`` for TLV."""

    type: int
    value: int | bytes


def attribute_int(value: int | bytes) -> int:
    """An attribute's value as an integer (a TLV value is a big-endian number, §3.3)."""
    if isinstance(value, int):
        return value
    if not value or len(value) > 8:
        raise InvalidSyntax(f"variable-length attribute of {len(value)} bytes is not a number")
    return int.from_bytes(value, "big")


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !A!       Attribute Type        !    AF=0  Attribute Length     !
# !F!                             !    AF=1  Attribute Value      !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# .                   AF=0  Attribute Value                       .
# .                   AF=1  Not Transmitted                       .
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                  Data Attributes, RFC 2408 §3.3
def pull_attribute(buf: Buffer) -> Attribute:
    """Read one data attribute, TV or TLV form (RFC 2408 §3.3)."""
    word = buf.pull_uint16()
    kind = word & _TYPE_MASK
    if word & _AF_TV:
        return Attribute(kind, buf.pull_uint16())
    return Attribute(kind, buf.pull_bytes(buf.pull_uint16()))


def push_attribute(buf: Buffer, attribute: Attribute) -> None:
    """Write one data attribute (RFC 2408 §3.3)."""
    if not 0 <= attribute.type <= _TYPE_MASK:
        raise ValueError(f"attribute type {attribute.type} does not fit 15 bits")
    if isinstance(attribute.value, int):
        buf.push_uint16(_AF_TV | attribute.type)
        buf.push_uint16(attribute.value)
    else:
        buf.push_uint16(attribute.type)
        buf.push_uint16(len(attribute.value))
        buf.push_bytes(attribute.value)


def _pull_attributes(buf: Buffer) -> tuple[Attribute, ...]:
    out = []
    while not buf.eof():
        out.append(pull_attribute(buf))
    return tuple(out)


# --------------------------------------------------------------------- SA, P, T


@dataclass(frozen=True, slots=True)
class Transform:
    """A Transform payload (RFC 2408 §3.6)."""

    number: int
    transform_id: int
    attributes: tuple[Attribute, ...] = ()

    def attribute(self, kind: int) -> int | bytes | None:
        """The first attribute of type ``kind``, or None."""
        for a in self.attributes:
            if a.type == kind:
                return a.value
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A Proposal payload (RFC 2408 §3.5) with its transforms."""

    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]


@dataclass(frozen=True, slots=True)
class SaPayload:
    """Security Association payload (RFC 2408 §3.4; DOI and situation, RFC 2407 §4.2)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.SA
    doi: int
    situation: int
    proposals: tuple[Proposal, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Transform #  !  Transform-Id !           RESERVED2           !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                        SA Attributes                          ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                 Transform Payload, RFC 2408 §3.6
def _pull_transform(buf: Buffer) -> tuple[int, Transform]:
    next_type = buf.pull_uint8()
    buf.pull_uint8()
    length = buf.pull_uint16()
    if length < 8:
        raise InvalidSyntax(f"transform payload length {length} is below 8")
    with buf.pull_block(length - GENERIC_HEADER_SIZE):
        number = buf.pull_uint8()
        transform_id = buf.pull_uint8()
        buf.pull_uint16()
        attributes = _pull_attributes(buf)
    return next_type, Transform(number, transform_id, attributes)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !                        SPI (variable)                         !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                 Proposal Payload, RFC 2408 §3.5
def _pull_proposal(buf: Buffer) -> tuple[int, Proposal]:
    next_type = buf.pull_uint8()
    buf.pull_uint8()
    length = buf.pull_uint16()
    if length < 8:
        raise InvalidSyntax(f"proposal payload length {length} is below 8")
    with buf.pull_block(length - GENERIC_HEADER_SIZE):
        number = buf.pull_uint8()
        protocol = buf.pull_uint8()
        spi_size = buf.pull_uint8()
        count = buf.pull_uint8()
        spi = buf.pull_bytes(spi_size)
        transforms: list[Transform] = []
        more: int = PayloadType.TRANSFORM if count else PayloadType.NONE
        while more == PayloadType.TRANSFORM:
            more, transform = _pull_transform(buf)
            if more not in (PayloadType.NONE, PayloadType.TRANSFORM):
                raise InvalidSyntax(f"transform followed by payload type {more}")
            transforms.append(transform)
        if len(transforms) != count:
            raise InvalidSyntax(f"proposal announces {count} transforms, carries {len(transforms)}")
    return next_type, Proposal(number, protocol, spi, tuple(transforms))


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !              Domain of Interpretation  (DOI)                  !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                           Situation                           ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#       Security Association Payload, RFC 2408 §3.4, RFC 2407 §4.6.1
def pull_sa(buf: Buffer, length: int) -> SaPayload:
    """Read an SA payload body: DOI, Situation and the proposal chain (RFC 2408 §3.4)."""
    doi = buf.pull_uint32()
    situation = buf.pull_uint32()
    proposals: list[Proposal] = []
    more: int = PayloadType.PROPOSAL
    while more == PayloadType.PROPOSAL:
        if buf.eof():
            raise InvalidSyntax("SA payload ends where a proposal is due")
        more, proposal = _pull_proposal(buf)
        if more not in (PayloadType.NONE, PayloadType.PROPOSAL):
            raise InvalidSyntax(f"proposal followed by payload type {more}")
        proposals.append(proposal)
    if not buf.eof():
        raise InvalidSyntax(f"{buf.remaining} octets after the last proposal")
    return SaPayload(doi, situation, tuple(proposals))


def push_sa(buf: Buffer, payload: SaPayload) -> None:
    """Write an SA payload body (RFC 2408 §3.4-3.6)."""
    buf.push_uint32(payload.doi)
    buf.push_uint32(payload.situation)
    for i, proposal in enumerate(payload.proposals):
        start = buf.write_offset
        last = i == len(payload.proposals) - 1
        buf.push_uint8(PayloadType.NONE if last else PayloadType.PROPOSAL)
        buf.push_uint8(0)
        with buf.push_length(2, start=start):
            buf.push_uint8(proposal.number)
            buf.push_uint8(proposal.protocol)
            buf.push_uint8(len(proposal.spi))
            buf.push_uint8(len(proposal.transforms))
            buf.push_bytes(proposal.spi)
            for j, transform in enumerate(proposal.transforms):
                t_start = buf.write_offset
                t_last = j == len(proposal.transforms) - 1
                buf.push_uint8(PayloadType.NONE if t_last else PayloadType.TRANSFORM)
                buf.push_uint8(0)
                with buf.push_length(2, start=t_start):
                    buf.push_uint8(transform.number)
                    buf.push_uint8(transform.transform_id)
                    buf.push_uint16(0)
                    for attribute in transform.attributes:
                        push_attribute(buf, attribute)


# --------------------------------------------------------------------- simple payloads


@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange payload (RFC 2408 §3.7): the public value, group implied by the SA."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.KE
    data: bytes


def pull_ke(buf: Buffer, length: int) -> KePayload:
    """Read a KE payload body (RFC 2408 §3.7)."""
    if length == 0:
        raise InvalidSyntax("empty KE payload")
    return KePayload(buf.pull_rest())


def push_ke(buf: Buffer, payload: KePayload) -> None:
    """Write a KE payload body (RFC 2408 §3.7)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class IdPayload:
    """Identification payload (RFC 2408 §3.8; IPsec DOI fields, RFC 2407 §4.6.2)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.ID
    id_type: int
    protocol: int
    port: int
    data: bytes


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Next Payload !   RESERVED    !        Payload Length         !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !   ID Type     !  Protocol ID  !             Port              !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                     Identification Data                       ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#           Identification Payload, RFC 2407 §4.6.2
def pull_id(buf: Buffer, length: int) -> IdPayload:
    """Read an ID payload body (RFC 2407 §4.6.2)."""
    return IdPayload(buf.pull_uint8(), buf.pull_uint8(), buf.pull_uint16(), buf.pull_rest())


def push_id(buf: Buffer, payload: IdPayload) -> None:
    """Write an ID payload body (RFC 2407 §4.6.2)."""
    buf.push_uint8(payload.id_type)
    buf.push_uint8(payload.protocol)
    buf.push_uint16(payload.port)
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate payload (RFC 2408 §3.9)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.CERT
    encoding: int
    data: bytes


def pull_cert(buf: Buffer, length: int) -> CertPayload:
    """Read a CERT payload body (RFC 2408 §3.9)."""
    return CertPayload(buf.pull_uint8(), buf.pull_rest())


def push_cert(buf: Buffer, payload: CertPayload) -> None:
    """Write a CERT payload body (RFC 2408 §3.9)."""
    buf.push_uint8(payload.encoding)
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class CertRequestPayload:
    """Certificate Request payload (RFC 2408 §3.10)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.CR
    encoding: int
    authority: bytes


def pull_cr(buf: Buffer, length: int) -> CertRequestPayload:
    """Read a CR payload body (RFC 2408 §3.10)."""
    return CertRequestPayload(buf.pull_uint8(), buf.pull_rest())


def push_cr(buf: Buffer, payload: CertRequestPayload) -> None:
    """Write a CR payload body (RFC 2408 §3.10)."""
    buf.push_uint8(payload.encoding)
    buf.push_bytes(payload.authority)


@dataclass(frozen=True, slots=True)
class HashPayload:
    """Hash payload (RFC 2408 §3.11)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.HASH
    data: bytes


def pull_hash(buf: Buffer, length: int) -> HashPayload:
    """Read a HASH payload body (RFC 2408 §3.11)."""
    if length == 0:
        raise InvalidSyntax("empty HASH payload")
    return HashPayload(buf.pull_rest())


def push_hash(buf: Buffer, payload: HashPayload) -> None:
    """Write a HASH payload body (RFC 2408 §3.11)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class SignaturePayload:
    """Signature payload (RFC 2408 §3.12)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.SIG
    data: bytes


def pull_sig(buf: Buffer, length: int) -> SignaturePayload:
    """Read a SIG payload body (RFC 2408 §3.12)."""
    return SignaturePayload(buf.pull_rest())


def push_sig(buf: Buffer, payload: SignaturePayload) -> None:
    """Write a SIG payload body (RFC 2408 §3.12)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce payload (RFC 2408 §3.13); 8 to 256 bytes (RFC 2409 §5)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NONCE
    data: bytes


def pull_nonce(buf: Buffer, length: int) -> NoncePayload:
    """Read a Nonce payload body; RFC 2409 §5: between 8 and 256 bytes inclusive."""
    if not _NONCE_MIN <= length <= _NONCE_MAX:
        raise InvalidSyntax(f"nonce of {length} octets, not {_NONCE_MIN}..{_NONCE_MAX}")
    return NoncePayload(buf.pull_rest())


def push_nonce(buf: Buffer, payload: NoncePayload) -> None:
    """Write a Nonce payload body (RFC 2408 §3.13)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notification payload (RFC 2408 §3.14)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NOTIFICATION
    doi: int
    protocol: int
    notify_type: int
    spi: bytes = b""
    data: bytes = b""


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !              Domain of Interpretation  (DOI)                  !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                Security Parameter Index (SPI)                 ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                       Notification Data                       ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#               Notification Payload, RFC 2408 §3.14
def pull_notify(buf: Buffer, length: int) -> NotifyPayload:
    """Read a Notification payload body (RFC 2408 §3.14)."""
    doi = buf.pull_uint32()
    protocol = buf.pull_uint8()
    spi_size = buf.pull_uint8()
    notify_type = buf.pull_uint16()
    spi = buf.pull_bytes(spi_size)
    return NotifyPayload(doi, protocol, notify_type, spi, buf.pull_rest())


def push_notify(buf: Buffer, payload: NotifyPayload) -> None:
    """Write a Notification payload body (RFC 2408 §3.14)."""
    buf.push_uint32(payload.doi)
    buf.push_uint8(payload.protocol)
    buf.push_uint8(len(payload.spi))
    buf.push_uint16(payload.notify_type)
    buf.push_bytes(payload.spi)
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete payload (RFC 2408 §3.15); every SPI has the same size."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.DELETE
    doi: int
    protocol: int
    spis: tuple[bytes, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !              Domain of Interpretation  (DOI)                  !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !  Protocol-Id  !   SPI Size    !           # of SPIs           !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~               Security Parameter Index(es) (SPI)              ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                   Delete Payload, RFC 2408 §3.15
def pull_delete(buf: Buffer, length: int) -> DeletePayload:
    """Read a Delete payload body; the SPIs must fill it exactly (RFC 2408 §3.15)."""
    doi = buf.pull_uint32()
    protocol = buf.pull_uint8()
    spi_size = buf.pull_uint8()
    count = buf.pull_uint16()
    if count * spi_size != buf.remaining:
        raise InvalidSyntax(f"Delete announces {count} SPIs of {spi_size} bytes in {buf.remaining}")
    return DeletePayload(doi, protocol, tuple(buf.pull_bytes(spi_size) for _ in range(count)))


def push_delete(buf: Buffer, payload: DeletePayload) -> None:
    """Write a Delete payload body (RFC 2408 §3.15)."""
    sizes = {len(s) for s in payload.spis}
    if len(sizes) > 1:
        raise ValueError("the SPIs of one Delete payload must have one size")
    buf.push_uint32(payload.doi)
    buf.push_uint8(payload.protocol)
    buf.push_uint8(sizes.pop() if sizes else 0)
    buf.push_uint16(len(payload.spis))
    for spi in payload.spis:
        buf.push_bytes(spi)


@dataclass(frozen=True, slots=True)
class VendorIdPayload:
    """Vendor ID payload (RFC 2408 §3.16)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.VENDOR_ID
    data: bytes


def pull_vendor_id(buf: Buffer, length: int) -> VendorIdPayload:
    """Read a Vendor ID payload body (RFC 2408 §3.16)."""
    return VendorIdPayload(buf.pull_rest())


def push_vendor_id(buf: Buffer, payload: VendorIdPayload) -> None:
    """Write a Vendor ID payload body (RFC 2408 §3.16)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class AttributePayload:
    """Attribute payload of Mode Config and XAUTH (draft-dukes-ike-mode-cfg-02 §3.2)."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.ATTRIBUTE
    cfg_type: int
    identifier: int
    attributes: tuple[Attribute, ...]


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# !     Type      !   RESERVED    !           Identifier          !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ~                           Attributes                          ~
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#        Attribute Payload, draft-dukes-ike-mode-cfg-02 §3.2
def pull_attribute_payload(buf: Buffer, length: int) -> AttributePayload:
    """Read an Attribute payload body (draft-dukes-ike-mode-cfg-02 §3.2)."""
    cfg_type = buf.pull_uint8()
    buf.pull_uint8()
    identifier = buf.pull_uint16()
    return AttributePayload(cfg_type, identifier, _pull_attributes(buf))


def push_attribute_payload(buf: Buffer, payload: AttributePayload) -> None:
    """Write an Attribute payload body (draft-dukes-ike-mode-cfg-02 §3.2)."""
    buf.push_uint8(payload.cfg_type)
    buf.push_uint8(0)
    buf.push_uint16(payload.identifier)
    for attribute in payload.attributes:
        push_attribute(buf, attribute)


@dataclass(frozen=True, slots=True)
class NatDPayload:
    """NAT-D payload (RFC 3947 §3.2): HASH(CKY-I | CKY-R | IP | Port).

    ``draft`` marks the pre-RFC payload number 130 (draft-ietf-ipsec-nat-t-ike-02/03).
    """

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NAT_D
    data: bytes
    draft: bool = False


def pull_natd(buf: Buffer, length: int) -> NatDPayload:
    """Read a NAT-D payload body (RFC 3947 §3.2)."""
    if length == 0:
        raise InvalidSyntax("empty NAT-D payload")
    return NatDPayload(buf.pull_rest())


def pull_natd_draft(buf: Buffer, length: int) -> NatDPayload:
    """Read a draft NAT-D payload body (type 130)."""
    return NatDPayload(pull_natd(buf, length).data, True)


def push_natd(buf: Buffer, payload: NatDPayload) -> None:
    """Write a NAT-D payload body (RFC 3947 §3.2)."""
    buf.push_bytes(payload.data)


@dataclass(frozen=True, slots=True)
class NatOaPayload:
    """NAT-OA payload (RFC 3947 §5.1): the original address as the peer sees it."""

    PAYLOAD_TYPE: ClassVar[PayloadType] = PayloadType.NAT_OA
    id_type: int
    address: bytes
    draft: bool = False


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# | Next Payload  |    RESERVED   |        Payload length         |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |    ID Type    |    RESERVED   |            RESERVED           |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |           IPv4 (4 octets) or IPv6 address (16 octets)         |
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                  NAT-OA Payload, RFC 3947 §5.1
def pull_natoa(buf: Buffer, length: int) -> NatOaPayload:
    """Read a NAT-OA payload body: an IPv4 or IPv6 address (RFC 3947 §5.1)."""
    id_type = buf.pull_uint8()
    buf.pull_bytes(3)
    sizes = {1: 4, 5: 16}  # ID_IPV4_ADDR, ID_IPV6_ADDR
    want = sizes.get(id_type)
    if want is None or buf.remaining != want:
        raise InvalidSyntax(f"NAT-OA of ID type {id_type} with {buf.remaining} address bytes")
    return NatOaPayload(id_type, buf.pull_rest())


def pull_natoa_draft(buf: Buffer, length: int) -> NatOaPayload:
    """Read a draft NAT-OA payload body (type 131)."""
    p = pull_natoa(buf, length)
    return NatOaPayload(p.id_type, p.address, True)


def push_natoa(buf: Buffer, payload: NatOaPayload) -> None:
    """Write a NAT-OA payload body (RFC 3947 §5.1)."""
    buf.push_uint8(payload.id_type)
    buf.push_bytes(b"\x00\x00\x00")
    buf.push_bytes(payload.address)


@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload type this codec does not understand, kept raw."""

    payload_type: int
    data: bytes


# --------------------------------------------------------------------- dispatch

Payload: TypeAlias = (
    SaPayload
    | KePayload
    | IdPayload
    | CertPayload
    | CertRequestPayload
    | HashPayload
    | SignaturePayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | AttributePayload
    | NatDPayload
    | NatOaPayload
    | UnknownPayload
)


@dataclass(frozen=True, slots=True)
class PayloadCodec:
    """How to pull and push the body of one payload type."""

    pull: Callable[[Buffer, int], Payload]
    push: Callable[[Buffer, Any], None]


PAYLOAD_CODECS = MappingProxyType(
    {
        int(PayloadType.SA): PayloadCodec(pull_sa, push_sa),
        int(PayloadType.KE): PayloadCodec(pull_ke, push_ke),
        int(PayloadType.ID): PayloadCodec(pull_id, push_id),
        int(PayloadType.CERT): PayloadCodec(pull_cert, push_cert),
        int(PayloadType.CR): PayloadCodec(pull_cr, push_cr),
        int(PayloadType.HASH): PayloadCodec(pull_hash, push_hash),
        int(PayloadType.SIG): PayloadCodec(pull_sig, push_sig),
        int(PayloadType.NONCE): PayloadCodec(pull_nonce, push_nonce),
        int(PayloadType.NOTIFICATION): PayloadCodec(pull_notify, push_notify),
        int(PayloadType.DELETE): PayloadCodec(pull_delete, push_delete),
        int(PayloadType.VENDOR_ID): PayloadCodec(pull_vendor_id, push_vendor_id),
        int(PayloadType.ATTRIBUTE): PayloadCodec(pull_attribute_payload, push_attribute_payload),
        int(PayloadType.NAT_D): PayloadCodec(pull_natd, push_natd),
        int(PayloadType.NAT_OA): PayloadCodec(pull_natoa, push_natoa),
        int(PayloadType.NAT_D_DRAFT): PayloadCodec(pull_natd_draft, push_natd),
        int(PayloadType.NAT_OA_DRAFT): PayloadCodec(pull_natoa_draft, push_natoa),
    }
)
"""Payload type number → codec; a type missing here is kept as UnknownPayload."""


def payload_type_of(payload: Payload) -> int:
    """The Next Payload number announcing ``payload`` (RFC 2408 §3.1)."""
    if isinstance(payload, UnknownPayload):
        return payload.payload_type
    if isinstance(payload, NatDPayload) and payload.draft:
        return PayloadType.NAT_D_DRAFT
    if isinstance(payload, NatOaPayload) and payload.draft:
        return PayloadType.NAT_OA_DRAFT
    return int(payload.PAYLOAD_TYPE)


#                      1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# ! Next Payload  !   RESERVED    !         Payload Length        !
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#                Generic Payload Header, RFC 2408 §3.2
def pull_payload_chain(
    data: bytes, first_type: int, *, allow_padding: bool = False
) -> tuple[tuple[Payload, ...], list[tuple[int, int]]]:
    """Parse a chain of payloads linked by their Next Payload fields (RFC 2408 §3.2).

    Returns the payloads and, for each, its ``(start, end)`` offsets in ``data`` (generic
    header included): the HASH computations of RFC 2409 cover payloads as sent.  The chain
    must cover ``data`` exactly, except that a decrypted body may end in padding
    (``allow_padding``, RFC 2408 §3.1: the Length includes it).  Raises InvalidSyntax only.
    """
    buf = Buffer(data)
    payloads: list[Payload] = []
    spans: list[tuple[int, int]] = []
    payload_type = first_type
    while payload_type != PayloadType.NONE:
        if len(payloads) >= MAX_PAYLOADS:
            raise InvalidSyntax(f"more than {MAX_PAYLOADS} payloads in one message")
        if buf.eof():
            raise InvalidSyntax(f"payload chain ends where a payload of type {payload_type} is due")
        start = buf.tell()
        next_type = buf.pull_uint8()
        buf.pull_uint8()
        length = buf.pull_uint16()
        if length < GENERIC_HEADER_SIZE:
            raise InvalidSyntax(f"payload of type {payload_type} with length {length}")
        body_length = length - GENERIC_HEADER_SIZE
        codec = PAYLOAD_CODECS.get(payload_type)
        with buf.pull_block(body_length):
            if codec is None:
                payload: Payload = UnknownPayload(payload_type, buf.pull_rest())
            else:
                payload = codec.pull(buf, body_length)
        payloads.append(payload)
        spans.append((start, buf.tell()))
        payload_type = next_type
    if not buf.eof() and not allow_padding:
        raise InvalidSyntax(f"{buf.remaining} octets after the last payload")
    return tuple(payloads), spans


def push_payload(buf: Buffer, payload: Payload, next_type: int) -> None:
    """Append one payload with its generic header (RFC 2408 §3.2)."""
    start = buf.write_offset
    buf.push_uint8(next_type)
    buf.push_uint8(0)
    with buf.push_length(2, start=start):
        if isinstance(payload, UnknownPayload):
            if payload.payload_type == PayloadType.NONE:
                raise ValueError("payload type 0 (NONE) would end the chain")
            buf.push_bytes(payload.data)
        else:
            PAYLOAD_CODECS[payload_type_of(payload)].push(buf, payload)


def push_payload_chain(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """Encode payloads with their Next Payload and Length fields; return (first type, bytes)."""
    buf = Buffer()
    for i, payload in enumerate(payloads):
        next_type = payload_type_of(payloads[i + 1]) if i + 1 < len(payloads) else 0
        push_payload(buf, payload, next_type)
    first = payload_type_of(payloads[0]) if payloads else int(PayloadType.NONE)
    return first, buf.data


def encode_body(payload: Payload) -> bytes:
    """The body of one payload without its generic header (SAi_b, IDii_b, Ni_b of RFC 2409)."""
    buf = Buffer()
    PAYLOAD_CODECS[payload_type_of(payload)].push(buf, payload)
    return buf.data
