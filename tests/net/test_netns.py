"""ikeclient.net against a real kernel, each test inside its own network namespace.

The code under test always runs in the namespace (``tests.net.agent`` or a snippet under
``ip netns exec``); the test looks at the namespace from outside with ``ip -n NS -j``.
"""

from __future__ import annotations

import errno
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.net.conftest import ORIGINAL_RESOLV_CONF, Netns

VIP4 = "198.18.200.7"
VIP6 = "2001:2:0:ff::7"
GATEWAY4 = "198.18.20.1"
GATEWAY6 = "2001:2:20::1"
PROTO = "157"


def _route(routes: list[dict[str, Any]], dst: str) -> dict[str, Any] | None:
    return next((r for r in routes if r.get("dst") == dst), None)


def _open(ns: Netns, journal_dir: Path, name: str = "lab", mtu: int = 1400) -> tuple[Any, str]:
    agent = ns.agent()
    agent.ok("open", name=name, dir=str(journal_dir))
    tun = agent.ok("tun", mtu=mtu)["name"]
    return agent, tun


def _apply(agent: Any, tun: str, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "tun_name": tun,
        "addresses": [VIP4, f"{VIP6}/64"],
        "remote_subnets": ["198.18.50.0/24"],
        "dns_servers": [],
        "dns_domains": [],
        "gateway_addr": GATEWAY4,
        "full_tunnel": False,
    }
    args.update(overrides)
    reply: dict[str, Any] = agent.ok("apply", **args)
    return reply


def test_tun_created_with_mtu_and_addresses(netns: Netns, journal_dir: Path) -> None:
    agent, tun = _open(netns, journal_dir, mtu=1380)
    assert tun == "ikc0"  # the first free default name in a fresh namespace
    _apply(agent, tun)
    link = netns.link(tun)
    assert link["mtu"] == 1380
    assert "UP" in link["flags"]
    assert link["linkinfo"]["info_kind"] == "tun"
    assert link["linkinfo"]["info_data"]["pi"] is False
    addrs = {(a["local"], a["prefixlen"]) for a in link["addr_info"]}
    assert addrs == {(VIP4, 32), (VIP6, 64)}  # IPv4 /32; IPv6 with the prefix given
    # A second TUN gets the next free name; an explicit name in use is a clear error.
    assert agent.ok("tun")["name"] == "ikc1"
    busy = agent.call("tun", name=tun)
    assert busy["error"] == "TunError" and "already in use" in busy["message"]
    agent.ok("restore")
    assert not [link for link in netns.ip("link", "show") if link["ifname"].startswith("ikc")]


def test_tun_fd_is_nonblocking_and_missing_device_is_clear(netns: Netns) -> None:
    code = textwrap.dedent(
        """
        import os
        from ikeclient.errors import TunError
        from ikeclient.net import TunDevice
        with TunDevice(None, "iktest0", 1300) as tun:
            assert not os.get_blocking(tun.fileno())
            try:
                tun.read()
            except BlockingIOError:
                print("would-block")
        try:
            TunDevice(None, device="/nonexistent/tun")
        except TunError as exc:
            print("error:", exc)
        """
    )
    result = netns.python(code)
    assert result.returncode == 0, result.stderr
    assert "would-block" in result.stdout
    assert "error: /nonexistent/tun is missing: load the tun module" in result.stdout
    assert not [link for link in netns.ip("link", "show") if link["ifname"] == "iktest0"]


def test_split_tunnel_routes(netns: Netns, journal_dir: Path) -> None:
    default_before = netns.ip("route", "show", "default")
    agent, tun = _open(netns, journal_dir)
    subnets = ["198.18.50.0/24", "198.18.60.0/23", "2001:2:0:50::/64"]
    _apply(agent, tun, remote_subnets=subnets)
    v4 = netns.routes("-4")
    v6 = netns.routes("-6")
    for dst, routes, src in (
        ("198.18.50.0/24", v4, VIP4),
        ("198.18.60.0/23", v4, VIP4),
        ("2001:2:0:50::/64", v6, VIP6),
    ):
        route = _route(routes, dst)
        assert route is not None, (dst, routes)
        assert route["dev"] == tun and route["prefsrc"] == src and route["protocol"] == PROTO
    assert _route(v4, GATEWAY4) is None  # the gateway is outside every routed subnet
    assert _route(v4, "0.0.0.0/1") is None
    assert netns.ip("route", "show", "default") == default_before
    got = netns.ip("route", "get", "198.18.61.9")[0]
    assert got["dev"] == tun and got["prefsrc"] == VIP4
    assert agent.ok("restore")["failures"] == []
    assert _route(netns.routes("-4"), "198.18.50.0/24") is None


def test_split_subnet_covering_the_gateway_gets_a_host_route(
    netns: Netns, journal_dir: Path
) -> None:
    agent, tun = _open(netns, journal_dir)
    reply = _apply(agent, tun, remote_subnets=["198.18.16.0/20"])
    assert reply["gateway_path"] == ["v0", "198.18.10.1"]
    host = _route(netns.routes("-4"), GATEWAY4)
    assert host is not None and host["gateway"] == "198.18.10.1" and host["dev"] == "v0"
    assert netns.ip("route", "get", GATEWAY4)[0]["dev"] == "v0"
    assert netns.ip("route", "get", "198.18.21.1")[0]["dev"] == tun


@pytest.mark.parametrize(
    ("gateway", "via", "family"),
    [(GATEWAY4, "198.18.10.1", "-4"), (GATEWAY6, "2001:2::1", "-6")],
)
def test_full_tunnel(netns: Netns, journal_dir: Path, gateway: str, via: str, family: str) -> None:
    defaults_before = (
        netns.ip("-4", "route", "show", "default"),
        netns.ip("-6", "route", "show", "default"),
    )
    agent, tun = _open(netns, journal_dir)
    reply = _apply(
        agent,
        tun,
        addresses=[VIP4, VIP6],
        remote_subnets=["0.0.0.0/0"],
        gateway_addr=gateway,
        full_tunnel=True,
    )
    assert reply["gateway_path"] == ["v0", via]
    v4, v6 = netns.routes("-4"), netns.routes("-6")
    for dst, routes, src in (
        ("0.0.0.0/1", v4, VIP4),
        ("128.0.0.0/1", v4, VIP4),
        ("::/1", v6, VIP6),
        ("8000::/1", v6, VIP6),
    ):
        route = _route(routes, dst)
        assert route is not None, (dst, routes)
        assert route["dev"] == tun and route["prefsrc"] == src and route["protocol"] == PROTO
    # The gateway keeps its original path: a host route via the old next hop.
    host = _route(netns.routes(family), gateway)
    assert host is not None, netns.routes(family)
    assert host["gateway"] == via and host["dev"] == "v0" and host["protocol"] == PROTO
    assert netns.ip(family, "route", "get", gateway)[0]["dev"] == "v0"
    # Everything else goes into the tunnel, from the virtual IP; the defaults are untouched.
    got4 = netns.ip("route", "get", "198.18.77.7")[0]
    assert got4["dev"] == tun and got4["prefsrc"] == VIP4
    assert netns.ip("-6", "route", "get", "2001:2:77::7")[0]["dev"] == tun
    assert (
        netns.ip("-4", "route", "show", "default"),
        netns.ip("-6", "route", "show", "default"),
    ) == defaults_before
    assert agent.ok("restore")["failures"] == []
    assert _route(netns.routes(family), gateway) is None


def test_full_tunnel_host_route_pinned_again_via_the_uplink_left(
    netns: Netns, journal_dir: Path
) -> None:
    # A second uplink, less preferred, as Wi-Fi next to LTE.
    netns.ip_cmd("link", "add", "w0", "type", "veth", "peer", "name", "w1")
    netns.ip_cmd("addr", "add", "198.18.11.2/24", "dev", "w0")
    for dev in ("w0", "w1"):
        netns.ip_cmd("link", "set", dev, "up")
    netns.ip_cmd("route", "add", "default", "via", "198.18.11.1", "dev", "w0", "metric", "100")
    agent, tun = _open(netns, journal_dir)
    _apply(agent, tun, addresses=[VIP4], remote_subnets=["0.0.0.0/0"], full_tunnel=True)
    assert netns.ip("route", "get", GATEWAY4)[0]["dev"] == "v0"
    # The first link goes away, and its routes with it, the host route to the gateway too:
    # the gateway is now routed into the tunnel, from the virtual IP.
    netns.ip_cmd("link", "set", "v0", "down")
    got = netns.ip("route", "get", GATEWAY4)[0]
    assert got["dev"] == tun and got["prefsrc"] == VIP4
    assert agent.ok("repin", tun_name=tun, gateway_addr=GATEWAY4)["pinned"] is True
    host = _route(netns.routes("-4"), GATEWAY4)
    assert host is not None and host["dev"] == "w0" and host["gateway"] == "198.18.11.1"
    assert host["protocol"] == PROTO
    assert netns.ip("route", "get", GATEWAY4)[0]["prefsrc"] == "198.18.11.2"
    assert agent.ok("restore")["failures"] == []
    assert _route(netns.routes("-4"), GATEWAY4) is None


def _host_resolv_conf() -> bytes:
    path = Path("/etc/resolv.conf")
    return path.read_bytes() if path.exists() else b""


def test_resolv_conf_rewrite_and_restore(netns: Netns, journal_dir: Path) -> None:
    host_resolv = _host_resolv_conf()
    inode = netns.resolv_conf.stat().st_ino
    agent, tun = _open(netns, journal_dir)
    reply = _apply(
        agent,
        tun,
        dns_servers=["198.18.53.1", "198.18.53.2"],
        dns_domains=["corp.example", "Lab.Example."],
    )
    assert reply["dns_backend"] == "resolv.conf"
    lines = netns.read_resolv_conf().decode().splitlines()
    assert lines[0].startswith("# ikeclient: DNS of connection lab")
    assert lines[1:3] == ["nameserver 198.18.53.1", "nameserver 198.18.53.2"]
    assert lines[3] == "search corp.example lab.example"
    assert "nameserver 198.18.9.53" in lines  # the original server stays, after ours
    assert "options ndots:2 timeout:1" in lines
    assert netns.resolv_conf.stat().st_ino == inode  # written in place (bind mount)
    assert agent.ok("restore")["failures"] == []
    assert netns.read_resolv_conf() == ORIGINAL_RESOLV_CONF  # byte for byte
    assert netns.resolv_conf.read_bytes() == ORIGINAL_RESOLV_CONF
    # The host's own resolv.conf was never touched.
    assert _host_resolv_conf() == host_resolv


def _apply_everything(agent: Any, tun: str) -> None:
    _apply(
        agent,
        tun,
        addresses=[VIP4, VIP6],
        remote_subnets=["0.0.0.0/0", "::/0", "198.18.50.0/24"],
        dns_servers=["198.18.53.1"],
        dns_domains=["corp.example"],
        full_tunnel=True,
    )


def test_restore_returns_the_namespace_to_its_snapshot(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply_everything(agent, tun)
    during = netns.snapshot()
    assert during["links"] != before["links"]
    assert during["addresses"] != before["addresses"]
    assert during["routes"] != before["routes"]
    assert during["resolv_conf"] != before["resolv_conf"]
    journal = journal_dir / "lab.journal"
    assert journal.exists()
    assert agent.ok("restore")["failures"] == []
    assert netns.snapshot() == before
    assert not journal.exists()


def test_kill_9_then_recover_stale_in_a_new_process(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply_everything(agent, tun)
    agent.kill()  # SIGKILL: no cleanup of any kind runs
    time.sleep(0.1)
    after_kill = netns.snapshot()
    # The TUN went with its fd, but the gateway host route and resolv.conf stay behind.
    assert after_kill != before
    assert _route(netns.routes("-4"), GATEWAY4) is not None
    assert netns.read_resolv_conf() != ORIGINAL_RESOLV_CONF
    assert (journal_dir / "lab.journal").exists()

    recovery = netns.agent()
    assert recovery.ok("recover", dir=str(journal_dir))["recovered"] == ["lab"]
    assert netns.snapshot() == before
    assert not (journal_dir / "lab.journal").exists()
    assert recovery.ok("recover", dir=str(journal_dir))["recovered"] == []


def test_new_connection_reverts_a_dead_predecessor(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply_everything(agent, tun)
    # A second client for the same connection while the first lives: refused.
    other = netns.agent()
    refused = other.call("open", name="lab", dir=str(journal_dir))
    assert refused["error"] == "NetError" and "already active" in refused["message"]
    agent.kill()
    # After the crash the next start takes over: the old changes are reverted first.
    successor = netns.agent()
    successor.ok("open", name="lab", dir=str(journal_dir))
    assert netns.snapshot() == before
    successor.ok("restore")


def test_undo_is_idempotent_when_things_are_already_gone(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply_everything(agent, tun)
    # Somebody removes our things first: the TUN (with its addresses and routes) and the
    # gateway host route.
    netns.ip_cmd("link", "del", "dev", tun)
    netns.ip_cmd("route", "del", f"{GATEWAY4}/32")
    assert agent.ok("restore")["failures"] == []
    assert netns.snapshot() == before
    assert agent.ok("restore")["failures"] == []  # twice is fine too
    assert netns.snapshot() == before


def test_undo_never_deletes_a_route_it_did_not_add(netns: Netns, journal_dir: Path) -> None:
    # The gateway host route already exists (added by the admin): we reuse it, and restore
    # leaves it alone.
    netns.ip_cmd("route", "add", f"{GATEWAY4}/32", "via", "198.18.10.1", "dev", "v0")
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply_everything(agent, tun)
    assert agent.ok("restore")["failures"] == []
    assert netns.snapshot() == before
    assert _route(netns.routes("-4"), GATEWAY4) is not None


def test_conflicting_route_is_a_clear_error_and_restore_cleans_up(
    netns: Netns, journal_dir: Path
) -> None:
    netns.ip_cmd("route", "add", "198.18.50.0/24", "via", "198.18.10.1", "dev", "v0")
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    reply = agent.call(
        "apply",
        tun_name=tun,
        addresses=[VIP4],
        remote_subnets=["198.18.50.0/24"],
        dns_servers=[],
        dns_domains=[],
        gateway_addr=GATEWAY4,
    )
    assert reply["error"] == "RouteError"
    assert "198.18.50.0/24" in reply["message"] and "in the way" in reply["message"]
    assert agent.ok("restore")["failures"] == []
    assert netns.snapshot() == before


def test_journal_directory_that_cannot_be_created(netns: Netns, journal_dir: Path) -> None:
    blocker = journal_dir / "not-a-dir"
    blocker.write_text("")
    agent = netns.agent()
    reply = agent.call("open", name="lab", dir=str(blocker / "journals"))
    assert reply["error"] == "NetError"
    assert reply["message"].startswith(f"cannot create the undo journal directory {blocker}")


def test_read_only_journal_directory(netns: Netns, journal_dir: Path) -> None:
    mountpoint = journal_dir / "ro"
    mountpoint.mkdir()
    code = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from ikeclient.errors import NetError
        from ikeclient.net import HostNetwork
        out = []
        for d in ({str(mountpoint)!r}, {str(mountpoint / "sub")!r}):
            try:
                HostNetwork.for_connection("lab", journal_dir=Path(d))
            except NetError as exc:
                out.append(str(exc))
        print(json.dumps(out))
        """
    )
    # A read-only tmpfs, mounted in a private mount namespace of its own.
    result = netns.exec(
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs -o ro,mode=700 tmpfs "$1" && exec "$2" -c "$3"',
        "sh",
        str(mountpoint),
        sys.executable,
        code,
    )
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)
    assert len(messages) == 2
    assert messages[0].startswith(f"cannot write the undo journal {mountpoint}/lab.journal")
    assert "Read-only file system" in messages[0]
    assert messages[1].startswith(f"cannot create the undo journal directory {mountpoint}/sub")
    assert not any(mountpoint.iterdir())  # the tmpfs never showed outside its namespace


def test_without_cap_net_admin(netns: Netns, journal_dir: Path) -> None:
    code = textwrap.dedent(
        """
        from ikeclient.errors import PrivilegeError
        from ikeclient.net import TunDevice, check_privileges
        for attempt in (check_privileges, lambda: TunDevice(None)):
            try:
                attempt()
            except PrivilegeError as exc:
                print("PrivilegeError:", exc)
        """
    )
    result = netns.exec("setpriv", "--bounding-set", "-net_admin", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert "needs CAP_NET_ADMIN: run it as root (sudo ikeclient up ...)" in lines[0]
    assert "CAP_NET_ADMIN" in lines[1]
    assert not [link for link in netns.ip("link", "show") if link["ifname"].startswith("ikc")]


def test_recovery_spares_a_new_tun_that_reuses_the_dead_clients_name(
    netns: Netns, journal_dir: Path
) -> None:
    before = netns.snapshot()
    crashed, tun = _open(netns, journal_dir, name="crashed")
    _apply(crashed, tun, remote_subnets=["198.18.50.0/24"])
    crashed.kill()
    # Another connection starts before anyone recovered: it gets the same TUN name.
    other = netns.agent()
    other.ok("open", name="other", dir=str(journal_dir))
    assert other.ok("tun")["name"] == tun
    _apply(other, tun, addresses=["198.18.201.9"], remote_subnets=["198.18.50.0/24"])
    during = netns.link(tun)

    recovery = netns.agent()
    assert recovery.ok("recover", dir=str(journal_dir))["recovered"] == ["crashed"]
    assert netns.link(tun) == during  # the other client's TUN and address are untouched
    route = _route(netns.routes("-4"), "198.18.50.0/24")
    assert route is not None and route["prefsrc"] == "198.18.201.9"
    assert other.ok("restore")["failures"] == []
    assert netns.snapshot() == before


# --- issue 11: a full tunnel is fail-closed; gateway settings checked against the uplink --------


def test_full_ipv4_tunnel_blocks_ipv6_and_restore_removes_the_block(
    netns: Netns, journal_dir: Path
) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    reply = _apply(
        agent,
        tun,
        addresses=[VIP4],
        remote_subnets=["0.0.0.0/0"],
        dns_servers=["198.18.53.1"],
        full_tunnel=True,
        trusted=["0.0.0.0/0"],
    )
    assert reply["routes"] == ["0.0.0.0/1", "128.0.0.0/1"]
    for dst in ("::/1", "8000::/1"):
        route = _route(netns.routes("-6"), dst)
        assert route is not None and route["type"] == "unreachable", netns.routes("-6")
        assert route["protocol"] == PROTO
    # IPv6 beyond the local network fails at once instead of taking the default route...
    probe = netns.exec(
        sys.executable,
        "-c",
        "import socket\n"
        "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    s.connect(('2001:2:77::7', 53))\n"
        "except OSError as e:\n"
        "    print(e.errno)\n",
    )
    # An IPv6 unreachable route answers EHOSTUNREACH, at once.
    assert probe.stdout.strip() == str(errno.EHOSTUNREACH), probe.stdout + probe.stderr
    # ... while the on-link IPv6 network still works, as the IPv4 one does.
    assert netns.ip("-6", "route", "get", "2001:2::1")[0]["dev"] == "v0"
    # The full tunnel's DNS: only the tunnel's server is active.
    text = netns.read_resolv_conf().decode()
    assert [x for x in text.splitlines() if x.startswith("nameserver")] == [
        "nameserver 198.18.53.1"
    ]
    assert agent.ok("restore")["failures"] == []
    assert netns.snapshot() == before
    assert netns.read_resolv_conf() == ORIGINAL_RESOLV_CONF


def test_recovery_after_kill_9_removes_the_ipv6_block(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    agent, tun = _open(netns, journal_dir)
    _apply(agent, tun, addresses=[VIP4], remote_subnets=["0.0.0.0/0"], full_tunnel=True)
    agent.kill()
    time.sleep(0.1)
    assert _route(netns.routes("-6"), "::/1") is not None  # unreachable routes outlive the TUN
    assert netns.agent().ok("recover", dir=str(journal_dir))["recovered"] == ["lab"]
    assert netns.snapshot() == before


def test_a_virtual_ip_on_the_uplink_changes_nothing(netns: Netns, journal_dir: Path) -> None:
    agent, tun = _open(netns, journal_dir)
    before = netns.snapshot()
    for vip in ("198.18.10.1", "198.18.10.99", GATEWAY4):
        reply = agent.call(
            "apply",
            tun_name=tun,
            addresses=[vip],
            remote_subnets=["198.18.50.0/24"],
            dns_servers=["198.18.53.1"],
            dns_domains=[],
            gateway_addr=GATEWAY4,
        )
        assert reply["error"] == "SettingRefused", reply
        assert vip in reply["message"]
        assert netns.snapshot() == before
    assert agent.ok("restore")["failures"] == []


def test_gateway_routes_into_the_lan_are_skipped(netns: Netns, journal_dir: Path) -> None:
    agent, tun = _open(netns, journal_dir)
    reply = _apply(
        agent,
        tun,
        addresses=[VIP4],
        remote_subnets=["198.18.50.0/24", "198.18.10.0/25", "198.18.20.0/24"],
        trusted=["198.18.50.0/24"],
    )
    assert reply["routes"] == ["198.18.50.0/24"]
    assert netns.ip("route", "get", "198.18.10.77")[0]["dev"] == "v0"
    assert netns.ip("route", "get", GATEWAY4)[0]["dev"] == "v0"
    assert agent.ok("restore")["failures"] == []
