"""Leak protection (net/firewall.py): the nftables table, what it lets out, its undo.

The rules are checked as text (no root needed) and then in a private network namespace:
a UDP send that the table drops fails at once with EPERM, so "would this leak?" is a
``sendto`` away, with nothing leaving the namespace.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ikeclient.cli.profiles import describe
from ikeclient.config.profile import profile_from_table
from ikeclient.errors import ConfigError
from ikeclient.net.firewall import LeakPolicy, ruleset
from ikeclient.net.undo import UndoFailed, undo_nft_delete_table
from tests.net.conftest import Netns

GATEWAY = ipaddress.ip_address("198.18.10.1")


def test_ruleset_lets_only_ike_esp_tun_and_the_uplinks_needs_out() -> None:
    text = ruleset(LeakPolicy(GATEWAY, 500))
    assert text.startswith("table inet ikeclient {}\ndelete table inet ikeclient\n")
    assert "policy drop;" in text and text.count("policy drop;") == 2
    assert "ip daddr 198.18.10.1 udp dport { 500, 4500 } accept" in text
    assert "ip saddr 198.18.10.1 udp sport { 500, 4500 } accept" in text
    assert 'oifname "ikc*" accept' in text and 'oif "lo" accept' in text
    assert "udp sport 68 udp dport 67 accept" in text  # DHCP
    assert "nd-router-solicit" in text and "nd-router-advert" in text
    assert "fe80::/10" not in text  # no LAN unless allowed
    lan = ruleset(LeakPolicy(GATEWAY, 4500, (ipaddress.ip_network("198.18.10.0/24"),)))
    assert "udp dport { 4500 } accept" in lan
    assert "ip daddr 198.18.10.0/24 accept" in lan and "ip6 saddr fe80::/10 accept" in lan
    six = ruleset(LeakPolicy(ipaddress.ip_address("2001:2::1"), 500))
    assert "ip6 daddr 2001:2::1 udp dport { 500, 4500 } accept" in six


def _profile(**extra: object) -> dict[str, object]:
    return {"gateway": "198.18.10.1", "local_id": "c@lab", "remote_ts": ["198.18.3.0/24"], **extra}


def test_leak_protection_profile_keys() -> None:
    split = profile_from_table(_profile(), where="t")
    assert not split.full_tunnel and not split.leak_protected and not split.allow_lan
    full = profile_from_table(_profile(remote_ts=["0.0.0.0/0"]), where="t")
    assert full.full_tunnel and full.leak_protected
    assert "  leak guard   on (auto)" in describe(full)  # profile show / validate
    assert "  leak guard   off (auto)" in describe(split)
    off = profile_from_table(_profile(remote_ts=["0.0.0.0/0"], leak_protection="off"), where="t")
    assert not off.leak_protected
    on = profile_from_table(_profile(leak_protection="on", allow_lan=True), where="t")
    assert on.leak_protected and on.allow_lan
    with pytest.raises(ConfigError, match=r"leak_protection.*'always' is not one of auto, on, off"):
        profile_from_table(_profile(leak_protection="always"), where="t")


def test_undo_deletes_only_our_table() -> None:
    with pytest.raises(UndoFailed, match="not ikeclient's"):
        undo_nft_delete_table({"table": "filter"})


SENDS = textwrap.dedent(
    """
    import errno, json, socket
    def send(host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(b"x", (host, port))
            except OSError as exc:
                return errno.errorcode.get(exc.errno, str(exc.errno))
        return "sent"
    print(json.dumps({f"{h} {p}": send(h, p) for h, p in TARGETS}))
    """
)
TARGETS = [
    ("198.18.10.1", 500),  # the gateway's IKE port
    ("198.18.10.1", 4500),  # NAT-T
    ("198.18.10.1", 53),  # the gateway, another port
    ("198.18.10.7", 53),  # the LAN
    ("198.18.99.9", 53),  # the world, through the default route
    ("2001:2::1", 53),  # IPv6
]


def _sends(ns: Netns) -> dict[str, str]:
    result = ns.python(f"TARGETS = {TARGETS!r}\n{SENDS}")
    assert result.returncode == 0, result.stderr
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def _table(ns: Netns) -> bool:
    return ns.exec("nft", "list", "table", "inet", "ikeclient").returncode == 0


INSTALL = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from ikeclient.net import HostNetwork
    from ikeclient.net.firewall import policy_for
    host = HostNetwork.for_connection("lab", journal_dir=Path(sys.argv[1]))
    host.protect(policy_for("198.18.10.1", 500, allow_lan=sys.argv[2] == "lan"))
    print("installed", flush=True)
    if sys.argv[3] == "revert":
        host.restore()
    elif sys.argv[3] == "keep":
        host.restore(keep_leak_protection=True)
    else:
        time.sleep(60)  # killed by the test
    """
)


def _start(ns: Netns, journal_dir: Path, lan: str) -> subprocess.Popen[str]:
    """A process that installs leak protection, then waits to be killed."""
    argv = [sys.executable, "-c", INSTALL, str(journal_dir), lan, "sleep"]
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, *argv],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "installed"
    return proc


def _install(ns: Netns, journal_dir: Path, lan: str, end: str) -> None:
    result = ns.exec(sys.executable, "-c", INSTALL, str(journal_dir), lan, end)
    assert result.returncode == 0 and "installed" in result.stdout, result.stderr


def test_only_ike_and_esp_to_the_gateway_leave(netns: Netns, journal_dir: Path) -> None:
    before = netns.snapshot()
    assert set(_sends(netns).values()) == {"sent"}
    proc = _start(netns, journal_dir, "nolan")
    try:
        assert _sends(netns) == {
            "198.18.10.1 500": "sent",
            "198.18.10.1 4500": "sent",
            "198.18.10.1 53": "EPERM",
            "198.18.10.7 53": "EPERM",
            "198.18.99.9 53": "EPERM",
            "2001:2::1 53": "EPERM",
        }
        # kill -9: the table stays (fail-closed) until the journal is recovered.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _table(netns) and _sends(netns)["198.18.99.9 53"] == "EPERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    recovered = netns.python(
        "from pathlib import Path\nfrom ikeclient.net.journal import recover_stale\n"
        f"print(recover_stale(Path({str(journal_dir)!r})))"
    )
    assert recovered.stdout.strip() == "['lab']", recovered.stderr
    assert not _table(netns) and set(_sends(netns).values()) == {"sent"}
    assert netns.snapshot() == before


def test_allow_lan_and_restore(netns: Netns, journal_dir: Path) -> None:
    _install(netns, journal_dir, "lan", "revert")
    assert not _table(netns)  # reverted on a normal end
    assert not any(journal_dir.iterdir())
    proc = _start(netns, journal_dir, "lan")
    try:
        sends = _sends(netns)
        assert sends["198.18.10.7 53"] == "sent"  # the LAN (the uplink's 198.18.10.0/24)
        assert sends["198.18.99.9 53"] == "EPERM"  # not the world
    finally:
        proc.kill()
        proc.wait(timeout=10)
    netns.python(
        "from pathlib import Path\nfrom ikeclient.net.journal import recover_stale\n"
        f"recover_stale(Path({str(journal_dir)!r}))"
    )
    assert not _table(netns)


def test_fail_closed_end_keeps_the_table_until_recovered(netns: Netns, journal_dir: Path) -> None:
    _install(netns, journal_dir, "nolan", "keep")
    assert _table(netns) and _sends(netns)["198.18.99.9 53"] == "EPERM"
    journal = journal_dir / "lab.journal"
    entries = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert [e["op"] for e in entries] == ["nft_delete_table"]
    netns.python(
        "from pathlib import Path\nfrom ikeclient.net.journal import recover_stale\n"
        f"recover_stale(Path({str(journal_dir)!r}))"
    )
    assert not _table(netns) and set(_sends(netns).values()) == {"sent"}


ADOPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ikeclient.net import HostNetwork, firewall
    from ikeclient.net.journal import UndoJournal, recover_stale
    directory = Path(sys.argv[1])
    print(recover_stale(directory, leave=(firewall.UNDO_OP,)), flush=True)
    input()  # the test looks at the host now
    journal = UndoJournal.for_connection("next", directory)
    firewall.adopt(journal)
    journal.close()
    host = HostNetwork.for_connection("next", journal_dir=directory)
    host.protect(firewall.policy_for("198.18.10.1", 500, allow_lan=False))
    print("replaced", flush=True)
    input()
    host.restore()
    """
)


def test_next_start_takes_over_the_table_of_a_dead_run(netns: Netns, journal_dir: Path) -> None:
    """After kill -9 a leak-protected start recovers everything but the table, takes it over
    (journaled as its own) and replaces it: nothing can leave in between."""
    before = netns.snapshot()
    proc = _start(netns, journal_dir, "nolan")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    argv = ["ip", "netns", "exec", netns.name, sys.executable, "-c", ADOPT, str(journal_dir)]
    nxt = subprocess.Popen(
        argv,
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert nxt.stdin is not None and nxt.stdout is not None
    try:
        assert nxt.stdout.readline().strip() == "['lab']"  # the dead run's journal recovered
        assert not (journal_dir / "lab.journal").exists()
        assert _table(netns) and _sends(netns)["198.18.99.9 53"] == "EPERM"  # but still closed
        nxt.stdin.write("\n")
        nxt.stdin.flush()
        assert nxt.stdout.readline().strip() == "replaced"
        entries = (journal_dir / "next.journal").read_text().splitlines()[1:]
        assert [json.loads(e)["op"] for e in entries] == ["nft_delete_table", "nft_delete_table"]
        assert _table(netns) and _sends(netns)["198.18.99.9 53"] == "EPERM"
        nxt.stdin.write("\n")
        nxt.stdin.flush()
        assert nxt.wait(timeout=10) == 0
    finally:
        if nxt.poll() is None:
            nxt.kill()
            nxt.wait(timeout=10)
    assert not _table(netns) and set(_sends(netns).values()) == {"sent"}
    assert netns.snapshot() == before
