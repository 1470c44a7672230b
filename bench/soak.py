"""Soak: a child SA rekey every 10 s (and an IKE SA rekey every minute) under load, for a long time.

The client's own lifetimes drive the rekeys (child ``rekey_time`` 10 s, IKE 60 s, 10 %
jitter); the gateway adds one of its own now and then (``swanctl --rekey``), so both
directions of every exchange run. Load: pings at 10/s and a paced TCP upload. Every
``--sample`` seconds the client process's RSS and open file descriptors are recorded
(psutil); at the end the report says whether they stayed flat: the trend of RSS after the
warm-up (least squares, in KiB per hour), the first and last RSS, the fd range, the rekey
counts, lost pings and the longest TCP stall.

Not a test (never run in CI). As root from the repository root:

    .venv/bin/python bench/soak.py --minutes 30          # the issue's soak
    .venv/bin/python bench/soak.py --minutes 5 --json    # a shorter one
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import GatewayConfig, Lab  # noqa: E402
from tests.lab.ikeclient import IkeclientProcess, write_profile  # noqa: E402
from tests.lab.traffic import Pinger, TcpStream  # noqa: E402

REKEY = re.compile(r"^(child rekey|IKE rekey)\s.*\(by (us|gateway)\)", re.M)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / var * 3600


def soak(minutes: float, sample: float, rate: float, warmup: float) -> dict[str, Any]:
    seconds = minutes * 60
    with Lab(nat_random_ports=True) as lab:
        gw = lab.start_gateway(GatewayConfig(rekey_time="4h", child_rekey_time="1h"))
        profile = write_profile(
            lab,
            "soak",
            dpd_delay=10,
            lifetimes={"ike_rekey_time": 60, "child_rekey_time": 10, "jitter": 0.1},
        )
        client = IkeclientProcess(lab, profile)
        client.wait_for_output("tunnel up")
        proc = psutil.Process(client.proc.pid)
        pings = Pinger(lab, lab.server_addr, count=int(seconds * 10), interval=0.1)
        stream = TcpStream(lab, seconds=seconds, rate=rate)
        start = time.monotonic()
        samples: list[dict[str, float]] = []
        next_gateway_rekey = 45.0
        while (elapsed := time.monotonic() - start) < seconds:
            mem = proc.memory_info()
            samples.append(
                {"t": round(elapsed, 1), "rss_kib": mem.rss / 1024, "fds": proc.num_fds()}
            )
            if elapsed >= next_gateway_rekey:
                gw.swanctl("--rekey", "--child", "net")
                next_gateway_rekey += 120.0
            time.sleep(min(sample, max(0.0, seconds - elapsed)))
        ping = pings.result()
        tcp = stream.result()
        client.stop()
    counts: dict[str, int] = {}
    for kind, who in REKEY.findall(client.stdout):
        counts[f"{kind} by {who}"] = counts.get(f"{kind} by {who}", 0) + 1
    steady = [(s["t"], s["rss_kib"]) for s in samples if s["t"] >= warmup]
    fds = [int(s["fds"]) for s in samples]
    return {
        "minutes": minutes,
        "rekeys": counts,
        "rss_first_kib": round(samples[0]["rss_kib"]),
        "rss_after_warmup_kib": round(steady[0][1]) if steady else None,
        "rss_last_kib": round(samples[-1]["rss_kib"]),
        "rss_max_kib": round(max(s["rss_kib"] for s in samples)),
        "rss_trend_kib_per_hour": round(slope_per_hour(steady), 1),
        "fds_min": min(fds),
        "fds_max": max(fds),
        "fds_first": fds[0],
        "fds_last": fds[-1],
        "pings_sent": ping.transmitted,
        "pings_lost": ping.lost,
        "tcp_bytes": tcp.received,
        "tcp_longest_stall_s": round(tcp.max_gap, 3),
        "reconnects": client.stdout.count("\nreconnect "),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=2_000_000, help="TCP bytes per second")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds left out of trends")
    parser.add_argument("--json", action="store_true", help="print the samples as JSON too")
    args = parser.parse_args()
    result = soak(args.minutes, args.sample, args.rate, args.warmup)
    samples = result.pop("samples")
    for key, value in result.items():
        print(f"{key:26} {value}")
    if args.json:
        print(json.dumps({**result, "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
