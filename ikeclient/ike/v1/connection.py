"""The IKEv1 initiator connection: a sans-I/O state machine (RFC 2409).

Theory of operation
-------------------
``Ikev1Connection`` has the surface of ``Ikev2Connection`` and emits the same events
(``IkeSaEstablished``, ``ConfigReceived``, ``ChildSaEstablished``, ``ChildSaDeleted``,
``IkeSaClosed``), so the runtime drives either without caring which version it is. It never
touches a socket or a clock: datagrams and ``now`` in; datagrams, one deadline and events out.

It owns:

- the ISAKMP SA's cookies, keys and IVs (``protection.Phase1Cipher``: phase 1 chaining and
  one IV per phase 2 Message ID);
- our one outstanding message that expects an answer, resent as the same bytes with
  exponential backoff (IKEv1 has no response flag: the answer is matched by exchange type
  and Message ID);
- the replies to the gateway's last messages, resent when the gateway retransmits one
  (the exact same datagram gets the exact same answer);
- the timers: retransmission, waiting for the gateway's XAUTH / Mode Config push, DPD
  (RFC 3706), phase 2 rekeying before the lifetime ends (make-before-break: the new SA is
  installed, the old one deleted after a grace period), phase 1 renewal and expiry.

Phase 2 rekeyed by the gateway (we are the Quick Mode responder): the new SA pair is
installed when we send HASH(2), as its keys are known then; the gateway (strongSwan)
installs its side when HASH(2) arrives and may send on the new SA before our HASH(3)
check, so waiting for HASH(3) lost packets. HASH(3) then retires the old SA; without
HASH(3) (the gateway gave up) the new SA is deleted again after the retransmission time.

Phase 1 renewal (RFC 2409 §4.1 leaves it to the implementation; make-before-break): at
``ike_lifetime * (1 - rekey_margin - jitter)`` a second ``Ikev1Connection`` in renewal
mode negotiates a new ISAKMP SA (same mode and authentication; XAUTH again when the
gateway asks, Mode Config asking for the virtual IP already in use) without Quick Mode.
Its datagrams are routed by initiator cookie. Once it is up and no exchange is open on the
old SA, this connection adopts its keys: DPD, Quick Modes and Informationals move to the
new SA, the IPsec SAs keep running (RFC 2409 §5.5: they do not depend on the ISAKMP SA
that made them), and the old ISAKMP SA is deleted. The gateway must keep the IPsec SAs
when the old ISAKMP SA goes: strongSwan 5.9 adopts them and the virtual IP into the new
IKE_SA ("detected reauth of existing IKE_SA"). If the gateway deletes our ISAKMP
SA while IPsec SAs are up, we keep them and renew at once; we do not answer a Main Mode
the gateway starts itself (no responder role): our renewal comes first as long as our
lifetime is shorter than the gateway's (strongSwan's default ``rekey_time`` is 4 h, our
``ike_lifetime`` 3 h).

The steps, each in its own module: ``phase1`` (Main or Aggressive Mode), ``transaction``
(XAUTH, then Mode Config pull or push), ``quick_mode`` (the IPsec SAs, either side
initiating), Informational (Delete, DPD, notifies) here. Every state change goes through
``state.Ikev1StateMachine``.

Errors are raised deep and converted once in ``receive_datagram``: a malformed message or
one whose HASH does not verify is dropped and counted; a protocol failure closes the SA and
emits ``IkeSaClosed`` with the typed error. Nothing else escapes.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    AuthenticationFailed,
    CryptoError,
    GatewayUnreachable,
    IkeError,
    InvalidSyntax,
    LocalProtocolError,
    NoProposalChosen,
    PeerNotify,
    RemoteProtocolError,
    TsUnacceptable,
    UnsupportedAlgorithm,
)
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IkeEvent,
    IkeSaClosed,
    IkeSaEstablished,
    TrafficSelectorRange,
    same_endpoint,
)
from ikeclient.ike.v1.enums import (
    ERROR_NOTIFY_MAX,
    CfgType,
    Doi,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    ProtocolId,
    XauthStatus,
)
from ikeclient.ike.v1.message import (
    HEADER_SIZE,
    IsakmpHeader,
    Message,
    find_all,
    find_payload,
    pull_header,
    push_header,
)
from ikeclient.ike.v1.payloads import (
    AttributePayload,
    DeletePayload,
    NotifyPayload,
    Payload,
    pull_payload_chain,
    push_payload_chain,
)
from ikeclient.ike.v1.phase1 import Phase1Exchange, Phase1Sa, random_cookie
from ikeclient.ike.v1.proposals import Phase2Suite, phase2_suites
from ikeclient.ike.v1.quick_mode import (
    QuickModeDone,
    QuickModeInitiator,
    QuickModeResponder,
    check_phase2_hash,
    protected_body,
)
from ikeclient.ike.v1.rules import check_message_rules
from ikeclient.ike.v1.settings import Ikev1Settings
from ikeclient.ike.v1.state import Ikev1State, Ikev1StateMachine
from ikeclient.ike.v1.transaction import (
    acknowledge,
    is_xauth_request,
    modecfg_request,
    parse_config,
    xauth_message,
    xauth_reply,
    xauth_status,
)

logger = logging.getLogger(__name__)

NON_ESP_MARKER = b"\x00\x00\x00\x00"
IKE_PORT = 500
_REPLY_CACHE = 16
_S = Ikev1State
_UNAUTHENTICATED = frozenset({_S.MM_SA_SENT, _S.MM_KE_SENT, _S.MM_AUTH_SENT, _S.AM_SENT})
"""Phase 1 states: what arrives is not authenticated, so its source is checked."""


class _SpiLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the initiator cookie, so parallel SAs can be told apart."""

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        spi = self.extra["spi"] if self.extra else "?"
        return f"[{spi}] {msg}", kwargs


Handler = Callable[[Message, float], None]


@dataclass(slots=True)
class _Request:
    """Our one outstanding message that expects an answer."""

    exchange: int
    message_id: int
    wire: bytes
    handler: Handler
    deadline: float
    what: str
    attempts: int = 0


@dataclass(slots=True)
class DropCounters:
    """Why received datagrams were dropped (silently, but counted)."""

    malformed: int = 0
    integrity: int = 0
    unexpected: int = 0
    not_ours: int = 0
    keepalive: int = 0
    wrong_source: int = 0  # phase 1 messages not from where our message went
    selectors_refused: int = 0  # gateway Quick Modes outside our selectors (RFC 2409 §5.5)
    last_error: IkeError | None = field(default=None, repr=False)


@dataclass(slots=True)
class _Child:
    """An installed IPsec SA pair and its timers."""

    event: ChildSaEstablished
    rekey_at: float | None
    expire_at: float
    delete_at: float | None = None
    replaced: bool = False
    confirm_by: float | None = None  # installed at HASH(2): HASH(3) is due by then


class Ikev1Connection:
    """An IKEv1 initiator for one ISAKMP SA and its IPsec SAs."""

    def __init__(
        self,
        settings: Ikev1Settings,
        *,
        local: Endpoint,
        remote: Endpoint,
        rng: RandomSource,
    ) -> None:
        self._settings = settings
        self._rng = rng
        self._local = local
        self._remote = remote
        self._natt = remote.port != IKE_PORT
        self._state = Ikev1StateMachine()
        self.spi_i = random_cookie(rng)
        self._phase1: Phase1Exchange | None = None
        self._sa: Phase1Sa | None = None
        self._p2_suites: list[Phase2Suite] = phase2_suites(settings.esp_proposals)
        self._outstanding: _Request | None = None
        self._replies: OrderedDict[bytes, bytes] = OrderedDict()
        self._events: deque[IkeEvent] = deque()
        self._out: list[tuple[bytes, Endpoint]] = []
        self._children: list[_Child] = []
        self._responders: dict[int, QuickModeResponder] = {}
        self._config_deadline: float | None = None
        self._modecfg_id = 0
        self._dpd_at: float | None = None
        self._dpd_seq = int.from_bytes(rng.random_bytes(2), "big")
        self._dpd_pending: int | None = None
        self._dpd_tries = 0
        self._ike_expire_at: float | None = None
        self._virtual_ip: TrafficSelectorRange | None = None
        self._xauth_done = False
        self._established_sent = False
        self._quick: QuickModeInitiator | None = None
        self._pending_iv = b""
        self._last_datagram: bytes | None = None
        self._renewing = False  # this instance renews another one's ISAKMP SA
        self._renewal: Ikev1Connection | None = None
        self._renew_at: float | None = None
        self._renew_failures = 0
        self._sa_gone = False  # the gateway deleted the ISAKMP SA; IPsec SAs still up
        self.renewals = 0
        self.drops = DropCounters()
        self.progress: list[tuple[str, str]] = []
        self.log = _SpiLogger(logger, {"spi": self.spi_i.hex()})

    # -- properties ---------------------------------------------------------------------

    @property
    def state(self) -> Ikev1State:
        return self._state.state

    @property
    def remote(self) -> Endpoint:
        """Where IKE messages go now (port 4500 after the NAT-T float)."""
        return self._remote

    @property
    def udp_encapsulation(self) -> bool:
        return self._natt

    @property
    def local_behind_nat(self) -> bool:
        return self._sa is not None and self._sa.local_behind_nat

    @property
    def children(self) -> tuple[ChildSaEstablished, ...]:
        return tuple(c.event for c in self._children)

    @property
    def ike_sa(self) -> None:
        """No IKEv2 SA here (the key log writes IKEv2 SAs only)."""
        return None

    @property
    def phase1_sa(self) -> Phase1Sa | None:
        return self._sa

    # -- commands -----------------------------------------------------------------------

    def connect(self, now: float, *, wall_time: float | None = None) -> None:
        """Start phase 1 (Main Mode or Aggressive Mode).

        ``wall_time`` is taken for the same surface as ``Ikev2Connection.connect``; IKEv1
        here authenticates with pre-shared keys only, which need no time of day.
        """
        if self.state != _S.INITIAL:
            raise LocalProtocolError("connect() was already called")
        p1 = Phase1Exchange(self._settings, self._rng, self.spi_i, self._local, self._remote)
        self._phase1 = p1
        if p1.aggressive:
            self._state.move_to(_S.AM_SENT)
            self._send_plain(
                ExchangeType.AGGRESSIVE, p1.first_message(), self._on_am_response, now,
                "Aggressive Mode message 1",
            )  # fmt: skip
        else:
            self._state.move_to(_S.MM_SA_SENT)
            self._send_plain(
                ExchangeType.IDENTITY_PROTECTION, p1.first_message(), self._on_mm_sa, now,
                "Main Mode message 1",
            )  # fmt: skip

    def close(self, now: float, reason: str = "closed by user") -> None:
        """Delete the IPsec SAs, then the ISAKMP SA (RFC 2408 §4.8); IKEv1 Deletes get no answer."""
        if self.state == _S.CLOSED:
            return
        self._send_deletes()
        self._finish(reason, None)

    def _send_deletes(self) -> None:
        sa = self._sa
        if sa is None or self._sa_gone:
            return
        spis = [c.event.spi_in.to_bytes(4, "big") for c in self._children]
        if spis:
            self._send_informational([DeletePayload(Doi.IPSEC, ProtocolId.IPSEC_ESP, tuple(spis))])
        self._send_informational(
            [DeletePayload(Doi.IPSEC, ProtocolId.ISAKMP, (sa.cky_i + sa.cky_r,))]
        )

    def rekey_child_sa(self, spi_in: int, now: float) -> None:
        """Renew the IPsec SA with inbound SPI ``spi_in`` now (a new Quick Mode)."""
        for child in self._children:
            if child.event.spi_in == spi_in and not child.replaced:
                child.rekey_at = now
        self.handle_timer(now)

    # -- I/O surface --------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Endpoint]]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline: retransmit, config wait, DPD, rekey, expiry."""
        if self.state == _S.CLOSED:
            return None
        times = [
            self._outstanding.deadline if self._outstanding is not None else None,
            self._config_deadline,
            self._dpd_at,
            self._ike_expire_at,
            self._renew_at,
            self._renewal.get_timer() if self._renewal is not None else None,
        ]
        for c in self._children:
            times += [c.rekey_at if not c.replaced else None, c.expire_at, c.delete_at]
            times.append(c.confirm_by)
        pending = [t for t in times if t is not None]
        return min(pending) if pending else None

    def handle_timer(self, now: float) -> None:
        if self.state == _S.CLOSED:
            return
        if self._renewal is not None:
            self._renewal.handle_timer(now)
            self._pump_renewal(now)
        req = self._outstanding
        if req is not None and now >= req.deadline:
            intervals = self._settings.retransmit.intervals()
            req.attempts += 1
            if req.attempts >= len(intervals):
                self._give_up(req)
                return
            req.deadline = now + intervals[req.attempts]
            self.log.debug("retransmitting %s (try %d)", req.what, req.attempts + 1)
            self._out.append((req.wire, self._remote))
        if self._config_deadline is not None and now >= self._config_deadline:
            self._config_deadline = None
            what = "XAUTH request" if self.state == _S.XAUTH else "Mode Config push"
            self._fail(GatewayUnreachable(f"the gateway sent no {what} after phase 1"), now)
            return
        if self._ike_expire_at is not None and now >= self._ike_expire_at:
            self._ike_expire_at = None
            self._send_deletes()
            self._finish("the ISAKMP SA reached the end of its lifetime", None)
            return
        if self._renew_at is not None and now >= self._renew_at:
            if self.state == _S.ESTABLISHED and self._renewal is None:
                self._renew_at = None
                self._start_renewal(now)
            else:  # an exchange is open: try again shortly
                self._renew_at = now + 1.0
        self._dpd_timer(now)
        for child in list(self._children):
            if child.delete_at is not None and now >= child.delete_at:
                self._delete_child(child, "replaced by a rekeyed SA", send=True)
            elif child.confirm_by is not None and now >= child.confirm_by:
                self._unconfirmed(child, now)
            elif now >= child.expire_at:
                self._delete_child(child, "lifetime expired", send=True)
            elif (
                child.rekey_at is not None
                and not child.replaced
                and now >= child.rekey_at
                and self._outstanding is None
                and self.state == _S.ESTABLISHED
                and not self._sa_gone
            ):
                child.rekey_at = None
                self._start_quick_mode(now, rekey=child)
        self._pump_renewal(now)

    def next_event(self) -> IkeEvent | None:
        return self._events.popleft() if self._events else None

    def receive_datagram(self, data: bytes, src: Endpoint, now: float) -> None:
        """Process one UDP payload from the gateway (with or without the non-ESP marker)."""
        if self.state == _S.CLOSED:
            return
        sub = self._renewal
        if sub is not None and _initiator_cookie(data) == sub.spi_i:
            sub.receive_datagram(data, src, now)
            self._pump_renewal(now)
            return
        try:
            self._receive(data, src, now)
        except InvalidSyntax as exc:
            self.drops.malformed += 1
            self.drops.last_error = exc
            self.log.debug("dropped a malformed message: %s", exc)
        except UnsupportedAlgorithm as exc:
            self._fail(_unsupported(exc), now)
        except CryptoError as exc:
            self.drops.integrity += 1
            self.log.debug("dropped a message that failed its check: %s", exc)
        except RemoteProtocolError as exc:
            self._fail(exc, now)
        self._pump_renewal(now)

    # -- receiving ----------------------------------------------------------------------

    def _receive(self, data: bytes, src: Endpoint, now: float) -> None:
        if data == b"\xff":
            self.drops.keepalive += 1
            return
        if data[:4] == NON_ESP_MARKER:
            data = data[4:]
        elif src.port != IKE_PORT and self._natt:
            self.drops.not_ours += 1
            return
        header = pull_header(data)
        if header.cky_i != self.spi_i:
            self.drops.not_ours += 1
            return
        sa = self._sa
        if sa is not None and header.cky_r != sa.cky_r:
            self.drops.not_ours += 1
            return
        cached = self._replies.get(data)
        if cached is not None:
            self._out.append((cached, self._remote))
            return
        if self.state in _UNAUTHENTICATED and not same_endpoint(src, self._remote):
            # Phase 1 answers (and notifies) carry no authentication yet: only the address
            # and port our message went to count (port 4500 after the float, RFC 3947 §4).
            self.drops.wrong_source += 1
            self.log.debug("dropped a phase 1 message from %s:%d", src.host, src.port)
            return
        message, next_iv = self._open(header, data)
        check_message_rules(header.exchange_type, message.payloads)
        self._last_datagram = data
        exchange = header.exchange_type
        if exchange in (ExchangeType.IDENTITY_PROTECTION, ExchangeType.AGGRESSIVE):
            self._receive_phase1(message, next_iv, now)
        elif exchange == ExchangeType.INFORMATIONAL:
            self._receive_informational(message, next_iv, now)
        elif exchange == ExchangeType.TRANSACTION:
            self._receive_protected(message, next_iv)
            self._receive_transaction(message, now)
        elif exchange == ExchangeType.QUICK:
            self._receive_quick(message, next_iv, now)
        else:
            self.drops.unexpected += 1

    def _open(self, header: IsakmpHeader, data: bytes) -> tuple[Message, bytes | None]:
        body = data[HEADER_SIZE:]
        next_iv = None
        if header.encrypted:
            sa = self._sa
            if sa is None:
                raise InvalidSyntax("an encrypted message before the keys exist")
            opened = sa.cipher.decrypt(header.message_id, body)
            body, next_iv = opened.plaintext, opened.next_iv
        payloads, spans = pull_payload_chain(
            body, header.next_payload, allow_padding=next_iv is not None
        )
        end = spans[-1][1] if spans else 0
        return Message(header, payloads, body[:end], tuple(spans)), next_iv

    def _receive_protected(self, message: Message, next_iv: bytes | None) -> None:
        """Informational and Transaction: encrypted, HASH(1) verified, then the IV moves."""
        sa = self._sa
        if sa is None or next_iv is None:
            raise InvalidSyntax("an unprotected message where a protected one is due")
        check_phase2_hash(sa, message)
        sa.cipher.commit(message.header.message_id, next_iv)

    def _expect(self, message: Message) -> _Request | None:
        req = self._outstanding
        h = message.header
        if req is None or req.exchange != h.exchange_type or req.message_id != h.message_id:
            return None
        return req

    def _answered(self, req: _Request) -> None:
        if self._outstanding is req:
            self._outstanding = None

    # -- phase 1 ------------------------------------------------------------------------

    def _receive_phase1(self, message: Message, next_iv: bytes | None, now: float) -> None:
        req = self._expect(message)
        if req is None or message.header.message_id != 0:
            self.drops.unexpected += 1
            return
        if next_iv is not None and self._sa is not None:
            # Before the handler: what it sends next chains from this message (Appendix B).
            self._sa.cipher.commit(0, next_iv)
        req.handler(message, now)

    def _on_mm_sa(self, message: Message, now: float) -> None:
        p1 = self._phase1
        if p1 is None or self.state != _S.MM_SA_SENT:
            raise InvalidSyntax("Main Mode message 2 out of order")
        reply = p1.mm_process_sa(message)
        self._answered(self._outstanding)  # type: ignore[arg-type]
        self._state.move_to(_S.MM_KE_SENT)
        self._send_plain(
            ExchangeType.IDENTITY_PROTECTION, reply, self._on_mm_ke, now, "Main Mode message 3"
        )

    def _on_mm_ke(self, message: Message, now: float) -> None:
        p1 = self._phase1
        if p1 is None or self.state != _S.MM_KE_SENT:
            raise InvalidSyntax("Main Mode message 4 out of order")
        if message.header.encrypted:
            raise InvalidSyntax("Main Mode message 4 must not be encrypted")
        sa, reply = p1.mm_process_ke(message)
        self._sa = sa
        self._answered(self._outstanding)  # type: ignore[arg-type]
        self._float(sa)
        self._state.move_to(_S.MM_AUTH_SENT)
        self._progress(
            "phase 1",
            f"Main Mode {sa.suite}, {'behind NAT' if sa.local_behind_nat else 'no NAT'}, "
            f"to {self._remote.port}",
        )
        self._send_encrypted(
            ExchangeType.IDENTITY_PROTECTION, 0, reply, self._on_mm_auth, now,
            "Main Mode message 5",
        )  # fmt: skip

    def _on_mm_auth(self, message: Message, now: float) -> None:
        p1, sa = self._phase1, self._sa
        if p1 is None or sa is None or self.state != _S.MM_AUTH_SENT:
            raise InvalidSyntax("Main Mode message 6 out of order")
        if not message.header.encrypted:
            self._phase1_notify(message)
            raise InvalidSyntax("Main Mode message 6 must be encrypted")
        sa.remote_identity = p1.mm_process_auth(message, sa)
        self._answered(self._outstanding)  # type: ignore[arg-type]
        self._phase1_done(now)

    def _on_am_response(self, message: Message, now: float) -> None:
        p1 = self._phase1
        if p1 is None or self.state != _S.AM_SENT:
            raise InvalidSyntax("Aggressive Mode message 2 out of order")
        self._phase1_notify(message)
        sa, reply = p1.am_process(message)
        self._sa = sa
        self._answered(self._outstanding)  # type: ignore[arg-type]
        self._float(sa)
        self._progress(
            "phase 1",
            f"Aggressive Mode {sa.suite}, "
            f"{'behind NAT' if sa.local_behind_nat else 'no NAT'}, to {self._remote.port}",
        )
        # Message 3 gets no answer: send it once, and again from the reply cache whenever
        # the gateway repeats message 2.
        wire = self._encode(ExchangeType.AGGRESSIVE, 0, reply, encrypt=False)
        self._reply(wire)
        self._phase1_done(now)

    def _phase1_notify(self, message: Message) -> None:
        """An error notify where a phase 1 answer was due: the gateway refused us."""
        for n in find_all(message.payloads, NotifyPayload):
            if 0 < n.notify_type <= ERROR_NOTIFY_MAX:
                raise _notify_error(n.notify_type, self.state)

    def _float(self, sa: Phase1Sa) -> None:
        nat = sa.local_behind_nat or sa.remote_behind_nat
        if sa.nat_t and (nat or self._settings.force_encapsulation) and not self._natt:
            self._natt = True
            self._remote = Endpoint(self._remote.host, self._settings.nat_t_port)

    def _phase1_done(self, now: float) -> None:
        sa = self._sa
        if sa is None:  # pragma: no cover - state machine
            return
        lifetime = min(sa.lifetime or self._settings.ike_lifetime, self._settings.ike_lifetime)
        self._ike_expire_at = now + lifetime
        margin = self._settings.rekey_margin
        jitter = int.from_bytes(self._rng.random_bytes(1), "big") / 255 * margin / 2
        self._renew_at = now + lifetime * (1 - margin - jitter)
        self.log.info("phase 1 done with %s: %s", sa.remote_identity, sa.suite)
        if self._settings.xauth_user:
            self._state.move_to(_S.XAUTH)
            self._config_deadline = now + self._settings.config_timeout
            return
        self._authenticated(now)

    def _authenticated(self, now: float) -> None:
        """Phase 1 (and XAUTH) done: say so, then Mode Config or Quick Mode."""
        sa = self._sa
        if sa is None:  # pragma: no cover
            return
        self._established_sent = True
        self._events.append(
            IkeSaEstablished(
                spi_i=sa.cky_i,
                spi_r=sa.cky_r,
                algorithms=str(sa.suite),
                local=self._local,
                remote=self._remote,
                local_behind_nat=sa.local_behind_nat,
                remote_behind_nat=sa.remote_behind_nat,
                udp_encapsulation=self._natt,
                remote_identity=str(sa.remote_identity),
            )
        )
        if self._settings.request_virtual_ip:
            self._state.move_to(_S.MODECFG)
            if self._settings.modecfg == "pull":
                self._modecfg_id = int.from_bytes(self._rng.random_bytes(2), "big")
                vip = self._virtual_ip.start if self._virtual_ip is not None else None
                asked = vip if isinstance(vip, ipaddress.IPv4Address) else None
                self._send_protected(
                    ExchangeType.TRANSACTION,
                    [modecfg_request(self._modecfg_id, asked)],
                    self._on_modecfg_reply,
                    now,
                    "Mode Config request",
                )
            else:
                self._config_deadline = now + self._settings.config_timeout
            return
        self._phase1_complete(now)

    def _phase1_complete(self, now: float) -> None:
        """Phase 1, XAUTH and Mode Config done: the first Quick Mode, or a renewal is ready."""
        if self._renewing:
            self._state.move_to(_S.ESTABLISHED)
            return
        self._state.move_to(_S.QUICK)
        self._start_quick_mode(now)

    # -- phase 1 renewal ----------------------------------------------------------------

    def _start_renewal(self, now: float) -> None:
        """Negotiate a new ISAKMP SA next to this one (make-before-break)."""
        sub = Ikev1Connection(self._settings, local=self._local, remote=self._remote, rng=self._rng)
        sub._renewing = True
        sub._virtual_ip = self._virtual_ip  # Mode Config asks for the same address
        sub._natt = self._natt
        self._renewal = sub
        self.log.info(
            "renewing the ISAKMP SA (new initiator cookie %s)%s",
            sub.spi_i.hex(),
            " after the gateway deleted it" if self._sa_gone else "",
        )
        sub.connect(now)
        self._pump_renewal(now)

    def _isakmp_sa_gone(self, now: float) -> None:
        """The gateway deleted our ISAKMP SA but IPsec SAs are up: keep them, renew phase 1.

        RFC 2409 §5.5 keeps IPsec SAs independent of the ISAKMP SA that negotiated them (a
        gateway that renewed phase 1 itself deletes the old ISAKMP SA). Nothing can be sent
        until the new one is up: no DPD, no Quick Mode.
        """
        self.log.info("the gateway deleted the ISAKMP SA; the IPsec SAs stay up")
        self._sa_gone = True
        self._dpd_at = None
        self._dpd_pending = None
        req, self._outstanding = self._outstanding, None
        if req is not None and self._quick is not None and req.message_id == self._quick.message_id:
            for child in self._children:  # that rekey goes again on the new ISAKMP SA
                if child.event.spi_in == self._quick.rekeyed_spi_in:
                    child.rekey_at = now
        self._responders.clear()
        if self._renewal is None:
            self._renew_at = None
            self._start_renewal(now)

    def _pump_renewal(self, now: float) -> None:
        """Collect the renewal's datagrams and events; adopt it once it is ready."""
        sub = self._renewal
        if sub is None:
            return
        self._out += sub.datagrams_to_send(now)
        while sub.progress:
            phase, detail = sub.progress.pop(0)
            self._progress(phase, f"renewal: {detail}")
        while (event := sub.next_event()) is not None:
            if isinstance(event, IkeSaClosed):
                self._renewal_failed(event.reason, event.error, now)
                return
            if isinstance(event, ConfigReceived):
                self._check_renewed_config(sub, event, now)
                if self._renewal is None:
                    return
        if sub.state == _S.ESTABLISHED and self._outstanding is None and not self._responders:
            self._adopt_renewal(sub, now)

    def _check_renewed_config(
        self, sub: Ikev1Connection, config: ConfigReceived, now: float
    ) -> None:
        """The IPsec SAs carry the virtual IP: a renewal that got another one is no use."""
        old = self._virtual_ip.start if self._virtual_ip is not None else None
        if old is None or old in config.addresses:
            return
        got = ", ".join(map(str, config.addresses)) or "none"
        sub.close(now, "the renewed ISAKMP SA got another virtual IP")
        self._out += sub.datagrams_to_send(now)
        self._renewal_failed(
            f"the gateway gave the renewed ISAKMP SA virtual IP {got}, not {old}", None, now
        )

    def _renewal_failed(self, reason: str, error: IkeError | None, now: float) -> None:
        self._renewal = None
        self._renew_failures += 1
        self.log.warning("phase 1 renewal failed: %s", reason)
        if self._sa_gone:
            self._finish(
                f"the gateway deleted the ISAKMP SA and renewing it failed: {reason}", error
            )
            return
        expire = self._ike_expire_at
        retry = now + max(self._settings.retransmit.timeout, 5.0)
        if self._renew_failures < 3 and (expire is None or retry < expire):
            self._renew_at = retry

    def _adopt_renewal(self, sub: Ikev1Connection, now: float) -> None:
        """Move to the new ISAKMP SA, then delete the old one; the IPsec SAs stay."""
        old = self._sa
        if old is not None:
            self._send_informational(
                [DeletePayload(Doi.IPSEC, ProtocolId.ISAKMP, (old.cky_i + old.cky_r,))]
            )
        new = sub._sa
        if new is None:  # pragma: no cover - ESTABLISHED implies keys
            return
        self._renewal = None
        self._renew_failures = 0
        self._sa = new
        self._sa_gone = False
        self.spi_i = sub.spi_i
        self._phase1 = sub._phase1
        self._remote, self._natt = sub._remote, sub._natt
        self._replies = sub._replies
        self._last_datagram = None
        self._ike_expire_at, self._renew_at = sub._ike_expire_at, sub._renew_at
        self._dpd_at = self._dpd_pending = None
        self._dpd_tries = 0
        self._quick_established(now)
        self.renewals += 1
        self.log = _SpiLogger(logger, {"spi": self.spi_i.hex()})
        if sub._established_sent:  # the new SA, for the status (the runtime needs nothing)
            self._events.append(
                IkeSaEstablished(
                    spi_i=new.cky_i, spi_r=new.cky_r, algorithms=str(new.suite),
                    local=self._local, remote=self._remote,
                    local_behind_nat=new.local_behind_nat,
                    remote_behind_nat=new.remote_behind_nat,
                    udp_encapsulation=self._natt, remote_identity=str(new.remote_identity),
                )
            )  # fmt: skip
        old_name = f"{old.cky_i.hex()}/{old.cky_r.hex()}" if old is not None else "none"
        self.log.info("phase 1 renewed: ISAKMP SA %s replaces %s", new.cky_r.hex(), old_name)
        self._progress(
            "phase 1",
            f"renewed: ISAKMP SA {new.cky_i.hex()}/{new.cky_r.hex()} replaces {old_name}",
        )

    # -- XAUTH and Mode Config (Transaction) ---------------------------------------------

    def _receive_transaction(self, message: Message, now: float) -> None:
        attr = find_payload(message.payloads, AttributePayload)
        if attr is None:
            raise InvalidSyntax("a Transaction message without an Attribute payload")
        req = self._expect(message)
        if req is not None:
            req.handler(message, now)
            return
        mid = message.header.message_id
        if is_xauth_request(attr):
            user, password = self._settings.xauth_user, self._settings.xauth_password
            if user is None or password is None:
                raise AuthenticationFailed(
                    "the gateway asks for XAUTH, but the profile has no xauth_user"
                )
            self._config_deadline = now + self._settings.config_timeout
            self._reply_protected(
                ExchangeType.TRANSACTION, mid, [xauth_reply(attr, user, password)]
            )
            return
        if attr.cfg_type == CfgType.SET:
            self._reply_protected(ExchangeType.TRANSACTION, mid, [acknowledge(attr)])
            status = xauth_status(attr)
            if status is not None:
                self._xauth_result(status, attr, now)
                return
            if self.state == _S.MODECFG or (self.state == _S.XAUTH and self._xauth_done):
                self._config_received(attr, now)
            return
        self.drops.unexpected += 1

    def _xauth_result(self, status: int, attr: AttributePayload, now: float) -> None:
        if self.state != _S.XAUTH:
            return
        self._config_deadline = None
        if status != XauthStatus.OK:
            text = xauth_message(attr)
            raise AuthenticationFailed(
                "the gateway rejected the XAUTH user name or password"
                + (f" ({text})" if text else "")
            )
        self._xauth_done = True
        self.log.info("XAUTH succeeded for %s", self._settings.xauth_user)
        self._progress("XAUTH", f"authenticated as {self._settings.xauth_user}")
        self._authenticated(now)

    def _on_modecfg_reply(self, message: Message, now: float) -> None:
        attr = find_payload(message.payloads, AttributePayload)
        if attr is None or attr.cfg_type != CfgType.REPLY:
            self.drops.unexpected += 1
            return
        self._answered(self._outstanding)  # type: ignore[arg-type]
        self._config_received(attr, now)

    def _config_received(self, attr: AttributePayload, now: float) -> None:
        if self.state != _S.MODECFG:
            return
        self._config_deadline = None
        config = parse_config(attr.attributes)
        self._events.append(config)
        v4 = [a for a in config.addresses if a.version == 4]
        if v4:
            self._virtual_ip = TrafficSelectorRange(v4[0], v4[0])
        self._phase1_complete(now)

    # -- Quick Mode ---------------------------------------------------------------------

    def _local_ts(self) -> TrafficSelectorRange:
        if self._virtual_ip is not None:
            return self._virtual_ip
        ip = ipaddress.ip_address(self._local.host)
        return TrafficSelectorRange(ip, ip)

    def _start_quick_mode(self, now: float, rekey: _Child | None = None) -> None:
        sa = self._sa
        if sa is None:  # pragma: no cover
            return
        if rekey is not None:
            local_ts, remote_ts = rekey.event.local_ts[0], rekey.event.remote_ts[0]
        else:
            local_ts, remote_ts = self._local_ts(), self._settings.remote_ts[0]
        qm = QuickModeInitiator(
            sa=sa, suites=self._p2_suites, rng=self._rng, message_id=self._new_message_id(),
            local_ts=local_ts, remote_ts=remote_ts, lifetime=self._settings.child_lifetime,
            udp=self._natt, name=self._settings.child_name, local=self._local,
            remote=self._remote, rekeyed_spi_in=rekey.event.spi_in if rekey else None,
        )  # fmt: skip
        self._quick = qm
        wire = self._encode_protected(ExchangeType.QUICK, qm.message_id, qm.build_request())
        self._send_request(
            ExchangeType.QUICK, qm.message_id, wire, self._on_quick_response, now,
            "Quick Mode message 1",
        )  # fmt: skip

    def _receive_quick(self, message: Message, next_iv: bytes | None, now: float) -> None:
        sa = self._sa
        if sa is None or next_iv is None:
            raise InvalidSyntax("an unprotected Quick Mode message")
        mid = message.header.message_id
        req = self._expect(message)
        if req is not None:
            self._pending_iv = next_iv
            req.handler(message, now)
            sa.cipher.forget(mid)
            return
        responder = self._responders.get(mid)
        if responder is not None:
            responder.check_final(message)
            sa.cipher.commit(mid, next_iv)
            del self._responders[mid]
            sa.cipher.forget(mid)
            self._confirm(int.from_bytes(responder.spi, "big"), now)
            return
        if self.state != _S.ESTABLISHED:
            self.drops.unexpected += 1
            return
        try:
            responder = QuickModeResponder(
                sa=sa, suites=self._p2_suites, rng=self._rng, message=message,
                lifetime=self._settings.child_lifetime, udp=self._natt,
                name=self._settings.child_name, local=self._local, remote=self._remote,
                allowed_local=self._local_ts(), allowed_remote=self._settings.remote_ts,
            )  # fmt: skip
        except TsUnacceptable as exc:
            self._refuse_quick_mode(exc)
            return
        sa.cipher.commit(mid, next_iv)
        self._responders[mid] = responder
        self._reply(self._encode_protected(ExchangeType.QUICK, mid, responder.build_response()))
        # Install now (make-before-break for the responder): the gateway sends on the new SA
        # as soon as it has our HASH(2), possibly before its HASH(3) reaches us.
        rekeyed = self._rekey_candidate(responder.local_ts, responder.remote_ts)
        confirm_by = now + sum(self._settings.retransmit.intervals())
        self._install(responder.done(rekeyed), now, confirm_by=confirm_by)

    def _refuse_quick_mode(self, exc: TsUnacceptable) -> None:
        """Refuse the gateway's Quick Mode: its selectors exceed ours (RFC 2409 §5.5).

        Nothing is installed and no HASH(2) goes out, so the gateway cannot complete the
        exchange; it is told once with INVALID-ID-INFORMATION (RFC 2408 §3.14.1) in an
        Informational, which is also the answer to its retransmissions (reply cache). The
        ISAKMP SA and the IPsec SAs that exist stay up: the message was authentic (HASH(1)
        verified), only its proposal is refused.
        """
        sa = self._sa
        self.drops.selectors_refused += 1
        self.log.warning("refused the gateway's Quick Mode: %s", exc)
        if sa is None or self._sa_gone:  # pragma: no cover - checked by the caller
            return
        notify = NotifyPayload(Doi.IPSEC, ProtocolId.ISAKMP, exc.notify, sa.cky_i + sa.cky_r)
        mid = self._new_message_id()
        wire = self._encode_protected(
            ExchangeType.INFORMATIONAL, mid, protected_body(sa, mid, [notify])
        )
        sa.cipher.forget(mid)
        self._reply(wire)

    def _on_quick_response(self, message: Message, now: float) -> None:
        sa = self._sa
        qm = self._quick
        if sa is None or qm is None:  # pragma: no cover
            return
        done, final = qm.process_response(message)
        self._answered(self._outstanding)  # type: ignore[arg-type]
        # HASH(3) ends the exchange: no answer comes, the gateway repeats message 2 if lost.
        sa.cipher.commit(qm.message_id, self._pending_iv)
        self._reply(self._encode_protected(ExchangeType.QUICK, qm.message_id, final))
        self._install(done, now)

    def _rekey_candidate(
        self,
        local_ts: tuple[TrafficSelectorRange, ...],
        remote_ts: tuple[TrafficSelectorRange, ...],
    ) -> int | None:
        for child in self._children:
            if not child.replaced and child.event.remote_ts == remote_ts:
                return child.event.spi_in
        return None

    def _install(self, done: QuickModeDone, now: float, *, confirm_by: float | None = None) -> None:
        child = done.child
        margin = self._settings.rekey_margin
        jitter = int.from_bytes(self._rng.random_bytes(1), "big") / 255 * margin / 2
        rekey_at = now + done.lifetime * (1 - margin - jitter)
        entry = _Child(child, rekey_at, now + done.lifetime, confirm_by=confirm_by)
        self._children.append(entry)
        self._events.append(child)
        self.log.info(
            "IPsec SA %s established: SPIs in %08x out %08x, %s, lifetime %d s",
            child.name, child.spi_in, child.spi_out, child.algorithms, done.lifetime,
        )  # fmt: skip
        if confirm_by is None:
            self._retire_rekeyed(child, now)
        else:
            for old in self._children:  # no rekey of our own while the gateway's completes
                if old.event.spi_in == child.rekeyed_spi_in and not old.replaced:
                    old.rekey_at = None
        if self.state == _S.QUICK:
            self._state.move_to(_S.ESTABLISHED)
            self._quick_established(now)

    def _retire_rekeyed(self, child: ChildSaEstablished, now: float) -> None:
        """The SA ``child`` replaces goes after a grace period (make-before-break)."""
        if child.rekeyed_spi_in is None:
            return
        for old in self._children:
            if old.event.spi_in == child.rekeyed_spi_in and not old.replaced:
                old.replaced = True
                old.delete_at = now + self._settings.delete_grace

    def _confirm(self, spi_in: int, now: float) -> None:
        """HASH(3) of the gateway's Quick Mode arrived: the SA installed at HASH(2) stays."""
        for child in self._children:
            if child.event.spi_in == spi_in and child.confirm_by is not None:
                child.confirm_by = None
                self._retire_rekeyed(child.event, now)

    def _unconfirmed(self, child: _Child, now: float) -> None:
        """No HASH(3) came for an SA installed at HASH(2): the gateway gave up; undo it."""
        self.log.warning(
            "no HASH(3) for IPsec SA %08x from the gateway's Quick Mode: deleting it",
            child.event.spi_in,
        )
        for mid, responder in list(self._responders.items()):
            if int.from_bytes(responder.spi, "big") == child.event.spi_in:
                del self._responders[mid]
        for old in self._children:
            if old.event.spi_in == child.event.rekeyed_spi_in and not old.replaced:
                old.rekey_at = now
        self._delete_child(child, "the gateway's Quick Mode was not completed", send=True)

    def _quick_established(self, now: float) -> None:
        sa = self._sa
        if sa is not None and sa.peer_dpd and self._settings.dpd_delay > 0:
            self._dpd_at = now + self._settings.dpd_delay

    def _delete_child(self, child: _Child, reason: str, *, send: bool) -> None:
        if child not in self._children:
            return
        self._children.remove(child)
        if send and self._sa is not None:
            spi = child.event.spi_in.to_bytes(4, "big")
            self._send_informational([DeletePayload(Doi.IPSEC, ProtocolId.IPSEC_ESP, (spi,))])
        self._events.append(ChildSaDeleted(child.event.spi_in, child.event.spi_out, reason))

    # -- Informational ------------------------------------------------------------------

    def _receive_informational(self, message: Message, next_iv: bytes | None, now: float) -> None:
        if next_iv is None:
            # Unprotected: only believable as the gateway refusing our phase 1.
            if self.state in (_S.MM_SA_SENT, _S.MM_KE_SENT, _S.MM_AUTH_SENT, _S.AM_SENT):
                self._phase1_notify(message)
            self.drops.unexpected += 1
            return
        self._receive_protected(message, next_iv)
        self._sa.cipher.forget(message.header.message_id)  # type: ignore[union-attr]
        for p in message.payloads:
            if isinstance(p, DeletePayload):
                self._peer_delete(p, now)
            elif isinstance(p, NotifyPayload):
                self._peer_notify(p, now)

    def _peer_delete(self, p: DeletePayload, now: float) -> None:
        if p.protocol == ProtocolId.ISAKMP:
            if self._children and self.state == _S.ESTABLISHED and not self._renewing:
                self._isakmp_sa_gone(now)
                return
            self._finish("deleted by the gateway", None)
            return
        if p.protocol != ProtocolId.IPSEC_ESP:
            return
        for spi in p.spis:
            spi_out = int.from_bytes(spi, "big")
            for child in list(self._children):
                if child.event.spi_out == spi_out:
                    self._delete_child(child, "deleted by the gateway", send=False)

    def _peer_notify(self, n: NotifyPayload, now: float) -> None:
        if n.notify_type == NotifyType.R_U_THERE:
            sa = self._sa
            if sa is not None:
                ack = NotifyPayload(
                    Doi.IPSEC, ProtocolId.ISAKMP, NotifyType.R_U_THERE_ACK,
                    sa.cky_i + sa.cky_r, n.data,
                )  # fmt: skip
                self._send_informational([ack])
        elif n.notify_type == NotifyType.R_U_THERE_ACK:
            seq = int.from_bytes(n.data, "big") if len(n.data) == 4 else None
            if seq is not None and seq == self._dpd_pending:
                self._dpd_pending = None
                self._dpd_tries = 0
                self._dpd_at = now + self._settings.dpd_delay
        elif (
            0 < n.notify_type <= ERROR_NOTIFY_MAX
            and self._outstanding is not None
            and self.state != _S.ESTABLISHED
        ):
            raise _notify_error(n.notify_type, self.state)

    def _dpd_timer(self, now: float) -> None:
        if self._dpd_at is None or now < self._dpd_at or self._sa is None or self._sa_gone:
            return
        intervals = self._settings.retransmit.intervals()
        if self._dpd_pending is not None:
            self._dpd_tries += 1
            if self._dpd_tries >= len(intervals):
                self._fail(
                    GatewayUnreachable("the gateway stopped answering DPD (RFC 3706 R-U-THERE)"),
                    now,
                )
                return
        self._dpd_seq = (self._dpd_seq + 1) & 0xFFFFFFFF
        self._dpd_pending = self._dpd_seq
        sa = self._sa
        self._send_informational(
            [
                NotifyPayload(
                    Doi.IPSEC, ProtocolId.ISAKMP, NotifyType.R_U_THERE, sa.cky_i + sa.cky_r,
                    self._dpd_seq.to_bytes(4, "big"),
                )
            ]
        )  # fmt: skip
        self._dpd_at = now + intervals[min(self._dpd_tries, len(intervals) - 1)]

    # -- failing and closing ------------------------------------------------------------

    def _fail(self, error: IkeError, now: float) -> None:
        """A protocol failure ends the attempt: Delete what exists, say why."""
        self.log.warning("%s", error)
        if self.state != _S.CLOSED:
            self._send_deletes()
        self._finish(str(error), error)

    def _give_up(self, req: _Request) -> None:
        self._outstanding = None
        if self.state == _S.MM_AUTH_SENT:
            error: IkeError = AuthenticationFailed(
                "the gateway did not answer our authentication (Main Mode message 5): "
                "wrong pre-shared key?"
            )
        else:
            tries = len(self._settings.retransmit.intervals())
            error = GatewayUnreachable(
                f"gateway {self._remote.host} port {self._remote.port} did not answer "
                f"the {req.what} (gave up after {tries} tries)"
            )
        self._fail(error, 0.0)

    def _finish(self, reason: str, error: IkeError | None) -> None:
        if self.state == _S.CLOSED:
            return
        sub, self._renewal = self._renewal, None
        if sub is not None:  # a renewal under way goes too (its Deletes included)
            sub.close(0.0, reason)
            self._out += sub.datagrams_to_send(0.0)
        self._renew_at = None
        for child in self._children:
            self._events.append(ChildSaDeleted(child.event.spi_in, child.event.spi_out, reason))
        self._children.clear()
        self._outstanding = None
        self._config_deadline = self._dpd_at = self._ike_expire_at = None
        self._state.move_to(_S.CLOSED)
        self._events.append(IkeSaClosed(reason, error))

    # -- sending ------------------------------------------------------------------------

    def _progress(self, phase: str, detail: str) -> None:
        self.progress.append((phase, detail))

    def _new_message_id(self) -> int:
        while True:
            mid = int.from_bytes(self._rng.random_bytes(4), "big")
            if mid:
                return mid

    def _frame(self, message: bytes) -> bytes:
        return NON_ESP_MARKER + message if self._natt else message

    def _encode(self, exchange: int, mid: int, payloads: list[Payload], *, encrypt: bool) -> bytes:
        first, body = push_payload_chain(payloads)
        return self._wrap(exchange, mid, first, body, encrypt=encrypt)

    def _wrap(self, exchange: int, mid: int, first: int, body: bytes, *, encrypt: bool) -> bytes:
        sa = self._sa
        cky_r = sa.cky_r if sa is not None else (self._phase1.cky_r if self._phase1 else bytes(8))
        flags = 0
        if encrypt:
            if sa is None:  # pragma: no cover
                raise LocalProtocolError("no keys to encrypt with")
            body = sa.cipher.encrypt(mid, body)
            flags = HeaderFlag.ENCRYPTION
        header = push_header(
            self.spi_i, cky_r, first, exchange, flags, mid, HEADER_SIZE + len(body)
        )
        return self._frame(header + body)

    def _encode_protected(self, exchange: int, mid: int, plaintext: bytes) -> bytes:
        """Encrypt a body that starts with its HASH payload (the first type is HASH, 8)."""
        return self._wrap(exchange, mid, 8, plaintext, encrypt=True)

    def _send_request(
        self, exchange: int, mid: int, wire: bytes, handler: Handler, now: float, what: str
    ) -> None:
        first = self._settings.retransmit.intervals()[0]
        self._outstanding = _Request(exchange, mid, wire, handler, now + first, what)
        self._out.append((wire, self._remote))

    def _send_plain(
        self, exchange: int, payloads: list[Payload], handler: Handler, now: float, what: str
    ) -> None:
        wire = self._encode(exchange, 0, payloads, encrypt=False)
        self._reply_to_last(wire)
        self._send_request(exchange, 0, wire, handler, now, what)

    def _send_encrypted(
        self, exchange: int, mid: int, payloads: list[Payload], handler: Handler, now: float,
        what: str,
    ) -> None:  # fmt: skip
        wire = self._encode(exchange, mid, payloads, encrypt=True)
        self._reply_to_last(wire)
        self._send_request(exchange, mid, wire, handler, now, what)

    def _send_protected(
        self, exchange: int, payloads: list[Payload], handler: Handler, now: float, what: str
    ) -> None:
        sa = self._sa
        if sa is None:  # pragma: no cover
            return
        mid = self._new_message_id()
        wire = self._encode_protected(exchange, mid, protected_body(sa, mid, payloads))
        self._send_request(exchange, mid, wire, handler, now, what)

    def _send_informational(self, payloads: list[Payload]) -> None:
        """A one-way Informational exchange, HASH(1) protected (RFC 2409 §5.7)."""
        sa = self._sa
        if sa is None or self._sa_gone:
            return
        mid = self._new_message_id()
        wire = self._encode_protected(
            ExchangeType.INFORMATIONAL, mid, protected_body(sa, mid, payloads)
        )
        sa.cipher.forget(mid)
        self._out.append((wire, self._remote))

    def _reply_protected(self, exchange: int, mid: int, payloads: list[Payload]) -> None:
        sa = self._sa
        if sa is None:  # pragma: no cover
            return
        self._reply(self._encode_protected(exchange, mid, protected_body(sa, mid, payloads)))

    def _reply(self, wire: bytes) -> None:
        """Send an answer to the gateway's last message, and keep it for its retransmits."""
        self._reply_to_last(wire)
        self._out.append((wire, self._remote))

    def _reply_to_last(self, wire: bytes) -> None:
        last = self._last_datagram
        if last is None:
            return
        self._replies[last] = wire
        while len(self._replies) > _REPLY_CACHE:
            self._replies.popitem(last=False)


def _initiator_cookie(data: bytes) -> bytes:
    """The initiator cookie of an ISAKMP datagram, with or without the non-ESP marker."""
    return data[4:12] if data[:4] == NON_ESP_MARKER else data[:8]


def _notify_error(notify_type: int, state: Ikev1State) -> IkeError:
    try:
        name = NotifyType(notify_type).name
    except ValueError:
        name = str(notify_type)
    if notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
        return NoProposalChosen("the gateway accepted none of our proposals (NO_PROPOSAL_CHOSEN)")
    if notify_type in (
        NotifyType.AUTHENTICATION_FAILED,
        NotifyType.INVALID_HASH_INFORMATION,
        NotifyType.INVALID_ID_INFORMATION,
    ) or (state == _S.MM_AUTH_SENT and notify_type in (
        NotifyType.PAYLOAD_MALFORMED, NotifyType.INVALID_PAYLOAD_TYPE,
    )):  # fmt: skip
        return AuthenticationFailed(
            f"the gateway rejected our authentication ({name}): wrong pre-shared key or identity?"
        )
    return PeerNotify(f"the gateway refused with {name}", notify_type)


def _unsupported(exc: UnsupportedAlgorithm) -> IkeError:
    return NoProposalChosen(f"the gateway chose an algorithm this client lacks: {exc}")
