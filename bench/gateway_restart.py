"""How long the tunnel is down when the gateway restarts or crashes (issue 11, fail-closed).

With the profile's default liveness, reconnect and retransmission settings, against the
lab's strongSwan gateway through the NAT, pinging through the tunnel every 0.1 s:

- restart: the gateway's charon stopped with SIGTERM (it deletes our IKE SA first) and
  started again: seconds from the SIGTERM to the first ping reply after the outage
  (target <= 10 s);
- crash under traffic: charon killed with SIGKILL (it sends nothing) and started again,
  the pings being the traffic that goes unanswered: seconds from the SIGKILL to the first
  ping reply after the outage (target <= 25 s).

Not a test: it prints min/median/max of --runs runs of each, and the load average (the
machine is shared; measure alone). Run as root from the repository root:
    .venv/bin/python bench/gateway_restart.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import GatewayConfig, Lab  # noqa: E402
from tests.lab.ikeclient import IkeclientProcess, write_profile  # noqa: E402
from tests.lab.recovery import DEFAULT_RETRANSMIT, gateway_outage  # noqa: E402

TIMEOUT = {False: 60.0, True: 90.0}
TARGET = {False: 10.0, True: 25.0}


def outages(runs: int, *, kill: bool) -> list[float]:
    """One lab, one client; the gateway restarted ``runs`` times."""
    times: list[float] = []
    with Lab(nat_random_ports=True) as lab:
        lab.start_gateway(GatewayConfig())
        profile = write_profile(lab, "restartbench", retransmit=DEFAULT_RETRANSMIT)
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("tunnel up", timeout=20)
            for n in range(runs):
                seconds = gateway_outage(lab, kill=kill, timeout=TIMEOUT[kill])
                if seconds is None:
                    print(f"  run {n + 1}: no reply within {TIMEOUT[kill]:.0f} s", flush=True)
                    continue
                print(f"  run {n + 1}: {seconds:.1f} s", flush=True)
                times.append(seconds)
                deadline = time.monotonic() + 10
                while client.stdout.count("reconnected") <= n and time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            client.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for kill, name in ((False, "restart (SIGTERM)"), (True, "crash under traffic (SIGKILL)")):
        print(f"{name}:", flush=True)
        times = outages(args.runs, kill=kill)
        if times:
            print(
                f"{name}: min {min(times):.1f} s, median {statistics.median(times):.1f} s, "
                f"max {max(times):.1f} s over {len(times)} of {args.runs} runs "
                f"(target <= {TARGET[kill]:.0f} s)"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
