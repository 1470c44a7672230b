"""``ikeclient doctor``: what this host has and lacks for a VPN connection."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import typer

from ikeclient.config.profile import load_profile, profiles_dir, read_secret_file
from ikeclient.errors import IkeClientError, PrivilegeError
from ikeclient.net.dns import resolved_available
from ikeclient.net.host import check_privileges

OK, WARN, FAIL = "ok", "warn", "FAIL"
Check = tuple[str, str, str]


def _tun() -> Check:
    path = Path("/dev/net/tun")
    if not path.exists():
        return (FAIL, "TUN device", "/dev/net/tun is missing (modprobe tun, or a container flag)")
    try:
        fd = os.open(path, os.O_RDWR)
    except PermissionError:
        return (WARN, "TUN device", "/dev/net/tun exists but only root can open it")
    except OSError as exc:
        return (FAIL, "TUN device", f"/dev/net/tun cannot be opened: {exc.strerror}")
    os.close(fd)
    return (OK, "TUN device", "/dev/net/tun")


def _privileges() -> Check:
    try:
        check_privileges()
    except PrivilegeError:
        how = "sudo is there: up will ask it" if shutil.which("sudo") else "run up as root"
        return (WARN, "privileges", f"no CAP_NET_ADMIN in this process ({how})")
    return (OK, "privileges", "CAP_NET_ADMIN")


def _iproute() -> Check:
    ip = shutil.which("ip")
    if ip is None:
        return (FAIL, "iproute2", "the ip command is missing (apt-get install iproute2)")
    return (OK, "iproute2", ip)


def _nftables() -> Check:
    from ikeclient.net.firewall import nft_available  # noqa: PLC0415

    nft = nft_available()
    if nft is None:
        return (
            WARN,
            "nftables",
            "the nft command is missing: full tunnels cannot have leak protection "
            '(apt-get install nftables, or leak_protection = "off")',
        )
    return (OK, "nftables", f"{nft} (leak protection)")


def _keyring() -> Check:
    from ikeclient.secretstore import backend_name, plaintext_backend  # noqa: PLC0415

    try:
        name = backend_name()
    except IkeClientError as exc:
        return (WARN, "keyring", str(exc))
    if plaintext_backend() is not None:
        return (
            WARN,
            "keyring",
            f"{name} stores secrets unencrypted on disk: anyone who can read its file "
            "(root, a backup) reads your keys; prefer an encrypted backend "
            "(Secret Service, keyrings.alt's EncryptedKeyring) or a 0600 secret file",
        )
    return (OK, "keyring", name)


def _dns() -> Check:
    if resolved_available():
        return (OK, "DNS manager", "systemd-resolved (per-link servers, split DNS)")
    resolv = Path("/etc/resolv.conf")
    if os.access(resolv, os.W_OK):
        return (OK, "DNS manager", f"{resolv} (rewritten, restored on disconnect)")
    return (WARN, "DNS manager", f"{resolv} is not writable by this user")


def _profiles() -> list[Check]:
    directory = profiles_dir()
    files = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    if not files:
        return [(WARN, "profiles", f"none in {directory}")]
    checks: list[Check] = []
    for path in files:
        try:
            prof = load_profile(path)
        except IkeClientError as exc:
            checks.append((FAIL, f"profile {path.stem}", str(exc)))
            continue
        from ikeclient.cli.doctor_certs import certificate_checks  # noqa: PLC0415

        checks += certificate_checks(prof)
        if not prof.auth.uses_psk:
            checks.append((OK, f"profile {prof.name}", f"{prof.gateway}, {prof.auth.local} auth"))
            continue
        try:
            if prof.psk_file is not None:
                read_secret_file(prof.psk_file, owner=prof.auth.files_owner)
                where = f"key in {prof.psk_file}"
            else:
                from ikeclient.secretstore import get_secret  # noqa: PLC0415

                if get_secret(prof.name, "psk") is None:
                    checks.append(
                        (WARN, f"profile {prof.name}", "no key stored: ikeclient secret set "
                         f"{prof.name}")
                    )  # fmt: skip
                    continue
                where = "key in the keyring"
        except IkeClientError as exc:
            checks.append((WARN, f"profile {prof.name}", str(exc)))
            continue
        checks.append((OK, f"profile {prof.name}", f"{prof.gateway}, {where}"))
    return checks


def run_doctor() -> int:
    probes: list[Callable[[], Check]] = [_tun, _privileges, _iproute, _nftables, _keyring, _dns]
    checks = [probe() for probe in probes] + _profiles()
    for level, what, detail in checks:
        typer.echo(f"[{level:4}] {what:18} {detail}")
    failed = sum(1 for c in checks if c[0] == FAIL)
    typer.echo(f"{failed} problem(s)" if failed else "all good")
    return 1 if failed else 0
