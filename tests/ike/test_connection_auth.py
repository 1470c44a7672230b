"""Certificates, signatures, EAP and fragmentation: the initiator against the responder double.

Sans-I/O like ``test_connection``: a simulated clock (plus a wall-clock time
for certificate checks), seeded randomness, the in-memory network. The PKI is
``tests.pki``'s throwaway one. Steps in RFC 7296 notation.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ikeclient.errors import (
    AuthenticationFailed,
    CertificateExpired,
    CertificateNameMismatch,
    CertificateRevoked,
    CertificateUnsupported,
    CertificateUntrusted,
    CertificateUsage,
    EapFailure,
    IdentityMismatch,
    LocalProtocolError,
)
from ikeclient.ike.events import ChildSaEstablished, IkeSaClosed, IkeSaEstablished
from ikeclient.ike.identity import Identity
from ikeclient.ike.pki import TrustStore
from ikeclient.ike.v2.auth_settings import AuthSettings
from ikeclient.ike.v2.eap import EapSettings, TlsClient
from ikeclient.ike.v2.enums import ExchangeType, NotifyType
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    EapPayload,
    NotifyPayload,
)
from ikeclient.ike.v2.state import IkeSaState
from tests.ike.netsim import (
    AUTH_REQUEST,
    AUTH_RESPONSE,
    Network,
    connection,
    drain,
    gateway,
    sent,
    settings,
)
from tests.ikev2_responder import ResponderDouble
from tests.pki import Issued, Pki, key_pem, make_pki, pem

GW_ID = Identity.parse("gw.ike.lab")
CLIENT_ID = Identity.parse("client@ike.lab")
PASSWORD = "pa55word"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def run(
    auth: AuthSettings,
    gw: ResponderDouble,
    *,
    remote_id: Identity | None = GW_ID,
    send_remote_id: bool = True,
    wall: float | None = None,
    **kw: object,
) -> tuple[Network, list[object]]:
    """IKE_SA_INIT and IKE_AUTH (all its round trips) at t=0 on a lossless path."""
    s = settings(
        auth=auth,
        local_id=CLIENT_ID,
        remote_id=remote_id,
        send_remote_id=send_remote_id,
        **kw,
    )
    conn = connection(s)
    net = Network(conn, gw)
    conn.connect(0.0, wall_time=time.time() if wall is None else wall)
    net.pump(0.0)
    return net, drain(conn)


def closed_error(events: list[object]) -> BaseException | None:
    closed = [e for e in events if isinstance(e, IkeSaClosed)]
    assert len(closed) == 1, events
    return closed[0].error


def established(net: Network, events: list[object]) -> IkeSaEstablished:
    assert net.conn.state == IkeSaState.ESTABLISHED, events
    est = [e for e in events if isinstance(e, IkeSaEstablished)]
    assert len(est) == 1 and any(isinstance(e, ChildSaEstablished) for e in events), events
    return est[0]


def cert_gateway(pki: Pki, cert: Issued | None = None, **kw: object) -> ResponderDouble:
    values: dict[str, object] = {
        "auth": "pubkey",
        "certificate": cert or pki.gw,
        "identity": GW_ID,
        "client_ca": pki.ca,
    }
    values.update(kw)
    return gateway(**values)


def gateway_cert_auth(pki: Pki, **kw: object) -> AuthSettings:
    values: dict[str, object] = {"local": "psk", "remote": "pubkey", "trust": pki.trust()}
    values.update(kw)
    return AuthSettings(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------- gateway certificate


def test_gateway_certificate_and_client_psk(pki: Pki) -> None:
    gw = cert_gateway(pki)
    net, events = run(gateway_cert_auth(pki), gw)
    est = established(net, events)
    assert est.remote_identity == "gw.ike.lab"
    # HDR, SK {IDi, CERTREQ, N(INITIAL_CONTACT), IDr, AUTH, ...} -->
    (req,) = [r.payloads for r in gw.requests(ExchangeType.IKE_AUTH)]
    certreq = next(p for p in req if isinstance(p, CertReqPayload))
    assert certreq.encoding == 4
    # RFC 7296 §3.7: SHA-1 of each trust anchor's SubjectPublicKeyInfo, concatenated.
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    expected = b"".join(
        hashlib.sha1(c.public_key().public_bytes(*spki)).digest()
        for c in (pki.ca.cert, pki.big_ca.cert)
    )
    assert certreq.data == expected
    auth = net.conn._current.auth.authenticator  # type: ignore[union-attr]
    assert auth.scheme == "RSA-PKCS1-SHA256"  # RFC 7427: the gateway saw our hashes
    assert "gw.ike.lab" in (auth.remote_certificate or "")


def test_our_announced_signature_hashes_include_identity(pki: Pki) -> None:
    gw = cert_gateway(pki)
    run(gateway_cert_auth(pki), gw)
    assert gw.peer_hashes == (2, 3, 4, 5)  # SHA2-256/384/512, IDENTITY (RFC 8420)


@pytest.mark.parametrize("classic", [True, False])
def test_gateway_rsa_classic_and_rfc7427(pki: Pki, classic: bool) -> None:
    gw = cert_gateway(pki, rfc7427=not classic)
    net, events = run(gateway_cert_auth(pki), gw)
    established(net, events)
    resp = [d for d in net.log if AUTH_RESPONSE(d)]
    assert resp
    auth = net.conn._current.auth.authenticator  # type: ignore[union-attr]
    assert auth.scheme == ("RSA-PKCS1-SHA1" if classic else "RSA-PKCS1-SHA256")


@pytest.mark.parametrize("classic", [True, False])
def test_gateway_ecdsa(pki: Pki, classic: bool) -> None:
    gw = cert_gateway(pki, pki.gw_ecdsa, rfc7427=not classic)
    net, events = run(gateway_cert_auth(pki), gw)
    established(net, events)
    assert net.conn._current.auth.authenticator.scheme == "ECDSA-SHA256"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("which", "error", "words"),
    [
        ("gw_expired", CertificateExpired, "expired on"),
        ("gw_other_ca", CertificateUntrusted, "ikeclient other CA"),
        ("gw_revoked", CertificateRevoked, "revoked"),
        ("gw_client_eku", CertificateUsage, "clientAuth"),
    ],
)
def test_bad_gateway_certificates_are_refused(
    pki: Pki, which: str, error: type[Exception], words: str
) -> None:
    gw = cert_gateway(pki, getattr(pki, which))
    net, events = run(gateway_cert_auth(pki), gw)
    err = closed_error(events)
    assert isinstance(err, error), err
    assert words in str(err)
    assert str(err).startswith(f"gateway certificate {error.reason}:")  # type: ignore[attr-defined]
    assert net.conn.state == IkeSaState.CLOSED
    # RFC 7296 §2.21.2: the half-open IKE SA is deleted at the gateway.
    assert sent(net, lambda d: d.to_gateway and d.exchange == ExchangeType.INFORMATIONAL)


def test_wrong_name_certificate_is_a_name_mismatch(pki: Pki) -> None:
    # The gateway claims other.ike.lab and its certificate says so; the profile wants gw.ike.lab.
    gw = cert_gateway(pki, pki.gw_other_name, identity=Identity.parse("other.ike.lab"))
    _, events = run(gateway_cert_auth(pki), gw, send_remote_id=False)
    err = closed_error(events)
    assert isinstance(err, CertificateNameMismatch), err
    assert "gw.ike.lab" in str(err) and "other.ike.lab" in str(err)


def test_identity_not_in_certificate(pki: Pki) -> None:
    # The gateway claims gw.ike.lab with a certificate for other.ike.lab (RFC 4945 §3.1).
    gw = cert_gateway(pki, pki.gw_other_name)
    _, events = run(gateway_cert_auth(pki), gw)
    err = closed_error(events)
    assert isinstance(err, CertificateNameMismatch)
    assert "the identity the gateway claims" in str(err)


def test_expired_is_judged_by_the_wall_clock_given(pki: Pki) -> None:
    gw = cert_gateway(pki)
    _, events = run(gateway_cert_auth(pki), gw, wall=time.time() + 400 * 86400)
    assert isinstance(closed_error(events), CertificateExpired)
    gw = cert_gateway(pki, pki.gw_expired)
    net, events = run(gateway_cert_auth(pki), gw, wall=time.time() - 10 * 86400)
    established(net, events)


def test_hash_and_url_is_refused_cleanly(pki: Pki) -> None:
    gw = cert_gateway(pki, send_certs=[(12, b"\x00" * 20 + b"http://ca.example/gw.der")])
    _, events = run(gateway_cert_auth(pki), gw)
    err = closed_error(events)
    assert isinstance(err, CertificateUnsupported)
    assert "hash and URL" in str(err)


def test_no_certificate_sent(pki: Pki) -> None:
    _, events = run(gateway_cert_auth(pki), cert_gateway(pki, send_certs=[]))
    assert isinstance(closed_error(events), CertificateUntrusted)


def test_signature_by_another_key(pki: Pki) -> None:
    impostor = Issued(pki.gw.cert, pki.client_rsa.key)  # the right certificate, a wrong key
    _, events = run(gateway_cert_auth(pki), cert_gateway(pki, impostor))
    err = closed_error(events)
    assert type(err) is AuthenticationFailed and "does not verify" in str(err)


def test_corrupted_signature(pki: Pki) -> None:
    _, events = run(gateway_cert_auth(pki), cert_gateway(pki, bad_auth=True))
    assert type(closed_error(events)) is AuthenticationFailed


def test_gateway_using_psk_when_a_certificate_is_expected(pki: Pki) -> None:
    _, events = run(gateway_cert_auth(pki), gateway(identity=GW_ID))
    err = closed_error(events)
    assert isinstance(err, AuthenticationFailed) and "expects a certificate" in str(err)


def test_untrusted_without_anchors(pki: Pki) -> None:
    auth = gateway_cert_auth(pki, trust=TrustStore(()))
    _, events = run(auth, cert_gateway(pki))
    assert isinstance(closed_error(events), CertificateUntrusted)


def test_connect_without_wall_time_is_misuse(pki: Pki) -> None:
    conn = connection(settings(auth=gateway_cert_auth(pki)))
    with pytest.raises(LocalProtocolError, match="wall_time"):
        conn.connect(0.0)


# --------------------------------------------------------------------- client certificates

CLIENT_SCHEMES = [
    ("client_rsa", "auto", False, "RSA-PKCS1-SHA256", 14),
    ("client_rsa", "classic", False, "RSA-PKCS1-SHA1 (method 1)", 1),
    ("client_rsa", "auto", True, "RSA-PSS-SHA256", 14),
    ("client_ecdsa256", "auto", False, "ECDSA-SHA256", 14),
    ("client_ecdsa384", "auto", False, "ECDSA-SHA384", 14),
    ("client_ecdsa521", "auto", False, "ECDSA-SHA512", 14),
    ("client_ecdsa256", "classic", False, "ECDSA (method 9)", 9),
    ("client_ecdsa384", "classic", False, "ECDSA (method 10)", 10),
    ("client_ecdsa521", "classic", False, "ECDSA (method 11)", 11),
    ("client_ed25519", "rfc7427", False, "Ed25519", 14),
]


@pytest.mark.parametrize(("which", "mode", "pss", "scheme", "method"), CLIENT_SCHEMES)
def test_client_certificates(
    pki: Pki, which: str, mode: str, pss: bool, scheme: str, method: int
) -> None:
    issued: Issued = getattr(pki, which)
    auth = AuthSettings(
        local="pubkey",
        remote="pubkey",
        credential=issued.credential(),
        trust=pki.trust(),
        signature=mode,
        rsa_pss=pss,
    )
    gw = cert_gateway(pki, client_auth="pubkey")
    net, events = run(auth, gw)
    established(net, events)
    assert gw.client_scheme == scheme
    # HDR, SK {IDi, CERT, CERTREQ, N(INITIAL_CONTACT), IDr, AUTH, ...} -->
    (req,) = [r.payloads for r in gw.requests(ExchangeType.IKE_AUTH)]
    cert = next(p for p in req if isinstance(p, CertPayload))
    assert cert.encoding == 4 and cert.data == issued.der
    assert next(p for p in req if isinstance(p, AuthPayload)).method == method


def test_ed25519_needs_the_gateways_rfc7427(pki: Pki) -> None:
    auth = AuthSettings(
        local="pubkey",
        remote="pubkey",
        credential=pki.client_ed25519.credential(),
        trust=pki.trust(),
    )
    gw = cert_gateway(pki, client_auth="pubkey", announce_hashes=None)
    _, events = run(auth, gw)
    err = closed_error(events)
    assert isinstance(err, AuthenticationFailed) and "RFC 7427" in str(err)


def test_gateway_rejects_our_certificate(pki: Pki) -> None:
    auth = AuthSettings(
        local="pubkey",
        remote="pubkey",
        credential=pki.client_rsa.credential(),
        trust=pki.trust(),
    )
    gw = cert_gateway(pki, client_auth="pubkey", client_ca=pki.other_ca)
    _, events = run(auth, gw)
    err = closed_error(events)
    assert type(err) is AuthenticationFailed
    assert "certificate not trusted" in str(err)


# --------------------------------------------------------------------- EAP


def eap_auth(pki: Pki, method: str = "mschapv2", **kw: object) -> AuthSettings:
    eap_kw: dict[str, object] = {"password": PASSWORD}
    eap_only = bool(kw.pop("eap_only", False))
    eap_kw.update(kw.pop("eap", {}))  # type: ignore[call-overload]
    return AuthSettings(
        local="eap",
        remote="eap" if eap_only and kw.get("remote") is None else str(kw.get("remote", "pubkey")),
        trust=pki.trust(),
        eap=EapSettings(method, b"client@ike.lab", eap_only=eap_only, **eap_kw),  # type: ignore[arg-type]
    )


def test_eap_mschapv2(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap")
    net, events = run(eap_auth(pki), gw)
    established(net, events)
    server = gw.eap_server
    assert server is not None and server.succeeded and server.identity == b"client@ike.lab"
    # Five IKE_AUTH round trips (RFC 7296 §2.16): start, Identity, Response, Success, AUTH.
    requests = gw.requests(ExchangeType.IKE_AUTH)
    assert len(requests) == 5
    first = requests[0].payloads
    assert not any(isinstance(p, AuthPayload) for p in first)
    assert [type(p) for p in requests[1].payloads] == [EapPayload]
    assert [type(p) for p in requests[4].payloads] == [AuthPayload]
    assert gw.auth_verified is True  # the MSK-keyed AUTH of ours verified at the gateway
    peer = net.conn._current.auth.authenticator._eap  # type: ignore[union-attr]
    assert peer is not None and peer.method is not None
    assert peer.method.msk == server.msk and len(server.msk or b"") == 64


def test_eap_wrong_password(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_users={b"client@ike.lab": "other"})
    net, events = run(eap_auth(pki), gw)
    err = closed_error(events)
    assert isinstance(err, EapFailure) and "691" not in str(err)
    assert "wrong user name or password" in str(err)
    assert net.conn.state == IkeSaState.CLOSED


def test_eap_md5_keys_auth_with_sk_p(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_method="md5", eap_identity_request=False)
    net, events = run(eap_auth(pki, "md5"), gw)
    established(net, events)
    assert gw.eap_server is not None and gw.eap_server.msk is None


def test_eap_md5_wrong_password_is_eap_failure(pki: Pki) -> None:
    gw = cert_gateway(
        pki, client_auth="eap", eap_method="md5", eap_users={b"client@ike.lab": "nope"}
    )
    _, events = run(eap_auth(pki, "md5"), gw)
    err = closed_error(events)
    assert isinstance(err, EapFailure) and "rejected the EAP authentication" in str(err)


def test_eap_nak_for_another_method(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_method="md5")
    _, events = run(eap_auth(pki, "mschapv2"), gw)
    assert isinstance(closed_error(events), EapFailure)
    assert gw.eap_server is not None and gw.eap_server.nak == bytes((26,))  # RFC 3748 §5.3.1


def test_eap_only_mschapv2(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_only=True)
    net, events = run(eap_auth(pki, eap_only=True), gw)
    established(net, events)
    assert gw.eap_only_requested
    first_response = next(d for d in net.log if AUTH_RESPONSE(d))
    assert first_response.header.message_id == 1
    assert len([d for d in net.log if AUTH_RESPONSE(d)]) == 5


def test_eap_only_request_is_sent(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_only=True)
    run(eap_auth(pki, eap_only=True), gw)
    first = gw.requests(ExchangeType.IKE_AUTH)[0].payloads
    assert any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.EAP_ONLY_AUTHENTICATION
        for p in first
    )


def test_eap_only_with_md5_is_refused(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_only=True, eap_method="md5")
    _, events = run(eap_auth(pki, "md5", eap_only=True), gw)
    err = closed_error(events)
    assert isinstance(err, EapFailure) and "authenticates the gateway" in str(err)


def test_eap_without_gateway_auth_is_refused(pki: Pki) -> None:
    # We did not ask for EAP-only: a gateway that skips its AUTH before EAP is refused.
    gw = cert_gateway(pki, client_auth="eap", omit_auth_before_eap=True)
    _, events = run(eap_auth(pki), gw)
    err = closed_error(events)
    assert isinstance(err, AuthenticationFailed)
    assert "did not authenticate itself before EAP" in str(err)


def test_eap_only_gateway_final_auth_wrong(pki: Pki) -> None:
    gw = cert_gateway(pki, client_auth="eap", eap_only=True, bad_auth=True)
    _, events = run(eap_auth(pki, eap_only=True), gw)
    err = closed_error(events)
    assert isinstance(err, AuthenticationFailed) and "EAP session key" in str(err)


def test_eap_with_psk_gateway_and_identity_check(pki: Pki) -> None:
    gw = gateway(client_auth="eap", identity=Identity.parse("other.ike.lab"))
    auth = AuthSettings(local="eap", remote="psk", eap=EapSettings("mschapv2", b"u", PASSWORD))
    gw.eap_users = {b"u": PASSWORD}
    _, events = run(auth, gw)
    assert isinstance(closed_error(events), IdentityMismatch)


# --------------------------------------------------------------------- EAP-TLS


def _tls_contexts(pki: Pki, tmp: Path, client: Issued) -> tuple[ssl.SSLContext, TlsClient]:
    from ikeclient.config.credentials import build_tls_client  # noqa: PLC0415

    (tmp / "gw.pem").write_bytes(pem(pki.gw.cert))
    (tmp / "gw.key").write_bytes(key_pem(pki.gw.key))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "gw.pem", tmp / "gw.key")
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cadata=pem(pki.ca.cert).decode())
    server.num_tickets = 0
    return server, build_tls_client(client.credential(), pki.trust())


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_eap_tls(pki: Pki, tmp_path: Path, version: str) -> None:
    server, client = _tls_contexts(pki, tmp_path, pki.client_ecdsa256)
    server.maximum_version = getattr(ssl.TLSVersion, version.replace(".", "_"))
    gw = cert_gateway(pki, client_auth="eap", eap_method="tls", eap_tls_context=server)
    net, events = run(eap_auth(pki, "tls", eap={"tls": client}), gw)
    established(net, events)
    assert gw.eap_server is not None and gw.eap_server.tls_version == version
    assert gw.eap_server.client_tls_cert == pki.client_ecdsa256.der
    assert gw.auth_verified is True  # both sides derived the same MSK


def test_eap_tls_server_certificate_from_another_ca(pki: Pki, tmp_path: Path) -> None:
    server, _ = _tls_contexts(pki, tmp_path, pki.client_rsa)
    (tmp_path / "bad.pem").write_bytes(pem(pki.gw_other_ca.cert))
    (tmp_path / "bad.key").write_bytes(key_pem(pki.gw_other_ca.key))
    server.load_cert_chain(tmp_path / "bad.pem", tmp_path / "bad.key")
    from ikeclient.config.credentials import build_tls_client  # noqa: PLC0415

    client = build_tls_client(pki.client_rsa.credential(), pki.trust())
    gw = cert_gateway(pki, client_auth="eap", eap_method="tls", eap_tls_context=server)
    _, events = run(eap_auth(pki, "tls", eap={"tls": client}), gw)
    err = closed_error(events)
    assert isinstance(err, CertificateUntrusted) and "EAP-TLS" in str(err)


# --------------------------------------------------------------------- RFC 7383 fragmentation


def big_auth(pki: Pki) -> AuthSettings:
    return AuthSettings(
        local="pubkey",
        remote="pubkey",
        credential=pki.client_big.credential(pki.big_ca.cert),
        trust=pki.trust(),
    )


def test_large_ike_auth_goes_out_in_fragments_both_ways(pki: Pki) -> None:
    gw = cert_gateway(
        pki, pki.gw_big, client_auth="pubkey", client_ca=pki.big_ca, fragment_size=900
    )
    net, events = run(big_auth(pki), gw, fragment_size=1280)
    established(net, events)
    requests = [d for d in net.wire if AUTH_REQUEST(d)]
    assert len(requests) >= 3 and gw.fragments_received == len(requests)
    # Fragment 1 of n names the first inner payload; every fragment fits 1280 - 20 - 8 - 4.
    assert all(len(d.data) <= 1280 - 28 for d in requests)
    assert gw.fragments_sent >= 3
    assert net.conn.drops.fragments_held == gw.fragments_sent - 1


def test_no_fragments_when_the_gateway_does_not_support_them(pki: Pki) -> None:
    gw = cert_gateway(
        pki, pki.gw_big, client_auth="pubkey", client_ca=pki.big_ca, fragmentation=False
    )
    net, events = run(big_auth(pki), gw, fragment_size=1280)
    established(net, events)
    assert len([d for d in net.wire if AUTH_REQUEST(d)]) == 1 and gw.fragments_received == 0


def test_lost_fragment_resends_all_fragments(pki: Pki) -> None:
    gw = cert_gateway(pki, pki.gw_big, client_auth="pubkey", client_ca=pki.big_ca)
    s = settings(auth=big_auth(pki), local_id=CLIENT_ID, remote_id=GW_ID, fragment_size=1280)
    conn = connection(s)
    net = Network(conn, gw)
    net.drop_next(AUTH_REQUEST)  # fragment 1 is lost
    conn.connect(0.0, wall_time=time.time())
    net.pump(0.0)
    first = [d.data for d in net.wire if AUTH_REQUEST(d)]
    assert conn.state == IkeSaState.AUTH_SENT
    net.run_timers(until=2.0)
    again = [d.data for d in net.wire if AUTH_REQUEST(d)][len(first) :]
    assert again == first  # RFC 7383 §2.6.1: the same fragments, all of them
    assert conn.state == IkeSaState.ESTABLISHED
