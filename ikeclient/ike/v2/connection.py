"""The IKEv2 initiator connection: a sans-I/O state machine (RFC 7296).

Theory of operation
-------------------
``Ikev2Connection`` never touches a socket or a clock. The caller feeds it
datagrams (``receive_datagram``) and the time (``now``, monotonic seconds) and
collects what it produced: datagrams to send (``datagrams_to_send``), the
next deadline (``get_timer`` / ``handle_timer``) and events (``next_event``).
aioquic's ``QuicConnection`` is the model.

One connection, several IKE SAs over time. The connection has one *current*
IKE SA; a rekey (§2.18) or a reauthentication (RFC 4478, §2.8.3) makes a new
one, which becomes current, while the old one lives on a little to be deleted
(state REKEYED). Each IKE SA has its own *window* (``Window``), and the
connection owns, per window, exactly these things and nothing else:

- message IDs: ours for the requests we send, the gateway's for its requests
  (RFC 7296 §2.2), with a window of one, starting at 0 for each IKE SA;
- the single outstanding request, retransmitted as the same bytes with
  exponential backoff until it is answered or the schedule runs out (§2.1),
  and a queue of the requests waiting for their turn;
- the cached response to the gateway's last request, resent when the
  gateway retransmits that request (§2.1);

and, for all of them, the UDP framing after the float to port 4500 (the
non-ESP marker, §2.23), and RFC 7383 fragmentation: a protected request too
large for ``fragment_size`` goes out as SKF fragments once both sides
announced support, and the gateway's fragments are reassembled within limits
of count, size and age. Messages find their window by the IKE SPIs.

The time of day is an input too: ``connect(now, wall_time=...)`` anchors it,
and certificates are checked against ``wall_time + (now - connect's now)``;
the core never reads a clock.

What each exchange puts in its messages and how it checks the answer lives
in one module per exchange (``ike_init``, ``ike_auth``, ``informational``,
``create_child_sa``, ``ike_rekey``, ``mobike``, ``reauth``), modelled on
strongSwan's tasks. The records of IKE SAs and child SAs are in ``windows``;
deciding when to rekey, reauthenticate, check liveness or move (and what the
answers mean) is the ``renewal`` mixin's part of this class. Every state
change goes through ``state.py``: one ``IkeSaStateMachine`` per IKE SA, one
``ChildSaStateMachine`` per child SA.

Staying connected. Deadlines are plain ``*_at`` floats compared with ``now``:
rekey (soft) and expiry (hard) of the IKE SA and of each child SA, with a
random jitter (§2.8.1: so both ends do not rekey at once), reauthentication,
and liveness: after ``dpd_delay`` seconds without anything from the gateway
(IKE messages here, ESP through ``inbound_activity``) an empty INFORMATIONAL
asks whether it is still there (§2.4), and sooner, on a short retransmission
schedule of its own, when ESP went out (``outbound_activity``) and nothing came
back for ``dead_peer_after`` seconds. ``get_timer`` is the earliest of them
all and of the retransmissions. A Delete of the IKE SA from the gateway ends the
connection with ``IkeSaClosed.deleted_by_gateway`` (the runtime may reconnect).
A gateway that stops answering, or answers INVALID_IKE_SPI (it restarted,
§2.21.4), ends the connection with ``PeerLost``; the runtime reconnects.

Rekeying child SAs is make-before-break: see ``create_child_sa`` for who can
install what when, and ``ChildSaEstablished.outbound_deferred``. Collisions
(both ends rekeying the same SA at once, §2.8.1) are settled by the four
nonces: the SA made with the lowest nonce is redundant, and the end that
started its exchange deletes it.

Before authentication (IKE_SA_INIT, IKE_AUTH) an answer counts only when it comes
from the address and port its request went to (port 4500 after the float); others are
dropped and counted (``drops.wrong_source``). An error in the unprotected IKE_SA_INIT
response may be forged, so it is held back for ``SA_INIT_ERROR_GRACE`` seconds while a
valid answer may still arrive (RFC 7296 §2.21.1).

Errors are raised deep and converted here, once, in ``receive_datagram``:
a message that is malformed or fails its integrity check is dropped and
counted (§2.21); a protocol failure that ends the attempt closes the IKE SA
and emits ``IkeSaClosed`` with the typed error; a failed rekey is retried
later and never ends the IKE SA. Nothing else escapes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    CryptoError,
    GatewayUnreachable,
    IkeError,
    InvalidSyntax,
    LocalProtocolError,
    NoProposalChosen,
    PeerLost,
    RemoteProtocolError,
    UnsupportedAlgorithm,
    UnsupportedCriticalPayload,
)
from ikeclient.ike.events import (
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaClosed,
    IkeSaEstablished,
    IPAddress,
    same_endpoint,
)
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, NotifyType
from ikeclient.ike.v2.fragmentation import fragment_message, ike_message_limit
from ikeclient.ike.v2.ike_auth import AuthContinue, IkeAuthExchange
from ikeclient.ike.v2.ike_init import IkeSaInitExchange, Retry, SaInitDone
from ikeclient.ike.v2.ike_rekey import (
    is_ike_rekey,
    new_ike_spi,
)
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.informational import (
    delete_ike_sa,
    process_peer_informational,
)
from ikeclient.ike.v2.message import Message, encode_message, find_notify, pull_message
from ikeclient.ike.v2.mobike import (
    mobike_supported,
    peer_supports_mobike,
)
from ikeclient.ike.v2.payloads import (
    NotifyPayload,
    Payload,
    SkfPayload,
    SkPayload,
    pull_payload_chain,
)
from ikeclient.ike.v2.protection import decrypt_fragment, decrypt_message, encrypt_message
from ikeclient.ike.v2.reauth import ask_for_addresses, auth_lifetime, for_reauthentication
from ikeclient.ike.v2.renewal import Renewal
from ikeclient.ike.v2.rules import check_message_rules
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.state import (
    ChildSaState,
    IkeSaState,
)
from ikeclient.ike.v2.windows import Child, RekeyCounters, Request, ResponseHandler, Task, Window

logger = logging.getLogger(__name__)

NON_ESP_MARKER = b"\x00\x00\x00\x00"
IKE_PORT = 500
PEER_LOST_GRACE = 1.0
"""After an unprotected INVALID_IKE_SPI answer, how long a genuine answer may still come."""
SA_INIT_ERROR_GRACE = 2.0
"""After an unauthenticated IKE_SA_INIT refusal, how long a genuine answer may still come."""


class _SpiLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the IKE SA's initiator SPI, so parallel SAs can be told apart."""

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        spi = self.extra["spi"] if self.extra else "?"
        return f"[{spi}] {msg}", kwargs


@dataclass(slots=True)
class DropCounters:
    """Why received datagrams were dropped (RFC 7296 §2.21: silently, but counted)."""

    malformed: int = 0
    integrity: int = 0
    unexpected: int = 0
    not_ours: int = 0
    keepalive: int = 0
    fragments_held: int = 0
    invalid_spi_hints: int = 0
    wrong_source: int = 0  # an answer before authentication, not from where the request went
    sa_init_error_hints: int = 0  # unauthenticated IKE_SA_INIT refusals held back (§2.21.1)
    last_error: IkeError | None = field(default=None, repr=False)


class Ikev2Connection(Renewal):
    """An IKEv2 initiator for one IKE SA at a time and its child SAs."""

    def __init__(
        self,
        settings: Ikev2Settings,
        *,
        local: Endpoint,
        remote: Endpoint,
        rng: RandomSource,
        addresses: Sequence[IPAddress] = (),
    ) -> None:
        """``addresses``: virtual IPs to ask for again (a reconnect keeps its address)."""
        self._settings = settings
        self._wanted_addresses = tuple(addresses)
        self._rng = rng
        self._local = local
        self._remote = remote
        self._natt = remote.port != IKE_PORT  # already on a NAT-T port: frame from the start
        self._current = Window(new_ike_spi(rng), "first")
        self._windows: list[Window] = [self._current]
        self._reauth: Window | None = None
        self._children: list[Child] = []
        self._events: deque[IkeEvent] = deque()
        self._out: list[tuple[bytes, Endpoint]] = []
        self._close_reason: str | None = None
        self._close_error: IkeError | None = None
        self._local_nat = False
        self._remote_nat = False
        self._mobike = False
        self._fake_natd: bytes | None = None
        self._nat_mapping: bytes | None = None
        self._nat_baseline_at: float | None = None
        self._config: ConfigReceived | None = None
        self._last_inbound = 0.0
        self._esp_out_since: float | None = None
        self._last_liveness: float | None = None
        self._cookie2 = b""
        self._fragmentation = False  # both sides announced RFC 7383 support
        self._last_now = 0.0
        self._wall_offset: float | None = None
        self.drops = DropCounters()
        self.rekeys = RekeyCounters()
        self.log = _SpiLogger(logger, {"spi": self._current.spi_i.hex()})

    # -- properties ---------------------------------------------------------------------

    @property
    def state(self) -> IkeSaState:
        """The state of the current IKE SA (CLOSED once the connection ended)."""
        return self._current.state

    @property
    def spi_i(self) -> bytes:
        """The IKE header's SPIi of the current IKE SA."""
        sa = self._current.sa
        return sa.spi_i if sa is not None else self._current.spi_i

    @property
    def remote(self) -> Endpoint:
        """Where IKE messages go now (port 4500 after the NAT-T float)."""
        return self._remote

    @property
    def local(self) -> Endpoint:
        """Our endpoint as the IKE SA knows it (changed by ``update_local_endpoint``)."""
        return self._local

    @property
    def udp_encapsulation(self) -> bool:
        """True once IKE runs on the NAT-T port with the non-ESP marker (RFC 3948)."""
        return self._natt

    @property
    def local_behind_nat(self) -> bool:
        return self._local_nat

    @property
    def mobike(self) -> bool:
        """True when both ends agreed on MOBIKE (RFC 4555 §3.1)."""
        return self._mobike

    @property
    def children(self) -> tuple[ChildSaEstablished, ...]:
        """The child SAs that exist (not yet deleted), oldest first."""
        return tuple(c.info for c in self._children if c.state != ChildSaState.DELETED)

    @property
    def ike_sa(self) -> IkeSa | None:
        """The current IKE SA's keys and algorithms (None before IKE_SA_INIT completed)."""
        return self._current.sa

    def child_deadlines(self, spi_in: int) -> tuple[float | None, float | None]:
        """(rekey at, expires at) of the child SA ``spi_in`` (for status output)."""
        for c in self._children:
            if c.info.spi_in == spi_in:
                return c.rekey_at, c.expire_at
        return None, None

    @property
    def ike_deadlines(self) -> tuple[float | None, float | None, float | None]:
        """(rekey at, expires at, reauthentication at) of the current IKE SA."""
        cur = self._current
        return cur.rekey_at, cur.expire_at, cur.reauth_at

    # -- commands -------------------------------------------------------------------------

    def connect(self, now: float, *, wall_time: float | None = None) -> None:
        """Start IKE_SA_INIT.

        ``wall_time`` is the time of day at ``now`` (seconds since the epoch);
        certificate checks need it, the core reads no clock of its own.
        """
        if self.state != IkeSaState.INITIAL:
            raise LocalProtocolError("connect() was already called")
        if wall_time is not None:
            self._wall_offset = wall_time - now
        elif self._settings.auth.needs_wall_clock:
            raise LocalProtocolError("certificate checks need connect(now, wall_time=...)")
        window = self._current
        window.init = IkeSaInitExchange(
            self._settings, self._rng, window.spi_i, self._local, self._remote
        )
        window.machine.move_to(IkeSaState.SA_INIT_SENT)
        self._send_sa_init(window, now)

    def close(self, now: float, reason: str = "closed by user") -> None:
        """Close the IKE SA: Delete it at the gateway when it exists (RFC 7296 §1.4.1)."""
        cur = self._current
        state = cur.state
        if state in (IkeSaState.CLOSED, IkeSaState.DELETING) or self._close_reason is not None:
            return
        if state in (IkeSaState.INITIAL, IkeSaState.SA_INIT_SENT):
            self._finish(reason, None)
            return
        self._close_reason = reason
        if state == IkeSaState.ESTABLISHED and cur.outstanding is None:
            self._start_delete(cur, now)
        # AUTH_SENT, or a request in flight: the Delete follows its response.

    # -- I/O surface ---------------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Endpoint]]:
        """Datagrams to send now, each with its destination; the list is handed over."""
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """The next deadline: a retransmission, a rekey, an expiry or a liveness check."""
        if self.state == IkeSaState.CLOSED:
            return None
        deadlines: list[float] = []
        for w in self._windows:
            if w.outstanding is not None:
                deadlines.append(w.outstanding.deadline)
            if w.delete_at is not None:
                deadlines.append(w.delete_at)
        cur = self._current
        if cur.state == IkeSaState.ESTABLISHED and self._close_reason is None:
            for at in (cur.rekey_at, cur.expire_at, cur.reauth_at):
                if at is not None:
                    deadlines.append(at)
            for c in self._children:
                for at in (c.rekey_at, c.expire_at, c.delete_at):
                    if at is not None:
                        deadlines.append(at)
            dpd = self._dpd_deadline()
            if dpd is not None:
                deadlines.append(dpd)
            if self._nat_baseline_at is not None:
                deadlines.append(self._nat_baseline_at)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Retransmit or give up; start the rekeys, deletes and checks that are due."""
        if self.state == IkeSaState.CLOSED:
            return
        for w in list(self._windows):
            req = w.outstanding
            if req is not None and now >= req.deadline and w in self._windows:
                self._retransmit_or_give_up(w, req, now)
                if self._is_closed():
                    return
        self._run_deadlines(now)

    def _is_closed(self) -> bool:
        return self._current.state == IkeSaState.CLOSED

    def next_event(self) -> IkeEvent | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def receive_datagram(self, data: bytes, src: Endpoint, now: float) -> None:
        """Process one UDP payload from the gateway (IKE, with or without the non-ESP marker)."""
        if self.state == IkeSaState.CLOSED:
            return
        try:
            self._receive(data, src, now)
        except (InvalidSyntax, UnsupportedCriticalPayload) as exc:
            self.drops.malformed += 1
            if same_endpoint(src, self._remote):  # what a forger elsewhere sent is not reported
                self.drops.last_error = exc
            self.log.debug("dropped a malformed message: %s", exc)
        except CryptoError as exc:
            self.drops.integrity += 1
            self.log.debug("dropped a message that failed its integrity check: %s", exc)

    # -- receiving ---------------------------------------------------------------------------

    def _receive(self, data: bytes, src: Endpoint, now: float) -> None:
        self._last_now = now
        if data == b"\xff":
            self.drops.keepalive += 1
            return
        if data[:4] == NON_ESP_MARKER:
            data = data[4:]
        elif src.port != IKE_PORT and self._natt:
            # On the NAT-T port, anything without the marker is ESP: not ours.
            self.drops.not_ours += 1
            return
        message = pull_message(data)
        header = message.header
        if (
            header.exchange_type == ExchangeType.IKE_SA_INIT
            and not header.is_response
            and header.spi_r == bytes(8)
        ):
            # The gateway starts an IKE SA toward us (we never answer those): it may have
            # restarted and lost ours. Unauthenticated, so only a hint: check ours now.
            self.drops.unexpected += 1
            if self.state == IkeSaState.ESTABLISHED:
                self.check_liveness(now)
            return
        window = self._window_for(message)
        if window is None:
            self.drops.not_ours += 1
            return
        if header.is_response:
            self._receive_response(window, message, data, src, now)
        else:
            self._receive_request(window, message, data, now)

    def _window_for(self, message: Message) -> Window | None:
        header = message.header
        for w in self._windows:
            if w.sa is not None:
                if header.spi_i == w.sa.spi_i and header.spi_r == w.sa.spi_r:
                    return w
            elif header.spi_i == w.spi_i:
                return w
        return None

    def _receive_response(
        self, window: Window, message: Message, data: bytes, src: Endpoint, now: float
    ) -> None:
        """Match a response to the outstanding request of ``window`` and run its handler.

        Before the IKE SA is authenticated (IKE_SA_INIT, IKE_AUTH), an answer counts only
        when it comes from the address and port the request went to; others are dropped
        and counted (``wrong_source``): RFC 7296 §2.21 / §2.4, nothing that arrives
        without cryptographic protection may end the attempt. After the float to port
        4500 (§2.23) that is the NAT-T port, as the IKE_AUTH request went there.
        """
        req = window.outstanding
        header = message.header
        if (
            req is not None
            and req.exchange != ExchangeType.IKE_SA_INIT
            and header.message_id == req.message_id
            and message.payloads
            and not isinstance(message.payloads[-1], SkPayload | SkfPayload)
            and find_notify(message.payloads, NotifyType.INVALID_IKE_SPI) is not None
        ):
            # RFC 7296 §2.21.4: an unprotected INVALID_IKE_SPI means the gateway forgot the
            # IKE SA (it restarted). It cannot be authenticated: give a genuine answer a
            # moment longer, then take the gateway as lost.
            self.drops.invalid_spi_hints += 1
            if not req.lost_hint:
                req.lost_hint = True
                req.deadline = min(req.deadline, now + PEER_LOST_GRACE)
            return
        peer_initiated = window.sa is not None and not window.sa.we_initiated
        if (
            req is None
            or header.message_id != req.message_id
            or header.exchange_type != req.exchange
            or header.is_initiator != peer_initiated
        ):
            self.drops.unexpected += 1
            return
        if (
            window.state in (IkeSaState.SA_INIT_SENT, IkeSaState.AUTH_SENT)
            and req.dst is not None
            and not same_endpoint(src, req.dst)
        ):
            self.drops.wrong_source += 1
            self.log.debug(
                "dropped an answer from %s:%d (the request went to %s:%d)",
                src.host, src.port, req.dst.host, req.dst.port,
            )  # fmt: skip
            return
        inner: tuple[Payload, ...] = ()
        if req.exchange == ExchangeType.IKE_SA_INIT:
            check_message_rules(header.exchange_type, True, message.payloads, None)
        else:
            opened = self._open(window, message, data)
            if opened is None:
                return
            inner = opened
            check_message_rules(header.exchange_type, True, message.payloads, inner)
            self._last_inbound = max(self._last_inbound, now)
        window.fragments.discard(header.message_id, True)
        window.outstanding = None
        window.next_message_id += 1
        try:
            try:
                req.handler(window, message, inner, data, now)
            except CryptoError as exc:
                raise _crypto_failure(exc) from exc
        except InvalidSyntax as exc:
            if req.exchange != ExchangeType.IKE_SA_INIT:
                self._fail(window, exc, now)
                return
            # RFC 7296 §2.21.1: an unprotected reply may be forged (a KE value off
            # the curve included); keep waiting for the genuine one.
            window.outstanding = req
            window.next_message_id -= 1
            raise
        except RemoteProtocolError as exc:
            if req.exchange == ExchangeType.IKE_SA_INIT and window.sa is None:
                # Refused by the unprotected response itself (not by our own checks after
                # it was accepted, such as a signature method the gateway lacks).
                window.outstanding = req
                window.next_message_id -= 1
                self._sa_init_error_hint(req, exc, now)
                return
            self._fail(window, exc, now)
            return
        self._kick(now)

    def _sa_init_error_hint(self, req: Request, error: RemoteProtocolError, now: float) -> None:
        """Hold back an unauthenticated refusal of IKE_SA_INIT; a genuine answer may follow.

        The IKE_SA_INIT response is not protected, so an error notify in it (and any other
        failure it causes: NO_PROPOSAL_CHOSEN, an INVALID_KE_PAYLOAD or COOKIE that cannot
        be followed, a proposal we never offered) may be forged. RFC 7296 §2.21.1: the
        recipient should keep trying for some time before acting on such a notification;
        §2.4: nothing without cryptographic protection may make us conclude the peer
        failed. So the request stays outstanding and a valid answer to it still completes
        IKE_SA_INIT; if none comes within ``SA_INIT_ERROR_GRACE`` seconds of the first
        refusal (no retransmission in between: a genuine refusal would only repeat), the
        attempt ends with the latest refusal's error, so a gateway that really refuses is
        reported as such (NO_PROPOSAL_CHOSEN: exit code 12) in bounded time. Answers from
        another address or port never get here (``_receive_response``).
        """
        self.drops.sa_init_error_hints += 1
        if req.error_hint is None:
            req.deadline = now + SA_INIT_ERROR_GRACE
        req.error_hint = error
        self.log.info(
            "IKE_SA_INIT refused (unauthenticated, waiting %.0f s for a valid answer): %s",
            SA_INIT_ERROR_GRACE, error,
        )  # fmt: skip

    def _receive_request(self, window: Window, message: Message, data: bytes, now: float) -> None:
        sa = window.sa
        header = message.header
        if sa is None or not window.machine.has_keys:
            self.drops.not_ours += 1
            return
        if header.exchange_type == ExchangeType.IKE_SA_INIT:
            self.drops.unexpected += 1
            return
        cached = window.cached_response
        if header.message_id not in (window.peer_next_message_id, cached[0] if cached else None):
            self.drops.unexpected += 1
            return
        try:
            inner = self._open(window, message, data)
        except UnsupportedCriticalPayload as exc:
            # RFC 7296 §2.5: reject the authenticated request and say which payload.
            if header.message_id == window.peer_next_message_id:
                window.peer_next_message_id += 1
                notify = NotifyPayload(
                    0, b"", NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes((exc.payload_type,))
                )
                self._respond(window, header.exchange_type, header.message_id, [notify])
            raise
        if inner is None:
            return
        if cached is not None and header.message_id == cached[0]:
            self._out.append((self._frame(cached[1]), self._remote))
            return
        check_message_rules(header.exchange_type, False, message.payloads, inner)
        window.peer_next_message_id += 1
        self._last_inbound = max(self._last_inbound, now)
        if header.exchange_type == ExchangeType.INFORMATIONAL:
            self._handle_peer_informational(window, header.message_id, inner, now)
        elif header.exchange_type == ExchangeType.CREATE_CHILD_SA:
            self._handle_peer_create_child_sa(window, header.message_id, inner, now)
        else:
            self._respond(
                window,
                header.exchange_type,
                header.message_id,
                [NotifyPayload(0, b"", NotifyType.NO_ADDITIONAL_SAS, b"")],
            )
        self._kick(now)

    def _open(self, window: Window, message: Message, data: bytes) -> tuple[Payload, ...] | None:
        """Verify and decrypt an SK message, or keep an SKF fragment until all have come.

        Returns None while fragments are missing (RFC 7383 §2.6).
        """
        sa = window.sa
        if sa is None:
            raise InvalidSyntax("an encrypted message before the IKE SA has keys")
        if not message.payloads or not isinstance(message.payloads[-1], SkfPayload):
            return decrypt_message(data, message, sa.inbound)
        skf, aad = decrypt_fragment(data, message)
        plaintext = sa.inbound.open(aad, skf.body)
        header = message.header
        whole = window.fragments.add(
            header.message_id,
            bool(header.flags & HeaderFlag.RESPONSE),
            skf.fragment_number,
            skf.total_fragments,
            skf.first_inner,
            plaintext,
            now=self._last_now,
        )
        if whole is None:
            self.drops.fragments_held += 1
            return None
        first_inner, chain = whole
        return pull_payload_chain(chain, first_inner)

    # -- the gateway's requests ---------------------------------------------------------------

    def _handle_peer_informational(
        self, window: Window, message_id: int, inner: tuple[Payload, ...], now: float
    ) -> None:
        live = [c for c in self._children if c.state != ChildSaState.DELETED]
        spis = [(c.info.spi_in, c.info.spi_out) for c in live if c.state != ChildSaState.DELETING]
        crossing = [c.info.spi_out for c in live if c.state == ChildSaState.DELETING]
        action = process_peer_informational(inner, spis, crossing)
        self._respond(window, ExchangeType.INFORMATIONAL, message_id, action.response)
        for spi_out in action.deleted_child_spis_out:
            for child in live:
                if child.info.spi_out == spi_out:
                    self._child_deleted(child, "deleted by the gateway")
        for spi_out in action.invalid_spis:
            for child in live:
                if child.info.spi_out == spi_out and child.state != ChildSaState.DELETED:
                    # The gateway got ESP on an SPI it does not know (RFC 7296 §3.10.1):
                    # it lost this child SA. Make a new one if it was carrying traffic.
                    carried = child.machine.carries_traffic
                    self._child_deleted(child, "unknown to the gateway (INVALID_SPI)")
                    if carried:
                        self._create_child(child.info, now)
        if action.delete_ike_sa:
            theirs = window.peer_ike_rekey
            if window is self._current and theirs is not None:
                # Our rekey of this IKE SA is still on its way; the gateway's rekey, which
                # we answered, made the new IKE SA and it deleted the old one (§2.18).
                window.peer_ike_rekey = None
                window.ike_rekey = None
                self._adopt(theirs[0], window, now, False)
            if window is self._current:
                # Not asked for by us: the runtime reconnects (or exits) as the profile says.
                self.log.info("the gateway deleted the IKE SA")
                self._finish("deleted by the gateway", None, deleted_by_gateway=True)
            else:
                self._close_window(window, "deleted by the gateway")

    def _handle_peer_create_child_sa(
        self, window: Window, message_id: int, inner: tuple[Payload, ...], now: float
    ) -> None:
        after: Callable[[], None] | None = None
        if is_ike_rekey(inner):
            payloads, after = self._answer_ike_rekey(window, inner, now)
        else:
            payloads = self._answer_child_rekey(window, inner, now)
        self._respond(window, ExchangeType.CREATE_CHILD_SA, message_id, payloads)
        if after is not None:
            after()

    # -- IKE_SA_INIT ---------------------------------------------------------------------------

    def _send_sa_init(self, window: Window, now: float) -> None:
        assert window.init is not None
        payloads = window.init.build_request()
        wire = encode_message(
            window.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0, payloads
        )
        window.init_request = wire
        self._send_request(
            window, ExchangeType.IKE_SA_INIT, wire, self._on_sa_init_response, now, "init"
        )

    def _on_sa_init_response(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        assert window.init is not None
        result = window.init.process_response(message)
        if isinstance(result, Retry):
            self.log.info("resending IKE_SA_INIT: %s", result.why)
            window.next_message_id = 0
            window.machine.move_to(IkeSaState.SA_INIT_SENT)
            self._send_sa_init(window, now)
            return
        self._established_sa_init(window, result, data, now)

    def _established_sa_init(
        self, window: Window, result: SaInitDone, response: bytes, now: float
    ) -> None:
        assert window.init is not None
        window.sa = IkeSa.derive(
            spi_i=window.spi_i,
            spi_r=result.spi_r,
            chosen=result.chosen,
            nonce_i=window.init.nonce_i,
            nonce_r=result.nonce_r,
            shared_secret=result.shared_secret,
            init_request=window.init_request,
            init_response=response,
        )
        self._fake_natd = window.init.fake_natd_source
        if window.purpose == "first":
            self._local_nat = result.local_behind_nat
            self._remote_nat = result.remote_behind_nat
            self._fragmentation = result.fragmentation and self._settings.fragmentation
            nat = result.local_behind_nat or result.remote_behind_nat
            if (nat or self._settings.force_encapsulation) and not self._natt:
                self._natt = True
                self._remote = Endpoint(self._remote.host, self._settings.nat_t_port)
        self.log.info(
            "IKE_SA_INIT done: %s, NAT local=%s remote=%s, encapsulation=%s",
            result.chosen,
            result.local_behind_nat,
            result.remote_behind_nat,
            self._natt,
        )
        window.machine.move_to(IkeSaState.AUTH_SENT)
        window.auth = IkeAuthExchange(
            self._settings,
            window.sa,
            self._rng,
            self._local,
            self._remote,
            self._natt,
            peer_signature_hashes=result.signature_hashes,
        )
        payloads = window.auth.build_request()
        if window.purpose == "reauth":
            addresses = self._config.addresses if self._config is not None else ()
            payloads = for_reauthentication(payloads, addresses)
        elif self._wanted_addresses:
            payloads = ask_for_addresses(payloads, self._wanted_addresses)
        if self._settings.mobike:
            payloads.append(mobike_supported())
        window.pending.appendleft(
            Task("auth", ExchangeType.IKE_AUTH, lambda w, t: payloads, self._on_auth_response)
        )
        self._send_next(window, now)

    # -- IKE_AUTH -----------------------------------------------------------------------------

    def _on_auth_response(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        assert window.auth is not None and window.sa is not None
        wall = now + self._wall_offset if self._wall_offset is not None else None
        done = window.auth.process_response(inner, wall)
        if isinstance(done, AuthContinue):
            # EAP (RFC 7296 §2.16): another IKE_AUTH round trip, same state.
            more = list(done.payloads)
            if peer_supports_mobike(inner):
                window.mobike_seen = True
            window.pending.appendleft(
                Task("auth", ExchangeType.IKE_AUTH, lambda w, t: more, self._on_auth_response)
            )
            self._send_next(window, now)
            return
        window.machine.move_to(IkeSaState.ESTABLISHED)
        sa = window.sa
        mobike = self._settings.mobike and (window.mobike_seen or peer_supports_mobike(inner))
        lifetime = auth_lifetime(inner)
        self._events.append(
            IkeSaEstablished(
                spi_i=sa.spi_i,
                spi_r=sa.spi_r,
                algorithms=str(sa.chosen),
                local=self._local,
                remote=self._remote,
                local_behind_nat=self._local_nat,
                remote_behind_nat=self._remote_nat,
                udp_encapsulation=self._natt,
                remote_identity=str(done.remote_identity),
            )
        )
        authenticator = window.auth.authenticator
        self.log.info(
            "IKE SA established with %s (%s)%s%s",
            done.remote_identity,
            authenticator.remote_certificate or self._settings.auth.remote,
            ", MOBIKE" if mobike else "",
            f", reauthentication in {lifetime} s (AUTH_LIFETIME)" if lifetime is not None else "",
        )
        if done.child_error is not None:
            if window.purpose == "reauth":
                self._reauth_failed(window, str(done.child_error), now, delete=True)
                return
            # An IKE SA without its child carries no traffic: close it, say why.
            self._close_error = done.child_error
            self._close_reason = str(done.child_error)
            self._start_delete(window, now)
            return
        self._mobike = mobike
        self._set_ike_lifetimes(window, now, lifetime)
        self._want_nat_baseline(now)
        if done.config is not None:
            self._config = done.config
            self._events.append(done.config)
        if window.purpose == "reauth":
            self._reauth_done(window, done, now)
            return
        self._last_inbound = max(self._last_inbound, now)
        if done.child is not None:
            self._add_child(done.child, window, now)
            self.log.info(
                "child SA %s established: SPIs in %08x out %08x, %s",
                done.child.name,
                done.child.spi_in,
                done.child.spi_out,
                done.child.algorithms,
            )

    # -- closing --------------------------------------------------------------------------------

    def _start_delete(self, window: Window, now: float) -> None:
        window.machine.move_to(IkeSaState.DELETING)
        window.pending.clear()
        for other in list(self._windows):
            if other is not window:
                if other.machine.has_keys:
                    self._send_unacknowledged_delete(other)
                self._close_window(other, self._close_reason or "closed")
        self._send_now(
            window,
            Task(
                "delete",
                ExchangeType.INFORMATIONAL,
                lambda w, t: delete_ike_sa(),
                self._on_delete_response,
            ),
            now,
        )

    def _on_delete_response(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        self._finish(self._close_reason or "closed", self._close_error)

    def _send_unacknowledged_delete(self, window: Window) -> None:
        """D(IKE) sent once, not retransmitted: we are leaving either way (§2.21.2)."""
        sa = window.sa
        if sa is None:
            return
        wire = encrypt_message(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange_type=ExchangeType.INFORMATIONAL,
            flags=HeaderFlag.INITIATOR if sa.we_initiated else 0,
            message_id=window.next_message_id,
            payloads=delete_ike_sa(),
            cipher=sa.outbound,
            rng=self._rng,
        )
        window.next_message_id += 1
        self._out.append((self._frame(wire), self._remote))

    def _fail(self, window: Window, error: IkeError, now: float) -> None:
        """A protocol failure ends the attempt; tell the gateway when an IKE SA exists."""
        if window is self._reauth:
            self._reauth_failed(window, str(error), now, delete=True)
            return
        if window is not self._current:
            self.log.info("replaced IKE SA: %s", error)
            self._close_window(window, str(error))
            return
        self.log.warning("%s", error)
        if window.state in (IkeSaState.AUTH_SENT, IkeSaState.ESTABLISHED) and window.sa:
            # RFC 7296 §2.21.2: after a failed AUTH check, Delete the half-open IKE SA.
            self._send_unacknowledged_delete(window)
        self._finish(str(error), error)

    def _retransmit_or_give_up(self, window: Window, req: Request, now: float) -> None:
        if req.error_hint is not None:
            # The grace after an unauthenticated IKE_SA_INIT refusal is over: believe it.
            window.outstanding = None
            self._fail(window, req.error_hint, now)
            return
        if req.lost_hint:
            self._give_up(window, now, restarted=True)
            return
        if req.give_up_at is not None and now >= req.give_up_at:
            self._give_up(window, now)
            return
        intervals = req.schedule or self._settings.retransmit.intervals()
        req.attempts += 1
        if req.attempts >= len(intervals):
            self._give_up(window, now)
            return
        req.deadline = now + intervals[req.attempts]
        if req.give_up_at is not None:
            req.deadline = min(req.deadline, req.give_up_at)
        self.log.debug("retransmitting message %d (try %d)", req.message_id, req.attempts + 1)
        for wire in (req.wire, *req.fragments):
            self._out.append((wire, self._remote))

    def _give_up(self, window: Window, now: float, *, restarted: bool = False) -> None:
        req = window.outstanding
        window.outstanding = None
        if window is self._reauth:
            self._reauth_failed(window, "the gateway did not answer", now, delete=False)
            return
        if window is not self._current:
            self._close_window(window, "no answer")
            return
        state = window.state
        if state == IkeSaState.DELETING:
            self._finish(self._close_reason or "closed", self._close_error)
            return
        if state == IkeSaState.ESTABLISHED:
            if restarted:
                reason = "the gateway answered INVALID_IKE_SPI: it lost the IKE SA (restarted?)"
            else:
                reason = (
                    f"the gateway {self._remote.host} stopped answering "
                    f"(dead peer: no answer to a {req.kind if req else 'request'})"
                )
            self.log.warning("%s", reason)
            self._finish(reason, PeerLost(reason, restarted=restarted))
            return
        last = self.drops.last_error
        if last is not None and req is not None and req.exchange == ExchangeType.IKE_SA_INIT:
            error: IkeError = last
            reason = f"no valid answer from the gateway; its last reply was malformed: {last}"
        else:
            tries = len(self._settings.retransmit.intervals())
            reason = (
                f"gateway {self._remote.host} port {self._remote.port} did not answer "
                f"(gave up after {tries} tries)"
            )
            error = GatewayUnreachable(reason)
        self.log.warning("%s", reason)
        self._finish(reason, error)

    def _finish(
        self, reason: str, error: IkeError | None, *, deleted_by_gateway: bool = False
    ) -> None:
        for child in list(self._children):
            self._child_deleted(child, reason)
        self._children.clear()
        self._reauth = None
        for window in self._windows:
            window.outstanding = None
            window.pending.clear()
            if window.state != IkeSaState.CLOSED:
                window.machine.move_to(IkeSaState.CLOSED)
        self._windows = [self._current]
        self._events.append(IkeSaClosed(reason, error, deleted_by_gateway))

    # -- sending -------------------------------------------------------------------------------

    def _frame(self, message: bytes) -> bytes:
        return NON_ESP_MARKER + message if self._natt else message

    def _send_request(
        self,
        window: Window,
        exchange: int,
        wire: bytes,
        handler: ResponseHandler,
        now: float,
        kind: str,
        fragments: tuple[bytes, ...] = (),
        schedule: tuple[float, ...] = (),
    ) -> None:
        framed = self._frame(wire)
        more = tuple(self._frame(f) for f in fragments)
        first = (schedule or self._settings.retransmit.intervals())[0]
        give_up_at = None
        timeout = self._settings.dpd_timeout
        if timeout > 0 and window.state in (IkeSaState.ESTABLISHED, IkeSaState.REKEYED):
            give_up_at = now + timeout
        normal_give_up_at = give_up_at
        if schedule:
            end = now + sum(schedule)
            give_up_at = end if give_up_at is None else min(give_up_at, end)
        deadline = now + first if give_up_at is None else min(now + first, give_up_at)
        window.outstanding = Request(
            window.next_message_id,
            exchange,
            framed,
            handler,
            deadline,
            kind,
            0,
            give_up_at,
            fragments=more,
            dst=self._remote,
            schedule=schedule,
            hurried=bool(schedule),
            normal_give_up_at=normal_give_up_at,
        )
        for datagram in (framed, *more):
            self._out.append((datagram, self._remote))

    def _queue(self, window: Window, task: Task, now: float) -> None:
        window.pending.append(task)
        self._send_next(window, now)

    def _send_now(self, window: Window, task: Task, now: float) -> None:
        window.pending.appendleft(task)
        self._send_next(window, now)

    def _kick(self, now: float) -> None:
        for window in list(self._windows):
            self._send_next(window, now)

    def _send_next(self, window: Window, now: float) -> None:
        """Send the next waiting request of ``window`` if none is outstanding."""
        if window.outstanding is not None or window.state == IkeSaState.CLOSED:
            return
        if window not in self._windows:
            return
        if (
            window is self._current
            and self._close_reason is not None
            and window.state == IkeSaState.ESTABLISHED
        ):
            self._start_delete(window, now)
            return
        while window.pending and window.outstanding is None:
            task = window.pending.popleft()
            payloads = task.build(window, now)
            if payloads is None:
                continue
            self._send_encrypted(window, task, payloads, now)

    def _send_encrypted(
        self, window: Window, task: Task, payloads: list[Payload], now: float
    ) -> None:
        sa = window.sa
        assert sa is not None
        wires = fragment_message(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange_type=task.exchange,
            flags=HeaderFlag.INITIATOR if sa.we_initiated else 0,
            message_id=window.next_message_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self._rng,
            max_size=self._fragment_limit(),
        )
        if len(wires) > 1:
            self.log.info(
                "message %d goes out in %d RFC 7383 fragments", window.next_message_id, len(wires)
            )
        self._send_request(
            window,
            task.exchange,
            wires[0],
            task.handler,
            now,
            task.kind,
            tuple(wires[1:]),
            task.schedule,
        )

    def _fragment_limit(self) -> int | None:
        """The largest IKE message before RFC 7383 fragmentation, or None without it."""
        if not self._fragmentation:
            return None
        return ike_message_limit(
            self._settings.fragment_size,
            ipv6=":" in self._remote.host,
            non_esp_marker=self._natt,
        )

    def _respond(
        self, window: Window, exchange: int, message_id: int, payloads: list[Payload]
    ) -> None:
        sa = window.sa
        assert sa is not None
        flags = HeaderFlag.RESPONSE | (HeaderFlag.INITIATOR if sa.we_initiated else 0)
        wire = encrypt_message(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange_type=exchange,
            flags=flags,
            message_id=message_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self._rng,
        )
        window.cached_response = (message_id, wire)
        self._out.append((self._frame(wire), self._remote))


def _crypto_failure(exc: CryptoError) -> IkeError:
    """A crypto failure while processing an authentic reply (bad KE value, unknown algorithm)."""
    if isinstance(exc, UnsupportedAlgorithm):
        return NoProposalChosen(f"the gateway chose an algorithm this client lacks: {exc}")
    return InvalidSyntax(f"the gateway's reply is unusable: {exc}")
