"""The portable single-file build (scripts/build-portable.sh, a shiv zipapp) runs with only
Python: it shows its help and connects to the lab gateway, with no venv and no site-packages
(the interpreter runs isolated, -I)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab
from tests.lab.ikeclient import REPO_ROOT, state_dir, up_at_a_terminal, write_profile
from tests.lab.strongswan import DEFAULT_PSK
from tests.lab.users import throwaway_user

pytestmark = pytest.mark.interop

BASE_PYTHON = str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "build-portable.sh")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    built = REPO_ROOT / "dist" / "ikeclient.pyz"
    assert built.stat().st_size > 1_000_000
    return built


def isolated_env(tmp: Path) -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp), "SHIV_ROOT": str(tmp)}


def test_portable_build_shows_help(pyz: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [BASE_PYTHON, "-I", str(pyz), "--help"],
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Userspace IPsec VPN client" in result.stdout


def test_portable_build_connects_to_the_lab_gateway(pyz: Path, tmp_path: Path) -> None:
    require_root()
    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig())
        profile = write_profile(lab, "portable")
        env = isolated_env(tmp_path)
        res = lab.run(
            lab.client_ns,
            ["env", "-i", *(f"{k}={v}" for k, v in env.items()), BASE_PYTHON, "-I", str(pyz),
             "up", str(profile), "--once", "--state-dir", str(state_dir(lab))],
            timeout=120,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert "tunnel up on ikc0" in res.stdout
        gw.wait_for_no_sa(timeout=5)
        assert not os.path.exists(state_dir(lab) / "portable.pid")


SYSTEM_PYTHON = "/usr/bin/python3"


def test_a_normal_user_at_a_terminal_gets_the_tunnel_through_sudo(
    pyz: Path, tmp_path: Path
) -> None:
    """The privilege design: a user without CAP_NET_ADMIN runs ``up`` at a terminal; the
    secret is asked for (no keyring backend in the portable build), then the privileged half
    runs under sudo and receives the secret on its standard input, never in its argv."""
    require_root()
    if not Path(SYSTEM_PYTHON).exists() or shutil.which("sudo") is None:
        pytest.fail("this test needs /usr/bin/python3 and sudo (scripts/setup.sh installs sudo)")
    with throwaway_user() as user:
        user.allow_sudo(SYSTEM_PYTHON)
        with Lab() as lab:
            gw = lab.start_gateway(GatewayConfig())
            profile = user.give(write_profile(lab, "sudo", psk_file=None))
            user_pyz = user.give(pyz, "ikeclient.pyz")
            command = (
                f"{SYSTEM_PYTHON} -I {user_pyz} up {profile} --once --state-dir {state_dir(lab)}"
            )
            argv = user.at_a_terminal(command)
            code, text = up_at_a_terminal(lab, argv, b"pre-shared key for sudo: ")
            assert code == 0, text
            assert "asking sudo for it" in text
            assert "tunnel up on ikc0" in text
            assert DEFAULT_PSK not in text  # not echoed, not printed
            gw.wait_for_no_sa(timeout=5)
