"""IKEv1 against strongSwan in the lab: the real ``ikeclient up`` with ``version = 1``.

Each setup gets its own lab and gateway: Main Mode PSK + Mode Config, Main Mode PSK + XAUTH +
Mode Config, Aggressive Mode PSK with a group name as ID; each carries a ping and a TCP
transfer (sha256-checked) through the tunnel. Wrong PSK and wrong XAUTH password end with
exit code 10 and a clear message. Phase 2 rekeys by the gateway (every few seconds) during a
ping lose nothing; phase 1 renewed twice during a ping loses nothing, keeps the virtual IP,
and the connection still closes cleanly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ikeclient.net.routes import snapshot
from tests.conftest import require_root
from tests.interop.test_dataplane import TRANSFER_SEED, _transfer
from tests.lab import Lab, StrongSwanGateway
from tests.lab.ikeclient import IkeclientProcess, run_ikeclient, write_profile
from tests.lab.ikev1 import (
    DEF_DOMAIN,
    GROUP_KEY_ID,
    XAUTH_PASSWORD,
    XAUTH_USER,
    ikev1_gateway,
)

pytestmark = pytest.mark.interop

TRANSFER = 8 * 1024 * 1024


def _password_file(lab: Lab, secret: str) -> Path:
    path = lab.workdir / f"xauth-{abs(hash(secret))}.pw"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def _v1_profile(lab: Lab, name: str, **settings: Any) -> Path:
    return write_profile(lab, name, version=1, **settings)


def _lab(**config: Any) -> Iterator[tuple[Lab, StrongSwanGateway]]:
    require_root()
    with Lab(nat_random_ports=True) as lab:
        gw = lab.start_gateway(ikev1_gateway(lab, **config))
        yield lab, gw


@pytest.fixture(scope="module")
def main_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    yield from _lab()


@pytest.fixture(scope="module")
def xauth_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    yield from _lab(xauth=True)


@pytest.fixture(scope="module")
def aggressive_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    yield from _lab(aggressive=True)


def _traffic(lab: Lab, gw: StrongSwanGateway, client: IkeclientProcess) -> None:
    client.wait_for_output("tunnel up", timeout=20)
    assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=8)
    expected = hashlib.sha256(random.Random(TRANSFER_SEED).randbytes(TRANSFER)).hexdigest()
    assert _transfer(lab, TRANSFER) == (TRANSFER, expected)
    (sa,) = gw.list_sas()
    assert sa["version"] == "1"
    (child,) = sa["children"]
    assert int(child["bytes-in"]) > TRANSFER
    assert child.get("encap") == "yes"


def _run_and_stop(lab: Lab, gw: StrongSwanGateway, profile: Path) -> str:
    before = snapshot(lab.client_ns)
    client = IkeclientProcess(lab, profile)
    try:
        _traffic(lab, gw, client)
        resolv = (lab.netns_etc(lab.client_ns) / "resolv.conf").read_text()
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    gw.wait_for_no_sa(timeout=5)  # our Deletes arrived (phase 2, then phase 1)
    assert snapshot(lab.client_ns) == before
    return client.stdout + resolv


def test_main_mode_psk_mode_config(main_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = main_lab
    out = _run_and_stop(lab, gw, _v1_profile(lab, "mm"))
    assert "Main Mode AES_CBC_256/HMAC_SHA2_256/MODP2048" in out
    assert "virtual IP 198.18.200." in out
    assert "routes           " in out and lab.server_subnet in out
    assert DEF_DOMAIN in out  # UNITY_DEF_DOMAIN reached resolv.conf


def test_main_mode_gcm_esp(main_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = main_lab
    out = _run_and_stop(lab, gw, _v1_profile(lab, "gcm", esp_proposals=["aes128gcm16"]))
    assert "AES_GCM_16_128" in out


def test_wrong_psk_is_a_clear_error(main_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, _ = main_lab
    profile = _v1_profile(lab, "badpsk", psk="not-the-right-key")
    client = run_ikeclient(lab, profile, timeout=30)
    assert client.proc.returncode == 10, client.stdout + client.stderr
    assert "pre-shared key" in client.stderr
    assert "Traceback" not in client.stderr


def test_main_mode_xauth_mode_config(xauth_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = xauth_lab
    profile = _v1_profile(
        lab,
        "xauth",
        xauth_user=XAUTH_USER,
        xauth_password_file=str(_password_file(lab, XAUTH_PASSWORD)),
    )
    out = _run_and_stop(lab, gw, profile)
    assert "XAUTH" in out and f"authenticated as {XAUTH_USER}" in out
    assert XAUTH_PASSWORD not in out


def test_wrong_xauth_password_is_a_clear_error(xauth_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = xauth_lab
    profile = _v1_profile(
        lab,
        "badxauth",
        xauth_user=XAUTH_USER,
        xauth_password_file=str(_password_file(lab, "wrong-password")),
    )
    client = run_ikeclient(lab, profile, timeout=60)
    assert client.proc.returncode == 10, client.stdout + client.stderr
    assert "XAUTH" in client.stderr
    assert "wrong-password" not in client.stdout + client.stderr
    gw.wait_for_no_sa(timeout=10)


def test_aggressive_mode_group_name(aggressive_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = aggressive_lab
    profile = _v1_profile(lab, "aggr", mode="aggressive", local_id=f"keyid:{GROUP_KEY_ID}")
    client = IkeclientProcess(lab, profile)
    try:
        _traffic(lab, gw, client)
        (sa,) = gw.list_sas()
        assert sa["remote-id"] == "RA-GROUP"
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    assert "Aggressive Mode" in client.stdout
    assert "offline" in client.stderr  # the Aggressive Mode + PSK warning


def _ping(lab: Lab, count: int, interval: str, deadline: int) -> tuple[bool, str]:
    """A bounded ping through the tunnel: (no reply lost, ping's summary)."""
    res = lab.run(
        lab.client_ns,
        ["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "2", "-w", str(deadline),
         lab.server_addr],
        timeout=deadline + 10,
    )  # fmt: skip
    return res.returncode == 0 and " 0% packet loss" in res.stdout, res.stdout


def test_phase2_rekey_during_ping_loses_nothing() -> None:
    """The gateway rekeys every 3-4 s during a 25 s ping at 10/s: we install at HASH(2)."""
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway(
            ikev1_gateway(
                lab, child_rekey_time="4s", child_life_time="30s", child_extra={"rand_time": "1s"}
            )
        )
        client = IkeclientProcess(lab, _v1_profile(lab, "rekey"))
        try:
            client.wait_for_output("tunnel up", timeout=20)
            first = gw.list_sas()[0]["children"][0]["spi-in"]
            loss_free, summary = _ping(lab, 250, "0.1", 35)
            spis = [c["spi-in"] for sa in gw.list_sas() for c in sa["children"]]
        finally:
            code = client.stop()
        assert loss_free, summary + client.stdout  # the summary says which SA dropped what
        assert code == 0, client.stdout + client.stderr
        assert spis and first not in spis  # rekeyed (the old SA is gone)
        # the first SA, then at least five rekeys
        assert client.stdout.count("SPIs in") == 1, client.stdout
        assert client.stdout.count("child rekey") >= 5, client.stdout


@pytest.mark.parametrize("xauth", [False, True], ids=["psk", "xauth"])
def test_phase1_renewed_twice_during_ping_loses_nothing(xauth: bool) -> None:
    """``ike_lifetime = 60``: renewals at about 52 s and 104 s, during a 115 s ping.

    strongSwan adopts the IPsec SAs and the virtual IP into the new IKE_SA ("detected reauth
    of existing IKE_SA, adopting 1 children ... and 1 virtual IPs"), with the default
    ``unique`` (PSK case) and with ``unique = replace`` (XAUTH case); XAUTH runs again on
    every new ISAKMP SA.
    """
    require_root()
    with Lab() as lab:
        unique = {"unique": "replace"} if xauth else {}
        gw = lab.start_gateway(ikev1_gateway(lab, xauth=xauth, connection_extra=unique))
        extra: dict[str, Any] = {}
        if xauth:
            extra = {
                "xauth_user": XAUTH_USER,
                "xauth_password_file": str(_password_file(lab, XAUTH_PASSWORD)),
            }
        client = IkeclientProcess(lab, _v1_profile(lab, "renew", ike_lifetime=60, **extra))
        try:
            client.wait_for_output("tunnel up", timeout=20)
            (sa,) = gw.list_sas()
            vips, first_spi = sa.get("remote-vips"), sa["initiator-spi"]
            loss_free, summary = _ping(lab, 575, "0.2", 125)
            sas = gw.list_sas()
        finally:
            code = client.stop()
        out = client.stdout + client.stderr
        assert loss_free, summary + out
        assert code == 0, out
        assert client.stdout.count("renewed: ISAKMP SA") >= 2, out
        (now,) = sas  # the old ISAKMP SAs are gone
        assert now["initiator-spi"] != first_spi and now.get("remote-vips") == vips
        assert now["children"], now  # the IPsec SA lives on in the new IKE_SA
        gw.wait_for_no_sa(timeout=5)  # closed cleanly: our Deletes arrived
