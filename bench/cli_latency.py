"""Wall times a person feels at the terminal (issue: terminal client).

- ``ikeclient --help``: process start to exit (target <= 150 ms, through lazy imports);
- ``ikeclient up PROFILE``: process start to the "tunnel up" line, against the lab's strongSwan
  gateway through the NAT (target <= 300 ms);
- ``ikeclient`` on SIGTERM: signal to exit, with the Delete and the host restored (<= 2 s).

Medians of --runs runs. Run as root from the repository root:
    .venv/bin/python bench/cli_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import GatewayConfig, Lab  # noqa: E402
from tests.lab.ikeclient import IkeclientProcess, write_profile  # noqa: E402

IKECLIENT = str(Path(sys.executable).parent / "ikeclient")


def help_times(runs: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([IKECLIENT, "--help"], capture_output=True, check=True, env=env)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def up_and_down_times(runs: int) -> tuple[list[float], list[float]]:
    ups: list[float] = []
    downs: list[float] = []
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig())
        profile = write_profile(lab, "clibench")
        for _ in range(runs):
            t0 = time.perf_counter()
            client = IkeclientProcess(lab, profile)
            client.wait_for_output("tunnel up", timeout=20)
            ups.append((time.perf_counter() - t0) * 1000)
            t1 = time.perf_counter()
            client.stop()
            downs.append((time.perf_counter() - t1) * 1000)
            gw.wait_for_no_sa(timeout=5)
    return ups, downs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    helps = help_times(args.runs)
    ups, downs = up_and_down_times(args.runs)
    print(f"ikeclient wall times, median of {args.runs} runs")
    print(f"  --help                      {statistics.median(helps):7.0f} ms   target <= 150 ms")
    print(f"  up -> tunnel up             {statistics.median(ups):7.0f} ms   target <= 300 ms")
    print(f"  SIGTERM -> exit, restored   {statistics.median(downs):7.0f} ms   target <= 2000 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
