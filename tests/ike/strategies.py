"""Hypothesis strategies that build random *valid* IKEv2 payloads and messages."""

from __future__ import annotations

from hypothesis import strategies as st

from ikeclient.ike.v2.enums import ProtocolId, TsType
from ikeclient.ike.v2.message import encode_message
from ikeclient.ike.v2.payloads import (
    PAYLOAD_CODECS,
    AuthPayload,
    CertPayload,
    CertReqPayload,
    ConfigAttribute,
    CpPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    Transform,
    TransformAttribute,
    TsiPayload,
    TsrPayload,
    UnknownPayload,
    VendorIdPayload,
)

u8 = st.integers(0, 0xFF)
u15 = st.integers(0, 0x7FFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
small_bytes = st.binary(max_size=48)

transform_attributes = st.one_of(
    st.builds(TransformAttribute, u15, u16),
    st.builds(TransformAttribute, u15, st.binary(max_size=24)),
)
transforms = st.builds(Transform, u8, u16, st.lists(transform_attributes, max_size=3).map(tuple))
proposals = st.builds(
    Proposal,
    u8,
    u8,
    st.binary(max_size=16),
    st.lists(transforms, max_size=6).map(tuple),
)
sa_payloads = st.builds(SaPayload, st.lists(proposals, min_size=1, max_size=4).map(tuple))
ke_payloads = st.builds(KePayload, u16, st.binary(max_size=300))
idi_payloads = st.builds(IdiPayload, u8, small_bytes)
idr_payloads = st.builds(IdrPayload, u8, small_bytes)
cert_payloads = st.builds(CertPayload, u8, st.binary(max_size=200))
certreq_payloads = st.builds(CertReqPayload, u8, st.binary(max_size=60))
auth_payloads = st.builds(AuthPayload, u8, st.binary(max_size=100))
nonce_payloads = st.builds(NoncePayload, st.binary(min_size=16, max_size=256))
notify_payloads = st.builds(NotifyPayload, u8, st.binary(max_size=16), u16, small_bytes)
vendor_id_payloads = st.builds(VendorIdPayload, small_bytes)


@st.composite
def delete_payloads(draw: st.DrawFn) -> DeletePayload:
    kind = draw(st.sampled_from(["ike", "child", "other"]))
    if kind == "ike":
        return DeletePayload(ProtocolId.IKE, ())
    if kind == "child":
        protocol = draw(st.sampled_from([ProtocolId.AH, ProtocolId.ESP]))
        spis = draw(st.lists(st.binary(min_size=4, max_size=4), max_size=8))
        return DeletePayload(int(protocol), tuple(spis))
    protocol = draw(st.sampled_from([0, *range(4, 256)]))
    size = draw(st.integers(0, 16))
    spis = draw(st.lists(st.binary(min_size=size, max_size=size), min_size=1, max_size=6))
    return DeletePayload(protocol, tuple(spis))


@st.composite
def traffic_selectors(draw: st.DrawFn) -> TrafficSelector:
    ts_type = draw(st.sampled_from([TsType.TS_IPV4_ADDR_RANGE, TsType.TS_IPV6_ADDR_RANGE]))
    size = 4 if ts_type == TsType.TS_IPV4_ADDR_RANGE else 16
    address = st.binary(min_size=size, max_size=size)
    return TrafficSelector(
        int(ts_type), draw(u8), draw(u16), draw(u16), draw(address), draw(address)
    )


selector_lists = st.lists(traffic_selectors(), max_size=5).map(tuple)
tsi_payloads = st.builds(TsiPayload, selector_lists)
tsr_payloads = st.builds(TsrPayload, selector_lists)
config_attributes = st.builds(ConfigAttribute, u15, st.binary(max_size=20))
cp_payloads = st.builds(CpPayload, u8, st.lists(config_attributes, max_size=8).map(tuple))


@st.composite
def eap_payloads(draw: st.DrawFn) -> EapPayload:
    code = draw(st.integers(1, 6))
    identifier = draw(u8)
    if code in (1, 2):
        body = bytes([draw(u8)]) + draw(st.binary(max_size=60))
    elif code in (3, 4):
        body = b""
    else:
        body = draw(st.binary(max_size=20))
    length = 4 + len(body)
    return EapPayload(bytes([code, identifier]) + length.to_bytes(2, "big") + body)


sk_payloads = st.builds(SkPayload, u8, st.binary(max_size=200))


@st.composite
def skf_payloads(draw: st.DrawFn) -> SkfPayload:
    total = draw(st.integers(1, 0xFFFF))
    number = draw(st.integers(1, total))
    first_inner = draw(u8) if number == 1 else 0
    return SkfPayload(first_inner, number, total, draw(st.binary(max_size=200)))


unknown_payloads = st.builds(
    UnknownPayload,
    st.integers(1, 255).filter(lambda t: t not in PAYLOAD_CODECS),
    st.just(False),
    small_bytes,
)

plain_payloads: st.SearchStrategy[Payload] = st.one_of(
    sa_payloads,
    ke_payloads,
    idi_payloads,
    idr_payloads,
    cert_payloads,
    certreq_payloads,
    auth_payloads,
    nonce_payloads,
    notify_payloads,
    delete_payloads(),
    vendor_id_payloads,
    tsi_payloads,
    tsr_payloads,
    cp_payloads,
    eap_payloads(),
    unknown_payloads,
)
encrypted_payloads: st.SearchStrategy[Payload] = st.one_of(sk_payloads, skf_payloads())
any_payload: st.SearchStrategy[Payload] = st.one_of(plain_payloads, encrypted_payloads)


@st.composite
def payload_chains(draw: st.DrawFn) -> tuple[Payload, ...]:
    """A valid chain: plain payloads, optionally ending with SK or SKF."""
    chain = draw(st.lists(plain_payloads, max_size=6))
    if draw(st.booleans()):
        chain.append(draw(encrypted_payloads))
    return tuple(chain)


spis = st.binary(min_size=8, max_size=8)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A valid encoded IKEv2 message (random header fields, a valid chain)."""
    return encode_message(
        draw(spis), draw(spis), draw(u8), draw(u8), draw(u32), draw(payload_chains())
    )
