"""Property tests: whatever arrives, nothing escapes ``receive_datagram`` (RFC 7296 §2.21).

In each state of the initiator, feed it arbitrary bytes, mutations of datagrams
captured from a real exchange with the responder double, and well-protected
messages (sealed with the gateway's real keys) carrying arbitrary payloads.
Any exception is a bug. Unauthenticated input must not move an IKE SA that has
keys; authentic input may move it, but only along the state table, and the
connection must keep answering its timers and closing cleanly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikeclient.ike.events import Endpoint, IkeEvent, IkeSaClosed
from ikeclient.ike.v2.connection import Ikev2Connection
from ikeclient.ike.v2.enums import AuthMethod, ExchangeType, HeaderFlag
from ikeclient.ike.v2.message import encode_message, pull_message
from ikeclient.ike.v2.payloads import AuthPayload, IdrPayload, Payload
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import (
    AUTH_RESPONSE,
    INFO_RESPONSE,
    SA_INIT_RESPONSE,
    Network,
    connection,
    drain,
    gateway,
    sent,
)
from tests.ike.strategies import (
    cp_payloads,
    delete_payloads,
    notify_payloads,
    plain_payloads,
    sa_payloads,
    tsi_payloads,
    tsr_payloads,
    unknown_payloads,
    vendor_id_payloads,
)
from tests.ikev2_responder import GATEWAY, NON_ESP_MARKER, id_body, psk_auth_value, seal

STATES = [
    IkeSaState.SA_INIT_SENT,
    IkeSaState.AUTH_SENT,
    IkeSaState.ESTABLISHED,
    IkeSaState.DELETING,
    IkeSaState.CLOSED,
]
# Where each state may go (RFC 7296 §1.2, §1.4.1; ``state.py``); AUTH_SENT and
# SA_INIT_SENT can move forward through an authentic (or unprotected) answer.
REACHABLE = {
    IkeSaState.SA_INIT_SENT: set(STATES) - {IkeSaState.DELETING},
    IkeSaState.AUTH_SENT: {
        IkeSaState.AUTH_SENT,
        IkeSaState.ESTABLISHED,
        IkeSaState.DELETING,
        IkeSaState.CLOSED,
    },
    IkeSaState.ESTABLISHED: {IkeSaState.ESTABLISHED, IkeSaState.DELETING, IkeSaState.CLOSED},
    IkeSaState.DELETING: {IkeSaState.DELETING, IkeSaState.CLOSED},
    IkeSaState.CLOSED: {IkeSaState.CLOSED},
}


@dataclass
class Setup:
    conn: Ikev2Connection
    net: Network
    captured: list[bytes]  # datagrams seen on the wire to the initiator, or the gateway's own
    events: list[IkeEvent]


def build(state: IkeSaState) -> Setup:
    """Drive a fresh connection to ``state`` against the double, capturing datagrams."""
    conn = connection()
    gw = gateway()
    net = Network(conn, gw)
    if state == IkeSaState.SA_INIT_SENT:
        net.hold_next(SA_INIT_RESPONSE)
    elif state == IkeSaState.AUTH_SENT:
        net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    captured = [d.data for d in net.wire if not d.to_gateway] + [d.data for d in net.held]
    if state in (IkeSaState.ESTABLISHED, IkeSaState.DELETING, IkeSaState.CLOSED):
        # Requests the gateway may send; not delivered, only offered as material.
        captured += [gw.liveness_check(), gw.delete_child(), gw.delete_ike_sa()]
        gw.sa.our_next_id = 0
    if state == IkeSaState.DELETING:
        net.hold_next(INFO_RESPONSE)
        conn.close(1.0)
        net.pump(1.0)
        captured += [d.data for d in net.held]
    elif state == IkeSaState.CLOSED:
        conn.close(1.0)
        net.pump(1.0)
        captured += [d.data for d in sent(net, INFO_RESPONSE)]
    assert conn.state == state
    return Setup(conn, net, captured, drain(conn))


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "extend", "insert"]))
        if kind in ("flip", "set") and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = (
                data[i] ^ (1 << draw(st.integers(0, 7)))
                if kind == "flip"
                else draw(st.integers(0, 255))
            )
        elif kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "extend":
            data += draw(st.binary(min_size=1, max_size=16))
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def authentic(setup: Setup, kind: str, payloads: list[Payload]) -> bytes:
    """A message protected with the gateway's real keys (or, for IKE_SA_INIT, with its SPIs)."""
    conn, gw = setup.conn, setup.net.gw
    if kind.startswith("sa_init"):
        held = [d for d in setup.net.held if d.exchange == ExchangeType.IKE_SA_INIT]
        spi_r = held[0].header.spi_r if held else bytes(range(1, 9))
        return encode_message(
            conn.spi_i, spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0, payloads
        )
    sa = gw.sa
    exchange, flags, message_id = {
        "auth_response": (ExchangeType.IKE_AUTH, HeaderFlag.RESPONSE, 1),
        "auth_valid": (ExchangeType.IKE_AUTH, HeaderFlag.RESPONSE, 1),
        "info_request": (ExchangeType.INFORMATIONAL, 0, 0),
        "child_request": (ExchangeType.CREATE_CHILD_SA, 0, 0),
        "info_response": (ExchangeType.INFORMATIONAL, HeaderFlag.RESPONSE, 2),
    }[kind]
    wire = seal(
        spi_i=sa.spi_i,
        spi_r=sa.spi_r,
        exchange=exchange,
        flags=flags,
        message_id=message_id,
        payloads=payloads,
        cipher=sa.outbound,
        rng=gw.rng,
    )
    return NON_ESP_MARKER + wire


def genuine_auth_prefix(setup: Setup) -> list[Payload]:
    """IDr and an AUTH that verifies (RFC 7296 §2.15), so the rest of the response is reached."""
    gw = setup.net.gw
    sa = gw.sa
    ident = gw.identity
    auth = psk_auth_value(
        sa.prf,
        gw.psk,
        sa.init_response,
        sa.nonce_i,
        sa.keys.sk_pr,
        id_body(ident.id_type, ident.data),
    )
    return [IdrPayload(ident.id_type, ident.data), AuthPayload(AuthMethod.SHARED_KEY_MIC, auth)]


def genuine_sa_init(setup: Setup) -> list[Payload]:
    held = [d for d in setup.net.held if d.exchange == ExchangeType.IKE_SA_INIT]
    return list(pull_message(held[0].ike).payloads) if held else []


info_payloads = st.lists(
    st.one_of(
        notify_payloads, delete_payloads(), cp_payloads, vendor_id_payloads, unknown_payloads
    ),
    max_size=5,
)
child_payloads = st.one_of(
    cp_payloads, sa_payloads, tsi_payloads, tsr_payloads, notify_payloads, plain_payloads
)


def draw_payloads(data: st.DataObject, setup: Setup, kind: str) -> list[Payload]:
    if kind in ("info_request", "info_response"):
        return data.draw(info_payloads, label="info")
    if kind == "auth_valid":
        rest = data.draw(st.lists(child_payloads, max_size=6), label="auth rest")
        return genuine_auth_prefix(setup) + rest
    if kind == "sa_init_mixed":
        genuine = genuine_sa_init(setup)
        return data.draw(
            st.lists(
                st.one_of(st.sampled_from(genuine), notify_payloads, plain_payloads), max_size=8
            ),
            label="sa_init mixed",
        )
    return data.draw(st.lists(plain_payloads, max_size=6), label="payloads")


AUTHENTIC_KINDS = {
    IkeSaState.SA_INIT_SENT: ["sa_init", "sa_init_mixed"],
    IkeSaState.AUTH_SENT: ["auth_response", "auth_valid"],
    IkeSaState.ESTABLISHED: ["info_request", "child_request"],
    IkeSaState.DELETING: ["info_response", "info_request"],
    IkeSaState.CLOSED: ["info_request"],
}


def check_sane(setup: Setup, before: IkeSaState) -> None:
    conn = setup.conn
    setup.events += drain(conn)
    assert conn.state in REACHABLE[before]
    closed = [e for e in setup.events if isinstance(e, IkeSaClosed)]
    assert len(closed) == (1 if conn.state == IkeSaState.CLOSED else 0)
    for data, dst in conn.datagrams_to_send(5.0):
        assert isinstance(data, bytes) and dst.host == GATEWAY
    timer = conn.get_timer()
    assert timer is None or isinstance(timer, float)
    if conn.state == IkeSaState.CLOSED:
        assert timer is None


@settings(
    max_examples=int(os.environ.get("IKECLIENT_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(state=st.sampled_from(STATES), data=st.data())
def test_nothing_escapes_receive_datagram(state: IkeSaState, data: st.DataObject) -> None:
    setup = build(state)
    conn = setup.conn
    source = data.draw(st.sampled_from(["raw", "mutated", "authentic"]), label="source")
    if source == "raw":
        datagram = data.draw(st.binary(max_size=400), label="raw")
        if data.draw(st.booleans(), label="marker"):
            datagram = NON_ESP_MARKER + datagram
    elif source == "mutated":
        original = data.draw(st.sampled_from(setup.captured), label="original")
        datagram = data.draw(mutated(original).filter(lambda m: m != original), label="mutated")
    else:
        kind = data.draw(st.sampled_from(AUTHENTIC_KINDS[state]), label="kind")
        payloads = draw_payloads(data, setup, kind)
        datagram = authentic(setup, kind, payloads)
    port = data.draw(st.sampled_from([500, 4500]), label="port")

    before = conn.state
    conn.receive_datagram(datagram, Endpoint(GATEWAY, port), 3.0)
    if source != "authentic" and before != IkeSaState.SA_INIT_SENT:
        # Not protected with the IKE SA's keys: dropped, nothing changes (§2.21).
        assert conn.state == before
        assert drain(conn) == []
    check_sane(setup, before)

    # The connection still works: the genuine held answer, timers, and close().
    setup.net.release(3.5)
    check_sane(setup, before)
    for _ in range(10):
        timer = conn.get_timer()
        if timer is None:
            break
        conn.handle_timer(timer)
        setup.net.pump(timer)
    check_sane(setup, before)
    conn.close(1000.0)
    setup.net.pump(1000.0)
    setup.net.run_timers(until=2000.0)
    check_sane(setup, before)
    assert conn.state == IkeSaState.CLOSED and conn.get_timer() is None
