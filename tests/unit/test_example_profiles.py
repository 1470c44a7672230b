"""Every example profile in profiles/ loads, and says which gateway settings it matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from ikeclient.config.profile import load_profile
from ikeclient.errors import ConfigError

PROFILES = sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.toml"))
NEEDS_IKEV1 = {"cisco-ikev1-xauth.toml"}


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
    if path.name in NEEDS_IKEV1:
        with pytest.raises(ConfigError, match="IKE version 1 is not supported yet"):
            load_profile(path)
        return
    prof = load_profile(path)
    assert prof.ike_proposals and prof.esp_proposals
