"""Profiles: validation at load, errors that name the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ikeclient.cli.profiles import describe
from ikeclient.config.profile import connection_settings, load_profile, read_secret_file
from ikeclient.errors import ConfigError
from ikeclient.ike.identity import Identity, IdentityType
from ikeclient.ike.v1.settings import Ikev1Settings

GOOD = """
gateway = "198.18.2.2"
local_id = "client@ike.lab"
remote_id = "gw.ike.lab"
psk_file = "lab.psk"
ike_proposals = ["aes256gcm16-prfsha256-ecp256"]
esp_proposals = ["aes256gcm16"]
remote_ts = ["198.18.3.0/24"]

[retransmit]
timeout = 0.5
tries = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(text)
    return path


def test_good_profile(tmp_path: Path) -> None:
    prof = load_profile(write(tmp_path, GOOD))
    assert prof.name == "lab"
    assert prof.gateway == "198.18.2.2" and prof.port == 500
    assert prof.local_id == Identity(IdentityType.ID_RFC822_ADDR, b"client@ike.lab")
    assert prof.remote_id == Identity(IdentityType.ID_FQDN, b"gw.ike.lab")
    assert prof.psk_file == tmp_path / "lab.psk"
    assert str(prof.remote_ts[0]) == "198.18.3.0/24"
    assert prof.retransmit.timeout == 0.5 and prof.retransmit.tries == 2
    assert prof.retransmit.base == 1.8
    # Fail-closed defaults (issue 11): a full tunnel stays full, IPv6 blocked beside it.
    assert not prof.accept_split and prof.block_ipv6
    assert [str(n) for n in prof.remote_networks] == ["198.18.3.0/24"]


def test_full_tunnel_keys(tmp_path: Path) -> None:
    text = GOOD.replace('["198.18.3.0/24"]', '["0.0.0.0/0", "::/0"]')
    prof = load_profile(write(tmp_path, "accept_split = true\nblock_ipv6 = false\n" + text))
    assert prof.accept_split and not prof.block_ipv6
    assert [str(n) for n in prof.remote_networks] == ["0.0.0.0/0", "::/0"]
    line = next(x for x in describe(prof) if "traffic to" in x)
    assert line.endswith("(full tunnel: follows the gateway's split subnets)")
    prof = load_profile(write(tmp_path, text))
    line = next(x for x in describe(prof) if "traffic to" in x)
    assert line.endswith("(full tunnel: stays full, IPv6 unreachable without an IPv6 address)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gatewy = 'x'\n" + GOOD, "lab.toml: gatewy: unknown key"),
        (GOOD.replace('gateway = "198.18.2.2"', ""), "lab.toml: gateway: missing"),
        (GOOD.replace('"aes256gcm16"]', '"aes256gcm17"]'), r"esp_proposals\[0\]: .*'aes256gcm17'"),
        (GOOD.replace('["198.18.3.0/24"]', '["198.18.3.0/33"]'), r"remote_ts\[0\]: .*not a subnet"),
        ("port = 70000\n" + GOOD, "port: 70000 is not a UDP port"),
        ("version = 7\n" + GOOD, "version: IKE version 7 does not exist"),
        ("request_ipv6 = 'yes'\n" + GOOD, "request_ipv6: expected bool, got str"),
        ("accept_split = 1\n" + GOOD, "accept_split: expected bool, got int"),
        ("block_ipv6 = 'no'\n" + GOOD, "block_ipv6: expected bool, got str"),
        (GOOD.replace("tries = 2", "tries = 2\nbogus = 1"), "retransmit: bogus: unknown key"),
        ("gateway = [", "not valid TOML"),
    ],
)
def test_profile_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profile(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(tmp_path / "nope.toml")


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "psk"
    path.write_text("s3cret\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by other users; run: chmod 600"):
        read_secret_file(path)
    os.chmod(path, 0o600)
    assert read_secret_file(path) == b"s3cret"


def test_identity_forms() -> None:
    assert Identity.parse("198.18.2.2").id_type == IdentityType.ID_IPV4_ADDR
    assert Identity.parse("@gw.ike.lab") == Identity(IdentityType.ID_FQDN, b"gw.ike.lab")
    assert Identity.parse("keyid:0a0b").data == b"\x0a\x0b"
    assert str(Identity.parse("ipv6:2001:2::1")) == "2001:2::1"
    with pytest.raises(ConfigError):
        Identity.parse("ipv4:2001:2::1")


def test_ikev1_profile_keys(tmp_path: Path) -> None:
    path = tmp_path / "v1.toml"
    path.write_text(
        'version = 1\nmode = "aggressive"\ngateway = "198.18.2.2"\n'
        'local_id = "keyid:52412d47524f5550"\nxauth_user = "alice"\nmodecfg = "push"\n'
        "child_lifetime = 1200\ndpd_delay = 15\n"
    )
    prof = load_profile(path)
    assert prof.version == 1 and prof.mode == "aggressive" and prof.xauth_user == "alice"
    assert any("offline" in w for w in prof.warnings)
    s = connection_settings(prof, b"k", b"pw")
    assert isinstance(s, Ikev1Settings)
    assert (s.modecfg, s.child_lifetime, s.dpd_delay) == ("push", 1200, 15.0)
    assert "pw" not in repr(s) and "'k'" not in repr(s)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('version = 1\nike_proposals = ["aes256gcm16-prfsha256-ecp256"]\n', "IKEv1"),
        ('version = 1\nmode = "quick"\n', "mode"),
        ('version = 2\nxauth_user = "a"\n', "IKEv1 profiles only"),
        ("version = 3\n", "does not exist"),
    ],
)
def test_ikev1_profile_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text + 'gateway = "198.18.2.2"\nlocal_id = "me@example.org"\n')
    with pytest.raises(ConfigError, match=match):
        load_profile(path)
