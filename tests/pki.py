"""A throwaway PKI for the tests, made with ``cryptography`` (nothing here is a real key).

``make_pki()`` builds, once per process:

* ``ca``: the lab CA (RSA 2048), and ``other_ca``: a CA nobody trusts;
* gateway certificates for gw.ike.lab (RSA 2048, subjectAltName DNS:gw.ike.lab,
  EKU serverAuth + ikeIntermediate): ``gw`` (good), ``gw_expired``,
  ``gw_other_name`` (other.ike.lab), ``gw_other_ca`` (issued by ``other_ca``),
  ``gw_revoked`` (listed in ``crl``), ``gw_ecdsa`` (P-256), ``gw_client_eku``
  (EKU clientAuth only), ``gw_big`` (RSA 4096 under ``big_ca``, RSA 4096);
* client certificates for client@ike.lab (subjectAltName email): ``client_rsa``,
  ``client_ecdsa256``, ``client_ecdsa384``, ``client_ecdsa521``,
  ``client_ed25519``, ``client_big`` (RSA 4096 under ``big_ca``);
* ``crl``: the lab CA's CRL revoking ``gw_revoked``.

``write_pki(directory)`` writes everything as PEM files (keys as PKCS#8, one
PKCS#12 bundle with a passphrase), for strongSwan and for profiles.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ikeclient.crypto.signature import PrivateKey
from ikeclient.ike.pki import LocalCredential, TrustStore

GATEWAY_NAME = "gw.ike.lab"
CLIENT_NAME = "client@ike.lab"
P12_PASSPHRASE = "lab-p12-passphrase"
IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def credential(self, *intermediates: x509.Certificate) -> LocalCredential:
        return LocalCredential(self.cert, self.key, tuple(intermediates))


@dataclass(frozen=True)
class Pki:
    ca: Issued
    other_ca: Issued
    big_ca: Issued
    gw: Issued
    gw_expired: Issued
    gw_other_name: Issued
    gw_other_ca: Issued
    gw_revoked: Issued
    gw_ecdsa: Issued
    gw_client_eku: Issued
    gw_big: Issued
    client_rsa: Issued
    client_ecdsa256: Issued
    client_ecdsa384: Issued
    client_ecdsa521: Issued
    client_ed25519: Issued
    client_big: Issued
    crl: x509.CertificateRevocationList

    def trust(self, *, crl: bool = True) -> TrustStore:
        """The lab CA (and the 4096-bit CA) as trust anchors, with the CRL."""
        return TrustStore((self.ca.cert, self.big_ca.cert), (self.crl,) if crl else ())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ikeclient lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _sign_hash(key: PrivateKey) -> hashes.HashAlgorithm | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _ca(cn: str, key: PrivateKey, serial: int) -> Issued:
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _sign_hash(key))
    )
    return Issued(cert, key)


def _leaf(
    issuer: Issued,
    cn: str,
    key: PrivateKey,
    serial: int,
    san: list[x509.GeneralName],
    *,
    eku: list[ObjectIdentifier] | None = None,
    days: tuple[int, int] = (1, 365),
) -> Issued:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=False,
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return Issued(builder.sign(issuer.key, _sign_hash(issuer.key)), key)


def _rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@functools.cache
def make_pki() -> Pki:
    """The whole PKI (about a second; RSA 4096 keys take most of it)."""
    ca = _ca("ikeclient lab CA", _rsa(), 1)
    other_ca = _ca("ikeclient other CA", ec.generate_private_key(ec.SECP256R1()), 1)
    big_ca = _ca("ikeclient lab CA 4096", _rsa(4096), 1)
    gw_dns = [x509.DNSName(GATEWAY_NAME)]
    gw_eku = [ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE]
    client_san: list[x509.GeneralName] = [x509.RFC822Name(CLIENT_NAME)]
    client_eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
    gw_key = _rsa()
    gw_revoked = _leaf(ca, GATEWAY_NAME, gw_key, 104, gw_dns, eku=gw_eku)
    now = _now()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=30))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(104)
            .revocation_date(now - dt.timedelta(hours=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return Pki(
        ca=ca,
        other_ca=other_ca,
        big_ca=big_ca,
        gw=_leaf(ca, GATEWAY_NAME, gw_key, 100, gw_dns, eku=gw_eku),
        gw_expired=_leaf(ca, GATEWAY_NAME, gw_key, 101, gw_dns, eku=gw_eku, days=(30, -1)),
        gw_other_name=_leaf(
            ca, "other.ike.lab", gw_key, 102, [x509.DNSName("other.ike.lab")], eku=gw_eku
        ),
        gw_other_ca=_leaf(other_ca, GATEWAY_NAME, gw_key, 103, gw_dns, eku=gw_eku),
        gw_revoked=gw_revoked,
        gw_ecdsa=_leaf(ca, GATEWAY_NAME, ec.generate_private_key(ec.SECP256R1()), 105, gw_dns),
        gw_client_eku=_leaf(
            ca, GATEWAY_NAME, gw_key, 106, gw_dns, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
        ),
        gw_big=_leaf(big_ca, GATEWAY_NAME, _rsa(4096), 107, gw_dns, eku=gw_eku),
        client_rsa=_leaf(ca, CLIENT_NAME, _rsa(), 200, client_san, eku=client_eku),
        client_ecdsa256=_leaf(
            ca, CLIENT_NAME, ec.generate_private_key(ec.SECP256R1()), 201, client_san
        ),
        client_ecdsa384=_leaf(
            ca, CLIENT_NAME, ec.generate_private_key(ec.SECP384R1()), 202, client_san
        ),
        client_ecdsa521=_leaf(
            ca, CLIENT_NAME, ec.generate_private_key(ec.SECP521R1()), 203, client_san
        ),
        client_ed25519=_leaf(
            ca, CLIENT_NAME, ed25519.Ed25519PrivateKey.generate(), 204, client_san
        ),
        client_big=_leaf(big_ca, CLIENT_NAME, _rsa(4096), 205, client_san, eku=client_eku),
        crl=crl,
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey, passphrase: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def write_pki(directory: Path) -> dict[str, Path]:
    """Write every certificate (``NAME.pem``), key (``NAME.key``), the CRL (``ca.crl``,
    PEM) and ``client_rsa.p12`` (passphrase :data:`P12_PASSPHRASE`); returns name → path."""
    pki = make_pki()
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in Pki.__dataclass_fields__:
        value = getattr(pki, name)
        if not isinstance(value, Issued):
            continue
        cert_path = directory / f"{name}.pem"
        cert_path.write_bytes(pem(value.cert))
        key_path = directory / f"{name}.key"
        key_path.write_bytes(key_pem(value.key))
        key_path.chmod(0o600)
        out[name] = cert_path
        out[f"{name}.key"] = key_path
    crl_path = directory / "ca.crl"
    crl_path.write_bytes(pki.crl.public_bytes(serialization.Encoding.PEM))
    out["crl"] = crl_path
    p12 = directory / "client_rsa.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"client",
            pki.client_rsa.key,  # type: ignore[arg-type]
            pki.client_rsa.cert,
            [pki.ca.cert],
            serialization.BestAvailableEncryption(P12_PASSPHRASE.encode()),
        )
    )
    p12.chmod(0o600)
    out["client_rsa.p12"] = p12
    return out
