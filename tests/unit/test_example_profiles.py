"""Every example profile in profiles/ loads, and says which gateway settings it matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from ikeclient.config.profile import load_profile

PROFILES = sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.toml"))


def test_there_are_examples_for_common_gateways() -> None:
    names = {p.name for p in PROFILES}
    for expected in (
        "lab.toml",
        "strongswan-roadwarrior.toml",
        "libreswan.toml",
        "cisco-ikev1-xauth.toml",
        "fortigate-ikev2.toml",
        "pfsense-opnsense.toml",
        "mikrotik.toml",
    ):
        assert expected in names


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_example_profile(path: Path) -> None:
    text = path.read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "Gateway side" in header  # each example names the gateway settings it matches
    prof = load_profile(path)
    assert prof.ike_proposals and prof.esp_proposals
    if path.name == "cisco-ikev1-xauth.toml":
        assert (prof.version, prof.mode, prof.xauth_user) == (1, "aggressive", "jdoe")
        assert prof.warnings  # Aggressive Mode with a PSK
