"""Profile keys for staying connected, and the runtime's roaming helpers (fake clocks)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ikeclient.config.profile import ikev2_settings, load_profile
from ikeclient.config.staying import parse_duration
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.errors import ConfigError
from ikeclient.runtime.roaming import Backoff, SuspendDetector, source_address_for

BASE = """
gateway = "198.18.2.2"
local_id = "client@ike.lab"
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "p.toml"
    path.write_text(BASE + text)
    return load_profile(path)


def test_defaults_are_strongswan_like(tmp_path: Path) -> None:
    staying = load(tmp_path, "").staying
    life = staying.lifetimes
    assert (life.ike_rekey_time, life.child_rekey_time, life.jitter) == (14400.0, 3600.0, 0.1)
    assert life.ike_hard == pytest.approx(15840.0) and life.child_hard == pytest.approx(3960.0)
    assert staying.dpd_delay == 30.0 and staying.mobike and staying.reconnect
    assert staying.reconnect_keep_tunnel and staying.rekey_grace == 2.0


def test_keys_reach_the_ike_settings(tmp_path: Path) -> None:
    profile = load(
        tmp_path,
        'dpd_delay = "10s"\ndpd_timeout = 20\nmobike = false\nreconnect = false\n'
        '[lifetimes]\nike_rekey_time = "1h"\nchild_rekey_time = "20m"\n'
        'child_life_time = "25m"\nchild_rekey_bytes = 1000000\njitter = 0.2\n',
    )
    settings = ikev2_settings(profile, b"psk")
    assert settings.dpd_delay == 10.0 and settings.dpd_timeout == 20.0 and not settings.mobike
    assert settings.lifetimes.ike_rekey_time == 3600.0
    assert settings.lifetimes.child_hard == 1500.0
    assert settings.lifetimes.child_rekey_bytes == 1_000_000
    assert not profile.staying.reconnect


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("20s", 20.0), ("4h", 14400.0), ("1h30m", 5400.0), ("2d", 172800.0),
     ("45", 45.0), ("1m 30s", 90.0)],
)  # fmt: skip
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('dpd_delay = "soon"', r"p.toml: dpd_delay: 'soon' is not a duration"),
        ("mobike = 1", "p.toml: mobike: expected bool"),
        ("[lifetimes]\nrekey = 5", "p.toml: lifetimes: rekey: unknown key"),
        ("[lifetimes]\njitter = 0.9", "lifetimes: jitter: expected a number between 0 and 0.5"),
        ("[lifetimes]\nchild_rekey_bytes = -1", "lifetimes: child_rekey_bytes: expected a whole"),
        (
            "[lifetimes]\nchild_rekey_time = 100\nchild_life_time = 50",
            "lifetimes: child_rekey_time: the hard lifetime",
        ),
        ("reconnect_max_delay = 0.5", "reconnect_max_delay: must be at least 1 second"),
        ("lifetimes = 5", "lifetimes: expected a table"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


class Clocks:
    """CLOCK_MONOTONIC and CLOCK_BOOTTIME, moved by hand."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.boot = 5000.0

    def tick(self, seconds: float, *, asleep: float = 0.0) -> None:
        self.mono += seconds
        self.boot += seconds + asleep


def test_suspend_detector_sees_sleep_and_stalls() -> None:
    clocks = Clocks()
    detector = SuspendDetector(
        interval=1.0, monotonic=lambda: clocks.mono, boottime=lambda: clocks.boot
    )
    clocks.tick(1.0)
    assert detector.check() == 0.0
    clocks.tick(1.1)  # a little late: normal
    assert detector.check() == 0.0
    clocks.tick(1.0, asleep=600.0)  # the laptop slept ten minutes
    assert detector.check() == pytest.approx(600.0)
    clocks.tick(1.0)
    assert detector.check() == 0.0
    clocks.tick(30.0)  # the process was stopped (SIGSTOP, a paused VM)
    assert detector.check() == pytest.approx(29.0)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(DeterministicRandomSource(b"b"), initial=1.0, maximum=8.0)
    delays = [backoff.next() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    for delay, base in zip(delays, bases, strict=True):
        assert 0.8 * base <= delay <= base
    backoff.reset()
    assert backoff.next() <= 1.0


def test_source_address_probe() -> None:
    assert source_address_for(socket.AF_INET, "127.0.0.1", 4500) == "127.0.0.1"


def test_recovery_keys_defaults_and_values(tmp_path: Path) -> None:
    staying = load(tmp_path, "").staying
    assert staying.on_gateway_delete == "reconnect"
    assert (staying.dead_peer_after, staying.dead_peer_timeout) == (10.0, 10.0)
    profile = load(
        tmp_path, 'on_gateway_delete = "exit"\ndead_peer_after = "5s"\ndead_peer_timeout = 20\n'
    )
    assert profile.staying.on_gateway_delete == "exit"
    settings = ikev2_settings(profile, b"psk")
    assert (settings.dead_peer_after, settings.dead_peer_timeout) == (5.0, 20.0)
    assert load(tmp_path, "dead_peer_after = 0\n").staying.dead_peer_after == 0.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('on_gateway_delete = "stay"\n', "on_gateway_delete"),
        ("on_gateway_delete = true\n", "on_gateway_delete"),
        ('dead_peer_after = "soon"\n', "dead_peer_after"),
        ("dead_peer_timeout = 0.5\n", "dead_peer_timeout"),
    ],
)
def test_recovery_keys_errors_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert "p.toml" in message and key in message


def test_profile_show_tells_the_recovery_settings(tmp_path: Path) -> None:
    from ikeclient.cli.profiles import describe  # noqa: PLC0415

    lines = describe(load(tmp_path, 'on_gateway_delete = "exit"\ndead_peer_after = 7\n'))
    text = "\n".join(lines)
    assert "when the gateway deletes the IKE SA: exit" in text
    assert "under traffic: 7 s after unanswered ESP (check 10 s)" in text
