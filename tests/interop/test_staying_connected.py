"""Staying connected against a real strongSwan gateway, with traffic (issue 5).

- Rekeys under load: child SAs every ~15 s, the IKE SA every ~45 s by the client's own
  lifetimes, and rekeys the gateway starts (``swanctl --rekey``) in between; three
  minutes of pings at 20/s and a paced TCP stream: no ping lost, no TCP stall over 1 s.
- The gateway's charon is killed and restarted: the client notices within its liveness
  delay plus its timeout, reconnects by itself, with the TUN in place, and traffic flows.
  With the profile's defaults: stopped with SIGTERM (it deletes our IKE SA) and started
  again, the client reconnects at once; killed with SIGKILL under traffic, the unanswered
  ESP starts a quick liveness check and the client is back well before ``dpd_delay``;
  with ``on_gateway_delete = "exit"`` the SIGTERM ends the client instead.
- A lossy, slow, reordering path (5 % loss, 50 ± 20 ms each way): connecting works
  within the retransmission schedule and 20 MB arrive intact.
- The client's address changes (a second uplink; the NAT forgetting its mappings): MOBIKE
  moves the same IKE SA (same SPIs), the gateway shows the new address, traffic resumes
  within 2 s.
- AUTH_LIFETIME: the gateway asks for reauthentication; a new IKE SA replaces the old
  one make-before-break, the virtual IP stays, no ping is lost.

Times are measured and reported; the checks that involve time are bounded waits or
margins far above what the lab normally shows (a stall of 1 s against gaps of ~50 ms).
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, StrongSwanGateway
from tests.lab.ikeclient import REPO_ROOT, IkeclientProcess, leak_probe, state_dir, write_profile
from tests.lab.recovery import DEFAULT_RETRANSMIT, gateway_outage
from tests.lab.strongswan import SaInfo
from tests.lab.traffic import Pinger, TcpStream, transfer

pytestmark = pytest.mark.interop

LINE = re.compile(r"^(child rekey|IKE rekey)\s+[\d.]+ ms .* \(by (us|gateway)\)", re.M)


def rekeys(stdout: str) -> dict[tuple[str, str], int]:
    """Counts of ("child rekey" | "IKE rekey", "us" | "gateway") from the client's output."""
    counts: dict[tuple[str, str], int] = {}
    for kind, who in LINE.findall(stdout):
        counts[(kind, who)] = counts.get((kind, who), 0) + 1
    return counts


def one_sa(gw: StrongSwanGateway) -> SaInfo:
    (sa,) = [s for s in gw.list_sas() if s.get("state") == "ESTABLISHED"]
    return sa


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_root()
    with Lab(nat_random_ports=True) as the_lab:
        yield the_lab


# --------------------------------------------------------------------- rekeys under traffic

RUN_SECONDS = 180
# Rekeys the gateway starts, at these seconds into the run (child SA or IKE SA).
GATEWAY_REKEYS = [(25, "child"), (65, "ike"), (100, "child"), (140, "ike"), (160, "child")]


def test_rekeys_under_traffic_lose_nothing(lab: Lab) -> None:
    gw = lab.start_gateway(GatewayConfig(rekey_time="60s", child_rekey_time="20s", dpd_delay="10s"))
    profile = write_profile(
        lab,
        "rekey",
        dpd_delay=10,
        lifetimes={"ike_rekey_time": 45, "child_rekey_time": 15, "jitter": 0.1},
    )
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        pings = Pinger(lab, lab.server_addr, count=RUN_SECONDS * 20, interval=0.05)
        stream = TcpStream(lab, seconds=RUN_SECONDS, rate=1_000_000)
        start = time.monotonic()
        for at, what in GATEWAY_REKEYS:
            time.sleep(max(0.0, start + at - time.monotonic()))
            if what == "child":
                gw.swanctl("--rekey", "--child", "net")
            else:
                gw.swanctl("--rekey", "--ike", "lab")
        ping = pings.result()
        tcp = stream.result()
        # Both ends agree there is one IKE SA with one installed child SA.
        sa = one_sa(gw)
        assert [c["state"] for c in sa["children"] if c["state"] == "INSTALLED"] == ["INSTALLED"]
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    counts = rekeys(client.stdout)
    print(
        f"\nrekeys {counts}; pings {ping.received}/{ping.transmitted}, longest silence "
        f"{ping.max_gap():.3f} s; TCP {tcp.received} bytes, longest stall {tcp.max_gap:.3f} s"
    )
    child = counts.get(("child rekey", "us"), 0) + counts.get(("child rekey", "gateway"), 0)
    ike = counts.get(("IKE rekey", "us"), 0) + counts.get(("IKE rekey", "gateway"), 0)
    assert child >= 6 and ike >= 2, counts
    assert counts.get(("child rekey", "us"), 0) >= 3, counts
    assert counts.get(("child rekey", "gateway"), 0) >= 2, counts
    assert counts.get(("IKE rekey", "us"), 0) >= 1, counts
    assert counts.get(("IKE rekey", "gateway"), 0) >= 1, counts
    assert "reconnect" not in client.stdout
    assert ping.transmitted == RUN_SECONDS * 20
    assert ping.lost == 0, ping.lost_seqs()
    assert tcp.received == tcp.sent > 0.9 * RUN_SECONDS * 1_000_000
    assert tcp.max_gap < 1.0, tcp.long_gaps


# --------------------------------------------------------------------- dead and restarted gateway


def test_restarted_gateway_is_noticed_and_reconnected(lab: Lab) -> None:
    lab.start_gateway(GatewayConfig())
    dpd_delay, dpd_timeout = 2, 2
    profile = write_profile(
        lab, "restart", dpd_delay=dpd_delay, dpd_timeout=dpd_timeout, reconnect_max_delay=4
    )
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        tun_before = lab.run(lab.client_ns, ["ip", "-br", "addr", "show", "ikc0"]).stdout
        pings = Pinger(lab, lab.server_addr, count=400, interval=0.05)
        time.sleep(2)
        killed = time.monotonic()
        gw = lab.restart_gateway(kill=True)  # SIGKILL: it sends nothing, it forgets everything
        # Noticed within the liveness delay and its timeout (no traffic comes back).
        client.wait_for_output("reconnect ", timeout=dpd_delay + dpd_timeout + 2)
        noticed = time.monotonic() - killed
        client.wait_for_output("reconnected", timeout=15)
        back = time.monotonic() - killed
        ping = pings.result()
        # The TUN (and its address) stayed in place the whole time.
        assert lab.run(lab.client_ns, ["ip", "-br", "addr", "show", "ikc0"]).stdout == tun_before
        assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=6)
        sa = one_sa(gw)
        assert sa["children"] and sa["remote-vips"] == ["198.18.200.1"]
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    print(f"\nrestart: noticed after {noticed:.1f} s, tunnel back after {back:.1f} s, "
          f"{ping.lost} of {ping.transmitted} pings lost meanwhile")  # fmt: skip
    assert ping.received > 0 and ping.replies[-1][1] > 350  # traffic flows again at the end


@pytest.mark.parametrize(
    ("kill", "bound"), [(False, 60.0), (True, 90.0)], ids=["sigterm", "sigkill-under-traffic"]
)
def test_gateway_restart_with_default_settings_is_followed(
    lab: Lab, kill: bool, bound: float
) -> None:
    lab.start_gateway(GatewayConfig())
    # The profile's defaults for liveness, reconnecting and retransmissions.
    profile = write_profile(lab, "recover", retransmit=DEFAULT_RETRANSMIT)
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        tun_before = lab.run(lab.client_ns, ["ip", "-br", "addr", "show", "ikc0"]).stdout
        outage = gateway_outage(lab, kill=kill, timeout=bound)
        assert outage is not None, client.stdout + client.stderr
        client.wait_for_output("reconnected", timeout=5)
        assert lab.run(lab.client_ns, ["ip", "-br", "addr", "show", "ikc0"]).stdout == tun_before
        assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=6)
        assert lab.gateway is not None
        sa = one_sa(lab.gateway)
        assert sa["children"] and sa["remote-vips"] == ["198.18.200.1"]
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    how = "killed under traffic" if kill else "stopped (SIGTERM) and started"
    print(f"\ngateway {how}: ping through the tunnel again after {outage:.1f} s")
    if not kill:
        assert "deleted by the gateway" in client.stdout


def test_gateway_delete_with_on_gateway_delete_exit_ends_the_client(lab: Lab) -> None:
    lab.start_gateway(GatewayConfig())
    profile = write_profile(lab, "exit", on_gateway_delete="exit")
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        lab.restart_gateway(kill=False)
        code = client.wait(timeout=15)
    finally:
        client.stop()
    assert "closed" in client.stdout and "deleted by the gateway" in client.stdout
    assert "reconnect" not in client.stdout
    assert code == 0, client.stdout + client.stderr
    # The host is back as it was: no TUN left.
    assert "ikc0" not in lab.run(lab.client_ns, ["ip", "-br", "link"]).stdout


def test_full_tunnel_ended_by_the_gateway_stays_closed_until_down(lab: Lab) -> None:
    """Fail-closed: a full tunnel that was up and then ended without being asked to keeps
    leak protection on (nothing leaves outside the tunnel) until `ikeclient down`."""
    lab.start_gateway(GatewayConfig(local_ts=("0.0.0.0/0",)))
    profile = write_profile(lab, "closed", remote_ts=["0.0.0.0/0"], on_gateway_delete="exit")
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        assert leak_probe(lab, lab.nat_inside_addr, 53) == "EPERM"
        lab.restart_gateway(kill=False)
        code = client.wait(timeout=15)
    finally:
        client.stop()
    assert code == 0, client.stdout + client.stderr
    assert "leak protection stays on" in client.stderr and "ikeclient down closed" in client.stderr
    assert "ikc0" not in lab.run(lab.client_ns, ["ip", "-br", "link"]).stdout
    nft = ["nft", "list", "table", "inet", "ikeclient"]
    assert lab.run(lab.client_ns, nft).returncode == 0
    assert leak_probe(lab, lab.nat_inside_addr, 53) == "EPERM"  # still nothing leaves
    down = [sys.executable, "-m", "ikeclient", "down", "closed", "--state-dir", str(state_dir(lab))]
    result = lab.run(lab.client_ns, down, env={"PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert lab.run(lab.client_ns, nft).returncode != 0
    assert leak_probe(lab, lab.nat_inside_addr, 53) == "sent"


# --------------------------------------------------------------------- a bad path

TRANSFER = 20 * 1024 * 1024


def test_lossy_slow_reordering_path(lab: Lab) -> None:
    lab.start_gateway(GatewayConfig(child_extra={"replay_window": 1024}))
    relay = lab.impair(delay=0.050, jitter=0.020, loss=0.05, reorder=0.05)
    profile = write_profile(lab, "lossy", dpd_delay=30, retransmit={"timeout": 1.0, "tries": 5})
    started = time.monotonic()
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up", timeout=60)  # within the retransmission schedule
        connected = time.monotonic() - started
        expected = hashlib.sha256(random.Random(20261127).randbytes(TRANSFER)).hexdigest()
        began = time.monotonic()
        assert transfer(lab, TRANSFER) == (TRANSFER, expected)
        took = time.monotonic() - began
    finally:
        code = client.stop()
        lab.stop_process(relay)
    assert code == 0, client.stdout + client.stderr
    print(f"\nlossy path: connected in {connected:.2f} s, 20 MB in {took:.1f} s")


# --------------------------------------------------------------------- roaming (MOBIKE)


@pytest.mark.parametrize("full", [False, True], ids=["split", "full-tunnel"])
def test_new_uplink_moves_the_same_ike_sa(lab: Lab, full: bool) -> None:
    # A full tunnel's host route to the gateway leaves with the first link; the gateway is
    # then routed into the tunnel until the client pins the route again via the second.
    ts = ("0.0.0.0/0",) if full else None
    gw = lab.start_gateway(GatewayConfig(local_ts=ts) if ts else GatewayConfig())
    extra = {"remote_ts": list(ts)} if ts else {}
    profile = write_profile(lab, "roam", dpd_delay=2, **extra)
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        lab.add_uplink(public_addr="198.18.2.3")
        before = one_sa(gw)
        assert before["remote-host"] == lab.nat_outside_addr
        pings = Pinger(lab, lab.server_addr, count=200, interval=0.05)
        time.sleep(2)
        moved_at = time.time()
        lab.set_link(lab.client_ns, lab.client_if, up=False)  # the first network goes away
        client.wait_for_output("MOBIKE", timeout=5)
        ping = pings.result()
        after = one_sa(gw)
        host = lab.run(lab.client_ns, ["ip", "route", "show", lab.gateway_addr]).stdout
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    resumed = (ping.first_reply_after(moved_at) or float("inf")) - moved_at
    print(f"\nMOBIKE: traffic resumed {resumed:.3f} s after the switch, {ping.lost} pings lost")
    assert after["remote-host"] == "198.18.2.3"  # the gateway follows the new address
    assert (after["initiator-spi"], after["responder-spi"]) == (
        before["initiator-spi"],
        before["responder-spi"],
    )  # the same IKE SA
    assert resumed < 2.0
    assert "reconnect" not in client.stdout
    if full:
        assert "198.18.4.1" in host, host  # pinned again via the second uplink


def test_nat_forgetting_us_is_followed(lab: Lab) -> None:
    gw = lab.start_gateway(GatewayConfig())
    profile = write_profile(lab, "natflush", dpd_delay=1)
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        time.sleep(1.5)  # the client learns how the NAT maps it
        before = one_sa(gw)
        pings = Pinger(lab, lab.server_addr, count=160, interval=0.05)
        time.sleep(2)
        flushed_at = time.time()
        lab.flush_nat()
        client.wait_for_output("MOBIKE", timeout=6)
        ping = pings.result()
        after = one_sa(gw)
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    resumed = (ping.first_reply_after(flushed_at) or float("inf")) - flushed_at
    print(f"\nNAT flush: traffic resumed {resumed:.3f} s later, {ping.lost} pings lost")
    assert after["remote-port"] != before["remote-port"]  # the NAT mapped us anew
    assert after["initiator-spi"] == before["initiator-spi"]
    assert resumed < 2.0


# --------------------------------------------------------------------- reauthentication


def test_auth_lifetime_reauthenticates_make_before_break(lab: Lab) -> None:
    gw = lab.start_gateway(GatewayConfig(reauth_time="12s", over_time="30s"))
    profile = write_profile(lab, "reauth", dpd_delay=30)
    client = IkeclientProcess(lab, profile, "-v")
    try:
        client.wait_for_output("tunnel up")
        first = one_sa(gw)
        pings = Pinger(lab, lab.server_addr, count=300, interval=0.05)
        ping = pings.result()  # 15 s: the reauthentication happens in the middle
        second = one_sa(gw)
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    assert "reauthentication in" in client.stderr  # AUTH_LIFETIME seen (RFC 4478)
    assert second["initiator-spi"] != first["initiator-spi"]  # a new IKE SA
    assert second["remote-vips"] == first["remote-vips"]  # same virtual IP
    assert ping.lost == 0, ping.lost_seqs()
