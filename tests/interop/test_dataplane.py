"""The userspace ESP data plane against strongSwan: real traffic through the tunnel.

Client namespace → NAT (rewriting source ports) → strongSwan gateway (kernel-libipsec) →
server. The server subnet is reachable only through the tunnel, so nothing here can pass by
bypassing the VPN.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ikeclient.net.routes import snapshot
from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, StrongSwanGateway
from tests.lab.ikeclient import IkeclientProcess, leak_probe, run_ikeclient, write_profile

pytestmark = pytest.mark.interop

TRANSFER_BYTES = 50 * 1024 * 1024
TRANSFER_SEED = 20261127
PORT = 5001

SERVER = textwrap.dedent(
    """
    import hashlib, socket, sys
    srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
    srv.settimeout(60)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(60)
    digest, total = hashlib.sha256(), 0
    while chunk := conn.recv(1 << 16):
        digest.update(chunk)
        total += len(chunk)
    print(total, digest.hexdigest(), flush=True)
    """
)

CLIENT = textwrap.dedent(
    """
    import random, socket, sys
    data = random.Random(int(sys.argv[3])).randbytes(int(sys.argv[4]))
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60) as s:
        s.sendall(data)
    """
)


@pytest.fixture(scope="module")
def gw_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    require_root()
    with Lab(nat_random_ports=True) as lab:
        gw = lab.start_gateway(
            GatewayConfig(
                ike_proposals=("aes256gcm16-prfsha256-ecp256", "aes128-sha256-modp2048"),
                esp_proposals=("aes256gcm16", "aes128gcm16", "aes128-sha256", "aes256-sha1"),
            )
        )
        yield lab, gw


def _count_nat_forwarding(lab: Lab) -> None:
    """nftables counters in the NAT: everything the client sends, and its UDP 500/4500."""
    inside = lab.nat_inside_if
    rules = (
        "table inet ikcount {\n"
        "  chain counting {\n"
        "    type filter hook forward priority 0; policy accept;\n"
        f'    iifname "{inside}" udp dport 4500 counter\n'
        f'    iifname "{inside}" udp dport 500 counter\n'
        f'    iifname "{inside}" counter\n'
        "  }\n"
        "}\n"
    )
    res = lab.run(lab.nat_ns, ["nft", "-f", "-"], input=rules)
    assert res.returncode == 0, res.stderr


def _nat_counts(lab: Lab) -> list[tuple[int, int]]:
    """(packets, bytes) of the counters: UDP 4500, UDP 500, everything from the client.

    With UDP GSO one forwarded "packet" may carry many ESP datagrams, so volumes are
    compared in bytes.
    """
    res = lab.run(lab.nat_ns, ["nft", "-j", "list", "table", "inet", "ikcount"], check=True)
    counters = [
        (e["rule"]["expr"][-1]["counter"]["packets"], e["rule"]["expr"][-1]["counter"]["bytes"])
        for e in json.loads(res.stdout)["nftables"]
        if "rule" in e
    ]
    lab.run(lab.nat_ns, ["nft", "delete", "table", "inet", "ikcount"], check=True)
    return counters


def _transfer(lab: Lab, size: int) -> tuple[int, str]:
    server = lab.popen(
        lab.server_ns,
        [sys.executable, "-c", SERVER, lab.server_addr, str(PORT)],
        stdout=__import__("subprocess").PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "listening"
    sent = lab.run(
        lab.client_ns,
        [sys.executable, "-c", CLIENT, lab.server_addr, str(PORT), str(TRANSFER_SEED), str(size)],
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr
    line = server.stdout.readline().split()
    server.wait(30)
    return int(line[0]), line[1]


def _child_counters(gw: StrongSwanGateway) -> dict[str, Any]:
    (sa,) = gw.list_sas()
    (child,) = sa["children"]
    return child


@pytest.mark.parametrize("esp", ["aes256gcm16", "aes128-sha256"])
def test_traffic_through_the_tunnel(gw_lab: tuple[Lab, StrongSwanGateway], esp: str) -> None:
    lab, gw = gw_lab
    before = snapshot(lab.client_ns)
    assert not lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
    _count_nat_forwarding(lab)
    profile = write_profile(lab, "dp", esp_proposals=[esp])
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        assert snapshot(lab.client_ns) != before
        # ping through the tunnel (ICMP both ways)
        assert lab.ping(lab.client_ns, lab.server_addr, count=5, wait=2, deadline=10)
        # a 50 MB TCP transfer arrives intact
        expected = hashlib.sha256(
            random.Random(TRANSFER_SEED).randbytes(TRANSFER_BYTES)
        ).hexdigest()
        assert _transfer(lab, TRANSFER_BYTES) == (TRANSFER_BYTES, expected)
        child = _child_counters(gw)
        assert int(child["bytes-in"]) > TRANSFER_BYTES
        assert child.get("encap") == "yes"
        # The NAT forwarded nothing from the client but IKE and ESP in UDP 500/4500.
        udp4500, udp500, everything = _nat_counts(lab)
        assert udp4500[1] > TRANSFER_BYTES
        assert 1 <= udp500[0] <= 4
        assert everything == (udp4500[0] + udp500[0], udp4500[1] + udp500[1])
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    assert "traffic: in" in client.stdout
    gw.wait_for_no_sa(timeout=5)
    # Tunnel down: no path to the server, and the host is as it was.
    assert not lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
    assert snapshot(lab.client_ns) == before


def test_kill_9_then_next_start_restores_the_host(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    before = snapshot(lab.client_ns)
    profile = write_profile(lab, "crash")
    client = IkeclientProcess(lab, profile)
    client.wait_for_output("tunnel up")
    assert lab.ping(lab.client_ns, lab.server_addr, count=1, wait=2, deadline=5)
    os.kill(client.proc.pid, signal.SIGKILL)
    client.wait(10)
    left = snapshot(lab.client_ns)
    assert left != before  # the DNS change (at least) outlives the killed process
    assert "ikeclient" in (left["resolv_conf"] or "")
    again = run_ikeclient(lab, profile, "--once")
    assert again.proc.returncode == 0, again.stdout + again.stderr
    assert "restored the host changes left by an earlier run that died (crash)" in again.stdout
    assert snapshot(lab.client_ns) == before
    gw.wait_for_no_sa(timeout=5)


def test_nat_keepalives_while_idle(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    inside = lab.nat_inside_if
    rules = (
        "table inet ikkeep {\n"
        "  chain counting {\n"
        "    type filter hook forward priority 0; policy accept;\n"
        f'    iifname "{inside}" udp dport 4500 udp length 9 @th,64,8 0xff counter\n'
        "  }\n"
        "}\n"
    )
    assert lab.run(lab.nat_ns, ["nft", "-f", "-"], input=rules).returncode == 0
    profile = write_profile(lab, "keep", nat_keepalive=0.5)
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        time.sleep(2.2)
        res = lab.run(lab.nat_ns, ["nft", "-j", "list", "table", "inet", "ikkeep"], check=True)
        (count,) = [
            e["rule"]["expr"][-1]["counter"]["packets"]
            for e in json.loads(res.stdout)["nftables"]
            if "rule" in e
        ]
        # One 0xFF byte every 0.5 s of silence (RFC 3948 §2.3): about four in 2.2 s.
        assert 2 <= count <= 6, count
        # Keepalives do not disturb the tunnel.
        assert lab.ping(lab.client_ns, lab.server_addr, count=1, wait=2, deadline=5)
    finally:
        lab.run(lab.nat_ns, ["nft", "delete", "table", "inet", "ikkeep"])
        assert client.stop() == 0
    gw.wait_for_no_sa(timeout=5)


def test_full_tunnel_keeps_the_gateway_reachable() -> None:
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig(local_ts=("0.0.0.0/0",)))
        before = snapshot(lab.client_ns)
        profile = write_profile(lab, "full", remote_ts=["0.0.0.0/0"])
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("tunnel up")
            routes = lab.run(lab.client_ns, ["ip", "route"], check=True).stdout
            assert "0.0.0.0/1 dev ikc0" in routes and "128.0.0.0/1 dev ikc0" in routes
            assert f"{lab.gateway_addr} via {lab.nat_inside_addr}" in routes
            assert "default via" in routes  # the original default route is untouched
            assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=8)
            # The gateway narrowed nothing on its side: the whole IPv4 space goes through.
            (sa,) = gw.list_sas()
            assert sa["children"][0]["local-ts"] == ["0.0.0.0/0"]
            assert sa["children"][0]["remote-ts"] == [f"{sa['remote-vips'][0]}/32"]
            # Leak protection (on by default for a full tunnel): only IKE/ESP to the gateway
            # may use the uplink; a program bound to it is refused at once (EPERM).
            assert leak_probe(lab, lab.nat_inside_addr, 53, bind=lab.client_addr) == "EPERM"
            assert leak_probe(lab, lab.server_addr, 53) == "sent"  # through the tunnel
        finally:
            code = client.stop()
        assert code == 0, client.stdout + client.stderr
        gw.wait_for_no_sa(timeout=5)  # the Delete went out over the host route
        assert snapshot(lab.client_ns) == before
        nft = lab.run(lab.client_ns, ["nft", "list", "table", "inet", "ikeclient"])
        assert nft.returncode != 0  # leak protection removed on a normal disconnect
