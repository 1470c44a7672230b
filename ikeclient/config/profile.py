"""Connection profiles: TOML files validated at load time.

Every error names the file, the key and the reason, e.g.
``lab.toml: ike_proposals[0]: unknown algorithm keyword 'aes999'``.
The schema is documented in README.md ("Profiles").
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from ikeclient.errors import ConfigError
from ikeclient.ike.events import IPNetwork, TrafficSelectorRange
from ikeclient.ike.identity import Identity
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v2.auth_settings import AuthSettings
from ikeclient.ike.v2.settings import Ikev2Settings, RetransmitPolicy
from ikeclient.net.dns import DnsBackend
from ikeclient.safefiles import MAX_PROFILE_SIZE, invoking_uid, read_checked

from .auth import AUTH_KEYS, AuthProfile, parse_auth, read_named_file
from .proposals import parse_proposal
from .staying import FLAT_KEYS as STAYING_KEYS
from .staying import StayingConnected, parse_staying

T = TypeVar("T")

DEFAULT_IKE_PROPOSALS = ("aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048")
DEFAULT_ESP_PROPOSALS = ("aes256gcm16", "aes256-sha256")
DEFAULT_IKEV1_PROPOSALS = ("aes256-sha256-modp2048", "aes128-sha1-modp2048")
DEFAULT_IKEV1_ESP_PROPOSALS = ("aes256-sha256", "aes128-sha1")

_KEYS = {
    "name",
    "version",
    "gateway",
    "port",
    "local_id",
    "remote_id",
    "send_remote_id",
    "auth",
    "psk_file",
    "ike_proposals",
    "esp_proposals",
    "remote_ts",
    "accept_split",
    "block_ipv6",
    "request_virtual_ip",
    "request_ipv6",
    "force_encapsulation",
    "allow_legacy",
    "retry_other_ke_group",
    "retransmit",
    "dns",
    "path_mtu",
    "nat_keepalive",
    "replay_window",
    "leak_protection",
    "allow_lan",
    # IKEv1 only
    "mode",
    "xauth_user",
    "xauth_password_file",
    "modecfg",
    "ike_lifetime",
    "child_lifetime",
    *STAYING_KEYS,  # dpd_delay among them: both versions
} | AUTH_KEYS
_IKEV1_ONLY = (
    "mode",
    "xauth_user",
    "xauth_password_file",
    "modecfg",
    "ike_lifetime",
    "child_lifetime",
)
_RETRANSMIT_KEYS = {"timeout", "base", "tries"}


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated profile. It holds where to find the secret, never the secret itself."""

    name: str
    path: Path | None
    gateway: str
    port: int
    local_id: Identity
    remote_id: Identity | None
    send_remote_id: bool
    psk_file: Path | None
    ike_proposals: tuple[ProposalSpec, ...]
    esp_proposals: tuple[ProposalSpec, ...]
    remote_ts: tuple[TrafficSelectorRange, ...]
    request_virtual_ip: bool
    request_ipv6: bool
    force_encapsulation: bool
    retry_other_ke_group: bool
    retransmit: RetransmitPolicy = field(default_factory=RetransmitPolicy)
    ike_proposal_text: tuple[str, ...] = ()
    esp_proposal_text: tuple[str, ...] = ()
    dns: DnsBackend = "auto"
    path_mtu: int = 1500
    nat_keepalive: float = 20.0
    replay_window: int = 1024
    auth: AuthProfile = field(default_factory=AuthProfile)
    version: int = 2
    mode: str = "main"
    xauth_user: str | None = None
    xauth_password_file: Path | None = None
    modecfg: str = "pull"
    ike_lifetime: int = 10800
    child_lifetime: int = 3600
    dpd_delay: float = 30.0
    accept_split: bool = False
    block_ipv6: bool = True
    leak_protection: str = "auto"  # "on", "off", or "auto": on for a full tunnel
    allow_lan: bool = False

    @property
    def remote_networks(self) -> tuple[IPNetwork, ...]:
        """``remote_ts`` as CIDR networks: the most the gateway may have routed."""
        return tuple(n for ts in self.remote_ts for n in ts.networks())

    @property
    def full_tunnel(self) -> bool:
        """The profile sends everything through the tunnel (a remote_ts of 0.0.0.0/0 or ::/0)."""
        return any(net.prefixlen == 0 for ts in self.remote_ts for net in ts.networks())

    @property
    def leak_protected(self) -> bool:
        """Leak protection (net/firewall.py) is on: ``on``, or ``auto`` with a full tunnel."""
        return self.leak_protection == "on" or (self.leak_protection == "auto" and self.full_tunnel)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Risks worth telling the person who connects."""
        if self.version == 1 and self.mode == "aggressive":
            return (
                "IKEv1 Aggressive Mode with a pre-shared key sends a hash of the key before "
                "the gateway is authenticated: anyone who sees it can try to crack the key "
                "offline. Prefer Main Mode or IKEv2, and a long random key.",
            )
        return ()

    staying: StayingConnected = field(default_factory=StayingConnected)


class _Reader:
    """Typed access to a TOML table with errors that name the file and key."""

    def __init__(self, where: str, table: dict[str, Any]) -> None:
        self.where = where
        self.table = table

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {reason}")

    def get(
        self, key: str, kind: type[T], default: T | None = None, *, required: bool = False
    ) -> T:
        if key not in self.table:
            if required or default is None:
                raise self.error(key, "missing (required)")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise self.error(key, "expected a non-empty list of strings")
        return tuple(value)

    def parsed(self, key: str, text: str, parse: Callable[[str], T], index: int | None = None) -> T:
        try:
            return parse(text)
        except ConfigError as exc:
            label = key if index is None else f"{key}[{index}]"
            raise self.error(label, str(exc)) from None


def _parse_ts(text: str) -> TrafficSelectorRange:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not a subnet (e.g. 198.18.3.0/24)") from exc
    return TrafficSelectorRange(net.network_address, net.broadcast_address)


def load_profile(path: Path) -> Profile:
    """Read and validate a profile file."""
    return parse_profile(*read_profile_file(path), path)


def read_profile_file(path: Path) -> tuple[bytes, int]:
    """A profile file's bytes and its owner's uid, read the one checked way.

    Root reads only root's profiles or those of the user who ran sudo; the files a profile
    names are then read as its owner could (config.auth.read_named_file).
    """
    owners = {0, os.geteuid(), invoking_uid()}
    try:
        return read_checked(path, what="profile", owners=owners, limit=MAX_PROFILE_SIZE)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc.strerror}") from None


def parse_profile(raw: bytes, owner: int, path: Path) -> Profile:
    """Validate the bytes of a profile file that ``owner`` owns (see read_profile_file)."""
    where = str(path)
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    profile = profile_from_table(table, where=where, path=path)
    return replace(profile, auth=replace(profile.auth, files_owner=owner))


def profile_from_table(table: dict[str, Any], *, where: str, path: Path | None = None) -> Profile:
    """Validate a parsed profile table."""
    r = _Reader(where, table)
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise r.error(unknown[0], f"unknown key (known keys: {', '.join(sorted(_KEYS))})")
    version = r.get("version", int, 2)
    if version not in (1, 2):
        raise r.error("version", f"IKE version {version} does not exist (1 or 2)")
    if version == 2:
        for key in _IKEV1_ONLY:
            if key in table:
                raise r.error(key, "applies to IKEv1 profiles only (version = 1)")
    auth = parse_auth(r, path)
    if version == 1 and (auth.local != "psk" or auth.remote != "psk"):
        raise r.error("auth", "IKEv1 profiles support pre-shared keys only (with XAUTH)")
    port = r.get("port", int, 500)
    if not 1 <= port <= 65535:
        raise r.error("port", f"{port} is not a UDP port")
    gateway = r.get("gateway", str, required=True).strip()
    if not gateway:
        raise r.error("gateway", "is empty")
    allow_legacy = r.get("allow_legacy", bool, False)
    ike_text = r.strings(
        "ike_proposals", DEFAULT_IKEV1_PROPOSALS if version == 1 else DEFAULT_IKE_PROPOSALS
    )
    esp_text = r.strings(
        "esp_proposals", DEFAULT_IKEV1_ESP_PROPOSALS if version == 1 else DEFAULT_ESP_PROPOSALS
    )
    ike: list[ProposalSpec] = []
    for i, text in enumerate(ike_text):
        ike += r.parsed(
            "ike_proposals",
            text,
            lambda t: parse_proposal(t, ike=True, allow_legacy=allow_legacy),
            i,
        )
    esp: list[ProposalSpec] = []
    for i, text in enumerate(esp_text):
        esp += r.parsed(
            "esp_proposals",
            text,
            lambda t: parse_proposal(t, ike=False, allow_legacy=allow_legacy),
            i,
        )
    remote_ts = tuple(
        r.parsed("remote_ts", t, _parse_ts, i)
        for i, t in enumerate(r.strings("remote_ts", ("0.0.0.0/0",)))
    )
    remote_id_text = table.get("remote_id")
    remote_id = None
    if remote_id_text is not None:
        remote_id = r.parsed("remote_id", r.get("remote_id", str), Identity.parse)
    elif auth.remote == "pubkey":
        # Like TLS: without remote_id the certificate must name the gateway's host.
        remote_id = r.parsed("gateway", r.get("gateway", str, required=True), Identity.parse)
    psk_file = None
    if "psk_file" in table:
        psk_file = Path(r.get("psk_file", str)).expanduser()
        if path is not None and not psk_file.is_absolute():
            psk_file = path.parent / psk_file
    retransmit = RetransmitPolicy()
    if "retransmit" in table:
        sub = table["retransmit"]
        if not isinstance(sub, dict):
            raise r.error("retransmit", "expected a table")
        rr = _Reader(f"{where}: retransmit", sub)
        bad = sorted(set(sub) - _RETRANSMIT_KEYS)
        if bad:
            raise rr.error(bad[0], "unknown key (known: timeout, base, tries)")
        retransmit = RetransmitPolicy(
            timeout=rr.get("timeout", float, retransmit.timeout),
            base=rr.get("base", float, retransmit.base),
            tries=rr.get("tries", int, retransmit.tries),
        )
        if retransmit.timeout <= 0 or retransmit.base < 1 or retransmit.tries < 0:
            raise r.error("retransmit", "timeout must be > 0, base >= 1, tries >= 0")
    dns = r.get("dns", str, "auto")
    if dns not in ("auto", "resolved", "resolv.conf"):
        raise r.error("dns", f"{dns!r} is not one of auto, resolved, resolv.conf")
    path_mtu = r.get("path_mtu", int, 1500)
    if not 576 <= path_mtu <= 65535:
        raise r.error("path_mtu", f"{path_mtu} is not between 576 and 65535")
    keepalive = r.get("nat_keepalive", float, 20.0)
    if keepalive < 0:
        raise r.error("nat_keepalive", "must be >= 0 seconds (0 turns keepalives off)")
    replay_window = r.get("replay_window", int, 1024)
    if not 32 <= replay_window <= 1 << 20:
        raise r.error("replay_window", f"{replay_window} is not between 32 and 1048576")
    leak = r.get("leak_protection", str, "auto")
    if leak not in ("auto", "on", "off"):
        raise r.error("leak_protection", f"{leak!r} is not one of auto, on, off")
    mode = r.get("mode", str, "main")
    if mode not in ("main", "aggressive"):
        raise r.error("mode", f"{mode!r} is not one of main, aggressive")
    modecfg = r.get("modecfg", str, "pull")
    if modecfg not in ("pull", "push"):
        raise r.error("modecfg", f"{modecfg!r} is not one of pull, push")
    xauth_user = r.get("xauth_user", str, "") or None
    xauth_file = None
    if "xauth_password_file" in table:
        xauth_file = Path(r.get("xauth_password_file", str)).expanduser()
        if path is not None and not xauth_file.is_absolute():
            xauth_file = path.parent / xauth_file
    ike_lifetime = r.get("ike_lifetime", int, 10800)
    child_lifetime = r.get("child_lifetime", int, 3600)
    if not 60 <= ike_lifetime <= 86400 * 7 or not 10 <= child_lifetime <= 86400 * 7:
        raise r.error("ike_lifetime", "lifetimes must be between 60 s (10 s for child) and 7 days")
    staying = parse_staying(table, where)
    dpd_delay = staying.dpd_delay  # one parser for both versions (seconds, or "30s")
    if version == 1:
        _check_ikev1_proposals(r, ike, esp)
    default_name = path.stem if path is not None else "profile"
    return Profile(
        name=r.get("name", str, default_name),
        path=path,
        gateway=gateway,
        port=port,
        local_id=r.parsed("local_id", r.get("local_id", str, required=True), Identity.parse),
        remote_id=remote_id,
        send_remote_id=r.get("send_remote_id", bool, True),
        psk_file=psk_file,
        ike_proposals=tuple(ike),
        esp_proposals=tuple(esp),
        remote_ts=remote_ts,
        request_virtual_ip=r.get("request_virtual_ip", bool, True),
        request_ipv6=r.get("request_ipv6", bool, False),
        accept_split=r.get("accept_split", bool, False),
        block_ipv6=r.get("block_ipv6", bool, True),
        force_encapsulation=r.get("force_encapsulation", bool, True),
        retry_other_ke_group=r.get("retry_other_ke_group", bool, True),
        retransmit=retransmit,
        ike_proposal_text=ike_text,
        esp_proposal_text=esp_text,
        dns=cast(DnsBackend, dns),
        path_mtu=path_mtu,
        nat_keepalive=keepalive,
        replay_window=replay_window,
        leak_protection=leak,
        allow_lan=r.get("allow_lan", bool, False),
        auth=auth,
        version=version,
        mode=mode,
        xauth_user=xauth_user,
        xauth_password_file=xauth_file,
        modecfg=modecfg,
        ike_lifetime=ike_lifetime,
        child_lifetime=child_lifetime,
        dpd_delay=dpd_delay,
        staying=staying,
    )


def _check_ikev1_proposals(r: _Reader, ike: list[ProposalSpec], esp: list[ProposalSpec]) -> None:
    """IKEv1 phase 1 takes AES-CBC or 3DES with an HMAC hash; ESP what the engine does."""
    from ikeclient.errors import UnsupportedAlgorithm  # noqa: PLC0415
    from ikeclient.ike.v1.proposals import phase1_suites, phase2_suites  # noqa: PLC0415

    try:
        phase1_suites(ike, 1)
    except UnsupportedAlgorithm as exc:
        raise r.error("ike_proposals", f"{exc} (IKEv1)") from None
    try:
        phase2_suites(esp)
    except UnsupportedAlgorithm as exc:
        raise r.error("esp_proposals", f"{exc} (IKEv1)") from None


def read_secret_file(
    path: Path, *, what: str = "pre-shared key", owner: int | None = None
) -> bytes:
    """Read a secret from a file of the profile's owner that only they may read (mode 0600
    or stricter); see :func:`ikeclient.config.auth.read_named_file`."""
    data = read_named_file(owner, path, what=f"{what} file", kind="secret").rstrip(b"\r\n")
    if not data:
        raise ConfigError(f"{path}: the {what} file is empty")
    return data


def profiles_dir() -> Path:
    """The user's profile directory: ``$XDG_CONFIG_HOME/ikeclient/profiles`` (XDG base dirs)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ikeclient" / "profiles"


def profile_path(name_or_path: str) -> Path:
    """The file of a profile given as a path, or by name in :func:`profiles_dir`."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    candidate = profiles_dir() / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    raise ConfigError(f"profile {name_or_path!r} not found (neither a file nor {candidate})")


def resolve_profile(name_or_path: str) -> Profile:
    """Load a profile given as a file path, or by name from the user's profile directory."""
    return load_profile(profile_path(name_or_path))


def ikev2_settings(profile: Profile, psk: bytes, auth: AuthSettings | None = None) -> Ikev2Settings:
    """The IKEv2 connection settings a profile describes, with its secret(s).

    ``auth`` carries the loaded certificates, keys and EAP settings
    (:func:`ikeclient.config.credentials.load_auth_settings`); a PSK both ways without it.
    """
    return Ikev2Settings(
        local_id=profile.local_id,
        psk=psk,
        ike_proposals=profile.ike_proposals,
        esp_proposals=profile.esp_proposals,
        remote_id=profile.remote_id,
        send_remote_id=profile.send_remote_id,
        remote_ts=profile.remote_ts,
        request_virtual_ip=profile.request_virtual_ip,
        request_ipv6=profile.request_ipv6,
        force_encapsulation=profile.force_encapsulation,
        retry_other_ke_group=profile.retry_other_ke_group,
        retransmit=profile.retransmit,
        child_name=profile.name,
        auth=auth or AuthSettings(),
        fragmentation=profile.auth.fragmentation,
        fragment_size=profile.auth.fragment_size,
        lifetimes=profile.staying.lifetimes,
        dpd_delay=profile.staying.dpd_delay,
        dpd_timeout=profile.staying.dpd_timeout,
        dead_peer_after=profile.staying.dead_peer_after,
        dead_peer_timeout=profile.staying.dead_peer_timeout,
        mobike=profile.staying.mobike,
    )


def ikev1_settings(profile: Profile, psk: bytes, xauth_password: bytes | None) -> Ikev1Settings:
    """The IKEv1 connection settings a profile describes, with its secrets."""
    return Ikev1Settings(
        local_id=profile.local_id,
        psk=psk,
        ike_proposals=profile.ike_proposals,
        esp_proposals=profile.esp_proposals,
        mode="aggressive" if profile.mode == "aggressive" else "main",
        remote_id=profile.remote_id,
        xauth_user=profile.xauth_user,
        xauth_password=xauth_password,
        modecfg="push" if profile.modecfg == "push" else "pull",
        remote_ts=profile.remote_ts,
        request_virtual_ip=profile.request_virtual_ip,
        force_encapsulation=profile.force_encapsulation,
        retransmit=profile.retransmit,
        ike_lifetime=profile.ike_lifetime,
        child_lifetime=profile.child_lifetime,
        dpd_delay=profile.dpd_delay,
        child_name=profile.name,
    )


def connection_settings(
    profile: Profile,
    psk: bytes,
    xauth_password: bytes | None = None,
    auth: AuthSettings | None = None,
) -> Ikev1Settings | Ikev2Settings:
    """The settings of the profile's IKE version (``version = 1`` or 2)."""
    if profile.version == 1:
        return ikev1_settings(profile, psk, xauth_password)
    return ikev2_settings(profile, psk, auth)
