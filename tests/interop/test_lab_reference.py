"""The lab harness verified with strongSwan on both ends (gateway and reference initiator)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.lab import (
    ClientConfig,
    GatewayConfig,
    Lab,
    lab_namespaces,
    parse_connect_timings,
    parse_vici_pretty,
)

REPO = Path(__file__).resolve().parents[2]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- parsers (no root needed) ------------------------------------------------------------------

PRETTY = """\
list-sa event {
  lab {
    uniqueid = 1
    state = ESTABLISHED
    local-port = 4500
    remote-vips = [
      198.18.200.1
    ]
    child-sas {
      net-1 {
        name = net
        state = INSTALLED
        local-ts = [
          198.18.3.0/24
        ]
      }
    }
  }
}
list-sas reply {
}
"""


def test_parse_vici_pretty() -> None:
    messages = parse_vici_pretty(PRETTY)
    assert [label for label, _ in messages] == ["list-sa event", "list-sas reply"]
    sa = messages[0][1]["lab"]
    assert sa["state"] == "ESTABLISHED"
    assert sa["remote-vips"] == ["198.18.200.1"]
    assert sa["child-sas"]["net-1"]["local-ts"] == ["198.18.3.0/24"]


def test_parse_connect_timings() -> None:
    log = """\
1700000000.100 05[IKE] <lab|1> initiating IKE_SA lab[1] to 198.18.2.2
1700000000.101 05[ENC] <lab|1> generating IKE_SA_INIT request 0 [ SA KE No ]
1700000000.102 05[NET] <lab|1> sending packet: from 198.18.1.2[500] to 198.18.2.2[500]
1700000000.106 07[IKE] <lab|1> CHILD_SA net{1} established with SPIs c1_i c2_o
1700000000.200 05[ENC] <lab|2> generating IKE_SA_INIT request 0 [ SA KE No ]
1700000000.201 05[NET] <lab|2> sending packet: from 198.18.1.2[500] to 198.18.2.2[500]
"""
    (timing,) = parse_connect_timings(log)
    assert timing.sa_id == 1
    assert timing.duration_ms == 4
    assert timing.duration == 0.004


# -- the lab -------------------------------------------------------------------------------------


@pytest.mark.interop
def test_server_unreachable_without_tunnel(lab: Lab) -> None:
    assert lab.ping(lab.client_ns, lab.nat_inside_addr)
    assert lab.ping(lab.client_ns, lab.gateway_addr), "client reaches the gateway via the NAT"
    assert lab.ping(lab.gateway_ns, lab.server_addr)
    assert not lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
    assert not lab.ping(lab.nat_ns, lab.server_addr, count=1, wait=1, deadline=2)


@pytest.mark.interop
def test_reference_client_through_nat(lab: Lab) -> None:
    gw = lab.start_gateway(GatewayConfig())
    ref = lab.start_reference_client(ClientConfig())
    ref.initiate(child="net")

    (sa,) = gw.wait_for_sa(timeout=10)
    assert sa["name"] == "lab"
    assert sa["state"] == "ESTABLISHED"
    assert sa["local-host"] == lab.gateway_addr
    assert sa["local-port"] == "4500"
    assert sa["remote-host"] == lab.nat_outside_addr  # the gateway sees the NAT
    assert sa["remote-port"].isdigit()
    assert sa.get("nat-remote") == "yes"
    (vip,) = sa["remote-vips"]
    assert ipaddress.ip_address(vip) in ipaddress.ip_network(lab.pool)
    (child,) = sa["children"]
    assert child["name"] == "net"
    assert child["state"] == "INSTALLED"
    assert child["encap"] == "yes"
    assert child["protocol"] == "ESP"
    assert child["encr-alg"] == "AES_GCM_16"
    assert child["local-ts"] == [lab.server_subnet]
    assert child["remote-ts"] == [f"{vip}/32"]
    assert len(child["spi-in"]) == 8
    assert len(child["spi-out"]) == 8

    (ref_sa,) = ref.list_sas()
    assert ref_sa["local-vips"] == [vip]
    assert ref_sa["remote-host"] == lab.gateway_addr
    assert ref_sa["remote-port"] == "4500"
    assert ref.virtual_ips() == [vip]

    assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=10)
    (sa,) = gw.list_sas()
    assert int(sa["children"][0]["packets-in"]) >= 3
    assert int(sa["children"][0]["packets-out"]) >= 3

    ref.terminate()
    gw.wait_for_no_sa(timeout=10)
    assert ref.list_sas() == []
    assert not lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
    assert "CHILD_SA net{1} established" in gw.log_text()
    assert "gateway" in lab.dump_logs()


@pytest.mark.interop
def test_reference_client_repeated_connects(lab: Lab) -> None:
    gw = lab.start_gateway(GatewayConfig())
    ref = lab.start_reference_client(ClientConfig())
    walls = []
    for _ in range(3):
        walls.append(ref.initiate())
        gw.wait_for_sa(timeout=10)
        ref.terminate()
        gw.wait_for_no_sa(timeout=10)
    timings = ref.connect_timings()
    assert len(timings) == 3
    assert all(0 <= t.duration < 1.0 for t in timings)
    assert all(0 < w < 5.0 for w in walls)


@pytest.mark.interop
def test_teardown_leaves_nothing() -> None:
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway()
        ref = lab.start_reference_client()
        ref.initiate()
        prefix, workdir = lab.prefix, lab.workdir
        assert len(lab_namespaces(prefix)) == 4
        assert gw.proc is not None and ref.proc is not None
        pids = [gw.proc.pid, ref.proc.pid]
    assert lab_namespaces(prefix) == []
    assert not any(_pid_alive(pid) for pid in pids)
    assert not workdir.exists()
    assert lab.errors == []


@pytest.mark.interop
def test_teardown_on_exception() -> None:
    require_root()
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        lab.start_gateway()
        prefix = lab.prefix
        raise RuntimeError("boom")
    assert lab_namespaces(prefix) == []


@pytest.mark.interop
def test_teardown_on_sigterm() -> None:
    require_root()
    script = textwrap.dedent(
        """
        import sys, time
        from tests.lab import Lab
        with Lab() as lab:
            gw = lab.start_gateway()
            print(lab.prefix, gw.proc.pid, flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        prefix, charon_pid = proc.stdout.readline().split()
        assert len(lab_namespaces(prefix)) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert lab_namespaces(prefix) == []
    assert not _pid_alive(int(charon_pid))
