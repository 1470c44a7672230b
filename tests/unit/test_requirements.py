"""The dependency floors: parsing, comparing, the one-line message, and no drift between
pyproject.toml and the installed metadata the start-up check reads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ikeclient import requirements
from ikeclient.requirements import floors, normalize, release

REPO = Path(__file__).resolve().parents[2]


def pyproject_dependencies() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return deps


def test_floors_of_requirement_strings() -> None:
    assert floors(
        [
            "cryptography>=45.0.1",
            "typer<0.29,>=0.16.0",
            "typer_x (>=1.2, <2)",
            "Foo[bar] >= 3 ; python_version >= '3.11'",
            'pytest>=7.4; extra == "dev"',
            "unbounded",
        ]
    ) == {"cryptography": "45.0.1", "typer": "0.16.0", "typer_x": "1.2", "Foo": "3"}


def test_release_comparison() -> None:
    assert release("45") == release("45.0.0") == (45,)
    assert release("44.0.3") < release("45.0.1") <= release("45.0.1") < release("46.0.0rc1")
    assert release("0.9.4") < release("0.16.0") < release("0.28.0")
    assert release("2.2.1") < release("2.4.2")
    assert release("1!2.0") == (2,)
    assert release("unknown") == ()


def test_normalize() -> None:
    assert normalize("Python_Pytun") == normalize("python.pytun") == "python-pytun"


def test_every_runtime_dependency_has_a_floor() -> None:
    deps = pyproject_dependencies()
    assert len(floors(deps)) == len(deps), deps


def test_installed_metadata_says_what_pyproject_says() -> None:
    """The start-up check reads the floors from the installed metadata: it must not be stale."""
    installed = requirements.installed_floors()
    if not installed:
        pytest.skip("ikeclient is not installed (running from a source tree)")
    assert installed == floors(pyproject_dependencies()), (
        "the installed ikeclient metadata differs from pyproject.toml: pip install -e ."
    )


def test_nothing_unmet_in_this_environment() -> None:
    assert requirements.unmet_requirement() is None


def test_too_old_and_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        requirements, "installed_floors", lambda: {"cryptography": "45.0.1", "typer": "0.16.0"}
    )
    dists = {"cryptography": ("44.0.3", "/x"), "typer": ("0.28.0", "/y")}
    monkeypatch.setattr(requirements, "_dist_info_dirs", lambda: dists)
    line = requirements.unmet_requirement()
    assert line is not None and "\n" not in line
    assert line.startswith(
        "cryptography 44.0.3 is too old: ikeclient needs cryptography>=45.0.1 "
    ), line
    dists["cryptography"] = ("45.0.1", "/x")
    assert requirements.unmet_requirement() is None
    monkeypatch.setattr(requirements, "installed_version", lambda name, dists=None: None)
    assert requirements.unmet_requirement() == (
        "cryptography is not installed: ikeclient needs cryptography>=45.0.1 "
        "(pip install 'cryptography>=45.0.1')"
    )


def test_dist_info_dirs_reads_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "python_pytun-2.2.1.dist-info").mkdir()
    (tmp_path / "cryptography-38.0.4.egg-info").mkdir()  # Debian 12's python3-cryptography
    (tmp_path / "Python_Keyring-23.9.3-py3.11.egg-info").mkdir()
    (tmp_path / "not-a-dist.txt").touch()
    (tmp_path / "ikeclient-0.1.0.dist-info").mkdir()
    (tmp_path / "ikeclient-0.1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ikeclient\nRequires-Dist: python-pytun>=2.4\n"
        'Requires-Dist: pytest>=7; extra == "dev"\n\nRequires-Dist: in the description\n'
    )
    monkeypatch.setattr("sys.path", [str(tmp_path / "missing"), str(tmp_path)])
    dists = requirements._dist_info_dirs()
    assert dists["python-pytun"][0] == "2.2.1"
    assert dists["cryptography"][0] == "38.0.4" and dists["python-keyring"][0] == "23.9.3"
    assert set(dists) == {"python-pytun", "cryptography", "python-keyring", "ikeclient"}
    assert requirements.installed_floors() == {"python-pytun": "2.4"}
    assert requirements.unmet_requirement() == (
        "python-pytun 2.2.1 is too old: ikeclient needs python-pytun>=2.4 "
        "(pip install --upgrade 'python-pytun>=2.4', or install ikeclient with pipx; "
        "see the README, Install)"
    )


def test_entry_turns_a_failure_with_an_old_library_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A library too old for the CLI itself to load (typer) still gets the one line."""
    from ikeclient import cli, entry  # noqa: PLC0415

    def broken() -> None:
        raise TypeError("TyperArgument.make_metavar() takes 1 positional argument")

    monkeypatch.setattr(cli, "main", broken)
    monkeypatch.setattr(requirements, "unmet_requirement", lambda: "typer 0.15.0 is too old: x")
    with pytest.raises(SystemExit) as exc:
        entry.main()
    assert exc.value.code == 1
    assert capsys.readouterr().err == "ikeclient: error: typer 0.15.0 is too old: x\n"
    # Nothing too old: the original error is not hidden.
    monkeypatch.setattr(requirements, "unmet_requirement", lambda: None)
    with pytest.raises(TypeError):
        entry.main()
