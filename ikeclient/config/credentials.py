"""Reading the files a profile's authentication names: certificates, keys, CAs, CRLs.

This is where the I/O happens so the IKE core never does it: PEM/DER
certificates, private keys (PKCS#8, PKCS#1, SEC1; encrypted with a passphrase
from the keyring or not), PKCS#12 bundles, trust anchors (the profile's and,
if asked, the system's) and CRLs become the typed values of
:class:`~ikeclient.ike.v2.auth_settings.AuthSettings`. For EAP-TLS an
``ssl.SSLContext`` is built from them, its key log tapped into an anonymous
in-memory file (``memfd``) so EAP-TLS can derive its MSK; nothing secret
touches the disk. Every failure is a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import os
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ikeclient.config.auth import AuthProfile, read_named_file
from ikeclient.crypto.signature import PrivateKey
from ikeclient.errors import ConfigError
from ikeclient.ike.identity import Identity
from ikeclient.ike.pki import LocalCredential, TrustStore
from ikeclient.ike.v2.auth_settings import AuthSettings
from ikeclient.ike.v2.eap import EapSettings, TlsClient

__all__ = [
    "SYSTEM_CA_FILES",
    "MemfdKeyLog",
    "ProfileSecrets",
    "build_tls_client",
    "key_is_encrypted",
    "load_auth_settings",
    "load_certificates",
    "load_credential",
    "load_crls",
    "load_trust",
]

_OP_LEGACY_SERVER_CONNECT = 0x4  # SSL_OP_LEGACY_SERVER_CONNECT (OpenSSL 3); Python 3.12 names it

#: Where Debian, Fedora/RHEL, Alpine and openSUSE keep the system CA bundle.
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
)


@dataclass(frozen=True, slots=True)
class ProfileSecrets:
    """The secrets a connection needs, read before privileges are taken (never logged)."""

    psk: bytes = field(default=b"", repr=False)
    eap: bytes | None = field(default=None, repr=False)
    key: bytes | None = field(default=None, repr=False)
    xauth: bytes | None = field(default=None, repr=False)


def load_certificates(
    path: Path, what: str = "certificate file", owner: int | None = None
) -> list[x509.Certificate]:
    """Every certificate in a PEM file (in order), or the one in a DER file; ``owner``: the
    uid of the profile that names it (:func:`ikeclient.config.auth.read_named_file`)."""
    data = read_named_file(owner, path, what=what, kind="public")
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(f"{path}: not an X.509 certificate ({exc})") from None
    return certs


def load_crls(path: Path, owner: int | None = None) -> list[x509.CertificateRevocationList]:
    """The CRLs in a PEM file, or the one in a DER file."""
    data = read_named_file(owner, path, what="CRL", kind="public")
    try:
        if b"-----BEGIN" not in data:
            return [x509.load_der_x509_crl(data)]
        blocks = data.split(b"-----END X509 CRL-----")
        return [
            x509.load_pem_x509_crl(block + b"-----END X509 CRL-----\n")
            for block in blocks
            if b"-----BEGIN X509 CRL-----" in block
        ]
    except ValueError as exc:
        raise ConfigError(f"{path}: not a CRL ({exc})") from None


def load_system_bundle(path: Path) -> list[x509.Certificate]:
    """The certificates of a system CA bundle; the odd ones ``cryptography`` rejects are
    skipped (a bundle is not ours to fix), without its deprecation warnings."""
    data = read_named_file(0, path, what="system CA bundle", kind="public")
    end = b"-----END CERTIFICATE-----"
    out = []
    for block in data.split(end):
        if b"-----BEGIN CERTIFICATE-----" not in block:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append(x509.load_pem_x509_certificate(block + end + b"\n"))
            except ValueError:
                continue
    return out


def system_ca_file() -> Path | None:
    """The system CA bundle, if this host has one."""
    default = ssl.get_default_verify_paths().cafile
    for candidate in (default, *SYSTEM_CA_FILES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_trust(prof: AuthProfile) -> TrustStore:
    """The trust anchors and CRLs a profile names."""
    own: list[x509.Certificate] = []
    for path in prof.ca_certificates:
        own += load_certificates(path, "CA certificate file", prof.files_owner)
    anchors = list(own)
    if prof.use_system_ca:
        bundle = system_ca_file()
        if bundle is None:
            raise ConfigError("use_system_ca: this host has no system CA bundle")
        anchors += load_system_bundle(bundle)
    crls = [crl for path in prof.crls for crl in load_crls(path, prof.files_owner)]
    return TrustStore(tuple(anchors), tuple(crls), tuple(own) if prof.use_system_ca else None)


def key_is_encrypted(prof: AuthProfile) -> bool:
    """True if our private key (or PKCS#12 file) needs a passphrase."""
    if prof.pkcs12 is not None:
        data = read_named_file(prof.files_owner, prof.pkcs12, what="PKCS#12 file", kind="key")
        try:
            pkcs12.load_key_and_certificates(data, None)
        except (ValueError, TypeError):
            return True
        return False
    if prof.private_key is None:
        return False
    data = read_named_file(prof.files_owner, prof.private_key, what="private key", kind="key")
    return b"ENCRYPTED" in data or (b"-----BEGIN" not in data and _der_needs_password(data))


def _der_needs_password(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, None)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


def _load_key(path: Path, passphrase: bytes | None, owner: int | None) -> PrivateKey:
    data = read_named_file(owner, path, what="private key", kind="key")
    loader = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in data
        else serialization.load_der_private_key
    )
    try:
        key = loader(data, passphrase)
    except TypeError:
        raise ConfigError(
            f"{path}: the private key is encrypted: store its passphrase "
            "(ikeclient secret set PROFILE --kind key) or set key_passphrase_file"
        ) from None
    except ValueError:
        raise ConfigError(
            f"{path}: cannot read the private key (wrong passphrase, or not a key)"
        ) from None
    return _signature_key(key, path)


def _signature_key(key: object, path: Path) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa  # noqa: PLC0415

    if isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        return key
    raise ConfigError(f"{path}: {type(key).__name__} keys cannot sign IKE messages")


def load_credential(prof: AuthProfile, passphrase: bytes | None) -> LocalCredential:
    """Our certificate, key and intermediates; the key must belong to the certificate."""
    if prof.pkcs12 is not None:
        data = read_named_file(prof.files_owner, prof.pkcs12, what="PKCS#12 file", kind="key")
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{prof.pkcs12}: cannot open the PKCS#12 file (wrong or missing passphrase? "
                "ikeclient secret set PROFILE --kind key)"
            ) from None
        if key is None or cert is None:
            raise ConfigError(f"{prof.pkcs12}: the PKCS#12 file lacks a key or a certificate")
        signing = _signature_key(key, prof.pkcs12)
        source = prof.pkcs12
        # The chain may include the root; sending it is harmless but useless: keep CAs out.
        intermediates = tuple(c for c in extra if c.subject != c.issuer)
    else:
        if prof.certificate is None or prof.private_key is None:
            raise ConfigError("certificate and private_key are needed")
        certs = load_certificates(prof.certificate, owner=prof.files_owner)
        cert, intermediates = certs[0], tuple(certs[1:])
        signing = _load_key(prof.private_key, passphrase, prof.files_owner)
        source = prof.private_key
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if signing.public_key().public_bytes(der, public) != cert.public_key().public_bytes(
        der, public
    ):
        raise ConfigError(f"{source}: the private key does not belong to the certificate")
    return LocalCredential(cert, signing, intermediates)


class MemfdKeyLog:
    """An anonymous in-memory file (``memfd_create``) that OpenSSL's key log writes to.

    Python's ``ssl`` can only log TLS secrets to a file name; ``/proc/self/fd/N``
    of a memfd is one that never reaches a disk and dies with the process.
    """

    def __init__(self) -> None:
        self._fd = os.memfd_create("ikeclient-eap-tls", os.MFD_CLOEXEC)
        self.path = f"/proc/self/fd/{self._fd}"

    def __repr__(self) -> str:
        return "MemfdKeyLog()"

    def read(self) -> str:
        size = os.fstat(self._fd).st_size
        return os.pread(self._fd, size, 0).decode("ascii", errors="replace")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def build_tls_client(credential: LocalCredential, trust: TrustStore) -> TlsClient:
    """An ``ssl`` client context for EAP-TLS: our certificate, the trust anchors, a key log."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # the gateway's identity is checked against remote_id
    context.verify_mode = ssl.CERT_REQUIRED
    context.options |= ssl.OP_NO_TICKET
    # strongSwan's TLS stack (libtls) does not send the RFC 5746 renegotiation_info
    # extension, which OpenSSL 3 insists on unless told otherwise. EAP-TLS never
    # renegotiates: allow such servers, and refuse any renegotiation at all.
    context.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", _OP_LEGACY_SERVER_CONNECT)
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_verify_locations(cadata="".join(_pem(c) for c in trust.anchors))
    # load_cert_chain reads files only: hand it a memfd holding the key, encrypted with a
    # one-time password, and our chain.
    one_time = os.urandom(24).hex().encode()
    blob = (
        credential.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(one_time),
        )
        + "".join(_pem(c) for c in (credential.certificate, *credential.intermediates)).encode()
    )
    fd = os.memfd_create("ikeclient-eap-tls-key", os.MFD_CLOEXEC)
    try:
        os.write(fd, blob)
        path = f"/proc/self/fd/{fd}"
        context.load_cert_chain(path, path, password=one_time)
    except ssl.SSLError as exc:
        raise ConfigError(f"EAP-TLS: OpenSSL refused our certificate or key: {exc}") from None
    finally:
        os.close(fd)
    key_log = MemfdKeyLog()
    context.keylog_filename = key_log.path
    return TlsClient(context, key_log)


def load_auth_settings(
    prof: AuthProfile, local_id: Identity, secrets: ProfileSecrets
) -> AuthSettings:
    """Read every file the profile's authentication names; the settings for the IKE core."""
    trust = load_trust(prof) if (prof.ca_certificates or prof.use_system_ca) else None
    credential = None
    if prof.uses_client_certificate:
        credential = load_credential(prof, secrets.key)
    eap = None
    if prof.local == "eap" and prof.eap_method is not None:
        tls = None
        if prof.eap_method == "tls":
            if credential is None or trust is None:  # pragma: no cover - parse_auth checks
                raise ConfigError("EAP-TLS needs a certificate and trust anchors")
            tls = build_tls_client(credential, trust)
        try:
            password = (secrets.eap or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("the EAP password is not UTF-8 text") from None
        identity = prof.eap_identity or str(local_id)
        eap = EapSettings(
            prof.eap_method,
            identity.encode("utf-8"),
            password,
            tls,
            eap_only=prof.eap_only,
        )
    return AuthSettings(
        local=prof.local,
        remote=prof.remote,
        credential=credential if prof.local == "pubkey" else None,
        trust=trust if prof.remote == "pubkey" else None,
        eap=eap,
        signature=prof.signature,
        rsa_pss=prof.rsa_pss,
    )
