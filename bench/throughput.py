"""Data-plane benchmark: ikeclient vs strongSwan's own client, side by side in one lab run.

Both clients connect, one after the other, from the lab's client namespace through the NAT to
the same strongSwan gateway (kernel-libipsec), and iperf3 runs TCP to the server behind it in
both directions. Reported per client and direction:

- throughput (iperf3's receiver rate);
- the client process's CPU time per packet: CPU seconds (user + system, from /proc through
  psutil) spent by the client process during the run, divided by the ESP packets it handled
  (the gateway's packet counters for the child SA, both directions).

Targets (issue: ESP data plane): throughput >= 1.0x strongSwan's client, CPU per packet
<= 0.5x. The gateway is the lab's bottleneck; compare CPU per packet, not only Mbit/s.

Run as root from the repository root:  .venv/bin/python bench/throughput.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import (  # noqa: E402
    ClientConfig,
    GatewayConfig,
    Lab,
    StrongSwanGateway,
)
from tests.lab.ikeclient import IkeclientProcess, write_profile  # noqa: E402

IKE = "aes256gcm16-prfsha256-ecp256"
ESP = "aes256gcm16"


def _cpu_split(pid: int) -> tuple[float, float]:
    times = psutil.Process(pid).cpu_times()
    return float(times.user), float(times.system)


def _child_packets(gw: StrongSwanGateway) -> int:
    total = 0
    for sa in gw.list_sas():
        for child in sa["children"]:
            total += int(child.get("packets-in", 0)) + int(child.get("packets-out", 0))
    return total


def _iperf(lab: Lab, seconds: int, reverse: bool) -> float:
    """Mbit/s received, TCP, one stream, client namespace -> server (or back with -R)."""
    server = lab.popen(lab.server_ns, ["iperf3", "-s", "-1", "-B", lab.server_addr])
    time.sleep(0.3)
    argv = ["iperf3", "-c", lab.server_addr, "-t", str(seconds), "-J"]
    if reverse:
        argv.append("-R")
    res = lab.run(lab.client_ns, argv, timeout=seconds + 20)
    lab.stop_process(server)
    if res.returncode != 0:
        raise SystemExit(f"iperf3 failed: {res.stdout[-2000:]}{res.stderr}")
    data = json.loads(res.stdout)
    return float(data["end"]["sum_received"]["bits_per_second"]) / 1e6


def _measure(
    lab: Lab, gw: StrongSwanGateway, pid: int, seconds: int, reverse: bool
) -> dict[str, float]:
    packets0, (user0, sys0) = _child_packets(gw), _cpu_split(pid)
    mbps = _iperf(lab, seconds, reverse)
    user1, sys1 = _cpu_split(pid)
    packets = max(_child_packets(gw) - packets0, 1)
    user, system = user1 - user0, sys1 - sys0
    return {
        "mbps": mbps,
        "packets": packets,
        "us_per_packet": (user + system) / packets * 1e6,
        "user_us_per_packet": user / packets * 1e6,
        "sys_us_per_packet": system / packets * 1e6,
    }


def run_strongswan(lab: Lab, gw: StrongSwanGateway, seconds: int) -> dict[str, dict[str, float]]:
    ref = lab.start_reference_client(
        ClientConfig(ike_proposals=(IKE,), esp_proposals=(ESP,)), name="refbench"
    )
    assert ref.proc is not None
    ref.initiate()
    try:
        return {
            d: _measure(lab, gw, ref.proc.pid, seconds, d == "download")
            for d in ("upload", "download")
        }
    finally:
        ref.terminate()
        ref.stop()
        gw.wait_for_no_sa(timeout=5)


def run_ikeclient(lab: Lab, gw: StrongSwanGateway, seconds: int) -> dict[str, dict[str, float]]:
    profile = write_profile(lab, "bench", ike_proposals=[IKE], esp_proposals=[ESP])
    client = IkeclientProcess(lab, profile)
    client.wait_for_output("tunnel up")
    try:
        return {
            d: _measure(lab, gw, client.proc.pid, seconds, d == "download")
            for d in ("upload", "download")
        }
    finally:
        client.stop()
        gw.wait_for_no_sa(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per iperf3 run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per client")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"strongswan": [], "ikeclient": []}
    order: list[tuple[str, Callable[[Lab, StrongSwanGateway, int], Any]]] = [
        ("strongswan", run_strongswan),
        ("ikeclient", run_ikeclient),
    ]
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig(ike_proposals=(IKE,), esp_proposals=(ESP,)))
        for _ in range(args.rounds):
            for name, fn in order:
                runs[name].append(fn(lab, gw, args.seconds))
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name, results in runs.items():
        summary[name] = {
            d: {
                k: statistics.median(r[d][k] for r in results)
                for k in (
                    "mbps",
                    "packets",
                    "us_per_packet",
                    "user_us_per_packet",
                    "sys_us_per_packet",
                )
            }
            for d in ("upload", "download")
        }
    print(f"TCP through the tunnel ({IKE}, ESP {ESP}), {args.seconds} s x {args.rounds} rounds")
    print(f"{'':10}{'':10}{'strongSwan':>14}{'ikeclient':>14}{'ratio':>8}   target")
    for d in ("upload", "download"):
        ss, ours = summary["strongswan"][d], summary["ikeclient"][d]
        print(
            f"{d:10}{'Mbit/s':10}{ss['mbps']:14.0f}{ours['mbps']:14.0f}"
            f"{ours['mbps'] / ss['mbps']:8.2f}   >= 1.0"
        )
        print(
            f"{'':10}{'us/packet':10}{ss['us_per_packet']:14.1f}{ours['us_per_packet']:14.1f}"
            f"{ours['us_per_packet'] / ss['us_per_packet']:8.2f}   <= 0.5"
        )
        print(
            f"{'':10}{'user/sys':10}"
            f"{ss['user_us_per_packet']:8.1f}/{ss['sys_us_per_packet']:<5.1f}"
            f"{ours['user_us_per_packet']:8.1f}/{ours['sys_us_per_packet']:<5.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"time": time.time(), "runs": runs, "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
