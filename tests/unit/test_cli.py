"""The ``ikeclient`` command: every command and its error paths, through typer's runner and
through real subprocesses (exit codes, one-line errors, no tracebacks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring.core
import pytest
from typer.testing import CliRunner

from ikeclient.cli import app
from ikeclient.secretstore import get_secret

REPO = Path(__file__).resolve().parents[2]
PSK = "unit-test-psk-1234567890"

GOOD = """\
gateway = "198.18.2.2"
local_id = "client@ike.lab"
remote_id = "gw.ike.lab"
ike_proposals = ["aes256gcm16-prfsha256-ecp256"]
esp_proposals = ["aes256gcm16"]
remote_ts = ["198.18.3.0/24"]
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private config dir and a file-backed keyring (keyrings.alt) for each test."""
    values = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    keyring.core.init_backend()  # keyring picks its backend once per process: pick again
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ikeclient: error: ")
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "lab.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('gateway = "198.18.2.2"\n', ""), "lab.toml: gateway: missing"),
        ("port = 'five hundred'\n" + GOOD, "lab.toml: port: expected int, got str"),
        (
            GOOD.replace('"aes256gcm16"]', '"aes256gcm17"]'),
            "lab.toml: esp_proposals[0]: proposal 'aes256gcm17': unknown algorithm keyword",
        ),
        ("gatway = 'x'\n" + GOOD, "lab.toml: gatway: unknown key"),
    ],
)
def test_bad_profile_is_a_config_error_naming_file_and_key(
    env: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    for command in (["profile", "validate", str(path)], ["up", str(path)]):
        code, _, stderr = run(*command)
        assert code == 2
        assert message in one_error_line(stderr)


def test_missing_profile(env: dict[str, str]) -> None:
    code, _, stderr = run("up", "nosuchprofile")
    assert code == 2
    assert "profile 'nosuchprofile' not found" in one_error_line(stderr)


def test_missing_secret_in_the_keyring(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    code, _, stderr = run("up", str(path))
    assert code == 3
    line = one_error_line(stderr)
    assert "no pre-shared key for profile 'lab'" in line
    assert "ikeclient secret set lab" in line


def test_no_keyring_backend(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()
    path = write(tmp_path, GOOD)
    code, _, stderr = run("up", str(path))
    assert code == 3
    line = one_error_line(stderr)
    assert "no usable keyring backend" in line
    assert "keyrings.alt" in line and "psk_file" in line


def test_secret_set_from_stdin_then_delete(env: dict[str, str]) -> None:
    code, out, _ = run("secret", "set", "lab", input=PSK + "\n")
    assert code == 0 and "stored the pre-shared key of lab" in out
    store = Path(env["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"
    assert store.exists()
    assert get_secret("lab") == PSK
    code, out, _ = run("secret", "delete", "lab")
    assert code == 0 and get_secret("lab") is None
    code, out, _ = run("secret", "delete", "lab")
    assert code == 1 and "no pre-shared key of lab" in out


def test_secret_set_refuses_empty_input_and_unknown_kinds(env: dict[str, str]) -> None:
    code, _, stderr = run("secret", "set", "lab", input="\n")
    assert code == 3 and "no secret on standard input" in one_error_line(stderr)
    code, _, stderr = run("secret", "set", "lab", "--kind", "password", input="x\n")
    assert code == 3 and "unknown secret kind 'password'" in one_error_line(stderr)


def test_secret_is_never_an_argument(env: dict[str, str]) -> None:
    code, _, _ = run("secret", "set", "lab", PSK)
    assert code == 2  # usage error: there is no such argument


def test_profile_new_list_show_import(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(
        "profile", "new", "office", "--gateway", "198.18.2.2", "--local-id", "me@ike.lab",
        "--remote-id", "gw.ike.lab", "--subnet", "198.18.3.0/24",
    )  # fmt: skip
    assert code == 0, out
    created = Path(env["XDG_CONFIG_HOME"]) / "ikeclient" / "profiles" / "office.toml"
    assert created.exists()
    code, out, _ = run("profile", "new", "office", "--gateway", "x", "--local-id", "y")
    assert code == 2
    code, out, _ = run("profile", "list")
    assert code == 0 and "office" in out and "198.18.2.2:500" in out
    code, out, _ = run("profile", "show", "office")
    assert code == 0 and 'gateway = "198.18.2.2"' in out and "198.18.3.0/24" in out
    source = write(tmp_path, GOOD, "rw.toml")
    code, out, _ = run("profile", "import", str(source), "--name", "roadwarrior")
    assert code == 0
    code, out, _ = run("profile", "validate", "roadwarrior")
    assert code == 0 and "gw.ike.lab" in out
    bad = write(tmp_path, "gateway = 1\n", "bad.toml")
    code, _, stderr = run("profile", "import", str(bad))
    assert code == 2 and "bad.toml: gateway: expected str" in one_error_line(stderr)
    code, _, stderr = run("profile", "new", "../evil", "--gateway", "x", "--local-id", "y")
    assert code == 2 and "profile name '../evil'" in one_error_line(stderr)


def test_status_and_down_with_nothing_up(env: dict[str, str], tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    code, out, _ = run("status", "--state-dir", state)
    assert code == 0 and "no connection is up" in out
    code, out, _ = run("status", "--json", "--state-dir", state)
    assert code == 0 and out.strip() == "[]"
    code, _, stderr = run("down", "lab", "--state-dir", state)
    assert code == 2 and "connection 'lab' is not up" in one_error_line(stderr)


def test_doctor_reports_each_check(env: dict[str, str]) -> None:
    code, out, _ = run("doctor")
    checks = ("TUN device", "privileges", "iproute2", "nftables", "keyring", "DNS manager")
    for what in (*checks, "profiles"):
        assert what in out
    # The env fixture's keyring is keyrings.alt's plaintext file: doctor says so.
    (keyring_line,) = [line for line in out.splitlines() if line[7:].startswith("keyring ")]
    assert keyring_line.startswith("[warn]") and "stores secrets unencrypted" in keyring_line
    assert code in (0, 1)
    assert ("all good" in out) == (code == 0)


def test_help_explains_every_command_with_an_example() -> None:
    for command in (
        ["up"], ["down"], ["status"], ["doctor"], ["profile", "list"], ["profile", "show"],
        ["profile", "new"], ["profile", "validate"], ["profile", "import"], ["secret", "set"],
        ["secret", "delete"],
    ):  # fmt: skip
        code, out, _ = run(*command, "--help")
        assert code == 0, command
        assert "Example:" in out, command


def _subprocess_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "PYTHONPATH": str(REPO)}


def test_no_privileges_is_a_one_line_error_saying_what_to_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping CAP_NET_ADMIN with setpriv needs root (CI runs as root)")
    psk = tmp_path / "lab.psk"
    psk.write_text(PSK)
    psk.chmod(0o600)
    path = write(tmp_path, GOOD + f'psk_file = "{psk}"\n')
    result = subprocess.run(
        ["setpriv", "--bounding-set", "-net_admin", sys.executable, "-m", "ikeclient", "up",
         str(path), "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, env=_subprocess_env(env), stdin=subprocess.DEVNULL,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 4, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert "needs CAP_NET_ADMIN" in line and "sudo ikeclient up" in line
    assert PSK not in result.stdout + result.stderr


def test_python_m_ikeclient_and_console_script(env: dict[str, str]) -> None:
    for argv in ([sys.executable, "-m", "ikeclient", "--help"], [str(Path(sys.executable).parent
                 / "ikeclient"), "version"]):  # fmt: skip
        result = subprocess.run(
            argv, capture_output=True, text=True, env=_subprocess_env(env), timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
