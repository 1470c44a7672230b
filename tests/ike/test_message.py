"""IKE header and whole messages (RFC 7296 §3.1), with a hand-built IKE_SA_INIT request."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from ikeclient.errors import InvalidSyntax, UnsupportedCriticalPayload
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, NotifyType, PayloadType, ProtocolId
from ikeclient.ike.v2.message import (
    HEADER_SIZE,
    IkeHeader,
    InvalidMajorVersion,
    Message,
    encode_message,
    find_all,
    find_notify,
    find_payload,
    pull_header,
    pull_message,
    push_header,
)
from ikeclient.ike.v2.payloads import (
    KePayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    Transform,
    TransformAttribute,
    VendorIdPayload,
    pull_payload_chain,
    push_payload_chain,
)

from . import strategies as s

SPI_I = bytes.fromhex("0102030405060708")
ZERO_SPI = bytes(8)
KE_DATA = b"\xaa" * 64
NONCE = b"\xbb" * 32
NATD_SRC = b"\xcc" * 20
NATD_DST = b"\xdd" * 20
VID = b"0123456789abcdef"

# HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP), V  -->
IKE_SA_INIT_REQUEST = (
    bytes.fromhex(
        # IKE header (§3.1): SPIi, SPIr=0, next=SA(33), version 2.0, IKE_SA_INIT(34),
        # flags I(0x08), Message ID 0, length 252
        "0102030405060708 0000000000000000 21 20 22 08 00000000 000000fc"
        # SA (§3.3): next=KE(34), length 40
        "22 00 0028"
        # proposal: last, length 36, #1, IKE(1), SPI size 0, 3 transforms
        "00 00 0024 01 01 00 03"
        # ENCR AES-GCM-16 (20) with KEY_LENGTH(14)=256 (TV)
        "03 00 000c 01 00 0014 800e 0100"
        # PRF HMAC-SHA2-256 (5)
        "03 00 0008 02 00 0005"
        # KE ecp256 (19), last transform
        "00 00 0008 04 00 0013"
        # KE (§3.4): next=Nonce(40), length 72, group 19, reserved
        "28 00 0048 0013 0000"
    )
    + KE_DATA
    + bytes.fromhex(
        # Nonce (§3.9): next=N(41), length 36
        "29 00 0024"
    )
    + NONCE
    + bytes.fromhex(
        # Notify (§3.10): next=N(41), length 28, proto 0, SPI size 0, NAT_DETECTION_SOURCE_IP
        "29 00 001c 00 00 4004"
    )
    + NATD_SRC
    + bytes.fromhex(
        # Notify: next=V(43), length 28, NAT_DETECTION_DESTINATION_IP
        "2b 00 001c 00 00 4005"
    )
    + NATD_DST
    + bytes.fromhex(
        # Vendor ID (§3.12): last, length 20
        "00 00 0014"
    )
    + VID
)

PAYLOADS = (
    SaPayload(
        (
            Proposal(
                1,
                ProtocolId.IKE,
                b"",
                (
                    Transform(1, 20, (TransformAttribute(14, 256),)),
                    Transform(2, 5),
                    Transform(4, 19),
                ),
            ),
        )
    ),
    KePayload(19, KE_DATA),
    NoncePayload(NONCE),
    NotifyPayload(0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, NATD_SRC),
    NotifyPayload(0, b"", NotifyType.NAT_DETECTION_DESTINATION_IP, NATD_DST),
    VendorIdPayload(VID),
)


def test_ike_sa_init_request_length() -> None:
    assert len(IKE_SA_INIT_REQUEST) == 252


def test_pull_ike_sa_init_request_field_by_field() -> None:
    message = pull_message(IKE_SA_INIT_REQUEST)
    header = message.header
    assert header.spi_i == SPI_I
    assert header.spi_r == ZERO_SPI
    assert header.next_payload == PayloadType.SA
    assert (header.major_version, header.minor_version) == (2, 0)
    assert header.exchange_type == ExchangeType.IKE_SA_INIT
    assert header.flags == HeaderFlag.INITIATOR
    assert header.is_initiator
    assert not header.is_response
    assert header.message_id == 0
    assert header.length == 252

    sa, ke, nonce, natd_src, natd_dst, vid = message.payloads
    assert isinstance(sa, SaPayload)
    (proposal,) = sa.proposals
    assert (proposal.number, proposal.protocol, proposal.spi) == (1, 1, b"")
    assert [(t.type, t.id, t.key_length) for t in proposal.transforms] == [
        (1, 20, 256),
        (2, 5, None),
        (4, 19, None),
    ]
    assert ke == KePayload(19, KE_DATA)
    assert nonce == NoncePayload(NONCE)
    assert isinstance(natd_src, NotifyPayload)
    assert natd_src.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP
    assert natd_src.data == NATD_SRC
    assert isinstance(natd_dst, NotifyPayload)
    assert natd_dst.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP
    assert vid == VendorIdPayload(VID)
    assert message.payloads == PAYLOADS


def test_encode_ike_sa_init_request() -> None:
    data = encode_message(
        SPI_I, ZERO_SPI, ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0, PAYLOADS
    )
    assert data == IKE_SA_INIT_REQUEST


def test_find_helpers() -> None:
    payloads = pull_message(IKE_SA_INIT_REQUEST).payloads
    assert find_payload(payloads, KePayload) == KePayload(19, KE_DATA)
    assert find_payload(payloads, VendorIdPayload) == VendorIdPayload(VID)
    assert find_payload(payloads[1:], SaPayload) is None
    assert len(find_all(payloads, NotifyPayload)) == 2
    assert find_all(payloads, SaPayload) == (PAYLOADS[0],)
    natd = find_notify(payloads, NotifyType.NAT_DETECTION_DESTINATION_IP)
    assert natd is not None
    assert natd.data == NATD_DST
    assert find_notify(payloads, NotifyType.COOKIE) is None


def test_response_flags() -> None:
    header = IkeHeader(SPI_I, SPI_I, 0, 2, 0, 37, 0x20, 5, 28)
    assert header.is_response
    assert not header.is_initiator
    assert pull_header(push_header(header)) == header


def test_header_only_message() -> None:
    data = encode_message(SPI_I, SPI_I, ExchangeType.INFORMATIONAL, HeaderFlag.RESPONSE, 7, [])
    assert len(data) == HEADER_SIZE
    assert pull_message(data) == Message(IkeHeader(SPI_I, SPI_I, 0, 2, 0, 37, 0x20, 7, 28), ())


def test_minor_version_and_reserved_flags_are_kept() -> None:
    data = bytearray(encode_message(SPI_I, SPI_I, 37, 0x20, 1, []))
    data[17] = 0x2F  # minor version 15
    data[19] = 0xFF  # reserved flag bits set
    header = pull_message(bytes(data)).header
    assert header.minor_version == 15
    assert header.flags == 0xFF
    assert header.is_response and header.is_initiator


def test_short_header() -> None:
    with pytest.raises(InvalidSyntax):
        pull_header(IKE_SA_INIT_REQUEST[:27])
    with pytest.raises(InvalidSyntax):
        pull_message(b"")


@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_length_field_disagrees_with_datagram(delta: int) -> None:
    data = bytearray(IKE_SA_INIT_REQUEST)
    data[24:28] = (len(data) + delta).to_bytes(4, "big")
    with pytest.raises(InvalidSyntax, match="Length"):
        pull_message(bytes(data))


def test_truncated_and_extended_datagram() -> None:
    with pytest.raises(InvalidSyntax):
        pull_message(IKE_SA_INIT_REQUEST[:-1])
    with pytest.raises(InvalidSyntax):
        pull_message(IKE_SA_INIT_REQUEST + b"\x00")


@pytest.mark.parametrize("version", [0x10, 0x30, 0xF0, 0x00])
def test_major_version_not_2(version: int) -> None:
    data = bytearray(IKE_SA_INIT_REQUEST)
    data[17] = version
    with pytest.raises(InvalidMajorVersion) as excinfo:
        pull_message(bytes(data))
    error = excinfo.value
    assert isinstance(error, InvalidSyntax)
    assert error.notify == NotifyType.INVALID_MAJOR_VERSION
    assert error.header.major_version == version >> 4
    assert error.header.spi_i == SPI_I
    assert error.header.message_id == 0


def test_major_version_checked_before_length() -> None:
    data = bytearray(IKE_SA_INIT_REQUEST[:40])
    data[17] = 0x30
    with pytest.raises(InvalidMajorVersion):
        pull_header(bytes(data))


def test_critical_unknown_payload_in_message() -> None:
    data = bytearray(encode_message(SPI_I, ZERO_SPI, 34, 8, 0, [VendorIdPayload(b"x")]))
    data[16] = 200  # first payload: unknown type 200
    data[29] = 0x80  # critical
    with pytest.raises(UnsupportedCriticalPayload):
        pull_message(bytes(data))


def test_push_header_rejects_bad_spi() -> None:
    with pytest.raises(ValueError):
        push_header(IkeHeader(b"short", ZERO_SPI, 0, 2, 0, 34, 8, 0, 28))


@settings(max_examples=150, deadline=None)
@given(s.messages())
def test_message_round_trip(data: bytes) -> None:
    message = pull_message(data)
    assert message.header.length == len(data)
    first, body = push_payload_chain(message.payloads)
    assert first == message.header.next_payload
    assert push_header(message.header) + body == data
    assert pull_payload_chain(data[HEADER_SIZE:], first) == message.payloads
