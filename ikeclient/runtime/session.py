"""Runs one IKE connection and its data plane over a real UDP socket with asyncio.

This is the only place that owns the socket, the clock and the timers, as thin as
aioquic's ``asyncio/protocol.py``: after every input it flushes ``datagrams_to_send()``,
re-arms the IKE timer from ``get_timer()`` and drains the events, which it applies
(``ChildSaEstablished`` → the ``Tunnel`` installs the SA and brings up TUN, routes, DNS).

One UDP socket carries everything: IKE_SA_INIT to the gateway's port 500, then IKE
(with the non-ESP marker), ESP and NAT keepalives to its NAT-T port 4500. Received
datagrams are told apart as RFC 3948 §2.2 says: four zero bytes first → IKE; a single
0xFF byte → a keepalive; anything else from the NAT-T port → ESP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from ikeclient.crypto.random import RandomSource, SystemRandomSource
from ikeclient.errors import GatewayUnreachable
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaClosed,
)
from ikeclient.ike.v1.connection import Ikev1Connection
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v2.connection import IKE_PORT, NON_ESP_MARKER, Ikev2Connection
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.state import IkeSaState
from ikeclient.runtime.tunnel import BATCH, Tunnel, TunnelOptions

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.5
MAX_DATAGRAM = 65535


IkeConnection = Ikev2Connection | Ikev1Connection
"""Either version's connection: the same surface, the same events."""


def make_connection(
    settings: Ikev2Settings | Ikev1Settings, *, local: Endpoint, remote: Endpoint, rng: RandomSource
) -> IkeConnection:
    """The connection for the settings' IKE version."""
    if isinstance(settings, Ikev1Settings):
        return Ikev1Connection(settings, local=local, remote=remote, rng=rng)
    return Ikev2Connection(settings, local=local, remote=remote, rng=rng)


def resolve_gateway(host: str, port: int) -> tuple[int, Endpoint]:
    """Resolve the gateway's address (the first one getaddrinfo returns)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
    except OSError as exc:
        raise GatewayUnreachable(f"cannot resolve gateway {host!r}: {exc}") from None
    family, _, _, _, addr = infos[0]
    return family, Endpoint(str(addr[0]), int(addr[1]))


def open_socket(family: int, remote: Endpoint) -> tuple[socket.socket, Endpoint]:
    """A non-blocking UDP socket bound to the address the routing table uses toward ``remote``."""
    try:
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            probe.connect((remote.host, remote.port))  # sends nothing; picks the source
            local_ip = probe.getsockname()[0]
        finally:
            probe.close()
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((local_ip, 0))
        sock.setblocking(False)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, 4 * 1024 * 1024)
    except OSError as exc:
        raise GatewayUnreachable(
            f"no route to gateway {remote.host}: {exc.strerror or exc}"
        ) from None
    return sock, Endpoint(local_ip, sock.getsockname()[1])


class IkeSession:
    """Drives an IKE connection (v2 or v1; with ``tunnel``, its data plane) until it closes."""

    def __init__(
        self,
        settings: Ikev2Settings | Ikev1Settings,
        gateway: str,
        port: int = IKE_PORT,
        *,
        on_event: Callable[[IkeEvent], None] | None = None,
        rng: RandomSource | None = None,
        tunnel: TunnelOptions | None = None,
        on_progress: Callable[[str, str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_progress = on_progress
        self._last_state: object = None
        self._gateway = gateway
        self._port = port
        self._on_event = on_event
        self._rng = rng or SystemRandomSource()
        self._tunnel_options = tunnel
        self.tunnel: Tunnel | None = None
        self._conn: IkeConnection | None = None
        self._sock: socket.socket | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Event | None = None
        self.result: IkeSaClosed | None = None
        self.connect_started_at: float | None = None
        self.ike_datagrams = 0

    @property
    def connection(self) -> IkeConnection | None:
        return self._conn

    def now(self) -> float:
        """The session's clock (the event loop's monotonic time)."""
        return self._loop.time() if self._loop is not None else 0.0

    async def start(self) -> None:
        """Open the socket (and the data plane's journal), then send IKE_SA_INIT."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._closed = asyncio.Event()
        family, remote = resolve_gateway(self._gateway, self._port)
        self._progress("resolve", remote.host)
        sock, local = open_socket(family, remote)
        self._sock = sock
        try:
            if self._tunnel_options is not None:
                self.tunnel = Tunnel(
                    self._tunnel_options,
                    sock,
                    self._rng,
                    clock=loop.time,
                    add_reader=loop.add_reader,
                    remove_reader=loop.remove_reader,
                )
        except BaseException:
            sock.close()
            raise
        loop.add_reader(sock.fileno(), self._on_socket_readable)
        self._conn = make_connection(self._settings, local=local, remote=remote, rng=self._rng)
        self.connect_started_at = loop.time()
        # The core reads no clock: it gets the time of day here, for certificate checks.
        self._conn.connect(self.connect_started_at, wall_time=time.time())
        self._pump()

    async def wait_closed(self) -> IkeSaClosed:
        """Wait until the IKE SA is closed; returns why."""
        assert self._closed is not None
        await self._closed.wait()
        assert self.result is not None
        return self.result

    async def close(self, reason: str = "closed by user", timeout: float = CLOSE_TIMEOUT) -> None:
        """Delete the IKE SA (waiting at most ``timeout`` s), then undo the host changes."""
        if self._conn is None or self._loop is None or self._closed is None:
            return
        if not self._closed.is_set():
            self._conn.close(self._loop.time(), reason)
            self._pump()
            try:
                await asyncio.wait_for(self._closed.wait(), timeout)
            except TimeoutError:
                logger.warning("the gateway did not confirm the Delete within %.1f s", timeout)
                if self.result is None:
                    self.result = IkeSaClosed(reason)
                self._closed.set()
        self.shutdown()

    # -- input ---------------------------------------------------------------------------

    def _on_socket_readable(self) -> None:
        sock, conn, loop = self._sock, self._conn, self._loop
        if sock is None or conn is None or loop is None:
            return
        tunnel = self.tunnel if self.tunnel is not None and not self.tunnel.closed else None
        now = loop.time()
        ike = False
        recvfrom = sock.recvfrom
        for _ in range(BATCH):
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError as exc:
                logger.debug("socket error: %s", exc)
                break
            if (
                tunnel is not None
                and len(data) > 1
                and data[:4] != NON_ESP_MARKER
                and addr[1] != IKE_PORT
            ):
                tunnel.receive_esp(data, now)
                continue
            conn.receive_datagram(data, Endpoint(str(addr[0]), int(addr[1])), now)
            self.ike_datagrams += 1
            ike = True
        if tunnel is not None:
            tunnel.flush_tun()  # the batch's inner packets, coalesced where they can be
        if ike:
            self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        if self._conn is None or self._loop is None:
            return
        self._conn.handle_timer(self._loop.time())
        self._pump()

    def _on_keepalive(self) -> None:
        self._keepalive = None
        if self.tunnel is None or self._loop is None or self.result is not None:
            return
        self.tunnel.send_keepalive(self._loop.time())
        self._arm_keepalive()

    def _arm_keepalive(self) -> None:
        if self._loop is None or self.tunnel is None or self._keepalive is not None:
            return
        interval = self.tunnel.options.keepalive_interval
        if interval > 0:
            self._keepalive = self._loop.call_later(interval, self._on_keepalive)

    # -- output and events ------------------------------------------------------------------

    def _pump(self) -> None:
        """Flush datagrams, re-arm the timer, drain and apply events."""
        conn, loop, sock = self._conn, self._loop, self._sock
        if conn is None or loop is None or sock is None:
            return
        for data, dest in conn.datagrams_to_send(loop.time()):
            try:
                sock.sendto(data, (dest.host, dest.port))
            except OSError as exc:  # full buffer or no route: the retransmission timer decides
                logger.debug("sending to %s failed: %s", dest, exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = conn.get_timer()
        if deadline is not None:
            self._timer = loop.call_at(deadline, self._on_timer)
        if isinstance(conn, Ikev1Connection):
            while conn.progress:
                self._progress(*conn.progress.pop(0))
        elif conn.state != self._last_state:
            self._last_state = conn.state
            if conn.state == IkeSaState.AUTH_SENT and conn.ike_sa is not None:
                nat = "behind NAT" if conn.local_behind_nat else "no NAT"
                self._progress("IKE_SA_INIT", f"{conn.ike_sa.chosen}, {nat}, to {conn.remote.port}")
        while (event := conn.next_event()) is not None:
            self._apply(event, conn)
            if self._on_event is not None:
                self._on_event(event)
        if self.result is not None:
            self.shutdown()

    def _progress(self, phase: str, detail: str) -> None:
        if self._on_progress is not None:
            self._on_progress(phase, detail)

    def _apply(self, event: IkeEvent, conn: IkeConnection) -> None:
        tunnel = self.tunnel if self.tunnel is not None and not self.tunnel.closed else None
        if isinstance(event, IkeSaClosed):
            self.result = event
            if self._closed is not None:
                self._closed.set()
        elif tunnel is None:
            return
        elif isinstance(event, ConfigReceived):
            tunnel.on_config(event)
        elif isinstance(event, ChildSaEstablished):
            tunnel.on_child(event, conn.remote)
            if conn.udp_encapsulation:
                self._arm_keepalive()
        elif isinstance(event, ChildSaDeleted):
            tunnel.on_child_deleted(event.spi_in)

    def shutdown(self) -> list[str]:
        """Stop timers and readers, undo the host changes, close the socket (idempotent)."""
        failures: list[str] = []
        for handle in (self._timer, self._keepalive):
            if handle is not None:
                handle.cancel()
        self._timer = self._keepalive = None
        if self.tunnel is not None:
            failures = self.tunnel.close()
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        return failures
