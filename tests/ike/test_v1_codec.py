"""The ISAKMP codec (RFC 2408 §3, RFC 3947, mode-cfg): round trips of every payload, hand-built
bytes, truncated and over-long input, the message rules, and a fuzz test in which only
InvalidSyntax may escape."""

from __future__ import annotations

import contextlib
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.v1.enums import CfgType, ConfigAttribute, ExchangeType, NotifyType, PayloadType
from ikeclient.ike.v1.message import HEADER_SIZE, pull_header, push_header
from ikeclient.ike.v1.payloads import (
    Attribute,
    AttributePayload,
    CertPayload,
    CertRequestPayload,
    DeletePayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SignaturePayload,
    Transform,
    UnknownPayload,
    VendorIdPayload,
    attribute_int,
    pull_attribute,
    pull_payload_chain,
    push_attribute,
    push_payload_chain,
)
from ikeclient.ike.v1.rules import check_message_rules
from ikeclient.ike.v1.transaction import parse_config

EXAMPLES = int(os.environ.get("IKECLIENT_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SA = SaPayload(
    1,
    1,
    (
        Proposal(
            1,
            1,
            b"",
            (
                Transform(
                    1, 1, (Attribute(1, 7), Attribute(14, 256), Attribute(12, b"\x00\x01\x51\x80"))
                ),
                Transform(2, 1, (Attribute(1, 5),)),
            ),
        ),
    ),
)
EVERY_PAYLOAD: list[Payload] = [
    SA,
    KePayload(b"\x01" * 256),
    IdPayload(11, 0, 0, b"RA-GROUP"),
    CertPayload(4, b"cert"),
    CertRequestPayload(4, b""),
    HashPayload(b"h" * 32),
    SignaturePayload(b"sig"),
    NoncePayload(b"n" * 32),
    NotifyPayload(1, 1, NotifyType.R_U_THERE, b"c" * 16, b"\x00\x00\x00\x07"),
    DeletePayload(1, 3, (b"\x00\x00\x10\x00", b"\x00\x00\x20\x00")),
    VendorIdPayload(b"\xaf\xca\xd7\x13"),
    AttributePayload(
        CfgType.REPLY,
        0x1234,
        (
            Attribute(1, b"\xc6\x12\xc8\x01"),
            Attribute(3, b"\xc6\x12\x03\x35"),
            Attribute(3, b"\xc6\x12\x03\x36"),
        ),
    ),
    NatDPayload(b"d" * 20),
    NatDPayload(b"e" * 20, draft=True),
    NatOaPayload(1, b"\xc6\x12\x01\x02"),
    NatOaPayload(5, bytes(16), draft=True),
    UnknownPayload(200, b"whatever"),
]


@pytest.mark.parametrize("payload", EVERY_PAYLOAD, ids=lambda p: type(p).__name__)
def test_every_payload_round_trips(payload: Payload) -> None:
    first, data = push_payload_chain([payload])
    (back,), spans = pull_payload_chain(data, first)
    assert back == payload
    assert spans == [(0, len(data))]


def test_a_whole_chain_round_trips_and_spans_cover_it() -> None:
    first, data = push_payload_chain(EVERY_PAYLOAD)
    payloads, spans = pull_payload_chain(data, first)
    assert list(payloads) == EVERY_PAYLOAD
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_hand_built_sa_payload() -> None:
    """RFC 2408 §3.4-3.6: DOI, situation, then P and T payloads with their own headers."""
    data = bytes.fromhex(
        "00000014"  # generic header: next 0, length 20+... (filled below)
    )
    t = bytes.fromhex("000000100101000080010007800e0100")  # T#1 KEY_IKE AES 256
    p = bytes.fromhex("00000008") + bytes.fromhex("01010001")  # P#1 ISAKMP, no SPI, 1 transform
    p = bytes.fromhex("0000") + (len(p) + len(t)).to_bytes(2, "big") + p[4:] + t
    body = bytes.fromhex("0000000100000001") + p
    data = bytes.fromhex("0000") + (4 + len(body)).to_bytes(2, "big") + body
    (sa,), _ = pull_payload_chain(data, PayloadType.SA)
    assert isinstance(sa, SaPayload)
    assert sa.proposals[0].transforms[0].attributes == (Attribute(1, 7), Attribute(14, 256))


def test_attributes_tv_and_tlv() -> None:
    buf = Buffer()
    push_attribute(buf, Attribute(12, b"\x00\x01\x51\x80"))
    push_attribute(buf, Attribute(11, 1))
    assert buf.data == bytes.fromhex("000c000400015180800b0001")
    r = Buffer(buf.data)
    assert attribute_int(pull_attribute(r).value) == 86400
    assert pull_attribute(r) == Attribute(11, 1)
    with pytest.raises(InvalidSyntax):
        attribute_int(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x03",  # length below the generic header
        b"\x00\x00\x00\x10abc",  # length beyond the data
        b"\x00\x00\x00\x08abcdEXTRA",  # trailing bytes
        b"\x00\x00\x00\x06ab",  # nonce of 2 bytes (RFC 2409: 8..256)
    ],
)
def test_malformed_chains_are_invalid_syntax(data: bytes) -> None:
    with pytest.raises(InvalidSyntax):
        pull_payload_chain(data, PayloadType.NONCE)


def test_padding_is_allowed_only_after_decryption() -> None:
    first, data = push_payload_chain([HashPayload(b"h" * 20)])
    with pytest.raises(InvalidSyntax):
        pull_payload_chain(data + bytes(8), first)
    payloads, _ = pull_payload_chain(data + bytes(8), first, allow_padding=True)
    assert payloads == (HashPayload(b"h" * 20),)


def test_delete_spi_count_must_match() -> None:
    body = bytes.fromhex("0000000103040002") + b"\x00\x00\x10\x00"
    data = b"\x00\x00" + (4 + len(body)).to_bytes(2, "big") + body
    with pytest.raises(InvalidSyntax):
        pull_payload_chain(data, PayloadType.DELETE)


def test_header() -> None:
    h = push_header(b"i" * 8, b"r" * 8, 1, ExchangeType.AGGRESSIVE, 1, 7, HEADER_SIZE)
    parsed = pull_header(h)
    assert (parsed.major_version, parsed.exchange_type, parsed.message_id) == (1, 4, 7)
    assert parsed.encrypted
    with pytest.raises(InvalidSyntax, match="major version 2"):
        pull_header(h[:17] + b"\x20" + h[18:])
    with pytest.raises(InvalidSyntax):
        pull_header(h + b"x")
    with pytest.raises(InvalidSyntax):
        pull_header(h[:20])


def test_message_rules() -> None:
    check_message_rules(ExchangeType.QUICK, [HashPayload(b"x"), SA, NoncePayload(b"n" * 8)])
    with pytest.raises(InvalidSyntax):
        check_message_rules(ExchangeType.QUICK, [HashPayload(b"x"), HashPayload(b"y")])
    with pytest.raises(InvalidSyntax):
        check_message_rules(ExchangeType.TRANSACTION, [HashPayload(b"x"), SA])
    with pytest.raises(InvalidSyntax):
        check_message_rules(99, [])
    check_message_rules(ExchangeType.INFORMATIONAL, [HashPayload(b"x"), UnknownPayload(99, b"")])


def test_mode_config_attributes_become_config_received() -> None:
    split = bytes.fromhex("c6120300ffffff00000000000000")
    config = parse_config(
        (
            Attribute(ConfigAttribute.INTERNAL_IP4_ADDRESS, bytes.fromhex("c612c801")),
            Attribute(ConfigAttribute.INTERNAL_IP4_NETMASK, bytes.fromhex("ffffff00")),
            Attribute(ConfigAttribute.INTERNAL_IP4_DNS, bytes.fromhex("c6120335")),
            Attribute(ConfigAttribute.INTERNAL_IP4_DNS, bytes.fromhex("c6120336")),
            Attribute(ConfigAttribute.INTERNAL_IP4_DNS, b"bad"),
            Attribute(ConfigAttribute.UNITY_SPLIT_INCLUDE, split + split),
            Attribute(ConfigAttribute.UNITY_DEF_DOMAIN, b"corp.example.org\x00"),
        )
    )
    assert [str(a) for a in config.addresses] == ["198.18.200.1"]
    assert [str(a) for a in config.dns_servers] == ["198.18.3.53", "198.18.3.54"]
    assert [str(n) for n in config.subnets] == ["198.18.3.0/24"]
    assert config.dns_domains == ("corp.example.org",)


@FUZZ
@given(st.binary(max_size=600), st.sampled_from([int(t) for t in PayloadType]))
def test_fuzz_payload_chain(data: bytes, first: int) -> None:
    with contextlib.suppress(InvalidSyntax):
        pull_payload_chain(data, first, allow_padding=bool(len(data) % 2))


@FUZZ
@given(
    st.integers(0, len(push_payload_chain(EVERY_PAYLOAD)[1]) - 1), st.binary(min_size=1, max_size=4)
)
def test_fuzz_mutated_chain(at: int, junk: bytes) -> None:
    first, data = push_payload_chain(EVERY_PAYLOAD)
    mutated = data[:at] + junk + data[at + len(junk) :]
    try:
        payloads, _ = pull_payload_chain(mutated, first)
        check_message_rules(ExchangeType.INFORMATIONAL, payloads)
    except InvalidSyntax:
        pass


@FUZZ
@given(st.binary(min_size=HEADER_SIZE, max_size=200))
def test_fuzz_header(data: bytes) -> None:
    try:
        header = pull_header(data)
        pull_payload_chain(data[HEADER_SIZE:], header.next_payload)
    except InvalidSyntax:
        pass
