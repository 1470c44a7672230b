"""Files a running connection keeps in the state directory, for ``status`` and ``down``.

``<dir>/<name>.pid`` holds the PID and start time of the ``ikeclient up`` process;
``<dir>/<name>.json`` its status (SAs, algorithms, addresses, routes, DNS, counters, drops),
rewritten atomically about once a second while the connection runs. Neither ever holds a
secret. Both go away when the connection ends; a leftover pair whose process is dead is
stale and ignored.

The directory must be private to us and every file is read and written through
:mod:`ikeclient.safefiles` (no symlinks followed, mode 0600, unpredictable temporary names).
``down`` signals a PID from a pid file only when that very process (same start time, same
owner as us) still runs ikeclient.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ikeclient.errors import ConfigError
from ikeclient.net.journal import process_start_time
from ikeclient.safefiles import (
    ensure_private_dir,
    open_private,
    read_private,
    write_atomic,
)

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

    def prepare(self) -> None:
        """Create the state directory (0700) or check that an existing one is private."""
        ensure_private_dir(self.directory, what="state directory")

    def claim(self) -> None:
        """Write our PID; refuse when another live ikeclient runs this connection."""
        self.prepare()
        other = self.running_pid()
        if other is not None and other != os.getpid():
            raise ConfigError(
                f"connection {self.name!r} is already up (pid {other}); "
                f"run: ikeclient down {self.name}"
            )
        pid = os.getpid()
        write_atomic(self.pid_file, f"{pid} {process_start_time(pid)}\n".encode())

    def _read_pid_file(self) -> tuple[int, float | None] | None:
        try:
            fields = read_private(self.pid_file, what="pid file", limit=64).split()
        except OSError:
            return None
        try:
            pid = int(fields[0])
            start = float(fields[1]) if len(fields) > 1 and fields[1] != b"None" else None
        except (IndexError, ValueError):
            return None
        return (pid, start) if pid > 0 else None

    def running_pid(self) -> int | None:
        """The PID of the live ``ikeclient`` process running this connection, or None."""
        recorded = self._read_pid_file()
        if recorded is None:
            return None
        pid, start = recorded
        return pid if is_ikeclient(pid, start) else None

    def open_log(self) -> int:
        """The ``--detach`` log, opened for appending (created 0600, never through a symlink)."""
        return open_private(self.log_file, os.O_WRONLY | os.O_APPEND, what="log", create=True)

    def write_status(self, status: dict[str, Any]) -> None:
        text = json.dumps(status, indent=1, sort_keys=True) + "\n"
        write_atomic(self.status_file, text.encode())

    def read_status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(read_private(self.status_file, what="status file"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def release(self) -> None:
        """Remove the PID and status files (ours only)."""
        recorded = self._read_pid_file()
        if recorded is not None and recorded[0] == os.getpid():
            with contextlib.suppress(OSError):
                self.pid_file.unlink()
                self.status_file.unlink(missing_ok=True)


def _proc_uid(pid: int) -> int | None:
    """The effective uid of process ``pid`` (``Uid:`` in /proc/PID/status), or None."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"Uid:"):
                    return int(line.split()[2])
    except (OSError, IndexError, ValueError):
        return None
    return None


def is_ikeclient(pid: int, start_time: float | None = None) -> bool:
    """True when ``pid`` is a live ikeclient process of our own user (not a reused PID).

    With ``start_time`` (recorded in the pid file) the process must have started then: a
    PID reused by another program, or a pid file pointing at somebody else's process, never
    names the process to signal.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    if state in (b"Z", b"X", b"") or b"ikeclient" not in cmdline:
        return False
    if _proc_uid(pid) != os.geteuid():
        return False
    return start_time is None or process_start_time(pid) == start_time


def running_connections(directory: Path) -> list[StateFiles]:
    """The connections with a live process in ``directory`` (which must be private)."""
    if not directory.is_dir():
        return []
    ensure_private_dir(directory, what="state directory", create=False, owners={os.geteuid(), 0})
    found = []
    for pid_file in sorted(directory.glob(f"*{PID_SUFFIX}")):
        files = StateFiles(directory, pid_file.name[: -len(PID_SUFFIX)])
        if files.running_pid() is not None:
            found.append(files)
    return found
