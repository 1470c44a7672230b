"""Local attacks on a root ikeclient, each performed the way an unprivileged user would.

The attacker is ``nobody`` (uid 65534), run through ``setpriv``: it plants modules, journals,
symlinks, profiles and files in a directory it owns (``/tmp/ikc-attack-*``), then root runs
ikeclient the way a person or a service would. Every test names the finding of the security
review it covers (issue 10) and checks that the attack has no effect: no planted code runs,
no root file changes, no route or link disappears, no secret leaves, no foreign process is
signalled; and that the person gets one clear line instead.

These run as root (CI does); without root they skip, like the other host tests.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ikeclient.cli.control import run_down
from ikeclient.config.credentials import ProfileSecrets
from ikeclient.config.profile import load_profile
from ikeclient.errors import ConfigError, NetError, UnsafeFileError
from ikeclient.exitcodes import ExitCode
from ikeclient.net.journal import UndoJournal, current_netns, process_start_time, recover_stale
from ikeclient.runtime.keylog import KeyLog
from ikeclient.runtime.state import StateFiles
from ikeclient.secretstore import load_secrets
from tests.net.conftest import Netns
from tests.unit.test_keylog import GCM256_IKE

up_module = importlib.import_module("ikeclient.cli.up")  # the package shadows it with a function
NOBODY = 65534
SETPRIV_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--")
REPO = Path(__file__).resolve().parents[2]
VICTIM_TEXT = b"root's secret, never to be read or changed by anyone else\n"

PROFILE = """\
gateway = "198.18.10.1"
local_id = "client@ike.lab"
remote_id = "gw.ike.lab"
ike_proposals = ["aes256gcm16-prfsha256-ecp256"]
esp_proposals = ["aes256gcm16"]
remote_ts = ["198.18.3.0/24"]
psk_file = "psk"
"""


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("performs attacks as another user against root; CI runs as root")


def as_nobody(script: str) -> None:
    """Run a shell script as the unprivileged user (fails the test if the script fails)."""
    subprocess.run(
        [*SETPRIV_NOBODY, "sh", "-ec", script],
        check=True,
        timeout=30,
        cwd="/",
    )


@pytest.fixture
def attacker_dir() -> Iterator[Path]:
    """A directory the unprivileged user owns, in /tmp (where both can reach it)."""
    require_root()
    directory = Path(tempfile.mkdtemp(prefix="ikc-attack-", dir="/tmp"))
    os.chown(directory, NOBODY, NOBODY)
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-only file (0600 in a 0700 directory of root's)."""
    require_root()
    path = tmp_path / "root-only" / "secret"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(VICTIM_TEXT)
    path.chmod(0o600)
    return path


def root_profile(directory: Path, text: str = PROFILE) -> Path:
    """A profile of root's with its pre-shared key file, in a private directory."""
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / "psk").write_text("lab-psk-0123456789\n")
    (directory / "psk").chmod(0o600)
    path = directory / "work.toml"
    path.write_text(text)
    return path


def ikeclient(
    *args: str, ns: Netns | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", ns.name] if ns is not None else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ikeclient", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ikeclient: error: ")
    return lines[0]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- 1. module hijack through the sudo hand-off ----------------------------------------------


def test_sudo_handoff_runs_no_module_planted_in_the_current_directory(
    attacker_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed (scripts/setup.sh installs it)")
    marker = tmp_path / "planted-code-ran"
    payload = f'open("{marker}", "w").write("ran as root")'
    as_nobody(
        f"mkdir {attacker_dir}/ikeclient\n"
        f"for f in ikeclient/__init__.py ikeclient/__main__.py typer.py keyring.py; do\n"
        f"  printf '%s\\n' '{payload}' > {attacker_dir}/$f\n"
        "done"
    )
    profile_file = root_profile(tmp_path / "profiles")
    profile = load_profile(profile_file)
    # The person's shell is in the shared directory when they type `ikeclient up`.
    monkeypatch.chdir(attacker_dir)
    monkeypatch.setenv("PYTHONPATH", str(attacker_dir))
    # An empty secret line makes the real privileged half stop right after it starts.
    monkeypatch.setattr(up_module, "encode_secrets", lambda secrets: b"\n")
    request = up_module.UpRequest(
        str(profile_file), True, 0, tmp_path / "state", False, None, False
    )
    code = up_module._run_privileged_half(request, profile, ProfileSecrets(psk=b"x"))
    assert not marker.exists(), "a module planted by another user ran as root"
    assert code == ExitCode.SECRET_ERROR  # the real ikeclient ran and found no secret


def test_privileged_half_argv_and_environment_are_isolated(tmp_path: Path) -> None:
    request = up_module.UpRequest("work", False, 1, tmp_path / "state", False, None, False)
    argv = up_module.privileged_command(request, tmp_path / "work.toml")
    assert argv[0].endswith("sudo") and os.path.isabs(argv[0])
    assert argv[1:4] == ["--", sys.executable, "-I"]
    assert "--secret-stdin" in argv and all("psk" not in a for a in argv)
    env = up_module.privileged_environment()
    assert set(env) <= {"PATH", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "NO_COLOR"}
    assert env["PATH"] == up_module.SAFE_PATH


# --- 2. a crafted undo journal replayed as root ----------------------------------------------


def _hostile_journal(victim: Path, netns_inode: int | None) -> str:
    header = {
        "journal": "ikeclient-undo",
        "version": 1,
        "name": "work",
        "pid": dead_pid(),
        "start_time": 1.0,
        "netns": netns_inode,
    }
    entries = [
        {"seq": 1, "op": "link_delete", "args": {"name": "v1", "kind": "veth"}},
        {
            "seq": 2,
            "op": "route_delete",
            "args": {"dst": "0.0.0.0/0", "via": "198.18.10.1", "dev": "v0", "proto": "boot"},
        },
        {
            "seq": 3,
            "op": "file_restore",
            "args": {
                "path": str(victim),
                "original": "overwritten by nobody\n",
                "written": VICTIM_TEXT.decode(),
            },
        },
    ]
    return "".join(json.dumps(record) + "\n" for record in [header, *entries])


def _netns_inode(ns: Netns) -> int:
    out = ns.python("import os; print(os.stat('/proc/self/ns/net').st_ino)").stdout
    return int(out)


def _host_intact(ns: Netns, victim: Path) -> None:
    assert victim.read_bytes() == VICTIM_TEXT
    assert any(r.get("dst") == "default" for r in ns.routes()), "the default route is gone"
    assert {link["ifname"] for link in ns.ip("link", "show")} >= {"v0", "v1"}


def test_journal_planted_in_a_state_directory_of_another_user_is_never_replayed(
    attacker_dir: Path, victim: Path, tmp_path: Path, netns: Netns
) -> None:
    state = attacker_dir / "state"
    journal_text = _hostile_journal(victim, _netns_inode(netns))
    as_nobody(
        f"mkdir -m 755 {state}\n"
        f"cat > {state}/work.journal <<'EOF'\n{journal_text}EOF\n"
        f"chmod 600 {state}/work.journal"
    )
    profile = root_profile(tmp_path / "profiles")
    for args in (
        ["up", str(profile), "--once", "--state-dir", str(state)],
        ["down", "--state-dir", str(state)],
        ["status", "--state-dir", str(state)],
    ):
        line = one_error_line(ikeclient(*args, ns=netns, timeout=30))
        assert f"{attacker_dir} belongs to uid 65534" in line, line
        _host_intact(netns, victim)
    assert (state / "work.journal").exists()  # not ours to delete either


def test_journal_of_another_user_in_our_directory_is_refused(victim: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    journal = state / "work.journal"
    journal.write_text(_hostile_journal(victim, current_netns()))
    journal.chmod(0o600)
    os.chown(journal, NOBODY, NOBODY)
    with pytest.raises(UnsafeFileError, match="belongs to uid 65534"):
        UndoJournal(journal).open()
    with pytest.raises(UnsafeFileError, match="belongs to uid 65534"):
        recover_stale(state)
    assert victim.read_bytes() == VICTIM_TEXT


def test_undo_touches_only_what_ikeclient_itself_makes(
    victim: Path, tmp_path: Path, netns: Netns
) -> None:
    """Even a journal of ours (root's, private) cannot make the undo delete a route of
    another protocol, a link that is not our TUN, or rewrite a file other than resolv.conf."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    journal = state / "work.journal"
    journal.write_text(_hostile_journal(victim, _netns_inode(netns)))
    journal.chmod(0o600)
    result = netns.python(
        "from pathlib import Path\n"
        "from ikeclient.net.journal import recover_stale\n"
        f"print(recover_stale(Path({str(state)!r})))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['work']"
    for refused in ("not a TUN device of ikeclient", "only /etc/resolv.conf is restored"):
        assert refused in result.stderr
    _host_intact(netns, victim)


# --- 3. state files, the detach log and the pid file -----------------------------------------


def test_state_files_never_follow_planted_symlinks(attacker_dir: Path, victim: Path) -> None:
    pid = os.getpid()
    as_nobody(
        f"ln -s {victim} {attacker_dir}/work.pid\n"
        f"ln -s {victim} {attacker_dir}/.work.pid.{pid}.tmp\n"
        f"ln -s {victim} {attacker_dir}/work.log\n"
        f"ln -s {victim} {attacker_dir}/work.json"
    )
    files = StateFiles(attacker_dir, "work")
    with pytest.raises(UnsafeFileError, match="belongs to uid 65534"):
        files.claim()
    assert victim.read_bytes() == VICTIM_TEXT


def test_a_world_writable_state_directory_is_refused(tmp_path: Path) -> None:
    require_root()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: root's, but anyone may add files
    with pytest.raises(UnsafeFileError, match="writable by other users; run: chmod 700"):
        StateFiles(shared, "work").claim()
    StateFiles(shared / "below", "work").claim()  # ours, in a sticky directory: nobody can move it
    shared.chmod(0o777)  # not sticky: anyone could rename "below" and put their own there
    with pytest.raises(UnsafeFileError, match="writable by other users"):
        StateFiles(shared / "below", "work").claim()


def test_symlinks_raced_into_a_private_state_directory_are_not_followed(
    victim: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    files = StateFiles(state, "work")
    files.prepare()
    files.log_file.symlink_to(victim)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        files.open_log()
    files.status_file.symlink_to(victim)
    files.write_status({"state": "up"})  # replaces the link, never writes through it
    assert not files.status_file.is_symlink()
    assert stat.S_IMODE(files.status_file.stat().st_mode) == 0o600
    assert victim.read_bytes() == VICTIM_TEXT


def test_down_signals_no_process_of_another_user(tmp_path: Path) -> None:
    require_root()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    # Another user's long-lived process whose command line says "ikeclient".
    sleeper = subprocess.Popen(
        [*SETPRIV_NOBODY, sys.executable, "-c", "import time; time.sleep(60)", "ikeclient", "up"]
    )
    try:
        time.sleep(0.2)
        for content in (f"{sleeper.pid}\n", f"{sleeper.pid} {process_start_time(sleeper.pid)}\n"):
            (state / "work.pid").write_text(content)
            (state / "work.pid").chmod(0o600)
            with pytest.raises(ConfigError, match="not up"):
                run_down("work", state)
            assert sleeper.poll() is None, "down signalled another user's process"
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


# --- 4. root reads a file as a secret on behalf of a hostile profile -------------------------


def _nobody_profile(attacker_dir: Path, extra: str) -> Path:
    path = attacker_dir / "evil.toml"
    text = (
        'gateway = "198.18.10.1"\nlocal_id = "client@ike.lab"\n'
        'ike_proposals = ["aes256-sha256-modp2048"]\nesp_proposals = ["aes256-sha256"]\n'
        f"{extra}"
    )
    as_nobody(f"cat > {path} <<'EOF'\n{text}EOF\nchmod 600 {path}")
    return path


def test_a_profile_of_another_user_is_refused_when_root_runs_it(
    attacker_dir: Path, victim: Path
) -> None:
    evil = _nobody_profile(attacker_dir, f'psk_file = "{victim}"\n')
    with pytest.raises(UnsafeFileError, match=r"profile .* belongs to uid 65534"):
        load_profile(evil)


def test_a_profile_cannot_name_a_root_only_file_as_its_secret(
    attacker_dir: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nobody runs `sudo ikeclient up evil.toml` (SUDO_UID=65534): the profile is theirs, so
    it is read, but the root-only file it names as the XAUTH password is not."""
    monkeypatch.setenv("SUDO_UID", str(NOBODY))
    evil = _nobody_profile(
        attacker_dir,
        f'version = 1\nxauth_user = "alice"\npsk_file = "psk"\nxauth_password_file = "{victim}"\n',
    )
    as_nobody(f"echo group-key > {attacker_dir}/psk\nchmod 600 {attacker_dir}/psk")
    profile = load_profile(evil)
    assert profile.auth.files_owner == NOBODY
    with pytest.raises(UnsafeFileError, match=f"{victim} belongs to root"):
        load_secrets(profile)
    # The same profile owned by root (root wrote it) may name root's file.
    os.chown(evil, 0, 0)
    monkeypatch.delenv("SUDO_UID")
    with pytest.raises(UnsafeFileError, match=f"{attacker_dir}/psk belongs to uid 65534"):
        load_secrets(load_profile(evil))


def test_secret_files_are_not_symlinks_fifos_or_huge(attacker_dir: Path, victim: Path) -> None:
    for name, setup in (
        ("link", f"ln -s {victim} {attacker_dir}/link"),
        ("fifo", f"mkfifo -m 600 {attacker_dir}/fifo"),
        ("huge", f"head -c 1048576 /dev/zero > {attacker_dir}/huge; chmod 600 {attacker_dir}/huge"),
    ):
        as_nobody(setup)
        evil = _nobody_profile(attacker_dir, f'psk_file = "{name}"\n')
        os.environ["SUDO_UID"] = str(NOBODY)
        try:
            with pytest.raises(UnsafeFileError) as caught:
                load_secrets(load_profile(evil))
        finally:
            del os.environ["SUDO_UID"]
        reason = {"link": "symbolic link", "fifo": "not a regular file", "huge": "larger than"}
        assert reason[name] in str(caught.value) and name in str(caught.value)


def test_profile_import_warns_about_secret_files_outside_the_profile(
    attacker_dir: Path, victim: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    source = root_profile(tmp_path / "handed-over", PROFILE.replace('"psk"', f'"{victim}"'))
    result = ikeclient("profile", "import", str(source), "--name", "imported")
    assert result.returncode == 0, result.stderr
    assert f"psk_file = {victim} lies outside the profile's directory" in result.stderr


# --- 5. the key log handed to another user ---------------------------------------------------


def test_keylog_file_of_another_user_is_refused(attacker_dir: Path) -> None:
    planted = attacker_dir / "keys.log"
    as_nobody(f": > {planted}\nchmod 666 {planted}")
    with pytest.raises(UnsafeFileError, match="belongs to uid 65534"):
        KeyLog.open(planted)
    assert planted.read_bytes() == b""
    assert planted.stat().st_uid == NOBODY


def test_keylog_never_writes_into_a_second_name_of_the_file(tmp_path: Path) -> None:
    require_root()
    path = tmp_path / "keys.log"
    path.write_text("old\n")
    (tmp_path / "other-name").hardlink_to(path)
    with KeyLog.open(path) as keylog:
        keylog.write_ike_sa(**GCM256_IKE)
    assert "uat:ikev2_decryption_table" in path.read_text()
    assert (tmp_path / "other-name").read_text() == "old\n"
    st = path.stat()
    assert st.st_nlink == 1 and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0


def test_keylog_under_sudo_belongs_to_the_user_who_asked(
    attacker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sudo ikeclient up --keylog FILE` run by nobody: the keys are theirs to read, nobody
    else's; a file already there that belongs to a third user is still refused."""
    monkeypatch.setenv("SUDO_UID", str(NOBODY))
    path = attacker_dir / "mine.log"
    KeyLog.open(path).close()
    KeyLog.open(path).close()  # their key log of the last run is replaced
    st = path.stat()
    assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600
    third = attacker_dir / "third.log"
    third.write_text("")
    os.chown(third, 12345, 12345)
    with pytest.raises(UnsafeFileError, match="belongs to uid 12345"):
        KeyLog.open(third)


# --- 8. a damaged journal: one clear line, never a traceback ---------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        '{"journal": "ikeclient-undo", "version": 1, "pid": "x"}\n',
        '{"journal": "ikeclient-undo", "version": 1, "pid": 1}\n'
        '{"seq": 1, "op": "link_delete", "args": [1]}\n',
        '{"journal": "ikeclient-undo", "version": 1, "pid": 1}\n{"seq": "a", "op": "x"}\n',
        '{"journal": "ikeclient-undo", "version": 7, "pid": 1}\n',
        '{"journal": "ikeclient-undo", "version": 1, "pid": 1}\nnot json\n{"seq": 2}\n',
    ],
)
def test_damaged_journal_is_one_clear_error(damage: str, tmp_path: Path) -> None:
    require_root()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    journal = state / "work.journal"
    journal.write_text(damage)
    journal.chmod(0o600)
    profile = root_profile(tmp_path / "profiles")
    for args in (
        ["down", "--state-dir", str(state)],
        ["up", str(profile), "--state-dir", str(state)],
    ):
        line = one_error_line(ikeclient(*args, timeout=30))
        assert str(journal) in line, line
        if "not JSON" not in line:
            assert f"rm {journal}" in line, line
    with pytest.raises(NetError):
        recover_stale(state)
    assert journal.read_text() == damage  # kept for the person to look at


# --- 9. core dumps ---------------------------------------------------------------------------


def test_up_runs_without_core_dumps(tmp_path: Path, netns: Netns) -> None:
    profile = root_profile(tmp_path / "profiles")
    state = tmp_path / "state"
    netns_exec = ["ip", "netns", "exec", netns.name, sys.executable, "-m", "ikeclient"]
    proc = subprocess.Popen(
        [*netns_exec, "up", str(profile), "--once", "--state-dir", str(state)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        limits = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            if (state / "work.pid").exists():
                break
            time.sleep(0.05)
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_disable_core_dumps_makes_the_process_undumpable() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource\n"
            "from ikeclient.runtime.process import disable_core_dumps, is_dumpable\n"
            "assert is_dumpable()\n"
            "disable_core_dumps()\n"
            "print(is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE))\n",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "False (0, 0)"
