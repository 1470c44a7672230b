"""Authentication in IKE_AUTH: what we prove, how we check the gateway (RFC 7296 §2.15, §2.16).

:class:`Ikev2Authenticator` owns the AUTH, CERT, CERTREQ and EAP payloads of
the IKE_AUTH exchange; :mod:`ike_auth` owns identities, config and the child
SA. One round trip for a pre-shared key or a certificate::

    HDR, SK {IDi, [CERT+,] [CERTREQ,] [IDr,] AUTH, ...}  -->
                                 <--  HDR, SK {IDr, [CERT+,] AUTH, ...}

Several with EAP, where our AUTH comes last and both sides key it with the
EAP method's MSK (or SK_pi/SK_pr for methods without one, §2.16)::

    HDR, SK {IDi, [CERTREQ,] [IDr,] [N(EAP_ONLY_AUTHENTICATION),] ...}  -->
                                 <--  HDR, SK {IDr, [CERT+,] AUTH, EAP}
    HDR, SK {EAP}  -->           <--  HDR, SK {EAP}    (as many as the method needs)
    HDR, SK {EAP}  -->           <--  HDR, SK {EAP (Success)}
    HDR, SK {AUTH}  -->          <--  HDR, SK {AUTH, ...}

The gateway's AUTH is verified before anything else it sent is used, its
certificate path and identity before its signature is believed (RFC 4945).
With EAP-only authentication (RFC 5998) the gateway's first AUTH may be
absent; then only a mutually authenticating method's MSK proves it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from enum import Enum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives.serialization import Encoding

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    AuthenticationFailed,
    CertificateUnsupported,
    CertificateUntrusted,
    CertificateUsage,
    EapFailure,
    IdentityMismatch,
    InvalidSyntax,
    LocalProtocolError,
)
from ikeclient.ike.identity import Identity
from ikeclient.ike.pki import (
    check_identity,
    describe,
    load_der_certificate,
    validate_certificate,
)
from ikeclient.ike.v2.auth import psk_auth, signed_octets, verify_psk_auth
from ikeclient.ike.v2.eap import EapPeer, EapResult
from ikeclient.ike.v2.enums import AuthMethod, CertEncoding, NotifyType
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.message import find_all, find_payload
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    EapPayload,
    IdrPayload,
    NotifyPayload,
    Payload,
)
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.signature_auth import (
    OUR_SIGNATURE_HASHES,
    build_signature_auth,
    choose_signature,
    verify_signature_auth,
)

__all__ = ["Ikev2Authenticator"]

_HASH_AND_URL = (CertEncoding.HASH_URL_X509_CERT, CertEncoding.HASH_URL_X509_BUNDLE)


class _Stage(Enum):
    FIRST = "first response"
    EAP = "EAP"
    FINAL = "final AUTH"
    DONE = "done"


class Ikev2Authenticator:
    """Builds our authentication payloads and checks the gateway's, over one or more rounds."""

    def __init__(
        self,
        settings: Ikev2Settings,
        ike_sa: IkeSa,
        rng: RandomSource,
        *,
        peer_signature_hashes: tuple[int, ...] = (),
    ) -> None:
        self._s = settings
        self._auth = settings.auth
        self._sa = ike_sa
        self._rng = rng
        self._peer_hashes = peer_signature_hashes
        self._stage = _Stage.FIRST
        self._wall_time: dt.datetime | None = None
        self._idr: IdrPayload | None = None
        self._remote_identity: Identity | None = None
        self._eap: EapPeer | None = None
        self._eap_result: EapResult | None = None
        self.remote_certificate: str | None = None
        self.scheme: str | None = None

    def __repr__(self) -> str:
        return f"Ikev2Authenticator({self._auth.local}/{self._auth.remote}, {self._stage.value})"

    # -- our side -------------------------------------------------------------------------

    def _our_octets(self) -> bytes:
        """InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI (RFC 7296 §2.15)."""
        local = self._s.local_id
        sa = self._sa
        return signed_octets(
            sa.prf, sa.init_request, sa.nonce_r, sa.keys.sk_pi, local.id_type, local.data
        )

    def _gateway_octets(self, idr: IdrPayload) -> bytes:
        """ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR (RFC 7296 §2.15)."""
        sa = self._sa
        return signed_octets(
            sa.prf, sa.init_response, sa.nonce_i, sa.keys.sk_pr, idr.id_type, idr.data
        )

    def certificate_payloads(self) -> list[Payload]:
        """CERT (ours and our intermediates) and CERTREQ, for after IDi (RFC 7296 §1.2)."""
        out: list[Payload] = []
        credential = self._auth.credential
        if self._auth.local == "pubkey" and credential is not None:
            for cert in (credential.certificate, *credential.intermediates):
                out.append(
                    CertPayload(CertEncoding.X509_CERT_SIGNATURE, cert.public_bytes(Encoding.DER))
                )
        if self._auth.remote == "pubkey" and self._auth.trust is not None:
            out.append(
                CertReqPayload(CertEncoding.X509_CERT_SIGNATURE, self._auth.trust.ca_key_hashes())
            )
        return out

    def auth_payloads(self) -> list[Payload]:
        """Our AUTH in the first request, or what announces EAP (no AUTH: RFC 7296 §2.16)."""
        auth = self._auth
        if auth.local == "psk":
            return [
                AuthPayload(
                    AuthMethod.SHARED_KEY_MIC,
                    psk_auth(self._sa.prf, self._s.psk, self._our_octets()),
                )
            ]
        if auth.local == "pubkey":
            credential = auth.credential
            assert credential is not None
            method, scheme = choose_signature(
                credential.private_key, self._peer_hashes, auth.signature, auth.rsa_pss
            )
            self.scheme = f"method {method}, {scheme}"
            data = build_signature_auth(credential.private_key, method, scheme, self._our_octets())
            return [AuthPayload(method, data)]
        if auth.eap is not None and auth.eap.eap_only:
            return [NotifyPayload(0, b"", NotifyType.EAP_ONLY_AUTHENTICATION, b"")]
        return []

    # -- the gateway's side ----------------------------------------------------------------

    def process(
        self, payloads: tuple[Payload, ...], wall_time: float | None
    ) -> Identity | list[Payload]:
        """Handle one IKE_AUTH response: the gateway's identity once authenticated, or
        the payloads of our next IKE_AUTH request (EAP rounds, then our AUTH)."""
        if wall_time is not None:
            self._wall_time = dt.datetime.fromtimestamp(wall_time, dt.UTC)
        if self._stage == _Stage.FIRST:
            return self._first(payloads)
        if self._stage == _Stage.EAP:
            return self._eap_round(payloads)
        if self._stage == _Stage.FINAL:
            return self._final(payloads)
        raise LocalProtocolError("IKE_AUTH is already complete")

    def _first(self, payloads: tuple[Payload, ...]) -> Identity | list[Payload]:
        idr = find_payload(payloads, IdrPayload)
        auth = find_payload(payloads, AuthPayload)
        if auth is None and self._auth.local != "eap":
            raise InvalidSyntax("IKE_AUTH response has no AUTH payload")
        if idr is None:
            raise InvalidSyntax("IKE_AUTH response has no IDr payload")
        self._idr = idr
        identity = Identity(idr.id_type, idr.data)
        if self._auth.local != "eap":
            assert auth is not None
            self._verify_gateway(payloads, auth, idr, identity)
            self._stage = _Stage.DONE
            return identity
        # EAP (RFC 7296 §2.16): the gateway authenticates first, then the EAP rounds.
        eap_only = self._auth.remote == "eap"
        if eap_only:
            # RFC 5998: only the MSK of a mutually authenticating method proves the
            # gateway; an AUTH it sends anyway proves nothing we could check.
            self._check_plain_identity(identity)
        elif auth is not None:
            self._verify_gateway(payloads, auth, idr, identity)
        else:
            raise AuthenticationFailed(
                "the gateway did not authenticate itself before EAP (no AUTH payload)"
            )
        self._remote_identity = identity
        self._eap = EapPeer(
            self._auth.eap,  # type: ignore[arg-type]  # __post_init__ guarantees it
            self._rng,
            check_tls_server=self._check_tls_server,
            require_mutual=eap_only,
        )
        self._stage = _Stage.EAP
        return self._eap_round(payloads)

    def _eap_round(self, payloads: tuple[Payload, ...]) -> list[Payload]:
        eap = find_payload(payloads, EapPayload)
        if eap is None:
            failed = any(
                n.notify_type == NotifyType.AUTHENTICATION_FAILED
                for n in find_all(payloads, NotifyPayload)
            )
            if failed:
                raise EapFailure(
                    "the gateway ended the EAP authentication with AUTHENTICATION_FAILED"
                )
            raise InvalidSyntax("IKE_AUTH response without the EAP payload expected")
        assert self._eap is not None
        step = self._eap.receive(eap.data)
        if isinstance(step, bytes):
            return [EapPayload(step)]
        self._eap_result = step
        self._stage = _Stage.FINAL
        # RFC 7296 §2.16: AUTH keyed with the MSK, or SK_pi for a method without one.
        key = step.msk if step.msk is not None else self._sa.keys.sk_pi
        return [
            AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(self._sa.prf, key, self._our_octets()))
        ]

    def _final(self, payloads: tuple[Payload, ...]) -> Identity:
        auth = find_payload(payloads, AuthPayload)
        if auth is None:
            raise InvalidSyntax("the last IKE_AUTH response has no AUTH payload")
        if auth.method != AuthMethod.SHARED_KEY_MIC:
            raise AuthenticationFailed(f"the gateway's final AUTH uses method {auth.method}, not 2")
        assert self._eap_result is not None and self._idr is not None
        msk = self._eap_result.msk
        key = msk if msk is not None else self._sa.keys.sk_pr
        expected = psk_auth(self._sa.prf, key, self._gateway_octets(self._idr))
        if not hmac.compare_digest(expected, auth.data):
            raise AuthenticationFailed(
                "the gateway's AUTH after EAP does not verify (it does not hold the EAP "
                "session key)"
            )
        self._stage = _Stage.DONE
        assert self._remote_identity is not None
        return self._remote_identity

    # -- checks -------------------------------------------------------------------------

    def _check_plain_identity(self, identity: Identity) -> None:
        expected = self._s.remote_id
        if expected is not None and identity != expected:
            raise IdentityMismatch(
                f"the gateway identified as {identity}, but the profile expects {expected}"
            )

    def _verify_gateway(
        self, payloads: tuple[Payload, ...], auth: AuthPayload, idr: IdrPayload, identity: Identity
    ) -> None:
        if self._auth.remote == "psk":
            if auth.method != AuthMethod.SHARED_KEY_MIC:
                raise AuthenticationFailed(
                    f"the gateway authenticated with method {auth.method}; "
                    "this profile expects a pre-shared key (method 2)"
                )
            verify_psk_auth(self._sa.prf, self._s.psk, self._gateway_octets(idr), auth.data)
            self._check_plain_identity(identity)
            return
        if auth.method == AuthMethod.SHARED_KEY_MIC:
            raise AuthenticationFailed(
                "the gateway authenticated with a pre-shared key; this profile expects a "
                "certificate"
            )
        leaf, intermediates = self._certificates(payloads)
        trust = self._auth.trust
        if trust is None or self._wall_time is None:
            raise LocalProtocolError("checking certificates needs trust anchors and the time")
        validate_certificate(leaf, intermediates, trust, self._wall_time)
        # RFC 4945 §3.1: the identity the gateway claims must be in its certificate...
        check_identity(leaf, identity, "the identity the gateway claims")
        # ...and it must be the gateway the profile names (by IDr, or in the certificate).
        expected = self._s.remote_id
        if expected is not None and identity != expected:
            check_identity(leaf, expected, "the profile's remote_id")
        self.remote_certificate = describe(leaf)
        try:
            public_key = leaf.public_key()
        except (ValueError, CryptographyUnsupported) as exc:
            raise CertificateUsage(
                f"{describe(leaf)}: its public key is unusable ({exc})"
            ) from None
        scheme = verify_signature_auth(
            public_key,  # type: ignore[arg-type]  # checked by verify_signature_auth
            auth.method,
            auth.data,
            self._gateway_octets(idr),
            OUR_SIGNATURE_HASHES,
        )
        self.scheme = self.scheme or str(scheme)

    def _certificates(
        self, payloads: tuple[Payload, ...]
    ) -> tuple[x509.Certificate, list[x509.Certificate]]:
        certs = find_all(payloads, CertPayload)
        inline = [c for c in certs if c.encoding == CertEncoding.X509_CERT_SIGNATURE]
        if not inline:
            if any(c.encoding in _HASH_AND_URL for c in certs):
                raise CertificateUnsupported(
                    "the gateway sent its certificate as hash and URL (RFC 7296 §3.6), which "
                    "this client does not fetch; configure the gateway to send it inline"
                )
            if certs:
                kinds = ", ".join(str(c.encoding) for c in certs)
                raise CertificateUnsupported(f"no X.509 certificate among CERT encodings {kinds}")
            raise CertificateUntrusted("the gateway sent no certificate (CERT payload)")
        leaf = load_der_certificate(inline[0].data)
        return leaf, [load_der_certificate(c.data) for c in inline[1:]]

    def _check_tls_server(self, der: bytes) -> None:
        """EAP-TLS: the TLS server certificate (verified by ``ssl``) must name the gateway."""
        cert = load_der_certificate(der)
        expected = self._s.remote_id or self._remote_identity
        if expected is not None:
            check_identity(cert, expected, "the EAP-TLS server; the profile's remote_id")
