"""The terminal client end to end in the lab: secret set → up --detach → status → down.

The pre-shared key goes into a file-backed keyring (keyrings.alt) from standard input, and a
running client must never show it: not in its logs at -vv, its status output, its command
line or its environment.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ikeclient.net.routes import snapshot
from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, StrongSwanGateway
from tests.lab.ikeclient import REPO_ROOT, IkeclientProcess, state_dir, write_profile
from tests.lab.strongswan import DEFAULT_PSK

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def gw_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    require_root()
    with Lab() as lab:
        yield lab, lab.start_gateway(GatewayConfig())


def cli(lab: Lab, env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return lab.run(
        lab.client_ns,
        [sys.executable, "-m", "ikeclient", *args],
        env=env,
        input=stdin,
        timeout=60,
    )


def test_secret_up_detach_status_down(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "XDG_DATA_HOME": str(lab.workdir / "data"),
        "XDG_CONFIG_HOME": str(lab.workdir / "config"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
    }
    state = str(state_dir(lab))
    profile = write_profile(lab, "cli", psk_file=None)  # the key comes from the keyring
    res = cli(lab, env, "secret", "set", "cli", stdin=DEFAULT_PSK + "\n")
    assert res.returncode == 0, res.stderr
    before = snapshot(lab.client_ns)

    res = cli(lab, env, "up", str(profile), "--detach", "-vv", "--state-dir", state)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "up in the background" in res.stdout
    pid = int(res.stdout.split("(pid ")[1].split(",")[0])
    try:
        gw.wait_for_sa()
        res = cli(lab, env, "status", "cli", "--json", "--state-dir", state)
        assert res.returncode == 0, res.stderr
        first = json.loads(res.stdout)
        assert first["state"] == "established"
        assert first["ike_sa"]["remote_identity"] == "gw.ike.lab"
        assert first["virtual_ips"][0].startswith("198.18.200.")
        assert first["routes"] == [lab.server_subnet]
        (child,) = first["child_sas"]
        assert child["algorithms"].startswith("AES_GCM_16_256")
        assert lab.ping(lab.client_ns, lab.server_addr, count=5, wait=2, deadline=10)
        time.sleep(1.5)  # the status file is refreshed every second
        res = cli(lab, env, "status", "cli", "--json", "--state-dir", state)
        second = json.loads(res.stdout)
        assert second["traffic"]["packets_out"] >= first["traffic"]["packets_out"] + 5
        assert second["traffic"]["bytes_in"] > first["traffic"]["bytes_in"]
        text = cli(lab, env, "status", "--state-dir", state)
        assert text.returncode == 0 and "child SA" in text.stdout

        # The secret is nowhere to be seen.
        psk = DEFAULT_PSK.encode()
        proc = Path(f"/proc/{pid}")
        assert psk not in (proc / "cmdline").read_bytes()
        assert psk not in (proc / "environ").read_bytes()
        assert psk not in (Path(state) / "cli.log").read_bytes()
        assert b"IKE_SA_INIT" in (Path(state) / "cli.log").read_bytes()  # -vv logged there
        for output in (res.stdout, text.stdout, res.stderr, text.stderr):
            assert DEFAULT_PSK not in output
        assert psk not in (Path(state) / "cli.json").read_bytes()
    finally:
        res = cli(lab, env, "down", "cli", "--state-dir", state)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cli: down" in res.stdout
    gw.wait_for_no_sa(timeout=5)
    assert snapshot(lab.client_ns) == before
    res = cli(lab, env, "status", "--state-dir", state)
    assert "no connection is up" in res.stdout


def test_sighup_reconnects_and_sigint_restores(gw_lab: tuple[Lab, StrongSwanGateway]) -> None:
    lab, gw = gw_lab
    before = snapshot(lab.client_ns)
    profile = write_profile(lab, "hup")
    client = IkeclientProcess(lab, profile)
    try:
        client.wait_for_output("tunnel up")
        (first,) = gw.wait_for_sa()
        client.proc.send_signal(signal.SIGHUP)
        client.wait_for_output("SIGHUP: connecting again")
        deadline = time.monotonic() + 10
        while client.stdout.count("tunnel up") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.stdout.count("tunnel up") == 2, client.stdout
        (second,) = gw.wait_for_sa()
        assert second["uniqueid"] != first["uniqueid"]  # a new IKE SA
        assert lab.ping(lab.client_ns, lab.server_addr, count=2, wait=2, deadline=5)
    finally:
        client.proc.send_signal(signal.SIGINT)
        code = client.wait(10)
    assert code == 0, client.stdout + client.stderr
    gw.wait_for_no_sa(timeout=5)
    assert snapshot(lab.client_ns) == before
