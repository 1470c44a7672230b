"""EAP, peer side: the packet codec, the conversation, EAP-MD5, EAP-MSCHAPv2, EAP-TLS keys.

Vectors: RFC 2759 §9.2 and RFC 3079 §3.5.3 (MS-CHAPv2, tests/vectors/mschapv2_rfc2759.json),
the TLS 1.2 PRF test vector from the IETF TLS list (SHA-256, "test label"), RFC 8448 §3
(the TLS 1.3 "derived" secret: Derive-Secret with an empty transcript, as the exporter uses).
"""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.errors import EapFailure, InvalidSyntax
from ikeclient.ike.v2.eap import EapPeer, EapResult, EapSettings
from ikeclient.ike.v2.eap.md5 import md5_challenge_response
from ikeclient.ike.v2.eap.mschapv2 import (
    EapMschapv2Peer,
    authenticator_response,
    challenge_hash,
    generate_nt_response,
    master_key,
    mschapv2_msk,
    nt_password_hash,
    start_key,
)
from ikeclient.ike.v2.eap.packet import (
    EapCode,
    EapPacket,
    EapType,
    pull_eap_packet,
    push_eap_packet,
)
from ikeclient.ike.v2.eap.tls_keys import (
    hello_random,
    hkdf_expand_label,
    msk_tls12,
    parse_key_log,
    tls12_prf,
)
from tests.responder_auth import EapServer, mschapv2_server_values

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
V = json.loads((VECTORS / "mschapv2_rfc2759.json").read_text())


def h(name: str) -> bytes:
    return bytes.fromhex(V[name])


# --------------------------------------------------------------------- MS-CHAPv2 vectors


def test_rfc2759_vectors() -> None:
    user, password = V["user_name"].encode(), V["password"]
    assert challenge_hash(h("peer_challenge"), h("authenticator_challenge"), user) == h("challenge")
    assert nt_password_hash(password) == h("password_hash")
    nt = generate_nt_response(h("authenticator_challenge"), h("peer_challenge"), user, password)
    assert nt == h("nt_response")
    auth = authenticator_response(
        password, nt, h("peer_challenge"), h("authenticator_challenge"), user
    )
    assert "S=" + auth.hex().upper() == V["authenticator_response"]


def test_rfc3079_key_derivation() -> None:
    master = master_key(V["password"], h("nt_response"))
    assert master == h("master_key")
    assert start_key(master, send=True, server=True) == h("server_send_start_key_128")
    # The peer's receive key is the server's send key, and the other way round.
    assert start_key(master, send=False, server=False) == h("server_send_start_key_128")
    assert start_key(master, send=True, server=False) == start_key(master, send=False, server=True)
    msk = mschapv2_msk(V["password"], h("nt_response"))
    assert msk[16:32] == h("server_send_start_key_128") and msk[32:] == bytes(32)


def test_domain_is_stripped_for_the_challenge_hash() -> None:
    a = challenge_hash(h("peer_challenge"), h("authenticator_challenge"), b"CORP\\User")
    assert a == h("challenge")


def test_the_double_agrees_with_the_vectors() -> None:
    nt, auth, msk = mschapv2_server_values(
        V["password"], h("authenticator_challenge"), h("peer_challenge"), b"User"
    )
    assert nt == h("nt_response") and "S=" + auth.hex().upper() == V["authenticator_response"]
    assert msk == mschapv2_msk(V["password"], nt)


def _challenge(ms_id: int = 7, challenge: bytes | None = None) -> bytes:
    body = b"\x10" + (challenge or h("authenticator_challenge")) + b"srv"
    return bytes((1, ms_id)) + (4 + len(body)).to_bytes(2, "big") + body


def test_mschapv2_peer_flow() -> None:
    peer = EapMschapv2Peer(b"User", V["password"], DeterministicRandomSource(b"p"))
    response = peer.process(1, _challenge())
    assert response[0] == 2 and response[1] == 7  # OpCode Response, the MS-CHAPv2-ID echoed
    assert int.from_bytes(response[2:4], "big") == len(response)  # MS-Length
    assert response[4] == 49 and response[54:] == b"User"
    peer_challenge, nt = response[5:21], response[29:53]
    assert response[21:29] == bytes(8) and response[53] == 0
    auth = authenticator_response(
        V["password"], nt, peer_challenge, h("authenticator_challenge"), b"User"
    )
    assert not peer.finished
    message = b"S=" + auth.hex().upper().encode() + b" M=Welcome2strongSwan"
    success = b"\x03\x07" + (4 + len(message)).to_bytes(2, "big") + message
    assert peer.process(2, success) == b"\x03"
    assert peer.finished and peer.mutual and peer.msk == mschapv2_msk(V["password"], nt)


def test_mschapv2_wrong_authenticator_response() -> None:
    peer = EapMschapv2Peer(b"User", V["password"], DeterministicRandomSource(b"p"))
    peer.process(1, _challenge())
    message = b"S=" + b"0" * 40 + b" M=x"
    with pytest.raises(EapFailure, match="not the real gateway"):
        peer.process(2, b"\x03\x07" + (4 + len(message)).to_bytes(2, "big") + message)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"E=691 R=1 C=00112233445566778899aabbccddeeff V=3 M=bad", "wrong user name or password"),
        (b"E=648 R=0 V=3", "password expired"),
        (b"E=12345", "error 12345"),
    ],
)
def test_mschapv2_failure_request(text: bytes, why: str) -> None:
    peer = EapMschapv2Peer(b"User", V["password"], DeterministicRandomSource(b"p"))
    peer.process(1, _challenge())
    # RFC 2759 §7: answered with a Failure Response; the reason waits for EAP-Failure.
    assert peer.process(2, b"\x04\x07" + (4 + len(text)).to_bytes(2, "big") + text) == b"\x04"
    assert peer.failure is not None and why in peer.failure and not peer.finished
    with pytest.raises(InvalidSyntax):
        peer.process(3, b"\x04\x07\x00\x04")  # only one Failure per conversation


@pytest.mark.parametrize(
    "data", [b"", b"\x01\x07\x00\x05", b"\x01\x07\x00\x20\x08" + bytes(30), b"\x03"]
)
def test_mschapv2_malformed(data: bytes) -> None:
    peer = EapMschapv2Peer(b"User", "pw", DeterministicRandomSource(b"p"))
    with pytest.raises(InvalidSyntax):
        peer.process(1, data)


def test_md5_challenge() -> None:
    """RFC 1994 §4.1: MD5(Identifier | secret | Challenge)."""
    assert (
        md5_challenge_response(9, b"secret", b"challenge")
        == hashlib.md5(b"\x09secretchallenge").digest()
    )


# --------------------------------------------------------------------- packets and the peer


def test_packet_codec() -> None:
    p = EapPacket(EapCode.REQUEST, 5, EapType.IDENTITY, b"")
    assert push_eap_packet(p) == bytes.fromhex("0105000501")
    assert pull_eap_packet(bytes.fromhex("0105000501")) == p
    assert pull_eap_packet(bytes.fromhex("03050004")) == EapPacket(EapCode.SUCCESS, 5)
    for bad in ("0105", "01050006", "0105000401", "03050005ff", "0905000401", "01050004"):
        with pytest.raises(InvalidSyntax):
            pull_eap_packet(bytes.fromhex(bad))


def peer(method: str = "mschapv2", **kw: object) -> EapPeer:
    return EapPeer(
        EapSettings(method, b"alice", "pw"),
        DeterministicRandomSource(b"x"),
        **kw,  # type: ignore[arg-type]
    )


def test_identity_notification_and_nak() -> None:
    p = peer()
    assert (
        p.receive(push_eap_packet(EapPacket(1, 1, EapType.IDENTITY)))
        == bytes.fromhex("0201000a01") + b"alice"
    )
    note = p.receive(push_eap_packet(EapPacket(1, 2, EapType.NOTIFICATION, b"hello")))
    assert note == bytes.fromhex("0202000502") and p.notifications == ["hello"]
    # RFC 3748 §5.3.1: another method is refused with a Legacy Nak naming ours (26).
    nak = p.receive(push_eap_packet(EapPacket(1, 3, EapType.MD5_CHALLENGE, b"\x10" + bytes(16))))
    assert nak == bytes.fromhex("02030006031a")


def test_success_before_the_method_finished_is_refused() -> None:
    with pytest.raises(EapFailure, match="before the EAP method finished"):
        peer().receive(push_eap_packet(EapPacket(EapCode.SUCCESS, 1)))


def test_failure() -> None:
    with pytest.raises(EapFailure, match="rejected the EAP authentication"):
        peer().receive(push_eap_packet(EapPacket(EapCode.FAILURE, 1)))


def test_md5_peer_and_mutual_requirement() -> None:
    challenge = push_eap_packet(EapPacket(1, 4, EapType.MD5_CHALLENGE, b"\x04abcdname"))
    p = peer("md5")
    answer = p.receive(challenge)
    assert answer == push_eap_packet(
        EapPacket(2, 4, EapType.MD5_CHALLENGE, b"\x10" + md5_challenge_response(4, b"pw", b"abcd"))
    )
    result = p.receive(push_eap_packet(EapPacket(EapCode.SUCCESS, 4)))
    assert result == EapResult(None, False)
    strict = peer("md5", require_mutual=True)
    strict.receive(challenge)
    with pytest.raises(EapFailure, match="authenticates the gateway"):
        strict.receive(push_eap_packet(EapPacket(EapCode.SUCCESS, 4)))


def test_the_double_and_the_peer_talk_mschapv2() -> None:
    server = EapServer("mschapv2", {b"alice": "pw"}, DeterministicRandomSource(b"s"))
    p = peer()
    packet = server.start()
    for _ in range(6):
        step = p.receive(packet)
        if isinstance(step, EapResult):
            break
        packet = server.receive(step)
    assert isinstance(step, EapResult) and step.mutual and step.msk == server.msk


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6), st.sampled_from(["md5", "mschapv2"]))
def test_any_packets_give_an_answer_or_a_typed_error(packets: list[bytes], method: str) -> None:
    p = peer(method)
    for data in packets:
        try:
            p.receive(data)
        except (InvalidSyntax, EapFailure):
            return


# --------------------------------------------------------------------- EAP-TLS keys


def test_tls12_prf_vector() -> None:
    out = tls12_prf(
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
        "sha256",
    )
    assert out.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a4"
        "6b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d1"
        "22ee42c5a72e5a5110fff70187347b66"
    )


def test_rfc8448_derive_secret_with_an_empty_transcript() -> None:
    early = bytes.fromhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    derived = hkdf_expand_label(early, b"derived", hashlib.sha256(b"").digest(), 32, "sha256")
    assert derived.hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"


def test_msk_tls12_is_the_rfc5216_prf() -> None:
    master, cr, sr = bytes(48), b"c" * 32, b"s" * 32
    expected = tls12_prf(master, b"client EAP encryption", cr + sr, 128, "sha384")[:64]
    assert msk_tls12(master, cr, sr, "sha384") == expected


def test_key_log_and_hello_random() -> None:
    log = "# comment\nCLIENT_RANDOM 0a0b 0c0d\nEXPORTER_SECRET 0a0b ffee\nbroken line\nX zz yy\n"
    secrets = parse_key_log(log)
    assert secrets == {
        ("CLIENT_RANDOM", b"\x0a\x0b"): b"\x0c\x0d",
        ("EXPORTER_SECRET", b"\x0a\x0b"): b"\xff\xee",
    }
    record = b"\x16\x03\x01\x00\x30" + b"\x01\x00\x00\x2c" + b"\x03\x03" + bytes(range(32))
    assert hello_random(record, 1) == bytes(range(32))
    assert hello_random(record, 2) is None and hello_random(b"\x17" + record[1:], 1) is None


def test_eap_tls_needs_its_settings() -> None:
    p = EapPeer(EapSettings("tls", b"a"), DeterministicRandomSource(b"x"))
    with pytest.raises(EapFailure, match="EAP-TLS needs"):
        p.receive(push_eap_packet(EapPacket(1, 1, EapType.TLS, b"\x20")))


def test_eap_tls_framing_limits() -> None:
    from ikeclient.ike.v2.eap.tls import EapTlsPeer  # noqa: PLC0415

    class NoLog:
        def read(self) -> str:
            return ""

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = EapTlsPeer(context, NoLog(), lambda der: None, fragment_size=100)
    with pytest.raises(InvalidSyntax):
        tls.process(1, b"\x00abc")  # data before the start
    first = tls.process(1, b"\x20")  # start: the ClientHello, in fragments of 100
    assert first[0] == 0x80 | 0x40 and len(first) == 1 + 4 + 100
    total = int.from_bytes(first[1:5], "big")
    sent = first[5:]
    while len(sent) < total:
        more = tls.process(2, b"\x00")  # the gateway acknowledges each fragment
        sent += more[1:]
        assert bool(more[0] & 0x40) == (len(sent) < total)
    assert sent[0] == 0x16 and hello_random(sent, 1) is not None
    with pytest.raises(InvalidSyntax, match="announced"):
        tls.process(3, b"\x80" + (10**6).to_bytes(4, "big"))
    assert tls.process(4, b"\x40" + b"\x16" * 10) == b"\x00"  # a fragment is acknowledged
    with pytest.raises(InvalidSyntax):
        tls.process(5, b"\x20")  # a second start
