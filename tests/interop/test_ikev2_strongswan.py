"""ikeclient's IKEv2 initiator against a real strongSwan gateway, through the lab's NAT.

Each test runs the real command (``python -m ikeclient up PROFILE``) in the client namespace
and checks the outcome on the gateway's side with ``swanctl --list-sas``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, SaInfo, StrongSwanGateway
from tests.lab.ikeclient import IkeclientProcess, run_ikeclient, write_profile

pytestmark = pytest.mark.interop

GATEWAY_IKE = (
    "aes256gcm16-prfsha256-ecp256",
    "aes128-sha256-modp2048",
    "chacha20poly1305-prfsha256-x25519",
)
GATEWAY_ESP = ("aes256gcm16", "aes128-sha256")


@pytest.fixture(scope="module")
def gw_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig(ike_proposals=GATEWAY_IKE, esp_proposals=GATEWAY_ESP))
        yield lab, gw


def _only_sa(sas: list[SaInfo]) -> SaInfo:
    assert len(sas) == 1, sas
    return sas[0]


def _one_line_error(client: IkeclientProcess) -> str:
    err = client.stderr.strip()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ikeclient: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("ike", "esp", "expect_ike", "expect_esp"),
    [
        (
            "aes256gcm16-prfsha256-ecp256",
            "aes256gcm16",
            {"encr-alg": "AES_GCM_16", "encr-keysize": "256", "dh-group": "ECP_256"},
            {"encr-alg": "AES_GCM_16", "encr-keysize": "256"},
        ),
        (
            "aes128-sha256-modp2048",
            "aes128-sha256",
            {"encr-alg": "AES_CBC", "integ-alg": "HMAC_SHA2_256_128", "dh-group": "MODP_2048"},
            {"encr-alg": "AES_CBC", "encr-keysize": "128", "integ-alg": "HMAC_SHA2_256_128"},
        ),
        (
            "chacha20poly1305-prfsha256-x25519",
            "aes128-sha256",
            {"encr-alg": "CHACHA20_POLY1305", "dh-group": "CURVE_25519"},
            {"encr-alg": "AES_CBC", "integ-alg": "HMAC_SHA2_256_128"},
        ),
        (
            "aes128-sha256-modp2048",
            "aes256gcm16",
            {"encr-alg": "AES_CBC", "prf-alg": "PRF_HMAC_SHA2_256"},
            {"encr-alg": "AES_GCM_16"},
        ),
    ],
)
def test_ike_and_child_sa_established_through_nat(
    gw_lab: tuple[Lab, StrongSwanGateway],
    ike: str,
    esp: str,
    expect_ike: dict[str, str],
    expect_esp: dict[str, str],
) -> None:
    lab, gw = gw_lab
    profile = write_profile(lab, ike_proposals=[ike], esp_proposals=[esp])
    client = IkeclientProcess(lab, profile, "-v")
    try:
        client.wait_for_output("child SA")
        sa = _only_sa(gw.wait_for_sa())
        # The gateway sees the client behind the NAT, on UDP 4500, with a virtual IP.
        assert sa["state"] == "ESTABLISHED"
        assert sa["remote-host"] == lab.nat_outside_addr
        assert sa["local-port"] == "4500"
        assert sa.get("nat-remote") == "yes" or sa.get("nat-any") == "yes", sa
        vips: list[Any] = sa.get("remote-vips", [])
        assert len(vips) == 1 and vips[0].startswith("198.18.200."), sa
        assert sa["remote-id"] == "client@ike.lab"
        for key, value in expect_ike.items():
            assert sa.get(key) == value, (key, sa)
        (child,) = sa["children"]
        assert child["state"] == "INSTALLED"
        assert child.get("encap") == "yes"
        for key, value in expect_esp.items():
            assert child.get(key) == value, (key, child)
        assert child["remote-ts"] == [f"{vips[0]}/32"]
        assert child["local-ts"] == [lab.server_subnet]
        # What the client printed matches what the gateway installed.
        assert f"virtual IP {vips[0]}," in client.stdout
        assert f"out {child['spi-in']}" in client.stdout
        assert f"in {child['spi-out']}" in client.stdout
    finally:
        code = client.stop()
    # SIGTERM: the client sent a Delete, the gateway's SA list is empty again.
    assert code == 0, client.stdout + client.stderr
    gw.wait_for_no_sa(timeout=5)
    assert "closed by user" in client.stdout


def test_wrong_psk_is_an_authentication_error(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    profile = write_profile(lab, "wrongpsk", psk="not-the-gateway-psk")
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 10, client.stdout + client.stderr
    assert "authentication" in _one_line_error(client)
    gw.wait_for_no_sa(timeout=5)


def test_gateway_identity_mismatch_is_refused(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    # IDr not sent: the gateway authenticates as gw.ike.lab, and the client refuses it.
    profile = write_profile(lab, "otherid", remote_id="other.ike.lab", send_remote_id=False)
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 11, client.stdout + client.stderr
    line = _one_line_error(client)
    assert "gw.ike.lab" in line and "other.ike.lab" in line
    gw.wait_for_no_sa(timeout=5)


def test_gateway_refuses_a_wrong_idr(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    profile = write_profile(lab, "wrongidr", remote_id="other.ike.lab")
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 10, client.stdout + client.stderr
    _one_line_error(client)
    gw.wait_for_no_sa(timeout=5)


def test_no_proposal_chosen(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, _ = gw_lab
    profile = write_profile(lab, "noprop", ike_proposals=["aes192-sha512-ecp384"])
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 12, client.stdout + client.stderr
    assert "AES_CBC_192" in _one_line_error(client)


def test_esp_no_proposal_chosen(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    profile = write_profile(lab, "noesp", esp_proposals=["aes192-sha512"])
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 12, client.stdout + client.stderr
    assert "ESP proposals" in _one_line_error(client)
    gw.wait_for_no_sa(timeout=5)


def test_ts_unacceptable(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    profile = write_profile(lab, "badts", remote_ts=["198.18.99.0/24"])
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 13, client.stdout + client.stderr
    assert "198.18.99.0/24" in _one_line_error(client)
    gw.wait_for_no_sa(timeout=5)


def test_unreachable_gateway(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, _ = gw_lab
    # 198.18.2.99 is on the transit link but nothing answers there.
    profile = write_profile(
        lab, "unreach", gateway="198.18.2.99", retransmit={"timeout": 0.2, "tries": 2}
    )
    client = run_ikeclient(lab, profile)
    assert client.proc.returncode == 14, client.stdout + client.stderr
    assert "did not answer" in _one_line_error(client)


def test_invalid_ke_retry_with_the_gateways_group(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    # First proposal's group (ecp384) is unknown to the gateway's config; it asks for ecp256.
    profile = write_profile(
        lab,
        "invalidke",
        ike_proposals=["aes256gcm16-prfsha256-ecp384-ecp256"],
        esp_proposals=["aes256gcm16"],
    )
    client = IkeclientProcess(lab, profile, "--once", "-v")
    code = client.wait()
    assert code == 0, client.stdout + client.stderr
    assert "asked for key exchange group 19" in client.stderr
    assert "ECP256" in client.stdout
    gw.wait_for_no_sa(timeout=5)
