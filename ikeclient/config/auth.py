"""The authentication part of a profile: certificates, trust anchors, EAP, fragmentation.

Profile keys (README.md, "Profiles"):

=====================  ======================================================================
``auth``               how we authenticate: ``psk``, ``pubkey`` (certificate) or ``eap``
``remote_auth``        how the gateway must: ``psk``, ``pubkey`` or ``eap`` (EAP-only, RFC
                       5998); default ``pubkey`` when trust anchors are set, else ``psk``
``certificate``        our certificate (PEM or DER; more PEM certificates after it are
                       intermediates sent along)
``private_key``        its key (PEM or DER, PKCS#8/PKCS#1/SEC1, encrypted or not)
``pkcs12``             instead of the two: a PKCS#12 file with key, certificate and chain
``ca_certificates``    trust anchors for the gateway's certificate (PEM, one or more each)
``use_system_ca``      also trust the system's CA store
``crls``               CRL files (PEM or DER) checked for every certificate of the path
``signature_auth``     ``auto`` (RFC 7427 when the gateway announces it), ``rfc7427``, ``classic``
``rsa_signature``      ``pkcs1`` or ``pss`` (RSASSA-PSS, RFC 7427 only)
``eap_method``         ``mschapv2``, ``md5`` or ``tls``
``eap_identity``       the EAP identity (default: ``local_id``)
``eap_only``           ask for EAP-only authentication (RFC 5998)
``eap_password_file``  the EAP password in a file only its owner can read
``key_passphrase_file`` the private key's passphrase in such a file
``fragmentation``      RFC 7383 fragmentation (default true)
``fragment_size``      largest IP datagram of an IKE message before fragmenting (1280)
=====================  ======================================================================

Paths are relative to the profile's directory. Files are read when connecting
(:mod:`ikeclient.config.credentials`), not when the profile loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from ikeclient.errors import ConfigError
from ikeclient.ike.v2.auth_settings import LOCAL_AUTH, REMOTE_AUTH, SIGNATURE_MODES
from ikeclient.ike.v2.eap import EAP_METHODS
from ikeclient.safefiles import MAX_CREDENTIAL_SIZE, MAX_SECRET_SIZE, read_checked

__all__ = ["AUTH_KEYS", "AuthProfile", "parse_auth"]

T = TypeVar("T")

AUTH_KEYS = frozenset(
    {
        "remote_auth",
        "certificate",
        "private_key",
        "pkcs12",
        "ca_certificates",
        "use_system_ca",
        "crls",
        "signature_auth",
        "rsa_signature",
        "eap_method",
        "eap_identity",
        "eap_only",
        "eap_password_file",
        "key_passphrase_file",
        "fragmentation",
        "fragment_size",
    }
)


class _Reader(Protocol):
    table: dict[str, Any]

    def error(self, key: str, reason: str) -> ConfigError: ...

    def get(
        self, key: str, kind: type[T], default: T | None = None, *, required: bool = False
    ) -> T: ...

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class AuthProfile:
    """Where the credentials are and how both sides authenticate; no secret in it."""

    local: str = "psk"
    remote: str = "psk"
    certificate: Path | None = None
    private_key: Path | None = None
    pkcs12: Path | None = None
    ca_certificates: tuple[Path, ...] = ()
    use_system_ca: bool = False
    crls: tuple[Path, ...] = ()
    signature: str = "auto"
    rsa_pss: bool = False
    eap_method: str | None = None
    eap_identity: str | None = None
    eap_only: bool = False
    eap_password_file: Path | None = None
    key_passphrase_file: Path | None = None
    fragmentation: bool = True
    fragment_size: int = 1280
    #: The uid whose files this profile may name: the owner of the profile file (None: a
    #: profile not read from a file, the effective uid). See :func:`read_named_file`.
    files_owner: int | None = None

    @property
    def uses_psk(self) -> bool:
        """A pre-shared key is needed (for us or for the gateway)."""
        return self.local == "psk" or self.remote == "psk"

    @property
    def uses_eap_password(self) -> bool:
        return self.local == "eap" and self.eap_method in ("mschapv2", "md5")

    @property
    def uses_client_certificate(self) -> bool:
        return self.local == "pubkey" or (self.local == "eap" and self.eap_method == "tls")

    def files(self) -> list[tuple[str, Path]]:
        """Every file the profile names, with its key (for ``doctor``)."""
        out: list[tuple[str, Path]] = []
        for key in ("certificate", "private_key", "pkcs12"):
            path = getattr(self, key)
            if path is not None:
                out.append((key, path))
        out += [("ca_certificates", p) for p in self.ca_certificates]
        out += [("crls", p) for p in self.crls]
        return out


def _choice(r: _Reader, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = r.get(key, str, default)
    if value not in allowed:
        raise r.error(key, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_auth(r: _Reader, path: Path | None) -> AuthProfile:
    """Validate the authentication keys of a profile table."""

    def file(key: str) -> Path | None:
        if key not in r.table:
            return None
        return _resolve(r.get(key, str), path)

    def files(key: str) -> tuple[Path, ...]:
        return tuple(_resolve(v, path) for v in r.strings(key, ()))

    local = _choice(r, "auth", LOCAL_AUTH, "psk")
    cas = files("ca_certificates")
    system = r.get("use_system_ca", bool, False)
    default_remote = "pubkey" if cas or system else "psk"
    remote = _choice(r, "remote_auth", REMOTE_AUTH, default_remote)
    eap_method = None
    if "eap_method" in r.table or local == "eap":
        eap_method = _choice(r, "eap_method", tuple(EAP_METHODS), "mschapv2")
    rsa = _choice(r, "rsa_signature", ("pkcs1", "pss"), "pkcs1")
    prof = AuthProfile(
        local=local,
        remote=remote,
        certificate=file("certificate"),
        private_key=file("private_key"),
        pkcs12=file("pkcs12"),
        ca_certificates=cas,
        use_system_ca=system,
        crls=files("crls"),
        signature=_choice(r, "signature_auth", SIGNATURE_MODES, "auto"),
        rsa_pss=rsa == "pss",
        eap_method=eap_method,
        eap_identity=r.get("eap_identity", str, "") or None,
        eap_only=r.get("eap_only", bool, False),
        eap_password_file=file("eap_password_file"),
        key_passphrase_file=file("key_passphrase_file"),
        fragmentation=r.get("fragmentation", bool, True),
        fragment_size=r.get("fragment_size", int, 1280),
    )
    _check(r, prof)
    return prof


def _check(r: _Reader, prof: AuthProfile) -> None:
    if prof.remote == "pubkey" and not (prof.ca_certificates or prof.use_system_ca):
        raise r.error(
            "remote_auth",
            "checking the gateway's certificate needs ca_certificates or use_system_ca",
        )
    if prof.remote == "eap" and (prof.local != "eap" or not prof.eap_only):
        raise r.error("remote_auth", "'eap' (EAP-only, RFC 5998) needs auth = 'eap' and eap_only")
    if prof.eap_only and prof.eap_method == "md5":
        raise r.error("eap_only", "EAP-MD5 does not authenticate the gateway; not EAP-only")
    if prof.uses_client_certificate:
        if prof.pkcs12 is None and (prof.certificate is None or prof.private_key is None):
            what = "auth = 'pubkey'" if prof.local == "pubkey" else "eap_method = 'tls'"
            raise r.error("certificate", f"{what} needs certificate and private_key, or pkcs12")
        if prof.pkcs12 is not None and (prof.certificate or prof.private_key):
            raise r.error("pkcs12", "give either pkcs12 or certificate and private_key")
    if (
        prof.local == "eap"
        and prof.eap_method == "tls"
        and not (prof.ca_certificates or prof.use_system_ca)
    ):
        raise r.error(
            "eap_method", "EAP-TLS checks the gateway's TLS certificate: set ca_certificates"
        )
    if not 576 <= prof.fragment_size <= 65535:
        raise r.error("fragment_size", f"{prof.fragment_size} is not between 576 and 65535")


def _resolve(text: str, profile_path: Path | None) -> Path:
    path = Path(text).expanduser()
    if profile_path is not None and not path.is_absolute():
        path = profile_path.parent / path
    return path


#: How a file a profile names is read: "secret" (a password, pre-shared key or passphrase:
#: the owner's, mode 0600, small), "key" (a private key or PKCS#12 bundle: the owner's),
#: "public" (certificates, CAs, CRLs: the owner's or root's).
FileKind = Literal["secret", "key", "public"]


def read_named_file(owner: int | None, path: Path, *, what: str, kind: FileKind) -> bytes:
    """A file a profile names, read only as the profile's owner could (root may run us).

    A profile may name only its owner's files, and root's where they hold nothing secret:
    so a profile another user wrote can never make a root ``ikeclient`` send a root-only
    file to a gateway or sign with root's key. No symlinks, nothing writable by others,
    size-limited (:func:`ikeclient.safefiles.read_checked`). Raises ConfigError (an
    UnsafeFileError for a refused file) naming the file.
    """
    uid = os.geteuid() if owner is None else owner
    owners = {uid, 0} if kind == "public" else {uid}
    limit = MAX_SECRET_SIZE if kind == "secret" else MAX_CREDENTIAL_SIZE
    try:
        data, _ = read_checked(
            path, what=what, owners=owners, limit=limit, private=kind == "secret"
        )
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    return data
