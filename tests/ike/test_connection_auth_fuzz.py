"""Property tests for certificate and EAP authentication: nothing escapes ``receive_datagram``.

The initiator waits for an IKE_AUTH response in certificate mode or at one of
the EAP rounds; it is then fed authentic responses (sealed with the gateway's
real keys) that carry arbitrary or mutated CERT, AUTH and EAP payloads, and
mutations of the genuine answer. The only outcomes allowed: the connection
goes on (another EAP round), is established, or closes with a typed error;
any exception escaping is a bug (RFC 7296 §2.21).
"""

from __future__ import annotations

import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikeclient.errors import IkeError
from ikeclient.ike.events import Endpoint, IkeSaClosed
from ikeclient.ike.identity import Identity
from ikeclient.ike.v2.auth_settings import AuthSettings
from ikeclient.ike.v2.eap import EapSettings
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag
from ikeclient.ike.v2.message import pull_message
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    EapPayload,
    IdrPayload,
    Payload,
)
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import AUTH_RESPONSE, Network, connection, drain, gateway
from tests.ike.netsim import settings as s
from tests.ike.test_connection_fuzz import mutated
from tests.ikev2_responder import GATEWAY, NON_ESP_MARKER, seal, unseal
from tests.pki import make_pki

GW_ID = Identity.parse("gw.ike.lab")


def build(mode: str, rounds: int) -> tuple[Network, list[bytes]]:
    """A connection waiting for its (rounds+1)-th IKE_AUTH response; the genuine one held."""
    pki = make_pki()
    if mode == "pubkey":
        auth = AuthSettings(
            local="pubkey",
            remote="pubkey",
            credential=pki.client_ecdsa256.credential(),
            trust=pki.trust(),
        )
        gw = gateway(
            auth="pubkey",
            certificate=pki.gw,
            identity=GW_ID,
            client_auth="pubkey",
            client_ca=pki.ca,
        )
    else:
        auth = AuthSettings(
            local="eap",
            remote="pubkey",
            trust=pki.trust(),
            eap=EapSettings(mode, b"client@ike.lab", "pa55word"),
        )
        gw = gateway(
            auth="pubkey", certificate=pki.gw, identity=GW_ID, client_auth="eap", eap_method=mode
        )
    conn = connection(s(auth=auth, local_id=Identity.parse("client@ike.lab"), remote_id=GW_ID))
    net = Network(conn, gw)
    count = 0

    def nth_auth_response(d: object) -> bool:
        nonlocal count
        if AUTH_RESPONSE(d):  # type: ignore[arg-type]
            count += 1
            return count == rounds + 1
        return False

    net.hold_next(nth_auth_response)
    conn.connect(0.0, wall_time=time.time())
    net.pump(0.0)
    captured = [d.data for d in net.held] + [d.data for d in net.wire if not d.to_gateway]
    return net, captured


def authentic(net: Network, payloads: list[Payload]) -> bytes:
    sa = net.gw.sa
    assert net.conn._current.outstanding is not None
    return NON_ESP_MARKER + seal(
        spi_i=sa.spi_i,
        spi_r=sa.spi_r,
        exchange=ExchangeType.IKE_AUTH,
        flags=HeaderFlag.RESPONSE,
        message_id=net.conn._current.outstanding.message_id,
        payloads=payloads,
        cipher=sa.outbound,
        rng=net.gw.rng,
    )


def genuine_payloads(net: Network) -> list[Payload]:
    held = net.held[0]
    message = pull_message(held.ike)
    return list(unseal(held.ike, message, net.gw.sa.outbound))


@st.composite
def swap_payloads(draw: st.DrawFn, genuine: list[Payload]) -> list[Payload]:
    """The genuine response with CERT/AUTH/EAP/IDr payloads replaced by odd ones."""
    out: list[Payload] = []
    for p in genuine:
        if not draw(st.booleans()):
            out.append(p)
            continue
        if isinstance(p, CertPayload):
            out.append(CertPayload(draw(st.integers(0, 15)), draw(mutated(p.data))))
        elif isinstance(p, AuthPayload):
            method = draw(st.sampled_from([1, 2, 9, 10, 11, 14, 200]))
            data = draw(st.one_of(st.binary(max_size=300), mutated(p.data)))
            out.append(AuthPayload(method, data))
        elif isinstance(p, EapPayload):
            data = draw(st.one_of(mutated(p.data), st.binary(min_size=4, max_size=60)))
            fixed = data[:2] + len(data).to_bytes(2, "big") + data[4:] if len(data) >= 4 else data
            if len(fixed) >= 4:
                out.append(EapPayload(fixed))
        elif isinstance(p, IdrPayload):
            out.append(IdrPayload(draw(st.integers(0, 13)), draw(st.binary(max_size=30))))
        else:
            out.append(p)
    return out


CASES = [("pubkey", 0), ("mschapv2", 0), ("mschapv2", 1), ("mschapv2", 2), ("mschapv2", 3)]
CASES += [("mschapv2", 4), ("md5", 1), ("md5", 2)]


@settings(
    max_examples=int(os.environ.get("IKECLIENT_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=st.sampled_from(CASES), data=st.data())
def test_odd_authentic_ike_auth_responses(case: tuple[str, int], data: st.DataObject) -> None:
    net, captured = build(*case)
    conn = net.conn
    assert conn.state == IkeSaState.AUTH_SENT and net.held
    how = data.draw(st.sampled_from(["swap", "mutated"]), label="how")
    if how == "swap":
        payloads = data.draw(swap_payloads(genuine_payloads(net)), label="payloads")
        datagram = authentic(net, payloads)
    else:
        original = data.draw(st.sampled_from(captured), label="original")
        datagram = data.draw(mutated(original).filter(lambda m: m != original), label="m")
    conn.receive_datagram(datagram, Endpoint(GATEWAY, 4500), 1.0)
    events = drain(conn)
    closed = [e for e in events if isinstance(e, IkeSaClosed)]
    if conn.state == IkeSaState.CLOSED:
        assert len(closed) == 1 and isinstance(closed[0].error, IkeError | None)
    else:
        assert conn.state in (IkeSaState.AUTH_SENT, IkeSaState.ESTABLISHED)
    conn.close(10.0)
    net.pump(10.0)
    net.run_timers(until=1000.0)
    drain(conn)
    assert conn.state == IkeSaState.CLOSED and conn.get_timer() is None
