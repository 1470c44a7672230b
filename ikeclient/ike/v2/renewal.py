"""Staying connected: lifetimes, rekeys, reauthentication, liveness, MOBIKE (RFC 7296, 4555, 4478).

The part of ``Ikev2Connection`` that keeps an established connection fresh, as a mixin:
``connection`` owns the messaging (windows, requests, retransmission, the response cache)
and the first IKE SA's IKE_SA_INIT and IKE_AUTH; this module decides *what* to send to
stay connected and what the answers mean:

- deadlines (``_run_deadlines``): soft and hard lifetimes of the IKE SA and of each child
  SA with jitter, reauthentication (``reauth_time`` or the gateway's AUTH_LIFETIME), the
  liveness check after ``dpd_delay`` without inbound traffic, or after ``dead_peer_after``
  when outbound ESP goes unanswered (then on the short ``dead_peer_schedule``), the NAT
  mapping baseline;
- child SAs: rekeying them (ours and the gateway's, §1.3.3), collisions settled by the
  four nonces (§2.8.1), deleting the replaced ones, hard expiry, re-creating a lost one;
- the IKE SA: rekeying it both ways (§2.18) and moving the child SAs (``_adopt``),
  reauthenticating make-before-break (§2.8.3, RFC 4478);
- MOBIKE's UPDATE_SA_ADDRESSES and NAT detection in liveness checks (RFC 4555 §3.5, §3.8).

Every exchange's payloads are built and checked in its own module (``create_child_sa``,
``ike_rekey``, ``mobike``, ``reauth``, ``informational``); every state change goes
through the tables of ``state``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from functools import partial

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    IkeError,
    PeerLost,
    RemoteProtocolError,
)
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    IkeEvent,
    IkeSaAddressesUpdated,
    IkeSaRekeyed,
)
from ikeclient.ike.v2.create_child_sa import (
    ChildSaMade,
    ChildSaNotFound,
    ChildSaRequest,
    ChildSaTemplate,
    RetryWithGroup,
    TemporaryFailure,
    answer_child_rekey,
    refuse,
    rekey_target,
)
from ikeclient.ike.v2.enums import ExchangeType, NotifyType, ProtocolId
from ikeclient.ike.v2.ike_auth import AuthDone
from ikeclient.ike.v2.ike_init import IkeSaInitExchange
from ikeclient.ike.v2.ike_rekey import (
    IkeRekeyRequest,
    RetryIkeRekey,
    answer_ike_rekey,
    new_ike_spi,
)
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.informational import (
    delete_child_sas,
    delete_ike_sa,
)
from ikeclient.ike.v2.message import Message
from ikeclient.ike.v2.mobike import (
    build_update_sa_addresses,
    check_update_response,
    nat_view,
    natd_notifies,
)
from ikeclient.ike.v2.payloads import (
    NotifyPayload,
    Payload,
)
from ikeclient.ike.v2.settings import Ikev2Settings, dead_peer_schedule
from ikeclient.ike.v2.state import (
    ChildSaState,
    IkeSaState,
)
from ikeclient.ike.v2.windows import Child, RekeyCounters, Request, Task, Window

PEER_DELETE_WAIT = 30.0
"""How long a replaced SA waits for the gateway's Delete before we send ours."""
NAT_BASELINE_DELAY = 1.0
"""With MOBIKE over NAT-T: how soon after an IKE SA is up a NAT-detecting check learns the
mapping the NAT gave us, so a later change can be seen (RFC 4555 §3.8)."""
LIVENESS_MIN_INTERVAL = 2.0
"""Liveness hints (ESP to an unknown SPI, a resume) start at most one check per this."""


class Renewal:
    """The staying-connected half of ``Ikev2Connection`` (see the module docstring)."""

    # State owned by Ikev2Connection (declared here for the type checker).
    _settings: Ikev2Settings
    _rng: RandomSource
    _local: Endpoint
    _remote: Endpoint
    _natt: bool
    _current: Window
    _windows: list[Window]
    _reauth: Window | None
    _children: list[Child]
    _events: deque[IkeEvent]
    _out: list[tuple[bytes, Endpoint]]
    _close_reason: str | None
    _local_nat: bool
    _mobike: bool
    _fake_natd: bytes | None
    _nat_mapping: bytes | None
    _nat_baseline_at: float | None
    _last_inbound: float
    _esp_out_since: float | None
    _last_liveness: float | None
    _cookie2: bytes
    rekeys: RekeyCounters
    log: logging.LoggerAdapter[logging.Logger]

    @property
    def state(self) -> IkeSaState:
        raise NotImplementedError

    # Messaging provided by Ikev2Connection.
    def _queue(self, window: Window, task: Task, now: float) -> None:
        raise NotImplementedError

    def _send_next(self, window: Window, now: float) -> None:
        raise NotImplementedError

    def _send_sa_init(self, window: Window, now: float) -> None:
        raise NotImplementedError

    def _send_unacknowledged_delete(self, window: Window) -> None:
        raise NotImplementedError

    def _finish(
        self, reason: str, error: IkeError | None, *, deleted_by_gateway: bool = False
    ) -> None:
        raise NotImplementedError

    # -- commands (for the runtime) -----------------------------------------------------------

    def rekey_child_sa(self, spi_in: int, now: float) -> None:
        """Rekey the child SA we receive on with ``spi_in`` now (RFC 7296 §1.3.3).

        For the runtime: the ESP engine's soft byte/packet limit, or its
        sequence numbers running out. Unknown SPIs and SAs already being
        rekeyed are ignored.
        """
        for child in self._children:
            if child.info.spi_in == spi_in and child.state == ChildSaState.INSTALLED:
                self._start_child_rekey(child, now)

    def expire_child_sa(self, spi_in: int, now: float) -> None:
        """The child SA ``spi_in`` reached a hard limit (bytes, packets): delete it now.

        RFC 4301 §4.4.2.1: an SA past its hard lifetime must not be used. A
        fresh child SA replaces it when it was the one carrying traffic.
        """
        for child in self._children:
            if child.info.spi_in == spi_in:
                self._child_hard_expired(child, now)

    def rekey_ike_sa(self, now: float) -> None:
        """Rekey the IKE SA now (RFC 7296 §2.18)."""
        if self.state == IkeSaState.ESTABLISHED:
            self._start_ike_rekey(now)

    def reauthenticate(self, now: float) -> None:
        """Build a new IKE SA from scratch, make-before-break (RFC 7296 §2.8.3)."""
        if self.state == IkeSaState.ESTABLISHED:
            self._start_reauth(now)

    def check_liveness(self, now: float) -> None:
        """Ask the gateway now whether it is still there (RFC 7296 §2.4).

        For hints the runtime sees: a resume after suspend, ESP to an unknown
        SPI. At most one check per ``LIVENESS_MIN_INTERVAL`` seconds.
        """
        last = self._last_liveness
        if last is not None and now - last < LIVENESS_MIN_INTERVAL:
            return
        self._start_liveness(now)

    def inbound_activity(self, now: float) -> None:
        """The runtime received valid ESP from the gateway: it is alive (defers DPD).

        A request hurried because traffic went unanswered goes on at the profile's pace.
        """
        self._last_inbound = max(self._last_inbound, now)
        req = self._current.outstanding
        if req is not None and req.hurried:
            req.hurried = False
            req.schedule = ()
            req.give_up_at = req.normal_give_up_at

    def outbound_activity(self, now: float) -> None:
        """The runtime sent ESP to the gateway (by ``now``; telling once a second is enough).

        When nothing comes back from the gateway for ``dead_peer_after`` seconds after the
        first such report, a liveness check goes out at once with its own short schedule
        (``dead_peer_schedule``) rather than after ``dpd_delay``: traffic that goes
        unanswered is the sign of a gateway that crashed (RFC 7296 §2.4).
        """
        since = self._esp_out_since
        if since is None or since <= self._last_inbound:
            self._esp_out_since = now

    def update_local_endpoint(self, local: Endpoint, now: float) -> bool:
        """Our address or port changed: move the IKE SA there with MOBIKE (RFC 4555 §3.5).

        The caller already sends from ``local``. Returns False when MOBIKE was
        not negotiated (or the IKE SA is not established): the caller must then
        reconnect.
        """
        if self.state != IkeSaState.ESTABLISHED or not self._mobike:
            return False
        self._local = local
        cur = self._current
        req = cur.outstanding
        if req is not None and req.kind != "update":
            # The request in flight was sent from the old address: resend it from the new one.
            self._out.append((req.wire, self._remote))
        if not any(t.kind == "update" for t in cur.pending):
            cur.pending.appendleft(
                Task("update", ExchangeType.INFORMATIONAL, self._build_update, self._on_update)
            )
        self._send_next(cur, now)
        return True

    def _answer_child_rekey(
        self, window: Window, inner: tuple[Payload, ...], now: float
    ) -> list[Payload]:
        """The gateway rekeys one of our child SAs (RFC 7296 §1.3.3, §2.25)."""
        if window is not self._current or window.state != IkeSaState.ESTABLISHED:
            return refuse(NotifyType.TEMPORARY_FAILURE).payloads
        if window.ike_rekey is not None or self._close_reason is not None:
            # §2.25.2: a child SA of an IKE SA being rekeyed (or deleted) waits.
            return refuse(NotifyType.TEMPORARY_FAILURE).payloads
        target = rekey_target(inner)
        if target is None:
            # A new child SA the gateway wants to add: a road warrior takes none.
            return refuse(NotifyType.NO_ADDITIONAL_SAS).payloads
        old = next(
            (
                c
                for c in self._children
                if c.info.spi_out == target and c.state != ChildSaState.DELETED
            ),
            None,
        )
        if old is None:
            return [
                NotifyPayload(
                    ProtocolId.ESP, target.to_bytes(4, "big"), NotifyType.CHILD_SA_NOT_FOUND, b""
                )
            ]
        if not old.machine.carries_traffic or old.collision is not None:
            return refuse(NotifyType.TEMPORARY_FAILURE).payloads
        sa = window.sa
        assert sa is not None
        answer = answer_child_rekey(
            self._settings, sa, self._rng, inner, old.info, self._template(old.info)
        )
        made = answer.made
        if made is None:
            return answer.payloads
        self.rekeys.child_rekeys_answered += 1
        if old.state == ChildSaState.REKEYING:
            # §2.8.1: both ends rekey this SA at once. Ours is in flight; the nonces
            # decide when its answer comes. Until then the new SA is only inbound.
            self.rekeys.collisions += 1
            old.collision = made
            self._add_child(made.child, window, now)
            self.log.info(
                "rekey collision on child SA %08x: the gateway's new SA %08x/%08x kept aside",
                old.info.spi_in,
                made.child.spi_in,
                made.child.spi_out,
            )
            return answer.payloads
        new = self._add_child(made.child, window, now)
        old.machine.move_to(ChildSaState.REKEYED)
        old.successor = new
        old.rekey_at = None
        old.delete_at = now + PEER_DELETE_WAIT  # the gateway, which started it, deletes it
        self.log.info(
            "child SA %08x rekeyed by the gateway: new SPIs in %08x out %08x",
            old.info.spi_in,
            made.child.spi_in,
            made.child.spi_out,
        )
        return answer.payloads

    def _answer_ike_rekey(
        self, window: Window, inner: tuple[Payload, ...], now: float
    ) -> tuple[list[Payload], Callable[[], None] | None]:
        """The gateway rekeys the IKE SA (RFC 7296 §1.3.2, §2.18, §2.25.2)."""
        busy = window.outstanding is not None and window.outstanding.kind in (
            "child",
            "create",
            "delete-child",
        )
        if (
            window is not self._current
            or window.state != IkeSaState.ESTABLISHED
            or window.sa is None
            or self._close_reason is not None
            or busy
            or any(c.state == ChildSaState.REKEYING for c in self._children)
        ):
            return refuse(NotifyType.TEMPORARY_FAILURE).payloads, None
        answer = answer_ike_rekey(self._settings, window.sa, self._rng, inner)
        made = answer.made
        if made is None:
            return answer.payloads, None
        self.rekeys.ike_rekeys_answered += 1
        new = self._new_window(made.sa)
        if window.ike_rekey is not None:
            self.rekeys.collisions += 1
            window.peer_ike_rekey = (new, made)
            self.log.info("IKE rekey collision: the gateway's new IKE SA kept aside")
            return answer.payloads, None
        return answer.payloads, partial(self._adopt, new, window, now, False)

    def _jittered(self, seconds: float) -> float:
        """``seconds`` minus a random share of up to ``jitter`` of it (RFC 7296 §2.8.1)."""
        jitter = self._settings.lifetimes.jitter
        if jitter <= 0:
            return seconds
        fraction = int.from_bytes(self._rng.random_bytes(2), "big") / 65536
        return seconds * (1.0 - jitter * fraction)

    def _retry_delay(self) -> float:
        fraction = int.from_bytes(self._rng.random_bytes(2), "big") / 65536
        return self._settings.rekey_retry * (0.5 + 0.5 * fraction)

    def _set_ike_lifetimes(self, window: Window, now: float, granted: int | None) -> None:
        life = self._settings.lifetimes
        window.rekey_at = now + self._jittered(life.ike_rekey_time) if life.ike_rekey_time else None
        window.expire_at = now + life.ike_hard if life.ike_hard > 0 else None
        reauth = float(life.reauth_time)
        if granted is not None and (not reauth or granted < reauth):
            reauth = float(granted)
        window.reauth_at = now + self._jittered(reauth) if reauth > 0 else None
        if window.reauth_at is not None and window.expire_at is not None:
            # A reauthentication makes a new IKE SA anyway; the old must live until then.
            window.expire_at = max(window.expire_at, window.reauth_at + 60.0)

    def _unanswered_deadline(self) -> float | None:
        """When ESP that went out is unanswered for ``dead_peer_after`` seconds, or None."""
        after = self._settings.dead_peer_after
        since = self._esp_out_since
        if after <= 0 or since is None or since <= self._last_inbound:
            return None
        return since + after

    def _dpd_deadline(self) -> float | None:
        """The next liveness deadline: idle (``dpd_delay``) or traffic unanswered.

        A request in flight answers the question as well; under unanswered traffic it is
        only given up sooner (``_hurry``).
        """
        cur = self._current
        if cur.state != IkeSaState.ESTABLISHED:
            return None
        fast = self._unanswered_deadline()
        if cur.outstanding is not None:
            return fast if not cur.outstanding.hurried else None
        if cur.pending:
            return None
        delay = self._settings.dpd_delay
        idle = self._last_inbound + delay if delay > 0 else None
        if idle is None or fast is None:
            return idle if fast is None else fast
        return min(idle, fast)

    def _run_deadlines(self, now: float) -> None:
        cur = self._current
        if cur.state != IkeSaState.ESTABLISHED or self._close_reason is not None:
            return
        if cur.expire_at is not None and now >= cur.expire_at:
            reason = "the IKE SA reached its hard lifetime before it could be renewed"
            self.log.warning("%s", reason)
            self._finish(reason, PeerLost(reason))
            return
        for w in list(self._windows):
            if w is not cur and w.delete_at is not None and now >= w.delete_at:
                w.delete_at = None
                self._queue_ike_delete(w, now)
        if cur.reauth_at is not None and now >= cur.reauth_at:
            cur.reauth_at = None
            self._start_reauth(now)
        if cur.rekey_at is not None and now >= cur.rekey_at:
            cur.rekey_at = None
            self._start_ike_rekey(now)
        for child in list(self._children):
            if child.expire_at is not None and now >= child.expire_at:
                child.expire_at = None
                self._child_hard_expired(child, now)
            elif child.delete_at is not None and now >= child.delete_at:
                child.delete_at = None
                if child.state in (ChildSaState.INSTALLED, ChildSaState.REKEYED):
                    self._delete_child(child, now)
            elif (
                child.rekey_at is not None
                and now >= child.rekey_at
                and child.state == ChildSaState.INSTALLED
            ):
                child.rekey_at = None
                self._start_child_rekey(child, now)
        dpd = self._dpd_deadline()
        if dpd is not None and now >= dpd:
            fast = self._unanswered_deadline()
            unanswered = fast is not None and now >= fast
            if cur.outstanding is not None:
                self._hurry(cur.outstanding, now)
            else:
                self._start_liveness(now, unanswered=unanswered)
        baseline = self._nat_baseline_at
        if baseline is not None and now >= baseline:
            self._nat_baseline_at = None
            self._start_liveness(now)

    def _hurry(self, req: Request, now: float) -> None:
        """Traffic goes unanswered while a request is in flight: give up on it sooner."""
        req.hurried = True
        limit = now + self._settings.dead_peer_timeout
        req.give_up_at = limit if req.give_up_at is None else min(req.give_up_at, limit)
        req.deadline = min(req.deadline, req.give_up_at)
        self.log.info(
            "ESP to the gateway unanswered for %.0f s: the %s in flight gets %.0f s more",
            self._settings.dead_peer_after,
            req.kind,
            self._settings.dead_peer_timeout,
        )

    def _template(self, info: ChildSaEstablished) -> ChildSaTemplate:
        return ChildSaTemplate(
            info.name, info.local_ts, info.remote_ts, self._local, self._remote, self._natt
        )

    def _add_child(self, info: ChildSaEstablished, owner: Window, now: float) -> Child:
        life = self._settings.lifetimes
        child = Child(info, owner)
        if life.child_rekey_time > 0:
            child.rekey_at = now + self._jittered(life.child_rekey_time)
        if life.child_hard > 0:
            child.expire_at = now + life.child_hard
        self._children.append(child)
        self._events.append(info)
        return child

    def _child_deleted(self, child: Child, reason: str) -> None:
        """The child SA is gone (at both ends): tell the runtime to remove it."""
        if child.state == ChildSaState.DELETED:
            return
        rekeyed = child.successor is not None
        child.machine.move_to(ChildSaState.DELETED)
        child.rekey_at = child.expire_at = child.delete_at = None
        info = child.info
        self._events.append(ChildSaDeleted(info.spi_in, info.spi_out, reason, rekeyed))
        self._children = [c for c in self._children if c is not child]

    def _start_child_rekey(self, child: Child, now: float) -> None:
        if child.queued or child.state != ChildSaState.INSTALLED:
            return
        child.queued = True
        self._queue(
            self._current,
            Task(
                "child",
                ExchangeType.CREATE_CHILD_SA,
                partial(self._build_child_rekey, child),
                partial(self._on_child_rekey_response, child),
            ),
            now,
        )

    def _build_child_rekey(self, child: Child, window: Window, now: float) -> list[Payload] | None:
        child.queued = False
        if (
            child.state != ChildSaState.INSTALLED
            or window.sa is None
            or window.state != IkeSaState.ESTABLISHED
        ):
            return None
        request = ChildSaRequest(
            self._settings,
            window.sa,
            self._rng,
            self._template(child.info),
            rekeyed_spi_in=child.info.spi_in,
            group=child.retry_group,
        )
        child.request = request
        child.machine.move_to(ChildSaState.REKEYING)
        self.rekeys.child_rekeys_initiated += 1
        self.log.info("rekeying child SA %08x", child.info.spi_in)
        return request.build_request()

    def _on_child_rekey_response(
        self,
        child: Child,
        window: Window,
        message: Message,
        inner: tuple[Payload, ...],
        data: bytes,
        now: float,
    ) -> None:
        request = child.request
        child.request = None
        if request is None:
            return
        try:
            result = request.process_response(inner)
        except ChildSaNotFound:
            self.log.info("the gateway lost child SA %08x: making a new one", child.info.spi_in)
            carried = child.machine.carries_traffic
            self._child_deleted(child, "unknown to the gateway (CHILD_SA_NOT_FOUND)")
            if carried:
                self._create_child(child.info, now)
            return
        except RemoteProtocolError as exc:
            self._child_rekey_failed(child, exc, now)
            return
        if isinstance(result, RetryWithGroup):
            child.retry_group = result.group
            if child.state == ChildSaState.REKEYING:
                child.machine.move_to(ChildSaState.INSTALLED)
            self._start_child_rekey(child, now)
            return
        self._rekeyed_by_us(child, window, result, now)

    def _child_rekey_failed(self, child: Child, error: RemoteProtocolError, now: float) -> None:
        """A rekey the gateway refused is tried again later; the SA lives on (RFC 7296 §2.25)."""
        level = logging.INFO if isinstance(error, TemporaryFailure) else logging.WARNING
        self.log.log(level, "rekeying child SA %08x failed: %s", child.info.spi_in, error)
        if child.state == ChildSaState.REKEYING:
            child.machine.move_to(ChildSaState.INSTALLED)
        collision = child.collision
        if collision is not None:
            # Ours failed, the gateway's crossing one stands: it is the successor.
            child.collision = None
            self._promote(child, collision, now)
            return
        if child.state == ChildSaState.INSTALLED:
            child.rekey_at = now + self._retry_delay()

    def _promote(self, old: Child, made: ChildSaMade, now: float) -> None:
        """The gateway's new SA replaces ``old``; the gateway deletes ``old`` (§2.8.1)."""
        new = next((c for c in self._children if c.info is made.child), None)
        if old.state in (ChildSaState.INSTALLED, ChildSaState.REKEYING):
            if old.state == ChildSaState.REKEYING:
                old.machine.move_to(ChildSaState.INSTALLED)
            old.machine.move_to(ChildSaState.REKEYED)
            old.successor = new
            old.rekey_at = None
            old.delete_at = now + PEER_DELETE_WAIT

    def _rekeyed_by_us(self, old: Child, window: Window, made: ChildSaMade, now: float) -> None:
        collision = old.collision
        old.collision = None
        info = made.child
        pfs = " with PFS" if made.shared_secret else ""
        if old.state != ChildSaState.REKEYING:
            # The old SA was deleted (§2.25.1) or replaced meanwhile: keep the new one only
            # if nothing else carries the traffic now.
            redundant = any(c.machine.carries_traffic for c in self._children)
            new = self._add_child(
                dataclasses.replace(info, outbound_deferred=redundant), window, now
            )
            if redundant:
                new.machine.move_to(ChildSaState.REKEYED)
                self._delete_child(new, now)
            return
        if collision is not None:
            ours = min(made.nonce_i, made.nonce_r)
            theirs = min(collision.nonce_i, collision.nonce_r)
            if ours < theirs:
                # §2.8.1: the lowest nonce is in our exchange, so our new SA is the
                # redundant one and we delete it; the gateway's replaces the old SA.
                self.log.info("rekey collision: ours has the lowest nonce; deleting it")
                redundant_child = self._add_child(
                    dataclasses.replace(info, outbound_deferred=True), window, now
                )
                redundant_child.machine.move_to(ChildSaState.REKEYED)
                redundant_child.rekey_at = None
                self._promote(old, collision, now)
                self._delete_child(redundant_child, now)
                return
            self.log.info("rekey collision: the gateway's SA is redundant; it deletes it")
            loser = next((c for c in self._children if c.info is collision.child), None)
            if loser is not None and loser.state == ChildSaState.INSTALLED:
                loser.machine.move_to(ChildSaState.REKEYED)
                loser.rekey_at = None
                loser.delete_at = now + PEER_DELETE_WAIT
        new = self._add_child(info, window, now)
        old.machine.move_to(ChildSaState.REKEYED)
        old.successor = new
        self.log.info(
            "child SA %08x rekeyed%s: new SPIs in %08x out %08x",
            old.info.spi_in,
            pfs,
            info.spi_in,
            info.spi_out,
        )
        self._delete_child(old, now)

    def _delete_child(self, child: Child, now: float) -> None:
        """HDR, SK {D(ESP, our inbound SPI)} (RFC 7296 §1.4.1), on the IKE SA that owns it."""
        if child.state not in (ChildSaState.INSTALLED, ChildSaState.REKEYED):
            return
        child.machine.move_to(ChildSaState.DELETING)
        child.rekey_at = child.delete_at = None
        self._queue(
            child.owner if child.owner.state == IkeSaState.ESTABLISHED else self._current,
            Task(
                "delete-child",
                ExchangeType.INFORMATIONAL,
                lambda w, t: delete_child_sas([child.info.spi_in]),
                partial(self._on_child_deleted, child),
            ),
            now,
        )

    def _on_child_deleted(
        self,
        child: Child,
        window: Window,
        message: Message,
        inner: tuple[Payload, ...],
        data: bytes,
        now: float,
    ) -> None:
        reason = "rekeyed" if child.successor is not None else "deleted"
        self._child_deleted(child, reason)

    def _child_hard_expired(self, child: Child, now: float) -> None:
        if child.state in (ChildSaState.DELETING, ChildSaState.DELETED):
            return
        carried = child.machine.carries_traffic
        spi_in = child.info.spi_in
        self.log.warning("child SA %08x reached its hard lifetime", spi_in)
        # RFC 4301 §4.4.2.1: never use it again; tell the gateway; replace it if needed.
        self._child_deleted(child, "hard lifetime reached")
        self._queue(
            self._current,
            Task(
                "delete-child",
                ExchangeType.INFORMATIONAL,
                lambda w, t: delete_child_sas([spi_in]),
                _ignore_response,
            ),
            now,
        )
        if carried and not any(c.machine.carries_traffic for c in self._children):
            self._create_child(child.info, now)

    def _create_child(self, like: ChildSaEstablished, now: float) -> None:
        """A new child SA with the selectors of ``like`` (RFC 7296 §1.3.1)."""
        if self._current.has_task("create"):
            return
        template = self._template(like)
        holder: list[ChildSaRequest] = []

        def build(window: Window, t: float) -> list[Payload] | None:
            if window.sa is None or window.state != IkeSaState.ESTABLISHED:
                return None
            request = ChildSaRequest(
                self._settings, window.sa, self._rng, template, rekeyed_spi_in=None
            )
            holder[:] = [request]
            return request.build_request()

        def handle(
            window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, t: float
        ) -> None:
            if not holder:
                return
            try:
                result = holder[0].process_response(inner)
            except RemoteProtocolError as exc:
                error = PeerLost(f"the gateway refused a new child SA: {exc}")
                self.log.warning("%s", error)
                self._finish(str(error), error)
                return
            if isinstance(result, RetryWithGroup):
                self._create_child(like, t)
                return
            self._add_child(result.child, window, t)
            self.log.info(
                "new child SA: SPIs in %08x out %08x", result.child.spi_in, result.child.spi_out
            )

        self._queue(self._current, Task("create", ExchangeType.CREATE_CHILD_SA, build, handle), now)

    def _new_window(self, sa: IkeSa) -> Window:
        window = Window(sa.our_spi if sa.we_initiated else sa.spi_i, "rekeyed", sa=sa)
        window.machine.move_to(IkeSaState.ESTABLISHED)
        self._windows.append(window)
        return window

    def _start_ike_rekey(self, now: float) -> None:
        cur = self._current
        if cur.ike_rekey is not None or cur.has_task("ike-rekey"):
            return
        if self._reauth is not None:
            cur.rekey_at = now + self._retry_delay()
            return
        self._queue(
            cur,
            Task(
                "ike-rekey",
                ExchangeType.CREATE_CHILD_SA,
                self._build_ike_rekey,
                self._on_ike_rekey_response,
            ),
            now,
        )

    def _build_ike_rekey(self, window: Window, now: float) -> list[Payload] | None:
        if window is not self._current or window.state != IkeSaState.ESTABLISHED:
            return None
        if window.sa is None or self._reauth is not None:
            return None
        request = IkeRekeyRequest(self._settings, window.sa, self._rng, group=window.rekey_group)
        window.ike_rekey = request
        self.rekeys.ike_rekeys_initiated += 1
        self.log.info("rekeying the IKE SA")
        return request.build_request()

    def _on_ike_rekey_response(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        request = window.ike_rekey
        window.ike_rekey = None
        collision = window.peer_ike_rekey
        window.peer_ike_rekey = None
        if request is None:
            return
        try:
            result = request.process_response(inner)
        except RemoteProtocolError as exc:
            level = logging.INFO if isinstance(exc, TemporaryFailure) else logging.WARNING
            self.log.log(level, "rekeying the IKE SA failed: %s", exc)
            if collision is not None:
                self._adopt(collision[0], window, now, False)
            elif window.state == IkeSaState.ESTABLISHED:
                window.rekey_at = now + self._retry_delay()
            return
        if isinstance(result, RetryIkeRekey):
            window.rekey_group = result.group
            if collision is not None:
                self._adopt(collision[0], window, now, False)
            else:
                self._start_ike_rekey(now)
            return
        ours = self._new_window(result.sa)
        if collision is None:
            self._adopt(ours, window, now, True)
            return
        theirs, made = collision
        if min(result.nonce_i, result.nonce_r) < min(made.nonce_i, made.nonce_r):
            # §2.8.1 (and §2.25.2): ours has the lowest nonce: it is redundant. We delete
            # it; the gateway's IKE SA takes over, and the gateway deletes the old one.
            self.log.info("IKE rekey collision: ours has the lowest nonce; deleting it")
            self._adopt(theirs, window, now, False)
            ours.machine.move_to(IkeSaState.REKEYED)
            self._queue_ike_delete(ours, now)
        else:
            self.log.info("IKE rekey collision: the gateway's new IKE SA is redundant")
            self._adopt(ours, window, now, True)
            theirs.machine.move_to(IkeSaState.REKEYED)
            theirs.delete_at = now + PEER_DELETE_WAIT

    def _adopt(self, new: Window, old: Window, now: float, delete_old: bool) -> None:
        """``new`` replaces ``old`` (RFC 7296 §2.18): the child SAs and waiting requests move."""
        sa, old_sa = new.sa, old.sa
        assert sa is not None and old_sa is not None
        for child in self._children:
            if child.owner is old:
                child.owner = new
        new.pending.extend(t for t in old.pending if t.kind not in ("ike-rekey", "liveness"))
        old.pending.clear()
        new.reauth_at = old.reauth_at
        life = self._settings.lifetimes
        new.rekey_at = now + self._jittered(life.ike_rekey_time) if life.ike_rekey_time else None
        new.expire_at = now + life.ike_hard if life.ike_hard > 0 else None
        if new.reauth_at is not None and new.expire_at is not None:
            new.expire_at = max(new.expire_at, new.reauth_at + 60.0)
        old.rekey_at = old.expire_at = old.reauth_at = None
        if old.state == IkeSaState.ESTABLISHED:
            old.machine.move_to(IkeSaState.REKEYED)
        self._current = new
        self._want_nat_baseline(now)  # NAT-D hashes cover the SPIs: learn them anew
        self.log.extra = {"spi": sa.spi_i.hex()}
        self._events.append(
            IkeSaRekeyed(
                sa.spi_i, sa.spi_r, old_sa.spi_i, old_sa.spi_r, str(sa.chosen), sa.we_initiated
            )
        )
        self.log.info(
            "IKE SA rekeyed (%s): new SPIs %s_i %s_r, %s",
            "by us" if sa.we_initiated else "by the gateway",
            sa.spi_i.hex(),
            sa.spi_r.hex(),
            sa.chosen,
        )
        if delete_old:
            self._queue_ike_delete(old, now)
        else:
            old.delete_at = now + PEER_DELETE_WAIT
        self._send_next(new, now)

    def _queue_ike_delete(self, window: Window, now: float) -> None:
        """HDR, SK {D(IKE)} on a replaced IKE SA; its child SAs go with it (§1.4.1)."""
        if window.has_task("delete-ike") or window.state in (
            IkeSaState.DELETING,
            IkeSaState.CLOSED,
        ):
            return
        window.delete_at = None

        def build(w: Window, t: float) -> list[Payload] | None:
            if w.state == IkeSaState.REKEYED:
                w.machine.move_to(IkeSaState.DELETING)
            return delete_ike_sa()

        def handle(
            w: Window, message: Message, inner: tuple[Payload, ...], data: bytes, t: float
        ) -> None:
            self._close_window(w, "replaced")

        self._queue(window, Task("delete-ike", ExchangeType.INFORMATIONAL, build, handle), now)

    def _close_window(self, window: Window, reason: str) -> None:
        """A replaced (or failed) IKE SA is gone; so are the child SAs still on it."""
        for child in list(self._children):
            if child.owner is window:
                self._child_deleted(child, reason)
        window.outstanding = None
        window.pending.clear()
        if window.state != IkeSaState.CLOSED:
            window.machine.move_to(IkeSaState.CLOSED)
        if window in self._windows and window is not self._current:
            self._windows.remove(window)
        if window is self._reauth:
            self._reauth = None

    def _start_reauth(self, now: float) -> None:
        cur = self._current
        if self._reauth is not None:
            return
        if cur.ike_rekey is not None or cur.has_task("ike-rekey"):
            cur.reauth_at = now + self._retry_delay()
            return
        window = Window(new_ike_spi(self._rng), "reauth")
        window.init = IkeSaInitExchange(
            self._settings, self._rng, window.spi_i, self._local, self._remote
        )
        window.machine.move_to(IkeSaState.SA_INIT_SENT)
        self._windows.append(window)
        self._reauth = window
        self.rekeys.reauthentications += 1
        self.log.info("reauthenticating: a new IKE SA from scratch, make-before-break")
        self._send_sa_init(window, now)

    def _reauth_done(self, window: Window, done: AuthDone, now: float) -> None:
        old = self._current
        self._reauth = None
        sa, old_sa = window.sa, old.sa
        assert sa is not None and old_sa is not None
        carriers = [c for c in self._children if c.owner is old and c.machine.carries_traffic]
        new: Child | None = None
        if done.child is not None:
            rekeyed = carriers[0].info.spi_in if carriers else None
            new = self._add_child(
                dataclasses.replace(done.child, rekeyed_spi_in=rekeyed), window, now
            )
        for child in carriers:
            if child.state == ChildSaState.REKEYING:
                child.machine.move_to(ChildSaState.INSTALLED)
            child.machine.move_to(ChildSaState.REKEYED)
            child.successor = new
            child.rekey_at = child.expire_at = child.delete_at = None
        window.purpose = "first"
        self._current = window
        self.log.extra = {"spi": sa.spi_i.hex()}
        old.rekey_at = old.expire_at = old.reauth_at = None
        if old.state == IkeSaState.ESTABLISHED:
            old.machine.move_to(IkeSaState.REKEYED)
        self.log.info("reauthenticated: new IKE SA %s_i %s_r", sa.spi_i.hex(), sa.spi_r.hex())
        self._queue_ike_delete(old, now)

    def _reauth_failed(self, window: Window, why: str, now: float, *, delete: bool) -> None:
        self.log.warning("reauthentication failed: %s; trying again later", why)
        if delete and window.machine.has_keys:
            self._send_unacknowledged_delete(window)
        self._close_window(window, why)
        cur = self._current
        if cur.state == IkeSaState.ESTABLISHED:
            cur.reauth_at = now + self._retry_delay()

    def _start_liveness(self, now: float, *, unanswered: bool = False) -> None:
        """An empty INFORMATIONAL (RFC 7296 §2.4); ``unanswered``: ESP went out and nothing
        came back for ``dead_peer_after`` seconds, so it has the short schedule."""
        cur = self._current
        if cur.state != IkeSaState.ESTABLISHED or self._close_reason is not None:
            return
        self._last_liveness = now
        if cur.outstanding is not None or cur.has_task("liveness"):
            return  # a request in flight answers the question as well
        self.rekeys.liveness_checks += 1
        schedule: tuple[float, ...] = ()
        if unanswered:
            timeout = self._settings.dead_peer_timeout
            schedule = dead_peer_schedule(timeout)
            self.rekeys.unanswered_checks += 1
            self.log.info(
                "ESP to the gateway unanswered for %.0f s: checking it (%.0f s at most)",
                self._settings.dead_peer_after,
                timeout,
            )
        self._queue(
            cur,
            Task(
                "liveness",
                ExchangeType.INFORMATIONAL,
                self._build_liveness,
                self._on_liveness,
                schedule,
            ),
            now,
        )

    def _with_natd(self) -> bool:
        return self._mobike and self._natt

    def _want_nat_baseline(self, now: float) -> None:
        self._nat_mapping = None
        self._nat_baseline_at = now + NAT_BASELINE_DELAY if self._with_natd() else None

    def _build_liveness(self, window: Window, now: float) -> list[Payload] | None:
        sa = window.sa
        if sa is None:
            return None
        if not self._with_natd():
            return []
        # RFC 4555 §3.8: NAT detection in the check shows a changed NAT mapping.
        return natd_notifies(sa.spi_i, sa.spi_r, self._local, self._remote, self._fake_natd)

    def _on_liveness(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        sa = window.sa
        if sa is None or not self._with_natd():
            return
        view = nat_view(inner, sa.spi_i, sa.spi_r, self._local)
        if view.mapping is None:
            return
        previous, self._nat_mapping = self._nat_mapping, view.mapping
        if previous is not None and previous != view.mapping and window is self._current:
            self.log.info("the NAT mapped us anew: updating the SA's addresses (MOBIKE)")
            self.update_local_endpoint(self._local, now)

    def _build_update(self, window: Window, now: float) -> list[Payload] | None:
        sa = window.sa
        if sa is None or window.state != IkeSaState.ESTABLISHED:
            return None
        payloads, cookie2 = build_update_sa_addresses(
            sa.spi_i, sa.spi_r, self._local, self._remote, self._fake_natd, self._rng
        )
        self._cookie2 = cookie2
        self.rekeys.address_updates += 1
        self.log.info("UPDATE_SA_ADDRESSES from %s:%d", self._local.host, self._local.port)
        return payloads

    def _on_update(
        self, window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
    ) -> None:
        sa = window.sa
        assert sa is not None
        try:
            check_update_response(inner, self._cookie2)
        except RemoteProtocolError as exc:
            self.log.warning("%s", exc)
            return
        view = nat_view(inner, sa.spi_i, sa.spi_r, self._local)
        if view.local_behind_nat is not None:
            self._local_nat = view.local_behind_nat
        if view.mapping is not None:
            self._nat_mapping = view.mapping
        self._events.append(
            IkeSaAddressesUpdated(self._local, self._remote, self._local_nat, self._natt)
        )


def _ignore_response(
    window: Window, message: Message, inner: tuple[Payload, ...], data: bytes, now: float
) -> None:
    return None
