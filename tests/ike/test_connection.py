"""The IKEv2 initiator (``Ikev2Connection``) against the in-repo responder double.

Sans-I/O: time is a float the test passes, randomness comes from seeded
``DeterministicRandomSource``s on both sides, and a tiny in-memory network
(``tests.ike.netsim``) moves, drops, duplicates and holds datagrams. Each step
is written in RFC 7296 notation.
"""

from __future__ import annotations

import ipaddress

import pytest

from ikeclient.config.proposals import parse_proposals
from ikeclient.crypto.transforms import EncrId, IntegId, KeGroup, TransformType
from ikeclient.errors import (
    AuthenticationFailed,
    GatewayUnreachable,
    IdentityMismatch,
    InvalidKePayload,
    LocalProtocolError,
    NoProposalChosen,
    PeerNotify,
    TsUnacceptable,
)
from ikeclient.exitcodes import ExitCode, exit_code_for
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeSaClosed,
    IkeSaEstablished,
    TrafficSelectorRange,
)
from ikeclient.ike.identity import Identity
from ikeclient.ike.v2.connection import SA_INIT_ERROR_GRACE
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, NotifyType, ProtocolId
from ikeclient.ike.v2.message import encode_message, pull_message
from ikeclient.ike.v2.payloads import (
    CpPayload,
    DeletePayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    TsiPayload,
    UnknownPayload,
)
from ikeclient.ike.v2.settings import RetransmitPolicy
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import (
    AUTH_REQUEST,
    AUTH_RESPONSE,
    INFO_REQUEST,
    INFO_RESPONSE,
    INITIATOR,
    LOCAL_ID,
    SA_INIT_REQUEST,
    SA_INIT_RESPONSE,
    Datagram,
    Network,
    connection,
    drain,
    gateway,
    sent,
    settings,
)
from tests.ikev2_responder import GATEWAY, NON_ESP_MARKER, ResponderDouble, seal

VIP = ipaddress.IPv4Address("198.18.200.1")
SUBNET_TS = TrafficSelectorRange(
    ipaddress.IPv4Address("198.18.3.0"), ipaddress.IPv4Address("198.18.3.255")
)


def establish(gw: ResponderDouble | None = None, **kw: object) -> tuple[Network, list[object]]:
    """Run IKE_SA_INIT and IKE_AUTH at t=0 on a lossless path; return the network and events."""
    conn = connection(settings(**kw))  # type: ignore[arg-type]
    net = Network(conn, gw or gateway())
    conn.connect(0.0)
    net.pump(0.0)
    return net, drain(conn)  # type: ignore[return-value]


def refused(gw: ResponderDouble, **kw: object) -> tuple[Network, list[object]]:
    """``establish`` against a gateway that refuses IKE_SA_INIT, then wait for the end.

    The unauthenticated refusal is held back for ``SA_INIT_ERROR_GRACE`` seconds in case a
    genuine answer follows (RFC 7296 §2.21.1); the attempt must end right after that.
    """
    net, events = establish(gw, **kw)
    assert not any(isinstance(e, IkeSaClosed) for e in events)
    assert net.conn.get_timer() == SA_INIT_ERROR_GRACE
    assert net.run_timers(until=100.0) == SA_INIT_ERROR_GRACE
    return net, events + drain(net.conn)  # type: ignore[operator]


def closed_event(events: list[object]) -> IkeSaClosed:
    closed = [e for e in events if isinstance(e, IkeSaClosed)]
    assert len(closed) == 1, events
    return closed[0]


def inner_of(gw: ResponderDouble, exchange: int) -> list[tuple[object, ...]]:
    return [r.payloads for r in gw.requests(exchange)]


# --------------------------------------------------------------------- happy path

SUITES = [
    ("aes256gcm16-prfsha256-ecp256", EncrId.AES_GCM_16, 256, None, KeGroup.ECP256),
    ("aes128-sha256-modp2048", EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, KeGroup.MODP2048),
    ("chacha20poly1305-prfsha256-x25519", EncrId.CHACHA20_POLY1305, None, None, KeGroup.CURVE25519),
]
ESP_SUITES = [
    ("aes256gcm16", EncrId.AES_GCM_16, 256, None, 36, 0),
    ("aes128-sha256", EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, 16, 32),
]


@pytest.mark.parametrize("ike", SUITES, ids=lambda s: s[0])
@pytest.mark.parametrize("esp", ESP_SUITES, ids=lambda s: s[0])
def test_happy_path(ike: tuple, esp: tuple) -> None:
    ike_text, ike_encr, ike_bits, ike_integ, group = ike
    esp_text, esp_encr, esp_bits, esp_integ, encr_len, integ_len = esp
    conn = connection(settings(ike=ike_text, esp=esp_text))
    gw = gateway()
    net = Network(conn, gw)

    # HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) -->
    conn.connect(0.0)
    assert conn.state == IkeSaState.SA_INIT_SENT
    (init_req,) = net.collect(0.0)
    assert init_req.dst == Endpoint(GATEWAY, 500) and not init_req.framed
    # <-- HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*), N(IKEV2_FRAGMENTATION_SUPPORTED)
    (init_resp,) = net.deliver(init_req, 0.0)
    # HDR, SK {IDi, N(INITIAL_CONTACT), IDr, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr} -->
    (auth_req,) = net.deliver(init_resp, 0.0)
    assert conn.state == IkeSaState.AUTH_SENT
    assert drain(conn) == []
    # <-- HDR, SK {IDr, AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}
    (auth_resp,) = net.deliver(auth_req, 0.0)
    assert net.deliver(auth_resp, 0.0) == []
    assert conn.state == IkeSaState.ESTABLISHED
    assert conn.get_timer() is None

    events = drain(conn)
    assert [type(e) for e in events] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]
    est, cfg, child = events
    assert isinstance(est, IkeSaEstablished)
    assert isinstance(cfg, ConfigReceived)
    assert isinstance(child, ChildSaEstablished)

    # The responder verified our AUTH with its own PSK, and saw our identity.
    assert gw.auth_verified is True
    assert gw.peer_identity == LOCAL_ID

    # IKE SA: both sides derived the same SK_* (RFC 7296 §2.14).
    sa = gw.sa
    assert est.spi_i == conn.spi_i == sa.spi_i
    assert est.spi_r == sa.spi_r
    assert est.remote_identity == "vpn.example.net"
    ours = conn.ike_sa
    assert ours is not None
    for name in ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"):
        assert getattr(ours.keys, name) == getattr(sa.keys, name), name
    chosen = {t.type: t for t in sa.proposal.transforms}
    assert chosen[TransformType.ENCR].id == ike_encr
    assert chosen[TransformType.ENCR].key_length == ike_bits
    assert chosen[TransformType.KE].id == group
    assert (chosen[TransformType.INTEG].id if TransformType.INTEG in chosen else None) == ike_integ
    assert ours.chosen.encr.id == ike_encr and ours.chosen.ke == group

    # CP(CFG_REPLY): the address, both DNS servers in order, the domain.
    assert cfg.addresses == (VIP,)
    assert cfg.dns_servers == (
        ipaddress.IPv4Address("198.18.3.53"),
        ipaddress.IPv4Address("198.18.3.54"),
    )
    assert cfg.dns_domains == ("corp.example",)

    # Child SA: SPIs cross over, selectors narrowed, keys match in the right direction.
    g = gw.child
    assert g is not None
    assert child.spi_in == g.spi_out  # the SPI we put in SAi2
    assert child.spi_out == g.spi_in  # the SPI the gateway put in SAr2
    assert child.encr_id == esp_encr and child.encr_key_bits == esp_bits
    assert child.integ_id == esp_integ
    assert child.esn is False
    assert child.local_ts == (TrafficSelectorRange(VIP, VIP),)
    assert child.remote_ts == (SUBNET_TS,)
    assert child.udp_encapsulation is True
    assert child.remote == Endpoint(GATEWAY, 4500)
    keys = child.keys
    assert len(keys.encr_out) == encr_len and len(keys.integ_out) == integ_len
    assert keys.encr_out == g.encr_in  # initiator -> responder
    assert keys.integ_out == g.integ_in
    assert keys.encr_in == g.encr_out  # responder -> initiator
    assert keys.integ_in == g.integ_out
    assert keys.encr_out != keys.encr_in
    assert conn.children == (child,)
    assert conn.drops.malformed == conn.drops.integrity == conn.drops.unexpected == 0


def test_two_runs_replay_byte_for_byte() -> None:
    def run() -> list[bytes]:
        net, _ = establish()
        net.conn.close(1.0)
        net.pump(1.0)
        return [d.data for d in net.wire]

    first, second = run(), run()
    assert len(first) == 6  # SA_INIT, AUTH, INFORMATIONAL: requests and responses
    assert first == second
    # Another seed gives other bytes: the randomness really is injected.
    conn = connection(seed=b"other")
    conn.connect(0.0)
    ((other, _),) = conn.datagrams_to_send(0.0)
    assert other != first[0]


def test_request_payloads_in_order() -> None:
    net, _ = establish()
    gw = net.gw
    (init,) = gw.requests(ExchangeType.IKE_SA_INIT)
    kinds = [type(p).__name__ for p in init.payloads]
    assert kinds[:3] == ["SaPayload", "KePayload", "NoncePayload"]
    notifies = [p.notify_type for p in init.payloads if isinstance(p, NotifyPayload)]
    assert NotifyType.NAT_DETECTION_SOURCE_IP in notifies
    assert NotifyType.NAT_DETECTION_DESTINATION_IP in notifies
    assert NotifyType.IKEV2_FRAGMENTATION_SUPPORTED in notifies
    (auth,) = inner_of(gw, ExchangeType.IKE_AUTH)
    assert [type(p).__name__ for p in auth] == [
        "IdiPayload",
        "NotifyPayload",  # INITIAL_CONTACT
        "IdrPayload",
        "AuthPayload",
        "CpPayload",
        "SaPayload",
        "TsiPayload",
        "TsrPayload",
    ]


# --------------------------------------------------------------------- NAT-T (RFC 7296 §2.23)


def test_forced_encapsulation_floats_to_4500_with_marker() -> None:
    net, events = establish()
    (init_req,) = sent(net, SA_INIT_REQUEST)
    (auth_req,) = sent(net, AUTH_REQUEST)
    # HDR, SAi1, ... on port 500, no marker.
    assert init_req.dst.port == 500 and not init_req.framed
    # Non-ESP marker | HDR, SK {...} on port 4500 (RFC 3948 §2.2).
    assert auth_req.dst == Endpoint(GATEWAY, 4500)
    assert auth_req.data[:4] == NON_ESP_MARKER
    assert auth_req.data[4:12] == net.conn.spi_i
    (auth_resp,) = sent(net, AUTH_RESPONSE)
    assert auth_resp.framed and auth_resp.src.port == 4500
    # The fake NAT-D source made the gateway see a NAT, which is the point of forcing.
    assert net.gw.initiator_behind_nat is True
    assert net.conn.udp_encapsulation is True
    assert net.conn.remote == Endpoint(GATEWAY, 4500)
    est = events[0]
    assert isinstance(est, IkeSaEstablished)
    assert est.udp_encapsulation is True
    assert (est.local_behind_nat, est.remote_behind_nat) == (False, False)


def test_no_nat_without_forcing_stays_on_500() -> None:
    net, events = establish(force_encapsulation=False)
    assert net.conn.state == IkeSaState.ESTABLISHED
    assert all(d.dst.port == 500 or d.src.port == 500 for d in net.wire)
    assert not any(d.framed for d in net.wire)
    assert net.gw.initiator_behind_nat is False
    assert net.conn.udp_encapsulation is False
    assert net.conn.remote == Endpoint(GATEWAY, 500)
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    assert child.udp_encapsulation is False and child.remote.port == 500


def test_real_nat_detected_and_floats() -> None:
    conn = connection(settings(force_encapsulation=False))
    gw = gateway()
    net = Network(conn, gw, nat="198.51.100.77")
    conn.connect(0.0)
    net.pump(0.0)
    events = drain(conn)
    assert conn.state == IkeSaState.ESTABLISHED
    # The gateway saw the NAT's public address, and said so in NAT_DETECTION_DESTINATION_IP.
    (init,) = gw.requests(ExchangeType.IKE_SA_INIT)
    assert init.src == Endpoint("198.51.100.77", 30500)
    assert gw.initiator_behind_nat is True
    est = events[0]
    assert isinstance(est, IkeSaEstablished)
    assert (est.local_behind_nat, est.remote_behind_nat) == (True, False)
    assert conn.local_behind_nat is True
    (auth_req,) = sent(net, AUTH_REQUEST)
    assert auth_req.dst == Endpoint(GATEWAY, 4500) and auth_req.framed
    assert conn.udp_encapsulation is True


def test_non_esp_without_marker_on_4500_is_not_ours() -> None:
    net, _ = establish()
    conn = net.conn
    esp = b"\x12\x34\x56\x78" + bytes(40)  # an ESP SPI, not the marker
    conn.receive_datagram(esp, Endpoint(GATEWAY, 4500), 1.0)
    assert conn.drops.not_ours == 1
    conn.receive_datagram(b"\xff", Endpoint(GATEWAY, 4500), 1.0)  # NAT-T keepalive
    assert conn.drops.keepalive == 1
    assert conn.state == IkeSaState.ESTABLISHED


# --------------------------------------------------------------------- COOKIE, INVALID_KE, NO_PROP


@pytest.mark.parametrize("force", [True, False])
def test_cookie_resent_first_with_same_payloads(force: bool) -> None:
    gw = gateway(require_cookie=True)
    net, events = establish(gw, force_encapsulation=force)
    # HDR, SAi1, KEi, Ni, N(NAT_D*) -->
    # <-- HDR, N(COOKIE)
    # HDR, N(COOKIE), SAi1, KEi, Ni, N(NAT_D*) -->
    first, second = sent(net, SA_INIT_REQUEST)
    cookie_resp = sent(net, SA_INIT_RESPONSE)[0]
    (cookie,) = pull_message(cookie_resp.ike).payloads
    assert isinstance(cookie, NotifyPayload) and cookie.notify_type == NotifyType.COOKIE
    m1, m2 = pull_message(first.ike), pull_message(second.ike)
    assert m2.payloads[0] == cookie
    assert m2.payloads[1:] == m1.payloads
    assert m2.header.spi_i == m1.header.spi_i and m2.header.message_id == 0
    assert gw.cookie_ok is True
    assert net.conn.state == IkeSaState.ESTABLISHED
    assert [type(e) for e in events] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]


def test_invalid_ke_payload_retries_once_with_requested_group() -> None:
    gw = gateway(want_group=KeGroup.MODP2048)
    net, events = establish(gw, ike="aes256gcm16-prfsha256-ecp256-modp2048")
    # HDR, SAi1, KEi(ECP256), Ni -->  <-- HDR, N(INVALID_KE_PAYLOAD, MODP2048)
    # HDR, SAi1, KEi(MODP2048), Ni -->  <-- HDR, SAr1, KEr, Nr
    first, second = sent(net, SA_INIT_REQUEST)
    ke1 = next(p for p in pull_message(first.ike).payloads if isinstance(p, KePayload))
    ke2 = next(p for p in pull_message(second.ike).payloads if isinstance(p, KePayload))
    assert (ke1.group, ke2.group) == (KeGroup.ECP256, KeGroup.MODP2048)
    assert len(ke2.data) == 256
    notify = pull_message(sent(net, SA_INIT_RESPONSE)[0].ike).payloads[0]
    assert isinstance(notify, NotifyPayload)
    assert notify.notify_type == NotifyType.INVALID_KE_PAYLOAD
    assert notify.data == KeGroup.MODP2048.to_bytes(2, "big")
    assert net.conn.state == IkeSaState.ESTABLISHED
    ike_sa = net.conn.ike_sa
    assert ike_sa is not None and ike_sa.chosen.ke == KeGroup.MODP2048
    assert isinstance(events[0], IkeSaEstablished)


def test_invalid_ke_payload_for_a_group_not_offered() -> None:
    gw = gateway(want_group=KeGroup.ECP384)
    net, events = refused(gw)
    assert len(sent(net, SA_INIT_REQUEST)) == 1  # no retry with a group we never offered
    closed = closed_event(events)
    assert isinstance(closed.error, InvalidKePayload)
    assert closed.error.group == KeGroup.ECP384
    assert net.conn.state == IkeSaState.CLOSED
    assert net.conn.get_timer() is None


def test_invalid_ke_payload_only_retried_once() -> None:
    conn = connection(settings(ike="aes256gcm16-prfsha256-ecp256-modp2048-x25519"))
    gw = gateway(want_group=KeGroup.MODP2048)
    net = Network(conn, gw)
    net.hold_next(lambda d: d.to_gateway and len(net.gw.received) == 1)
    conn.connect(0.0)
    net.pump(0.0)
    assert len(net.held) == 1  # the retry with MODP2048
    gw.want_group = KeGroup.CURVE25519  # now the gateway changes its mind
    net.release(0.0)
    assert net.run_timers(until=100.0) == SA_INIT_ERROR_GRACE
    closed = closed_event(drain(conn))
    assert isinstance(closed.error, InvalidKePayload)
    assert closed.error.group == KeGroup.CURVE25519
    assert len(sent(net, SA_INIT_REQUEST)) == 2


def test_no_proposal_chosen_lists_offers() -> None:
    gw = gateway(reject_proposals=True)
    net, events = refused(gw, ike=["aes256gcm16-prfsha256-ecp256", "aes128-sha256-modp2048"])
    closed = closed_event(events)
    assert isinstance(closed.error, NoProposalChosen)
    text = str(closed.error)
    for p in net.conn._settings.ike_proposals:
        assert str(p) in text
    assert "AES_GCM_16_256" in text and "MODP2048" in text
    assert net.conn.state == IkeSaState.CLOSED
    assert not any(isinstance(e, IkeSaEstablished) for e in events)


def test_no_common_proposal_at_the_gateway() -> None:
    gw = gateway(ike_proposals=parse_proposals(["aes128-sha256-modp2048"], ike=True))
    _, events = refused(gw, ike="aes256gcm16-prfsha256-ecp256")
    assert isinstance(closed_event(events).error, NoProposalChosen)


# --------------------------------------------------------------------- loss, duplication, timers


def test_lost_first_request_is_retransmitted_same_bytes() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.drop_next(SA_INIT_REQUEST)
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.SA_INIT_SENT
    assert conn.get_timer() == 2.0  # RetransmitPolicy(timeout=2.0, ...)
    conn.handle_timer(1.9)  # early: nothing
    assert net.collect(1.9) == []
    conn.handle_timer(2.0)
    net.pump(2.0)
    first, second = sent(net, SA_INIT_REQUEST)
    assert first.data == second.data
    assert conn.state == IkeSaState.ESTABLISHED


def test_lost_response_gets_cached_answer() -> None:
    conn = connection()
    gw = gateway()
    net = Network(conn, gw)
    net.drop_next(SA_INIT_RESPONSE)
    net.drop_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.SA_INIT_SENT
    net.run_timers(until=2.0)
    assert conn.state == IkeSaState.AUTH_SENT
    net.run_timers(until=4.0)
    assert conn.state == IkeSaState.ESTABLISHED
    r1, r2 = sent(net, SA_INIT_RESPONSE)
    assert r1.data == r2.data  # the gateway answered the retransmission from its cache
    a1, a2 = sent(net, AUTH_REQUEST)
    assert a1.data == a2.data
    b1, b2 = sent(net, AUTH_RESPONSE)
    assert b1.data == b2.data
    assert len(gw.requests(ExchangeType.IKE_AUTH)) == 1  # processed once
    assert [type(e) for e in drain(conn)] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]


@pytest.mark.parametrize("which", ["init", "auth"])
def test_duplicated_response_is_ignored(which: str) -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.duplicate_next(SA_INIT_RESPONSE if which == "init" else AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.ESTABLISHED
    assert conn.drops.unexpected == 1
    assert [type(e) for e in drain(conn)] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]
    assert len(sent(net, AUTH_REQUEST)) == 1


def test_reordered_stale_response_is_ignored() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)  # the first answer is delayed...
    conn.connect(0.0)
    net.pump(0.0)
    net.run_timers(until=2.0)  # ... the retransmission's answer (same bytes) overtakes it
    assert conn.state == IkeSaState.ESTABLISHED
    assert conn.drops.unexpected == 0
    net.release(2.5)  # the late one is a duplicate now
    assert conn.drops.unexpected == 1
    assert conn.state == IkeSaState.ESTABLISHED
    assert [type(e) for e in drain(conn)] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]


def test_retransmission_schedule_follows_policy() -> None:
    policy = RetransmitPolicy(timeout=1.5, base=3.0, tries=3, max_interval=10.0)
    conn = connection(settings(retransmit=policy))
    net = Network(conn, gateway())
    net.drop_next(SA_INIT_REQUEST, count=10)
    conn.connect(100.0)
    net.pump(100.0)
    # timeout * base**n, capped: 1.5, 4.5, 10 (not 13.5), then a last 10 before giving up.
    expected = [101.5, 106.0, 116.0, 126.0]
    seen = []
    while (deadline := conn.get_timer()) is not None:
        seen.append(deadline)
        conn.handle_timer(deadline - 0.01)  # not yet
        assert conn.get_timer() == deadline
        conn.handle_timer(deadline)
        net.pump(deadline)
    assert seen == pytest.approx(expected)
    requests = sent(net, SA_INIT_REQUEST)
    assert len(requests) == policy.tries + 1
    assert len({d.data for d in requests}) == 1
    closed = closed_event(drain(conn))
    assert isinstance(closed.error, GatewayUnreachable)
    assert conn.state == IkeSaState.CLOSED


def test_give_up_during_ike_auth() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.drop_next(AUTH_REQUEST, count=10)
    conn.connect(0.0)
    net.pump(0.0)
    end = net.run_timers(until=1000.0)
    assert end == pytest.approx(2 + 4 + 8 + 16)  # RetransmitPolicy(2.0, 2.0, 3)
    closed = closed_event(drain(conn))
    assert isinstance(closed.error, GatewayUnreachable)
    assert len(sent(net, AUTH_REQUEST)) == 4
    assert conn.get_timer() is None


# --------------------------------------------------------------------- authentication and TS


def test_wrong_auth_from_gateway() -> None:
    gw = gateway(bad_auth=True)
    net, events = establish(gw)
    closed = closed_event(events)
    assert type(closed.error) is AuthenticationFailed
    assert not any(isinstance(e, IkeSaEstablished | ChildSaEstablished) for e in events)
    # HDR, SK {D(IKE)} -->   (RFC 7296 §2.21.2)
    assert inner_of(gw, ExchangeType.INFORMATIONAL) == [(DeletePayload(ProtocolId.IKE, ()),)]
    (delete,) = sent(net, INFO_REQUEST)
    assert delete.header.message_id == 2 and delete.framed
    assert net.conn.state == IkeSaState.CLOSED


def test_gateway_rejects_our_psk() -> None:
    gw = gateway(psk=b"another key entirely")
    _, events = establish(gw)
    # <-- HDR, SK {N(AUTHENTICATION_FAILED)}
    assert gw.auth_verified is False
    closed = closed_event(events)
    assert type(closed.error) is AuthenticationFailed
    assert "rejected" in str(closed.error)


def test_gateway_identity_mismatch() -> None:
    gw = gateway(identity=Identity.parse("@evil.example.net"))
    _, events = establish(gw)
    closed = closed_event(events)
    assert isinstance(closed.error, IdentityMismatch)
    assert "evil.example.net" in str(closed.error)


def test_ts_unacceptable_deletes_the_ike_sa() -> None:
    gw = gateway(ts_unacceptable=True)
    net, events = establish(gw)
    # <-- HDR, SK {IDr, AUTH, CP(CFG_REPLY), N(TS_UNACCEPTABLE)}
    # HDR, SK {D(IKE)} -->   <-- HDR, SK {}
    assert isinstance(events[0], IkeSaEstablished)
    assert not any(isinstance(e, ChildSaEstablished) for e in events)
    closed = closed_event(events)
    assert isinstance(closed.error, TsUnacceptable)
    assert inner_of(gw, ExchangeType.INFORMATIONAL) == [(DeletePayload(ProtocolId.IKE, ()),)]
    assert gw.sa.deleted
    assert net.conn.state == IkeSaState.CLOSED


def test_child_proposal_rejected() -> None:
    gw = gateway(child_reject=True)
    _, events = establish(gw, esp=["aes256gcm16", "aes128-sha256"])
    closed = closed_event(events)
    assert isinstance(closed.error, NoProposalChosen)
    assert "ESP" in str(closed.error) and "AES_CBC_128" in str(closed.error)


def test_selectors_outside_the_request_are_refused() -> None:
    # We ask only for 10.0.0.0/8; the gateway protects 198.18.3.0/24: nothing in common.
    ts = TrafficSelectorRange(
        ipaddress.IPv4Address("10.0.0.0"), ipaddress.IPv4Address("10.255.255.255")
    )
    gw = gateway()
    _, events = establish(gw, remote_ts=(ts,))
    assert isinstance(closed_event(events).error, TsUnacceptable)


# --------------------------------------------------------------------- INFORMATIONAL (§1.4)


def test_close_deletes_ike_sa() -> None:
    net, events = establish()
    conn, gw = net.conn, net.gw
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    # HDR, SK {D(IKE)} -->
    conn.close(5.0, "bye")
    assert conn.state == IkeSaState.DELETING
    assert conn.get_timer() == 7.0
    net.hold_next(INFO_RESPONSE)
    net.pump(5.0)
    assert inner_of(gw, ExchangeType.INFORMATIONAL) == [(DeletePayload(ProtocolId.IKE, ()),)]
    assert drain(conn) == []
    # <-- HDR, SK {}
    net.release(5.1)
    events = drain(conn)
    assert events == [
        ChildSaDeleted(child.spi_in, child.spi_out, "bye"),
        IkeSaClosed("bye", None),
    ]
    assert conn.state == IkeSaState.CLOSED
    assert conn.children == ()
    assert gw.sa.deleted
    conn.close(6.0)  # idempotent
    assert drain(conn) == [] and net.collect(6.0) == []


def test_close_without_answer_gives_up_quietly() -> None:
    net, _ = establish()
    net.drop_next(INFO_REQUEST, count=10)
    net.conn.close(1.0)
    net.pump(1.0)
    net.run_timers(until=1000.0)
    events = drain(net.conn)
    assert [type(e) for e in events] == [ChildSaDeleted, IkeSaClosed]
    assert events[-1].error is None  # type: ignore[union-attr]
    assert len(sent(net, INFO_REQUEST)) == 4


def test_close_before_auth_answer_waits_for_it() -> None:
    conn = connection()
    gw = gateway()
    net = Network(conn, gw)
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    conn.close(0.5, "changed my mind")
    assert net.collect(0.5) == []  # one request at a time
    net.release(0.6)
    # The IKE_AUTH answer established the SA; the Delete followed at once.
    assert inner_of(gw, ExchangeType.INFORMATIONAL) == [(DeletePayload(ProtocolId.IKE, ()),)]
    assert conn.state == IkeSaState.CLOSED
    assert [type(e) for e in drain(conn)][-1] is IkeSaClosed


def test_gateway_liveness_check_answered() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    # <-- HDR, SK {}     (message ID 0 of the gateway's own window)
    # HDR, SK {} -->
    net.from_gateway(gw.liveness_check(), 30.0)
    (resp,) = sent(net, lambda d: d.to_gateway and d.is_response)
    assert resp.framed and resp.dst == Endpoint(GATEWAY, 4500)
    header = resp.header
    assert header.exchange_type == ExchangeType.INFORMATIONAL
    assert header.message_id == 0
    assert header.flags == HeaderFlag.INITIATOR | HeaderFlag.RESPONSE
    answer = gw.received[-1]
    assert answer.response and answer.payloads == ()
    assert conn.state == IkeSaState.ESTABLISHED
    assert drain(conn) == []
    # The next one (message ID 1) is answered too.
    net.from_gateway(gw.liveness_check(), 40.0)
    assert [r.response for r in gw.received[-2:]] == [True, True]
    assert gw.received[-1].message_id == 1


def test_retransmitted_gateway_request_gets_cached_response() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    request = gw.liveness_check()
    net.from_gateway(request, 30.0)
    net.from_gateway(request, 31.0)  # the gateway did not hear us: same request again
    first, second = sent(net, lambda d: d.to_gateway and d.is_response)
    assert first.data == second.data
    # An old request already answered is not answered as new.
    assert conn.drops.unexpected == 0
    assert conn.state == IkeSaState.ESTABLISHED


def test_gateway_deletes_child() -> None:
    net, events = establish()
    conn, gw = net.conn, net.gw
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    # <-- HDR, SK {D(ESP, SPI the gateway receives on)}
    # HDR, SK {D(ESP, SPI we receive on)} -->
    net.from_gateway(gw.delete_child(), 50.0)
    answer = gw.received[-1]
    assert answer.response
    assert answer.payloads == (DeletePayload(ProtocolId.ESP, (child.spi_in.to_bytes(4, "big"),)),)
    events = drain(conn)
    assert events == [ChildSaDeleted(child.spi_in, child.spi_out, "deleted by the gateway")]
    assert conn.children == ()
    assert conn.state == IkeSaState.ESTABLISHED


def test_gateway_deletes_ike_sa() -> None:
    net, events = establish()
    conn, gw = net.conn, net.gw
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    # <-- HDR, SK {D(IKE)}
    # HDR, SK {} -->
    net.from_gateway(gw.delete_ike_sa(), 50.0)
    assert gw.received[-1].response and gw.received[-1].payloads == ()
    events = drain(conn)
    assert [type(e) for e in events] == [ChildSaDeleted, IkeSaClosed]
    closed = events[-1]
    assert isinstance(closed, IkeSaClosed) and closed.error is None
    assert conn.state == IkeSaState.CLOSED
    assert conn.get_timer() is None


# --------------------------------------------------------------------- §2.21: drop silently


def test_garbage_is_dropped_and_counted() -> None:
    net, _ = establish()
    conn = net.conn
    for junk in [b"", b"\x00", b"\x00\x00\x00\x00", bytes(27), bytes(100), b"IKE?" * 20]:
        conn.receive_datagram(NON_ESP_MARKER + junk, Endpoint(GATEWAY, 4500), 1.0)
        conn.receive_datagram(junk, Endpoint(GATEWAY, 500), 1.0)
    assert conn.drops.malformed >= 6
    assert conn.state == IkeSaState.ESTABLISHED
    assert drain(conn) == []
    assert net.collect(1.0) == []


def test_response_with_bad_icv_is_dropped() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (good,) = net.held
    bad = Datagram(good.data[:-1] + bytes((good.data[-1] ^ 0x80,)), good.src, good.dst)
    net.pump(0.1, [bad])
    assert conn.drops.integrity == 1
    assert conn.state == IkeSaState.AUTH_SENT
    assert conn.get_timer() == 2.0  # still waiting, the request is still outstanding
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


def test_response_with_wrong_message_id_is_dropped() -> None:
    conn = connection()
    gw = gateway()
    net = Network(conn, gw)
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    sa = gw.sa
    # A well-protected IKE_AUTH response, but for message ID 7.
    forged = seal(
        spi_i=sa.spi_i,
        spi_r=sa.spi_r,
        exchange=ExchangeType.IKE_AUTH,
        flags=HeaderFlag.RESPONSE,
        message_id=7,
        payloads=[],
        cipher=sa.outbound,
        rng=gw.rng,
    )
    conn.receive_datagram(NON_ESP_MARKER + forged, Endpoint(GATEWAY, 4500), 0.1)
    assert conn.drops.unexpected == 1
    # Unprotected IKE_SA_INIT response with a wrong message ID after the fact.
    (init_resp,) = sent(net, SA_INIT_RESPONSE)
    conn.receive_datagram(init_resp.data, init_resp.src, 0.1)
    assert conn.drops.unexpected == 2
    assert conn.state == IkeSaState.AUTH_SENT
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


def test_message_for_another_spi_is_not_ours() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (resp,) = net.held
    other = bytes(8 * [0x42]) + resp.data[8:]
    conn.receive_datagram(other, resp.src, 0.1)
    assert conn.drops.not_ours == 1
    assert conn.state == IkeSaState.SA_INIT_SENT
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED
    # Established: a gateway request on another responder SPI is not ours either.
    gw = net.gw
    req = gw.liveness_check()
    tampered = req[:12] + bytes(8) + req[20:]
    conn.receive_datagram(tampered, Endpoint(GATEWAY, 4500), 1.0)
    assert conn.drops.not_ours == 2


def test_unprotected_malformed_sa_init_answer_keeps_waiting() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (resp,) = net.held
    msg = pull_message(resp.data)
    # A forged reply with neither SA nor an error notify: malformed, keep waiting.
    forged = encode_message(
        msg.header.spi_i,
        msg.header.spi_r,
        ExchangeType.IKE_SA_INIT,
        HeaderFlag.RESPONSE,
        0,
        [NotifyPayload(0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, bytes(20))],
    )
    conn.receive_datagram(forged, resp.src, 0.1)
    assert conn.drops.malformed == 1
    assert conn.state == IkeSaState.SA_INIT_SENT
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


def test_sa_init_answer_with_invalid_ke_value_keeps_waiting() -> None:
    # An unprotected reply whose KEr is not a point on the curve may be forged (§2.21.1):
    # drop it as malformed and keep waiting for the genuine answer.
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (resp,) = net.held
    msg = pull_message(resp.data)
    h = msg.header
    payloads = [
        KePayload(p.group, bytes(len(p.data))) if isinstance(p, KePayload) else p
        for p in msg.payloads
    ]
    forged = encode_message(h.spi_i, h.spi_r, h.exchange_type, h.flags, 0, payloads)
    conn.receive_datagram(forged, resp.src, 0.1)
    assert conn.drops.malformed == 1
    assert conn.state == IkeSaState.SA_INIT_SENT
    assert drain(conn) == []
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


def test_only_malformed_answers_report_the_last_error_on_give_up() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.drop_next(SA_INIT_RESPONSE, count=10)
    conn.connect(0.0)
    net.pump(0.0)
    conn.receive_datagram(bytes(40), Endpoint(GATEWAY, 500), 0.1)
    net.run_timers(until=1000.0)
    closed = closed_event(drain(conn))
    assert closed.error is conn.drops.last_error
    assert "malformed" in closed.reason


# --------------------------------------------------------------------- API and crossings


def test_close_before_ike_sa_exists() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    conn.close(0.5, "never mind")
    assert drain(conn) == [IkeSaClosed("never mind", None)]
    assert conn.state == IkeSaState.CLOSED and conn.get_timer() is None
    net.release(0.6)  # the late answer changes nothing
    assert drain(conn) == [] and net.collect(0.6) == []
    with pytest.raises(LocalProtocolError):
        conn.connect(1.0)


def test_connect_twice_is_misuse() -> None:
    conn = connection()
    conn.connect(0.0)
    with pytest.raises(LocalProtocolError):
        conn.connect(0.0)


def test_crossing_deletes_close_once() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    net.hold_next(INFO_REQUEST)
    conn.close(5.0)  # HDR, SK {D(IKE)} -->   (in flight)
    net.pump(5.0)
    # <-- HDR, SK {D(IKE)}   (the gateway's own Delete crosses ours)
    net.from_gateway(gw.delete_ike_sa(), 5.1)
    assert gw.received[-1].response and gw.received[-1].payloads == ()
    events = drain(conn)
    assert [type(e) for e in events] == [ChildSaDeleted, IkeSaClosed]
    assert conn.state == IkeSaState.CLOSED
    net.release(5.2)  # our Delete arrives at a gateway that has forgotten the SA
    assert drain(conn) == [] and conn.get_timer() is None


def test_gateway_request_while_our_request_is_outstanding() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    net.hold_next(INFO_REQUEST)
    conn.close(5.0)
    net.pump(5.0)
    # Each side has its own window (§2.3): the gateway's liveness check is answered now.
    net.from_gateway(gw.liveness_check(), 5.1)
    assert gw.received[-1].response
    assert conn.state == IkeSaState.DELETING
    net.release(5.2)
    assert conn.state == IkeSaState.CLOSED


def test_without_virtual_ip_tsi_is_our_address() -> None:
    net, events = establish(request_virtual_ip=False, force_encapsulation=False)
    assert [type(e) for e in events] == [IkeSaEstablished, ChildSaEstablished]
    (auth,) = inner_of(net.gw, ExchangeType.IKE_AUTH)
    assert not any(isinstance(p, CpPayload) for p in auth)
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    me = ipaddress.IPv4Address(INITIATOR)
    assert child.local_ts == (TrafficSelectorRange(me, me),)


def test_ipv6_asked_but_only_ipv4_granted() -> None:
    net, events = establish(request_ipv6=True)
    (auth,) = inner_of(net.gw, ExchangeType.IKE_AUTH)
    tsi = next(p for p in auth if isinstance(p, TsiPayload))
    assert len(tsi.selectors) == 2  # 0.0.0.0/0 and ::/0
    child = events[-1]
    assert isinstance(child, ChildSaEstablished)
    assert child.local_ts == (TrafficSelectorRange(VIP, VIP),)


def test_gateway_create_child_sa_is_refused_politely() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    offer = SaPayload((Proposal(1, ProtocolId.ESP, b"\x11\x22\x33\x44", ()),))
    # <-- HDR, SK {SA, Nr}    (the gateway tries to create a child SA)
    # HDR, SK {N(NO_ADDITIONAL_SAS)} -->
    request = gw.request(
        [offer, NoncePayload(bytes(32))], framed=True, exchange=ExchangeType.CREATE_CHILD_SA
    )
    net.from_gateway(request, 20.0)
    answer = gw.received[-1]
    assert answer.response and answer.exchange == ExchangeType.CREATE_CHILD_SA
    assert answer.payloads == (NotifyPayload(0, b"", NotifyType.NO_ADDITIONAL_SAS, b""),)
    assert conn.state == IkeSaState.ESTABLISHED
    assert drain(conn) == []


def test_unknown_critical_payload_in_a_gateway_request_is_answered() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    # <-- HDR, SK {<unknown payload 200, critical>}
    # HDR, SK {N(UNSUPPORTED_CRITICAL_PAYLOAD, 200)} -->
    net.from_gateway(gw.request([UnknownPayload(200, True, b"xyz")], framed=True), 30.0)
    answer = gw.received[-1]
    assert answer.response and answer.message_id == 0
    (notify,) = answer.payloads
    assert isinstance(notify, NotifyPayload)
    assert notify.notify_type == NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
    assert notify.data == bytes((200,))
    assert conn.state == IkeSaState.ESTABLISHED
    # A non-critical unknown payload is skipped and the request answered normally.
    net.from_gateway(gw.request([UnknownPayload(201, False, b"xyz")], framed=True), 31.0)
    assert gw.received[-1].response and gw.received[-1].payloads == ()


# --------------------------------------------------------------------- forged answers before AUTH


def _forged_refusal(conn_spi_i: bytes, notify: int = NotifyType.NO_PROPOSAL_CHOSEN) -> bytes:
    """<-- HDR(SPIi, 0, IKE_SA_INIT, response), N(notify): anyone who saw SPIi can send it."""
    return encode_message(
        conn_spi_i,
        bytes(8),
        ExchangeType.IKE_SA_INIT,
        HeaderFlag.RESPONSE,
        0,
        [NotifyPayload(0, b"", notify, b"")],
    )


def _held_sa_init(**kw: object) -> Network:
    """IKE_SA_INIT sent at t=0; the gateway's genuine answer is held back."""
    conn = connection(settings(**kw))  # type: ignore[arg-type]
    net = Network(conn, gateway())
    net.hold_next(SA_INIT_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    assert len(net.held) == 1
    return net


@pytest.mark.parametrize(
    "src",
    [Endpoint("198.51.100.66", 500), Endpoint(GATEWAY, 4500), Endpoint(GATEWAY, 501)],
    ids=["other-address", "nat-t-port", "other-port"],
)
def test_forged_refusal_from_elsewhere_is_dropped(src: Endpoint) -> None:
    net = _held_sa_init()
    conn = net.conn
    # <-- HDR, N(NO_PROPOSAL_CHOSEN) from an address or port the request did not go to
    conn.receive_datagram(_forged_refusal(conn.spi_i), src, 0.05)
    assert conn.drops.wrong_source == 1
    assert conn.drops.sa_init_error_hints == 0
    assert conn.state == IkeSaState.SA_INIT_SENT and drain(conn) == []
    assert conn.get_timer() == 2.0  # the ordinary retransmission, nothing shortened
    # <-- HDR, SAr1, KEr, Nr (the genuine answer, from GATEWAY:500)
    net.release(0.1)
    assert conn.state == IkeSaState.ESTABLISHED
    assert [type(e) for e in drain(conn)] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]


def test_genuine_answer_from_a_wrong_port_is_ignored() -> None:
    net = _held_sa_init()
    conn = net.conn
    (resp,) = net.held
    conn.receive_datagram(resp.data, Endpoint(GATEWAY, 4500), 0.1)  # right bytes, wrong port
    conn.receive_datagram(resp.data, Endpoint(GATEWAY, 1500), 0.1)
    assert conn.drops.wrong_source == 2
    assert conn.state == IkeSaState.SA_INIT_SENT
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


def test_auth_answer_must_come_from_the_nat_t_port_after_the_float() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.AUTH_SENT and conn.remote == Endpoint(GATEWAY, 4500)
    (resp,) = net.held
    conn.receive_datagram(resp.data, Endpoint(GATEWAY, 500), 0.1)  # the pre-float port
    conn.receive_datagram(resp.data, Endpoint("198.51.100.66", 4500), 0.1)
    assert conn.drops.wrong_source == 2
    assert conn.state == IkeSaState.AUTH_SENT
    net.release(0.2)
    assert conn.state == IkeSaState.ESTABLISHED


@pytest.mark.parametrize(
    "notify",
    [NotifyType.NO_PROPOSAL_CHOSEN, NotifyType.AUTHENTICATION_FAILED, NotifyType.INVALID_SYNTAX],
)
def test_forged_refusal_from_the_gateway_address_then_the_real_answer(notify: int) -> None:
    net = _held_sa_init()
    conn = net.conn
    # <-- HDR, N(error) spoofed from GATEWAY:500, faster than the gateway
    conn.receive_datagram(_forged_refusal(conn.spi_i, notify), Endpoint(GATEWAY, 500), 0.05)
    assert conn.drops.sa_init_error_hints == 1
    assert conn.state == IkeSaState.SA_INIT_SENT and drain(conn) == []
    assert conn.get_timer() == pytest.approx(0.05 + SA_INIT_ERROR_GRACE)
    # <-- HDR, SAr1, KEr, Nr: the genuine answer, within the grace
    net.release(1.5)
    assert conn.state == IkeSaState.ESTABLISHED
    assert [type(e) for e in drain(conn)] == [IkeSaEstablished, ConfigReceived, ChildSaEstablished]


def test_genuine_no_proposal_chosen_ends_the_attempt_in_bounded_time() -> None:
    # strongSwan's schedule (4 s, 1.8, 5 tries: ~165 s): the refusal must not take that long.
    gw = gateway(reject_proposals=True)
    conn = connection(settings(retransmit=RetransmitPolicy()))
    net = Network(conn, gw)
    conn.connect(0.0)
    net.pump(0.0)
    assert drain(conn) == []  # held back: it may be forged
    end = net.run_timers(until=1000.0)
    assert end == SA_INIT_ERROR_GRACE
    closed = closed_event(drain(conn))
    assert isinstance(closed.error, NoProposalChosen)
    assert exit_code_for(closed.error) == ExitCode.NO_PROPOSAL_CHOSEN == 12
    assert len(sent(net, SA_INIT_REQUEST)) == 1  # nothing retransmitted into a refusal
    assert conn.state == IkeSaState.CLOSED and conn.get_timer() is None


def test_forged_cookies_cannot_loop() -> None:
    # COOKIE is followed (RFC 7296 §2.6) but only MAX_COOKIE_RETRIES times; after that
    # it is one more unauthenticated refusal, and the attempt still ends in bounded time.
    net = _held_sa_init()
    conn = net.conn
    net.drop_next(SA_INIT_RESPONSE, count=100)
    for i in range(10):
        cookie = encode_message(
            conn.spi_i,
            bytes(8),
            ExchangeType.IKE_SA_INIT,
            HeaderFlag.RESPONSE,
            0,
            [NotifyPayload(0, b"", NotifyType.COOKIE, bytes([i + 1]) * 8)],
        )
        conn.receive_datagram(cookie, Endpoint(GATEWAY, 500), 0.1)
        net.pump(0.1)
    assert len(sent(net, SA_INIT_REQUEST)) == 1 + 3  # MAX_COOKIE_RETRIES resends, no more
    end = net.run_timers(until=1000.0)
    assert end == pytest.approx(0.1 + SA_INIT_ERROR_GRACE)
    assert isinstance(closed_event(drain(conn)).error, PeerNotify)


def test_malformed_answer_from_elsewhere_is_not_reported_on_give_up() -> None:
    conn = connection()
    net = Network(conn, gateway())
    net.drop_next(SA_INIT_RESPONSE, count=10)
    conn.connect(0.0)
    net.pump(0.0)
    conn.receive_datagram(bytes(40), Endpoint("198.51.100.66", 500), 0.1)
    assert conn.drops.malformed == 1
    net.run_timers(until=1000.0)
    assert isinstance(closed_event(drain(conn)).error, GatewayUnreachable)
