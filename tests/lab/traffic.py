"""Bounded traffic through the lab tunnel, with what tests measure: lost pings, TCP stalls.

Every generator is bounded in count and in time (the lab rules): a ping has ``-c`` and
``-w``, a TCP stream a byte budget and a duration, and every wait has a timeout.

- :class:`Pinger`: ``ping -D`` from the client namespace; the result has the replies' times,
  so a test can tell how many were lost and the longest silence between two replies.
- :class:`TcpStream`: a paced upload from the client to a receiver in the server namespace,
  which timestamps every ``recv`` with its monotonic clock: the longest gap between two
  arrivals is the stall a user would have seen. Pacing (not "as fast as possible") keeps
  the machine's load low and steady, so a gap measures the tunnel, not the CPU.
- :func:`transfer`: send ``size`` bytes once and return what the receiver counted and
  hashed (for "completes intact").
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

from tests.lab.strongswan import LabError
from tests.lab.topology import Lab

__all__ = ["PingResult", "Pinger", "StreamResult", "TcpStream", "transfer"]

_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)", re.M)
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass(frozen=True, slots=True)
class PingResult:
    """What a bounded ping saw."""

    transmitted: int
    received: int
    replies: list[tuple[float, int]] = field(repr=False)  # (wall time, icmp_seq)

    @property
    def lost(self) -> int:
        return self.transmitted - self.received

    def lost_seqs(self) -> list[int]:
        seen = {seq for _, seq in self.replies}
        return [s for s in range(1, self.transmitted + 1) if s not in seen]

    def max_gap(self, after: float = 0.0) -> float:
        """The longest time between two consecutive replies (those after ``after`` only)."""
        times = [t for t, _ in self.replies if t >= after]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def first_reply_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.replies if t > moment), None)


class Pinger:
    """``ping -D -i INTERVAL -c COUNT -w DEADLINE`` from the client namespace, in the background."""

    def __init__(self, lab: Lab, addr: str, *, count: int, interval: float = 0.05) -> None:
        if not 1 <= count <= 20000:
            raise ValueError("count must be 1..20000")
        # -c with -w: ping stops after `count` replies or at the deadline, whichever first;
        # the deadline leaves room for the replies lost on the way.
        self.deadline = int(count * interval * 1.25 + 10)  # ping runs a little slow
        argv = ["ping", "-D", "-n", "-i", f"{interval:g}", "-W", "1", "-c", str(count)]
        argv += ["-w", str(self.deadline), addr]
        # Output goes to a file: a pipe nobody reads would fill up and stall ping itself.
        Pinger._serial += 1
        self._path = lab.workdir / f"ping-{Pinger._serial}.txt"
        self._out = self._path.open("w")
        self._proc = lab.popen(lab.client_ns, argv, stdout=self._out)

    _serial = 0

    def result(self) -> PingResult:
        """Wait for ping to finish (bounded by its own deadline) and parse what it printed."""
        try:
            self._proc.wait(timeout=self.deadline + 15)
        except subprocess.TimeoutExpired as exc:
            self._proc.kill()
            raise LabError("ping did not finish by its deadline") from exc
        finally:
            self._out.close()
        out = self._path.read_text()
        summary = _SUMMARY.search(out)
        if summary is None:
            raise LabError(f"no ping summary in: {out[-500:]}")
        replies = [(float(t), int(seq)) for t, seq in _REPLY.findall(out)]
        return PingResult(int(summary.group(1)), int(summary.group(2)), replies)


RECEIVER = textwrap.dedent(
    """
    import hashlib, json, socket, sys, time
    srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
    srv.settimeout(60)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(float(sys.argv[3]))
    digest, total, gap, last, gaps = hashlib.sha256(), 0, 0.0, time.monotonic(), []
    start = last
    try:
        while chunk := conn.recv(1 << 16):
            now = time.monotonic()
            if now - last > gap:
                gap = now - last
            if now - last > 0.5:
                gaps.append([round(last - start, 3), round(now - last, 3)])
            last = now
            digest.update(chunk)
            total += len(chunk)
    except TimeoutError:
        pass
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest(), "max_gap": gap,
                      "long_gaps": gaps, "seconds": last - start}), flush=True)
    """
)

SENDER = textwrap.dedent(
    """
    import random, socket, sys, time
    host, port, rate, seconds, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \\
        float(sys.argv[4]), int(sys.argv[5])
    chunk = random.Random(5).randbytes(16384)
    sent, start = 0, time.monotonic()
    with socket.create_connection((host, port), timeout=30) as s:
        while sent < budget and time.monotonic() - start < seconds:
            due = start + sent / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            s.sendall(chunk)
            sent += len(chunk)
    print(sent, flush=True)
    """
)


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What the receiver of a :class:`TcpStream` measured."""

    sent: int
    received: int
    max_gap: float
    long_gaps: list[list[float]]  # [seconds since start, gap] for every gap > 0.5 s
    seconds: float


class TcpStream:
    """A paced TCP upload client → server through the tunnel, for ``seconds`` at ``rate`` B/s."""

    def __init__(
        self,
        lab: Lab,
        *,
        seconds: float,
        rate: float = 1_000_000,
        port: int = 5201,
        idle_timeout: float = 20.0,
    ) -> None:
        self.seconds = seconds
        budget = int(rate * seconds) + (1 << 20)
        self._server = lab.popen(
            lab.server_ns,
            [sys.executable, "-c", RECEIVER, lab.server_addr, str(port), str(idle_timeout)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._server.stdout is not None
        if self._server.stdout.readline().strip() != "listening":
            raise LabError("the TCP receiver did not start")
        self._client = lab.popen(
            lab.client_ns,
            [
                sys.executable,
                "-c",
                SENDER,
                lab.server_addr,
                str(port),
                str(rate),
                str(seconds),
                str(budget),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )

    def result(self) -> StreamResult:
        """Wait for both ends (bounded) and return the receiver's measurements."""
        try:
            sent_out, _ = self._client.communicate(timeout=self.seconds + 60)
            out, _ = self._server.communicate(timeout=60)
        except subprocess.TimeoutExpired as exc:
            self._client.kill()
            self._server.kill()
            raise LabError("the TCP stream did not end in time") from exc
        data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        sent = int(sent_out.strip() or 0)
        return StreamResult(
            sent, data["bytes"], data["max_gap"], data["long_gaps"], data["seconds"]
        )


TRANSFER_SENDER = textwrap.dedent(
    """
    import random, socket, sys
    data = random.Random(int(sys.argv[3])).randbytes(int(sys.argv[4]))
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60) as s:
        s.sendall(data)
    """
)


def transfer(lab: Lab, size: int, *, seed: int = 20261127, port: int = 5202) -> tuple[int, str]:
    """Send ``size`` seeded random bytes client → server; return (bytes received, sha256)."""
    server = lab.popen(
        lab.server_ns,
        [sys.executable, "-c", RECEIVER, lab.server_addr, str(port), "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    if server.stdout.readline().strip() != "listening":
        raise LabError("the TCP receiver did not start")
    sent = lab.run(
        lab.client_ns,
        [sys.executable, "-c", TRANSFER_SENDER, lab.server_addr, str(port), str(seed), str(size)],
        timeout=300,
    )
    if sent.returncode != 0:
        raise LabError(f"transfer failed: {sent.stderr}")
    out, _ = server.communicate(timeout=60)
    data = json.loads(out.strip().splitlines()[-1])
    return int(data["bytes"]), str(data["sha256"])
