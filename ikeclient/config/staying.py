"""Profile keys for staying connected: lifetimes, liveness checks, roaming, reconnecting.

Flat keys::

    dpd_delay = 30               # seconds without anything from the gateway before a check
    dpd_timeout = 0              # give up on an unanswered request after this (0: the
                                 # retransmission schedule decides)
    dead_peer_after = 10         # ESP went out and nothing came back this long: check now
    dead_peer_timeout = 10       # that check's tries go out at 0, 2, 4, 8 s; lost after this
    mobike = true                # RFC 4555: follow address changes without reconnecting
    reconnect = true             # after the gateway is lost, connect again by itself
    on_gateway_delete = "reconnect"  # or "exit": when the gateway deletes our IKE SA
    reconnect_keep_tunnel = true # keep TUN, routes and DNS while reconnecting
    reconnect_max_delay = 60     # backoff between attempts: 1, 2, 4, ... up to this
    rekey_grace = 2              # seconds an old inbound SA still takes packets

and a ``[lifetimes]`` table with strongSwan's names and defaults (``rekey_time`` 4 h for
the IKE SA, 1 h for child SAs, hard limits 110 % of those, 10 % jitter)::

    [lifetimes]
    ike_rekey_time = "4h"        # numbers are seconds; strings take s, m, h, d
    ike_life_time = "4h24m"      # hard limit (default 1.1 x the rekey time)
    reauth_time = 0              # 0: reauthenticate only when the gateway asks (RFC 4478)
    child_rekey_time = "1h"
    child_life_time = "66m"
    child_rekey_bytes = 0        # soft limits in bytes and packets (0: none)
    child_life_bytes = 0
    child_rekey_packets = 0
    child_life_packets = 0
    jitter = 0.1                 # rekey up to this share of the rekey time early
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ikeclient.errors import ConfigError
from ikeclient.ike.v2.settings import Lifetimes

GatewayDeleteAction = Literal["reconnect", "exit"]

FLAT_KEYS = frozenset(
    {
        "dpd_delay",
        "dpd_timeout",
        "dead_peer_after",
        "dead_peer_timeout",
        "mobike",
        "reconnect",
        "on_gateway_delete",
        "reconnect_keep_tunnel",
        "reconnect_max_delay",
        "rekey_grace",
        "lifetimes",
    }
)
_LIFETIME_KEYS = (
    "ike_rekey_time",
    "ike_life_time",
    "reauth_time",
    "child_rekey_time",
    "child_life_time",
    "child_rekey_bytes",
    "child_life_bytes",
    "child_rekey_packets",
    "child_life_packets",
    "jitter",
)
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$")  # fmt: skip
_UNITS = (86400.0, 3600.0, 60.0, 1.0)


@dataclass(frozen=True, slots=True)
class StayingConnected:
    """What the profile says about lifetimes, liveness, roaming and reconnecting."""

    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    dpd_delay: float = 30.0
    dpd_timeout: float = 0.0
    dead_peer_after: float = 10.0
    dead_peer_timeout: float = 10.0
    mobike: bool = True
    reconnect: bool = True
    on_gateway_delete: GatewayDeleteAction = "reconnect"
    reconnect_keep_tunnel: bool = True
    reconnect_max_delay: float = 60.0
    rekey_grace: float = 2.0


def parse_duration(value: object) -> float:
    """Seconds from a number or a strongSwan-style string ("90", "20s", "1h30m", "4h")."""
    if isinstance(value, bool):
        raise ConfigError("expected seconds (a number, or a string like '20s', '4h')")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        seconds = sum(float(g) * u for g, u in zip(m.groups(), _UNITS, strict=True) if g)
    else:
        raise ConfigError(f"{value!r} is not a duration (seconds, or like '20s', '1h30m')")
    if seconds < 0:
        raise ConfigError("a duration cannot be negative")
    return seconds


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError("expected a whole number >= 0")
    return value


def parse_staying(table: dict[str, Any], where: str) -> StayingConnected:
    """Validate the staying-connected keys of a profile table (errors name file and key)."""
    default = StayingConnected()

    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {reason}")

    def duration(key: str, fallback: float) -> float:
        if key not in table:
            return fallback
        try:
            return parse_duration(table[key])
        except ConfigError as exc:
            raise fail(key, str(exc)) from None

    def flag(key: str, fallback: bool) -> bool:
        value = table.get(key, fallback)
        if not isinstance(value, bool):
            raise fail(key, f"expected bool, got {type(value).__name__}")
        return value

    def on_gateway_delete() -> GatewayDeleteAction:
        value = table.get("on_gateway_delete", default.on_gateway_delete)
        if value == "reconnect":
            return "reconnect"
        if value == "exit":
            return "exit"
        raise fail("on_gateway_delete", f'expected "reconnect" or "exit", got {value!r}')

    lifetimes = Lifetimes()
    raw = table.get("lifetimes")
    if raw is not None:
        if not isinstance(raw, dict):
            raise fail("lifetimes", "expected a table")
        unknown = sorted(set(raw) - set(_LIFETIME_KEYS))
        if unknown:
            raise fail(
                f"lifetimes: {unknown[0]}", f"unknown key (known: {', '.join(_LIFETIME_KEYS)})"
            )
        values: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                if key == "jitter":
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise ConfigError("expected a number between 0 and 0.5")
                    if not 0 <= value <= 0.5:
                        raise ConfigError("expected a number between 0 and 0.5")
                    values[key] = float(value)
                elif key.endswith(("_bytes", "_packets")):
                    values[key] = _count(value)
                else:
                    values[key] = parse_duration(value)
            except ConfigError as exc:
                raise fail(f"lifetimes: {key}", str(exc)) from None
        lifetimes = Lifetimes(**values)
        for soft, hard in (
            ("ike_rekey_time", lifetimes.ike_hard),
            ("child_rekey_time", lifetimes.child_hard),
        ):
            value = getattr(lifetimes, soft)
            if hard and value and hard < value:
                raise fail(f"lifetimes: {soft}", "the hard lifetime (life_time) is shorter")
    staying = StayingConnected(
        lifetimes=lifetimes,
        dpd_delay=duration("dpd_delay", default.dpd_delay),
        dpd_timeout=duration("dpd_timeout", default.dpd_timeout),
        dead_peer_after=duration("dead_peer_after", default.dead_peer_after),
        dead_peer_timeout=duration("dead_peer_timeout", default.dead_peer_timeout),
        mobike=flag("mobike", default.mobike),
        reconnect=flag("reconnect", default.reconnect),
        on_gateway_delete=on_gateway_delete(),
        reconnect_keep_tunnel=flag("reconnect_keep_tunnel", default.reconnect_keep_tunnel),
        reconnect_max_delay=duration("reconnect_max_delay", default.reconnect_max_delay),
        rekey_grace=duration("rekey_grace", default.rekey_grace),
    )
    if staying.reconnect_max_delay < 1:
        raise fail("reconnect_max_delay", "must be at least 1 second")
    if staying.dead_peer_timeout < 1:
        raise fail("dead_peer_timeout", "must be at least 1 second")
    return staying
