"""``pipx install`` of a built wheel gives a working ``ikeclient`` for a normal user, whose
``up`` runs its privileged half through sudo: the half re-executes ``sys.executable -I -m
ikeclient``, which inside pipx's venv is that venv's python (its site-packages stay on
sys.path under -I; only the user site and PYTHON* variables are ignored).

Needs root (a throwaway user, the lab), pipx (scripts/setup.sh installs Debian's) and pip
reaching PyPI for the dependencies (~30 s).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.lab import GatewayConfig, Lab
from tests.lab.ikeclient import REPO_ROOT, state_dir, up_at_a_terminal, write_profile
from tests.lab.strongswan import DEFAULT_PSK

pytestmark = pytest.mark.interop


def as_user(user: str, home: Path, command: str) -> list[str]:
    """argv running a shell command as ``user`` with a clean environment."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
            "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", "TERM=dumb", "LANG=C.UTF-8",
            "sh", "-c", command]  # fmt: skip


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
    user = f"ikc{secrets.token_hex(3)}"
    home = Path(f"/home/{user}")
    sudoers = Path(f"/etc/sudoers.d/ikeclient-test-{user}")
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", user], check=True)
    try:
        user_wheel = home / wheel.name
        shutil.copyfile(wheel, user_wheel)
        shutil.chown(user_wheel, user, user)
        installed = subprocess.run(
            as_user(user, home, f"{pipx} install {user_wheel}"),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert installed.returncode == 0, installed.stdout + installed.stderr
        ikeclient = home / ".local/bin/ikeclient"
        shown = subprocess.run(
            as_user(user, home, f"{ikeclient} --help"),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and "Userspace IPsec VPN client" in shown.stdout, shown
        # The venv's python (its place depends on pipx's version): the script's shebang.
        venv_python = ikeclient.read_text().splitlines()[0].removeprefix("#!").strip()
        assert "/pipx/venvs/ikeclient/" in venv_python, venv_python
        sudoers.write_text(f"{user} ALL=(root) NOPASSWD: {venv_python}\n")
        sudoers.chmod(0o440)
        with Lab() as lab:
            gw = lab.start_gateway(GatewayConfig())
            source = write_profile(lab, "pipx", psk_file=None)
            profile = home / "pipx.toml"
            shutil.copyfile(source, profile)
            shutil.chown(profile, user, user)
            command = f"{ikeclient} up {profile} --once --state-dir {state_dir(lab)}"
            argv = as_user(user, home, f"script -qec '{command}' /dev/null")
            code, text = up_at_a_terminal(lab, argv, b"pre-shared key for pipx: ")
            assert code == 0, text
            assert "asking sudo for it" in text
            assert "tunnel up on ikc0" in text
            assert DEFAULT_PSK not in text
            gw.wait_for_no_sa(timeout=5)
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", user], check=False, capture_output=True)
