"""Secrets for profiles: the OS keyring, or a file only its owner can read.

Keyring entries live under the service ``ikeclient`` with one user name per
profile and kind (``<profile>:psk``). A secret is never taken from a command
line argument or the environment, and never logged.
"""

from __future__ import annotations

from ikeclient.config.profile import Profile, read_secret_file
from ikeclient.errors import SecretStoreError

SERVICE = "ikeclient"


def keyring_user(profile_name: str, kind: str = "psk") -> str:
    """The keyring user name for one profile's secret of one kind."""
    return f"{profile_name}:{kind}"


def load_psk(profile: Profile) -> bytes:
    """The profile's pre-shared key: from ``psk_file`` when set, else from the keyring."""
    if profile.psk_file is not None:
        return read_secret_file(profile.psk_file)
    try:
        import keyring  # noqa: PLC0415 - imported late: keyring probes backends on import
        from keyring.errors import KeyringError, NoKeyringError  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise SecretStoreError(f"the keyring module is missing: {exc}") from None
    user = keyring_user(profile.name)
    try:
        value = keyring.get_password(SERVICE, user)
    except NoKeyringError:
        raise SecretStoreError(
            "no usable keyring backend on this host; either install one "
            "(pip install keyrings.alt for an encrypted file backend), or set "
            f"psk_file in profile {profile.name!r} to a file only you can read (chmod 600)"
        ) from None
    except KeyringError as exc:
        raise SecretStoreError(f"the keyring failed: {type(exc).__name__}") from None
    if value is None:
        raise SecretStoreError(
            f"no pre-shared key for profile {profile.name!r} in the keyring "
            f"(service {SERVICE!r}, user {user!r}); store one, or set psk_file in the profile"
        )
    return value.encode("utf-8")
