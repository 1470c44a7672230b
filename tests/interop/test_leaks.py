"""A fail-closed tunnel (issue 11): nothing leaves outside the tunnel, watched on the wire.

A capture runs in the client namespace on every interface (``dumpcap -i any``; the uplinks
are told apart by their interface index) while an application there keeps sending, every
20 ms (so that a gap of a few tens of milliseconds shows), UDP to the server and to another
address beyond the default route, to the LAN router (IPv4 and IPv6), to IPv6 beyond the LAN,
from a socket bound to the uplink, and a DNS query to the first name server of
``/etc/resolv.conf`` as it reads at that moment (``tests/lab/capture.py``). The client runs
a full tunnel through these phases:

connect, steady traffic, child and IKE rekeys, the gateway stopped with SIGTERM and started
again (its Delete: reconnect), the gateway killed (SIGKILL: found by the check under
traffic, reconnect), a MOBIKE move to a second uplink (the first link goes down), SIGTERM of
the client and a new start, ``kill -9`` of the client and the next start, a final SIGTERM.

With leak protection on, only IKE and ESP-in-UDP between the client's addresses and the
gateway's UDP 500/4500, ARP and IPv6 neighbour discovery are seen leaving by the uplinks
while protection must hold: from the moment the first ``up`` has installed its table
(polled) until the SIGTERM that asked it to stop, and again from the next start's table
until the final SIGTERM, ``kill -9`` and the start after it included (that start once
deleted the dead run's table before making its own: the DNS query and the datagrams of
those ~40 ms left in the clear). No frame carries the application's marker in the clear.
The application keeps running across the requested SIGTERM: what it sends then leaks, as
it should, which shows the capture sees it.

With leak protection off (connect, steady traffic, gateway restart) the same capture shows
the application's datagrams leaving by the uplink: the test can fail.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab
from tests.lab.capture import (
    KINDS,
    Capture,
    Frame,
    LeakyApp,
    enable_ipv6_uplink,
    in_windows,
    interface_indexes,
    outside_the_tunnel,
)
from tests.lab.ikeclient import IkeclientProcess, write_profile
from tests.lab.strongswan import LabError

pytestmark = pytest.mark.interop

SECOND_CLIENT_ADDR = "198.18.4.2"
SECOND_PUBLIC_ADDR = "198.18.2.3"
NFT_TABLE = ["nft", "list", "table", "inet", "ikeclient"]


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_root()
    with Lab(nat_random_ports=True) as the_lab:
        yield the_lab


def has_table(lab: Lab) -> bool:
    return lab.run(lab.client_ns, NFT_TABLE).returncode == 0


def table_installed(lab: Lab, client: IkeclientProcess, timeout: float = 15.0) -> float:
    """Poll until leak protection's table exists; the wall time it was first seen."""
    deadline = time.monotonic() + timeout
    while not has_table(lab):
        if client.proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"no leak-protection table:\n{client.stdout}{client.stderr}")
        time.sleep(0.02)
    return time.time()


def traffic_back(lab: Lab, timeout: float) -> float:
    """Ping the server through the tunnel until a reply comes; seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2):
            return time.monotonic() - start
    raise LabError(f"no traffic through the tunnel within {timeout} s")


def wait_for_count(client: IkeclientProcess, pattern: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, client.stdout, re.M)) < count:
        if client.proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"{count} x {pattern!r} not seen:\n{client.stdout}{client.stderr}")
        time.sleep(0.1)


def report(frames: list[Frame], limit: int = 30) -> str:
    return "\n".join(str(f) for f in frames[:limit]) + (
        f"\n... {len(frames) - limit} more" if len(frames) > limit else ""
    )


def test_nothing_leaves_outside_the_tunnel(lab: Lab) -> None:
    lab.start_gateway(GatewayConfig(local_ts=("0.0.0.0/0",)))
    enable_ipv6_uplink(lab)
    profile = write_profile(
        lab,
        "leaks",
        remote_ts=["0.0.0.0/0"],
        leak_protection="on",
        dead_peer_after=2,
        dead_peer_timeout=4,
        lifetimes={"child_rekey_time": 8, "ike_rekey_time": 15, "jitter": 0.1},
    )
    phases: list[tuple[str, float]] = []

    def phase(name: str) -> None:
        phases.append((name, time.time()))

    capture = Capture(lab, "leaks")
    app = LeakyApp(lab, seconds=240, interval=0.02)
    windows: list[tuple[float, float]] = []
    began = time.monotonic()
    client = IkeclientProcess(lab, profile)
    try:
        # connect: protection holds from the table on, before the first IKE packet
        phase("connect")
        on = table_installed(lab, client)
        client.wait_for_output("tunnel up")
        traffic_back(lab, 5)
        phase("steady traffic")
        time.sleep(3)
        phase("rekeys")
        wait_for_count(client, r"^IKE rekey", 1, timeout=30)
        wait_for_count(client, r"^child rekey", 2, timeout=30)
        traffic_back(lab, 5)

        phase("gateway SIGTERM")
        lab.restart_gateway(kill=False)
        wait_for_count(client, r"^reconnected", 1, timeout=30)
        traffic_back(lab, 10)

        phase("gateway SIGKILL")
        time.sleep(1)
        lab.restart_gateway(kill=True)
        wait_for_count(client, r"^reconnected", 2, timeout=40)
        traffic_back(lab, 10)

        phase("MOBIKE")
        second = lab.add_uplink(client_addr=SECOND_CLIENT_ADDR, public_addr=SECOND_PUBLIC_ADDR)
        time.sleep(1)
        lab.set_link(lab.client_ns, lab.client_if, up=False)
        client.wait_for_output("MOBIKE", timeout=10)
        traffic_back(lab, 10)
        time.sleep(1)

        phase("client SIGTERM")
        windows.append((on, time.time()))
        assert client.stop() == 0, client.stdout + client.stderr
        assert not has_table(lab)
        time.sleep(1)  # the application's datagrams leave now: the capture must see them

        phase("start again")
        client = IkeclientProcess(lab, profile)
        on = table_installed(lab, client)
        client.wait_for_output("tunnel up")
        traffic_back(lab, 5)
        time.sleep(1)

        phase("kill -9")
        os.kill(client.proc.pid, signal.SIGKILL)
        client.wait(10)
        time.sleep(2)
        assert has_table(lab)  # fail-closed until the next start

        phase("next start")  # it takes over the table the killed run left, then replaces it
        client = IkeclientProcess(lab, profile)
        client.wait_for_output("tunnel up")
        assert "restored the host changes left by an earlier run that died" in client.stdout
        traffic_back(lab, 5)
        time.sleep(1)

        phase("final SIGTERM")
        windows.append((on, time.time()))
        assert client.stop() == 0, client.stdout + client.stderr
        assert not has_table(lab)
        time.sleep(0.5)
    finally:
        client.stop()
        counts = app.stop()
        capture.stop()
    took = time.monotonic() - began

    uplinks = interface_indexes(lab, [lab.client_if, second])
    frames = capture.frames()
    outside = outside_the_tunnel(
        frames,
        uplinks=uplinks,
        client_addrs=[lab.client_addr, SECOND_CLIENT_ADDR],
        gateway=lab.gateway_addr,
    )
    leaks = [f for f in outside if in_windows(f.time, windows)]
    later = [f for f in outside if f.marked and f.time > windows[0][1]]
    print(f"\nleak capture: {len(frames)} frames in {took:.0f} s; sends {counts}")
    print("phases: " + ", ".join(f"{n} {t - phases[0][1]:.1f}" for n, t in phases))
    # The capture saw the tunnel on both uplinks (ESP to the gateway before and after MOBIKE).
    to_gateway = [f for f in frames if f.outgoing and f.dst == lab.gateway_addr]
    esp = {f.ifindex for f in to_gateway if f.dport == 4500 and f.ifindex in uplinks}
    assert esp == set(uplinks), (esp, uplinks)
    # The application sent every kind all along (IPv6 and DNS included).
    assert all(sum(counts.get(k, {}).values()) > 5 * took for k in KINDS), counts
    assert not leaks, "leaked outside the tunnel while protected:\n" + report(leaks)
    # Between the requested SIGTERM and the next start nothing protects: the capture saw
    # the application's datagrams then (so it would have seen them earlier).
    assert any(windows[0][1] < f.time < windows[1][0] for f in later), report(outside)


def test_without_leak_protection_the_capture_sees_leaks(lab: Lab) -> None:
    lab.start_gateway(GatewayConfig(local_ts=("0.0.0.0/0",)))
    enable_ipv6_uplink(lab)
    profile = write_profile(lab, "open", remote_ts=["0.0.0.0/0"], leak_protection="off")
    capture = Capture(lab, "open")
    app = LeakyApp(lab, seconds=60)
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        on = time.time()
        traffic_back(lab, 5)
        time.sleep(3)
        lab.restart_gateway(kill=False)
        wait_for_count(client, r"^reconnected", 1, timeout=30)
        traffic_back(lab, 10)
        off = time.time()
        assert client.stop() == 0, client.stdout + client.stderr
    finally:
        client.stop()
        counts = app.stop()
        capture.stop()
    frames = capture.frames()
    outside = outside_the_tunnel(
        frames,
        uplinks=interface_indexes(lab, [lab.client_if]),
        client_addrs=[lab.client_addr],
        gateway=lab.gateway_addr,
    )
    leaks = [f for f in outside if in_windows(f.time, [(on, off)])]
    kinds = {f.dst for f in leaks if f.marked}
    print(f"\nwithout protection: {len(leaks)} frames outside the tunnel; sends {counts}")
    # The LAN (IPv4 and IPv6) and a socket bound to the uplink leave beside the tunnel.
    assert {lab.nat_inside_addr, lab.server_addr, "2001:2:0:1::1"} <= kinds, report(leaks)
