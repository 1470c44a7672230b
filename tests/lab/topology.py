"""The lab topology: four network namespaces joined by veth pairs.

::

    client <P>c        NAT <P>n                      gateway <P>g            server <P>s
    198.18.1.2 ------- 198.18.1.1 | 198.18.2.1 ----- 198.18.2.2 | 198.18.3.1 ---- 198.18.3.2
    default via .1.1   masquerade out of <P>n1       ip_forward, strongSwan  default via .3.1
                       (no route to 198.18.3.0/24)   pool 198.18.200.0/24

(all /24).  Every name carries a random per-run prefix ``<P>`` (``ikl`` + 6 hex digits), so
parallel runs do not collide.  The lab deletes what it created on ``__exit__``/``close()``, on
Ctrl-C, on SIGTERM/SIGHUP (turned into ``KeyboardInterrupt`` while a lab is open) and, as a last
resort, at interpreter exit.  Processes are stopped by PID only.  IPv6 is disabled in every lab
namespace, so nothing but the configured 198.18.0.0/15 addresses is ever used.  Leftovers of a
SIGKILLed run: ``python -m tests.lab cleanup``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from tests.lab.strongswan import (
    ClientConfig,
    GatewayConfig,
    LabError,
    StrongSwanClient,
    StrongSwanDaemon,
    StrongSwanGateway,
)

__all__ = ["LAB_PREFIX", "Lab", "cleanup_stale", "lab_namespaces"]

#: Every lab namespace is named ``LAB_PREFIX + 6 hex digits + role letter``.
LAB_PREFIX = "ikl"
_ROLES = ("c", "n", "g", "s")
_OWNER_FILE = "owner.pid"
NETNS_ETC = Path("/etc/netns")
CLIENT_RESOLV_CONF = "# resolv.conf of the lab's client namespace\nnameserver 198.18.1.1\n"

_active: set[Lab] = set()
_active_lock = threading.Lock()
_prev_handlers: dict[int, Any] = {}
_tearing_down = threading.Event()


def _signal_handler(signum: int, frame: FrameType | None) -> None:
    if _tearing_down.is_set():
        return  # let the teardown in progress finish
    # KeyboardInterrupt (not SystemExit): pytest then stops the session and still runs the
    # fixture teardowns; plain scripts unwind their ``with Lab()`` blocks.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if sig in _prev_handlers:
            continue
        current = signal.getsignal(sig)
        if current in (signal.SIG_DFL, None):
            _prev_handlers[sig] = current
            signal.signal(sig, _signal_handler)


def _restore_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in list(_prev_handlers.items()):
        if signal.getsignal(sig) is _signal_handler:
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        del _prev_handlers[sig]


@atexit.register
def _close_all() -> None:
    with _active_lock:
        labs = list(_active)
    for lab in labs:
        lab.close()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and res.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res


def lab_namespaces(prefix: str = LAB_PREFIX) -> list[str]:
    """Names of existing network namespaces starting with ``prefix``."""
    res = _ip("netns", "list", check=False)
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]


class Lab:
    """The four-namespace lab (client, NAT, gateway, server); a context manager.

    Attributes (all strings): ``client_addr``, ``nat_inside_addr``, ``nat_outside_addr``,
    ``gateway_addr``, ``gateway_inside_addr``, ``server_addr``, ``server_subnet``, ``pool``,
    ``dns_servers`` (tuple); namespaces ``client_ns``, ``nat_ns``, ``gateway_ns``,
    ``server_ns``; interfaces ``client_if``, ``nat_inside_if``, ``nat_outside_if``,
    ``gateway_outside_if``, ``gateway_inside_if``, ``server_if``; ``workdir`` (Path).
    """

    client_addr = "198.18.1.2"
    nat_inside_addr = "198.18.1.1"
    nat_outside_addr = "198.18.2.1"
    gateway_addr = "198.18.2.2"
    gateway_inside_addr = "198.18.3.1"
    server_addr = "198.18.3.2"
    client_subnet = "198.18.1.0/24"
    transit_subnet = "198.18.2.0/24"
    server_subnet = "198.18.3.0/24"
    pool = "198.18.200.0/24"
    dns_servers: tuple[str, ...] = ("198.18.3.53", "198.18.3.54")

    def __init__(
        self,
        *,
        nat_random_ports: bool = False,
        keep_workdir: bool | None = None,
        prefix: str | None = None,
    ) -> None:
        """Prepare (but do not yet create) a lab.

        ``nat_random_ports``: masquerade with ``random`` (source ports always rewritten).
        ``keep_workdir``: keep configs/logs after teardown (default: env ``IKELAB_KEEP=1``).
        """
        self.prefix = prefix or f"{LAB_PREFIX}{secrets.token_hex(3)}"
        if len(self.prefix) + 2 > 15:
            raise ValueError("prefix too long for interface names")
        p = self.prefix
        self.client_ns, self.nat_ns, self.gateway_ns, self.server_ns = (p + r for r in _ROLES)
        self.client_if, self.nat_inside_if = p + "c0", p + "n0"
        self.nat_outside_if, self.gateway_outside_if = p + "n1", p + "g0"
        self.gateway_inside_if, self.server_if = p + "g1", p + "s0"
        self.nat_random_ports = nat_random_ports
        self.keep_workdir = (
            keep_workdir if keep_workdir is not None else os.environ.get("IKELAB_KEEP") == "1"
        )
        self.workdir = Path(tempfile.mkdtemp(prefix=f"ikelab-{p}-"))
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[Any]] = []
        self._daemons: list[StrongSwanDaemon] = []
        self._open = False
        self._closed = False
        self.errors: list[str] = []
        self.gateway: StrongSwanGateway | None = None
        self.reference_client: StrongSwanClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Create namespaces, links, addresses, routes and the NAT."""
        if self._open or self._closed:
            raise LabError("a Lab can be opened once")
        if os.geteuid() != 0:
            raise LabError("the lab needs root")
        self._open = True
        with _active_lock:
            _active.add(self)
        _install_signal_handlers()
        (self.workdir / _OWNER_FILE).write_text(str(os.getpid()))
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        for ns in (self.client_ns, self.nat_ns, self.gateway_ns, self.server_ns):
            _ip("netns", "add", ns)
            self._namespaces.append(ns)
            # No IPv6 at all (no link-local, no router solicitations); loopback up.
            self._sh(
                ns,
                "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; "
                "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
            )
            _ip("-n", ns, "link", "set", "lo", "up")
        # The client namespace gets its own resolv.conf: `ip netns exec` bind-mounts
        # /etc/netns/NS/resolv.conf over /etc/resolv.conf, so DNS changes made by a VPN client
        # running there land in this file and never in the host's.
        etc = self.netns_etc(self.client_ns)
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(CLIENT_RESOLV_CONF)
        links = (
            (self.client_ns, self.client_if, self.nat_ns, self.nat_inside_if),
            (self.nat_ns, self.nat_outside_if, self.gateway_ns, self.gateway_outside_if),
            (self.gateway_ns, self.gateway_inside_if, self.server_ns, self.server_if),
        )
        for ns_a, if_a, ns_b, if_b in links:
            _ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
                "netns", ns_b)  # fmt: skip
        addrs = (
            (self.client_ns, self.client_if, self.client_addr),
            (self.nat_ns, self.nat_inside_if, self.nat_inside_addr),
            (self.nat_ns, self.nat_outside_if, self.nat_outside_addr),
            (self.gateway_ns, self.gateway_outside_if, self.gateway_addr),
            (self.gateway_ns, self.gateway_inside_if, self.gateway_inside_addr),
            (self.server_ns, self.server_if, self.server_addr),
        )
        for ns, ifname, addr in addrs:
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
        _ip("-n", self.client_ns, "route", "add", "default", "via", self.nat_inside_addr)
        _ip("-n", self.server_ns, "route", "add", "default", "via", self.gateway_inside_addr)
        for ns in (self.nat_ns, self.gateway_ns):
            self._sh(ns, "echo 1 > /proc/sys/net/ipv4/ip_forward")
        masq = "masquerade random" if self.nat_random_ports else "masquerade"
        ruleset = (
            "table ip labnat {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            f'    oifname "{self.nat_outside_if}" {masq}\n'
            "  }\n"
            "}\n"
        )
        res = self.run(self.nat_ns, ["nft", "-f", "-"], input=ruleset)
        if res.returncode != 0:
            raise LabError(f"nft failed: {res.stderr}")

    def close(self) -> None:
        """Stop every process started by the lab (by PID) and delete the namespaces.

        Idempotent; never raises for cleanup problems (they are collected in ``self.errors``).
        """
        if self._closed:
            return
        self._closed = True
        _tearing_down.set()
        try:
            for proc in reversed(self._procs):
                try:
                    self.stop_process(proc)
                except Exception as exc:
                    self.errors.append(f"stop pid {proc.pid}: {exc}")
            for ns in reversed(self._namespaces):
                # Stragglers inside our own namespaces (e.g. grandchildren of a tracked
                # process): kill them by PID before deleting the namespace.
                res = _ip("netns", "pids", ns, check=False)
                for pid in (int(x) for x in res.stdout.split() if x.isdigit()):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.errors.append(f"killed straggler {pid} in {ns}")
                    except ProcessLookupError:
                        pass
                res = _ip("netns", "del", ns, check=False)
                if res.returncode != 0:
                    self.errors.append(f"netns del {ns}: {res.stderr.strip()}")
            self._namespaces.clear()
            shutil.rmtree(self.netns_etc(self.client_ns), ignore_errors=True)
            if self.keep_workdir:
                (self.workdir / _OWNER_FILE).unlink(missing_ok=True)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            with _active_lock:
                _active.discard(self)
                last = not _active
            if last:
                _restore_signal_handlers()
            _tearing_down.clear()

    # -- processes ---------------------------------------------------------------------------

    @staticmethod
    def netns_etc(ns: str) -> Path:
        """The per-namespace /etc overlay directory `ip netns exec` uses for ``ns``."""
        return NETNS_ETC / ns

    @staticmethod
    def netns_argv(ns: str, argv: Sequence[str]) -> list[str]:
        """The argv that runs ``argv`` inside namespace ``ns`` (``ip netns exec`` execs it)."""
        return ["ip", "netns", "exec", ns, *argv]

    def run(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        check: bool = False,
        timeout: float = 30.0,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in namespace ``ns`` to completion (text output captured).

        ``timeout`` bounds it (the child is killed on expiry and ``LabError`` raised).
        """
        full_env = dict(os.environ, **env) if env else None
        try:
            return subprocess.run(
                self.netns_argv(ns, argv),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=check,
                input=input,
                env=full_env,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{ns}: {' '.join(argv)} timed out after {timeout}s") from exc

    def _sh(self, ns: str, script: str) -> None:
        res = self.run(ns, ["sh", "-c", script])
        if res.returncode != 0:
            raise LabError(f"{ns}: {script}: {res.stderr.strip()}")

    def popen(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.DEVNULL,
        stderr: int | IO[Any] | None = subprocess.DEVNULL,
        text: bool = False,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` in namespace ``ns``; tracked and stopped by PID on teardown.

        The process gets its own session, so a terminal Ctrl-C reaches only the harness,
        which then stops it.  Its PID is the program's own (``ip netns exec`` execs).
        """
        if not self._open or self._closed:
            raise LabError("lab is not open")
        full_env = dict(os.environ, **env) if env else None
        proc = subprocess.Popen(
            self.netns_argv(ns, argv),
            env=full_env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            start_new_session=True,
        )
        self._procs.append(proc)
        return proc

    def stop_process(self, proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
        """SIGTERM ``proc`` by PID, SIGKILL after ``timeout`` seconds; reap it."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # -- conveniences ------------------------------------------------------------------------

    def ping(
        self, ns: str, addr: str, *, count: int = 1, wait: float = 1.0, deadline: int = 5
    ) -> bool:
        """Bounded ping (``count`` ≤ 100, at most ``deadline`` s); True if every reply came.

        ``wait``: seconds to wait for each reply (``-W``).
        """
        if not 1 <= count <= 100:
            raise ValueError("count must be 1..100")
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", f"{wait:g}", "-w", str(int(deadline))]
        if count > 1:
            argv += ["-i", "0.2"]
        res = self.run(ns, [*argv, addr], timeout=deadline + 5)
        return res.returncode == 0

    def start_gateway(self, config: GatewayConfig | None = None) -> StrongSwanGateway:
        """Start the strongSwan gateway in the gateway namespace and load its config."""
        if self.gateway is not None and self.gateway.running:
            raise LabError("gateway already running")
        gw = StrongSwanGateway(self, config or GatewayConfig())
        self._daemons.append(gw)
        self.gateway = gw
        gw.start()
        return gw

    def restart_gateway(self, *, kill: bool = True, down_for: float = 0.0) -> StrongSwanGateway:
        """Stop the gateway's charon (SIGKILL by PID, or SIGTERM) and start a fresh one with the
        same configuration: it has forgotten every SA. Returns the new daemon."""
        old = self.gateway
        if old is None:
            raise LabError("no gateway to restart")
        if old.proc is not None and old.proc.poll() is None:
            if kill:
                old.proc.kill()
                old.proc.wait(5)
            else:
                old.stop()
        if down_for > 0:
            time.sleep(down_for)
        self.gateway = None
        return self.start_gateway(old.config)

    def add_uplink(
        self,
        *,
        client_addr: str = "198.18.4.2",
        nat_addr: str = "198.18.4.1",
        public_addr: str = "198.18.2.3",
        metric: int = 100,
    ) -> str:
        """A second link from the client to the NAT (another network, as Wi-Fi next to LTE).

        The client gets ``client_addr``/24 and a default route through it with ``metric``
        (less preferred than the first one while that exists); the NAT maps traffic from
        it to its second public address ``public_addr``, so the gateway sees a new
        address when the client moves. Returns the client-side interface name.
        """
        client_if, nat_if = self.prefix + "c1", self.prefix + "n2"
        _ip("link", "add", client_if, "netns", self.client_ns, "type", "veth", "peer", "name",
            nat_if, "netns", self.nat_ns)  # fmt: skip
        _ip("-n", self.client_ns, "addr", "add", f"{client_addr}/24", "dev", client_if)
        _ip("-n", self.client_ns, "link", "set", client_if, "up")
        _ip("-n", self.nat_ns, "addr", "add", f"{nat_addr}/24", "dev", nat_if)
        _ip("-n", self.nat_ns, "link", "set", nat_if, "up")
        _ip("-n", self.nat_ns, "addr", "add", f"{public_addr}/24", "dev", self.nat_outside_if)
        _ip("-n", self.client_ns, "route", "add", "default", "via", nat_addr, "dev", client_if,
            "metric", str(metric))  # fmt: skip
        rules = (
            "table ip labnat2 {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat - 1; policy accept;\n"
            f'    iifname "{nat_if}" oifname "{self.nat_outside_if}" snat to {public_addr}\n'
            "  }\n"
            "}\n"
        )
        res = self.run(self.nat_ns, ["nft", "-f", "-"], input=rules)
        if res.returncode != 0:
            raise LabError(f"nft failed: {res.stderr}")
        return client_if

    def set_link(self, ns: str, dev: str, up: bool) -> None:
        """Bring an interface up or down (its routes go with it, as when Wi-Fi drops)."""
        _ip("-n", ns, "link", "set", dev, "up" if up else "down")

    def netem(self, ns: str, dev: str, spec: Sequence[str] | None) -> None:
        """Impair ``dev``'s egress with netem (``["delay", "50ms", "20ms", "loss", "5%"]``), or
        remove the impairment with None (tc-netem(8))."""
        if spec is None:
            self.run(ns, ["tc", "qdisc", "del", "dev", dev, "root"])
            return
        res = self.run(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "netem", *spec])
        if res.returncode != 0:
            raise LabError(f"netem on {dev}: {res.stderr.strip()}")

    def impair(
        self,
        *,
        delay: float = 0.050,
        jitter: float = 0.020,
        loss: float = 0.05,
        reorder: float = 0.05,
        seed: int = 7,
    ) -> subprocess.Popen[Any]:
        """Make the path through the NAT lossy, slow and reordering, for UDP 500 and 4500.

        netem would do this on the NAT's links, but this kernel has no sch_netem; the
        relay of :mod:`tests.lab.impair` runs in the NAT namespace instead and an
        nftables ``redirect`` hands it the client's IKE and ESP. Each direction gets
        ``delay`` ± ``jitter`` (uniform, so packets overtake each other), ``loss`` and
        an extra ``reorder`` share held back 10 ms. Returns the relay (stopped with the lab,
        or by :meth:`stop_process`).
        """
        relay = self.popen(
            self.nat_ns,
            [
                sys.executable,
                "-m",
                "tests.lab.impair",
                self.nat_inside_addr,
                self.gateway_addr,
                "--delay",
                str(delay),
                "--jitter",
                str(jitter),
                "--loss",
                str(loss),
                "--reorder",
                str(reorder),
                "--seed",
                str(seed),
            ],
            env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert relay.stdout is not None
        if relay.stdout.readline().strip() != "relaying":
            raise LabError("the impairment relay did not start")
        rules = (
            "table ip labimpair {\n"
            "  chain prerouting {\n"
            "    type nat hook prerouting priority dstnat; policy accept;\n"
            f'    iifname "{self.nat_inside_if}" ip daddr {self.gateway_addr} '
            "udp dport { 500, 4500 } redirect\n"
            "  }\n"
            "}\n"
        )
        res = self.run(self.nat_ns, ["nft", "-f", "-"], input=rules)
        if res.returncode != 0:
            raise LabError(f"nft failed: {res.stderr}")
        return relay

    def flush_nat(self) -> None:
        """Make the NAT forget every mapping, as a home router that rebooted: the client's
        next packet gets a new public port (masquerade ``random``). Done by deleting the
        conntrack entries through ``conntrack`` if installed, else by re-creating the
        NAT's outside link address (which drops the masquerade mappings on it)."""
        res = self.run(self.nat_ns, ["conntrack", "-F"])
        if res.returncode == 0:
            return
        addr = f"{self.nat_outside_addr}/24"
        _ip("-n", self.nat_ns, "addr", "del", addr, "dev", self.nat_outside_if)
        _ip("-n", self.nat_ns, "addr", "add", addr, "dev", self.nat_outside_if)

    def start_reference_client(
        self, config: ClientConfig | None = None, name: str = "refclient"
    ) -> StrongSwanClient:
        """Start strongSwan as initiator in the client namespace (does not initiate yet)."""
        client = StrongSwanClient(self, config or ClientConfig(), name=name)
        self._daemons.append(client)
        self.reference_client = client
        client.start()
        return client

    def dump_logs(self) -> str:
        """Logs (and stdout/stderr) of every daemon started in this lab, for failure reports."""
        parts: list[str] = []
        for daemon in self._daemons:
            parts.append(f"===== {daemon.name} ({daemon.log_path}) =====\n{daemon.log_text()}")
            try:
                out = daemon.stdout_path.read_text(errors="replace").strip()
            except FileNotFoundError:
                out = ""
            if out:
                parts.append(f"----- {daemon.name} stdout/stderr -----\n{out}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<Lab {self.prefix} workdir={self.workdir}>"


def cleanup_stale(prefix: str = LAB_PREFIX) -> list[str]:
    """Delete lab namespaces whose owning process is gone (after a SIGKILLed run).

    A lab's owner PID is in ``$TMPDIR/ikelab-<P>-*/owner.pid``; namespaces of live owners are
    left alone.  Returns the deleted namespace names.
    """
    tmp = Path(tempfile.gettempdir())
    removed: list[str] = []
    prefixes = {ns[:-1] for ns in lab_namespaces(prefix) if ns[-1] in _ROLES}
    for p in sorted(prefixes):
        alive = False
        for owner in tmp.glob(f"ikelab-{p}-*/{_OWNER_FILE}"):
            try:
                os.kill(int(owner.read_text()), 0)
                alive = True
            except (ValueError, ProcessLookupError):
                pass
            except PermissionError:
                alive = True
        if alive:
            continue
        for role in _ROLES:
            ns = p + role
            res = _ip("netns", "pids", ns, check=False)
            for pid in (int(x) for x in res.stdout.split() if x.isdigit()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if _ip("netns", "del", ns, check=False).returncode == 0:
                removed.append(ns)
            shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
        for d in tmp.glob(f"ikelab-{p}-*"):
            shutil.rmtree(d, ignore_errors=True)
    return removed
