"""Certificates, RFC 7427 signatures, EAP and RFC 7383 fragmentation against strongSwan.

The PKI is the tests' throwaway one (``tests.pki``): a CA, a gateway certificate
for gw.ike.lab, client certificates of each key type, an expired, a wrong-name
and another CA's gateway certificate, and a 4096-bit RSA chain. Each case starts
the strongSwan gateway with its own configuration, runs the real ``ikeclient up``
in the client namespace, and sends ping and a TCP transfer through the tunnel.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab, StrongSwanGateway
from tests.lab.ikeclient import IkeclientProcess, run_ikeclient, write_profile
from tests.pki import key_pem, make_pki, pem, write_pki

pytestmark = pytest.mark.interop

EAP_PASSWORD = "lab-eap-pa55word"
PORT = 5002
TRANSFER = 2 * 1024 * 1024

SERVER = textwrap.dedent(
    """
    import hashlib, socket, sys
    srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
    srv.settimeout(30)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(30)
    digest = hashlib.sha256()
    while chunk := conn.recv(1 << 16):
        digest.update(chunk)
    print(digest.hexdigest(), flush=True)
    """
)
CLIENT = textwrap.dedent(
    """
    import random, socket, sys
    data = random.Random(int(sys.argv[3])).randbytes(int(sys.argv[4]))
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30) as s:
        s.sendall(data)
    """
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root()
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="module")
def pki_files(lab: Lab) -> dict[str, Path]:
    return write_pki(lab.workdir / "pki")


def credentials(gateway_cert: str = "gw", ca: str = "ca") -> dict[str, bytes]:
    """swanctl's directories: the gateway's certificate and key, the CA(s) it trusts."""
    pki = make_pki()
    issued = getattr(pki, gateway_cert)
    return {
        "x509/gw.pem": pem(issued.cert),
        "private/gw.key": key_pem(issued.key),
        "x509ca/ca.pem": pem(getattr(pki, ca).cert),
    }


def start_gateway(lab: Lab, **kw: Any) -> StrongSwanGateway:
    """(Re)start the gateway with certificate authentication of its own."""
    if lab.gateway is not None and lab.gateway.running:
        lab.gateway.stop()
    values: dict[str, Any] = {
        "local_extra": {"auth": "pubkey", "certs": "gw.pem"},
        "credentials": credentials(),
        "connection_extra": {"send_certreq": True, "fragmentation": "yes"},
    }
    values.update(kw)
    return lab.start_gateway(GatewayConfig(**values))


def secret_file(lab: Lab, name: str, value: str) -> Path:
    path = lab.workdir / name
    path.write_text(value + "\n")
    os.chmod(path, 0o600)
    return path


def profile(lab: Lab, name: str, files: Mapping[str, Path], **kw: Any) -> Path:
    settings: dict[str, Any] = {"ca_certificates": [str(files["ca"]), str(files["big_ca"])]}
    settings.update(kw)
    return write_profile(lab, name, **settings)


def traffic(lab: Lab) -> None:
    """Ping and a TCP transfer (sha256 compared) to the server, only reachable in the tunnel."""
    assert lab.ping(lab.client_ns, lab.server_addr, count=3, deadline=10)
    server = lab.popen(
        lab.server_ns,
        [sys.executable, "-c", SERVER, lab.server_addr, str(PORT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "listening"
    seed = random.randrange(1 << 30)
    sent = lab.run(
        lab.client_ns,
        [sys.executable, "-c", CLIENT, lab.server_addr, str(PORT), str(seed), str(TRANSFER)],
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    received = server.stdout.readline().strip()
    server.wait(10)
    assert received == hashlib.sha256(random.Random(seed).randbytes(TRANSFER)).hexdigest()


def up_and_traffic(
    lab: Lab, gw: StrongSwanGateway, prof: Path, *args: str
) -> tuple[str, dict[str, Any]]:
    """Connect, check the SA at the gateway, carry ping and TCP, disconnect; client output."""
    client = IkeclientProcess(lab, prof, *(args or ("-v",)))
    try:
        client.wait_for_output("tunnel up", timeout=30)
        (sa,) = gw.wait_for_sa()
        traffic(lab)
    finally:
        code = client.stop()
    assert code == 0, client.stdout + client.stderr
    gw.wait_for_no_sa(timeout=5)
    return client.stdout + client.stderr, sa


def one_error_line(client: IkeclientProcess) -> str:
    err = client.stderr.strip()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ikeclient: error:")]
    assert len(lines) == 1, err
    return lines[0]


def gateway_log(gw: StrongSwanGateway, text: str) -> bool:
    return any(text in line.message for line in gw.log_lines())


# --------------------------------------------------------------------- gateway certificate


def test_gateway_rsa_certificate_and_client_psk(lab: Lab, pki_files: dict[str, Path]) -> None:
    gw = start_gateway(lab)
    out, sa = up_and_traffic(lab, gw, profile(lab, "gwcert", pki_files))
    assert sa["local-id"] == "gw.ike.lab" and sa["remote-id"] == "client@ike.lab"
    assert "authenticated gw.ike.lab" in out
    # strongSwan announced SIGNATURE_HASH_ALGORITHMS: it signed per RFC 7427.
    assert gateway_log(gw, "authentication of 'gw.ike.lab' (myself) with RSA_EMSA_PKCS1_SHA2_256")


@pytest.mark.parametrize(
    ("key", "signature", "expect"),
    [
        ("client_rsa", "classic", "RSA signature successful"),
        ("client_ecdsa256", "auto", "ECDSA_WITH_SHA256_DER successful"),
        ("client_ecdsa384", "classic", "ECDSA-384 signature successful"),
        ("client_ed25519", "auto", "ED25519 successful"),
    ],
)
def test_client_certificates(
    lab: Lab, pki_files: dict[str, Path], key: str, signature: str, expect: str
) -> None:
    gw = start_gateway(lab, remote_extra={"auth": "pubkey", "id": "client@ike.lab"})
    prof = profile(
        lab,
        f"cert-{key}",
        pki_files,
        auth="pubkey",
        certificate=str(pki_files[key]),
        private_key=str(pki_files[f"{key}.key"]),
        signature_auth=signature,
    )
    _, sa = up_and_traffic(lab, gw, prof)
    assert sa["remote-id"] == "client@ike.lab"
    assert gateway_log(gw, expect), gw.log_text()


def test_rfc7427_rsa_pss_from_pkcs12(lab: Lab, pki_files: dict[str, Path]) -> None:
    """RFC 7427 Digital Signature with RSASSA-PSS; the gateway insists on exactly that."""
    gw = start_gateway(lab, remote_extra={"auth": "ike:rsa/pss-sha256", "id": "client@ike.lab"})
    from tests.pki import P12_PASSPHRASE  # noqa: PLC0415

    prof = profile(
        lab,
        "pss",
        pki_files,
        auth="pubkey",
        pkcs12=str(pki_files["client_rsa.p12"]),
        key_passphrase_file=str(secret_file(lab, "p12.pass", P12_PASSPHRASE)),
        rsa_signature="pss",
        signature_auth="rfc7427",
    )
    up_and_traffic(lab, gw, prof)
    assert gateway_log(gw, "with RSA_EMSA_PSS_SHA2_256"), gw.log_text()


@pytest.mark.parametrize(
    ("cert", "gateway_id", "reason"),
    [
        ("gw_expired", "gw.ike.lab", "gateway certificate expired"),
        ("gw_other_name", "other.ike.lab", "gateway certificate name mismatch"),
        ("gw_other_ca", "gw.ike.lab", "gateway certificate untrusted"),
    ],
)
def test_bad_gateway_certificates_are_refused(
    lab: Lab, pki_files: dict[str, Path], cert: str, gateway_id: str, reason: str
) -> None:
    ca = "other_ca" if cert == "gw_other_ca" else "ca"
    gw = start_gateway(lab, gateway_id=gateway_id, credentials=credentials(cert, ca))
    prof = profile(lab, f"bad-{cert}", pki_files, send_remote_id=False)
    client = run_ikeclient(lab, prof)
    assert client.proc.returncode == 17, client.stdout + client.stderr
    assert reason in one_error_line(client)
    gw.wait_for_no_sa(timeout=5)


# --------------------------------------------------------------------- EAP


def eap_gateway(lab: Lab, method: str, password: str = EAP_PASSWORD) -> StrongSwanGateway:
    secrets = (
        f'    eap-client {{\n        id = client@ike.lab\n        secret = "{password}"\n    }}'
    )
    return start_gateway(
        lab,
        remote_extra={"auth": f"eap-{method}", "id": "%any", "eap_id": "%any"},
        secrets_extra=secrets if method != "tls" else "",
    )


def test_eap_mschapv2(lab: Lab, pki_files: dict[str, Path]) -> None:
    gw = eap_gateway(lab, "mschapv2")
    prof = profile(
        lab,
        "mschapv2",
        pki_files,
        auth="eap",
        eap_method="mschapv2",
        eap_password_file=str(secret_file(lab, "eap.pw", EAP_PASSWORD)),
    )
    out, _ = up_and_traffic(lab, gw, prof, "-vv")
    assert EAP_PASSWORD not in out  # not even in debug logs
    assert gateway_log(gw, "EAP method EAP_MSCHAPV2 succeeded, MSK established"), gw.log_text()
    assert gateway_log(gw, "received EAP identity 'client@ike.lab'")
    assert gateway_log(gw, "authentication of 'client@ike.lab' with EAP successful")


def test_eap_wrong_password_is_an_authentication_error(
    lab: Lab, pki_files: dict[str, Path]
) -> None:
    gw = eap_gateway(lab, "mschapv2")
    prof = profile(
        lab,
        "mschapv2-wrong",
        pki_files,
        auth="eap",
        eap_method="mschapv2",
        eap_password_file=str(secret_file(lab, "wrong.pw", "not-the-password")),
    )
    client = run_ikeclient(lab, prof, timeout=40)
    assert client.proc.returncode == 10, client.stdout + client.stderr
    assert "wrong user name or password" in one_error_line(client)
    gw.wait_for_no_sa(timeout=10)


def test_eap_md5(lab: Lab, pki_files: dict[str, Path]) -> None:
    """No MSK: both final AUTHs are keyed with SK_pi/SK_pr (RFC 7296 §2.16)."""
    gw = eap_gateway(lab, "md5")
    prof = profile(
        lab,
        "md5",
        pki_files,
        auth="eap",
        eap_method="md5",
        eap_password_file=str(secret_file(lab, "md5.pw", EAP_PASSWORD)),
    )
    up_and_traffic(lab, gw, prof)
    assert gateway_log(gw, "EAP method EAP_MD5 succeeded, no MSK established"), gw.log_text()


def test_eap_only_mschapv2(lab: Lab) -> None:
    """RFC 5998: no gateway certificate at all; the MSCHAPv2 exchange authenticates both."""
    gw = start_gateway(
        lab,
        local_extra={"auth": "eap"},
        remote_extra={"auth": "eap-mschapv2", "id": "%any", "eap_id": "%any"},
        credentials={},
        secrets_extra=(
            f'    eap-client {{\n        id = client@ike.lab\n        secret = "{EAP_PASSWORD}"\n'
            "    }"
        ),
    )
    prof = write_profile(
        lab,
        "eaponly",
        auth="eap",
        remote_auth="eap",
        eap_only=True,
        eap_method="mschapv2",
        eap_password_file=str(secret_file(lab, "eaponly.pw", EAP_PASSWORD)),
    )
    up_and_traffic(lab, gw, prof)
    assert gateway_log(gw, "authentication of 'gw.ike.lab' (myself) with EAP")
    assert not gateway_log(gw, "sending end entity cert")


def test_eap_tls(lab: Lab, pki_files: dict[str, Path]) -> None:
    gw = eap_gateway(lab, "tls")
    prof = profile(
        lab,
        "eaptls",
        pki_files,
        auth="eap",
        eap_method="tls",
        certificate=str(pki_files["client_ecdsa256"]),
        private_key=str(pki_files["client_ecdsa256.key"]),
    )
    up_and_traffic(lab, gw, prof)
    assert gateway_log(gw, "EAP method EAP_TLS succeeded, MSK established"), gw.log_text()


# --------------------------------------------------------------------- RFC 7383 fragmentation


def narrow_links(lab: Lab, mtu: int) -> None:
    """Lower every lab link's MTU and make the NAT drop IP fragments, as home routers do.

    The rule sits in a prerouting chain before conntrack's defragmentation (priority -400).
    """
    links = (
        (lab.client_ns, lab.client_if),
        (lab.nat_ns, lab.nat_inside_if),
        (lab.nat_ns, lab.nat_outside_if),
        (lab.gateway_ns, lab.gateway_outside_if),
    )
    for ns, ifname in links:
        lab.run(ns, ["ip", "link", "set", "dev", ifname, "mtu", str(mtu)], check=True)
    rules = (
        "table ip nofrag {\n"
        "  chain pre {\n"
        "    type filter hook prerouting priority -450; policy accept;\n"
        "    ip frag-off & 0x3fff != 0 counter drop\n"
        "  }\n"
        "}\n"
    )
    res = lab.run(lab.nat_ns, ["nft", "-f", "-"], input=rules)
    assert res.returncode == 0, res.stderr


def dropped_fragments(lab: Lab) -> int:
    res = lab.run(lab.nat_ns, ["nft", "list", "table", "ip", "nofrag"], check=True)
    line = next(line for line in res.stdout.splitlines() if "counter" in line)
    return int(line.split("packets")[1].split()[0])


def test_4096_bit_chain_through_rfc7383_fragments(lab: Lab, pki_files: dict[str, Path]) -> None:
    narrow_links(lab, 1280)
    gw = start_gateway(
        lab,
        credentials=credentials("gw_big", "big_ca"),
        remote_extra={"auth": "pubkey", "id": "client@ike.lab"},
        charon_extra={"half_open_timeout": 3},  # forget the failed attempt quickly
    )
    common: dict[str, Any] = {
        "auth": "pubkey",
        "certificate": str(pki_files["client_big"]),
        "private_key": str(pki_files["client_big.key"]),
        "path_mtu": 1280,
    }
    # Without fragmentation IKE_AUTH needs IP fragments, which the NAT drops: no answer.
    whole = profile(lab, "nofrag", pki_files, fragmentation=False, **common)
    client = run_ikeclient(lab, whole, timeout=40)
    assert client.proc.returncode == 14, client.stdout + client.stderr
    assert dropped_fragments(lab) > 0
    gw.wait_for_no_sa(timeout=15)
    # With RFC 7383 both ways, the same connection succeeds and carries traffic.
    before = dropped_fragments(lab)
    prof = profile(lab, "frag", pki_files, fragment_size=1280, **common)
    out, _ = up_and_traffic(lab, gw, prof)
    assert dropped_fragments(lab) == before
    assert gateway_log(gw, "received fragment #1 of")
    assert gateway_log(gw, "splitting IKE message")
    assert "fragments" in out
