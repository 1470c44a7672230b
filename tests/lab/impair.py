"""A lossy, slow, reordering path for the lab, in userspace (netem's job, where netem is missing).

The lab's kernel has no ``sch_netem`` (CONFIG_NET_SCH_NETEM is off, and there are no
modules), so ``tc qdisc ... netem`` fails. This relay runs in the NAT namespace instead:
an nftables ``redirect`` sends the client's UDP to the gateway's ports 500 and 4500 to it,
and it forwards each datagram after a random delay (``delay`` ± ``jitter``, uniform, so
later packets overtake earlier ones), drops a share of them (``loss``), and holds back a
share for an extra ``reorder_delay`` (more reordering), both ways. Towards the gateway it
sends from its own sockets, one per client flow, like a NAT; conntrack un-NATs what it
sends back, so the client sees the gateway's address. Randomness is seeded.

Run as ``python -m tests.lab.impair LISTEN_ADDR UPSTREAM_ADDR [options]``; it stops on
SIGTERM, or by itself after ``--max-seconds`` (bounded like everything in the lab).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import sys
from dataclasses import dataclass, field


@dataclass
class Impairment:
    delay: float
    jitter: float
    loss: float
    reorder: float
    reorder_delay: float
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    forwarded: int = 0
    dropped: int = 0

    def plan(self) -> float | None:
        """How long to hold one datagram, or None to drop it."""
        if self.rng.random() < self.loss:
            self.dropped += 1
            return None
        self.forwarded += 1
        hold = self.delay + self.rng.uniform(-self.jitter, self.jitter)
        if self.rng.random() < self.reorder:
            hold += self.reorder_delay
        return max(0.0, hold)


class Relay:
    """Forward one listening port's client flows to the gateway, impaired both ways."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, listen: str, upstream: str, port: int,
        impairment: Impairment,
    ) -> None:  # fmt: skip
        self.loop = loop
        self.upstream = (upstream, port)
        self.impairment = impairment
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((listen, port))
        self.sock.setblocking(False)
        self.flows: dict[tuple[str, int], socket.socket] = {}
        loop.add_reader(self.sock.fileno(), self._from_client)

    def _later(self, sock: socket.socket, data: bytes, dest: tuple[str, int]) -> None:
        hold = self.impairment.plan()
        if hold is not None:
            self.loop.call_later(hold, self._send, sock, data, dest)

    @staticmethod
    def _send(sock: socket.socket, data: bytes, dest: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # a full buffer is one more loss
            sock.sendto(data, dest)

    def _from_client(self) -> None:
        for _ in range(256):
            try:
                data, client = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            flow = self.flows.get(client)
            if flow is None:
                flow = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                flow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                flow.connect(self.upstream)
                flow.setblocking(False)
                self.flows[client] = flow
                self.loop.add_reader(flow.fileno(), self._from_gateway, flow, client)
            self._later(flow, data, self.upstream)

    def _from_gateway(self, flow: socket.socket, client: tuple[str, int]) -> None:
        for _ in range(256):
            try:
                data = flow.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                return
            self._later(self.sock, data, client)


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    impairment = Impairment(
        args.delay, args.jitter, args.loss, args.reorder, args.reorder_delay,
        random.Random(args.seed),
    )  # fmt: skip
    relays = [Relay(loop, args.listen, args.upstream, p, impairment) for p in args.ports]
    print("relaying", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    print(f"forwarded {impairment.forwarded} dropped {impairment.dropped}", flush=True)
    del relays


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("listen")
    parser.add_argument("upstream")
    parser.add_argument("--ports", type=int, nargs="+", default=[500, 4500])
    parser.add_argument("--delay", type=float, default=0.050)
    parser.add_argument("--jitter", type=float, default=0.020)
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--reorder", type=float, default=0.05)
    parser.add_argument("--reorder-delay", type=float, default=0.010)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
