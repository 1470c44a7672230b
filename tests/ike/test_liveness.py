"""Staying connected without rekeys: liveness checks, a restarted gateway, MOBIKE, reauthentication.

RFC 7296 §2.4 (liveness), §2.21.4 (INVALID_IKE_SPI), RFC 4555 (MOBIKE), RFC 4478
(AUTH_LIFETIME). Sans-I/O against the responder double, the clock a float.
"""

from __future__ import annotations

import ipaddress

import pytest

from ikeclient.errors import PeerLost
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaAddressesUpdated,
    IkeSaClosed,
    IkeSaEstablished,
)
from ikeclient.ike.v2.enums import ExchangeType, NotifyType
from ikeclient.ike.v2.message import find_notify
from ikeclient.ike.v2.payloads import CpPayload, NotifyPayload
from ikeclient.ike.v2.settings import Lifetimes, RetransmitPolicy, dead_peer_schedule
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import (
    AUTH_REQUEST,
    INFO_REQUEST,
    INFO_RESPONSE,
    Network,
    connection,
    drain,
    gateway,
    is_request,
    sent,
    settings,
)
from tests.ikev2_responder import GATEWAY, ResponderDouble, natd


def establish(
    gw: ResponderDouble | None = None, *, nat: str | None = None, **kw: object
) -> tuple[Network, list[IkeEvent]]:
    conn = connection(settings(**kw))  # type: ignore[arg-type]
    net = Network(conn, gw or gateway(), nat=nat)
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.ESTABLISHED
    return net, drain(conn)


def only(events: list[IkeEvent], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


# --------------------------------------------------------------------- liveness (§2.4)


def test_liveness_check_after_an_idle_period() -> None:
    net, _ = establish(dpd_delay=30.0)
    conn = net.conn
    assert conn.get_timer() == 30.0
    # ESP keeps arriving until t=50: the gateway is plainly alive, no check needed.
    for t in (10.0, 25.0, 50.0):
        conn.inbound_activity(t)
    assert conn.get_timer() == 80.0
    net.run_timers(until=79.0)
    assert sent(net, INFO_REQUEST) == []
    # HDR, SK {} -->   <-- HDR, SK {}
    net.run_timers(until=80.0)
    (check,) = sent(net, INFO_REQUEST)
    assert net.gw.requests(ExchangeType.INFORMATIONAL)[0].payloads == ()
    assert check.header.message_id == 2
    assert conn.get_timer() == 110.0  # the answer counts as activity
    assert conn.rekeys.liveness_checks == 1


def test_dead_gateway_is_noticed_and_reported_as_peer_lost() -> None:
    net, _ = establish(dpd_delay=10.0, dpd_timeout=5.0)
    net.drop_next(INFO_REQUEST, count=100)
    assert net.run_timers(until=100.0) == 15.0  # given up dpd_timeout after the check
    (closed,) = only(drain(net.conn), IkeSaClosed)
    assert isinstance(closed.error, PeerLost) and not closed.error.restarted
    # The check at t=10, its retransmission at 12 (the schedule's 2 s, then 4 s: cut at 15).
    assert len(sent(net, INFO_REQUEST)) == 2
    assert net.conn.state == IkeSaState.CLOSED and net.conn.get_timer() is None


def test_restarted_gateway_answers_invalid_ike_spi() -> None:
    net, _ = establish(dpd_delay=10.0)
    conn, gw = net.conn, net.gw
    gw.restart()  # the gateway's daemon restarts and forgets every SA
    # HDR, SK {} -->     <-- HDR, N(INVALID_IKE_SPI)   (unprotected, §2.21.4)
    net.run_timers(until=10.0)
    assert gw.invalid_ike_spi_sent == 1
    assert conn.drops.invalid_spi_hints == 1
    assert drain(conn) == []  # unauthenticated: a moment's grace for a genuine answer
    assert conn.get_timer() == 11.0
    net.run_timers(until=11.0)
    (closed,) = only(drain(conn), IkeSaClosed)
    assert isinstance(closed.error, PeerLost) and closed.error.restarted
    assert "INVALID_IKE_SPI" in closed.reason


def test_a_forged_invalid_ike_spi_does_not_win_over_the_genuine_answer() -> None:
    net, _ = establish(dpd_delay=10.0)
    conn = net.conn
    net.hold_next(INFO_RESPONSE)
    net.run_timers(until=10.0)
    (check,) = sent(net, INFO_REQUEST)
    h = check.header
    from ikeclient.ike.v2.message import encode_message  # noqa: PLC0415

    forged = encode_message(
        h.spi_i, h.spi_r, h.exchange_type, 0x20, h.message_id,
        [NotifyPayload(0, b"", NotifyType.INVALID_IKE_SPI, b"")],
    )  # fmt: skip
    conn.receive_datagram(b"\0\0\0\0" + forged, Endpoint(GATEWAY, 4500), 10.1)
    net.release(10.2)  # the real answer
    net.run_timers(until=20.0)
    assert not only(drain(conn), IkeSaClosed)
    assert conn.state == IkeSaState.ESTABLISHED


def test_hints_start_a_check_at_once_but_not_too_often() -> None:
    net, _ = establish(dpd_delay=300.0)
    conn = net.conn
    conn.check_liveness(5.0)  # e.g. the runtime saw ESP to an unknown SPI, or a resume
    net.pump(5.0)
    conn.check_liveness(5.5)
    net.pump(5.5)
    assert len(sent(net, INFO_REQUEST)) == 1
    conn.check_liveness(8.0)
    net.pump(8.0)
    assert len(sent(net, INFO_REQUEST)) == 2


def test_an_ike_sa_init_from_the_gateway_triggers_a_check() -> None:
    net, _ = establish(dpd_delay=300.0)
    conn = net.conn
    other = connection(seed=b"someone")  # any IKE_SA_INIT request will do
    other.connect(0.0)
    ((init, _),) = other.datagrams_to_send(0.0)
    net.pump(6.0, [])
    conn.receive_datagram(init, Endpoint(GATEWAY, 500), 6.0)
    net.pump(6.0)
    assert len(sent(net, INFO_REQUEST)) == 1
    assert conn.state == IkeSaState.ESTABLISHED


# --------------------------------------------------------------------- liveness under traffic


def fire_until(
    net: Network, until: float, pred: object = INFO_REQUEST
) -> tuple[list[float], float]:
    """Run the timers up to ``until``: the times requests matching ``pred`` went out, and the
    time of the last timer handled."""
    times: list[float] = []
    last = 0.0
    while (deadline := net.conn.get_timer()) is not None and deadline <= until:
        before = len(sent(net, pred))  # type: ignore[arg-type]
        net.conn.handle_timer(deadline)
        net.pump(deadline)
        times += [deadline] * (len(sent(net, pred)) - before)  # type: ignore[arg-type]
        last = deadline
    return times, last


def test_the_short_schedule() -> None:
    assert dead_peer_schedule(10.0) == (2.0, 2.0, 4.0, 2.0)  # tries at 0, 2, 4, 8; lost at 10
    assert dead_peer_schedule(20.0) == (2.0, 2.0, 4.0, 8.0, 4.0)
    assert dead_peer_schedule(3.0) == (2.0, 1.0)
    assert dead_peer_schedule(1.0) == (1.0,)


def test_unanswered_traffic_is_checked_soon_on_a_short_schedule_then_peer_lost() -> None:
    net, _ = establish(dpd_delay=30.0, dead_peer_after=10.0, dead_peer_timeout=10.0)
    conn = net.conn
    conn.inbound_activity(4.0)
    # ESP goes out from t=5 on; the gateway crashed and nothing comes back.
    conn.outbound_activity(5.0)
    conn.outbound_activity(6.0)  # more traffic does not move the deadline
    assert conn.get_timer() == 15.0  # not the idle check at 34
    net.drop_next(INFO_REQUEST, count=100)
    # HDR, SK {} -->  at 15, 17, 19, 23 (0, 2, 4, 8 s), and no answer by 25
    times, last = fire_until(net, 100.0)
    assert times == [15.0, 17.0, 19.0, 23.0]
    assert last == 25.0
    (closed,) = only(drain(conn), IkeSaClosed)
    assert isinstance(closed.error, PeerLost) and not closed.error.restarted
    assert not closed.deleted_by_gateway
    assert conn.state == IkeSaState.CLOSED
    assert conn.rekeys.unanswered_checks == 1
    checks = sent(net, INFO_REQUEST)
    assert len({c.data for c in checks}) == 1  # the same message, retransmitted


def test_an_answer_ends_the_check_and_traffic_answered_starts_none() -> None:
    net, _ = establish(dpd_delay=30.0, dead_peer_after=10.0)
    conn = net.conn
    conn.outbound_activity(5.0)
    # HDR, SK {} -->   <-- HDR, SK {}   (the gateway is there after all)
    net.run_timers(until=15.0)
    assert len(sent(net, INFO_REQUEST)) == 1 and conn.rekeys.unanswered_checks == 1
    assert conn.get_timer() == 45.0  # the answer counts as inbound: the idle check is next
    conn.outbound_activity(20.0)
    conn.inbound_activity(20.5)  # the traffic is answered
    assert conn.get_timer() == 50.5
    conn.outbound_activity(21.0)  # new traffic after the last answer: a new deadline
    assert conn.get_timer() == 31.0
    conn.inbound_activity(22.0)
    assert conn.get_timer() == 52.0
    net.run_timers(until=52.0)
    assert conn.state == IkeSaState.ESTABLISHED
    assert conn.rekeys.unanswered_checks == 1 and conn.rekeys.liveness_checks == 2


def test_an_idle_tunnel_keeps_dpd_delay_and_the_full_schedule() -> None:
    net, _ = establish(dpd_delay=30.0, dead_peer_after=10.0)
    conn = net.conn
    assert conn.get_timer() == 30.0
    net.drop_next(INFO_REQUEST, count=100)
    times, last = fire_until(net, 200.0)
    # The profile's retransmissions (2 s, doubling, 3 tries): 30, 32, 36, 44; lost at 60.
    assert times == [30.0, 32.0, 36.0, 44.0] and last == 60.0
    (closed,) = only(drain(conn), IkeSaClosed)
    assert isinstance(closed.error, PeerLost)
    assert conn.rekeys.unanswered_checks == 0


def test_without_dead_peer_after_traffic_changes_nothing() -> None:
    net, _ = establish(dpd_delay=30.0, dead_peer_after=0.0)
    net.conn.outbound_activity(5.0)
    assert net.conn.get_timer() == 30.0


def test_a_request_in_flight_under_unanswered_traffic_is_given_up_sooner() -> None:
    net, events = establish(
        dpd_delay=30.0, dead_peer_after=10.0, retransmit=RetransmitPolicy(4.0, 1.8, 5)
    )
    conn = net.conn
    (child,) = only(events, ChildSaEstablished)
    rekey = is_request(ExchangeType.CREATE_CHILD_SA)
    net.drop_next(rekey, count=100)
    conn.rekey_child_sa(child.spi_in, 5.0)
    net.pump(5.0)
    conn.outbound_activity(5.0)
    # The rekey goes out at 5, 9, 16.2 (the profile's schedule, first wait 4 s); at 15 the
    # traffic has gone unanswered for 10 s: no answer by 25 means the gateway is lost.
    times, last = fire_until(net, 200.0, rekey)
    assert times == [pytest.approx(9.0), pytest.approx(16.2)]
    assert last == 25.0
    assert sent(net, INFO_REQUEST) == []
    (closed,) = only(drain(conn), IkeSaClosed)
    assert isinstance(closed.error, PeerLost)


# --------------------------------------------------------------------- the gateway deletes our SA


def test_a_delete_from_the_gateway_is_reported_as_such() -> None:
    net, _ = establish(dpd_delay=30.0)
    conn, gw = net.conn, net.gw
    # <-- HDR, SK {D(IKE)}     HDR, SK {} -->   (e.g. its daemon stops: SIGTERM)
    net.from_gateway(gw.delete_ike_sa(), 9.0)
    (closed,) = only(drain(conn), IkeSaClosed)
    assert closed.deleted_by_gateway and closed.error is None
    assert closed.reason == "deleted by the gateway"
    assert conn.state == IkeSaState.CLOSED
    assert len(sent(net, INFO_RESPONSE)) == 0  # the answer goes to the gateway
    assert [d for d in net.wire if d.to_gateway and d.is_response]


def test_our_own_close_is_not_a_delete_by_the_gateway() -> None:
    net, _ = establish(dpd_delay=30.0)
    net.conn.close(5.0)
    net.pump(5.0)
    (closed,) = only(drain(net.conn), IkeSaClosed)
    assert not closed.deleted_by_gateway


# --------------------------------------------------------------------- MOBIKE (RFC 4555)


def test_mobike_negotiated_in_ike_auth() -> None:
    net, _ = establish(mobike=True)
    (auth,) = net.gw.requests(ExchangeType.IKE_AUTH)
    assert find_notify(auth.payloads, NotifyType.MOBIKE_SUPPORTED) is not None
    assert net.conn.mobike
    net2, _ = establish(gateway(mobike=False), mobike=True)
    assert not net2.conn.mobike
    assert net2.conn.update_local_endpoint(Endpoint("192.0.2.99", 4500), 1.0) is False


def test_new_address_updates_the_sa_in_place() -> None:
    net, events = establish(mobike=True, nat="198.51.100.77")
    conn, gw = net.conn, net.gw
    (child,) = only(events, ChildSaEstablished)
    sa_before = gw.sa
    # The client moves to another network: a new address, a new NAT mapping.
    net.initiator = "192.0.2.20"
    net.nat = "198.51.100.88"
    # HDR, SK {N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_*), N(COOKIE2)} -->
    #                     <-- HDR, SK {N(NAT_DETECTION_*), N(COOKIE2)}
    assert conn.update_local_endpoint(Endpoint("192.0.2.20", 4500), 20.0)
    net.pump(20.0)
    (update,) = [r for r in gw.requests(ExchangeType.INFORMATIONAL)]
    kinds = [p.notify_type for p in update.payloads if isinstance(p, NotifyPayload)]
    assert kinds[0] == NotifyType.UPDATE_SA_ADDRESSES
    assert NotifyType.NAT_DETECTION_SOURCE_IP in kinds and NotifyType.COOKIE2 in kinds
    dest = next(
        p for p in update.payloads
        if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP
    )  # fmt: skip
    assert dest.data == natd(sa_before.spi_i, sa_before.spi_r, Endpoint(GATEWAY, 4500))
    assert gw.address_updates == [Endpoint("198.51.100.88", 34500)]
    (moved,) = only(drain(conn), IkeSaAddressesUpdated)
    assert moved.local == Endpoint("192.0.2.20", 4500) and moved.local_behind_nat
    # Same IKE SA, same child SA: nothing was rekeyed.
    assert gw.sa is sa_before and conn.children == (child,)
    assert conn.rekeys.address_updates == 1


def test_update_while_a_request_is_in_flight_resends_it_from_the_new_address() -> None:
    net, _ = establish(mobike=True, dpd_delay=10.0)
    conn = net.conn
    net.run_timers(until=2.0)  # the NAT baseline check (t=1)
    net.drop_next(INFO_REQUEST)  # the next liveness check leaves from the dead path
    net.run_timers(until=11.0)
    net.initiator = "192.0.2.30"
    conn.update_local_endpoint(Endpoint("192.0.2.30", 4500), 11.5)
    net.pump(11.5)
    checks = sent(net, INFO_REQUEST)[1:]
    assert checks[0].data == checks[1].data and checks[1].src.host == "192.0.2.30"
    assert checks[0].src.host == "192.0.2.10"
    assert only(drain(conn), IkeSaAddressesUpdated)
    assert net.gw.address_updates == [Endpoint("192.0.2.30", 4500)]


def test_nat_mapping_change_found_by_a_liveness_check() -> None:
    net, _ = establish(mobike=True, nat="198.51.100.77", dpd_delay=10.0)
    conn, gw = net.conn, net.gw
    # A second after the IKE SA is up, one check learns how the NAT maps us (the baseline).
    conn.inbound_activity(0.5)
    net.run_timers(until=1.0)
    assert conn.rekeys.liveness_checks == 1 and gw.address_updates == []
    net.nat_port_base = 40000  # the NAT forgot us and picked another port
    net.run_timers(until=20.0)  # traffic from the gateway stops: the check at t=10.5 tells
    # RFC 4555 §3.8: the gateway's NAT_DETECTION_DESTINATION_IP changed: update the SA.
    assert gw.address_updates == [Endpoint("198.51.100.77", 44500)]
    assert only(drain(conn), IkeSaAddressesUpdated)


# --------------------------------------------------------------------- reauthentication (RFC 4478)


def test_auth_lifetime_reauthenticates_make_before_break() -> None:
    gw = gateway(auth_lifetime=600)
    life = Lifetimes(ike_rekey_time=0, child_rekey_time=0, jitter=0)
    net, events = establish(gw, lifetimes=life)
    conn = net.conn
    (old_child,) = only(events, ChildSaEstablished)
    old_sa = conn.ike_sa
    assert old_sa is not None
    assert conn.ike_deadlines[2] == 600.0
    net.run_timers(until=600.0)
    # A whole new IKE SA: IKE_SA_INIT and IKE_AUTH, then D(IKE) on the old one.
    assert len(gw.requests(ExchangeType.IKE_SA_INIT)) == 2
    first, second = gw.requests(ExchangeType.IKE_AUTH)
    assert find_notify(first.payloads, NotifyType.INITIAL_CONTACT) is not None
    assert find_notify(second.payloads, NotifyType.INITIAL_CONTACT) is None
    cp = next(p for p in second.payloads if isinstance(p, CpPayload))
    assert cp.attributes[0].value == ipaddress.IPv4Address("198.18.200.1").packed
    assert gw.initial_contacts == 1
    events = drain(conn)
    kinds = [type(e) for e in events]
    assert kinds == [IkeSaEstablished, ConfigReceived, ChildSaEstablished, ChildSaDeleted]
    new_child = events[2]
    assert isinstance(new_child, ChildSaEstablished)
    assert new_child.rekeyed_spi_in == old_child.spi_in and not new_child.outbound_deferred
    assert events[3] == ChildSaDeleted(old_child.spi_in, old_child.spi_out, "replaced", True)
    sa = conn.ike_sa
    assert sa is not None and sa.spi_i != old_sa.spi_i
    assert gw.sas[(old_sa.spi_i, old_sa.spi_r)].deleted
    assert [(s.spi_i, s.spi_r) for s in gw.sas.values() if not s.deleted] == [(sa.spi_i, sa.spi_r)]
    assert conn.children == (new_child,) and conn.state == IkeSaState.ESTABLISHED
    assert conn.ike_deadlines[2] == 1200.0  # the gateway granted 600 s again


def test_failed_reauthentication_keeps_the_old_sa_and_retries() -> None:
    gw = gateway(auth_lifetime=600)
    net, _ = establish(
        gw,
        lifetimes=Lifetimes(ike_rekey_time=0, child_rekey_time=0, jitter=0),
        rekey_retry=20.0,
        retransmit=RetransmitPolicy(timeout=1.0, base=1.0, tries=1),
    )
    conn = net.conn
    net.drop_next(AUTH_REQUEST, count=2)
    net.run_timers(until=605.0)
    assert conn.state == IkeSaState.ESTABLISHED
    assert not only(drain(conn), IkeSaClosed)
    retry = conn.ike_deadlines[2]
    assert retry is not None and 612.0 <= retry <= 622.0
    net.run_timers(until=625.0)
    assert only(drain(conn), IkeSaEstablished)


def test_invalid_spi_from_the_gateway_makes_a_new_child_sa() -> None:
    net, events = establish()
    conn, gw = net.conn, net.gw
    (child,) = only(events, ChildSaEstablished)
    assert gw.child is not None
    gw.child.deleted = True  # the gateway lost the child SA; our ESP reaches it on a dead SPI
    # <-- HDR, SK {N(INVALID_SPI, our outbound SPI)}      (RFC 7296 §3.10.1)
    # HDR, SK {} -->
    # HDR, SK {SA, Ni, TSi, TSr} -->   <-- HDR, SK {SA, Nr, TSi, TSr}   (a new child SA)
    spi = child.spi_out.to_bytes(4, "big")
    net.from_gateway(
        gw.request([NotifyPayload(0, b"", NotifyType.INVALID_SPI, spi)], framed=True), 9.0
    )
    events = drain(conn)
    assert only(events, ChildSaDeleted)[0].spi_in == child.spi_in
    (fresh,) = only(events, ChildSaEstablished)
    assert fresh.rekeyed_spi_in is None and fresh.spi_in != child.spi_in
    assert [c.spi_in for c in gw.live_children()] == [fresh.spi_out]
    assert conn.state == IkeSaState.ESTABLISHED


def test_esp_from_the_gateway_during_the_check_relaxes_it() -> None:
    net, _ = establish(dpd_delay=30.0, dead_peer_after=10.0)
    conn = net.conn
    conn.outbound_activity(5.0)
    net.drop_next(INFO_REQUEST, count=100)
    times, _ = fire_until(net, 17.0)
    assert times == [15.0, 17.0]
    conn.inbound_activity(18.0)  # ESP again: the gateway is there; only IKE got lost
    # The check goes on at the profile's pace (2, 4, 8, 16 s): the retransmission already
    # due at 19, then 8 s later; not given up at 25 as the short schedule would have.
    times, _ = fire_until(net, 40.0)
    assert times == [19.0, 27.0]
    assert conn.state == IkeSaState.ESTABLISHED
    assert not only(drain(conn), IkeSaClosed)
