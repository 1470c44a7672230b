"""Files a running connection keeps in the state directory, for ``status`` and ``down``.

``<dir>/<name>.pid`` holds the PID of the ``ikeclient up`` process; ``<dir>/<name>.json``
its status (SAs, algorithms, addresses, routes, DNS, counters, drops), rewritten atomically
about once a second while the connection runs. Neither ever holds a secret. Both go away
when the connection ends; a leftover pair whose process is dead is stale and ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PID_SUFFIX = ".pid"
STATUS_SUFFIX = ".json"
LOG_SUFFIX = ".log"


@dataclass(frozen=True, slots=True)
class StateFiles:
    """The state files of one connection."""

    directory: Path
    name: str

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}{PID_SUFFIX}"

    @property
    def status_file(self) -> Path:
        return self.directory / f"{self.name}{STATUS_SUFFIX}"

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}{LOG_SUFFIX}"

    def claim(self) -> None:
        """Write our PID; refuse when another live ikeclient runs this connection."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        other = self.running_pid()
        if other is not None and other != os.getpid():
            from ikeclient.errors import ConfigError  # noqa: PLC0415 - keep imports light

            raise ConfigError(
                f"connection {self.name!r} is already up (pid {other}); "
                f"run: ikeclient down {self.name}"
            )
        _write_atomic(self.pid_file, f"{os.getpid()}\n")

    def running_pid(self) -> int | None:
        """The PID of the live ``ikeclient`` process running this connection, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_ikeclient(pid) else None

    def write_status(self, status: dict[str, Any]) -> None:
        _write_atomic(self.status_file, json.dumps(status, indent=1, sort_keys=True) + "\n")

    def read_status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def release(self) -> None:
        """Remove the PID and status files (ours only)."""
        with contextlib.suppress(OSError, ValueError):
            if int(self.pid_file.read_text().strip()) == os.getpid():
                self.pid_file.unlink()
                self.status_file.unlink(missing_ok=True)


def is_ikeclient(pid: int) -> bool:
    """True when ``pid`` is a live process running ikeclient (not a reused PID)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"") and b"ikeclient" in cmdline


def running_connections(directory: Path) -> list[StateFiles]:
    """The connections with a live process in ``directory``."""
    if not directory.is_dir():
        return []
    found = []
    for pid_file in sorted(directory.glob(f"*{PID_SUFFIX}")):
        files = StateFiles(directory, pid_file.name[: -len(PID_SUFFIX)])
        if files.running_pid() is not None:
            found.append(files)
    return found


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
