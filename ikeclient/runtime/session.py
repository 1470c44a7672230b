"""Runs one IKE connection over a real UDP socket with asyncio.

This is the only place that owns the socket, the clock and the timer for the
control plane, as thin as aioquic's ``asyncio/protocol.py``: after every input
it flushes ``datagrams_to_send()``, re-arms the one timer from ``get_timer()``
and drains the events into the caller's callback.

One UDP socket carries everything: IKE_SA_INIT to the gateway's port 500, then
IKE (with the non-ESP marker) and, later, ESP to its NAT-T port 4500.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from ikeclient.crypto.random import RandomSource, SystemRandomSource
from ikeclient.errors import GatewayUnreachable
from ikeclient.ike.events import Endpoint, IkeEvent, IkeSaClosed
from ikeclient.ike.v2.connection import Ikev2Connection
from ikeclient.ike.v2.settings import Ikev2Settings

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.5


def resolve_gateway(host: str, port: int) -> tuple[int, Endpoint]:
    """Resolve the gateway's address (the first one getaddrinfo returns)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
    except OSError as exc:
        raise GatewayUnreachable(f"cannot resolve gateway {host!r}: {exc}") from None
    family, _, _, _, addr = infos[0]
    return family, Endpoint(str(addr[0]), int(addr[1]))


def open_socket(family: int, remote: Endpoint) -> tuple[socket.socket, Endpoint]:
    """A UDP socket bound to the address the routing table uses toward ``remote``."""
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
    except OSError as exc:
        raise GatewayUnreachable(
            f"no route to gateway {remote.host}: {exc.strerror or exc}"
        ) from None
    return sock, Endpoint(local_ip, sock.getsockname()[1])


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, session: IkeSession) -> None:
        self._session = session

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._session.datagram_received(data, Endpoint(str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) are not authenticated: retransmission decides.
        logger.debug("socket error: %s", exc)


class IkeSession:
    """Drives an ``Ikev2Connection`` over one UDP socket until its IKE SA closes."""

    def __init__(
        self,
        settings: Ikev2Settings,
        gateway: str,
        port: int = 500,
        *,
        on_event: Callable[[IkeEvent], None] | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._port = port
        self._on_event = on_event
        self._rng = rng or SystemRandomSource()
        self._conn: Ikev2Connection | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Event | None = None
        self.result: IkeSaClosed | None = None
        self.connect_started_at: float | None = None

    @property
    def connection(self) -> Ikev2Connection | None:
        return self._conn

    def now(self) -> float:
        """The session's clock (the event loop's monotonic time)."""
        return self._loop.time() if self._loop is not None else 0.0

    async def start(self) -> None:
        """Open the socket and send IKE_SA_INIT."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._closed = asyncio.Event()
        family, remote = resolve_gateway(self._gateway, self._port)
        sock, local = open_socket(family, remote)
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport
        self._conn = Ikev2Connection(self._settings, local=local, remote=remote, rng=self._rng)
        self.connect_started_at = loop.time()
        self._conn.connect(self.connect_started_at)
        self._pump()

    async def wait_closed(self) -> IkeSaClosed:
        """Wait until the IKE SA is closed; returns why."""
        assert self._closed is not None
        await self._closed.wait()
        assert self.result is not None
        return self.result

    async def close(self, reason: str = "closed by user", timeout: float = CLOSE_TIMEOUT) -> None:
        """Delete the IKE SA at the gateway, waiting at most ``timeout`` seconds for its answer."""
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
        self._shutdown()

    def datagram_received(self, data: bytes, src: Endpoint) -> None:
        if self._conn is None or self._loop is None:
            return
        self._conn.receive_datagram(data, src, self._loop.time())
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        if self._conn is None or self._loop is None:
            return
        self._conn.handle_timer(self._loop.time())
        self._pump()

    def _pump(self) -> None:
        """Flush datagrams, re-arm the timer, drain events."""
        conn, loop, transport = self._conn, self._loop, self._transport
        if conn is None or loop is None or transport is None:
            return
        for data, dest in conn.datagrams_to_send(loop.time()):
            transport.sendto(data, (dest.host, dest.port))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = conn.get_timer()
        if deadline is not None:
            self._timer = loop.call_at(deadline, self._on_timer)
        while (event := conn.next_event()) is not None:
            if isinstance(event, IkeSaClosed):
                self.result = event
                if self._closed is not None:
                    self._closed.set()
            if self._on_event is not None:
                self._on_event(event)
        if self.result is not None:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
