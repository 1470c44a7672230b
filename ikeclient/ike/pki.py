"""X.509 for IKE: trust anchors, path validation, identity matching, CRLs (RFC 4945, RFC 5280).

Sans-I/O like the rest of ``ike``: certificates, CRLs and the wall-clock time
come in as values (the configuration layer reads the files; the runtime gives
the time). Path building and signature checks are ``cryptography``'s
``x509.verification`` (RFC 5280 §6 with the Web PKI profile for CA
certificates); the end-entity rules are IKE's own and checked here:

* validity dates of every certificate in the path (RFC 5280 §6.1.3 (a)(2));
* the gateway's identity in the certificate: an FQDN, an IP address or an
  e-mail address in subjectAltName, or the DN as the subject (RFC 4945 §3.1);
* key usage, if present, allows signatures (RFC 4945 §5.1.3.2); extended key
  usage, if present, names IKE, server authentication or any usage (§5.1.3.12);
* no certificate of the path is on a CRL issued and signed by its issuer
  (RFC 5280 §6.3), when CRLs are configured.

Every refusal is a typed :class:`~ikeclient.errors.CertificateError` whose
message names the certificate and the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from ikeclient.crypto.signature import PrivateKey
from ikeclient.errors import (
    CertificateExpired,
    CertificateNameMismatch,
    CertificateRevoked,
    CertificateUntrusted,
    CertificateUsage,
    CryptoError,
    InvalidSyntax,
)
from ikeclient.ike.dn import dn_attributes, name_attributes, normalized
from ikeclient.ike.identity import Identity, IdentityType

__all__ = [
    "IKE_EKUS",
    "LocalCredential",
    "TrustStore",
    "certificate_names",
    "check_identity",
    "describe",
    "load_der_certificate",
    "matches_identity",
    "validate_certificate",
]

# RFC 4945 §5.1.3.12 / RFC 4809: id-kp-ipsecIKE; ikeIntermediate (Windows, strongSwan's flag).
ID_KP_IPSEC_IKE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")
IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")
IKE_EKUS = frozenset(
    {
        ID_KP_IPSEC_IKE,
        IKE_INTERMEDIATE,
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)
MAX_CHAIN_DEPTH = 8


@dataclass(frozen=True, slots=True)
class TrustStore:
    """The certificates a gateway's path may end in, and the CRLs to check it against.

    ``certreq_anchors`` are the anchors named in CERTREQ (RFC 7296 §3.7); with
    the system store they are only the profile's own CAs, not hundreds of roots.
    """

    anchors: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    certreq_anchors: tuple[x509.Certificate, ...] | None = None

    def __repr__(self) -> str:
        return f"TrustStore({len(self.anchors)} anchors, {len(self.crls)} CRLs)"

    def ca_key_hashes(self) -> bytes:
        """CERTREQ Certification Authority data: SHA-1 of each anchor's SubjectPublicKeyInfo.

        RFC 7296 §3.7: "a concatenated list of SHA-1 hashes of the public keys of
        trusted Certification Authorities", the hash taken over the SPKI (as
        strongSwan and Windows do).
        """
        anchors = self.anchors if self.certreq_anchors is None else self.certreq_anchors
        out = []
        for cert in anchors:
            spki = cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            out.append(hashlib.sha1(spki, usedforsecurity=False).digest())
        return b"".join(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class LocalCredential:
    """Our certificate, its private key and the intermediates to send with it."""

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    intermediates: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"LocalCredential({describe(self.certificate)})"


def load_der_certificate(data: bytes) -> x509.Certificate:
    """A certificate from a CERT payload (X.509 DER, RFC 7296 §3.6); InvalidSyntax if not."""
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InvalidSyntax(f"a CERT payload does not hold an X.509 certificate: {exc}") from None


def certificate_names(cert: x509.Certificate) -> list[str]:
    """The subjectAltName entries a person recognises: ``DNS:``, ``IP:``, ``email:``."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except ValueError:
        return ["(malformed subjectAltName)"]
    names = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
    names += [f"IP:{a}" for a in san.get_values_for_type(x509.IPAddress)]
    names += [f"email:{e}" for e in san.get_values_for_type(x509.RFC822Name)]
    return names


def describe(cert: x509.Certificate) -> str:
    """``"CN=gw.ike.lab" (DNS:gw.ike.lab)``: how errors name a certificate."""
    names = certificate_names(cert)
    try:
        subject = cert.subject.rfc4514_string() or "(empty subject)"
    except ValueError:
        subject = "(malformed subject)"
    return f'"{subject}"' + (f" ({', '.join(names)})" if names else "")


def _utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _verifier(trust: TrustStore, when: dt.datetime) -> verification.ClientVerifier:
    # The client verifier builds a path without judging a server name; IKE's
    # end-entity rules (identity, key usage) are checked below instead of the
    # Web PKI's. CA certificates keep the Web PKI profile (basic constraints,
    # key usage, name constraints, path length).
    return (
        verification.PolicyBuilder()
        .store(verification.Store(list(trust.anchors)))
        .time(when)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )


def _outside_validity(cert: x509.Certificate, when: dt.datetime) -> str | None:
    if when < cert.not_valid_before_utc:
        return (
            f"{describe(cert)} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if when > cert.not_valid_after_utc:
        return f"{describe(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return None


def _build_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust: TrustStore,
    when: dt.datetime,
) -> list[x509.Certificate]:
    if not trust.anchors:
        raise CertificateUntrusted(
            f"{describe(leaf)}: no trust anchors (CA certificates) configured"
        )
    try:
        return _verifier(trust, when).verify(leaf, list(intermediates)).chain
    except verification.VerificationError as exc:
        failure = str(exc)
    if "not valid at validation time" in failure:
        # Which certificate? The chain sent, then the anchors that issued any of it.
        sent = [leaf, *intermediates]
        issuers = {c.issuer for c in sent}
        for cert in sent + [a for a in trust.anchors if a.subject in issuers]:
            reason = _outside_validity(cert, when)
            if reason is not None:
                raise CertificateExpired(reason)
    # Would the path hold within the leaf's validity? Then the dates are the problem.
    middle = leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 2
    try:
        path = _verifier(trust, middle).verify(leaf, list(intermediates)).chain
    except verification.VerificationError:
        path = None
    for cert in path or ():
        reason = _outside_validity(cert, when)
        if reason is not None:
            raise CertificateExpired(reason)
    detail = failure.removeprefix("validation failed: ")
    if "candidates exhausted" in detail and "no interior errors" in detail:
        detail = "no configured CA issued it"
    raise CertificateUntrusted(
        f'{describe(leaf)}, issued by "{leaf.issuer.rfc4514_string()}", does not lead to a '
        f"trusted CA ({detail})"
    )


def _check_usage(leaf: x509.Certificate) -> None:
    try:
        ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        raise CertificateUsage(f"{describe(leaf)}: its key usage does not allow signatures")
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not IKE_EKUS.intersection(eku):
        usages = ", ".join(getattr(o, "_name", o.dotted_string) for o in eku)
        raise CertificateUsage(
            f"{describe(leaf)}: its extended key usage ({usages}) allows neither IKE nor "
            "server authentication"
        )


def _check_revocation(
    path: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> None:
    for cert, issuer in itertools.pairwise(path):
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            try:
                signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            except (TypeError, ValueError):
                signed = False
            if not signed:
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is None:
                continue
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
            except x509.ExtensionNotFound:
                reason = "unspecified"
            raise CertificateRevoked(
                f"{describe(cert)} was revoked on {entry.revocation_date_utc:%Y-%m-%d} "
                f'({reason}), says the CRL of "{crl.issuer.rfc4514_string()}"'
            )


def validate_certificate(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust: TrustStore,
    when: dt.datetime,
) -> list[x509.Certificate]:
    """Validate a gateway certificate at wall-clock time ``when``; return the path to its anchor.

    Raises a :class:`~ikeclient.errors.CertificateError` subclass: expired (or
    not yet valid), untrusted, revoked, or not usable for IKE.
    """
    when = _utc(when)
    try:
        path = _build_path(leaf, intermediates, trust, when)
        _check_revocation(path, trust.crls)
        _check_usage(leaf)
    except ValueError as exc:  # extensions that do not parse (cryptography raises ValueError)
        raise CertificateUntrusted(f"{describe(leaf)} is malformed: {exc}") from None
    return path


def matches_identity(cert: x509.Certificate, identity: Identity) -> bool:
    """True if ``identity`` is one the certificate was issued to (RFC 4945 §3.1)."""
    kind = identity.id_type
    if kind == IdentityType.ID_DER_ASN1_DN:
        try:
            wanted_dn = normalized(dn_attributes(identity.data))
            return bool(wanted_dn) and wanted_dn == normalized(name_attributes(cert.subject))
        except (CryptoError, ValueError):
            return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    if kind == IdentityType.ID_FQDN:
        wanted = identity.data.decode("ascii", errors="replace").lower().rstrip(".")
        return any(n.lower().rstrip(".") == wanted for n in san.get_values_for_type(x509.DNSName))
    if kind == IdentityType.ID_RFC822_ADDR:
        wanted = identity.data.decode("ascii", errors="replace").lower()
        return any(e.lower() == wanted for e in san.get_values_for_type(x509.RFC822Name))
    if kind in (IdentityType.ID_IPV4_ADDR, IdentityType.ID_IPV6_ADDR):
        try:
            wanted_ip = ipaddress.ip_address(identity.data)
        except ValueError:
            return False
        return wanted_ip in san.get_values_for_type(x509.IPAddress)
    return False


def check_identity(cert: x509.Certificate, identity: Identity, what: str) -> None:
    """Raise ``CertificateNameMismatch`` unless the certificate carries ``identity``."""
    if not matches_identity(cert, identity):
        raise CertificateNameMismatch(f"{describe(cert)} is not issued to {identity} ({what})")
