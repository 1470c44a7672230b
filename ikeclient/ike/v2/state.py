"""IKE SA and child SA states of the IKEv2 initiator, and the tables of allowed transitions.

Every state change lives here: ``IkeSaStateMachine.move_to`` and
``ChildSaStateMachine.move_to`` are the only ways to change state, and they
refuse any transition their table does not list (h11's ``_state.py`` is the
model). IKEv1 has its own states in its own package.

One IKE SA (the connection has one current IKE SA, plus, for a while, the one a
rekey or a reauthentication replaced)::

    INITIAL ──connect──▶ SA_INIT_SENT ──SA_INIT response──▶ AUTH_SENT ──AUTH ok──▶ ESTABLISHED
       │                   │  ▲ (COOKIE / INVALID_KE: resend)   │                   │    │
       │                   │  │                                 │        rekeyed /  │    │
       ├─ created by a CREATE_CHILD_SA rekey (RFC 7296 §2.18) ──┼──────▶ reauthed   ▼    │
       │                   │                                    │        REKEYED ──▶ DELETING
       └───────────────────┴──────────────┬─────────────────────┘           │           │
                                          ▼                                 ▼           │
                                       CLOSED ◀─────────────────────────────────────────┘

REKEYED: a newer IKE SA took over the child SAs (§2.18, or RFC 4478
reauthentication); this one only waits for its Delete, sent by us or by the
gateway, and answers requests that still arrive on it.

One child SA::

    INSTALLED ──rekey sent──▶ REKEYING ──response──▶ REKEYED ──Delete sent──▶ DELETING
        │  ▲                     │  (failed: retry)     │  (gateway deletes it)   │
        │  └─────────────────────┘                      ▼                        ▼
        ├──────── Delete sent (hard expiry, redundant after a collision) ──▶  DELETED
        └──────── deleted by the gateway, or with the IKE SA ─────────────▶  DELETED
"""

from __future__ import annotations

from enum import Enum

from ikeclient.errors import LocalProtocolError


class IkeSaState(Enum):
    """Where an IKE SA stands (RFC 7296 §1.2, §1.4.1, §2.18)."""

    INITIAL = "initial"
    SA_INIT_SENT = "sa-init-sent"
    AUTH_SENT = "auth-sent"
    ESTABLISHED = "established"
    REKEYED = "rekeyed"
    DELETING = "deleting"
    CLOSED = "closed"


_TRANSITIONS: dict[IkeSaState, frozenset[IkeSaState]] = {
    IkeSaState.INITIAL: frozenset(
        {IkeSaState.SA_INIT_SENT, IkeSaState.ESTABLISHED, IkeSaState.CLOSED}
    ),
    IkeSaState.SA_INIT_SENT: frozenset(
        {IkeSaState.SA_INIT_SENT, IkeSaState.AUTH_SENT, IkeSaState.CLOSED}
    ),
    IkeSaState.AUTH_SENT: frozenset(
        {IkeSaState.ESTABLISHED, IkeSaState.DELETING, IkeSaState.CLOSED}
    ),
    IkeSaState.ESTABLISHED: frozenset({IkeSaState.REKEYED, IkeSaState.DELETING, IkeSaState.CLOSED}),
    IkeSaState.REKEYED: frozenset({IkeSaState.DELETING, IkeSaState.CLOSED}),
    IkeSaState.DELETING: frozenset({IkeSaState.CLOSED}),
    IkeSaState.CLOSED: frozenset(),
}


class IkeSaStateMachine:
    """Holds the current state of one IKE SA and enforces the transition table."""

    def __init__(self) -> None:
        self._state = IkeSaState.INITIAL

    @property
    def state(self) -> IkeSaState:
        return self._state

    def move_to(self, new: IkeSaState) -> None:
        """Change state, or raise ``LocalProtocolError`` if the table does not allow it."""
        if new not in _TRANSITIONS[self._state]:
            raise LocalProtocolError(f"IKE SA cannot go from {self._state.value} to {new.value}")
        self._state = new

    @property
    def has_keys(self) -> bool:
        """True once IKE_SA_INIT completed and the SK payload keys exist."""
        return self._state in (
            IkeSaState.AUTH_SENT,
            IkeSaState.ESTABLISHED,
            IkeSaState.REKEYED,
            IkeSaState.DELETING,
        )


class ChildSaState(Enum):
    """Where a child SA stands (RFC 7296 §1.3, §2.8, §1.4.1)."""

    INSTALLED = "installed"
    REKEYING = "rekeying"
    REKEYED = "rekeyed"
    DELETING = "deleting"
    DELETED = "deleted"


_CHILD_TRANSITIONS: dict[ChildSaState, frozenset[ChildSaState]] = {
    ChildSaState.INSTALLED: frozenset(
        {ChildSaState.REKEYING, ChildSaState.REKEYED, ChildSaState.DELETING, ChildSaState.DELETED}
    ),
    ChildSaState.REKEYING: frozenset(
        {ChildSaState.INSTALLED, ChildSaState.REKEYED, ChildSaState.DELETED}
    ),
    ChildSaState.REKEYED: frozenset({ChildSaState.DELETING, ChildSaState.DELETED}),
    ChildSaState.DELETING: frozenset({ChildSaState.DELETED}),
    ChildSaState.DELETED: frozenset(),
}


class ChildSaStateMachine:
    """Holds the current state of one child SA and enforces its transition table."""

    def __init__(self) -> None:
        self._state = ChildSaState.INSTALLED

    @property
    def state(self) -> ChildSaState:
        return self._state

    def move_to(self, new: ChildSaState) -> None:
        """Change state, or raise ``LocalProtocolError`` if the table does not allow it."""
        if new not in _CHILD_TRANSITIONS[self._state]:
            raise LocalProtocolError(f"child SA cannot go from {self._state.value} to {new.value}")
        self._state = new

    @property
    def carries_traffic(self) -> bool:
        """INSTALLED or REKEYING: the SA others expect traffic on (not yet replaced)."""
        return self._state in (ChildSaState.INSTALLED, ChildSaState.REKEYING)
