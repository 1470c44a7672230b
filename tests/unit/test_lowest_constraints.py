"""scripts/lowest_constraints.py: the constraints of the lowest-versions run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "lowest_constraints.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_pins_every_runtime_dependency_at_its_floor() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    pins = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    names = [pin.split("==")[0] for pin in pins]
    assert names == ["cryptography", "python-pytun", "typer", "keyring"]
    assert all("==" in pin and pin.split("==")[1][0].isdigit() for pin in pins)
    assert not any("pytest" in pin or "<" in pin or ">" in pin for pin in pins)


def test_generated_from_the_given_file(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\n"
        'dependencies = ["a>=1.2", "b-c[x]<3,>=2.0.1", "d >= 4 ; os_name == \'posix\'"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=7"]\n'
    )
    result = run(str(pyproject))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["a==1.2", "b-c==2.0.1", "d==4"]


def test_a_dependency_without_floor_is_an_error(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["a>=1", "b<2"]\n')
    result = run(str(pyproject))
    assert result.returncode == 1
    assert "without a lower bound" in result.stderr and "b<2" in result.stderr
