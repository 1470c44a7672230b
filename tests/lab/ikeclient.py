"""Running ikeclient itself in the lab's client namespace (for interop tests, the demo, benches).

``write_profile`` writes a profile and its pre-shared key file (mode 0600) into the lab's work
directory; ``IkeclientProcess`` runs ``python -m ikeclient up PROFILE`` in the client namespace
as a tracked child of the lab, reads its output and stops it by PID.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.lab.strongswan import DEFAULT_PSK, LabError
from tests.lab.topology import Lab

REPO_ROOT = Path(__file__).resolve().parents[2]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def write_profile(
    lab: Lab,
    name: str = "lab",
    *,
    psk: str = DEFAULT_PSK,
    retransmit: Mapping[str, float] | None = None,
    **settings: Any,
) -> Path:
    """Write ``<workdir>/<name>.toml`` for the lab gateway, plus its PSK file; returns the path.

    Defaults: gateway ``lab.gateway_addr``, ``local_id`` client@ike.lab, ``remote_id``
    gw.ike.lab, ``remote_ts`` the server subnet, quick retransmissions. ``settings`` override
    or add profile keys (use None to leave a key out); a dict value becomes a table.
    """
    psk_path = lab.workdir / f"{name}.psk"
    psk_path.write_text(psk + "\n")
    os.chmod(psk_path, 0o600)
    table: dict[str, Any] = {
        "gateway": lab.gateway_addr,
        "local_id": "client@ike.lab",
        "remote_id": "gw.ike.lab",
        "psk_file": str(psk_path),
        "remote_ts": [lab.server_subnet],
    }
    table.update(settings)
    flat = {k: v for k, v in table.items() if v is not None and not isinstance(v, Mapping)}
    lines = [f"{k} = {_toml_value(v)}" for k, v in flat.items()]
    rt = {"timeout": 0.5, "base": 1.5, "tries": 3}
    rt.update(retransmit or {})
    lines += ["", "[retransmit]"] + [f"{k} = {_toml_value(v)}" for k, v in rt.items()]
    for key, sub in table.items():
        if isinstance(sub, Mapping):  # a table, e.g. lifetimes={"child_rekey_time": 15}
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in sub.items()]
    path = lab.workdir / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def state_dir(lab: Lab) -> Path:
    """Where ikeclient keeps its undo journal in this lab."""
    return lab.workdir / "ikeclient-state"


class IkeclientProcess:
    """``python -m ikeclient up PROFILE`` running in the lab's client namespace."""

    def __init__(self, lab: Lab, profile: Path, *extra_args: str) -> None:
        self.lab = lab
        argv = [sys.executable, "-m", "ikeclient", "up", str(profile), *extra_args]
        if "--state-dir" not in extra_args:
            # The lab's own journal directory: parallel labs never share one.
            argv += ["--state-dir", str(state_dir(lab))]
        env = {"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = lab.popen(
            lab.client_ns,
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            with self._lock:
                sink.append(line)

    @property
    def stdout(self) -> str:
        with self._lock:
            return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._stderr)

    def wait_for_output(self, text: str, timeout: float = 15.0) -> None:
        """Wait until ``text`` appears on stdout; LabError if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            if self.proc.poll() is not None:
                self._join()
                if text in self.stdout:
                    return
                raise LabError(
                    f"ikeclient exited ({self.proc.returncode}) before printing {text!r}:\n"
                    f"{self.stdout}{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise LabError(f"ikeclient did not print {text!r} in {timeout}s:\n{self.stdout}")
            time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM (the client then deletes its SA), wait for the exit; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to end by itself; return its exit code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.lab.stop_process(self.proc)
            raise LabError(f"ikeclient did not exit within {timeout}s:\n{self.stdout}") from None
        self._join()
        return code

    def _join(self) -> None:
        for t in self._readers:
            t.join(timeout=2)


def run_ikeclient(lab: Lab, profile: Path, *args: str, timeout: float = 30.0) -> IkeclientProcess:
    """Run ``ikeclient up PROFILE ARGS`` to completion; returns the finished process."""
    client = IkeclientProcess(lab, profile, *args)
    client.wait(timeout)
    return client


def leak_probe(lab: Lab, host: str, port: int, bind: str | None = None) -> str:
    """Send one UDP datagram from the client namespace: "sent", or the errno's name."""
    code = (
        "import errno, socket, sys\n"
        "host, port, bind = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
        "s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    if bind: s.bind((bind, 0))\n"
        "    s.sendto(b'x', (host, port)); print('sent')\n"
        "except OSError as exc: print(errno.errorcode.get(exc.errno, exc.errno))\n"
    )
    argv = [sys.executable, "-c", code, host, str(port), bind or ""]
    return str(lab.run(lab.client_ns, argv, check=True).stdout.strip())


def up_at_a_terminal(lab: Lab, argv: Sequence[str], prompt: bytes) -> tuple[int, str]:
    """Run ``argv`` (a ``script``-wrapped ``ikeclient up``) in the client namespace as a person
    at a terminal would: wait for ``prompt``, type the lab's pre-shared key, read everything
    until the program ends. Returns its exit code and output; bounded in time."""
    proc = lab.popen(
        lab.client_ns,
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = _read_until(proc.stdout.fileno(), prompt, 60)
    # Typed at the prompt (getpass flushes anything typed ahead of it).
    proc.stdin.write(DEFAULT_PSK.encode() + b"\n")
    proc.stdin.flush()
    out += _read_until(proc.stdout.fileno(), None, 120)
    code = proc.wait(30)
    return code, out.decode("utf-8", "replace")


def _read_until(fd: int, marker: bytes | None, timeout: float) -> bytes:
    """Read a pipe until ``marker`` appears (or, with None, until it closes); bounded in time."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if marker is not None and marker in data:
            break
    return data
