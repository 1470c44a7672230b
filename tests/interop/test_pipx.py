"""``pipx install`` of a built wheel gives a working ``ikeclient`` for a normal user, whose
``up`` runs its privileged half through sudo: the half re-executes ``sys.executable -I -m
ikeclient``, which inside pipx's venv is that venv's python (its site-packages stay on
sys.path under -I; only the user site and PYTHON* variables are ignored).

Needs root (a throwaway user, the lab), pipx (scripts/setup.sh installs Debian's) and pip
reaching PyPI for the dependencies (~30 s).
"""

from __future__ import annotations

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


def test_pipx_install_of_a_wheel_then_up_through_sudo(tmp_path: Path) -> None:
    require_root()
    pipx = shutil.which("pipx")
    if pipx is None or shutil.which("sudo") is None:
        pytest.fail("this test needs pipx and sudo (scripts/setup.sh installs them)")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
         str(REPO_ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("ikeclient-*.whl")
    with throwaway_user() as user:
        user_wheel = user.give(wheel)
        installed = subprocess.run(
            user.argv(f"{pipx} install {user_wheel}"),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert installed.returncode == 0, installed.stdout + installed.stderr
        ikeclient = user.home / ".local/bin/ikeclient"
        shown = subprocess.run(
            user.argv(f"{ikeclient} --help"),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and "Userspace IPsec VPN client" in shown.stdout, shown
        # The venv's python (its place depends on pipx's version): the script's shebang.
        venv_python = ikeclient.read_text().splitlines()[0].removeprefix("#!").strip()
        assert "/pipx/venvs/ikeclient/" in venv_python, venv_python
        user.allow_sudo(venv_python)
        with Lab() as lab:
            gw = lab.start_gateway(GatewayConfig())
            profile = user.give(write_profile(lab, "pipx", psk_file=None))
            command = f"{ikeclient} up {profile} --once --state-dir {state_dir(lab)}"
            argv = user.at_a_terminal(command)
            code, text = up_at_a_terminal(lab, argv, b"pre-shared key for pipx: ")
            assert code == 0, text
            assert "asking sudo for it" in text
            assert "tunnel up on ikc0" in text
            assert DEFAULT_PSK not in text
            gw.wait_for_no_sa(timeout=5)
