"""Fixtures for the host-network tests: a private network namespace per test.

Every namespace is named ``iknt`` + 6 hex digits and deleted in the fixture's teardown,
even when the test fails. It gets a veth pair ``v0``/``v1`` (both ends inside it), with
198.18.10.2/24 and 2001:2::2/64 on ``v0`` and default routes via 198.18.10.1 and
2001:2::1, so "the original path" exists without any traffic leaving the namespace.
``/etc/netns/<ns>/resolv.conf`` is created, so ``ip netns exec`` bind-mounts it over
``/etc/resolv.conf``: code in the namespace never sees (or writes) the host's file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ikeclient.net import snapshot

ROOT = Path(__file__).resolve().parents[2]
NETNS_PREFIX = "iknt"
ETC_NETNS = Path("/etc/netns")
ORIGINAL_RESOLV_CONF = (
    b"# resolv.conf of a test namespace\n"
    b"nameserver 198.18.9.53\n"
    b"search lab.example\n"
    b"options ndots:2 timeout:1\n"
)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TUN, routes); CI runs these as root")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


class Agent:
    """``tests.net.agent`` running inside a namespace; one JSON request/reply per line."""

    def __init__(self, ns: str, argv_prefix: tuple[str, ...] = ()) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv_prefix, sys.executable, "-m", "tests.net.agent"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.pid = self.proc.pid  # ip netns exec execs: this is the Python process

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def call(self, cmd: str, timeout: float = 60.0, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise TimeoutError(f"agent gave no answer to {cmd!r}; stderr:\n{self.stderr()}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"agent died during {cmd!r}; stderr:\n{self.stderr()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ok(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        reply = self.call(cmd, **kwargs)
        assert reply["ok"], f"{cmd}: {reply}\nstderr:\n{self.stderr()}"
        return reply

    def kill(self) -> None:
        """SIGKILL, by our own child's PID."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("exit", timeout=10)
                self.proc.wait(timeout=10)
            except Exception:
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()
        self._stderr.close()


class Netns:
    """A throw-away network namespace and helpers to look into it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.etc_dir = ETC_NETNS / name
        self.resolv_conf = self.etc_dir / "resolv.conf"
        self._agents: list[Agent] = []

    def ip(self, *args: str) -> Any:
        """``ip -n NS -j ARGS`` parsed."""
        out = _ip("-n", self.name, "-j", *args).stdout.strip()
        return json.loads(out) if out else []

    def ip_cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _ip("-n", self.name, *args, check=check)

    def exec(self, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet inside the namespace."""
        return self.exec(sys.executable, "-c", code)

    def read_resolv_conf(self) -> bytes:
        """/etc/resolv.conf as processes inside the namespace see it."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, "cat", "/etc/resolv.conf"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.name)

    def agent(self, *argv_prefix: str) -> Agent:
        agent = Agent(self.name, tuple(argv_prefix))
        self._agents.append(agent)
        return agent

    def routes(self, family: str = "-4", table: str = "main") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.ip(family, "route", "show", "table", table)
        return result

    def link(self, name: str) -> dict[str, Any]:
        links: list[dict[str, Any]] = self.ip("-d", "addr", "show", "dev", name)
        return links[0]

    def close(self) -> None:
        for agent in self._agents:
            with contextlib.suppress(Exception):
                agent.close()
        _ip("netns", "del", self.name, check=False)
        shutil.rmtree(self.etc_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            ETC_NETNS.rmdir()  # only when empty: somebody else may use it


def _wait_until_up(ns: Netns, *links: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = {link["ifname"]: link.get("operstate") for link in ns.ip("link", "show")}
        if all(states.get(name) == "UP" for name in links):
            return
        time.sleep(0.05)
    raise RuntimeError(f"links {links} of {ns.name} did not come up")


def make_netns() -> Netns:
    ns = Netns(f"{NETNS_PREFIX}{secrets.token_hex(3)}")
    try:
        _ip("netns", "add", ns.name)
        ns.etc_dir.mkdir(parents=True)
        ns.resolv_conf.write_bytes(ORIGINAL_RESOLV_CONF)
        ns.exec(
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.addr_gen_mode=1",  # no link-local addresses, no chatter
            "net.ipv6.conf.default.accept_dad=0",
            check=True,
        )
        ns.ip_cmd("link", "set", "lo", "up")
        ns.ip_cmd("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        ns.ip_cmd("addr", "add", "198.18.10.2/24", "dev", "v0")
        ns.ip_cmd("-6", "addr", "add", "2001:2::2/64", "dev", "v0", "nodad")
        ns.ip_cmd("link", "set", "v0", "up")
        ns.ip_cmd("link", "set", "v1", "up")
        ns.ip_cmd("route", "add", "default", "via", "198.18.10.1", "dev", "v0")
        ns.ip_cmd("-6", "route", "add", "default", "via", "2001:2::1", "dev", "v0")
        _wait_until_up(ns, "v0", "v1")
    except BaseException:
        ns.close()
        raise
    return ns


@pytest.fixture
def netns() -> Iterator[Netns]:
    require_root()
    ns = make_netns()
    try:
        yield ns
    finally:
        ns.close()


@pytest.fixture
def journal_dir() -> Iterator[Path]:
    """A private (0700) journal directory, outside /run/ikeclient."""
    directory = Path(tempfile.mkdtemp(prefix="ikeclient-journal-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
