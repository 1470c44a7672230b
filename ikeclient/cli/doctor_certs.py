"""``ikeclient doctor``: checks of the certificate files a profile names.

For each profile with certificates: the files can be read and parsed, our
certificate is within its validity (a warning 30 days before it ends), the
private key opens (with the stored passphrase) and belongs to the
certificate, the CA certificates are CAs and valid, CRLs are not stale, and
the secrets EAP or the key need are stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from ikeclient.config.credentials import (
    key_is_encrypted,
    load_certificates,
    load_credential,
    load_crls,
    system_ca_file,
)
from ikeclient.config.profile import Profile
from ikeclient.errors import IkeClientError
from ikeclient.ike.pki import describe

OK, WARN, FAIL = "ok", "warn", "FAIL"
Check = tuple[str, str, str]
SOON = dt.timedelta(days=30)


def _validity(cert: x509.Certificate, now: dt.datetime, what: str) -> tuple[str, str]:
    if now < cert.not_valid_before_utc:
        return (
            FAIL,
            f"{what} {describe(cert)} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
        )
    if now > cert.not_valid_after_utc:
        return FAIL, f"{what} {describe(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.not_valid_after_utc - now < SOON:
        return WARN, f"{what} {describe(cert)} expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    return OK, f"{what} {describe(cert)} valid until {cert.not_valid_after_utc:%Y-%m-%d}"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _passphrase(prof: Profile) -> tuple[bytes | None, str | None]:
    """The key's passphrase if one is needed and stored; else a reason it is missing."""
    from ikeclient.config.profile import read_secret_file  # noqa: PLC0415
    from ikeclient.secretstore import get_secret  # noqa: PLC0415

    auth = prof.auth
    if not key_is_encrypted(auth):
        return None, None
    if auth.key_passphrase_file is not None:
        passphrase_file = auth.key_passphrase_file
        what = "private key passphrase"
        return read_secret_file(passphrase_file, what=what, owner=auth.files_owner), None
    stored = get_secret(prof.name, "key")
    if stored is None:
        how = f"ikeclient secret set {prof.name} --kind key"
        return None, f"the key is encrypted and no passphrase is stored: {how}"
    return stored.encode("utf-8"), None


def certificate_checks(prof: Profile, now: dt.datetime | None = None) -> list[Check]:
    """The checks of one profile's certificate files (empty for a PSK-only profile)."""
    auth = prof.auth
    if not auth.files() and not auth.use_system_ca and not auth.uses_eap_password:
        return []
    now = now or dt.datetime.now(dt.UTC)
    label = f"profile {prof.name}"
    checks: list[Check] = []

    def check(step: str, action: Callable[[], tuple[str, str]]) -> None:
        try:
            level, text = action()
        except IkeClientError as exc:
            checks.append((FAIL, label, f"{step}: {exc}"))
            return
        checks.append((level, label, text))

    if auth.uses_client_certificate:

        def credential() -> tuple[str, str]:
            passphrase, missing = _passphrase(prof)
            if missing is not None:
                return WARN, missing
            cred = load_credential(auth, passphrase)
            return _validity(cred.certificate, now, "certificate")

        check("certificate", credential)
    for path in auth.ca_certificates:

        def ca(path: Path = path) -> tuple[str, str]:
            certs = load_certificates(path, "CA certificate file", auth.files_owner)
            worst = (OK, "")
            for cert in certs:
                level, text = _validity(cert, now, "CA")
                if not _is_ca(cert):
                    level, text = WARN, f"{describe(cert)} in {path} is not a CA certificate"
                if level != OK or not worst[1]:
                    worst = (level, text)
            return worst

        check(f"ca_certificates {path}", ca)
    if auth.use_system_ca and system_ca_file() is None:
        checks.append((FAIL, label, "use_system_ca: this host has no system CA bundle"))
    for path in auth.crls:

        def crl(path: Path = path) -> tuple[str, str]:
            for item in load_crls(path, auth.files_owner):
                update = item.next_update_utc
                if update is not None and update < now:
                    return WARN, f"CRL {path} is stale (next update was {update:%Y-%m-%d})"
            return OK, f"CRL {path} loaded"

        check(f"crls {path}", crl)
    if auth.uses_eap_password and auth.eap_password_file is None:
        from ikeclient.secretstore import get_secret  # noqa: PLC0415

        def eap() -> tuple[str, str]:
            if get_secret(prof.name, "eap") is None:
                return WARN, f"no EAP password stored: ikeclient secret set {prof.name} --kind eap"
            return OK, "EAP password in the keyring"

        check("EAP password", eap)
    return checks
