"""Gateway certificate validation (ikeclient.ike.pki): paths, dates, names, usage, CRLs."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ikeclient.errors import (
    CertificateExpired,
    CertificateNameMismatch,
    CertificateRevoked,
    CertificateUntrusted,
    CertificateUsage,
    ConfigError,
    InvalidSyntax,
)
from ikeclient.ike.identity import Identity, IdentityType
from ikeclient.ike.pki import (
    ID_KP_IPSEC_IKE,
    TrustStore,
    check_identity,
    describe,
    load_der_certificate,
    matches_identity,
    validate_certificate,
)
from tests.pki import Issued, Pki, make_pki

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def leaf(
    pki: Pki,
    san: list[x509.GeneralName] | None = None,
    *,
    subject: str = "gw",
    ku: x509.KeyUsage | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    issuer: Issued | None = None,
) -> x509.Certificate:
    issuer = issuer or pki.ca
    key = ec.generate_private_key(ec.SECP256R1())
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
    )
    if san is not None:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if ku is not None:
        b = b.add_extension(ku, critical=True)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(issuer.key, hashes.SHA256())  # type: ignore[arg-type]


def test_good_path(pki: Pki) -> None:
    path = validate_certificate(pki.gw.cert, [], pki.trust(), NOW)
    assert path == [pki.gw.cert, pki.ca.cert]


def test_naive_time_is_utc(pki: Pki) -> None:
    validate_certificate(pki.gw.cert, [], pki.trust(), NOW.replace(tzinfo=None))


def test_path_through_an_intermediate(pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate")])
    inter_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.key.public_key()),  # type: ignore[arg-type]
            False,
        )
        .sign(pki.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    inter = Issued(inter_cert, key)
    cert = leaf(pki, [x509.DNSName("gw.ike.lab")], issuer=inter)
    assert validate_certificate(cert, [inter_cert], pki.trust(), NOW) == [
        cert,
        inter_cert,
        pki.ca.cert,
    ]
    with pytest.raises(CertificateUntrusted):
        validate_certificate(cert, [], pki.trust(), NOW)  # the intermediate is missing


def test_dates(pki: Pki) -> None:
    with pytest.raises(CertificateExpired, match="expired on"):
        validate_certificate(pki.gw_expired.cert, [], pki.trust(), NOW)
    with pytest.raises(CertificateExpired, match="not valid before"):
        validate_certificate(pki.gw.cert, [], pki.trust(), NOW - dt.timedelta(days=5))
    # A leaf that outlives its CA: at that time the CA is what expired.
    key = ec.generate_private_key(ec.SECP256R1())
    long_lived = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=5000))
        .sign(pki.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    with pytest.raises(CertificateExpired, match="ikeclient lab CA"):
        validate_certificate(long_lived, [], pki.trust(), NOW + dt.timedelta(days=4000))


def test_untrusted(pki: Pki) -> None:
    with pytest.raises(CertificateUntrusted, match="no configured CA issued it"):
        validate_certificate(pki.gw_other_ca.cert, [], pki.trust(), NOW)
    with pytest.raises(CertificateUntrusted, match="no trust anchors"):
        validate_certificate(pki.gw.cert, [], TrustStore(()), NOW)
    # A leaf presented as its own anchor's sibling: self-signed leaf, not trusted.
    with pytest.raises(CertificateUntrusted):
        validate_certificate(pki.other_ca.cert, [], pki.trust(), NOW)


def test_revocation_needs_a_crl_signed_by_the_issuer(pki: Pki) -> None:
    with pytest.raises(CertificateRevoked, match="keyCompromise"):
        validate_certificate(pki.gw_revoked.cert, [], pki.trust(), NOW)
    validate_certificate(pki.gw_revoked.cert, [], pki.trust(crl=False), NOW)
    # The same CRL content signed by someone else is ignored.
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.ca.cert.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(100).revocation_date(NOW).build()
        )
        .sign(pki.other_ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    validate_certificate(pki.gw.cert, [], TrustStore((pki.ca.cert,), (forged,)), NOW)


@pytest.mark.parametrize(
    ("ku", "eku", "ok"),
    [
        (None, None, True),
        (x509.KeyUsage(True, False, False, False, False, False, False, False, False), None, True),
        (x509.KeyUsage(False, True, False, False, False, False, False, False, False), None, True),
        (x509.KeyUsage(False, False, True, False, False, False, False, False, False), None, False),
        (None, [ID_KP_IPSEC_IKE], True),
        (None, [ExtendedKeyUsageOID.SERVER_AUTH], True),
        (None, [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], True),
        (None, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.CODE_SIGNING], False),
        (None, [ExtendedKeyUsageOID.EMAIL_PROTECTION], False),
    ],
)
def test_key_usage_rules(pki: Pki, ku: x509.KeyUsage | None, eku: list | None, ok: bool) -> None:
    cert = leaf(pki, [x509.DNSName("gw.ike.lab")], ku=ku, eku=eku)
    if ok:
        validate_certificate(cert, [], pki.trust(), NOW)
    else:
        with pytest.raises(CertificateUsage):
            validate_certificate(cert, [], pki.trust(), NOW)


def test_identity_matching(pki: Pki) -> None:
    cert = leaf(
        pki,
        [
            x509.DNSName("GW.ike.lab"),
            x509.IPAddress(ipaddress.ip_address("198.18.2.2")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("vpn@ike.lab"),
        ],
        subject="gateway",
    )
    assert matches_identity(cert, Identity.parse("gw.ike.lab"))  # case does not matter
    assert matches_identity(cert, Identity.parse("fqdn:gw.ike.lab."))
    assert matches_identity(cert, Identity.parse("198.18.2.2"))
    assert matches_identity(cert, Identity.parse("2001:db8::1"))
    assert matches_identity(cert, Identity.parse("VPN@ike.lab"))
    dn = Identity(IdentityType.ID_DER_ASN1_DN, cert.subject.public_bytes())
    assert matches_identity(cert, dn)
    for other in ("gw2.ike.lab", "198.18.2.3", "other@ike.lab", "keyid:0102"):
        assert not matches_identity(cert, Identity.parse(other))
    # No wildcard expansion, and a common name alone is not an FQDN (RFC 4945 §3.1).
    assert not matches_identity(
        leaf(pki, [x509.DNSName("*.ike.lab")]), Identity.parse("gw.ike.lab")
    )
    assert not matches_identity(leaf(pki, None, subject="gw.ike.lab"), Identity.parse("gw.ike.lab"))
    with pytest.raises(CertificateNameMismatch, match=r"is not issued to gw2\.ike\.lab"):
        check_identity(cert, Identity.parse("gw2.ike.lab"), "the profile's remote_id")


def test_describe(pki: Pki) -> None:
    assert describe(pki.gw.cert) == '"CN=gw.ike.lab,O=ikeclient lab" (DNS:gw.ike.lab)'
    assert describe(pki.client_rsa.cert).endswith("(email:client@ike.lab)")


def test_certreq_hashes(pki: Pki) -> None:
    spki = pki.ca.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    trust = TrustStore((pki.ca.cert, pki.ca.cert))
    assert trust.ca_key_hashes() == hashlib.sha1(spki).digest()  # duplicates once
    system = TrustStore((pki.ca.cert, pki.other_ca.cert), certreq_anchors=())
    assert system.ca_key_hashes() == b""
    assert "2 anchors" in repr(system)


def test_malformed_der_certificate() -> None:
    with pytest.raises(InvalidSyntax):
        load_der_certificate(b"\x30\x03\x02\x01\x01")


def test_distinguished_names(pki: Pki) -> None:
    """RFC 4945 §3.1.5: ID_DER_ASN1_DN matches the subject, attributes in any order."""
    for text in ("dn:CN=gw.ike.lab,O=ikeclient lab", "dn:O=ikeclient lab, CN=GW.ike.lab"):
        ident = Identity.parse(text)
        assert ident.id_type == IdentityType.ID_DER_ASN1_DN
        assert matches_identity(pki.gw.cert, ident)
    assert str(Identity.parse("dn:O=Org, CN=vpn")) == "CN=vpn, O=Org"
    assert not matches_identity(pki.gw.cert, Identity.parse("dn:CN=gw.ike.lab"))
    assert not matches_identity(pki.gw.cert, Identity(IdentityType.ID_DER_ASN1_DN, b"\x30\x03junk"))
    # The subject's own DER (what a gateway sends as IDr) matches too.
    assert matches_identity(
        pki.gw.cert, Identity(IdentityType.ID_DER_ASN1_DN, pki.gw.cert.subject.public_bytes())
    )
    for bad in ("dn:", "dn:nonsense", "dn:XX=1"):
        with pytest.raises(ConfigError):
            Identity.parse(bad)
