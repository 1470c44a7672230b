"""Plain data describing one child SA to the ESP engine, and its traffic counters.

:class:`EspSaConfig` is what the runtime builds from an IKE ``ChildSaEstablished``
event (RFC 7296 §2.17 keying material, the negotiated transforms, the narrowed
traffic selectors) and hands to :meth:`EspEngine.install_sa
<ikeclient.esp.engine.EspEngine.install_sa>`. Both directions of the SA travel
together; "in" and "out" are from our side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ikeclient.esp.selectors import Selector

__all__ = ["DEFAULT_REPLAY_WINDOW", "EspSaConfig", "SaLimits", "SaStats"]

DEFAULT_REPLAY_WINDOW: Final = 1024
_MIN_REPLAY_WINDOW: Final = 32
_MAX_REPLAY_WINDOW: Final = 1 << 20
_SPI_MAX: Final = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class SaLimits:
    """Soft and hard limits of one SA, per direction, in inner bytes and packets; 0 = none."""

    soft_bytes: int = 0
    hard_bytes: int = 0
    soft_packets: int = 0
    hard_packets: int = 0


@dataclass(frozen=True, slots=True)
class EspSaConfig:
    """One child SA, both directions, seen from our side (RFC 4303, RFC 4301 §4.4.2).

    ``spi_in`` is the SPI we chose (the peer puts it in packets it sends us),
    ``spi_out`` the one the peer chose. ``encr_id`` / ``integ_id`` are IANA
    transform IDs (RFC 7296 §3.3.2); ``encr_key_bits`` is the Key Length
    attribute (None for ciphers without one). Keys are the full KEYMAT slices
    of RFC 7296 §2.17, salt or nonce included (see
    :meth:`ikeclient.crypto.encr.Encr.key_size`); AEAD suites have no integrity
    algorithm (``integ_id`` None or 0) and empty integrity keys. ``esn`` is
    True when Extended Sequence Numbers were negotiated (RFC 4304).

    ``local_ts`` is our side (the virtual IP): the inner destination of inbound
    packets and the inner source of outbound ones; ``remote_ts`` the gateway's
    side. ``replay_window`` is the anti-replay window in packets (RFC 4303
    §3.4.3). ``limits`` are the soft and hard byte and packet lifetimes of each
    direction (RFC 4301 §4.4.2.1; strongSwan's ``rekey_bytes``/``life_bytes``).
    """

    spi_in: int
    spi_out: int
    encr_id: int
    encr_key_bits: int | None
    integ_id: int | None
    esn: bool
    encr_key_in: bytes = field(repr=False)
    integ_key_in: bytes = field(repr=False)
    encr_key_out: bytes = field(repr=False)
    integ_key_out: bytes = field(repr=False)
    local_ts: tuple[Selector, ...]
    remote_ts: tuple[Selector, ...]
    replay_window: int = DEFAULT_REPLAY_WINDOW
    limits: SaLimits | None = None

    def __post_init__(self) -> None:
        # SPIs 1-255 are reserved by IANA (RFC 4303 §2.1); 0 is never on the wire.
        for name, spi in (("spi_in", self.spi_in), ("spi_out", self.spi_out)):
            if not 256 <= spi <= _SPI_MAX:
                raise ValueError(f"{name} must be 256..2^32-1 (RFC 4303 §2.1)")
        if not _MIN_REPLAY_WINDOW <= self.replay_window <= _MAX_REPLAY_WINDOW:
            raise ValueError(
                f"replay_window must be {_MIN_REPLAY_WINDOW}..{_MAX_REPLAY_WINDOW} packets"
            )
        if not self.local_ts or not self.remote_ts:
            raise ValueError("an SA needs at least one local and one remote traffic selector")


@dataclass(frozen=True, slots=True)
class SaStats:
    """A snapshot of one SA's traffic (inner packets and inner bytes).

    ``*_in`` counts packets that passed every inbound check and were returned
    to the caller; ``*_out`` packets encapsulated. ``last_in`` / ``last_out``
    are the ``now`` of the latest such packet (None before the first), for
    idle and dead-peer detection by the runtime.
    """

    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    last_in: float | None = None
    last_out: float | None = None
