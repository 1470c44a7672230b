"""Events the ESP engine reports to the runtime (drained with ``EspEngine.next_event``).

Events are plain frozen dataclasses; the runtime turns them into IKE commands
(for example ``SequenceExhausted`` → rekey the child SA, RFC 7296 §2.8). The
union :data:`EspEvent` is open: lifetime events (``SoftExpired``,
``HardExpired``) will join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["EspEvent", "SequenceExhausted"]


@dataclass(frozen=True, slots=True)
class SequenceExhausted:
    """The outbound sequence number space of an SA is used up (RFC 4303 §3.3.3).

    Emitted once per SA, with the first packet that could not be sent; every
    further outbound packet on that SA is dropped (``DropReason.SEQ_EXHAUSTED``)
    until the runtime rekeys the child SA and installs the new one. ``spi_in``
    names the SA as :meth:`EspEngine.remove_sa` does.
    """

    spi_in: int
    spi_out: int


EspEvent: TypeAlias = SequenceExhausted
"""Every event the engine can emit (a union as more kinds are added)."""
