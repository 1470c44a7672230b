"""Secrets for profiles: the OS keyring, a file only its owner can read, or a prompt.

Keyring entries live under the service ``ikeclient`` with one user name per profile and
kind (``<profile>:psk``, ``<profile>:xauth``, ``<profile>:eap``, ``<profile>:key`` for the
passphrase of the profile's private key or PKCS#12 file). A secret is never taken
from a command-line argument or the environment, and never logged; on a host without a
usable keyring backend there is no silent plaintext fallback, only a message that names
the options.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ikeclient.errors import SecretStoreError

if TYPE_CHECKING:
    from ikeclient.config.credentials import ProfileSecrets
    from ikeclient.config.profile import Profile

SERVICE = "ikeclient"
KINDS = ("psk", "xauth", "eap", "key")
_KIND_NAMES = {
    "psk": "pre-shared key",
    "xauth": "XAUTH password",
    "eap": "EAP password",
    "key": "private key passphrase",
}
_STREAM_TAG = b"ikeclient-secrets"
NO_BACKEND_HINT = (
    "no usable keyring backend on this host; options: install a backend "
    "(e.g. pip install keyrings.alt, a file-based keyring), set psk_file in the profile to a "
    "file only you can read (chmod 600), or run ikeclient up from a terminal to be asked"
)


def keyring_user(profile_name: str, kind: str = "psk") -> str:
    """The keyring user name for one profile's secret of one kind."""
    return f"{profile_name}:{kind}"


def describe(kind: str) -> str:
    return _KIND_NAMES.get(kind, kind)


def _keyring() -> Any:
    try:
        import keyring  # noqa: PLC0415 - keyring probes its backends on import: only when needed
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise SecretStoreError(f"the keyring module is missing: {exc}") from None
    return keyring


def _call(action: Callable[[], Any]) -> Any:
    from keyring.errors import KeyringError, NoKeyringError  # noqa: PLC0415

    try:
        return action()
    except NoKeyringError:
        raise SecretStoreError(NO_BACKEND_HINT) from None
    except KeyringError as exc:
        # The exception text of a backend could echo what it was given: never show it.
        raise SecretStoreError(f"the keyring failed ({type(exc).__name__})") from None


def backend_name() -> str:
    """The keyring backend in use (e.g. ``SecretService Keyring``), or raise SecretStoreError."""
    keyring = _keyring()
    backend = keyring.get_keyring()
    if type(backend).__module__ == "keyring.backends.fail":
        raise SecretStoreError(NO_BACKEND_HINT)
    return f"{type(backend).__module__}.{type(backend).__name__}"


#: Keyring backends known to keep secrets unencrypted on disk (keyrings.alt's plaintext file).
PLAINTEXT_BACKENDS = frozenset({"keyrings.alt.file.PlaintextKeyring"})


def _backend_names(backend: object) -> list[str]:
    """The backends a keyring uses (a chainer's members, else itself), as module.Class."""
    members = getattr(backend, "backends", None)
    if type(backend).__name__ == "ChainerBackend" and isinstance(members, list | tuple):
        return [name for member in members for name in _backend_names(member)]
    return [f"{type(backend).__module__}.{type(backend).__name__}"]


def plaintext_backend() -> str | None:
    """The keyring backend in use if it stores secrets unencrypted (e.g. keyrings.alt's
    PlaintextKeyring: a file anyone who can read it — root, a backup — reads the keys
    from), else None."""
    backend = _keyring().get_keyring()
    return next((n for n in _backend_names(backend) if n in PLAINTEXT_BACKENDS), None)


def get_secret(profile_name: str, kind: str = "psk") -> str | None:
    """The stored secret, or None when there is none."""
    keyring = _keyring()
    value = _call(lambda: keyring.get_password(SERVICE, keyring_user(profile_name, kind)))
    return None if value is None else str(value)


def set_secret(profile_name: str, kind: str, value: str) -> None:
    if kind not in KINDS:
        raise SecretStoreError(f"unknown secret kind {kind!r} (one of {', '.join(KINDS)})")
    if not value:
        raise SecretStoreError("refusing to store an empty secret")
    keyring = _keyring()
    _call(lambda: keyring.set_password(SERVICE, keyring_user(profile_name, kind), value))


def delete_secret(profile_name: str, kind: str = "psk") -> bool:
    """Delete a stored secret; False when there was none."""
    from keyring.errors import PasswordDeleteError  # noqa: PLC0415

    keyring = _keyring()

    def delete() -> bool:
        try:
            keyring.delete_password(SERVICE, keyring_user(profile_name, kind))
        except PasswordDeleteError:
            return False
        return True

    result: bool = _call(delete)
    return result


def load_psk(profile: Profile, *, prompt: Callable[[str], str] | None = None) -> bytes:
    """The profile's pre-shared key: ``psk_file`` if set, else the keyring, else ``prompt``.

    ``prompt`` (e.g. ``getpass.getpass``) is used only when there is no keyring backend or
    no stored key, and only when given: callers pass it when a person is at a terminal.
    """
    from ikeclient.config.profile import read_secret_file  # noqa: PLC0415

    if profile.psk_file is not None:
        return read_secret_file(profile.psk_file, owner=profile.auth.files_owner)
    user = keyring_user(profile.name)
    try:
        value = get_secret(profile.name, "psk")
    except SecretStoreError:
        if prompt is None:
            raise
        value = None
    if value is None:
        if prompt is not None:
            typed = prompt(f"pre-shared key for {profile.name}: ")
            if typed:
                return typed.encode("utf-8")
        raise SecretStoreError(
            f"no pre-shared key for profile {profile.name!r} in the keyring "
            f"(service {SERVICE!r}, user {user!r}); store one with: "
            f"ikeclient secret set {profile.name}"
        )
    return value.encode("utf-8")


def _load_kind(
    profile: Profile, kind: str, file: Any, prompt: Callable[[str], str] | None
) -> bytes:
    """One secret of ``kind``: its file if the profile names one, the keyring, else a prompt."""
    from ikeclient.config.profile import read_secret_file  # noqa: PLC0415

    if file is not None:
        return read_secret_file(file, what=describe(kind), owner=profile.auth.files_owner)
    try:
        value = get_secret(profile.name, kind)
    except SecretStoreError:
        if prompt is None:
            raise
        value = None
    if value is not None:
        return value.encode("utf-8")
    if prompt is not None:
        typed = prompt(f"{describe(kind)} for {profile.name}: ")
        if typed:
            return typed.encode("utf-8")
    raise SecretStoreError(
        f"no {describe(kind)} for profile {profile.name!r} in the keyring "
        f"(service {SERVICE!r}, user {keyring_user(profile.name, kind)!r}); store it with: "
        f"ikeclient secret set {profile.name} --kind {kind}"
    )


def load_secrets(profile: Profile, *, prompt: Callable[[str], str] | None = None) -> ProfileSecrets:
    """Every secret the profile's authentication needs: the pre-shared key, the EAP
    password, the private key's passphrase; from files, the keyring or ``prompt``."""
    from ikeclient.config.credentials import ProfileSecrets, key_is_encrypted  # noqa: PLC0415

    auth = profile.auth
    psk = load_psk(profile, prompt=prompt) if auth.uses_psk else b""
    eap = None
    if auth.uses_eap_password:
        eap = _load_kind(profile, "eap", auth.eap_password_file, prompt)
    key = None
    if auth.uses_client_certificate and key_is_encrypted(auth):
        key = _load_kind(profile, "key", auth.key_passphrase_file, prompt)
    xauth = None
    if profile.version == 1 and profile.xauth_user is not None:
        xauth = _load_kind(profile, "xauth", profile.xauth_password_file, prompt)
    return ProfileSecrets(psk, eap, key, xauth)


def load_xauth_password(profile: Profile, *, prompt: Callable[[str], str] | None = None) -> bytes:
    """The profile's XAUTH password (IKEv1): ``xauth_password_file``, the keyring (kind
    ``xauth``), else ``prompt``."""
    return _load_kind(profile, "xauth", profile.xauth_password_file, prompt)


def encode_secrets(secrets: ProfileSecrets) -> bytes:
    """One line for the pipe to the privileged half: a tag, then ``kind=hex`` fields."""
    fields = [b"psk=" + secrets.psk.hex().encode()]
    if secrets.eap is not None:
        fields.append(b"eap=" + secrets.eap.hex().encode())
    if secrets.key is not None:
        fields.append(b"key=" + secrets.key.hex().encode())
    if secrets.xauth is not None:
        fields.append(b"xauth=" + secrets.xauth.hex().encode())
    return b" ".join([_STREAM_TAG, *fields]) + b"\n"


def read_secret_stream(stream: Any = None) -> ProfileSecrets:
    """The secrets from a pipe (the privileged half of ``up`` gets them this way).

    The line is :func:`encode_secrets`' format, or a bare pre-shared key.
    """
    from ikeclient.config.credentials import ProfileSecrets  # noqa: PLC0415

    source = stream if stream is not None else sys.stdin.buffer
    data: bytes = source.readline().rstrip(b"\r\n")
    if not data:
        raise SecretStoreError("no secret arrived on standard input")
    if not data.startswith(_STREAM_TAG + b" "):
        return ProfileSecrets(psk=data)
    values: dict[bytes, bytes] = {}
    for item in data.split(b" ")[1:]:
        kind, _, value = item.partition(b"=")
        try:
            values[kind] = bytes.fromhex(value.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise SecretStoreError("malformed secrets on standard input") from None
    return ProfileSecrets(
        values.get(b"psk", b""), values.get(b"eap"), values.get(b"key"), values.get(b"xauth")
    )
