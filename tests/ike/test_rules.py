"""MESSAGE_RULES (strongSwan encoding/message.c style): valid and invalid messages per exchange."""

from __future__ import annotations

import pytest

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v2.enums import (
    CfgType,
    ExchangeType,
    IdType,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
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
    Transform,
    TsiPayload,
    TsrPayload,
    UnknownPayload,
    VendorIdPayload,
)
from ikeclient.ike.v2.rules import MESSAGE_RULES, check_message_rules

E = ExchangeType
SA = SaPayload((Proposal(1, ProtocolId.ESP, b"\x00" * 4, (Transform(1, 20),)),))
KE = KePayload(19, b"k" * 64)
NONCE = NoncePayload(b"n" * 32)
SK = SkPayload(PayloadType.IDI, b"body")
SKF = SkfPayload(PayloadType.IDI, 1, 2, b"body")
TSI = TsiPayload(())
TSR = TsrPayload(())
UNKNOWN = UnknownPayload(200, False, b"?")


def N(notify_type: int, data: bytes = b"") -> NotifyPayload:
    return NotifyPayload(0, b"", notify_type, data)


def ok(exchange: int, response: bool, outer: list[Payload], inner: list[Payload] | None) -> None:
    check_message_rules(exchange, response, outer, inner)


def bad(exchange: int, response: bool, outer: list[Payload], inner: list[Payload] | None) -> None:
    with pytest.raises(InvalidSyntax):
        check_message_rules(exchange, response, outer, inner)


def test_table_covers_both_directions() -> None:
    for exchange in (
        E.IKE_SA_INIT,
        E.IKE_AUTH,
        E.CREATE_CHILD_SA,
        E.INFORMATIONAL,
        E.IKE_INTERMEDIATE,
        E.IKE_FOLLOWUP_KE,
        E.IKE_SESSION_RESUME,
    ):
        assert (exchange, False) in MESSAGE_RULES
        assert (exchange, True) in MESSAGE_RULES
    assert not MESSAGE_RULES[E.IKE_SA_INIT, False].encrypted
    assert MESSAGE_RULES[E.IKE_AUTH, True].encrypted


def test_unknown_exchange_type() -> None:
    bad(99, False, [], None)
    bad(E.GSA_AUTH, True, [SK], None)


# --------------------------------------------------------------------- IKE_SA_INIT


def test_ike_sa_init_request() -> None:
    natd = [N(NotifyType.NAT_DETECTION_SOURCE_IP), N(NotifyType.NAT_DETECTION_DESTINATION_IP)]
    ok(E.IKE_SA_INIT, False, [SA, KE, NONCE, *natd, VendorIdPayload(b"v")], None)
    ok(E.IKE_SA_INIT, False, [N(NotifyType.COOKIE, b"c"), SA, KE, NONCE], None)
    ok(E.IKE_SA_INIT, False, [SA, KE, NONCE, UNKNOWN], None)
    bad(E.IKE_SA_INIT, False, [SA, KE], None)  # no Nonce
    bad(E.IKE_SA_INIT, False, [SA, SA, KE, NONCE], None)  # two SA
    bad(E.IKE_SA_INIT, False, [SA, KE, NONCE, NONCE], None)
    bad(E.IKE_SA_INIT, False, [N(NotifyType.COOKIE, b"c")], None)  # notify-only request
    bad(E.IKE_SA_INIT, False, [SA, KE, NONCE, IdiPayload(1, b"")], None)
    bad(E.IKE_SA_INIT, False, [SA, KE, NONCE, SK], None)
    bad(E.IKE_SA_INIT, False, [SA, KE, NONCE], [])  # inner chain for an unencrypted exchange


def test_ike_sa_init_response() -> None:
    ok(E.IKE_SA_INIT, True, [SA, KE, NONCE, CertReqPayload(4, b"h" * 20), N(16430)], None)
    ok(E.IKE_SA_INIT, True, [N(NotifyType.COOKIE, b"c" * 16)], None)
    ok(E.IKE_SA_INIT, True, [N(NotifyType.INVALID_KE_PAYLOAD, b"\x00\x13")], None)
    ok(E.IKE_SA_INIT, True, [N(NotifyType.NO_PROPOSAL_CHOSEN)], None)
    ok(E.IKE_SA_INIT, True, [N(NotifyType.NO_PROPOSAL_CHOSEN), VendorIdPayload(b"v")], None)
    bad(E.IKE_SA_INIT, True, [], None)
    bad(E.IKE_SA_INIT, True, [SA, KE], None)
    bad(E.IKE_SA_INIT, True, [SA, KE, N(NotifyType.NAT_DETECTION_SOURCE_IP)], None)
    bad(E.IKE_SA_INIT, True, [VendorIdPayload(b"v")], None)
    bad(E.IKE_SA_INIT, True, [SA, KE, NONCE, AuthPayload(2, b"a")], None)


# --------------------------------------------------------------------- IKE_AUTH


def test_ike_auth_request() -> None:
    inner: list[Payload] = [
        IdiPayload(IdType.ID_FQDN, b"client"),
        N(NotifyType.INITIAL_CONTACT),
        IdrPayload(IdType.ID_FQDN, b"gw"),
        AuthPayload(2, b"a" * 32),
        CpPayload(CfgType.CFG_REQUEST, ()),
        SA,
        TSI,
        TSR,
        N(NotifyType.MOBIKE_SUPPORTED),
    ]
    ok(E.IKE_AUTH, False, [SK], inner)
    ok(E.IKE_AUTH, False, [SK], None)  # outer only, before decryption
    ok(E.IKE_AUTH, False, [SKF], None)
    ok(E.IKE_AUTH, False, [UNKNOWN, SK], inner)
    ok(E.IKE_AUTH, False, [SK], [AuthPayload(2, b"a")])  # final EAP round
    ok(E.IKE_AUTH, False, [SK], [EapPayload(b"\x02\x01\x00\x05\x01")])
    bad(E.IKE_AUTH, False, [], None)  # not encrypted
    bad(E.IKE_AUTH, False, inner, None)  # payloads outside SK
    bad(E.IKE_AUTH, False, [SK, SK], None)
    bad(E.IKE_AUTH, False, [SKF, SK], None)
    bad(E.IKE_AUTH, False, [VendorIdPayload(b"v"), SK], None)
    bad(E.IKE_AUTH, False, [SK], [*inner, IdiPayload(1, b"x")])  # two IDi
    bad(E.IKE_AUTH, False, [SK], [KE])
    bad(E.IKE_AUTH, False, [SK], [SK])


def test_ike_auth_response() -> None:
    ok(E.IKE_AUTH, True, [SK], [IdrPayload(2, b"gw"), AuthPayload(2, b"a"), SA, TSI, TSR])
    ok(E.IKE_AUTH, True, [SK], [N(NotifyType.AUTHENTICATION_FAILED)])
    ok(
        E.IKE_AUTH,
        True,
        [SK],
        [IdrPayload(2, b"gw"), CertPayload(4, b"c"), EapPayload(b"\x01\x01\x00\x05\x01")],
    )
    ok(
        E.IKE_AUTH,
        True,
        [SK],
        [IdrPayload(2, b"gw"), AuthPayload(2, b"a"), N(NotifyType.TS_UNACCEPTABLE)],
    )
    bad(E.IKE_AUTH, True, [SK], [IdiPayload(2, b"client")])  # IDi in a response
    bad(E.IKE_AUTH, True, [SK], [CertReqPayload(4, b"")])
    bad(E.IKE_AUTH, True, [N(NotifyType.AUTHENTICATION_FAILED)], None)  # error in the clear
    bad(E.IKE_AUTH, True, [SK], [AuthPayload(2, b"a"), AuthPayload(2, b"a")])


# --------------------------------------------------------------------- CREATE_CHILD_SA


def test_create_child_sa() -> None:
    ok(E.CREATE_CHILD_SA, False, [SK], [N(NotifyType.REKEY_SA), SA, NONCE, KE, TSI, TSR])
    ok(E.CREATE_CHILD_SA, False, [SK], [SA, NONCE, KE])  # IKE SA rekey
    ok(E.CREATE_CHILD_SA, True, [SK], [SA, NONCE, KE, TSI, TSR])
    ok(E.CREATE_CHILD_SA, True, [SK], [N(NotifyType.NO_ADDITIONAL_SAS)])
    ok(E.CREATE_CHILD_SA, True, [SK], [N(NotifyType.INVALID_KE_PAYLOAD, b"\x00\x13")])
    bad(E.CREATE_CHILD_SA, False, [SK], [N(NotifyType.REKEY_SA), SA])  # no Nonce
    bad(E.CREATE_CHILD_SA, False, [SK], [N(NotifyType.NO_ADDITIONAL_SAS)])
    bad(E.CREATE_CHILD_SA, True, [SK], [SA, N(NotifyType.ADDITIONAL_TS_POSSIBLE)])
    bad(E.CREATE_CHILD_SA, True, [SK], [SA, NONCE, KE, KE])
    bad(E.CREATE_CHILD_SA, True, [SK], [SA, NONCE, DeletePayload(3, (b"1234",))])
    bad(E.CREATE_CHILD_SA, True, [SA, NONCE], None)


# --------------------------------------------------------------------- INFORMATIONAL


def test_informational() -> None:
    for response in (False, True):
        ok(E.INFORMATIONAL, response, [SK], [])  # liveness check
        ok(E.INFORMATIONAL, response, [SK], [DeletePayload(3, (b"1234",)), DeletePayload(1)])
        ok(E.INFORMATIONAL, response, [SK], [N(NotifyType.UPDATE_SA_ADDRESSES), UNKNOWN])
        ok(E.INFORMATIONAL, response, [SK], [CpPayload(CfgType.CFG_SET, ())])
        bad(E.INFORMATIONAL, response, [SK], [SA])
        bad(E.INFORMATIONAL, response, [SK], [NONCE])
        bad(E.INFORMATIONAL, response, [], None)
        bad(E.INFORMATIONAL, response, [N(NotifyType.INVALID_SPI)], None)
        bad(E.INFORMATIONAL, response, [SK], [N(1)] * 65)  # above the notify cap


# --------------------------------------------------------------------- extensions


def test_ike_intermediate_and_followup_ke() -> None:
    ok(E.IKE_INTERMEDIATE, False, [SK], [])
    ok(E.IKE_INTERMEDIATE, False, [SK], [KE])
    ok(E.IKE_INTERMEDIATE, True, [SK], [KE])
    bad(E.IKE_INTERMEDIATE, True, [SK], [SA])
    ok(E.IKE_FOLLOWUP_KE, False, [SK], [KE, N(NotifyType.ADDITIONAL_KEY_EXCHANGE, b"t")])
    ok(E.IKE_FOLLOWUP_KE, True, [SK], [KE])
    ok(E.IKE_FOLLOWUP_KE, True, [SK], [N(NotifyType.STATE_NOT_FOUND)])
    bad(E.IKE_FOLLOWUP_KE, False, [SK], [N(NotifyType.ADDITIONAL_KEY_EXCHANGE, b"t")])


def test_ike_session_resume() -> None:
    ok(E.IKE_SESSION_RESUME, False, [NONCE, N(NotifyType.TICKET_OPAQUE, b"t")], None)
    ok(E.IKE_SESSION_RESUME, True, [NONCE], None)
    ok(E.IKE_SESSION_RESUME, True, [N(NotifyType.TICKET_NACK)], None)
    bad(E.IKE_SESSION_RESUME, False, [N(NotifyType.TICKET_OPAQUE, b"t")], None)
    bad(E.IKE_SESSION_RESUME, True, [SK], None)


def test_error_message_is_clear() -> None:
    with pytest.raises(InvalidSyntax, match="NONCE payload missing in IKE_SA_INIT request"):
        check_message_rules(E.IKE_SA_INIT, False, [SA, KE], None)
    with pytest.raises(InvalidSyntax, match="IDI payload not allowed in IKE_AUTH response"):
        check_message_rules(E.IKE_AUTH, True, [SK], [IdiPayload(1, b"")])
