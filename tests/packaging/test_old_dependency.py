"""An ikeclient installed next to a cryptography older than its floor says so in one line.

The venv holds ikeclient (``--no-deps``, editable: this checkout's code), cryptography 44.0.3
(the newest release below the floor of 45.0.1: it imports, but certificate validation would
fail with an AttributeError) and the other dependencies as pyproject.toml declares them.
Needs pip to reach PyPI; the venv is cached (~/.cache/ikeclient-tests) by versions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ikeclient.requirements import floors
from tests.packaging.venvs import REPO, cache_key, cached_venv, run

pytestmark = pytest.mark.network

OLD_CRYPTOGRAPHY = "44.0.3"


def pyproject_dependencies() -> list[str]:
    import tomllib  # noqa: PLC0415

    with (REPO / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return deps


@pytest.fixture(scope="module")
def old_venv() -> Path:
    others = [d for d in pyproject_dependencies() if not d.startswith("cryptography")]
    assert floors(pyproject_dependencies())["cryptography"] == "45.0.1", "update OLD_CRYPTOGRAPHY"

    def build(venv: Path) -> None:
        pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        run([*pip, f"cryptography=={OLD_CRYPTOGRAPHY}", *others])
        run([*pip, "--no-deps", "-e", REPO])

    return cached_venv("old-cryptography", cache_key(OLD_CRYPTOGRAPHY, str(REPO), *others), build)


def ikeclient(venv: Path, *argv: str | Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )


EXPECTED = (
    f"ikeclient: error: cryptography {OLD_CRYPTOGRAPHY} is too old: "
    "ikeclient needs cryptography>=45.0.1 "
)


@pytest.mark.parametrize(
    "command",
    [
        ["bin/ikeclient", "profile", "list"],
        ["bin/ikeclient", "up", "office"],
        ["bin/ikeclient", "doctor"],
        ["bin/python", "-I", "-m", "ikeclient", "up", "/nonexistent/office.toml", "--once"],
    ],
    ids=["profile-list", "up", "doctor", "python-m-up"],
)
def test_too_old_cryptography_is_one_line_and_exit_1(
    old_venv: Path, command: list[str], tmp_path: Path
) -> None:
    result = ikeclient(old_venv, old_venv / command[0], *command[1:], tmp_path=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(EXPECTED), lines[0]
    assert "Traceback" not in result.stderr


def test_help_and_version_still_work(old_venv: Path, tmp_path: Path) -> None:
    for argv in (["--help"], ["version"]):
        result = ikeclient(old_venv, old_venv / "bin" / "ikeclient", *argv, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
