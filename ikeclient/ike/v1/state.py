"""ISAKMP SA states of the IKEv1 initiator, and the one table of allowed transitions.

Every state change lives here: ``Ikev1StateMachine.move_to`` is the only way to change
state, and it refuses any transition the table does not list. These states are IKEv1's
own (RFC 2409 §5); IKEv2 has its own enum in ``ikeclient.ike.v2.state``.

    INITIAL ─▶ MM_SA_SENT ─▶ MM_KE_SENT ─▶ MM_AUTH_SENT ─┐
       │                                              ├─▶ XAUTH ─▶ MODECFG ─▶ QUICK ─▶ ESTABLISHED
       └────────▶ AM_SENT ────────────────────────────┘   (XAUTH and MODECFG are optional)
    any state ─▶ CLOSED

A phase 1 renewal (a second ISAKMP SA negotiated while the first one still carries the
IPsec SAs) runs no Quick Mode: it goes from phase 1, XAUTH or MODECFG straight to
ESTABLISHED.
"""

from __future__ import annotations

from enum import Enum

from ikeclient.errors import LocalProtocolError


class Ikev1State(Enum):
    """Where the initiator's ISAKMP SA stands."""

    INITIAL = "initial"
    MM_SA_SENT = "main-mode-sa-sent"
    MM_KE_SENT = "main-mode-ke-sent"
    MM_AUTH_SENT = "main-mode-auth-sent"
    AM_SENT = "aggressive-mode-sent"
    XAUTH = "xauth"
    MODECFG = "mode-config"
    QUICK = "quick-mode"
    ESTABLISHED = "established"
    CLOSED = "closed"


_S = Ikev1State
_AFTER_PHASE1 = frozenset({_S.XAUTH, _S.MODECFG, _S.QUICK, _S.ESTABLISHED, _S.CLOSED})
_TRANSITIONS: dict[Ikev1State, frozenset[Ikev1State]] = {
    _S.INITIAL: frozenset({_S.MM_SA_SENT, _S.AM_SENT, _S.CLOSED}),
    _S.MM_SA_SENT: frozenset({_S.MM_KE_SENT, _S.CLOSED}),
    _S.MM_KE_SENT: frozenset({_S.MM_AUTH_SENT, _S.CLOSED}),
    _S.MM_AUTH_SENT: _AFTER_PHASE1,
    _S.AM_SENT: _AFTER_PHASE1,
    _S.XAUTH: frozenset({_S.MODECFG, _S.QUICK, _S.ESTABLISHED, _S.CLOSED}),
    _S.MODECFG: frozenset({_S.QUICK, _S.ESTABLISHED, _S.CLOSED}),
    _S.QUICK: frozenset({_S.ESTABLISHED, _S.CLOSED}),
    _S.ESTABLISHED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}


class Ikev1StateMachine:
    """Holds the current state and enforces the transition table."""

    def __init__(self) -> None:
        self._state = Ikev1State.INITIAL

    @property
    def state(self) -> Ikev1State:
        return self._state

    def move_to(self, new: Ikev1State) -> None:
        """Change state, or raise ``LocalProtocolError`` if the table does not allow it."""
        if new not in _TRANSITIONS[self._state]:
            raise LocalProtocolError(f"ISAKMP SA cannot go from {self._state.value} to {new.value}")
        self._state = new

    @property
    def has_keys(self) -> bool:
        """True once phase 1 keys exist (the gateway may send encrypted exchanges)."""
        return self._state in (_S.XAUTH, _S.MODECFG, _S.QUICK, _S.ESTABLISHED)
