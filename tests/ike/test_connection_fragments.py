"""The initiator reassembles an IKE_AUTH response the gateway sent as RFC 7383 fragments."""

from __future__ import annotations

from ikeclient.crypto.encr import make_sk_cipher
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.ike.events import ChildSaEstablished, IkeSaEstablished
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, PayloadType
from ikeclient.ike.v2.message import HEADER_SIZE, IkeHeader, pull_message, push_header
from ikeclient.ike.v2.payloads import SkPayload
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import AUTH_RESPONSE, Network, connection, drain, gateway, settings
from tests.ikev2_responder import NON_ESP_MARKER, ResponderDouble


def fragments_of(gw: ResponderDouble, wire: bytes, pieces: int) -> list[bytes]:
    """Re-send the gateway's protected IKE_AUTH response as SKF fragments (RFC 7383 §2.5)."""
    message = pull_message(wire)
    sk = message.payloads[-1]
    assert isinstance(sk, SkPayload)
    sa = gw.sa
    # Open it as the initiator would (SK_er, SK_ar), to get the inner payload chain back.
    chosen = {t.type: t for t in sa.proposal.transforms}
    encr = chosen[1]
    integ = chosen.get(3)
    reader = make_sk_cipher(
        encr.id, encr.key_length, sa.keys.sk_er, integ.id if integ else None,
        sa.keys.sk_ar if integ else None,
    )  # fmt: skip
    chain = reader.open(wire[: len(wire) - len(sk.body)], sk.body)
    size = -(-len(chain) // pieces)
    parts = [chain[i : i + size] for i in range(0, len(chain), size)]
    rng = DeterministicRandomSource(b"fragments")
    out = []
    for number, part in enumerate(parts, start=1):
        body_len = sa.outbound.sealed_length(len(part))
        first = sk.first_inner if number == 1 else 0
        header = IkeHeader(
            sa.spi_i, sa.spi_r, PayloadType.SKF, 2, 0, ExchangeType.IKE_AUTH,
            HeaderFlag.RESPONSE, message.header.message_id, HEADER_SIZE + 8 + body_len,
        )  # fmt: skip
        aad = (
            push_header(header)
            + bytes((first, 0))
            + (8 + body_len).to_bytes(2, "big")
            + number.to_bytes(2, "big")
            + len(parts).to_bytes(2, "big")
        )
        out.append(NON_ESP_MARKER + aad + sa.outbound.seal(aad, part, rng))
    return out


def test_fragmented_ike_auth_response_is_reassembled_out_of_order() -> None:
    conn = connection(settings())
    gw = gateway()
    net = Network(conn, gw)
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (held,) = net.held
    net.held = []
    frags = fragments_of(gw, held.ike, 3)
    assert len(frags) == 3
    # <-- HDR, SKF(3/3); HDR, SKF(1/3); HDR, SKF(3/3) again; HDR, SKF(2/3)
    for data in (frags[2], frags[0], frags[2]):
        conn.receive_datagram(data, held.src, 0.1)
        assert conn.state == IkeSaState.AUTH_SENT
    assert conn.drops.fragments_held == 3
    conn.receive_datagram(frags[1], held.src, 0.1)
    assert conn.state == IkeSaState.ESTABLISHED
    events = drain(conn)
    assert isinstance(events[0], IkeSaEstablished)
    assert any(isinstance(e, ChildSaEstablished) for e in events)


def test_tampered_fragment_is_dropped_and_the_rest_still_completes() -> None:
    conn = connection(settings())
    gw = gateway()
    net = Network(conn, gw)
    net.hold_next(AUTH_RESPONSE)
    conn.connect(0.0)
    net.pump(0.0)
    (held,) = net.held
    frags = fragments_of(gw, held.ike, 2)
    bad = frags[1][:-1] + bytes((frags[1][-1] ^ 1,))
    conn.receive_datagram(frags[0], held.src, 0.1)
    conn.receive_datagram(bad, held.src, 0.1)
    assert conn.drops.integrity == 1
    assert conn.state == IkeSaState.AUTH_SENT
    conn.receive_datagram(frags[1], held.src, 0.1)
    assert conn.state == IkeSaState.ESTABLISHED
