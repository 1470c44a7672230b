"""Runs one IKE connection and its data plane over a real UDP socket with asyncio.

This is the only place that owns the socket, the clock and the timers, as thin as
aioquic's ``asyncio/protocol.py``: after every input it drains the events and applies
them (``ChildSaEstablished`` → the ``Tunnel`` installs the SA and brings up TUN, routes,
DNS; ``ChildSaDeleted`` → it removes the SA, after a grace period when it was rekeyed),
then flushes ``datagrams_to_send()`` and re-arms the IKE timer from ``get_timer()``.
Events first: an SA made by answering the gateway's rekey is in the ESP engine before
the answer leaves.

One UDP socket carries everything: IKE_SA_INIT to the gateway's port 500, then IKE
(with the non-ESP marker), ESP and NAT keepalives to its NAT-T port 4500. Received
datagrams are told apart as RFC 3948 §2.2 says: four zero bytes first → IKE; a single
0xFF byte → a keepalive; anything else from the NAT-T port → ESP.

Staying connected. Valid ESP from the gateway tells the IKE core it is alive
(``inbound_activity``, which defers liveness checks); ESP sent to it is told once a
second (``outbound_activity``: unanswered for long, it starts a quick check); ESP to an
SPI we do not know,
a resume after suspend and a new local address start a check at once. The ESP
engine's byte/packet limits become rekeys (``SoftExpired``) or deletes
(``HardExpired``). A once-a-second tick purges old SAs, watches the clock for a
suspend and the routing table for a new source address, which it follows with
MOBIKE (RFC 4555): the socket is rebound to the new address and the core sends
UPDATE_SA_ADDRESSES; the TUN stays. When the core gives up on the gateway
(``PeerLost``), the session reconnects with backoff, a new IKE SA over a new
socket, keeping TUN, routes and DNS in place meanwhile unless told otherwise; so does
a Delete of the IKE SA by the gateway (``IkeSaClosed.deleted_by_gateway``) unless the
profile says ``on_gateway_delete = "exit"``. Our virtual IP is never IKE's local address:
when a full tunnel's host route to the gateway went away with its link, it is pinned
again through the uplink left (``Tunnel.repin_gateway``) before MOBIKE moves there.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ikeclient.crypto.random import RandomSource, SystemRandomSource
from ikeclient.errors import (
    AuthenticationFailed,
    GatewayUnreachable,
    IkeClientError,
    NetError,
    NoProposalChosen,
    PeerLost,
    TsUnacceptable,
)
from ikeclient.esp.engine import DropReason
from ikeclient.esp.events import HardExpired
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaAddressesUpdated,
    IkeSaClosed,
    IPAddress,
)
from ikeclient.ike.v1.connection import Ikev1Connection
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v2.connection import IKE_PORT, NON_ESP_MARKER, Ikev2Connection
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.state import IkeSaState
from ikeclient.runtime.roaming import (
    Backoff,
    SuspendDetector,
    drain,
    open_route_monitor,
    source_address_for,
)
from ikeclient.runtime.tunnel import BATCH, Tunnel, TunnelOptions

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.5
MAX_DATAGRAM = 65535
TICK = 1.0
ROUTE_SETTLE = 0.05  # after a netlink message, wait this long for the burst to end


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


def open_socket(
    family: int, remote: Endpoint, *, exclude: frozenset[str] = frozenset()
) -> tuple[socket.socket, Endpoint]:
    """A non-blocking UDP socket bound to the address the routing table uses toward ``remote``.

    ``exclude``: our virtual IPs. When the routing table would reach the gateway from one
    of them (a full tunnel whose host route to the gateway went away), IKE would run
    inside its own tunnel: GatewayUnreachable instead.
    """
    try:
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            probe.connect((remote.host, remote.port))  # sends nothing; picks the source
            local_ip = probe.getsockname()[0]
        finally:
            probe.close()
        if local_ip in exclude:
            raise GatewayUnreachable(
                f"the only route to gateway {remote.host} goes through our own tunnel "
                f"(from our virtual IP {local_ip})"
            )
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


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """What to do when the gateway is lost (``PeerLost``) after the tunnel was up."""

    enabled: bool = False
    keep_tunnel: bool = True
    """Keep TUN, addresses, routes and DNS while reconnecting (applications see no change)."""
    initial_delay: float = 1.0
    max_delay: float = 60.0
    follow_addresses: bool = True
    """Watch routes and addresses and follow a new source address (MOBIKE, else reconnect)."""
    on_gateway_delete: Literal["reconnect", "exit"] = "reconnect"
    """When the gateway deletes our IKE SA unasked (it stops or restarts): reconnect (when
    ``enabled``), or end the session as an orderly close."""


# Errors a retry cannot fix: the profile or the gateway's configuration must change.
_FINAL_ERRORS: tuple[type[IkeClientError], ...] = (
    AuthenticationFailed,
    NoProposalChosen,
    TsUnacceptable,
)


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
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._on_progress = on_progress
        self._last_state: object = None
        self._gateway = gateway
        self._port = port
        self._on_event = on_event
        self._rng = rng or SystemRandomSource()
        self._tunnel_options = tunnel
        self._policy = reconnect or ReconnectPolicy()
        self._backoff = Backoff(
            self._rng, initial=self._policy.initial_delay, maximum=self._policy.max_delay
        )
        self.tunnel: Tunnel | None = None
        self._conn: IkeConnection | None = None
        self._sock: socket.socket | None = None
        self._family: int = socket.AF_INET
        self._remote: Endpoint | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._route_check: asyncio.TimerHandle | None = None
        self._routes: socket.socket | None = None
        self._suspend: SuspendDetector | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Event | None = None
        self._closing = False
        self._asked_to_close = False
        self.left_leak_protection = False
        self._was_up = False
        self._reconnecting = False
        self._esp_sent = 0  # the tunnel's count of packets sent, at the last tick
        self.result: IkeSaClosed | None = None
        #: Set when the host could not (or must not) be set up as the gateway asked (a refused
        #: virtual IP, a failed route): the session ends with this error instead of result's.
        self.failure: NetError | None = None
        self.connect_started_at: float | None = None
        self.ike_datagrams = 0
        self.reconnects = 0
        self.roams = 0
        self.lost_at: float | None = None
        self.last_outage: float | None = None

    @property
    def connection(self) -> IkeConnection | None:
        return self._conn

    @property
    def was_up(self) -> bool:
        """A child SA was established at least once (the tunnel carried traffic)."""
        return self._was_up

    @property
    def reconnecting(self) -> bool:
        """True between losing the gateway and the next tunnel up."""
        return self._reconnecting

    def now(self) -> float:
        """The session's clock (the event loop's monotonic time)."""
        return self._loop.time() if self._loop is not None else 0.0

    async def start(self) -> None:
        """Open the socket (and the data plane's journal), then send IKE_SA_INIT."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._closed = asyncio.Event()
        family, remote = resolve_gateway(self._gateway, self._port)
        self._family, self._remote = family, remote
        self._progress("resolve", remote.host)
        sock, local = open_socket(family, remote)
        try:
            if self._tunnel_options is not None:
                self.tunnel = self._new_tunnel(sock)
                self.tunnel.protect(remote)  # leak protection before the first IKE packet
        except BaseException:
            sock.close()
            raise
        self._use_socket(sock)
        self._start_watching()
        self.connect_started_at = loop.time()
        self._connect(local, remote, self.connect_started_at)

    def _new_tunnel(self, sock: socket.socket) -> Tunnel:
        loop = self._loop
        assert loop is not None and self._tunnel_options is not None
        return Tunnel(
            self._tunnel_options,
            sock,
            self._rng,
            clock=loop.time,
            add_reader=loop.add_reader,
            remove_reader=loop.remove_reader,
            on_engine_event=self._on_engine_event,
        )

    def _connect(self, local: Endpoint, remote: Endpoint, now: float) -> None:
        addresses: tuple[IPAddress, ...] = ()
        tunnel = self.tunnel
        if tunnel is not None and tunnel.config is not None:
            addresses = tunnel.config.addresses  # ask for the same virtual IP again
        if isinstance(self._settings, Ikev1Settings):
            self._conn = Ikev1Connection(self._settings, local=local, remote=remote, rng=self._rng)
        else:
            self._conn = Ikev2Connection(
                self._settings, local=local, remote=remote, rng=self._rng, addresses=addresses
            )
        self._last_state = None
        # The core reads no clock: it gets the time of day here, for certificate checks.
        self._conn.connect(now, wall_time=time.time())
        self._pump()

    def _use_socket(self, sock: socket.socket) -> None:
        loop = self._loop
        assert loop is not None
        old = self._sock
        if old is not None:
            loop.remove_reader(old.fileno())
            old.close()
        self._sock = sock
        loop.add_reader(sock.fileno(), self._on_socket_readable)
        if self.tunnel is not None:
            self.tunnel.set_socket(sock)

    def _start_watching(self) -> None:
        loop = self._loop
        assert loop is not None
        self._suspend = SuspendDetector(interval=TICK, monotonic=loop.time)
        self._tick = loop.call_later(TICK, self._on_tick)
        if self._policy.follow_addresses:
            self._routes = open_route_monitor()
            if self._routes is not None:
                loop.add_reader(self._routes.fileno(), self._on_route_change)

    async def wait_closed(self) -> IkeSaClosed:
        """Wait until the IKE SA is closed for good (no reconnect follows); returns why."""
        assert self._closed is not None
        await self._closed.wait()
        assert self.result is not None
        return self.result

    async def close(
        self,
        reason: str = "closed by user",
        timeout: float = CLOSE_TIMEOUT,
        *,
        keep_leak_protection: bool = False,
    ) -> None:
        """Delete the IKE SA (waiting at most ``timeout`` s), then undo the host changes
        (leak protection too, unless ``keep_leak_protection``: SIGHUP's reconnect)."""
        if self._loop is None or self._closed is None:
            return
        self._closing = True
        self._asked_to_close = not keep_leak_protection
        if not self._closed.is_set():
            conn = self._conn
            if conn is None or conn.state == IkeSaState.CLOSED:
                # Between two connections (reconnecting): nothing to delete at the gateway.
                self._final(IkeSaClosed(reason))
            else:
                conn.close(self._loop.time(), reason)
                self._pump()
                try:
                    await asyncio.wait_for(self._closed.wait(), timeout)
                except TimeoutError:
                    logger.warning("the gateway did not confirm the Delete within %.1f s", timeout)
                    if self.result is None:
                        self.result = IkeSaClosed(reason)
                    self._closed.set()
        self.shutdown(keep_leak_protection=keep_leak_protection)

    # -- input ---------------------------------------------------------------------------

    def _on_socket_readable(self) -> None:
        sock, conn, loop = self._sock, self._conn, self._loop
        if sock is None or loop is None:
            return
        tunnel = self.tunnel if self.tunnel is not None and not self.tunnel.closed else None
        now = loop.time()
        ike = False
        alive = False
        unknown = tunnel.engine.drops[DropReason.UNKNOWN_SPI] if tunnel is not None else 0
        recvfrom = sock.recvfrom
        for _ in range(BATCH):
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError as exc:
                logger.debug("socket error: %s", exc)
                break
            if len(data) > 1 and data[:4] != NON_ESP_MARKER and addr[1] != IKE_PORT:
                if tunnel is not None:
                    alive |= tunnel.receive_esp(data, now)
                continue
            if conn is not None:
                conn.receive_datagram(data, Endpoint(str(addr[0]), int(addr[1])), now)
                self.ike_datagrams += 1
                ike = True
        if tunnel is not None:
            tunnel.flush_tun()  # the batch's inner packets, coalesced where they can be
            if conn is not None and conn.state == IkeSaState.ESTABLISHED:
                if alive:
                    conn.inbound_activity(now)
                if tunnel.engine.drops[DropReason.UNKNOWN_SPI] > unknown:
                    # ESP on an SPI we do not have: the gateway may know an SA we lost.
                    conn.check_liveness(now)
                    ike = True
                if tunnel.engine.has_events and isinstance(conn, Ikev2Connection):
                    self._apply_engine_events(conn, now)
                    ike = True
        if ike:
            self._pump()

    def _on_engine_event(self) -> None:
        conn, loop = self._conn, self._loop
        if conn is None or loop is None:
            return
        if isinstance(conn, Ikev2Connection):  # IKEv1 rekeys its phase 2 on its own clock
            self._apply_engine_events(conn, loop.time())
        self._pump()

    def _apply_engine_events(self, conn: Ikev2Connection, now: float) -> None:
        """SoftExpired / SequenceExhausted → rekey; HardExpired → the SA is gone (RFC 4301)."""
        tunnel = self.tunnel
        if tunnel is None:
            return
        while (event := tunnel.engine.next_event()) is not None:
            if isinstance(event, HardExpired):
                conn.expire_child_sa(event.spi_in, now)
            else:
                conn.rekey_child_sa(event.spi_in, now)

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

    def _on_tick(self) -> None:
        """Once a second: purge old SAs, notice a suspend, check where we send from."""
        loop = self._loop
        self._tick = None
        if loop is None or self.result is not None:
            return
        now = loop.time()
        tunnel = self.tunnel
        if tunnel is not None and not tunnel.closed:
            tunnel.engine.purge(now)
        conn = self._conn
        missed = self._suspend.check() if self._suspend is not None else 0.0
        if conn is not None and conn.state == IkeSaState.ESTABLISHED:
            if isinstance(conn, Ikev2Connection) and tunnel is not None and not tunnel.closed:
                sent = tunnel.counters.tun_packets_read
                if sent != self._esp_sent:
                    # ESP went out during the last second: unanswered, it starts a check.
                    self._esp_sent = sent
                    conn.outbound_activity(now)
            if missed:
                logger.info("we were away for %.1f s (suspend?): checking the gateway", missed)
                self._progress("resume", f"away {missed:.1f} s: checking the gateway")
                conn.check_liveness(now)
            if self._policy.follow_addresses:
                self._check_addresses(now)
            self._pump()
        self._tick = loop.call_later(TICK, self._on_tick)

    def _on_route_change(self) -> None:
        loop, routes = self._loop, self._routes
        if loop is None or routes is None:
            return
        drain(routes)
        if self._route_check is None:
            self._route_check = loop.call_later(ROUTE_SETTLE, self._on_route_settled)

    def _on_route_settled(self) -> None:
        self._route_check = None
        conn, loop = self._conn, self._loop
        if conn is None or loop is None or conn.state != IkeSaState.ESTABLISHED:
            return
        self._check_addresses(loop.time())
        self._pump()

    def _check_addresses(self, now: float) -> None:
        """Follow a change of the address we reach the gateway from (RFC 4555 §3.5)."""
        sock, conn, remote = self._sock, self._conn, self._remote
        if sock is None or conn is None or remote is None:
            return
        vips = self._virtual_ips()
        wanted = source_address_for(self._family, remote.host, remote.port)
        if wanted is not None and wanted in vips:
            # A full tunnel's host route to the gateway went away with its link, and the
            # gateway is now routed into the tunnel: never a local address for IKE. Pin
            # the host route again through the uplink that is left, and look again.
            tunnel = self.tunnel
            if tunnel is None or not tunnel.repin_gateway(remote.host):
                return  # no uplink left: wait for one
            wanted = source_address_for(self._family, remote.host, remote.port)
            if wanted is None or wanted in vips:
                return
        try:
            bound = sock.getsockname()[0]
        except OSError:
            return
        if wanted is None or wanted == bound:
            return  # no route at all (wait for one), or nothing changed
        try:
            new_sock, local = open_socket(self._family, conn.remote, exclude=vips)
        except GatewayUnreachable as exc:
            logger.info("the path to the gateway changed, but: %s", exc)
            return
        self._use_socket(new_sock)
        self.roams += 1
        if isinstance(conn, Ikev2Connection) and conn.update_local_endpoint(local, now):
            self._progress("roaming", f"{bound} -> {local.host}: MOBIKE, same IKE SA")
            return
        # Without MOBIKE the gateway would not follow us: start over from the new address.
        reason = f"our address changed ({bound} -> {local.host}) and MOBIKE is not available"
        conn.close(now, reason)
        self._lost(IkeSaClosed(reason, PeerLost(reason)))

    def _virtual_ips(self) -> frozenset[str]:
        tunnel = self.tunnel
        if tunnel is None or tunnel.closed:
            return frozenset()
        return tunnel.virtual_ips()

    # -- output and events ------------------------------------------------------------------

    def _pump(self) -> None:
        """Apply events, flush datagrams, re-arm the timer.

        Events come first: an answer to the gateway's CREATE_CHILD_SA (its rekey) makes
        a child SA that must be in the ESP engine before the answer leaves, because the
        gateway may send ESP on it as soon as it has our answer.
        """
        conn, loop, sock = self._conn, self._loop, self._sock
        if conn is None or loop is None or sock is None:
            return
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
            if conn is not self._conn:
                break  # this connection ended and a reconnect began; its events are done
        for data, dest in conn.datagrams_to_send(loop.time()):
            try:
                sock.sendto(data, (dest.host, dest.port))
            except OSError as exc:  # full buffer or no route: the retransmission timer decides
                logger.debug("sending to %s failed: %s", dest, exc)
        if conn is self._conn:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            deadline = conn.get_timer()
            if deadline is not None:
                self._timer = loop.call_at(deadline, self._on_timer)
        if self.result is not None:
            self.shutdown()

    def _progress(self, phase: str, detail: str) -> None:
        if self._on_progress is not None:
            self._on_progress(phase, detail)

    def _apply(self, event: IkeEvent, conn: IkeConnection) -> None:
        tunnel = self.tunnel if self.tunnel is not None and not self.tunnel.closed else None
        if isinstance(event, IkeSaClosed):
            if self._should_reconnect(event):
                self._lost(event)
            else:
                self._final(event)
        elif tunnel is None:
            return
        elif isinstance(event, ConfigReceived):
            old = tunnel.config
            if tunnel.tun_name is not None and old is not None and old.addresses != event.addresses:
                # A reconnect brought another virtual IP: set the host up afresh.
                logger.info("new virtual IP %s: rebuilding the tunnel", event.addresses)
                tunnel.close(keep_leak_protection=True)
                self.tunnel = tunnel = self._new_tunnel(self._sock)  # type: ignore[arg-type]
                tunnel.protect(conn.remote)
            tunnel.on_config(event)
        elif isinstance(event, ChildSaEstablished):
            try:
                tunnel.on_child(event, conn.remote)
            except NetError as exc:
                self._host_failed(exc, conn)
                return
            self._was_up = True
            if self._reconnecting and self._loop is not None:
                self._reconnecting = False
                self._backoff.reset()
                if self.lost_at is not None:
                    self.last_outage = self._loop.time() - self.lost_at
                self._progress("reconnected", f"tunnel up again after {self.last_outage:.1f} s")
            if conn.udp_encapsulation:
                self._arm_keepalive()
        elif isinstance(event, ChildSaDeleted):
            tunnel.on_child_deleted(event.spi_in, rekeyed=event.rekeyed, now=self.now())
        elif isinstance(event, IkeSaAddressesUpdated):
            tunnel.set_destination(event.remote)

    def _host_failed(self, exc: NetError, conn: IkeConnection) -> None:
        """The host could not be set up as the gateway asked: undo, Delete, end the session."""
        logger.error("%s", exc)
        self.failure = exc
        self._closing = True  # no reconnect: the gateway would hand out the same settings
        tunnel = self.tunnel
        if tunnel is not None:
            # The host as it was (the TUN is made by then). A tunnel that was up before (a
            # reconnect got the refused setting) keeps leak protection on: fail-closed.
            tunnel.close(keep_leak_protection=self._was_up)
            options = self._tunnel_options
            self.left_leak_protection = (
                self._was_up and options is not None and options.leak_protection
            )
        loop = self._loop
        if loop is None:
            return
        conn.close(loop.time(), str(exc))
        loop.call_soon(self._pump)  # send the Delete once these events are drained

        def give_up() -> None:
            if self.result is None:
                self._final(IkeSaClosed(str(exc)))
                self.shutdown()

        loop.call_later(CLOSE_TIMEOUT, give_up)

    # -- losing the gateway, and reconnecting ---------------------------------------------

    def _should_reconnect(self, event: IkeSaClosed) -> bool:
        if not self._policy.enabled or self._closing:
            return False
        if event.deleted_by_gateway:
            # The gateway stops or restarts (strongSwan deletes every IKE SA on SIGTERM).
            return self._policy.on_gateway_delete == "reconnect" and self._was_up
        if event.error is None:
            return False
        if isinstance(event.error, _FINAL_ERRORS):
            return False
        # A lost gateway after the tunnel was up, or any failure while reconnecting.
        return isinstance(event.error, PeerLost) or (self._reconnecting and self._was_up)

    def _final(self, event: IkeSaClosed) -> None:
        self.result = event
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._closed is not None:
            self._closed.set()

    def _lost(self, event: IkeSaClosed) -> None:
        """The IKE SA is gone but the tunnel should stay: reconnect, with backoff."""
        loop = self._loop
        if loop is None:
            return
        restarted = isinstance(event.error, PeerLost) and event.error.restarted
        if not self._reconnecting:
            self.lost_at = loop.time()
        self._reconnecting = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tunnel = self.tunnel
        if tunnel is not None and not tunnel.closed:
            if self._policy.keep_tunnel:
                tunnel.release_sas()
            else:
                tunnel.close(keep_leak_protection=True)  # still nothing outside the tunnel
                self.tunnel = None
        self._conn = None
        delay = 0.0 if restarted and self._backoff.attempts == 0 else self._backoff.next()
        if restarted and self._backoff.attempts == 0:
            self._backoff.attempts = 1
        self.reconnects += 1
        self._progress("reconnect", f"in {delay:.1f} s: {event.reason}")
        logger.warning("lost the gateway (%s); reconnecting in %.1f s", event.reason, delay)
        self._retry = loop.call_later(delay, self._reconnect)

    def _gateway_for_reconnect(self) -> tuple[int, Endpoint]:
        """Where to connect again: the gateway's name looked up afresh (its address may have
        changed), except under leak protection, where the lookup could only go to the
        tunnel's DNS servers through a tunnel that is down (and would stall the event loop
        for the resolver's timeout): then the address it had."""
        options = self._tunnel_options
        if options is not None and options.leak_protection and self._remote is not None:
            return self._family, Endpoint(self._remote.host, self._port)
        return resolve_gateway(self._gateway, self._port)

    def _reconnect(self) -> None:
        self._retry = None
        loop = self._loop
        if loop is None or self._closing or self.result is not None:
            return
        vips = self._virtual_ips()
        try:
            family, remote = self._gateway_for_reconnect()
            try:
                sock, local = open_socket(family, remote, exclude=vips)
            except GatewayUnreachable:
                # A kept full tunnel whose host route to the gateway left with its link.
                tunnel = self.tunnel
                if tunnel is None or not vips or not tunnel.repin_gateway(remote.host):
                    raise
                sock, local = open_socket(family, remote, exclude=vips)
        except GatewayUnreachable as exc:
            self._lost(IkeSaClosed(str(exc), exc))
            return
        self._family, self._remote = family, remote
        if self.tunnel is None and self._tunnel_options is not None:
            self.tunnel = self._new_tunnel(sock)
        if self.tunnel is not None:
            self.tunnel.protect(remote)
        self._use_socket(sock)
        self._connect(local, remote, loop.time())

    def shutdown(self, *, keep_leak_protection: bool | None = None) -> list[str]:
        """Stop timers and readers, undo the host changes, close the socket (idempotent).

        ``keep_leak_protection``: leave leak protection on after we are gone. By default
        (None) it fails closed: kept when the tunnel was up and the session ended without
        being asked to (the gateway refused us on reconnect, deleted us with
        ``on_gateway_delete = "exit"``, an error); :attr:`left_leak_protection` tells."""
        keep = keep_leak_protection
        if keep is None:
            keep = self._was_up and not self._asked_to_close
        failures: list[str] = []
        for handle in (self._timer, self._keepalive, self._tick, self._retry, self._route_check):
            if handle is not None:
                handle.cancel()
        self._timer = self._keepalive = self._tick = self._retry = self._route_check = None
        if self.tunnel is not None and not self.tunnel.closed:
            failures = self.tunnel.close(keep_leak_protection=keep)
            options = self._tunnel_options
            self.left_leak_protection = keep and options is not None and options.leak_protection
        if self._routes is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._routes.fileno())
            self._routes.close()
            self._routes = None
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        return failures
