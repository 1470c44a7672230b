"""The IKEv2 initiator connection: a sans-I/O state machine (RFC 7296).

Theory of operation
-------------------
``Ikev2Connection`` never touches a socket or a clock. The caller feeds it
datagrams (``receive_datagram``) and the time (``now``, monotonic seconds) and
collects what it produced: datagrams to send (``datagrams_to_send``), the
next deadline (``get_timer`` / ``handle_timer``) and events (``next_event``).
aioquic's ``QuicConnection`` is the model.

The connection owns exactly these things and nothing else:

- message IDs: ours for the requests we send, the gateway's for its requests
  (RFC 7296 §2.2), with a window of one;
- the single outstanding request, retransmitted as the same bytes with
  exponential backoff until it is answered or the schedule runs out (§2.1);
- the cached response to the gateway's last request, resent when the
  gateway retransmits that request (§2.1);
- the UDP framing after the float to port 4500 (the non-ESP marker, §2.23);
- RFC 7383 fragmentation: a protected request too large for ``fragment_size``
  goes out as SKF fragments once both sides announced support, and the
  gateway's fragments are reassembled within limits of count, size and age.

The time of day is an input too: ``connect(now, wall_time=...)`` anchors it,
and certificates are checked against ``wall_time + (now - connect's now)``;
the core never reads a clock.

What each exchange puts in its messages and how it checks the answer lives
in one module per exchange (``ike_init``, ``ike_auth``, ``informational``),
modelled on strongSwan's tasks. Every state change goes through
``state.IkeSaStateMachine``.

Errors are raised deep and converted here, once, in ``receive_datagram``:
a message that is malformed or fails its integrity check is dropped and
counted (§2.21); a protocol failure that ends the attempt closes the IKE SA
and emits ``IkeSaClosed`` with the typed error. Nothing else escapes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, MutableMapping
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
    RemoteProtocolError,
    UnsupportedAlgorithm,
    UnsupportedCriticalPayload,
)
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    IkeEvent,
    IkeSaClosed,
    IkeSaEstablished,
)
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag, NotifyType
from ikeclient.ike.v2.fragmentation import fragment_message, ike_message_limit
from ikeclient.ike.v2.fragments import FragmentReassembler
from ikeclient.ike.v2.ike_auth import AuthContinue, IkeAuthExchange
from ikeclient.ike.v2.ike_init import IkeSaInitExchange, Retry, SaInitDone
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.informational import delete_ike_sa, process_peer_informational
from ikeclient.ike.v2.message import Message, encode_message, pull_message
from ikeclient.ike.v2.payloads import NotifyPayload, Payload, SkfPayload, pull_payload_chain
from ikeclient.ike.v2.protection import decrypt_fragment, decrypt_message, encrypt_message
from ikeclient.ike.v2.rules import check_message_rules
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.state import IkeSaState, IkeSaStateMachine

logger = logging.getLogger(__name__)

NON_ESP_MARKER = b"\x00\x00\x00\x00"
IKE_PORT = 500


class _SpiLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the IKE SA's initiator SPI, so parallel SAs can be told apart."""

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        spi = self.extra["spi"] if self.extra else "?"
        return f"[{spi}] {msg}", kwargs


ResponseHandler = Callable[[Message, tuple[Payload, ...], bytes, float], None]


@dataclass(slots=True)
class _Request:
    """Our one outstanding request (RFC 7296 §2.1)."""

    message_id: int
    exchange: int
    wire: bytes
    handler: ResponseHandler
    deadline: float
    attempts: int = 0
    fragments: tuple[bytes, ...] = ()  # RFC 7383: the datagrams after ``wire``, resent with it


@dataclass(slots=True)
class DropCounters:
    """Why received datagrams were dropped (RFC 7296 §2.21: silently, but counted)."""

    malformed: int = 0
    integrity: int = 0
    unexpected: int = 0
    not_ours: int = 0
    keepalive: int = 0
    fragments_held: int = 0
    last_error: IkeError | None = field(default=None, repr=False)


class Ikev2Connection:
    """An IKEv2 initiator for one IKE SA and its child SAs."""

    def __init__(
        self,
        settings: Ikev2Settings,
        *,
        local: Endpoint,
        remote: Endpoint,
        rng: RandomSource,
    ) -> None:
        self._settings = settings
        self._rng = rng
        self._local = local
        self._remote = remote
        self._natt = remote.port != IKE_PORT  # already on a NAT-T port: frame from the start
        self._state = IkeSaStateMachine()
        spi = rng.random_bytes(8)
        # A zero first word would look like the non-ESP marker on port 4500.
        self.spi_i = spi if spi[:4] != NON_ESP_MARKER else b"\x01" + spi[1:]
        self._next_message_id = 0
        self._peer_next_message_id = 0
        self._cached_response: tuple[int, bytes] | None = None
        self._outstanding: _Request | None = None
        self._pending: deque[tuple[int, list[Payload], ResponseHandler]] = deque()
        self._events: deque[IkeEvent] = deque()
        self._out: list[tuple[bytes, Endpoint]] = []
        self._fragments = FragmentReassembler()
        self._init: IkeSaInitExchange | None = None
        self._init_request = b""
        self._auth: IkeAuthExchange | None = None
        self._sa: IkeSa | None = None
        self._children: list[ChildSaEstablished] = []
        self._close_reason: str | None = None
        self._close_error: IkeError | None = None
        self._local_nat = False
        self._remote_nat = False
        self._fragmentation = False  # both sides announced RFC 7383 support
        self._last_now = 0.0
        self._wall_offset: float | None = None
        self.drops = DropCounters()
        self.log = _SpiLogger(logger, {"spi": self.spi_i.hex()})

    # -- properties ---------------------------------------------------------------------

    @property
    def state(self) -> IkeSaState:
        return self._state.state

    @property
    def remote(self) -> Endpoint:
        """Where IKE messages go now (port 4500 after the NAT-T float)."""
        return self._remote

    @property
    def udp_encapsulation(self) -> bool:
        """True once IKE runs on the NAT-T port with the non-ESP marker (RFC 3948)."""
        return self._natt

    @property
    def local_behind_nat(self) -> bool:
        return self._local_nat

    @property
    def children(self) -> tuple[ChildSaEstablished, ...]:
        return tuple(self._children)

    @property
    def ike_sa(self) -> IkeSa | None:
        return self._sa

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
        self._init = IkeSaInitExchange(
            self._settings, self._rng, self.spi_i, self._local, self._remote
        )
        self._state.move_to(IkeSaState.SA_INIT_SENT)
        self._send_sa_init(now)

    def close(self, now: float, reason: str = "closed by user") -> None:
        """Close the IKE SA: Delete it at the gateway when it exists (RFC 7296 §1.4.1)."""
        state = self.state
        if state in (IkeSaState.CLOSED, IkeSaState.DELETING) or self._close_reason is not None:
            return
        if state in (IkeSaState.INITIAL, IkeSaState.SA_INIT_SENT):
            self._finish(reason, None)
            return
        self._close_reason = reason
        if state == IkeSaState.ESTABLISHED and self._outstanding is None:
            self._start_delete(now)
        # AUTH_SENT, or a request in flight: the Delete follows its response.

    # -- I/O surface ---------------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Endpoint]]:
        """Datagrams to send now, each with its destination; the list is handed over."""
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """The next deadline (retransmission or give-up), or None."""
        if self._outstanding is None or self.state == IkeSaState.CLOSED:
            return None
        return self._outstanding.deadline

    def handle_timer(self, now: float) -> None:
        """Retransmit the outstanding request, or give up when the schedule has run out."""
        req = self._outstanding
        if req is None or now < req.deadline or self.state == IkeSaState.CLOSED:
            return
        intervals = self._settings.retransmit.intervals()
        req.attempts += 1
        if req.attempts >= len(intervals):
            self._give_up()
            return
        req.deadline = now + intervals[req.attempts]
        self.log.debug("retransmitting message %d (try %d)", req.message_id, req.attempts + 1)
        for wire in (req.wire, *req.fragments):
            self._out.append((wire, self._remote))

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
        if header.spi_i != self.spi_i:
            self.drops.not_ours += 1
            return
        if header.flags & HeaderFlag.RESPONSE:
            self._receive_response(message, data, now)
        else:
            self._receive_request(message, data, now)

    def _receive_response(self, message: Message, data: bytes, now: float) -> None:
        req = self._outstanding
        header = message.header
        if (
            req is None
            or header.message_id != req.message_id
            or header.exchange_type != req.exchange
            or header.flags & HeaderFlag.INITIATOR
        ):
            self.drops.unexpected += 1
            return
        inner: tuple[Payload, ...] = ()
        if req.exchange == ExchangeType.IKE_SA_INIT:
            check_message_rules(header.exchange_type, True, message.payloads, None)
        else:
            sa = self._sa
            if sa is None or header.spi_r != sa.spi_r:
                self.drops.not_ours += 1
                return
            opened = self._open(message, data, sa)
            if opened is None:
                return
            inner = opened
            check_message_rules(header.exchange_type, True, message.payloads, inner)
        self._fragments.discard(header.message_id, True)
        self._outstanding = None
        self._next_message_id += 1
        try:
            try:
                req.handler(message, inner, data, now)
            except CryptoError as exc:
                raise _crypto_failure(exc) from exc
        except InvalidSyntax as exc:
            if req.exchange != ExchangeType.IKE_SA_INIT:
                self._fail(exc, now)
                return
            # RFC 7296 §2.21.1: an unprotected reply may be forged (a KE value off
            # the curve included); keep waiting for the genuine one.
            self._outstanding = req
            self._next_message_id -= 1
            raise
        except RemoteProtocolError as exc:
            self._fail(exc, now)
            return
        self._send_pending(now)

    def _receive_request(self, message: Message, data: bytes, now: float) -> None:
        sa = self._sa
        header = message.header
        if sa is None or header.spi_r != sa.spi_r or not self._state.has_keys:
            self.drops.not_ours += 1
            return
        if header.exchange_type == ExchangeType.IKE_SA_INIT:
            self.drops.unexpected += 1
            return
        cached = self._cached_response
        if header.message_id not in (self._peer_next_message_id, cached[0] if cached else None):
            self.drops.unexpected += 1
            return
        try:
            inner = self._open(message, data, sa)
        except UnsupportedCriticalPayload as exc:
            # RFC 7296 §2.5: reject the authenticated request and say which payload.
            if header.message_id == self._peer_next_message_id:
                self._peer_next_message_id += 1
                notify = NotifyPayload(
                    0, b"", NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes((exc.payload_type,))
                )
                self._respond(header.exchange_type, header.message_id, [notify])
            raise
        if inner is None:
            return
        if cached is not None and header.message_id == cached[0]:
            self._out.append((self._frame(cached[1]), self._remote))
            return
        check_message_rules(header.exchange_type, False, message.payloads, inner)
        self._peer_next_message_id += 1
        if header.exchange_type == ExchangeType.INFORMATIONAL:
            self._handle_peer_informational(header.message_id, inner, now)
        else:
            # CREATE_CHILD_SA from the gateway (rekeying) is not supported yet.
            self._respond(
                header.exchange_type,
                header.message_id,
                [NotifyPayload(0, b"", NotifyType.NO_ADDITIONAL_SAS, b"")],
            )

    def _open(self, message: Message, data: bytes, sa: IkeSa) -> tuple[Payload, ...] | None:
        """Verify and decrypt an SK message, or keep an SKF fragment until all have come.

        Returns None while fragments are missing (RFC 7383 §2.6).
        """
        if not message.payloads or not isinstance(message.payloads[-1], SkfPayload):
            return decrypt_message(data, message, sa.inbound)
        skf, aad = decrypt_fragment(data, message)
        plaintext = sa.inbound.open(aad, skf.body)
        header = message.header
        whole = self._fragments.add(
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

    def _handle_peer_informational(
        self, message_id: int, inner: tuple[Payload, ...], now: float
    ) -> None:
        spis = [(c.spi_in, c.spi_out) for c in self._children]
        action = process_peer_informational(inner, spis)
        self._respond(ExchangeType.INFORMATIONAL, message_id, action.response)
        for spi_out in action.deleted_child_spis_out:
            self._drop_child(spi_out, "deleted by the gateway")
        if action.delete_ike_sa:
            self._finish("deleted by the gateway", None)

    # -- IKE_SA_INIT ---------------------------------------------------------------------------

    def _send_sa_init(self, now: float) -> None:
        assert self._init is not None
        payloads = self._init.build_request()
        wire = encode_message(
            self.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0, payloads
        )
        self._init_request = wire
        self._send_request(ExchangeType.IKE_SA_INIT, wire, self._on_sa_init_response, now)

    def _on_sa_init_response(
        self, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        assert self._init is not None
        result = self._init.process_response(message)
        if isinstance(result, Retry):
            self.log.info("resending IKE_SA_INIT: %s", result.why)
            self._next_message_id = 0
            self._state.move_to(IkeSaState.SA_INIT_SENT)
            self._send_sa_init(now)
            return
        self._established_sa_init(result, data, now)

    def _established_sa_init(self, result: SaInitDone, response: bytes, now: float) -> None:
        assert self._init is not None
        self._sa = IkeSa.derive(
            spi_i=self.spi_i,
            spi_r=result.spi_r,
            chosen=result.chosen,
            nonce_i=self._init.nonce_i,
            nonce_r=result.nonce_r,
            shared_secret=result.shared_secret,
            init_request=self._init_request,
            init_response=response,
        )
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
        self._state.move_to(IkeSaState.AUTH_SENT)
        self._auth = IkeAuthExchange(
            self._settings,
            self._sa,
            self._rng,
            self._local,
            self._remote,
            self._natt,
            peer_signature_hashes=result.signature_hashes,
        )
        self._send_encrypted(
            ExchangeType.IKE_AUTH, self._auth.build_request(), self._on_auth_response, now
        )

    # -- IKE_AUTH -----------------------------------------------------------------------------

    def _on_auth_response(
        self, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        assert self._auth is not None and self._sa is not None
        wall = now + self._wall_offset if self._wall_offset is not None else None
        done = self._auth.process_response(inner, wall)
        if isinstance(done, AuthContinue):
            # EAP (RFC 7296 §2.16): another IKE_AUTH round trip, same state.
            self._send_encrypted(ExchangeType.IKE_AUTH, done.payloads, self._on_auth_response, now)
            return
        self._state.move_to(IkeSaState.ESTABLISHED)
        self._events.append(
            IkeSaEstablished(
                spi_i=self.spi_i,
                spi_r=self._sa.spi_r,
                algorithms=str(self._sa.chosen),
                local=self._local,
                remote=self._remote,
                local_behind_nat=self._local_nat,
                remote_behind_nat=self._remote_nat,
                udp_encapsulation=self._natt,
                remote_identity=str(done.remote_identity),
            )
        )
        authenticator = self._auth.authenticator
        self.log.info(
            "IKE SA established with %s (%s)",
            done.remote_identity,
            authenticator.remote_certificate or self._settings.auth.remote,
        )
        if done.child_error is not None:
            # An IKE SA without its child carries no traffic: close it, say why.
            self._close_error = done.child_error
            self._close_reason = str(done.child_error)
            self._start_delete(now)
            return
        if done.config is not None:
            self._events.append(done.config)
        if done.child is not None:
            self._children.append(done.child)
            self._events.append(done.child)
            self.log.info(
                "child SA %s established: SPIs in %08x out %08x, %s",
                done.child.name,
                done.child.spi_in,
                done.child.spi_out,
                done.child.algorithms,
            )

    # -- closing --------------------------------------------------------------------------------

    def _start_delete(self, now: float) -> None:
        self._state.move_to(IkeSaState.DELETING)
        self._send_encrypted(
            ExchangeType.INFORMATIONAL, delete_ike_sa(), self._on_delete_response, now
        )

    def _on_delete_response(
        self, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        self._finish(self._close_reason or "closed", self._close_error)

    def _fail(self, error: IkeError, now: float) -> None:
        """A protocol failure ends the attempt; tell the gateway when an IKE SA exists."""
        self.log.warning("%s", error)
        if self.state in (IkeSaState.AUTH_SENT, IkeSaState.ESTABLISHED) and self._sa is not None:
            # RFC 7296 §2.21.2: after a failed AUTH check, Delete the half-open IKE SA.
            # Sent once, not retransmitted: we are leaving either way.
            wire = encrypt_message(
                spi_i=self.spi_i,
                spi_r=self._sa.spi_r,
                exchange_type=ExchangeType.INFORMATIONAL,
                flags=HeaderFlag.INITIATOR,
                message_id=self._next_message_id,
                payloads=delete_ike_sa(),
                cipher=self._sa.outbound,
                rng=self._rng,
            )
            self._next_message_id += 1
            self._out.append((self._frame(wire), self._remote))
        self._finish(str(error), error)

    def _give_up(self) -> None:
        req = self._outstanding
        self._outstanding = None
        if self.state == IkeSaState.DELETING:
            self._finish(self._close_reason or "closed", self._close_error)
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

    def _finish(self, reason: str, error: IkeError | None) -> None:
        for child in self._children:
            self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, reason))
        self._children.clear()
        self._outstanding = None
        self._pending.clear()
        if self.state != IkeSaState.CLOSED:
            self._state.move_to(IkeSaState.CLOSED)
        self._events.append(IkeSaClosed(reason, error))

    def _drop_child(self, spi_out: int, reason: str) -> None:
        for child in list(self._children):
            if child.spi_out == spi_out:
                self._children.remove(child)
                self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, reason))

    # -- sending -------------------------------------------------------------------------------

    def _frame(self, message: bytes) -> bytes:
        return NON_ESP_MARKER + message if self._natt else message

    def _send_request(
        self,
        exchange: int,
        wire: bytes,
        handler: ResponseHandler,
        now: float,
        fragments: tuple[bytes, ...] = (),
    ) -> None:
        framed = self._frame(wire)
        more = tuple(self._frame(f) for f in fragments)
        first = self._settings.retransmit.intervals()[0]
        self._outstanding = _Request(
            self._next_message_id, exchange, framed, handler, now + first, fragments=more
        )
        for datagram in (framed, *more):
            self._out.append((datagram, self._remote))

    def _send_encrypted(
        self, exchange: int, payloads: list[Payload], handler: ResponseHandler, now: float
    ) -> None:
        if self._outstanding is not None:
            self._pending.append((exchange, payloads, handler))
            return
        assert self._sa is not None
        wires = fragment_message(
            spi_i=self.spi_i,
            spi_r=self._sa.spi_r,
            exchange_type=exchange,
            flags=HeaderFlag.INITIATOR,
            message_id=self._next_message_id,
            payloads=payloads,
            cipher=self._sa.outbound,
            rng=self._rng,
            max_size=self._fragment_limit(),
        )
        if len(wires) > 1:
            self.log.info(
                "message %d goes out in %d RFC 7383 fragments", self._next_message_id, len(wires)
            )
        self._send_request(exchange, wires[0], handler, now, tuple(wires[1:]))

    def _fragment_limit(self) -> int | None:
        """The largest IKE message before RFC 7383 fragmentation, or None without it."""
        if not self._fragmentation:
            return None
        return ike_message_limit(
            self._settings.fragment_size,
            ipv6=":" in self._remote.host,
            non_esp_marker=self._natt,
        )

    def _send_pending(self, now: float) -> None:
        if self.state == IkeSaState.CLOSED or self._outstanding is not None:
            return
        if self._pending:
            exchange, payloads, handler = self._pending.popleft()
            self._send_encrypted(exchange, payloads, handler, now)
        elif self._close_reason is not None and self.state == IkeSaState.ESTABLISHED:
            self._start_delete(now)

    def _respond(self, exchange: int, message_id: int, payloads: list[Payload]) -> None:
        assert self._sa is not None
        wire = encrypt_message(
            spi_i=self.spi_i,
            spi_r=self._sa.spi_r,
            exchange_type=exchange,
            flags=HeaderFlag.INITIATOR | HeaderFlag.RESPONSE,
            message_id=message_id,
            payloads=payloads,
            cipher=self._sa.outbound,
            rng=self._rng,
        )
        self._cached_response = (message_id, wire)
        self._out.append((self._frame(wire), self._remote))


def _crypto_failure(exc: CryptoError) -> IkeError:
    """A crypto failure while processing an authentic reply (bad KE value, unknown algorithm)."""
    if isinstance(exc, UnsupportedAlgorithm):
        return NoProposalChosen(f"the gateway chose an algorithm this client lacks: {exc}")
    return InvalidSyntax(f"the gateway's reply is unusable: {exc}")
