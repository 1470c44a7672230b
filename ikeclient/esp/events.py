"""Events the ESP engine reports to the runtime (drained with ``EspEngine.next_event``).

Events are plain frozen dataclasses; the runtime turns them into IKE commands:
``SequenceExhausted`` and ``SoftExpired`` → rekey the child SA (RFC 7296 §2.8),
``HardExpired`` → the SA is gone, tell the IKE side (RFC 4301 §4.4.2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["EspEvent", "HardExpired", "SequenceExhausted", "SoftExpired"]


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


@dataclass(frozen=True, slots=True)
class SoftExpired:
    """An SA reached its soft byte or packet limit in one direction: time to rekey it.

    RFC 4301 §4.4.2.1 (the soft lifetime): emitted once per SA; ``reason`` is
    ``"bytes"`` or ``"packets"``. The SA carries on until its hard limit.
    """

    spi_in: int
    spi_out: int
    reason: str


@dataclass(frozen=True, slots=True)
class HardExpired:
    """An SA reached its hard byte or packet limit: the engine removed it.

    RFC 4301 §4.4.2.1: past the hard lifetime an SA must not be used. Traffic
    moves to a newer SA with the same selectors if one is installed, else is
    dropped as ``NO_SA`` until the IKE side makes one.
    """

    spi_in: int
    spi_out: int
    reason: str


EspEvent: TypeAlias = SequenceExhausted | SoftExpired | HardExpired
"""Every event the engine can emit."""
