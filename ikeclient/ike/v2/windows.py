"""The records the IKEv2 connection keeps per IKE SA and per child SA (RFC 7296 §2.1-§2.3).

``Window``: one IKE SA's messaging state (message IDs, the single outstanding request,
the queue of waiting requests, the cached response) with its lifetimes; ``Child``: one
child SA's state, lifetimes and rekey bookkeeping; ``Request`` and ``Task``: a request in
flight and one waiting for its turn. Plain mutable records: ``connection`` and
``renewal`` change them, always through the state tables of ``state``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ikeclient.errors import IkeError
from ikeclient.ike.events import ChildSaEstablished, Endpoint
from ikeclient.ike.v2.create_child_sa import ChildSaMade, ChildSaRequest
from ikeclient.ike.v2.fragments import FragmentReassembler
from ikeclient.ike.v2.ike_auth import IkeAuthExchange
from ikeclient.ike.v2.ike_init import IkeSaInitExchange
from ikeclient.ike.v2.ike_rekey import IkeRekeyRequest, IkeSaMade
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.message import Message
from ikeclient.ike.v2.payloads import Payload
from ikeclient.ike.v2.state import (
    ChildSaState,
    ChildSaStateMachine,
    IkeSaState,
    IkeSaStateMachine,
)

__all__ = ["Child", "RekeyCounters", "Request", "ResponseHandler", "Task", "TaskBuilder", "Window"]


ResponseHandler = Callable[["Window", Message, tuple[Payload, ...], bytes, float], None]
TaskBuilder = Callable[["Window", float], "list[Payload] | None"]


@dataclass(slots=True)
class Request:
    """Our one outstanding request on an IKE SA (RFC 7296 §2.1)."""

    message_id: int
    exchange: int
    wire: bytes
    handler: ResponseHandler
    deadline: float
    kind: str = ""
    attempts: int = 0
    give_up_at: float | None = None
    lost_hint: bool = False  # an unprotected INVALID_IKE_SPI came back (§2.21.4)
    fragments: tuple[bytes, ...] = ()  # RFC 7383: the datagrams after ``wire``, resent with it
    dst: Endpoint | None = None  # where it went: an unauthenticated answer must come from there
    error_hint: IkeError | None = None  # an unauthenticated IKE_SA_INIT refusal (§2.21.1)
    schedule: tuple[float, ...] = ()  # its own waits between tries (empty: the profile's)
    hurried: bool = False  # ESP went unanswered meanwhile: given up after dead_peer_timeout
    normal_give_up_at: float | None = None  # when not hurried (dpd_timeout), if ever


@dataclass(slots=True)
class Task:
    """A request waiting for its turn; its payloads are built when it is sent."""

    kind: str
    exchange: int
    build: TaskBuilder
    handler: ResponseHandler
    schedule: tuple[float, ...] = ()  # waits between tries, when not the profile's schedule


@dataclass(slots=True, eq=False)
class Window:
    """One IKE SA: its keys, state, message IDs, outstanding request and response cache."""

    spi_i: bytes
    purpose: str  # "first", "reauth" or "rekeyed"
    machine: IkeSaStateMachine = field(default_factory=IkeSaStateMachine)
    sa: IkeSa | None = None
    next_message_id: int = 0
    peer_next_message_id: int = 0
    cached_response: tuple[int, bytes] | None = None
    outstanding: Request | None = None
    pending: deque[Task] = field(default_factory=deque)
    fragments: FragmentReassembler = field(default_factory=FragmentReassembler)
    init: IkeSaInitExchange | None = None
    init_request: bytes = b""
    auth: IkeAuthExchange | None = None
    mobike_seen: bool = False  # MOBIKE_SUPPORTED came in an earlier IKE_AUTH round (EAP)
    rekey_at: float | None = None
    expire_at: float | None = None
    reauth_at: float | None = None
    delete_at: float | None = None  # REKEYED: delete it ourselves if the gateway does not
    ike_rekey: IkeRekeyRequest | None = None  # our rekey of this IKE SA, in flight
    rekey_group: int | None = None
    peer_ike_rekey: tuple[Window, IkeSaMade] | None = None  # the gateway's, crossing ours

    @property
    def state(self) -> IkeSaState:
        return self.machine.state

    def has_task(self, kind: str) -> bool:
        out = self.outstanding
        return (out is not None and out.kind == kind) or any(t.kind == kind for t in self.pending)


@dataclass(slots=True, eq=False)
class Child:
    """One child SA: what the runtime installed, its state, lifetimes and rekey bookkeeping."""

    info: ChildSaEstablished
    owner: Window
    machine: ChildSaStateMachine = field(default_factory=ChildSaStateMachine)
    rekey_at: float | None = None
    expire_at: float | None = None
    delete_at: float | None = None
    request: ChildSaRequest | None = None
    retry_group: int | None = None
    queued: bool = False
    collision: ChildSaMade | None = None  # the gateway's rekey of this SA, crossing ours
    successor: Child | None = None

    @property
    def state(self) -> ChildSaState:
        return self.machine.state


@dataclass(slots=True)
class RekeyCounters:
    """What kept the connection fresh so far (for status and tests)."""

    child_rekeys_initiated: int = 0
    child_rekeys_answered: int = 0
    ike_rekeys_initiated: int = 0
    ike_rekeys_answered: int = 0
    reauthentications: int = 0
    collisions: int = 0
    liveness_checks: int = 0
    unanswered_checks: int = 0  # of which started because ESP went unanswered
    address_updates: int = 0
