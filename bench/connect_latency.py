"""Connect latency: ikeclient vs strongSwan's own initiator, side by side in one lab run.

Measures "first IKE_SA_INIT sent → child SA ready" against the same strongSwan gateway, through
the lab's NAT, for each IKE suite: ikeclient in-process (``ikeclient_connect_driver.py`` in the
client namespace), and a second charon in the client namespace (in-daemon times from its log,
millisecond resolution). Reports medians and the ratio ikeclient / strongSwan.
Target (issue: IKEv2 initiator): ratio <= 1.5.

Run as root from the repository root:  .venv/bin/python bench/connect_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import (  # noqa: E402
    ClientConfig,
    GatewayConfig,
    Lab,
    StrongSwanClient,
    StrongSwanGateway,
)
from tests.lab.ikeclient import write_profile  # noqa: E402

SUITES = ("aes256gcm16-prfsha256-ecp256", "aes128-sha256-modp2048")
ESP = "aes256gcm16"
BATCH = 5


def strongswan_batch(ref: StrongSwanClient, gw: StrongSwanGateway, runs: int) -> list[float]:
    before = len(ref.connect_timings())
    for _ in range(runs):
        ref.initiate()
        ref.terminate()
        gw.wait_for_no_sa(timeout=5)
    return [float(t.duration_ms) for t in ref.connect_timings()[before:]]


def ikeclient_batch(lab: Lab, profile: Path, runs: int) -> list[float]:
    driver = REPO / "bench" / "ikeclient_connect_driver.py"
    res = lab.run(
        lab.client_ns,
        [sys.executable, str(driver), str(profile), str(runs)],
        env={"PYTHONPATH": str(REPO)},
        timeout=30 + runs * 5,
    )
    if res.returncode != 0:
        raise SystemExit(f"ikeclient driver failed:\n{res.stdout}{res.stderr}")
    timings: list[float] = json.loads(res.stdout)
    return timings


def measure(
    lab: Lab, gw: StrongSwanGateway, suite: str, runs: int
) -> tuple[list[float], list[float]]:
    """Alternate batches of strongSwan and ikeclient connects so drift hits both alike."""
    ref = lab.start_reference_client(
        ClientConfig(ike_proposals=(suite,), esp_proposals=(ESP,)), name=f"ref{len(suite)}"
    )
    profile = write_profile(lab, "bench", ike_proposals=[suite], esp_proposals=[ESP])
    ss: list[float] = []
    ours: list[float] = []
    while len(ss) < runs:
        batch = min(BATCH, runs - len(ss))
        ss += strongswan_batch(ref, gw, batch)
        ours += ikeclient_batch(lab, profile, batch)
    ref.stop()
    return ss, ours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--suite", action="append", help="IKE proposal(s); default: two suites")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    suites = tuple(args.suite or SUITES)
    results = []
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig(ike_proposals=suites, esp_proposals=(ESP,)))
        for suite in suites:
            ss, ours = measure(lab, gw, suite, args.runs)
            row = {
                "suite": suite,
                "runs": args.runs,
                "strongswan_median_ms": statistics.median(ss),
                "ikeclient_median_ms": statistics.median(ours),
                "ikeclient_p90_ms": sorted(ours)[int(0.9 * (len(ours) - 1))],
                "strongswan_p90_ms": sorted(ss)[int(0.9 * (len(ss) - 1))],
            }
            row["ratio"] = row["ikeclient_median_ms"] / max(row["strongswan_median_ms"], 0.5)
            results.append(row)
    print(f"connect latency, IKE_SA_INIT sent -> child SA ready, {args.runs} runs each")
    print(f"{'suite':38} {'strongSwan':>11} {'ikeclient':>11} {'ratio':>7}  target <= 1.5")
    for r in results:
        print(
            f"{r['suite']:38} {r['strongswan_median_ms']:9.1f}ms {r['ikeclient_median_ms']:9.1f}ms"
            f" {r['ratio']:6.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps({"time": time.time(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
