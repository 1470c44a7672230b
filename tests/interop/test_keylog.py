"""``ikeclient up --keylog``: tshark decrypts a capture of a lab session with the key log.

dumpcap captures on the NAT's outside interface (ESP in UDP 4500 between the NAT and the
gateway, addresses already rewritten); the key log is exported as Wireshark UAT files into
a private configuration directory and tshark, pointed at it, must show the inner ICMP
echoes between the virtual IP and the server and the decrypted IKE_AUTH identities. The
same capture without the keys must show neither, so the test can fail.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, LabError, StrongSwanGateway
from tests.lab.ikeclient import IkeclientProcess, write_profile

pytestmark = pytest.mark.interop

CAPTURE_SECONDS = 60  # dumpcap's own safety net; the test stops it long before


@pytest.fixture(scope="module")
def gw_lab() -> Iterator[tuple[Lab, StrongSwanGateway]]:
    require_root()
    for tool in ("dumpcap", "tshark"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run scripts/setup.sh (Debian package tshark)")
    with Lab() as lab:
        gw = lab.start_gateway(
            GatewayConfig(
                ike_proposals=("aes256gcm16-prfsha256-ecp256", "aes128-sha256-modp2048"),
                esp_proposals=("aes256gcm16", "aes128-sha256"),
            )
        )
        yield lab, gw


class Capture:
    """dumpcap on one interface of a lab namespace, writing a classic pcap file."""

    def __init__(self, lab: Lab, ns: str, interface: str, path: Path) -> None:
        self.lab = lab
        self.path = path
        self.proc = lab.popen(
            ns,
            [
                "dumpcap",
                "-i",
                interface,
                "-P",
                "-w",
                str(path),
                "-a",
                f"duration:{CAPTURE_SECONDS}",
                "-f",
                "udp",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stderr: list[str] = []
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            if line.startswith("Capturing on"):
                self._started.set()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._started.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"dumpcap did not start:\n{self.stderr}")
        time.sleep(0.3)  # "Capturing on" comes as the capture opens; let it settle

    def stop(self, settle: float = 1.0, timeout: float = 10.0) -> None:
        """Let the last packets reach the file, then SIGTERM by PID; the file must be there.

        The kernel hands captured packets to dumpcap in blocks retired on a timer, and
        packets still in the kernel when dumpcap stops are lost: wait until the file has
        not grown for ``settle`` seconds (at most ``timeout``).
        """
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline and self.proc.poll() is None:
            now_size = self.path.stat().st_size if self.path.exists() else -1
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= settle:
                break
            time.sleep(0.1)
        self.lab.stop_process(self.proc)
        self._reader.join(timeout=2)
        if not self.path.exists():
            raise LabError(f"dumpcap wrote no {self.path}:\n{self.stderr}")


def tshark(
    lab: Lab, pcap: Path, config_dir: Path, *args: str, decode_esp: bool = False
) -> list[list[str]]:
    """``tshark -r PCAP ARGS`` with ``config_dir`` as its whole configuration; field rows."""
    argv = ["tshark", "-n", "-r", str(pcap)]
    if decode_esp:
        argv += ["-o", "esp.enable_encryption_decode:TRUE"]
    res = lab.run(
        lab.nat_ns,
        [*argv, *args],
        env={"WIRESHARK_CONFIG_DIR": str(config_dir)},
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return [line.split("\t") for line in res.stdout.splitlines() if line]


def icmp_echoes(lab: Lab, pcap: Path, config_dir: Path, **kw: Any) -> Counter[tuple[str, ...]]:
    """(inner source, inner destination, ICMP type) of every ICMP packet tshark shows."""
    rows = tshark(
        lab,
        pcap,
        config_dir,
        "-Y",
        "icmp",
        "-T",
        "fields",
        "-E",
        "occurrence=l",  # the innermost IP header: the tunnelled packet
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "icmp.type",
        **kw,
    )
    return Counter(tuple(r) for r in rows)


def ike_identities(lab: Lab, pcap: Path, config_dir: Path) -> set[str]:
    """Identities tshark shows in decrypted IKE payloads."""
    rows = tshark(
        lab,
        pcap,
        config_dir,
        "-Y",
        "isakmp.enc.decrypted",
        "-T",
        "fields",
        "-E",
        "aggregator=;",
        "-e",
        "isakmp.id.data.fqdn",
        "-e",
        "isakmp.id.data.user_fqdn",
    )
    return {name for row in rows for field in row for name in field.split(";") if name}


@pytest.mark.parametrize(
    ("ike", "esp"),
    [
        ("aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
        ("aes128-sha256-modp2048", "aes128-sha256"),
    ],
)
def test_tshark_decrypts_a_capture_with_the_keylog(
    gw_lab: tuple[Lab, StrongSwanGateway], ike: str, esp: str
) -> None:
    from ikeclient.runtime.keylog import export_wireshark_uat  # noqa: PLC0415

    lab, gw = gw_lab
    name = esp.replace("-", "_")
    pcap = lab.workdir / f"{name}.pcap"
    keylog = lab.workdir / f"{name}.keys"
    profile = write_profile(lab, f"kl_{name}", ike_proposals=[ike], esp_proposals=[esp])

    capture = Capture(lab, lab.nat_ns, lab.nat_outside_if, pcap)
    try:
        capture.wait_started()
        client = IkeclientProcess(lab, profile, "--keylog", str(keylog))
        try:
            client.wait_for_output("tunnel up")
            (sa,) = gw.list_sas()
            vip = sa["remote-vips"][0]
            assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2, deadline=10)
        finally:
            code = client.stop()
        assert code == 0, client.stdout + client.stderr
        gw.wait_for_no_sa(timeout=5)
    finally:
        capture.stop()

    # The key log: private, one IKE SA row and two ESP rows (one per direction).
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
    rows = [ln.split(":")[1] for ln in keylog.read_text().splitlines() if ln.startswith("uat:")]
    assert Counter(rows) == {"ikev2_decryption_table": 1, "esp_sa": 2}, keylog.read_text()
    assert vip.startswith("198.18.200.")

    echo = {(vip, lab.server_addr, "8"), (lab.server_addr, vip, "0")}

    # Without the keys: ESP on the wire, but neither the pings nor the identities.
    nokeys = lab.workdir / f"{name}-nokeys"
    nokeys.mkdir()
    esp_packets = tshark(lab, pcap, nokeys, "-Y", "esp", "-T", "fields", "-e", "esp.spi")
    assert len(esp_packets) >= 6, capture.stderr
    assert not icmp_echoes(lab, pcap, nokeys, decode_esp=True)
    assert not ike_identities(lab, pcap, nokeys) & {"client@ike.lab", "gw.ike.lab"}

    # With them (exported as the UAT files; the exported preferences switch ESP decoding on).
    conf = lab.workdir / f"{name}-wireshark"
    export_wireshark_uat(keylog, conf)
    seen = icmp_echoes(lab, pcap, conf)
    assert set(seen) == echo, seen
    assert all(n >= 3 for n in seen.values()), seen
    assert {"client@ike.lab", "gw.ike.lab"} <= ike_identities(lab, pcap, conf)
    # Every ESP packet passes Wireshark's own ICV check (HMAC, or the AEAD tag), and no
    # IKE message fails its integrity check: the keys are the right ones, both ways.
    check = ("-o", "esp.enable_authentication_check:TRUE")
    icv = tshark(lab, pcap, conf, *check, "-Y", "esp", "-T", "fields", "-e", "esp.icv_good")
    assert icv and all(row == ["1"] for row in icv), icv
    assert not tshark(lab, pcap, conf, "-Y", '_ws.expert.message contains "Integrity"')

    # The key log's lines are tshark -o values as they stand.
    lines = [ln for ln in keylog.read_text().splitlines() if ln.startswith("uat:")]
    options = [arg for ln in lines for arg in ("-o", ln)]
    fields = ("-T", "fields", "-e", "icmp.type")
    types = tshark(lab, pcap, nokeys, *options, "-Y", "icmp", *fields, decode_esp=True)
    assert sorted(t[0] for t in types) == ["0"] * 3 + ["8"] * 3
