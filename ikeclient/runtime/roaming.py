"""Noticing that the way to the gateway changed: addresses, routes, suspend; and reconnect backoff.

The IKE core decides what to do (MOBIKE's UPDATE_SA_ADDRESSES, a liveness
check, RFC 4555 §3.5, RFC 7296 §2.4); this module only notices, for the session:

- :func:`open_route_monitor`: an RTNETLINK socket subscribed to link, address and
  route changes (rtnetlink(7)), so a change is seen at once instead of at the next poll;
- :func:`source_address_for`: the address the kernel would send from to reach the
  gateway now (a connected UDP socket sends nothing: ``getsockname`` tells);
- :class:`SuspendDetector`: CLOCK_MONOTONIC stops while the machine sleeps and
  CLOCK_BOOTTIME does not, so their difference growing means "we were suspended"
  (and a tick arriving much later than asked means the process was stopped);
- :class:`Backoff`: 1, 2, 4, ... seconds between reconnect attempts, capped.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from ikeclient.crypto.random import RandomSource

logger = logging.getLogger(__name__)

# linux/rtnetlink.h multicast groups (the legacy bitmask form of bind()).
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
ROUTE_GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
)


def open_route_monitor() -> socket.socket | None:
    """A non-blocking RTNETLINK socket that wakes up on link/address/route changes, or None."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    except (OSError, AttributeError) as exc:
        logger.info("no RTNETLINK socket (%s): address changes are found by polling", exc)
        return None
    try:
        sock.bind((0, ROUTE_GROUPS))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        logger.info("cannot listen to RTNETLINK (%s): polling instead", exc)
        return None
    return sock


def drain(sock: socket.socket, limit: int = 256) -> int:
    """Read and discard what the monitor has queued (we only need to know that something
    changed); returns the number of messages read."""
    count = 0
    for _ in range(limit):
        try:
            sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # ENOBUFS: we missed some; a check follows anyway
            break
        count += 1
    return count


def source_address_for(family: int, host: str, port: int) -> str | None:
    """The local address the routing table picks to reach ``host`` now; None without a route."""
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect((host, port))  # sends nothing
        return str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()


class SuspendDetector:
    """Tells, at each ``check``, how long the process was away (asleep, stopped) since the last.

    CLOCK_BOOTTIME counts suspended time, CLOCK_MONOTONIC does not: when the first
    advanced more than the second, by more than ``threshold``, the machine slept.
    A ``check`` that comes more than ``threshold`` later than ``interval`` after the
    previous one means the process itself was stopped (SIGSTOP, a paused VM).
    Both clocks are injectable for tests.
    """

    def __init__(
        self,
        *,
        interval: float,
        threshold: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        boottime: Callable[[], float] | None = None,
    ) -> None:
        self._interval = interval
        self._threshold = threshold
        self._monotonic = monotonic
        self._boottime = boottime or _boottime
        self._last_mono = monotonic()
        self._last_boot = self._boottime()

    def check(self) -> float:
        """Seconds missed since the previous check (0.0 when nothing unusual happened)."""
        mono, boot = self._monotonic(), self._boottime()
        d_mono, d_boot = mono - self._last_mono, boot - self._last_boot
        self._last_mono, self._last_boot = mono, boot
        slept = d_boot - d_mono
        stalled = d_mono - self._interval
        missed = max(slept, stalled)
        return missed if missed > self._threshold else 0.0


def _boottime() -> float:
    try:
        return float(time.clock_gettime(time.CLOCK_BOOTTIME))
    except (AttributeError, OSError):  # not Linux: no suspend detection, only stalls
        return time.monotonic()


class Backoff:
    """Delays between reconnect attempts: ``initial``, doubling, at most ``maximum``, with up
    to 20 % random spread so many clients of one gateway do not come back in step."""

    def __init__(self, rng: RandomSource, *, initial: float = 1.0, maximum: float = 60.0) -> None:
        self._rng = rng
        self._initial = initial
        self._maximum = max(initial, maximum)
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt."""
        base = min(self._initial * 2.0 ** min(self.attempts, 30), self._maximum)
        self.attempts += 1
        spread = int.from_bytes(self._rng.random_bytes(2), "big") / 65536 * 0.2
        return base * (1.0 - spread)

    def reset(self) -> None:
        """The connection is up again: start from ``initial`` next time."""
        self.attempts = 0
