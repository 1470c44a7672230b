"""strongSwan daemons (charon) for the lab: a gateway and a reference initiator.

Each daemon runs in one lab namespace with its own ``strongswan.conf`` (selected with the
``STRONGSWAN_CONF`` environment variable), its own vici socket, its own log file and its own
``swanctl.conf``, all under a private directory of the lab's work directory.

The daemon binary is ``/usr/sbin/charon-systemd`` (package ``charon-systemd``): it writes no
pid file, so several instances run side by side without private mount namespaces.  If only the
classic ``/usr/lib/ipsec/charon`` exists, it is started in a private mount namespace with its own
``/run`` (it hard-codes ``/var/run/charon.pid``).

The kernel here has XFRM but no ESP algorithms, so every daemon loads ``kernel-libipsec``
(userspace ESP on a TUN called ``ipsec0``) *before* ``kernel-netlink``.  That forces UDP
encapsulation (port 4500) for ESP.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from tests.lab.topology import Lab

__all__ = [
    "PLUGIN_DIR",
    "ClientConfig",
    "ConnectTiming",
    "GatewayConfig",
    "LabError",
    "SaInfo",
    "StrongSwanClient",
    "StrongSwanDaemon",
    "StrongSwanGateway",
    "available_plugins",
    "find_charon",
    "parse_connect_timings",
    "parse_log_lines",
    "parse_vici_pretty",
    "render_conf",
]

PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")
CHARON_SYSTEMD = Path("/usr/sbin/charon-systemd")
CHARON_CLASSIC = Path("/usr/lib/ipsec/charon")

#: Plugins wanted, in load order (kernel-libipsec must precede kernel-netlink).  Plugins that
#: are not installed are left out (e.g. Debian ships no separate chapoly/curve25519 plugin:
#: openssl provides ChaCha20-Poly1305 and X25519).
WANTED_PLUGINS: tuple[str, ...] = (
    "random", "nonce", "drbg", "openssl", "aes", "sha1", "sha2", "md5", "hmac", "xcbc", "gcm",
    "chapoly", "curve25519", "gmp", "mgf1", "kdf", "pem", "pkcs1", "pkcs8", "pubkey", "x509",
    "revocation", "constraints", "attr", "kernel-libipsec", "kernel-netlink", "socket-default",
    "vici", "xauth-generic", "eap-identity", "eap-md5", "eap-mschapv2", "eap-gtc", "eap-tls",
)  # fmt: skip

#: Value type accepted by the config renderers (nested dicts become sections).
ConfValue: TypeAlias = "str | int | bool | Sequence[str] | Mapping[str, ConfValue]"

#: One SA as returned by ``list_sas()``: vici keys of the IKE SA (``state``, ``local-host``,
#: ``remote-port``, ``nat-remote``, ``encr-alg``, ``remote-vips`` ...) plus ``name`` (the
#: connection) and ``children`` (a list of child SA dicts: ``name``, ``state``, ``encap``,
#: ``encr-alg``, ``spi-in``, ``spi-out``, ``local-ts``, ``remote-ts``, ``bytes-in`` ...).
SaInfo: TypeAlias = dict[str, Any]


class LabError(RuntimeError):
    """A lab operation failed (command error, daemon did not start, timeout)."""


def available_plugins(wanted: Iterable[str] = WANTED_PLUGINS) -> list[str]:
    """Return the plugins of ``wanted`` that are installed, in the given order."""
    return [p for p in wanted if (PLUGIN_DIR / f"libstrongswan-{p}.so").exists()]


def find_charon() -> tuple[Path, str]:
    """Return the charon binary to use and its strongswan.conf namespace."""
    if CHARON_SYSTEMD.exists():
        return CHARON_SYSTEMD, "charon-systemd"
    if CHARON_CLASSIC.exists():
        return CHARON_CLASSIC, "charon"
    raise LabError("no charon found: run scripts/setup.sh (package charon-systemd)")


# --------------------------------------------------------------------------------------------
# Config rendering


def _render_value(value: ConfValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ", ".join(value)
    raise TypeError(f"not a scalar: {value!r}")


def render_conf(settings: Mapping[str, ConfValue], indent: int = 0) -> str:
    """Render nested settings in strongSwan's ``key = value`` / ``section { }`` syntax."""
    pad = "    " * indent
    out: list[str] = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.append(f"{pad}{key} {{")
            out.append(render_conf(value, indent + 1))
            out.append(f"{pad}}}")
        else:
            text = _render_value(value)
            if "\n" in text:
                raise ValueError(f"newline in setting {key}")
            out.append(f"{pad}{key} = {text}")
    return "\n".join(line for line in out if line)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``extra`` into a copy of ``base`` (extra wins)."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merge(dict(result[key]), value)
        else:
            result[key] = value
    return result


def _quote(secret: str) -> str:
    if any(c in secret for c in '"\\\n'):
        raise ValueError("PSK must not contain quotes, backslashes or newlines")
    return f'"{secret}"'


# --------------------------------------------------------------------------------------------
# Output / log parsing


def parse_vici_pretty(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse ``swanctl --pretty`` output into ``(label, message)`` pairs.

    Sections become dicts, lists become lists of strings, key/values strings.
    """
    messages: list[tuple[str, dict[str, Any]]] = []
    stack: list[dict[str, Any]] = []
    current_list: list[str] | None = None
    label = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if current_list is not None:
            if line == "]":
                current_list = None
            else:
                current_list.append(line)
            continue
        if " = " in line:
            key, value = line.split(" = ", 1)
            if not stack:
                continue
            if value == "[":
                current_list = []
                stack[-1][key] = current_list
            else:
                stack[-1][key] = value
        elif line.endswith(" {"):
            name = line[:-2]
            section: dict[str, Any] = {}
            if stack:
                stack[-1][name] = section
            else:
                label = name
            stack.append(section)
        elif line == "}":
            if not stack:
                continue
            done = stack.pop()
            if not stack:
                messages.append((label, done))
        # anything else (swanctl chatter outside messages) is ignored
    return messages


def _sas_from_messages(messages: list[tuple[str, dict[str, Any]]]) -> list[SaInfo]:
    sas: list[SaInfo] = []
    for label, message in messages:
        if label != "list-sa event":
            continue
        for name, ike in message.items():
            if not isinstance(ike, dict):
                continue
            sa: SaInfo = {"name": name, **ike}
            children = ike.get("child-sas", {})
            sa["children"] = [
                {"key": key, **child}
                for key, child in (children.items() if isinstance(children, dict) else [])
                if isinstance(child, dict)
            ]
            sas.append(sa)
    return sas


_LOG_LINE = re.compile(
    r"^(?P<ts>\d+\.\d{3}) (?P<thread>\d+)\[(?P<group>[A-Z]+)\] "
    r"(?:<(?:(?P<sa>[^>|]*)\|)?(?P<sa_id>\d+)> )?(?P<msg>.*)$"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One charon log line (our filelog format: ``EPOCH.mmm TT[GRP] <conn|N> message``)."""

    time_ms: int  #: Unix time in milliseconds
    group: str
    sa_name: str | None
    sa_id: int | None
    message: str

    @property
    def time(self) -> float:
        """Unix time in seconds."""
        return self.time_ms / 1000


def parse_log_lines(text: str) -> list[LogLine]:
    """Parse the lines of a lab charon log (continuation lines without a prefix are skipped)."""
    lines: list[LogLine] = []
    for raw in text.splitlines():
        m = _LOG_LINE.match(raw)
        if not m:
            continue
        sa_id = m.group("sa_id")
        lines.append(
            LogLine(
                time_ms=int(m.group("ts").replace(".", "")),
                group=m.group("group"),
                sa_name=m.group("sa"),
                sa_id=int(sa_id) if sa_id is not None else None,
                message=m.group("msg"),
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class ConnectTiming:
    """In-daemon connect time of one IKE SA (from the initiator's log).

    ``start``: the IKE_SA_INIT request was sent; ``end``: the first CHILD_SA was installed
    ("CHILD_SA ... established").  Millisecond resolution (charon's log timestamps).
    """

    sa_id: int
    start_ms: int  #: Unix time in milliseconds
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.duration_ms / 1000

    @property
    def start(self) -> float:
        return self.start_ms / 1000

    @property
    def end(self) -> float:
        return self.end_ms / 1000


_CHILD_UP = re.compile(r"^CHILD_SA \S+ established")


def parse_connect_timings(text: str) -> list[ConnectTiming]:
    """Extract one :class:`ConnectTiming` per IKE SA that got its first child SA up."""
    init_generated: set[int] = set()
    started: dict[int, int] = {}
    done: set[int] = set()
    timings: list[ConnectTiming] = []
    for line in parse_log_lines(text):
        if line.sa_id is None:
            continue
        sid = line.sa_id
        if line.message.startswith("generating IKE_SA_INIT request"):
            init_generated.add(sid)
        elif line.message.startswith("sending packet") and sid in init_generated:
            started.setdefault(sid, line.time_ms)
        elif _CHILD_UP.match(line.message) and sid in started and sid not in done:
            done.add(sid)
            timings.append(ConnectTiming(sid, started[sid], line.time_ms))
    return timings


# --------------------------------------------------------------------------------------------
# Configurations

DEFAULT_PSK = "ikeclient-lab-psk-0123456789"
DEFAULT_IKE_PROPOSALS = ("aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048")
DEFAULT_ESP_PROPOSALS = ("aes256gcm16", "aes256-sha256")
DEFAULT_LOG_LEVELS: Mapping[str, int] = {
    "default": 1,
    "ike": 2,
    "cfg": 1,
    "knl": 1,
    "net": 1,
    "enc": 1,
}


@dataclass(frozen=True)
class DaemonOptions:
    """Settings common to both daemons."""

    log_levels: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LOG_LEVELS))
    #: Extra plugins to load (only if installed), appended to :data:`WANTED_PLUGINS`.
    extra_plugins: tuple[str, ...] = ()
    #: Passthrough merged into the daemon's strongswan.conf section (e.g.
    #: ``{"retransmit_timeout": "1.0", "plugins": {"kernel-libipsec": {...}}}``).
    charon_extra: Mapping[str, Any] = field(default_factory=dict)
    #: Files for swanctl's credential directories, by path relative to the daemon's directory
    #: (which is swanctl's base directory, as ``--file`` points there): ``x509/gw.pem``,
    #: ``private/gw.key``, ``x509ca/ca.pem``, ``x509crl/ca.crl``.  Loaded by ``--load-all``.
    credentials: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayConfig(DaemonOptions):
    """The lab gateway (IKE responder).  ``None`` fields take the lab's values."""

    psk: str = DEFAULT_PSK
    gateway_id: str = "gw.ike.lab"
    client_id: str = "client@ike.lab"
    ike_proposals: tuple[str, ...] = DEFAULT_IKE_PROPOSALS
    esp_proposals: tuple[str, ...] = DEFAULT_ESP_PROPOSALS
    #: Virtual IP pool (CIDR) handed out; default: ``lab.pool``.
    pool: str | None = None
    #: DNS servers handed out; default: ``lab.dns_servers``.
    dns: tuple[str, ...] | None = None
    #: Traffic selector on the gateway side; default: ``lab.server_subnet``.
    local_ts: tuple[str, ...] | None = None
    version: int = 2
    connection_name: str = "lab"
    child_name: str = "net"
    # Lifetimes / liveness (swanctl syntax, e.g. "1h", "30s"; None = strongSwan default).
    rekey_time: str | None = None
    reauth_time: str | None = None
    over_time: str | None = None
    dpd_delay: str | None = None
    dpd_timeout: str | None = None
    child_rekey_time: str | None = None
    child_life_time: str | None = None
    #: Passthroughs merged into swanctl.conf: the connection, its child, local and remote.
    connection_extra: Mapping[str, Any] = field(default_factory=dict)
    child_extra: Mapping[str, Any] = field(default_factory=dict)
    local_extra: Mapping[str, Any] = field(default_factory=dict)
    remote_extra: Mapping[str, Any] = field(default_factory=dict)
    #: Raw text appended inside ``secrets { }`` (e.g. EAP/XAUTH users).
    secrets_extra: str = ""
    #: Passthrough merged into the pool (e.g. ``{"split_include": "...", "28674": "dom"}``).
    pool_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientConfig(DaemonOptions):
    """strongSwan as initiator in the client namespace (reference client)."""

    psk: str = DEFAULT_PSK
    gateway_id: str = "gw.ike.lab"
    client_id: str = "client@ike.lab"
    ike_proposals: tuple[str, ...] = DEFAULT_IKE_PROPOSALS
    esp_proposals: tuple[str, ...] = DEFAULT_ESP_PROPOSALS
    #: Gateway address; default: ``lab.gateway_addr``.
    remote_addr: str | None = None
    #: Remote traffic selector; default: ``lab.server_subnet``.
    remote_ts: tuple[str, ...] | None = None
    #: Request a virtual IP (``vips = 0.0.0.0``).
    request_vip: bool = True
    version: int = 2
    connection_name: str = "lab"
    child_name: str = "net"
    connection_extra: Mapping[str, Any] = field(default_factory=dict)
    child_extra: Mapping[str, Any] = field(default_factory=dict)
    local_extra: Mapping[str, Any] = field(default_factory=dict)
    remote_extra: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Daemons


class StrongSwanDaemon:
    """One charon instance in one lab namespace, driven with ``swanctl --uri``."""

    def __init__(self, lab: Lab, ns: str, name: str, options: DaemonOptions) -> None:
        self.lab = lab
        self.ns = ns
        self.options = options
        dirname, n = name, 1
        while (lab.workdir / dirname).exists():  # a restarted daemon keeps the old logs
            n += 1
            dirname = f"{name}-{n}"
        self.name = dirname
        self.dir: Path = lab.workdir / dirname
        self.dir.mkdir(mode=0o700)
        self.strongswan_conf = self.dir / "strongswan.conf"
        self.swanctl_conf = self.dir / "swanctl.conf"
        self.log_path = self.dir / "charon.log"
        self.stdout_path = self.dir / "charon.stdout"
        self.socket_path = self.dir / "charon.vici"
        self.uri = f"unix://{self.socket_path}"
        self.binary, self.conf_ns = find_charon()
        self.proc: subprocess.Popen[bytes] | None = None

    # -- configuration -----------------------------------------------------------------------

    def charon_settings(self) -> dict[str, Any]:
        plugins = available_plugins((*WANTED_PLUGINS, *self.options.extra_plugins))
        missing = [p for p in ("kernel-libipsec", "kernel-netlink", "vici") if p not in plugins]
        if missing:
            raise LabError(f"strongSwan plugins missing: {missing} (run scripts/setup.sh)")
        levels: dict[str, Any] = {str(k): int(v) for k, v in self.options.log_levels.items()}
        settings: dict[str, Any] = {
            "load": " ".join(plugins),
            "install_routes": True,
            "install_virtual_ip": True,
            "filelog": {
                "lab": {
                    "path": str(self.log_path),
                    "time_format": "%s",
                    "time_add_ms": True,
                    "ike_name": True,
                    "append": False,
                    "flush_line": True,
                    **levels,
                }
            },
            "journal": {"default": -1},
            "plugins": {"vici": {"socket": self.uri}},
        }
        return _merge(settings, self.options.charon_extra)

    def swanctl_text(self) -> str:
        raise NotImplementedError

    def write_config(self) -> None:
        conf = render_conf({self.conf_ns: self.charon_settings()})
        self.strongswan_conf.write_text(conf + "\n")
        self.swanctl_conf.write_text(self.swanctl_text())
        os.chmod(self.swanctl_conf, 0o600)
        for relative, data in self.options.credentials.items():
            path = self.dir / relative
            if self.dir not in path.resolve().parents:
                raise LabError(f"credential path {relative!r} leaves the daemon directory")
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o600)

    # -- process -----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Write the configuration, start charon, wait for vici and load swanctl.conf."""
        self.write_config()
        env = {"STRONGSWAN_CONF": str(self.strongswan_conf)}
        argv: list[str]
        if self.conf_ns == "charon":
            # Classic charon writes /var/run/charon.pid: give it a private /run.
            run_dir = self.dir / "run"
            run_dir.mkdir()
            argv = [
                "unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" /run && exec "$2"', "sh", str(run_dir), str(self.binary),
            ]  # fmt: skip
        else:
            argv = [str(self.binary)]
        with self.stdout_path.open("wb") as out:
            self.proc = self.lab.popen(self.ns, argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise LabError(
                    f"{self.name}: charon exited with {self.proc.returncode}\n{self.log_text()}"
                )
            if self.socket_path.exists():
                res = self.swanctl("--stats", check=False, timeout=5)
                if res.returncode == 0:
                    break
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: vici did not come up\n{self.log_text()}")
            time.sleep(0.02)
        self.load()

    def load(self) -> None:
        """(Re)load swanctl.conf (connections, pools, secrets)."""
        self.swanctl("--load-all", "--noprompt", "--file", str(self.swanctl_conf))

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the daemon (by PID), SIGKILL after ``timeout``."""
        if self.proc is not None:
            self.lab.stop_process(self.proc, timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- swanctl -----------------------------------------------------------------------------

    def swanctl(
        self, *args: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``swanctl ARGS --uri unix://...`` (the socket is a path: no netns needed)."""
        argv = ["swanctl", *args, "--uri", self.uri]
        env = dict(os.environ, STRONGSWAN_CONF=str(self.strongswan_conf))
        try:
            res = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{self.name}: {' '.join(argv)} timed out after {timeout}s") from exc
        if check and res.returncode != 0:
            raise LabError(
                f"{self.name}: {' '.join(argv)} failed ({res.returncode}):\n"
                f"{res.stdout}{res.stderr}"
            )
        return res

    def list_sas(self) -> list[SaInfo]:
        """Current IKE SAs with their child SAs (see :data:`SaInfo`)."""
        res = self.swanctl("--list-sas", "--pretty", timeout=10)
        return _sas_from_messages(parse_vici_pretty(res.stdout))

    def wait_for_sa(
        self,
        predicate: Callable[[list[SaInfo]], bool] | None = None,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> list[SaInfo]:
        """Poll ``list_sas()`` until ``predicate(sas)`` is true; return the SA list.

        The default predicate waits for an ESTABLISHED IKE SA with an INSTALLED child SA.
        """
        pred = predicate or _established_with_child
        deadline = time.monotonic() + timeout
        while True:
            sas = self.list_sas()
            if pred(sas):
                return sas
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: SA condition not met in {timeout}s; SAs: {sas}")
            time.sleep(interval)

    def wait_for_no_sa(self, timeout: float = 10.0) -> None:
        self.wait_for_sa(lambda sas: not sas, timeout)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self) -> list[LogLine]:
        return parse_log_lines(self.log_text())


def _established_with_child(sas: list[SaInfo]) -> bool:
    return any(
        sa.get("state") == "ESTABLISHED"
        and any(c.get("state") == "INSTALLED" for c in sa["children"])
        for sa in sas
    )


class StrongSwanGateway(StrongSwanDaemon):
    """The IKE responder in the gateway namespace."""

    def __init__(self, lab: Lab, config: GatewayConfig) -> None:
        super().__init__(lab, lab.gateway_ns, "gateway", config)
        self.config = config

    def swanctl_text(self) -> str:
        c = self.config
        lab = self.lab
        child: dict[str, Any] = {
            "local_ts": list(c.local_ts or (lab.server_subnet,)),
            "esp_proposals": list(c.esp_proposals),
        }
        if c.child_rekey_time is not None:
            child["rekey_time"] = c.child_rekey_time
        if c.child_life_time is not None:
            child["life_time"] = c.child_life_time
        conn: dict[str, Any] = {
            "version": c.version,
            "local_addrs": lab.gateway_addr,
            "proposals": list(c.ike_proposals),
            "pools": "labpool",
            "send_certreq": False,
            "local": _merge({"auth": "psk", "id": c.gateway_id}, c.local_extra),
            "remote": _merge({"auth": "psk", "id": c.client_id}, c.remote_extra),
            "children": {c.child_name: _merge(child, c.child_extra)},
        }
        for key in ("rekey_time", "reauth_time", "over_time", "dpd_delay", "dpd_timeout"):
            value = getattr(c, key)
            if value is not None:
                conn[key] = value
        conn = _merge(conn, c.connection_extra)
        pool = _merge(
            {"addrs": c.pool or lab.pool, "dns": list(c.dns or lab.dns_servers)}, c.pool_extra
        )
        text = render_conf({"connections": {c.connection_name: conn}, "pools": {"labpool": pool}})
        secrets = (
            "secrets {\n    ike-lab {\n"
            f"        id-gw = {c.gateway_id}\n        id-client = {c.client_id}\n"
            f"        secret = {_quote(c.psk)}\n    }}\n"
            + (f"{c.secrets_extra.rstrip()}\n" if c.secrets_extra.strip() else "")
            + "}\n"
        )
        return text + "\n" + secrets

    def ike_sas(self) -> list[SaInfo]:
        return self.list_sas()


class StrongSwanClient(StrongSwanDaemon):
    """strongSwan as IKE initiator in the client namespace (kernel-libipsec, own TUN).

    Can initiate and terminate repeatedly; :meth:`connect_timings` reads the in-daemon connect
    time of each IKE SA from its log, :meth:`initiate` returns the ``swanctl`` wall time.
    """

    def __init__(self, lab: Lab, config: ClientConfig, name: str = "refclient") -> None:
        super().__init__(lab, lab.client_ns, name, config)
        self.config = config

    def swanctl_text(self) -> str:
        c = self.config
        lab = self.lab
        child: dict[str, Any] = {
            "remote_ts": list(c.remote_ts or (lab.server_subnet,)),
            "esp_proposals": list(c.esp_proposals),
            "start_action": "none",
        }
        conn: dict[str, Any] = {
            "version": c.version,
            "local_addrs": lab.client_addr,
            "remote_addrs": c.remote_addr or lab.gateway_addr,
            "proposals": list(c.ike_proposals),
            "send_certreq": False,
            "local": _merge({"auth": "psk", "id": c.client_id}, c.local_extra),
            "remote": _merge({"auth": "psk", "id": c.gateway_id}, c.remote_extra),
            "children": {c.child_name: _merge(child, c.child_extra)},
        }
        if c.request_vip:
            conn["vips"] = "0.0.0.0"
        conn = _merge(conn, c.connection_extra)
        text = render_conf({"connections": {c.connection_name: conn}})
        secrets = (
            "secrets {\n    ike-lab {\n"
            f"        id-gw = {c.gateway_id}\n        id-client = {c.client_id}\n"
            f"        secret = {_quote(c.psk)}\n    }}\n}}\n"
        )
        return text + "\n" + secrets

    def initiate(self, child: str | None = None, timeout: float = 15.0) -> float:
        """``swanctl --initiate --child CHILD``; return its wall time in seconds.

        Raises :class:`LabError` if the connection fails.
        """
        child = child or self.config.child_name
        t0 = time.perf_counter()
        self.swanctl(
            "--initiate", "--child", child, "--ike", self.config.connection_name,
            "--timeout", str(int(timeout)), "--loglevel", "-1", timeout=timeout + 5,
        )  # fmt: skip
        return time.perf_counter() - t0

    def terminate(self, ike: str | None = None, timeout: float = 15.0) -> float:
        """Terminate all IKE SAs of the connection (waits for the DELETE exchange)."""
        ike = ike or self.config.connection_name
        if not self.list_sas():
            return 0.0
        t0 = time.perf_counter()
        self.swanctl(
            "--terminate", "--ike", ike, "--timeout", str(int(timeout)), "--loglevel", "-1",
            timeout=timeout + 5,
        )  # fmt: skip
        return time.perf_counter() - t0

    def connect_timings(self) -> list[ConnectTiming]:
        """In-daemon connect times (IKE_SA_INIT sent → CHILD_SA established), oldest first."""
        return parse_connect_timings(self.log_text())

    def virtual_ips(self) -> list[str]:
        """Virtual IPs of the current IKE SAs (``local-vips``)."""
        return [ip for sa in self.list_sas() for ip in sa.get("local-vips", [])]


def have_strongswan() -> bool:
    """True if charon, swanctl and kernel-libipsec are installed."""
    try:
        find_charon()
    except LabError:
        return False
    return shutil.which("swanctl") is not None and bool(available_plugins(("kernel-libipsec",)))
