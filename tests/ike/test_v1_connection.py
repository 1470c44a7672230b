"""``Ikev1Connection`` against the in-repo responder double (``tests/ikev1_responder.py``),
with deterministic randomness and a simulated clock: Main Mode and Aggressive Mode with a PSK,
XAUTH, Mode Config, Quick Mode, lost and repeated packets, retransmission, wrong PSK and
XAUTH password, rekeying from either side, DPD, Delete, and a fuzz of ``receive_datagram``.

    HDR, SA                   -->
                              <--  HDR, SA
    HDR, KE, Ni, NAT-D, NAT-D -->
                              <--  HDR, KE, Nr, NAT-D, NAT-D
    HDR*, IDii, HASH_I        -->
                              <--  HDR*, IDir, HASH_R
    [XAUTH: <-- REQUEST, REPLY -->, <-- SET, ACK -->]
    HDR*, HASH, ATTR(REQUEST) -->
                              <--  HDR*, HASH, ATTR(REPLY)
    HDR*, HASH(1), SA, Ni, ID, ID -->
                              <--  HDR*, HASH(2), SA, Nr, ID, ID
    HDR*, HASH(3)             -->
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ikeclient.config.proposals import parse_proposals
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.errors import (
    AuthenticationFailed,
    GatewayUnreachable,
    IdentityMismatch,
    NoProposalChosen,
)
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaClosed,
    IkeSaEstablished,
    TrafficSelectorRange,
)
from ikeclient.ike.identity import Identity
from ikeclient.ike.v1.connection import Ikev1Connection
from ikeclient.ike.v1.enums import Doi, ExchangeType, NotifyType, ProtocolId
from ikeclient.ike.v1.message import HEADER_SIZE, push_header
from ikeclient.ike.v1.payloads import IdPayload, NotifyPayload, push_payload_chain
from ikeclient.ike.v1.quick_mode import id_from_ts
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v1.state import Ikev1State
from ikeclient.ike.v2.settings import RetransmitPolicy
from tests.ikev1_responder import GATEWAY, VIRTUAL_IP, Ikev1Gateway, Ikev1Responder

PSK = b"lab-psk-0123456789"
LOCAL = Endpoint("198.18.1.2", 500)
SERVER_NET = ipaddress.ip_network("198.18.3.0/24")


def settings(**kw: Any) -> Ikev1Settings:
    base = Ikev1Settings(
        local_id=Identity.parse("client@ike.lab"),
        psk=PSK,
        ike_proposals=parse_proposals(["aes256-sha256-modp2048", "aes128-sha1-modp2048"], ike=True),
        esp_proposals=parse_proposals(["aes256-sha256", "aes128gcm16"], ike=False),
        remote_ts=(TrafficSelectorRange(SERVER_NET.network_address, SERVER_NET.broadcast_address),),
        force_encapsulation=False,
        retransmit=RetransmitPolicy(timeout=1.0, base=2.0, tries=3),
        dpd_delay=0,
    )
    return replace(base, **kw)


class Pair:
    """Client and responder wired back to back, with a clock and a packet filter."""

    def __init__(
        self, s: Ikev1Settings, gw: Ikev1Responder | Ikev1Gateway, seed: bytes = b"client"
    ) -> None:
        self.conn = Ikev1Connection(
            s, local=LOCAL, remote=GATEWAY, rng=DeterministicRandomSource(seed)
        )
        self.gw = gw
        self.now = 0.0
        self.events: list[IkeEvent] = []
        self.sent: list[bytes] = []
        self.drop_to_gw = 0
        self.drop_to_client = 0

    def flush(self) -> None:
        for _ in range(50):
            out = self.conn.datagrams_to_send(self.now)
            if not out:
                break
            for data, _dest in out:
                self.sent.append(data)
                if self.drop_to_gw:
                    self.drop_to_gw -= 1
                    continue
                self.deliver(self.gw.receive(data))
        while (e := self.conn.next_event()) is not None:
            self.events.append(e)

    def deliver(self, datagrams: list[bytes]) -> None:
        for d in datagrams:
            if self.drop_to_client:
                self.drop_to_client -= 1
                continue
            self.conn.receive_datagram(
                d, Endpoint(GATEWAY.host, 4500 if d[:4] == bytes(4) else 500), self.now
            )

    def connect(self) -> None:
        self.conn.connect(self.now)
        self.flush()

    def advance(self, seconds: float, step: float = 0.25) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            timer = self.conn.get_timer()
            if timer is not None and timer <= self.now:
                self.conn.handle_timer(self.now)
            self.flush()

    def of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def _keys_match(pair: Pair, child: ChildSaEstablished) -> None:
    gw = pair.gw
    by_spi = {}
    for c in gw.children:
        by_spi[c.spi_r] = c.keymat_r
        by_spi[c.spi_i] = c.keymat_i
    km_in = by_spi[child.spi_in.to_bytes(4, "big")]
    km_out = by_spi[child.spi_out.to_bytes(4, "big")]
    assert child.keys.encr_in + child.keys.integ_in == km_in
    assert child.keys.encr_out + child.keys.integ_out == km_out


def test_main_mode_mode_config_quick_mode() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    assert p.conn.state == Ikev1State.ESTABLISHED
    (est,) = p.of(IkeSaEstablished)
    assert est.remote_identity == "gw.ike.lab"
    (config,) = p.of(ConfigReceived)
    assert [str(a) for a in config.addresses] == [VIRTUAL_IP]
    assert [str(n) for n in config.subnets] == ["198.18.3.0/24"]
    (child,) = p.of(ChildSaEstablished)
    assert str(child.local_ts[0]) == f"{VIRTUAL_IP}/32"
    assert child.remote_ts[0].networks() == [SERVER_NET]
    assert child.algorithms == "AES_CBC_256/HMAC_SHA2_256_128"
    _keys_match(p, child)
    assert "PSK" not in repr(p.conn.phase1_sa) and PSK.hex() not in repr(p.conn.phase1_sa)


def test_same_seeds_same_bytes() -> None:
    a = Pair(settings(), Ikev1Responder(PSK))
    b = Pair(settings(), Ikev1Responder(PSK))
    a.connect()
    b.connect()
    assert a.sent == b.sent and len(a.sent) == 6  # MM 1,3,5, CFG request, QM 1, QM 3


def test_aggressive_mode_group_name_and_xauth() -> None:
    s = settings(
        mode="aggressive",
        local_id=Identity.parse("keyid:52412d47524f5550"),
        xauth_user="alice",
        xauth_password=b"pw",
    )
    p = Pair(s, Ikev1Responder(PSK, xauth=("alice", b"pw")))
    p.connect()
    assert p.gw.xauth_ok is True
    assert p.conn.state == Ikev1State.ESTABLISHED
    assert p.gw.log[0].startswith("AGGRESSIVE")
    assert len(p.of(ChildSaEstablished)) == 1


def test_wrong_xauth_password() -> None:
    s = settings(xauth_user="alice", xauth_password=b"wrong")
    p = Pair(s, Ikev1Responder(PSK, xauth=("alice", b"pw")))
    p.connect()
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, AuthenticationFailed)
    assert "XAUTH" in str(closed.error)
    assert "wrong" not in str(closed.error)


def test_wrong_psk_main_mode_gives_up_as_authentication_failure() -> None:
    p = Pair(settings(psk=b"not-it"), Ikev1Responder(PSK))
    p.connect()
    assert {"HASH_I mismatch", "undecryptable or malformed"} & set(p.gw.log)
    p.advance(20)
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, AuthenticationFailed)
    assert "pre-shared key" in str(closed.error)


def test_wrong_psk_aggressive_mode_fails_on_hash_r() -> None:
    p = Pair(settings(psk=b"not-it", mode="aggressive"), Ikev1Responder(PSK))
    p.connect()
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, AuthenticationFailed)


def test_remote_identity_is_checked() -> None:
    p = Pair(settings(remote_id=Identity.parse("other.example.org")), Ikev1Responder(PSK))
    p.connect()
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, IdentityMismatch)


def test_lost_messages_are_retransmitted_with_backoff() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.drop_to_gw = 1  # message 1 lost
    p.connect()
    assert p.conn.state == Ikev1State.MM_SA_SENT
    assert p.conn.get_timer() == 1.0
    p.advance(1.0)
    assert p.conn.state == Ikev1State.ESTABLISHED


def test_repeated_gateway_message_gets_the_cached_answer() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.conn.connect(0.0)
    ((m1, _),) = p.conn.datagrams_to_send(0.0)
    m2 = p.gw.receive(m1)[0]
    p.conn.receive_datagram(m2, GATEWAY, 0.0)
    first = p.conn.datagrams_to_send(0.0)
    p.conn.receive_datagram(m2, GATEWAY, 0.1)  # the gateway repeats message 2
    assert p.conn.datagrams_to_send(0.1) == first  # the same message 3, not a new exchange
    assert p.conn.state == Ikev1State.MM_KE_SENT


def test_unanswered_gateway_is_unreachable() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.drop_to_gw = 100
    p.connect()
    p.advance(30)
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, GatewayUnreachable)
    assert len(p.sent) == 4  # the first try and three retransmissions


def test_gateway_rekeys_phase2_make_before_break() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    (old,) = p.of(ChildSaEstablished)
    p.deliver([p.gw.start_rekey()])
    p.flush()
    new = p.of(ChildSaEstablished)[-1]
    assert new.rekeyed_spi_in == old.spi_in and new.spi_in != old.spi_in
    # The gateway installs it only after our HASH(2): our traffic stays on the old SA until
    # the new one has proven itself (or the old one is gone).
    assert new.outbound_deferred and new.started_by_gateway is True
    assert not old.outbound_deferred  # the first SA: nothing else to send on
    _keys_match(p, new)
    assert not p.of(ChildSaDeleted)  # both installed for a while
    p.advance(3)
    (deleted,) = p.of(ChildSaDeleted)
    assert deleted.spi_in == old.spi_in
    assert (3, (old.spi_in.to_bytes(4, "big"),)) in p.gw.deleted


def test_gateway_rekey_installs_at_hash2_before_hash3_arrives() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    (old,) = p.of(ChildSaEstablished)
    p.conn.receive_datagram(p.gw.start_rekey(), GATEWAY, p.now)
    ((hash2, _),) = p.conn.datagrams_to_send(p.now)
    new = p.conn.next_event()  # installed with HASH(2) sent, HASH(3) not yet here
    assert isinstance(new, ChildSaEstablished) and new.rekeyed_spi_in == old.spi_in
    (hash3,) = p.gw.receive(hash2)
    p.advance(3)
    assert not p.of(ChildSaDeleted)  # the old SA stays until HASH(3)
    p.deliver([hash3])
    p.advance(3)
    assert [d.spi_in for d in p.of(ChildSaDeleted)] == [old.spi_in]


def test_gateway_rekey_without_hash3_is_undone() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    (old,) = p.of(ChildSaEstablished)
    p.deliver([p.gw.start_rekey()])
    p.drop_to_client = 1  # HASH(3) lost (the gateway does not repeat it)
    p.flush()
    unconfirmed = p.of(ChildSaEstablished)[-1]
    assert unconfirmed.rekeyed_spi_in == old.spi_in
    p.advance(16)  # the retransmission time (1 + 2 + 4 + 8 s) without HASH(3)
    deleted = p.of(ChildSaDeleted)
    assert [d.spi_in for d in deleted][:1] == [unconfirmed.spi_in]
    assert "not completed" in deleted[0].reason
    again = p.of(ChildSaEstablished)[-1]  # the old SA was rekeyed by us at once
    assert again.rekeyed_spi_in == old.spi_in and again.spi_in != unconfirmed.spi_in


# -- the gateway's Quick Mode selectors (RFC 2409 §5.5) ---------------------------------------


def _id(net: str) -> IdPayload:
    n = ipaddress.ip_network(net)
    return id_from_ts(TrafficSelectorRange(n.network_address, n.broadcast_address))


def _gateway_quick_mode(
    p: Pair, ids: tuple[IdPayload, IdPayload] | None = None, *, omit_ids: bool = False
) -> tuple[list[ChildSaEstablished], int]:
    """The gateway starts a Quick Mode; return the IPsec SAs it made and the gateway's count."""
    before = len(p.of(ChildSaEstablished))
    p.deliver([p.gw.start_rekey(ids, omit_ids=omit_ids)])
    p.flush()
    return p.of(ChildSaEstablished)[before:], len(p.gw.children)


def test_gateway_quick_mode_inside_our_selectors_is_installed() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    assert len(p.of(ChildSaEstablished)) == 1
    # HDR*, HASH(1), SA, Ni, IDci(198.18.3.0/25), IDcr(virtual IP) -->  (narrower than ours)
    (new,), _ = _gateway_quick_mode(p, (_id("198.18.3.0/25"), _id(f"{VIRTUAL_IP}/32")))
    vip = ipaddress.IPv4Address(VIRTUAL_IP)
    assert new.local_ts == (TrafficSelectorRange(vip, vip),)
    assert str(new.remote_ts[0]) == "198.18.3.0/25"
    _keys_match(p, new)
    assert p.conn.drops.selectors_refused == 0


@pytest.mark.parametrize(
    ("idci", "idcr"),
    [
        ("0.0.0.0/0", f"{VIRTUAL_IP}/32"),  # the gateway's side: the whole Internet
        ("198.18.60.0/24", f"{VIRTUAL_IP}/32"),  # a network the profile does not route
        ("198.18.2.0/23", f"{VIRTUAL_IP}/32"),  # wider than the profile's 198.18.3.0/24
        ("198.18.3.0/24", "198.18.1.2/32"),  # our side: our phase 1 address, not the VIP
        ("198.18.3.0/24", "0.0.0.0/0"),  # our side: anything
        ("198.18.3.0/24", "198.18.200.0/24"),  # our side: the VIP's whole pool
    ],
)
def test_gateway_quick_mode_outside_our_selectors_is_refused(
    idci: str, idcr: str, caplog: pytest.LogCaptureFixture
) -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    (old,) = p.of(ChildSaEstablished)
    gw_children = len(p.gw.children)
    gw_log = len(p.gw.log)
    # HDR*, HASH(1), SA, Ni, IDci, IDcr -->   <-- HDR*, HASH(1), N(INVALID-ID-INFORMATION)
    with caplog.at_level(logging.WARNING, logger="ikeclient.ike.v1.connection"):
        made, now_at_gw = _gateway_quick_mode(p, (_id(idci), _id(idcr)))
    assert made == []  # nothing installed, no HASH(2): the gateway cannot finish it either
    assert now_at_gw == gw_children
    assert p.gw.log[gw_log:] == ["INFORMATIONAL ['HashPayload', 'NotifyPayload']"]
    assert p.conn.drops.selectors_refused == 1
    assert p.conn.state == Ikev1State.ESTABLISHED and not p.of(IkeSaClosed)
    assert p.conn.children == (old,)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and idci in refused[0] and idcr in refused[0], refused
    # The connection carries on: our own rekey still works.
    p.conn.rekey_child_sa(old.spi_in, p.now)
    p.flush()
    assert p.of(ChildSaEstablished)[-1].rekeyed_spi_in == old.spi_in


def test_refused_gateway_quick_mode_retransmitted_gets_the_same_notify() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    qm = p.gw.start_rekey((_id("0.0.0.0/0"), _id(f"{VIRTUAL_IP}/32")))
    p.conn.receive_datagram(qm, GATEWAY, p.now)
    first = p.conn.datagrams_to_send(p.now)
    p.conn.receive_datagram(qm, GATEWAY, p.now)  # the gateway repeats its message 1
    assert p.conn.datagrams_to_send(p.now) == first and len(first) == 1
    assert p.conn.drops.selectors_refused == 1
    assert not [e for e in _drain(p.conn) if isinstance(e, ChildSaEstablished)]


def _drain(conn: Ikev1Connection) -> list[IkeEvent]:
    out = []
    while (e := conn.next_event()) is not None:
        out.append(e)
    return out


def test_gateway_quick_mode_without_ids_and_a_virtual_ip_is_refused() -> None:
    # RFC 2409 §5.5: no IDci/IDcr means the phase 1 endpoints; with a virtual IP our
    # phase 1 address is not the tunnel's inner address, and the gateway's address is
    # not in the profile's 198.18.3.0/24 either.
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    made, _ = _gateway_quick_mode(p, omit_ids=True)
    assert made == []
    assert p.conn.drops.selectors_refused == 1
    assert p.conn.state == Ikev1State.ESTABLISHED and not p.of(IkeSaClosed)


def test_gateway_quick_mode_without_ids_between_the_phase1_endpoints() -> None:
    # No virtual IP and a profile that routes the gateway's own address: host to host
    # between the phase 1 endpoints is inside what we would ask for, so it is installed.
    gw_net = TrafficSelectorRange(
        ipaddress.IPv4Address("198.18.2.0"), ipaddress.IPv4Address("198.18.2.255")
    )
    p = Pair(settings(request_virtual_ip=False, remote_ts=(gw_net,)), Ikev1Responder(PSK))
    p.connect()
    assert len(p.of(ChildSaEstablished)) == 1
    (new,), _ = _gateway_quick_mode(p, omit_ids=True)
    here, there = ipaddress.IPv4Address(LOCAL.host), ipaddress.IPv4Address(GATEWAY.host)
    assert new.local_ts == (TrafficSelectorRange(here, here),)
    assert new.remote_ts == (TrafficSelectorRange(there, there),)
    _keys_match(p, new)


def test_gateway_quick_mode_without_ids_outside_the_profile_is_refused() -> None:
    p = Pair(settings(request_virtual_ip=False), Ikev1Responder(PSK))
    p.connect()
    made, _ = _gateway_quick_mode(p, omit_ids=True)  # 198.18.2.2 is not in 198.18.3.0/24
    assert made == []
    assert p.conn.drops.selectors_refused == 1
    assert p.conn.state == Ikev1State.ESTABLISHED


# -- phase 1 answers only from the gateway's endpoint -----------------------------------------


def _forged_phase1_refusal(cky_i: bytes) -> bytes:
    """HDR(Informational, unencrypted), N(NO-PROPOSAL-CHOSEN): anyone who saw CKY-I can send it."""
    first, body = push_payload_chain(
        [NotifyPayload(Doi.IPSEC, ProtocolId.ISAKMP, NotifyType.NO_PROPOSAL_CHOSEN, cky_i)]
    )
    return (
        push_header(
            cky_i, bytes(8), first, ExchangeType.INFORMATIONAL, 0, 0, HEADER_SIZE + len(body)
        )
        + body
    )


def _first_answer(p: Pair) -> list[bytes]:
    """Main Mode message 1 to the gateway; its message 2, not yet delivered."""
    p.conn.connect(p.now)
    ((m1, _),) = p.conn.datagrams_to_send(p.now)
    p.sent.append(m1)
    return p.gw.receive(m1)


def test_phase1_refusal_from_elsewhere_is_dropped() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    m2 = _first_answer(p)
    forged = _forged_phase1_refusal(p.conn.spi_i)
    for src in (Endpoint("198.51.100.66", 500), Endpoint(GATEWAY.host, 4500)):
        p.conn.receive_datagram(forged, src, p.now)
    p.flush()
    assert p.conn.state == Ikev1State.MM_SA_SENT and not p.of(IkeSaClosed)
    assert p.conn.drops.wrong_source == 2
    p.deliver(m2)
    p.flush()
    assert p.conn.state == Ikev1State.ESTABLISHED
    assert len(p.of(ChildSaEstablished)) == 1


def test_phase1_answer_from_a_wrong_port_is_ignored() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    (m2,) = _first_answer(p)
    p.conn.receive_datagram(m2, Endpoint(GATEWAY.host, 4500), p.now)
    p.conn.receive_datagram(m2, Endpoint("198.51.100.66", 500), p.now)
    assert p.conn.datagrams_to_send(p.now) == []  # no message 3 went out
    assert p.conn.state == Ikev1State.MM_SA_SENT
    assert p.conn.drops.wrong_source == 2
    p.deliver([m2])
    p.flush()
    assert p.conn.state == Ikev1State.ESTABLISHED


def test_phase1_refusal_from_the_gateway_still_ends_the_attempt() -> None:
    # IKEv1 phase 1 keeps its behaviour for a refusal from the gateway's own endpoint.
    p = Pair(settings(), Ikev1Responder(PSK))
    _first_answer(p)
    p.conn.receive_datagram(_forged_phase1_refusal(p.conn.spi_i), GATEWAY, p.now)
    p.flush()
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, NoProposalChosen)


def test_client_rekeys_before_the_lifetime_ends() -> None:
    p = Pair(settings(child_lifetime=100), Ikev1Responder(PSK))
    p.connect()
    (old,) = p.of(ChildSaEstablished)
    timer = p.conn.get_timer()
    assert timer is not None and 85 <= timer <= 90
    p.advance(91, step=1.0)
    new = p.of(ChildSaEstablished)[-1]
    assert new.rekeyed_spi_in == old.spi_in
    # The gateway installs it when our HASH(3) reaches it (which the runtime sends after it
    # has installed what the events say): our outbound traffic must not move there first.
    assert new.outbound_deferred and new.started_by_gateway is False
    _keys_match(p, new)
    p.advance(5)
    assert [d.spi_in for d in p.of(ChildSaDeleted)] == [old.spi_in]


def test_dpd_is_answered_and_sent() -> None:
    p = Pair(settings(dpd_delay=10), Ikev1Responder(PSK))
    p.connect()
    p.deliver([p.gw.r_u_there(41)])
    p.flush()
    assert p.gw.dpd_acks == [41]
    p.drop_to_gw = 100
    p.advance(40, step=1.0)
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, GatewayUnreachable) and "DPD" in str(closed.error)


def test_close_deletes_phase2_then_phase1() -> None:
    p = Pair(settings(), Ikev1Responder(PSK))
    p.connect()
    (child,) = p.of(ChildSaEstablished)
    p.conn.close(p.now)
    p.flush()
    assert [d[0] for d in p.gw.deleted] == [3, 1]
    assert p.gw.deleted[0][1] == (child.spi_in.to_bytes(4, "big"),)
    assert isinstance(p.events[-1], IkeSaClosed) and p.events[-1].error is None
    assert p.conn.get_timer() is None


def test_gateway_deletes_the_isakmp_sa_ipsec_sas_stay_and_phase1_is_renewed() -> None:
    gw = Ikev1Gateway(PSK)
    p = Pair(settings(), gw)
    p.connect()
    old = gw.current
    p.deliver([gw.delete_ike()])
    p.flush()
    assert not p.of(IkeSaClosed) and not p.of(ChildSaDeleted)
    assert p.conn.renewals == 1 and gw.current is not old and gw.phase1_count == 2
    assert not gw.isakmp_deleted(old)  # it is gone already: nothing sent on it
    (child,) = p.of(ChildSaEstablished)
    p.conn.rekey_child_sa(child.spi_in, p.now)  # Quick Mode works on the new ISAKMP SA
    p.flush()
    _keys_match(p, p.of(ChildSaEstablished)[-1])


def test_gateway_deletes_the_isakmp_sa_and_renewal_fails() -> None:
    gw = Ikev1Gateway(PSK)
    p = Pair(settings(), gw)
    p.connect()
    p.deliver([gw.delete_ike()])
    p.drop_to_gw = 100
    p.flush()
    p.advance(30)
    (closed,) = p.of(IkeSaClosed)
    assert isinstance(closed.error, GatewayUnreachable)
    assert "renewing it failed" in closed.reason


def _renewal_pair(**kw: Any) -> tuple[Pair, Ikev1Gateway]:
    gw = Ikev1Gateway(PSK, **{k: v for k, v in kw.items() if k == "xauth"})
    s = settings(ike_lifetime=100, **{k: v for k, v in kw.items() if k != "xauth"})
    p = Pair(s, gw)
    p.connect()
    return p, gw


def test_phase1_renewed_at_the_soft_lifetime_ipsec_sas_unaffected() -> None:
    p, gw = _renewal_pair()
    first = gw.current
    (child,) = p.of(ChildSaEstablished)
    renew_at = p.conn.get_timer()
    assert renew_at is not None and 85 <= renew_at <= 90  # lifetime * (1 - 0.1 - jitter)
    p.advance(renew_at - 0.5, step=0.5)
    assert p.conn.renewals == 0
    p.advance(1.0)
    assert p.conn.renewals == 1 and p.conn.state == Ikev1State.ESTABLISHED
    second = gw.current
    assert second is not first and gw.isakmp_deleted(first)  # old ISAKMP SA deleted
    assert p.conn.spi_i == second.cky_i
    assert second.requested_ips == [ipaddress.IPv4Address(VIRTUAL_IP).packed]
    assert p.of(ChildSaEstablished) == [child] and not p.of(ChildSaDeleted)
    assert not p.of(ConfigReceived)[1:]  # the same config: not announced again
    assert len(p.of(IkeSaEstablished)) == 2
    assert ("phase 1", "renewal: XAUTH") not in p.conn.progress
    p.advance(100, step=1.0)  # a second renewal (the child SA's lifetime is 3600 s)
    assert p.conn.renewals == 2 and gw.phase1_count == 3 and gw.isakmp_deleted(second)
    assert not p.of(IkeSaClosed) and not p.of(ChildSaDeleted)
    p.conn.rekey_child_sa(child.spi_in, p.now)  # phase 2 now runs on the newest SA
    p.flush()
    new = p.of(ChildSaEstablished)[-1]
    assert new.rekeyed_spi_in == child.spi_in
    _keys_match(p, new)
    assert gw.current.children and gw.current.children[-1].spi_r == new.spi_out.to_bytes(4, "big")
    p.conn.close(p.now)
    p.flush()
    assert (1, (gw.current.cky_i + gw.current.cky_r,)) in gw.current.deleted


def test_phase1_renewal_runs_xauth_again() -> None:
    p, gw = _renewal_pair(xauth=("alice", b"pw"), xauth_user="alice", xauth_password=b"pw")
    p.advance(91, step=1.0)
    assert p.conn.renewals == 1 and gw.current.xauth_ok is True and gw.phase1_count == 2
    assert any(d.startswith("renewal: authenticated as alice") for _, d in p.conn.progress)
    assert len(p.of(ChildSaEstablished)) == 1 and not p.of(IkeSaClosed)


def test_phase1_renewal_survives_lost_messages() -> None:
    p, _ = _renewal_pair()
    renew_at = p.conn.get_timer()
    assert renew_at is not None
    p.advance(renew_at - 0.1 - p.now, step=0.1)
    p.drop_to_gw = 1  # the renewal's Main Mode message 1
    p.advance(0.2, step=0.1)
    assert p.conn.renewals == 0
    p.drop_to_client = 1  # and the gateway's message 4 after the retransmission
    p.advance(5, step=0.25)
    assert p.conn.renewals == 1 and not p.of(IkeSaClosed)
    assert len(p.of(ChildSaEstablished)) == 1


def test_phase1_renewal_waits_for_a_quick_mode_in_flight() -> None:
    p, gw = _renewal_pair()
    first = gw.current
    (child,) = p.of(ChildSaEstablished)
    renew_at = p.conn.get_timer()
    assert renew_at is not None
    p.advance(renew_at - 0.1 - p.now, step=0.1)
    p.drop_to_gw = 1  # the child rekey's Quick Mode message 1: retransmitted after 1 s
    p.conn.rekey_child_sa(child.spi_in, p.now)
    p.flush()
    p.advance(0.5, step=0.1)  # the renewal is done, but the Quick Mode is open on the old SA
    assert p.conn.renewals == 0 and gw.phase1_count == 2 and not gw.isakmp_deleted(first)
    p.advance(1.0, step=0.1)
    assert p.conn.renewals == 1 and gw.isakmp_deleted(first)
    new = p.of(ChildSaEstablished)[-1]
    assert new.rekeyed_spi_in == child.spi_in
    _keys_match(p, new)


def test_phase1_renewal_with_another_virtual_ip_is_refused() -> None:
    gw = Ikev1Gateway(PSK)
    p = Pair(settings(ike_lifetime=100), gw)
    p.connect()
    gw._unused = None
    gw._kw = {"virtual_ip": "198.18.200.99"}
    p.advance(91, step=1.0)
    assert p.conn.renewals == 0 and not p.of(IkeSaClosed)
    p.advance(20, step=1.0)  # retried, refused again; the SA then ends at its lifetime
    (closed,) = p.of(IkeSaClosed)
    assert "lifetime" in closed.reason


def test_forced_encapsulation_floats_to_4500_with_the_marker() -> None:
    p = Pair(settings(force_encapsulation=True), Ikev1Responder(PSK))
    p.connect()
    assert p.conn.udp_encapsulation and p.conn.remote.port == 4500
    assert p.sent[2][:4] == bytes(4)  # Main Mode message 5 on the NAT-T port
    (child,) = p.of(ChildSaEstablished)
    assert child.udp_encapsulation


EXAMPLES = int(os.environ.get("IKECLIENT_FUZZ_EXAMPLES", "200"))


@given(st.integers(0, 5), st.binary(max_size=300))
@hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_receive_datagram_in_every_state(steps: int, junk: bytes) -> None:
    """Any bytes at any point: dropped and counted, never an exception."""
    p = Pair(settings(), Ikev1Responder(PSK))
    p.conn.connect(0.0)
    for _ in range(steps):
        out = p.conn.datagrams_to_send(0.0)
        if not out:
            break
        for data, _dest in out:
            p.deliver(p.gw.receive(data))
    header = p.sent[0][:16] if p.sent else b""
    for data in (junk, p.conn.spi_i + junk, p.conn.spi_i + bytes(8) + junk):
        p.conn.receive_datagram(data, GATEWAY, 0.0)
    p.conn.receive_datagram(header + junk, GATEWAY, 0.0)
