"""A fail-closed tunnel against strongSwan (issue 11): hostile gateway settings are refused,
a full tunnel stays full, and IPv6 cannot leave beside a full IPv4 tunnel.

The gateway is real (strongSwan 5.9.8); its pool hands out what a hostile or misconfigured
gateway would: the client's own LAN router as the virtual IP, or split subnets
(INTERNAL_IP4_SUBNET, swanctl's pool ``subnet``) while the profile asks for a full tunnel.
"""

from __future__ import annotations

import time

import pytest

from ikeclient.net.routes import snapshot
from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab
from tests.lab.ikeclient import IkeclientProcess, run_ikeclient, write_profile

pytestmark = pytest.mark.interop

CLIENT6 = "2001:2:0:1::2"
ROUTER6 = "2001:2:0:1::1"
OUTSIDE6 = "2001:2:0:99::1"  # beyond the client's LAN: only the default route would reach it
LAN_SUBNET = "198.18.1.0/24"  # the client's uplink network (tests/lab/topology.py)


def test_a_virtual_ip_equal_to_the_lan_router_is_refused() -> None:
    require_root()
    with Lab() as lab:
        router = lab.nat_inside_addr  # the client's default gateway
        gw = lab.start_gateway(GatewayConfig(pool=f"{router}-{router}"))
        before = snapshot(lab.client_ns)
        profile = write_profile(lab, "hostile")
        client = run_ikeclient(lab, profile, timeout=20)
        code = client.proc.returncode
        assert code == 18, client.stdout + client.stderr
        errors = [x for x in client.stderr.splitlines() if x.startswith("ikeclient: error:")]
        assert len(errors) == 1, client.stderr
        assert f"refusing the virtual IP {router}" in errors[0]
        assert "router" in errors[0]
        assert "Traceback" not in client.stderr
        assert snapshot(lab.client_ns) == before  # the host as it was
        gw.wait_for_no_sa(timeout=5)  # and the gateway was told (Delete)


def _enable_ipv6_on_the_client_lan(lab: Lab) -> None:
    """The lab runs without IPv6; give the client an IPv6 uplink and a default route, so an
    IPv6 packet would leave by the uplink if nothing stopped it."""
    conf = f"/proc/sys/net/ipv6/conf/{lab.client_if}"
    # No duplicate address detection: the link-local address is final at once, so the
    # snapshots taken before and after compare equal.
    script = f"echo 0 > {conf}/accept_dad && echo 0 > {conf}/disable_ipv6"
    lab.run(lab.client_ns, ["sh", "-c", script], check=True)
    for argv in (
        ["ip", "-6", "addr", "add", f"{CLIENT6}/64", "dev", lab.client_if, "nodad"],
        ["ip", "-6", "route", "add", "default", "via", ROUTER6, "dev", lab.client_if],
    ):
        lab.run(lab.client_ns, argv, check=True)


def _ipv6_connect_error(lab: Lab) -> tuple[str, float]:
    """Connect a UDP socket to OUTSIDE6 and send: the error (or 'sent') and how long it took."""
    code = (
        "import socket, time\n"
        "t = time.monotonic()\n"
        "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "try:\n"
        f"    s.connect(('{OUTSIDE6}', 9))\n"
        "    s.send(b'x')\n"
        "    r = 'sent'\n"
        "except OSError as e:\n"
        "    r = e.strerror\n"
        "print(r, time.monotonic() - t)\n"
    )
    res = lab.run(lab.client_ns, ["python3", "-c", code], check=True)
    result, _, took = res.stdout.strip().rpartition(" ")
    return result, float(took)


def test_full_tunnel_stays_full_and_ipv6_cannot_leak() -> None:
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway(
            # Split subnets: the server's, and one that lies on the client's own LAN.
            GatewayConfig(
                local_ts=("0.0.0.0/0",),
                pool_extra={"subnet": [lab.server_subnet, LAN_SUBNET]},
            )
        )
        _enable_ipv6_on_the_client_lan(lab)
        before = snapshot(lab.client_ns)
        assert _ipv6_connect_error(lab)[0] == "sent"  # without the tunnel IPv6 goes out
        resolv_before = lab.run(lab.client_ns, ["cat", "/etc/resolv.conf"]).stdout

        profile = write_profile(lab, "full", remote_ts=["0.0.0.0/0"])
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("tunnel up")
            routes = lab.run(lab.client_ns, ["ip", "route"], check=True).stdout
            # The gateway's split subnet did not make the full tunnel a split one.
            assert "0.0.0.0/1 dev ikc0" in routes and "128.0.0.0/1 dev ikc0" in routes
            assert f"{lab.server_subnet} dev ikc0" not in routes
            assert "accept_split = false" in client.stderr + client.stdout
            assert lab.ping(lab.client_ns, lab.server_addr, count=2, wait=2, deadline=6)
            # IPv6 beyond the LAN fails at once instead of leaving by the uplink.
            error, took = _ipv6_connect_error(lab)
            assert error == "No route to host" and took < 0.5, (error, took)
            routes6 = lab.run(lab.client_ns, ["ip", "-6", "route"], check=True).stdout
            assert "unreachable ::/1 dev lo proto 157" in routes6
            assert "unreachable 8000::/1 dev lo proto 157" in routes6
            # DNS: only the tunnel's servers.
            resolv = lab.run(lab.client_ns, ["cat", "/etc/resolv.conf"]).stdout
            active = [x for x in resolv.splitlines() if x.startswith("nameserver")]
            assert active == [f"nameserver {s}" for s in lab.dns_servers], resolv
        finally:
            code = client.stop()
        assert code == 0, client.stdout + client.stderr
        gw.wait_for_no_sa(timeout=5)
        assert snapshot(lab.client_ns) == before
        assert lab.run(lab.client_ns, ["cat", "/etc/resolv.conf"]).stdout == resolv_before

        # accept_split = true: the same gateway makes it a split tunnel, IPv6 left alone.
        profile = write_profile(lab, "split", remote_ts=["0.0.0.0/0"], accept_split=True)
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("tunnel up")
            routes = lab.run(lab.client_ns, ["ip", "route"], check=True).stdout
            assert f"{lab.server_subnet} dev ikc0" in routes and "0.0.0.0/1" not in routes
            # The split subnet on the client's own LAN is refused: the LAN stays the LAN.
            assert f"{LAN_SUBNET} dev ikc0" not in routes
            assert f"refusing the route {LAN_SUBNET}" in client.stderr, client.stderr
            assert lab.ping(lab.client_ns, lab.server_addr, count=1, wait=2, deadline=5)
            assert "unreachable" not in lab.run(lab.client_ns, ["ip", "-6", "route"]).stdout
        finally:
            code = client.stop()
        assert code == 0, client.stdout + client.stderr
        time.sleep(0.1)
        assert snapshot(lab.client_ns) == before
