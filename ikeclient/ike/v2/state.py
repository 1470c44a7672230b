"""IKE SA states of the IKEv2 initiator, and the one table of allowed transitions.

Every state change lives here: ``IkeSaStateMachine.move_to`` is the only way
to change state, and it refuses any transition the table does not list
(h11's ``_state.py`` is the model). IKEv1 has its own states in its own package.

    INITIAL ──connect──▶ SA_INIT_SENT ──SA_INIT response──▶ AUTH_SENT ──AUTH ok──▶ ESTABLISHED
       │                   │  ▲ (COOKIE / INVALID_KE: resend)   │                      │
       └───────────────────┴──┴──────────────┬──────────────────┘                      ▼
                                             ▼                                    DELETING
                                          CLOSED ◀───────────────────────────────────┘
"""

from __future__ import annotations

from enum import Enum

from ikeclient.errors import LocalProtocolError


class IkeSaState(Enum):
    """Where the initiator's IKE SA stands (RFC 7296 §1.2, §1.4.1)."""

    INITIAL = "initial"
    SA_INIT_SENT = "sa-init-sent"
    AUTH_SENT = "auth-sent"
    ESTABLISHED = "established"
    DELETING = "deleting"
    CLOSED = "closed"


_TRANSITIONS: dict[IkeSaState, frozenset[IkeSaState]] = {
    IkeSaState.INITIAL: frozenset({IkeSaState.SA_INIT_SENT, IkeSaState.CLOSED}),
    IkeSaState.SA_INIT_SENT: frozenset(
        {IkeSaState.SA_INIT_SENT, IkeSaState.AUTH_SENT, IkeSaState.CLOSED}
    ),
    IkeSaState.AUTH_SENT: frozenset(
        {IkeSaState.ESTABLISHED, IkeSaState.DELETING, IkeSaState.CLOSED}
    ),
    IkeSaState.ESTABLISHED: frozenset({IkeSaState.DELETING, IkeSaState.CLOSED}),
    IkeSaState.DELETING: frozenset({IkeSaState.CLOSED}),
    IkeSaState.CLOSED: frozenset(),
}


class IkeSaStateMachine:
    """Holds the current state and enforces the transition table."""

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
        return self._state in (IkeSaState.AUTH_SENT, IkeSaState.ESTABLISHED, IkeSaState.DELETING)
