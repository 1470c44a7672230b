"""Rekeying child SAs and the IKE SA against the responder double (RFC 7296 §1.3, §2.8, §2.18).

Sans-I/O: the clock is a float, randomness is seeded on both sides, and the double
derives every key on its own, so "the keys match" means two independent readings
of §2.17/§2.18 agree. Steps are written in RFC notation.
"""

from __future__ import annotations

import pytest

from ikeclient.config.proposals import parse_proposals
from ikeclient.crypto.transforms import KeGroup
from ikeclient.errors import PeerLost
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeEvent,
    IkeSaClosed,
    IkeSaRekeyed,
)
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, NotifyType, ProtocolId
from ikeclient.ike.v2.message import find_notify
from ikeclient.ike.v2.payloads import DeletePayload, KePayload, NotifyPayload, SaPayload
from ikeclient.ike.v2.settings import Lifetimes
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import (
    Network,
    connection,
    drain,
    gateway,
    is_request,
    is_response,
    sent,
    settings,
)
from tests.ikev2_responder import ChildView, ResponderDouble

CHILD_REQUEST = is_request(ExchangeType.CREATE_CHILD_SA)
CHILD_RESPONSE = is_response(ExchangeType.CREATE_CHILD_SA)
INFO_REQUEST = is_request(ExchangeType.INFORMATIONAL)


def OUR_CHILD_ANSWER(d):
    return d.to_gateway and d.exchange == ExchangeType.CREATE_CHILD_SA and d.is_response


def from_gateway_request(exchange: int):  # type: ignore[no-untyped-def]
    """The gateway's own requests (no R flag), on their way to us."""
    return lambda d: not d.to_gateway and d.exchange == exchange and not d.is_response


def establish(
    gw: ResponderDouble | None = None, *, seed: bytes = b"initiator", **kw: object
) -> tuple[Network, list[IkeEvent]]:
    conn = connection(settings(**kw), seed=seed)  # type: ignore[arg-type]
    net = Network(conn, gw or gateway())
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.ESTABLISHED
    return net, drain(conn)


def keys_match(ours: ChildSaEstablished, theirs: ChildView) -> None:
    """Our SA and the double's view of it: SPIs cross over, keys pair up (§2.17)."""
    assert ours.spi_in == theirs.spi_out
    assert ours.spi_out == theirs.spi_in
    assert ours.keys.encr_out == theirs.encr_in
    assert ours.keys.integ_out == theirs.integ_in
    assert ours.keys.encr_in == theirs.encr_out
    assert ours.keys.integ_in == theirs.integ_out


def agree(net: Network) -> ChildSaEstablished:
    """Both ends have exactly one live child SA, the same one, with the same keys."""
    conn, gw = net.conn, net.gw
    live = conn.children
    assert len(live) == 1, live
    (theirs,) = gw.live_children()
    keys_match(live[0], theirs)
    return live[0]


def only(events: list[IkeEvent], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


LIFETIMES = Lifetimes(ike_rekey_time=0, child_rekey_time=100.0, child_life_time=200.0, jitter=0)


# --------------------------------------------------------------------- child SA, we rekey


def test_child_rekey_by_us_when_the_soft_lifetime_ends() -> None:
    net, events = establish(lifetimes=LIFETIMES)
    conn, gw = net.conn, net.gw
    (old,) = only(events, ChildSaEstablished)
    assert conn.get_timer() == 100.0
    net.run_timers(until=99.0)
    assert sent(net, CHILD_REQUEST) == []
    # HDR, SK {N(REKEY_SA), SA, Ni, TSi, TSr} -->
    #                          <-- HDR, SK {SA, Nr, TSi, TSr}
    # HDR, SK {D(ESP, old SPI)} -->   <-- HDR, SK {D(ESP, its old SPI)}
    net.run_timers(until=100.0)
    (request,) = gw.requests(ExchangeType.CREATE_CHILD_SA)
    rekey = find_notify(request.payloads, NotifyType.REKEY_SA)
    assert rekey is not None and rekey.protocol == ProtocolId.ESP
    assert rekey.spi == old.spi_in.to_bytes(4, "big")  # the SPI we receive on (§1.3.3)
    assert not any(isinstance(p, KePayload) for p in request.payloads)  # no PFS asked
    events = drain(conn)
    new, deleted = only(events, ChildSaEstablished), only(events, ChildSaDeleted)
    assert len(new) == 1 and new[0].rekeyed_spi_in == old.spi_in
    assert not new[0].outbound_deferred  # the gateway has it already: send on it at once
    assert deleted == [ChildSaDeleted(old.spi_in, old.spi_out, "rekeyed", True)]
    assert events.index(new[0]) < events.index(deleted[0])  # make-before-break
    (delete,) = [r for r in gw.requests(ExchangeType.INFORMATIONAL)]
    assert delete.payloads == (DeletePayload(ProtocolId.ESP, (old.spi_in.to_bytes(4, "big"),)),)
    assert agree(net) == new[0]
    assert new[0].keys.encr_out != old.keys.encr_out
    # The new SA got its own lifetime; the IKE SA never changed.
    assert conn.get_timer() == 200.0
    assert conn.state == IkeSaState.ESTABLISHED and conn.rekeys.child_rekeys_initiated == 1


def test_child_rekey_with_pfs() -> None:
    gw = gateway(esp_proposals=parse_proposals(["aes256gcm16-ecp256-modp2048"], ike=False))
    net, _events = establish(gw, esp="aes256gcm16-ecp256", lifetimes=LIFETIMES)
    net.run_timers(until=100.0)
    (request,) = gw.requests(ExchangeType.CREATE_CHILD_SA)
    ke = next(p for p in request.payloads if isinstance(p, KePayload))
    assert ke.group == KeGroup.ECP256
    sa = next(p for p in request.payloads if isinstance(p, SaPayload))
    assert all(any(t.type == 4 for t in prop.transforms) for prop in sa.proposals)  # KE transform
    new = agree(net)
    assert gw.child is not None and gw.child.pfs
    assert "ECP256" in new.algorithms


def test_pfs_group_retried_on_invalid_ke() -> None:
    gw = gateway(esp_proposals=parse_proposals(["aes256gcm16-modp2048"], ike=False))
    net, _ = establish(gw, esp="aes256gcm16-ecp256-modp2048", lifetimes=LIFETIMES)
    net.run_timers(until=100.0)
    # HDR, SK {N(REKEY_SA), SA, Ni, KEi(ECP256), ...} -->  <-- N(INVALID_KE_PAYLOAD, MODP2048)
    # HDR, SK {N(REKEY_SA), SA, Ni, KEi(MODP2048), ...} -->  <-- SA, Nr, KEr, TSi, TSr
    first, second = gw.requests(ExchangeType.CREATE_CHILD_SA)
    groups = [
        next(p for p in r.payloads if isinstance(p, KePayload)).group for r in (first, second)
    ]
    assert groups == [KeGroup.ECP256, KeGroup.MODP2048]
    assert "MODP2048" in agree(net).algorithms


def test_temporary_failure_is_retried_later() -> None:
    gw = gateway()
    gw.refuse_child_rekeys = [NotifyType.TEMPORARY_FAILURE]
    net, events = establish(gw, lifetimes=LIFETIMES, rekey_retry=10.0)
    (old,) = only(events, ChildSaEstablished)
    net.run_timers(until=100.0)
    assert len(gw.requests(ExchangeType.CREATE_CHILD_SA)) == 1
    assert drain(net.conn) == []  # the old SA carries on
    retry = net.conn.get_timer()
    assert retry is not None and 105.0 <= retry <= 110.0
    net.run_timers(until=110.0)
    assert len(gw.requests(ExchangeType.CREATE_CHILD_SA)) == 2
    assert agree(net).spi_in != old.spi_in


def test_child_sa_not_found_makes_a_new_child() -> None:
    net, events = establish(lifetimes=LIFETIMES)
    gw = net.gw
    (old,) = only(events, ChildSaEstablished)
    assert gw.child is not None
    gw.child.deleted = True  # the gateway lost it without telling us
    net.run_timers(until=100.0)
    # <-- HDR, SK {N(CHILD_SA_NOT_FOUND)}
    # HDR, SK {SA, Ni, TSi, TSr} -->   (a new child SA, no REKEY_SA)
    rekey, create = gw.requests(ExchangeType.CREATE_CHILD_SA)
    assert find_notify(rekey.payloads, NotifyType.REKEY_SA) is not None
    assert find_notify(create.payloads, NotifyType.REKEY_SA) is None
    events = drain(net.conn)
    assert only(events, ChildSaDeleted)[0].spi_in == old.spi_in
    assert agree(net).rekeyed_spi_in is None


# --------------------------------------------------------------------- child SA, the gateway rekeys


def test_gateway_rekeys_a_child_sa() -> None:
    net, events = establish()
    conn, gw = net.conn, net.gw
    (old,) = only(events, ChildSaEstablished)
    # <-- HDR, SK {N(REKEY_SA), SA, Ni, TSi, TSr}
    # HDR, SK {SA, Nr, TSi, TSr} -->
    # <-- HDR, SK {D(ESP, old)}     HDR, SK {D(ESP, old)} -->
    net.from_gateway(gw.start_child_rekey(), 50.0)
    (answer,) = [d for d in net.wire if d.to_gateway and d.exchange == ExchangeType.CREATE_CHILD_SA]
    assert answer.is_response and answer.header.flags & HeaderFlag.RESPONSE != 0
    assert answer.header.flags == HeaderFlag.INITIATOR | HeaderFlag.RESPONSE
    events = drain(conn)
    new = only(events, ChildSaEstablished)
    assert len(new) == 1 and new[0].rekeyed_spi_in == old.spi_in
    assert new[0].outbound_deferred  # the gateway installs it when our answer arrives
    assert only(events, ChildSaDeleted) == [
        ChildSaDeleted(old.spi_in, old.spi_out, "deleted by the gateway", True)
    ]
    assert agree(net) == new[0]
    assert conn.rekeys.child_rekeys_answered == 1 and gw.child_rekeys_done == 1


def test_gateway_rekey_with_pfs_we_did_not_ask_for() -> None:
    gw = gateway(esp_proposals=parse_proposals(["aes256gcm16-x25519"], ike=False))
    net, _ = establish(gw, ike="aes256gcm16-prfsha256-x25519")
    net.from_gateway(gw.start_child_rekey(pfs=KeGroup.CURVE25519), 50.0)
    new = agree(net)
    assert "CURVE25519" in new.algorithms and gw.child is not None and gw.child.pfs


def test_gateway_rekey_retransmitted_gets_the_cached_answer() -> None:
    net, _ = establish()
    gw = net.gw
    request = gw.start_child_rekey()
    net.drop_next(lambda d: d.to_gateway and d.exchange == ExchangeType.CREATE_CHILD_SA)
    net.from_gateway(request, 50.0)
    assert len(net.conn.children) == 2  # the new one is inbound-ready, the old still there
    net.from_gateway(gw.retransmit(), 52.0)  # our answer was lost: the gateway tries again
    first, second = [
        d for d in net.wire if d.to_gateway and d.exchange == ExchangeType.CREATE_CHILD_SA
    ]
    assert first.data == second.data  # the cached response, not a second SA
    events = drain(net.conn)
    assert len(only(events, ChildSaEstablished)) == 1
    agree(net)


# --------------------------------------------------------------------- collisions (§2.8.1)


def collide(seed: bytes) -> tuple[Network, ChildSaEstablished, list[IkeEvent]]:
    """Both ends start rekeying the same child SA before either request arrives.

    HDR, SK {N(REKEY_SA), SA, Ni_a, ...} -->   ><   <-- HDR, SK {N(REKEY_SA), SA, Ni_b, ...}
    each answers the other's; then the SA made with the lowest of the four nonces
    is deleted by whoever started its exchange, and the other one replaces the old SA.
    """
    net, events = establish(seed=seed, lifetimes=LIFETIMES)
    conn, gw = net.conn, net.gw
    (old,) = only(events, ChildSaEstablished)
    net.hold_next(CHILD_REQUEST)
    net.run_timers(until=100.0)  # ours is on its way (held)
    assert len(net.held) == 1
    net.hold_next(OUR_CHILD_ANSWER)
    net.from_gateway(gw.start_child_rekey(), 100.1)  # theirs arrives; our answer is on its way
    assert len(net.held) == 2
    net.release(100.2)  # both arrive: each end answered the other; the deletes follow
    assert conn.rekeys.collisions == 1
    return net, old, drain(conn)


@pytest.mark.parametrize("seed", [b"collide-%d" % i for i in range(8)])
def test_simultaneous_child_rekey(seed: bytes) -> None:
    net, old, events = collide(seed)
    conn, _gw = net.conn, net.gw
    survivor = agree(net)  # exactly one new SA is left at both ends, with the same keys
    assert survivor.spi_in != old.spi_in and survivor.rekeyed_spi_in == old.spi_in
    made = only(events, ChildSaEstablished)
    assert len(made) == 2  # ours and theirs were both installed for a moment
    gone = {e.spi_in for e in only(events, ChildSaDeleted)}
    assert gone == {old.spi_in} | {m.spi_in for m in made if m.spi_in != survivor.spi_in}
    assert not any(isinstance(e, IkeSaClosed) for e in events)
    # Whose SA survived depends only on the nonces; both ends agreed on it.
    assert conn.state == IkeSaState.ESTABLISHED


def test_both_collision_outcomes_are_covered() -> None:
    outcomes = set()
    for i in range(8):
        net, _, _ = collide(b"collide-%d" % i)
        # The gateway's SA was installed with its outbound half deferred; ours was not.
        outcomes.add(agree(net).outbound_deferred)
    assert outcomes == {True, False}  # sometimes the gateway's SA won, sometimes ours


def test_rekey_during_retransmission() -> None:
    # Our CREATE_CHILD_SA is lost; while we wait to retransmit it, the gateway's own rekey
    # of the same SA arrives; then our retransmission gets through.
    net, events = establish(lifetimes=LIFETIMES)
    conn, gw = net.conn, net.gw
    (old,) = only(events, ChildSaEstablished)
    net.drop_next(CHILD_REQUEST)
    net.run_timers(until=100.0)
    assert len(sent(net, CHILD_REQUEST)) == 1 and gw.requests(ExchangeType.CREATE_CHILD_SA) == []
    net.from_gateway(gw.start_child_rekey(), 101.0)
    assert conn.rekeys.collisions == 1
    net.run_timers(until=103.0)  # the retransmission (2 s later) reaches the gateway
    assert len(sent(net, CHILD_REQUEST)) == 2
    assert sent(net, CHILD_REQUEST)[0].data == sent(net, CHILD_REQUEST)[1].data
    survivor = agree(net)
    assert survivor.rekeyed_spi_in == old.spi_in
    assert conn.state == IkeSaState.ESTABLISHED


def test_lost_rekey_response_is_retransmitted_and_answered_from_cache() -> None:
    net, events = establish(lifetimes=LIFETIMES)
    _conn, gw = net.conn, net.gw
    net.drop_next(CHILD_RESPONSE)
    net.run_timers(until=103.0)
    first, second = sent(net, CHILD_REQUEST)
    assert first.data == second.data
    assert len(gw.requests(ExchangeType.CREATE_CHILD_SA)) == 1  # processed once (§2.1)
    agree(net)
    del events


# --------------------------------------------------------------------- the IKE SA (§2.18)


def test_ike_rekey_by_us() -> None:
    life = Lifetimes(ike_rekey_time=1000.0, child_rekey_time=0, jitter=0)
    net, events = establish(lifetimes=life)
    conn, gw = net.conn, net.gw
    (child,) = only(events, ChildSaEstablished)
    old_spis = (conn.ike_sa.spi_i, conn.ike_sa.spi_r)  # type: ignore[union-attr]
    # HDR, SK {SA(IKE, SPIi'), Ni, KEi} -->  <-- HDR, SK {SA(IKE, SPIr'), Nr, KEr}
    # HDR(old SPIs), SK {D(IKE)} -->          <-- HDR, SK {}
    net.run_timers(until=1000.0)
    events = drain(conn)
    (rekeyed,) = only(events, IkeSaRekeyed)
    assert (rekeyed.old_spi_i, rekeyed.old_spi_r) == old_spis
    assert rekeyed.we_initiated
    sa = conn.ike_sa
    assert sa is not None and (sa.spi_i, sa.spi_r) == (rekeyed.spi_i, rekeyed.spi_r)
    theirs = gw.sas[(sa.spi_i, sa.spi_r)]
    for name in ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"):
        assert getattr(sa.keys, name) == getattr(theirs.keys, name), name
    assert gw.sas[old_spis].deleted and not theirs.deleted
    assert conn.children == (child,)  # the child SA moved, untouched
    assert only(events, ChildSaDeleted) == []
    # The new IKE SA works, message IDs from 0: the gateway's liveness check and ours.
    net.from_gateway(gw.liveness_check(), 1001.0)
    assert gw.received[-1].response and gw.received[-1].message_id == 0
    conn.check_liveness(1002.0)
    net.pump(1002.0)
    last = sent(net, INFO_REQUEST)[-1]
    assert last.header.spi_i == sa.spi_i and last.header.message_id == 0
    assert last.header.flags == HeaderFlag.INITIATOR


def test_ike_rekey_by_the_gateway_swaps_roles() -> None:
    net, _events = establish()
    conn, gw = net.conn, net.gw
    old = conn.ike_sa
    assert old is not None
    # <-- HDR, SK {SA(IKE, SPIi'), Ni, KEi}
    # HDR, SK {SA(IKE, SPIr'), Nr, KEr} -->
    # <-- HDR(old), SK {D(IKE)}     HDR(old), SK {} -->
    net.from_gateway(gw.start_ike_rekey(), 500.0)
    (rekeyed,) = only(drain(conn), IkeSaRekeyed)
    assert not rekeyed.we_initiated
    sa = conn.ike_sa
    assert sa is not None and not sa.we_initiated
    assert sa.spi_r != old.spi_i and sa.spi_i not in (old.spi_i, old.spi_r)
    theirs = gw.sas[(sa.spi_i, sa.spi_r)]
    assert sa.keys.sk_d == theirs.keys.sk_d and sa.keys.sk_ei == theirs.keys.sk_ei
    assert gw.sas[(old.spi_i, old.spi_r)].deleted
    # The gateway is the new IKE SA's original initiator: our requests carry no I flag,
    # our answers only R, and SK_er protects what we send.
    conn.check_liveness(501.0)
    net.pump(501.0)
    mine = sent(net, INFO_REQUEST)[-1]
    assert mine.header.spi_i == sa.spi_i and mine.header.flags == 0
    assert not gw.received[-1].response and gw.received[-1].message_id == 0
    assert conn.get_timer() is None  # answered
    net.from_gateway(gw.liveness_check(), 502.0)
    answer = [d for d in net.wire if d.to_gateway and d.is_response][-1]
    assert answer.header.flags == HeaderFlag.RESPONSE
    # A child rekey now runs on the new IKE SA (its SK_d), in either direction.
    net.from_gateway(gw.start_child_rekey(), 503.0)
    agree(net)
    conn.rekey_child_sa(conn.children[0].spi_in, 504.0)
    net.pump(504.0)
    agree(net)
    assert conn.state == IkeSaState.ESTABLISHED


@pytest.mark.parametrize("seed", [b"ike-collide-%d" % i for i in range(4)])
def test_simultaneous_ike_rekey(seed: bytes) -> None:
    net, events = establish(seed=seed)
    conn, gw = net.conn, net.gw
    (child,) = only(events, ChildSaEstablished)
    old = conn.ike_sa
    assert old is not None
    net.hold_next(CHILD_REQUEST)
    conn.rekey_ike_sa(10.0)
    net.pump(10.0)
    net.hold_next(OUR_CHILD_ANSWER)
    net.from_gateway(gw.start_ike_rekey(), 10.1)
    net.release(10.2)
    assert conn.rekeys.collisions == 1
    sa = conn.ike_sa
    assert sa is not None and (sa.spi_i, sa.spi_r) != (old.spi_i, old.spi_r)
    live = [s for s in gw.sas.values() if not s.deleted]
    assert [(s.spi_i, s.spi_r) for s in live] == [(sa.spi_i, sa.spi_r)]
    assert sa.keys.sk_d == live[0].keys.sk_d
    assert conn.children == (child,)
    # Whichever won, the survivor carries on.
    conn.check_liveness(20.0)
    net.pump(20.0)
    last = gw.received[-1]
    assert last.exchange == ExchangeType.INFORMATIONAL and not last.response
    assert conn.get_timer() is None  # answered
    assert conn.state == IkeSaState.ESTABLISHED


def test_child_rekey_refused_while_the_ike_sa_is_rekeyed() -> None:
    net, _ = establish()
    conn, gw = net.conn, net.gw
    net.hold_next(CHILD_REQUEST)
    conn.rekey_ike_sa(10.0)
    net.pump(10.0)
    # §2.25.2: a child SA rekey that arrives while the IKE SA is being rekeyed must wait.
    net.from_gateway(gw.start_child_rekey(), 10.1)
    answer = gw.received[-1]
    assert answer.response
    assert answer.payloads == (NotifyPayload(0, b"", NotifyType.TEMPORARY_FAILURE, b""),)
    net.release(10.2)
    assert only(drain(conn), IkeSaRekeyed)
    agree(net)


# --------------------------------------------------------------------- hard limits


def test_hard_lifetime_when_the_rekey_never_succeeds() -> None:
    gw = gateway()
    gw.refuse_child_rekeys = [NotifyType.NO_PROPOSAL_CHOSEN] * 50
    life = Lifetimes(ike_rekey_time=0, child_rekey_time=100.0, child_life_time=130.0, jitter=0)
    net, events = establish(gw, lifetimes=life, rekey_retry=10.0)
    (old,) = only(events, ChildSaEstablished)
    net.run_timers(until=130.0)
    events = drain(net.conn)
    deleted = only(events, ChildSaDeleted)
    assert deleted[0] == ChildSaDeleted(old.spi_in, old.spi_out, "hard lifetime reached", False)
    # A fresh child SA replaces it (no REKEY_SA: the old one is gone).
    (fresh,) = only(events, ChildSaEstablished)
    assert fresh.rekeyed_spi_in is None
    agree(net)


def test_ike_hard_lifetime_ends_the_connection() -> None:
    gw = gateway()
    gw.refuse_ike_rekeys = [NotifyType.NO_PROPOSAL_CHOSEN] * 50
    life = Lifetimes(ike_rekey_time=100.0, ike_life_time=150.0, child_rekey_time=0, jitter=0)
    net, _ = establish(gw, lifetimes=life)
    net.run_timers(until=200.0)
    closed = only(drain(net.conn), IkeSaClosed)
    assert len(closed) == 1 and isinstance(closed[0].error, PeerLost)


def test_jitter_spreads_the_rekeys() -> None:
    life = Lifetimes(ike_rekey_time=0, child_rekey_time=100.0, child_life_time=1000, jitter=0.1)
    seen = set()
    for i in range(10):
        net, _ = establish(seed=b"jitter-%d" % i, lifetimes=life)
        deadline = net.conn.get_timer()
        assert deadline is not None and 90.0 <= deadline <= 100.0
        seen.add(round(deadline, 3))
    assert len(seen) > 5


def test_a_day_of_rekeys_in_milliseconds() -> None:
    """24 h with strongSwan-like lifetimes: every rekey succeeds, nothing closes."""
    life = Lifetimes(ike_rekey_time=4 * 3600, child_rekey_time=3600, jitter=0.1)
    net, _ = establish(lifetimes=life, dpd_delay=30.0)
    conn, gw = net.conn, net.gw
    now = 0.0
    while now < 24 * 3600:
        now += 7.0
        conn.inbound_activity(now)  # traffic flows: no liveness checks needed
        net.run_timers(until=now)
        if int(now) % 5000 < 7:
            net.from_gateway(gw.start_child_rekey(), now)  # the gateway rekeys now and then
    events = drain(conn)
    assert not only(events, IkeSaClosed)
    assert conn.rekeys.child_rekeys_initiated >= 10
    assert conn.rekeys.child_rekeys_initiated + conn.rekeys.child_rekeys_answered >= 24
    assert conn.rekeys.ike_rekeys_initiated >= 5
    assert len(only(events, IkeSaRekeyed)) == conn.rekeys.ike_rekeys_initiated
    agree(net)
    assert sum(1 for s in gw.sas.values() if not s.deleted) == 1


def test_both_ike_collision_outcomes_are_covered() -> None:
    outcomes = set()
    for i in range(8):
        net, _ = establish(seed=b"ike-collide-%d" % i)
        conn, gw = net.conn, net.gw
        net.hold_next(CHILD_REQUEST)
        conn.rekey_ike_sa(10.0)
        net.pump(10.0)
        net.hold_next(OUR_CHILD_ANSWER)
        net.from_gateway(gw.start_ike_rekey(), 10.1)
        net.release(10.2)
        sa = conn.ike_sa
        assert sa is not None
        live = [s for s in gw.sas.values() if not s.deleted]
        assert [(s.spi_i, s.spi_r) for s in live] == [(sa.spi_i, sa.spi_r)]
        outcomes.add(sa.we_initiated)
    assert outcomes == {True, False}
