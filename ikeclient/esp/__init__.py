"""The userspace ESP data plane (RFC 4303 tunnel mode, RFC 3948 UDP encapsulation), sans-I/O.

:class:`EspEngine` turns inner IP packets into ESP packets and back for the
installed child SAs; :class:`EspSaConfig` describes one SA; the anti-replay
window lives in :mod:`.replay`, the per-direction ciphers in :mod:`.cipher`,
TCP MSS clamping in :mod:`.mss`.
"""

from ikeclient.esp.engine import DropReason, EspEngine
from ikeclient.esp.events import EspEvent, HardExpired, SequenceExhausted, SoftExpired
from ikeclient.esp.mss import clamp_mss
from ikeclient.esp.replay import ReplayWindow
from ikeclient.esp.sa import EspSaConfig, SaStats
from ikeclient.esp.selectors import Selector

__all__ = [
    "DropReason",
    "EspEngine",
    "EspEvent",
    "EspSaConfig",
    "HardExpired",
    "ReplayWindow",
    "SaStats",
    "Selector",
    "SequenceExhausted",
    "SoftExpired",
    "clamp_mss",
]
