"""How long the tunnel is down when the lab gateway restarts or crashes (lab tests, bench).

``gateway_outage`` pings through the tunnel every 0.1 s, restarts the gateway's charon
(SIGTERM: it deletes every IKE SA first; or SIGKILL: it forgets everything silently, the
pings being the traffic that goes unanswered) and returns the seconds from the stop to the
first reply after the outage.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from tests.lab.strongswan import LabError
from tests.lab.topology import Lab

_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from ", re.M)
INTERVAL = 0.1
GAP = 0.35  # replies further apart than this mark the outage (they come every 0.1 s)

DEFAULT_RETRANSMIT = {"timeout": 4.0, "base": 1.8, "tries": 5}
"""The profile's default retransmission schedule (the lab's profiles use a quick one)."""


class ReplyWatcher:
    """``ping -D -i 0.1`` from the client namespace into a file, read while it runs."""

    def __init__(self, lab: Lab, addr: str, *, seconds: int) -> None:
        self.lab = lab
        ReplyWatcher._serial += 1
        self.path: Path = lab.workdir / f"outage-ping-{ReplyWatcher._serial}.txt"
        self._out = self.path.open("w")
        argv = ["ping", "-D", "-n", "-i", f"{INTERVAL:g}", "-W", "1", "-w", str(seconds), addr]
        self.proc: subprocess.Popen[bytes] = lab.popen(lab.client_ns, argv, stdout=self._out)

    _serial = 0

    def replies(self) -> list[float]:
        """Wall-clock times of the replies so far."""
        return [float(t) for t in _REPLY.findall(self.path.read_text())]

    def wait_for(self, predicate_time: float, timeout: float) -> bool:
        """Wait until a reply later than ``predicate_time`` came (True) or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(t > predicate_time for t in self.replies()):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def back_after(self, moment: float, times: list[float]) -> float | None:
        """The first reply after ``moment`` that ends a silence longer than ``GAP``."""
        previous = max((t for t in times if t <= moment), default=moment)
        for t in times:
            if t > moment:
                if t - previous > GAP:
                    return t
                previous = t
        return None

    def stop(self) -> None:
        self.lab.stop_process(self.proc)
        self._out.close()


def gateway_outage(lab: Lab, *, kill: bool, timeout: float) -> float | None:
    """Restart the gateway (SIGKILL or SIGTERM) while pinging through the tunnel; the seconds
    from the stop to the first reply after the outage, or None if none came in ``timeout``."""
    watcher = ReplyWatcher(lab, lab.server_addr, seconds=int(timeout) + 20)
    try:
        if not watcher.wait_for(time.time(), 5.0):
            raise LabError("no ping reply through the tunnel before the restart")
        time.sleep(1.0)
        stopped = time.time()
        lab.restart_gateway(kill=kill)
        restarted = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            times = watcher.replies()
            back = watcher.back_after(stopped, times)
            if back is not None:
                return back - stopped
            if any(t > restarted + 3.0 for t in times):
                return GAP  # no silence longer than GAP: an outage too short to tell
            time.sleep(0.1)
        return None
    finally:
        watcher.stop()
