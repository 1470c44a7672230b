"""``ikeclient up``: connect, bring the tunnel up, stay until told to stop, put everything back.

Privileges. The TUN device, addresses and routes need CAP_NET_ADMIN, while the keyring
belongs to the person who typed the command. So ``up`` reads the secret first, as the
invoking user (keyring, ``psk_file`` or a prompt; the EAP password and the private key's
passphrase the same way), and only then needs privileges: run as
root (or with CAP_NET_ADMIN) it goes on itself; run as a normal user at a terminal it starts
its privileged half through ``sudo`` and hands it the secret over a pipe (standard input),
never through an argument or the environment. Without a terminal it says what to run.

Lifecycle. SIGINT/SIGTERM: Delete the IKE SA at the gateway, undo the host changes, exit
(within 2 s). SIGHUP: the same, then connect again. A crash or ``kill -9``: the undo
journal on disk is replayed at the next start. ``--detach`` runs the connection in the
background once it is up; ``ikeclient status`` and ``ikeclient down`` find it through the
state directory.
"""

from __future__ import annotations

import asyncio
import getpass
import ipaddress
import os
import shutil
import signal
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ikeclient.config.credentials import ProfileSecrets, load_auth_settings
from ikeclient.config.profile import Profile, connection_settings, profile_path, resolve_profile
from ikeclient.errors import IkeClientError, PrivilegeError
from ikeclient.esp.sa import SaLimits
from ikeclient.exitcodes import ExitCode, exit_code_for
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    IkeEvent,
    IkeSaAddressesUpdated,
    IkeSaClosed,
    IkeSaEstablished,
    IkeSaRekeyed,
)
from ikeclient.ike.v1.connection import Ikev1Connection
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.net import firewall
from ikeclient.net.host import check_privileges
from ikeclient.net.journal import UndoJournal, recover_stale
from ikeclient.runtime.process import disable_core_dumps
from ikeclient.runtime.session import IkeSession, ReconnectPolicy
from ikeclient.runtime.state import StateFiles
from ikeclient.runtime.tunnel import TunnelOptions
from ikeclient.secretstore import encode_secrets, load_secrets, read_secret_stream

if TYPE_CHECKING:
    from ikeclient.runtime.keylog import KeyLog

STATUS_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class UpRequest:
    profile: str
    once: bool
    verbose: int
    state_dir: Path
    detach: bool
    keylog: Path | None
    secret_stdin: bool


def has_net_admin() -> bool:
    try:
        check_privileges()
    except PrivilegeError:
        return False
    return True


def run_up(req: UpRequest) -> int:
    """The whole ``up`` command; returns the exit code (errors are raised as IkeClientError)."""
    disable_core_dumps()  # before the first secret is read
    profile = resolve_profile(req.profile)
    for warning in profile.warnings:
        typer.echo(f"ikeclient: warning: {warning}", err=True)
    if req.secret_stdin:
        secrets = read_secret_stream()
    else:
        interactive = sys.stdin.isatty()
        secrets = load_secrets(profile, prompt=getpass.getpass if interactive else None)
        if not has_net_admin():
            if interactive and shutil.which("sudo") and os.geteuid() != 0:
                return _run_privileged_half(req, profile, secrets)
            raise PrivilegeError(
                "ikeclient up needs CAP_NET_ADMIN for the TUN device, addresses and routes: "
                f"run it from a terminal (it asks sudo for that part) or as root: "
                f"sudo ikeclient up {req.profile}"
            )
    check_privileges()
    # Certificates, keys and CAs are read now, so a bad file stops us before anything changes.
    auth = load_auth_settings(profile.auth, profile.local_id, secrets)
    settings = connection_settings(profile, secrets.psk, secrets.xauth, auth)
    files = StateFiles(req.state_dir, profile.name)
    files.prepare()  # a state directory someone else controls stops us before anything else
    # A leak-protected start leaves the table of a run that died in place (fail-closed after
    # kill -9): it journals it as its own and its table replaces it in one transaction, so
    # nothing leaves outside the tunnel in between. Not for a gateway named by a host name:
    # looking it up first is DNS, which that table would refuse.
    leave = (firewall.UNDO_OP,) if profile.leak_protected and _is_address(profile.gateway) else ()
    recovered = recover_stale(req.state_dir, leave=leave)
    for name in recovered:
        typer.echo(f"restored the host changes left by an earlier run that died ({name})")
    notify = _detach(files) if req.detach else None
    files.claim()
    if leave and recovered:
        journal = UndoJournal.for_connection(profile.name, req.state_dir)
        firewall.adopt(journal)
        journal.close()
    try:
        return asyncio.run(_connect(profile, settings, req, files, notify))
    finally:
        files.release()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: The only environment the privileged half gets (sudo resets most of it anyway).
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_KEPT_ENV = ("TERM", "LANG", "LC_ALL", "LC_CTYPE", "NO_COLOR")


def privileged_command(req: UpRequest, profile_file: Path) -> list[str]:
    """The argv that runs ``up``'s privileged half through sudo.

    The interpreter runs isolated (``-I``: neither the current directory nor PYTHON*
    variables nor the user's site directory reach ``sys.path``), so no module another user
    planted where the person happens to be can run as root. Paths are absolute: the child
    starts in ``/``.
    """
    sudo = shutil.which("sudo", path=SAFE_PATH) or "sudo"
    # The same program again: this zipapp (the portable build), or the installed package.
    me = os.path.abspath(sys.argv[0])
    program = [me] if zipfile.is_zipfile(me) else ["-m", "ikeclient"]
    argv = [sudo, "--", sys.executable, "-I", *program, "up", str(profile_file)]
    argv += ["--secret-stdin", "--state-dir", str(req.state_dir.resolve())]
    argv += ["-v"] * req.verbose
    if req.once:
        argv.append("--once")
    if req.detach:
        argv.append("--detach")
    if req.keylog is not None:
        argv += ["--keylog", str(req.keylog.resolve())]
    return argv


def privileged_environment() -> dict[str, str]:
    """A minimal environment for sudo and the privileged half: a fixed PATH, the terminal
    and locale settings; nothing that changes how Python or ikeclient loads code."""
    env = {"PATH": SAFE_PATH}
    env.update({k: os.environ[k] for k in _KEPT_ENV if k in os.environ})
    return env


def _run_privileged_half(req: UpRequest, profile: Profile, secrets: ProfileSecrets) -> int:
    """Run ``up`` again under sudo; the secret goes over standard input, never argv/env."""
    import subprocess  # noqa: PLC0415

    argv = privileged_command(req, profile_path(req.profile).resolve())
    typer.echo("ikeclient: the tunnel needs CAP_NET_ADMIN; asking sudo for it", err=True)
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, cwd="/", env=privileged_environment()
    ) as child:
        assert child.stdin is not None
        child.stdin.write(encode_secrets(secrets))
        child.stdin.close()
        try:
            return child.wait()
        except KeyboardInterrupt:  # sudo passes the signal on; wait for the cleanup
            return child.wait()


def _detach(files: StateFiles) -> int:
    """Fork into the background; the parent exits once the child reports the tunnel up.

    Returns, in the child, the pipe to report on: ``up`` or ``fail CODE MESSAGE``.
    """
    log = files.open_log()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(write_end)
        os.close(log)
        with os.fdopen(read_end, "rb") as pipe:
            line = pipe.readline().decode("utf-8", "replace").strip()
        if line == "up":
            typer.echo(f"{files.name}: up in the background (pid {pid}, log {files.log_file})")
            os._exit(0)
        code, _, message = line.removeprefix("fail ").partition(" ")
        typer.echo(f"ikeclient: error: {message or 'the connection failed'}", err=True)
        os._exit(int(code) if code.isdigit() else int(ExitCode.INTERNAL_ERROR))
    os.close(read_end)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    return write_end


def _tell(notify: int | None, message: str) -> int | None:
    if notify is not None:
        try:
            os.write(notify, message.encode() + b"\n")
        finally:
            os.close(notify)
    return None


class Reporter:
    """Live progress of each phase with its time, then a summary; keeps the status file."""

    def __init__(self, profile: Profile, files: StateFiles, keylog: KeyLog | None) -> None:
        self.profile = profile
        self.files = files
        self.keylog = keylog
        self.start = time.monotonic()
        self.started_wall = time.time()
        self.session: IkeSession | None = None
        self.tunnel_ready = asyncio.Event()
        self.ike: dict[str, Any] = {}
        self.config: ConfigReceived | None = None

    def line(self, phase: str, detail: str) -> None:
        ms = (time.monotonic() - self.start) * 1000
        typer.echo(f"{phase:12} {ms:8.1f} ms  {detail}")

    def progress(self, phase: str, detail: str) -> None:
        self.line(phase, detail)

    def event(self, event: IkeEvent) -> None:
        session = self.session
        if isinstance(event, IkeSaEstablished):
            self.ike = {
                "spi_i": event.spi_i.hex(),
                "spi_r": event.spi_r.hex(),
                "algorithms": event.algorithms,
                "remote_identity": event.remote_identity,
                "local": f"{event.local.host}:{event.local.port}",
                "remote": f"{event.remote.host}:{event.remote.port}",
                "behind_nat": event.local_behind_nat,
                "udp_encapsulation": event.udp_encapsulation,
                "established": time.time(),
            }
            self.line("IKE_AUTH", f"authenticated {event.remote_identity}")
            self._log_ike_keys()
        elif isinstance(event, ConfigReceived):
            self.config = event
            addrs = ", ".join(str(a) for a in event.addresses) or "none"
            dns = ", ".join(str(a) for a in event.dns_servers) or "none"
            self.line("config", f"virtual IP {addrs}, DNS {dns}")
        elif isinstance(event, ChildSaEstablished):
            if self.keylog is not None:
                self.keylog.write_child_sa(
                    spi_in=event.spi_in,
                    spi_out=event.spi_out,
                    encr_id=event.encr_id,
                    encr_key_bits=event.encr_key_bits,
                    integ_id=event.integ_id,
                    encr_key_in=event.keys.encr_in,
                    integ_key_in=event.keys.integ_in,
                    encr_key_out=event.keys.encr_out,
                    integ_key_out=event.keys.integ_out,
                )
            if event.rekeyed_spi_in is not None:
                by_gateway = event.started_by_gateway
                if by_gateway is None:
                    by_gateway = event.outbound_deferred
                who = "gateway" if by_gateway else "us"
                self.line(
                    "child rekey",
                    f"{event.rekeyed_spi_in:08x} -> in {event.spi_in:08x} out "
                    f"{event.spi_out:08x} (by {who}), {event.algorithms}",
                )
                self.write_status()
                return
            self.line(
                "child SA",
                f"{event.algorithms}, SPIs in {event.spi_in:08x} out {event.spi_out:08x}, "
                f"{', '.join(map(str, event.local_ts))} <=> {', '.join(map(str, event.remote_ts))}",
            )
            tunnel = session.tunnel if session is not None else None
            if (
                tunnel is not None
                and tunnel.tun_name is not None
                and not self.tunnel_ready.is_set()
            ):
                self.line("TUN", f"{tunnel.tun_name} mtu {tunnel.mtu}")
                routes = ", ".join(str(r) for r in tunnel.routes) or "none"
                if tunnel.blocked:
                    routes += "; unreachable " + ", ".join(str(r) for r in tunnel.blocked)
                self.line("routes", routes)
                servers = self.config.dns_servers if self.config is not None else ()
                names = ", ".join(map(str, servers)) or "none"
                self.line("DNS", f"{names} (via {tunnel.dns_backend})")
                self.tunnel_ready.set()
            self.write_status()
        elif isinstance(event, ChildSaDeleted):
            if not event.rekeyed:
                self.line("child SA", f"{event.spi_in:08x} deleted: {event.reason}")
        elif isinstance(event, IkeSaRekeyed):
            who = "us" if event.we_initiated else "gateway"
            self.line(
                "IKE rekey",
                f"{event.old_spi_i.hex()}_i -> {event.spi_i.hex()}_i {event.spi_r.hex()}_r "
                f"(by {who}), {event.algorithms}",
            )
            self.ike.update(spi_i=event.spi_i.hex(), spi_r=event.spi_r.hex())
            self._log_ike_keys()
            self.write_status()
        elif isinstance(event, IkeSaAddressesUpdated):
            self.line(
                "MOBIKE",
                f"now {event.local.host}:{event.local.port} <=> "
                f"{event.remote.host}:{event.remote.port}"
                f"{', behind NAT' if event.local_behind_nat else ''}",
            )
            self.ike["local"] = f"{event.local.host}:{event.local.port}"
            self.write_status()
        elif isinstance(event, IkeSaClosed) and event.error is None:
            session = self.session
            if session is None or not session.reconnecting:  # else a "reconnect" line says it
                self.line("closed", event.reason)

    def _log_ike_keys(self) -> None:
        session = self.session
        if self.keylog is None or session is None or session.connection is None:
            return
        sa = session.connection.ike_sa
        if sa is None:
            return
        self.keylog.write_ike_sa(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            encr_id=sa.chosen.encr.id,
            encr_key_bits=sa.chosen.encr.key_bits,
            integ_id=sa.chosen.integ,
            sk_ei=sa.keys.sk_ei,
            sk_er=sa.keys.sk_er,
            sk_ai=sa.keys.sk_ai,
            sk_ar=sa.keys.sk_ar,
        )

    def status(self) -> dict[str, Any]:
        """The status document ``ikeclient status`` shows (never a secret in it)."""
        session = self.session
        tunnel = session.tunnel if session is not None else None
        conn = session.connection if session is not None else None
        children = []
        if tunnel is not None:
            for child in tunnel.children:
                try:
                    stats = tunnel.engine.stats(child.spi_in)
                except KeyError:
                    continue
                children.append(
                    {
                        "name": child.name,
                        "spi_in": f"{child.spi_in:08x}",
                        "spi_out": f"{child.spi_out:08x}",
                        "algorithms": child.algorithms,
                        "local_ts": [str(t) for t in child.local_ts],
                        "remote_ts": [str(t) for t in child.remote_ts],
                        "packets_in": stats.packets_in,
                        "bytes_in": stats.bytes_in,
                        "packets_out": stats.packets_out,
                        "bytes_out": stats.bytes_out,
                    }
                )
        config = self.config
        return {
            "profile": self.profile.name,
            "pid": os.getpid(),
            "gateway": f"{self.profile.gateway}:{self.profile.port}",
            "state": conn.state.value if conn is not None else "starting",
            "started": self.started_wall,
            "uptime": round(time.time() - self.started_wall, 1),
            "ike_sa": self.ike or None,
            "child_sas": children,
            "virtual_ips": [str(a) for a in config.addresses] if config else [],
            "dns_servers": [str(a) for a in config.dns_servers] if config else [],
            "dns_domains": list(config.dns_domains) if config else [],
            "tun": tunnel.tun_name if tunnel is not None else None,
            "mtu": tunnel.mtu if tunnel is not None else None,
            "routes": [str(r) for r in tunnel.routes] if tunnel is not None else [],
            "dns_backend": tunnel.dns_backend if tunnel is not None else None,
            "traffic": dict(
                zip(
                    ("packets_in", "bytes_in", "packets_out", "bytes_out"),
                    tunnel.traffic() if tunnel is not None else (0, 0, 0, 0),
                    strict=True,
                )
            ),
            "drops": tunnel.drops() if tunnel is not None else {},
            "ike_drops": _ike_drops(session),
            "next_rekey": _next_rekey(session),
            "staying_connected": _staying(session),
        }

    def write_status(self) -> None:
        try:
            self.files.write_status(self.status())
        except OSError as exc:
            typer.echo(f"ikeclient: warning: cannot write the status file: {exc}", err=True)

    def summary(self) -> None:
        session = self.session
        tunnel = session.tunnel if session is not None else None
        if tunnel is None or not tunnel.ever_up:
            return
        pin, bin_, pout, bout = tunnel.traffic()
        typer.echo(f"traffic: in {pin} packets / {bin_} bytes, out {pout} packets / {bout} bytes")
        drops = tunnel.drops()
        if drops:
            typer.echo("dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(drops.items())))


def _next_rekey(session: IkeSession | None) -> dict[str, float | None] | None:
    """Seconds until the next IKE rekey, child rekey and reauthentication (None: not planned)."""
    conn = session.connection if session is not None else None
    if session is None or conn is None or isinstance(conn, Ikev1Connection):
        return None
    now = session.now()
    ike_rekey, _, reauth = conn.ike_deadlines
    child_rekeys = [conn.child_deadlines(c.spi_in)[0] for c in conn.children]
    child = min((t for t in child_rekeys if t is not None), default=None)

    def left(at: float | None) -> float | None:
        return None if at is None else round(max(0.0, at - now), 1)

    return {"ike": left(ike_rekey), "child": left(child), "reauth": left(reauth)}


def _staying(session: IkeSession | None) -> dict[str, Any]:
    conn = session.connection if session is not None else None
    if session is None:
        return {}
    out: dict[str, Any] = {
        "reconnects": session.reconnects,
        "reconnecting": session.reconnecting,
        "roams": session.roams,
        "last_outage": session.last_outage,
    }
    if conn is not None and not isinstance(conn, Ikev1Connection):
        r = conn.rekeys
        out.update(
            child_rekeys=r.child_rekeys_initiated + r.child_rekeys_answered,
            ike_rekeys=r.ike_rekeys_initiated + r.ike_rekeys_answered,
            reauthentications=r.reauthentications,
            liveness_checks=r.liveness_checks,
            mobike=conn.mobike,
        )
    return out


def _ike_drops(session: IkeSession | None) -> dict[str, int]:
    conn = session.connection if session is not None else None
    if conn is None:
        return {}
    d = conn.drops
    values = {
        "malformed": d.malformed,
        "integrity": d.integrity,
        "unexpected": d.unexpected,
        "not_ours": d.not_ours,
    }
    return {k: v for k, v in values.items() if v}


async def _connect(
    profile: Profile,
    settings: Ikev1Settings | Ikev2Settings,
    req: UpRequest,
    files: StateFiles,
    notify: int | None,
) -> int:
    keylog = None
    if req.keylog is not None:
        typer.echo(
            f"ikeclient: warning: --keylog writes this session's keys to {req.keylog}; "
            "anyone who can read it can decrypt the traffic",
            err=True,
        )
        from ikeclient.runtime.keylog import KeyLog  # noqa: PLC0415 - only when asked for

        keylog = KeyLog.open(req.keylog)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hangup = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, hangup.set)
    try:
        while True:
            hangup.clear()
            code, again = await _one_session(
                profile, settings, req, files, notify, stop, hangup, keylog
            )
            notify = None
            if not again:
                return code
            typer.echo("SIGHUP: connecting again")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if keylog is not None:
            keylog.close()


async def _one_session(
    profile: Profile,
    settings: Ikev1Settings | Ikev2Settings,
    req: UpRequest,
    files: StateFiles,
    notify: int | None,
    stop: asyncio.Event,
    hangup: asyncio.Event,
    keylog: KeyLog | None,
) -> tuple[int, bool]:
    """One IKE SA from connect to close; returns (exit code, connect again?)."""
    reporter = Reporter(profile, files, keylog)
    staying = profile.staying
    life = staying.lifetimes
    limits = None
    if (
        life.child_rekey_bytes
        or life.child_life_bytes
        or life.child_rekey_packets
        or (life.child_life_packets)
    ):
        limits = SaLimits(
            life.child_rekey_bytes,
            life.child_life_bytes,
            life.child_rekey_packets,
            life.child_life_packets,
        )
    options = TunnelOptions(
        name=profile.name,
        state_dir=req.state_dir,
        dns_backend=profile.dns,
        path_mtu=profile.path_mtu,
        keepalive_interval=profile.nat_keepalive,
        replay_window=profile.replay_window,
        rekey_grace=staying.rekey_grace,
        limits=limits,
        limit_jitter=life.jitter,
        remote_networks=profile.remote_networks,
        accept_split=profile.accept_split,
        block_ipv6=profile.block_ipv6,
        leak_protection=profile.leak_protected,
        allow_lan=profile.allow_lan,
        ike_port=profile.port,
    )
    session = IkeSession(
        settings,
        profile.gateway,
        profile.port,
        on_event=reporter.event,
        on_progress=reporter.progress,
        tunnel=options,
        reconnect=ReconnectPolicy(
            enabled=staying.reconnect,
            keep_tunnel=staying.reconnect_keep_tunnel,
            max_delay=staying.reconnect_max_delay,
            follow_addresses=True,
            on_gateway_delete=staying.on_gateway_delete,
        ),
    )
    reporter.session = session
    typer.echo(f"connecting to {profile.gateway} port {profile.port} (profile {profile.name})")
    ticker: asyncio.Task[None] | None = None
    try:
        try:
            await session.start()
        except IkeClientError as exc:
            notify = _tell(notify, f"fail {int(exit_code_for(exc))} {exc}")
            raise
        closed = asyncio.ensure_future(session.wait_closed())
        ready = asyncio.ensure_future(reporter.tunnel_ready.wait())
        stopping = asyncio.ensure_future(stop.wait())
        hup = asyncio.ensure_future(hangup.wait())
        await asyncio.wait({closed, ready, stopping, hup}, return_when=asyncio.FIRST_COMPLETED)
        if reporter.tunnel_ready.is_set() and not closed.done():
            notify = _tell(notify, "up")
            reporter.line("up", _up_line(reporter))
            ticker = asyncio.ensure_future(_keep_status(reporter))
            if req.once:
                typer.echo("--once: disconnecting")
                stop.set()
            await asyncio.wait({closed, stopping, hup}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ready, stopping, hup):
            task.cancel()
        if not closed.done():
            reason = "SIGHUP: reconnecting" if hangup.is_set() else "closed by user"
            # SIGHUP connects again at once: leak protection stays on in between.
            await session.close(reason, keep_leak_protection=hangup.is_set())
        result = await session.wait_closed()
        reporter.summary()
    finally:
        if ticker is not None:
            ticker.cancel()
        # Fail closed: a tunnel that was up and ended without being asked to (the gateway
        # refused us again, an error) leaves leak protection on (IkeSession.shutdown).
        failures = session.shutdown()
        for failure in failures:
            typer.echo(f"ikeclient: warning: could not undo: {failure}", err=True)
        if session.left_leak_protection and not hangup.is_set():
            typer.echo(
                "ikeclient: leak protection stays on (nothing leaves outside the tunnel) "
                f"until: ikeclient down {profile.name}",
                err=True,
            )
    error = session.failure or result.error
    if error is not None:
        _tell(notify, f"fail {int(exit_code_for(error))} {error}")
        raise error
    _tell(notify, f"fail {int(ExitCode.GATEWAY_REFUSED)} {result.reason}")
    return int(ExitCode.OK), hangup.is_set() and not stop.is_set()


def _up_line(reporter: Reporter) -> str:
    session = reporter.session
    tunnel = session.tunnel if session is not None else None
    vip = ", ".join(str(a) for a in reporter.config.addresses) if reporter.config else "no VIP"
    name = tunnel.tun_name if tunnel is not None else "?"
    return f"tunnel up on {name} ({vip}); Ctrl-C to disconnect"


async def _keep_status(reporter: Reporter) -> None:
    while True:
        reporter.write_status()
        await asyncio.sleep(STATUS_INTERVAL)
