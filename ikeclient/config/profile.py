"""Connection profiles: TOML files validated at load time.

Every error names the file, the key and the reason, e.g.
``lab.toml: ike_proposals[0]: unknown algorithm keyword 'aes999'``.
The schema is documented in README.md ("Profiles").
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from ikeclient.errors import ConfigError
from ikeclient.ike.events import TrafficSelectorRange
from ikeclient.ike.identity import Identity
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v2.settings import Ikev2Settings, RetransmitPolicy
from ikeclient.net.dns import DnsBackend

from .proposals import parse_proposal
from .staying import FLAT_KEYS as STAYING_KEYS
from .staying import StayingConnected, parse_staying

T = TypeVar("T")

DEFAULT_IKE_PROPOSALS = ("aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048")
DEFAULT_ESP_PROPOSALS = ("aes256gcm16", "aes256-sha256")

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
    *STAYING_KEYS,
}
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
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read profile: {exc.strerror}") from None
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return profile_from_table(table, where=where, path=path)


def profile_from_table(table: dict[str, Any], *, where: str, path: Path | None = None) -> Profile:
    """Validate a parsed profile table."""
    r = _Reader(where, table)
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise r.error(unknown[0], f"unknown key (known keys: {', '.join(sorted(_KEYS))})")
    version = r.get("version", int, 2)
    if version != 2:
        raise r.error("version", f"IKE version {version} is not supported yet (only 2)")
    auth = r.get("auth", str, "psk")
    if auth != "psk":
        raise r.error("auth", f"{auth!r} is not supported yet (only 'psk')")
    port = r.get("port", int, 500)
    if not 1 <= port <= 65535:
        raise r.error("port", f"{port} is not a UDP port")
    gateway = r.get("gateway", str, required=True).strip()
    if not gateway:
        raise r.error("gateway", "is empty")
    allow_legacy = r.get("allow_legacy", bool, False)
    ike_text = r.strings("ike_proposals", DEFAULT_IKE_PROPOSALS)
    esp_text = r.strings("esp_proposals", DEFAULT_ESP_PROPOSALS)
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
        force_encapsulation=r.get("force_encapsulation", bool, True),
        retry_other_ke_group=r.get("retry_other_ke_group", bool, True),
        retransmit=retransmit,
        ike_proposal_text=ike_text,
        esp_proposal_text=esp_text,
        dns=cast(DnsBackend, dns),
        path_mtu=path_mtu,
        nat_keepalive=keepalive,
        replay_window=replay_window,
        staying=parse_staying(table, where),
    )


def read_secret_file(path: Path, *, what: str = "pre-shared key") -> bytes:
    """Read a secret from a file that only its owner may read (mode 0600 or stricter)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the {what} file is readable by others; run: chmod 600 {path}")
    if st.st_uid != os.geteuid() and os.geteuid() != 0:
        raise ConfigError(f"{path}: the {what} file belongs to another user")
    data = path.read_bytes().rstrip(b"\r\n")
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


def ikev2_settings(profile: Profile, psk: bytes) -> Ikev2Settings:
    """The IKEv2 connection settings a profile describes, with its secret."""
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
        lifetimes=profile.staying.lifetimes,
        dpd_delay=profile.staying.dpd_delay,
        dpd_timeout=profile.staying.dpd_timeout,
        mobike=profile.staying.mobike,
    )
