"""The on-disk undo journal of host network changes.

Theory of operation: every change to the host (a TUN link, an address, a route,
DNS settings) is first appended to the connection's journal as one JSON line
naming the operation that undoes it, flushed and fsynced, and only then made.
If making the change fails, a cancel line follows so the undo is skipped.
:meth:`UndoJournal.revert` replays the undo operations in reverse order and
deletes the journal. The journal survives the process: its header records the
owner's pid and start time (pid reuse cannot fool it) and the network namespace,
so :func:`recover_stale` at the next start reverts what a crashed or SIGKILLed
client left behind, in the namespace it was made in.

File format (``<directory>/<connection>.journal``, mode 0600), one JSON object per line::

    {"journal": "ikeclient-undo", "version": 1, "name": "work", "pid": 4242,
     "start_time": 1732680000.12, "netns": 4026531840, "created": 1732680001.5}
    {"seq": 1, "op": "link_delete", "args": {"name": "ikc0"}}
    {"seq": 2, "op": "addr_delete", "args": {"dev": "ikc0", "address": "198.18.200.1/32"}}
    {"seq": 2, "cancel": true}

A torn last line (a crash in the middle of a write) is ignored: its change was never made.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikeclient.errors import NetError, UnsafeFileError
from ikeclient.net.undo import UNDO_HANDLERS, UndoFailed, UndoHandler
from ikeclient.safefiles import ensure_private_dir, open_private, read_private, write_atomic

logger = logging.getLogger(__name__)

#: Where journals live unless the caller says otherwise (tmpfs: gone at reboot, like the changes).
DEFAULT_JOURNAL_DIR = Path("/run/ikeclient")
JOURNAL_SUFFIX = ".journal"
FORMAT_NAME = "ikeclient-undo"
FORMAT_VERSION = 1

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_START_TIME_TOLERANCE = 0.5  # clock ticks: start times compare exactly


def current_netns() -> int | None:
    """The inode of this process's network namespace (``/proc/self/ns/net``), if readable."""
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started, in clock ticks since boot (proc(5) field 22), or None.

    Read from /proc rather than through psutil: this runs at every start and psutil takes
    longer to import than the whole lookup. A PID reused by another process has another
    start time, so (pid, start time) names one process.
    """
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return float(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except ValueError:
        return None


def owner_alive(pid: int, start_time: float | None) -> bool:
    """True while the process that wrote a journal still runs (same pid, same start time)."""
    fields = _proc_stat(pid)
    if fields is None or not fields or fields[0] in ("Z", "X"):
        return False
    if start_time is None:
        return True
    created = process_start_time(pid)
    if created is None:
        return False
    return abs(created - start_time) <= _START_TIME_TOLERANCE


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recorded change: the undo operation and its arguments."""

    seq: int
    op: str
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JournalContents:
    """A journal file as read back: its header and the entries still to undo, oldest first."""

    header: Mapping[str, Any]
    entries: tuple[JournalEntry, ...] = field(default=())
    last_seq: int = 0

    @property
    def pid(self) -> int:
        pid = self.header.get("pid", 0)
        return pid if isinstance(pid, int) else 0

    @property
    def start_time(self) -> float | None:
        value = self.header.get("start_time")
        return float(value) if isinstance(value, int | float) else None

    @property
    def netns(self) -> int | None:
        value = self.header.get("netns")
        return int(value) if isinstance(value, int) else None


def _damaged(path: Path, reason: str) -> NetError:
    return NetError(
        f"undo journal {path} is damaged ({reason}); check the host's routes and DNS, "
        f"then remove it: rm {path}"
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_header(path: Path, header: Mapping[str, Any]) -> None:
    """Every header field we act on has the type we wrote (a journal is untrusted input)."""
    if header.get("version") != FORMAT_VERSION:
        raise _damaged(path, f"version {header.get('version')!r}, not {FORMAT_VERSION}")
    if not _is_int(header.get("pid")) or header["pid"] < 0:
        raise _damaged(path, "no valid pid in its header")
    start = header.get("start_time")
    if start is not None and (isinstance(start, bool) or not isinstance(start, int | float)):
        raise _damaged(path, "no valid start time in its header")
    netns = header.get("netns")
    if netns is not None and not _is_int(netns):
        raise _damaged(path, "no valid network namespace in its header")
    if not isinstance(header.get("name", ""), str):
        raise _damaged(path, "no valid name in its header")


def _entry(path: Path, number: int, record: Mapping[str, Any]) -> JournalEntry | None:
    """One journal line after the header: a change (returned) or a cancel line (None)."""
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _damaged(path, f"line {number} has no sequence number")
    if record.get("cancel") is True:
        return None
    op, args = record.get("op"), record.get("args", {})
    if not isinstance(op, str) or not isinstance(args, dict):
        raise _damaged(path, f"line {number} is neither a change nor a cancel")
    return JournalEntry(seq, op, args)


def read_journal(path: Path) -> JournalContents:
    """Parse a journal file, checking it is ours (:func:`ikeclient.safefiles.open_private`).

    A file without one complete line belongs to a writer that died before it recorded any
    change: its contents have an empty header. Raises NetError for a journal that cannot be
    read or is damaged (naming the file and how to clear it), UnsafeFileError for one that
    is not ours.
    """
    try:
        raw = read_private(path, what="undo journal")
    except OSError as exc:
        raise NetError(f"cannot read undo journal {path}: {exc.strerror}") from None
    lines = raw.split(b"\n")
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # no newline after it: torn by a crash mid-write
                logger.warning("%s: ignoring a torn last line", path)
                continue
            raise NetError(f"undo journal {path} line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise NetError(f"undo journal {path} line {number} is not an object")
        records.append((number, record))
    if not records:
        return JournalContents(header={})
    if records[0][1].get("journal") != FORMAT_NAME:
        raise NetError(f"{path} is not an ikeclient undo journal (no header)")
    header = records[0][1]
    _check_header(path, header)
    changes: list[JournalEntry] = []
    cancelled: set[int] = set()
    last_seq = 0
    for number, record in records[1:]:
        entry = _entry(path, number, record)
        last_seq = max(last_seq, record["seq"])
        if entry is None:
            cancelled.add(record["seq"])
        else:
            changes.append(entry)
    entries = tuple(e for e in changes if e.seq not in cancelled)
    return JournalContents(header=header, entries=entries, last_seq=last_seq)


def replay_undo(
    contents: JournalContents,
    handlers: Mapping[str, UndoHandler] = UNDO_HANDLERS,
) -> list[str]:
    """Run the undo of every entry, newest first; return what could not be undone."""
    failures: list[str] = []
    for entry in reversed(contents.entries):
        handler = handlers.get(entry.op)
        if handler is None:
            failures.append(f"#{entry.seq} {entry.op}: unknown undo operation")
            continue
        try:
            handler(entry.args)
        except UndoFailed as exc:
            failures.append(f"#{entry.seq} {entry.op}: {exc}")
        except Exception as exc:  # best effort: one broken undo must not stop the others
            failures.append(f"#{entry.seq} {entry.op}: {type(exc).__name__}: {exc}")
    for failure in failures:
        logger.warning("undo failed: %s", failure)
    return failures


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class UndoJournal:
    """The undo journal of one connection (see the module docstring).

    Nothing touches the disk until :meth:`open` (or the first :meth:`record`). ``handlers``
    replaces the undo operations (tests); by default they are :data:`UNDO_HANDLERS`.
    """

    def __init__(self, path: Path, *, handlers: Mapping[str, UndoHandler] | None = None) -> None:
        self.path = Path(path)
        self.handlers: Mapping[str, UndoHandler] = (
            UNDO_HANDLERS if handlers is None else dict(handlers)
        )
        self._fd: int | None = None
        self._seq = 0

    @classmethod
    def for_connection(
        cls,
        name: str,
        directory: Path | None = None,
        *,
        handlers: Mapping[str, UndoHandler] | None = None,
    ) -> UndoJournal:
        """The journal of connection ``name`` in ``directory`` (default /run/ikeclient)."""
        if not _NAME_RE.fullmatch(name):
            raise NetError(f"connection name {name!r} cannot name a journal file")
        path = (directory or DEFAULT_JOURNAL_DIR) / f"{name}{JOURNAL_SUFFIX}"
        return cls(path, handlers=handlers)

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(JOURNAL_SUFFIX)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def __repr__(self) -> str:
        return f"UndoJournal({str(self.path)!r}, open={self.is_open})"

    # --- writing -----------------------------------------------------------------------------

    def open(self) -> None:
        """Create the journal file (and its directory, mode 0700) and write the header.

        A journal left by a dead owner is reverted first; one whose owner still runs is an
        error (the connection is already up). Raises NetError with the path and the reason when
        the directory cannot be created or written, UnsafeFileError when the directory or an
        existing journal is not private to us (see :mod:`ikeclient.safefiles`).
        """
        if self._fd is not None:
            return
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise NetError(
                f"cannot create the undo journal directory {directory}: "
                f"{exc.strerror or exc}; run as root or choose a writable journal directory"
            ) from None
        ensure_private_dir(directory, what="undo journal directory", create=False)
        for _attempt in range(3):
            try:
                fd = open_private(
                    self.path, os.O_WRONLY | os.O_APPEND, what="undo journal", exclusive=True
                )
            except FileExistsError:
                if self._reopen_own():
                    return
                self._take_over_existing()
                continue
            except OSError as exc:
                raise NetError(
                    f"cannot write the undo journal {self.path}: {exc.strerror or exc}; "
                    "the journal directory must be writable by this process"
                ) from None
            self._fd = fd
            break
        else:
            raise NetError(f"undo journal {self.path} keeps reappearing; another client races us")
        pid = os.getpid()
        header = {
            "journal": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "pid": pid,
            "start_time": process_start_time(pid),
            "netns": current_netns(),
            "created": time.time(),
        }
        try:
            self._append(header)
        except NetError:
            self._close_fd()
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        _fsync_dir(directory)

    def _reopen_own(self) -> bool:
        """Continue a journal this very process wrote earlier (closed, not reverted)."""
        contents = read_journal(self.path)
        pid = os.getpid()
        start = process_start_time(pid)
        if contents.pid != pid or contents.start_time is None or start is None:
            return False
        if abs(contents.start_time - start) > _START_TIME_TOLERANCE:
            return False
        try:
            self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND, what="undo journal")
        except OSError as exc:
            raise NetError(f"cannot write the undo journal {self.path}: {exc.strerror}") from None
        self._seq = contents.last_seq
        return True

    def _take_over_existing(self) -> None:
        """An old journal of this name exists: revert it if its owner is dead, else refuse.

        It goes through the same checks as every journal we read (ours, private, one link,
        well formed); a damaged one is an error naming the file, never replayed or dropped.
        """
        contents = read_journal(self.path)
        if not contents.header:
            # Not one complete line: the writer died before recording any change.
            logger.warning("removing an empty undo journal %s", self.path)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        if owner_alive(contents.pid, contents.start_time):
            raise NetError(
                f"connection {self.name!r} is already active (pid {contents.pid}, "
                f"journal {self.path}); disconnect it first"
            )
        if contents.netns is not None and contents.netns != current_netns():
            raise NetError(
                f"undo journal {self.path} belongs to another network namespace; "
                "recover it there first"
            )
        logger.warning("reverting the changes of a dead client (pid %d)", contents.pid)
        replay_undo(contents, self.handlers)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _append(self, record: Mapping[str, Any]) -> None:
        assert self._fd is not None
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        try:
            os.write(self._fd, line)  # O_APPEND: one write, one line
            os.fsync(self._fd)
        except OSError as exc:
            raise NetError(f"cannot write the undo journal {self.path}: {exc.strerror}") from None

    def record(self, op: str, **args: Any) -> int:
        """Append the undo of a change about to be made; returns its sequence number.

        Call it BEFORE making the change; if the change then fails, :meth:`cancel` it.
        """
        if op not in self.handlers:
            raise ValueError(f"unknown undo operation {op!r}")
        self.open()
        self._seq += 1
        self._append({"seq": self._seq, "op": op, "args": args})
        return self._seq

    def cancel(self, seq: int) -> None:
        """The change recorded as ``seq`` was not made: its undo must not run."""
        if self._fd is not None:
            self._append({"seq": seq, "cancel": True})

    @contextlib.contextmanager
    def change(self, op: str, **args: Any) -> Iterator[int]:
        """``with journal.change(op, **undo_args): make_the_change()`` — cancelled on error."""
        seq = self.record(op, **args)
        try:
            yield seq
        except BaseException:
            self.cancel(seq)
            raise

    # --- reading and undoing -----------------------------------------------------------------

    def entries(self) -> tuple[JournalEntry, ...]:
        """The changes still to undo, oldest first (empty when there is no journal)."""
        if not self.path.exists():
            return ()
        return read_journal(self.path).entries

    def revert(self, keep: Collection[str] = (), leave: Collection[str] = ()) -> list[str]:
        """Undo every recorded change, newest first, then delete the journal.

        Each undo is best effort and idempotent; returns the ones that failed (also logged).
        Reverting twice, or reverting a journal never opened, does nothing. A journal that is
        damaged or not ours is neither replayed nor deleted: the failure says why.

        Changes whose operation is in ``keep`` are left in place, and the journal is rewritten
        with just them (so a later ``recover_stale`` undoes them once this process is gone).
        Changes whose operation is in ``leave`` are left in place and dropped from the journal:
        the caller takes them over (records them in a journal of its own).
        """
        failures: list[str] = []
        kept: list[JournalEntry] = []
        if os.path.lexists(self.path):
            try:
                contents = read_journal(self.path)
            except (NetError, UnsafeFileError) as exc:
                self._close_fd()
                logger.warning("%s", exc)
                return [str(exc)]
            kept = [e for e in contents.entries if e.op in keep and e.op not in leave]
            undo = JournalContents(
                contents.header,
                tuple(e for e in contents.entries if e.op not in keep and e.op not in leave),
            )
            failures = replay_undo(undo, self.handlers)
            if kept:
                self._close_fd()
                records = [contents.header] + [
                    {"seq": e.seq, "op": e.op, "args": dict(e.args)} for e in kept
                ]
                text = "".join(
                    json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in records
                )
                write_atomic(self.path, text.encode())
                return failures
        self._close_fd()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failures.append(f"cannot remove {self.path}: {exc.strerror}")
        else:
            _fsync_dir(self.path.parent)
        self._seq = 0
        return failures

    def close(self) -> None:
        """Stop writing without undoing anything (the journal stays for a later revert)."""
        self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def recover_stale(
    directory: Path | None = None,
    *,
    handlers: Mapping[str, UndoHandler] | None = None,
    leave: Collection[str] = (),
) -> list[str]:
    """Revert the journals in ``directory`` whose owner is dead; return their connection names.

    Journals of live clients or of another network namespace are left alone. A missing
    directory means there is nothing to recover; a directory or a journal that is not
    private to us, or a damaged journal, is an error (UnsafeFileError, NetError) naming it.
    Changes whose operation is in ``leave`` stay in place, for the caller to take over
    (a leak-protected start keeps the table a dead run left until its own replaces it).
    """
    directory = directory or DEFAULT_JOURNAL_DIR
    if not os.path.lexists(directory):
        return []
    ensure_private_dir(directory, what="undo journal directory", create=False)
    try:
        paths = sorted(directory.glob(f"*{JOURNAL_SUFFIX}"))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise NetError(f"cannot list undo journals in {directory}: {exc.strerror}") from None
    netns = current_netns()
    recovered: list[str] = []
    for path in paths:
        contents = read_journal(path)
        if contents.header and owner_alive(contents.pid, contents.start_time):
            continue
        if contents.netns is not None and netns is not None and contents.netns != netns:
            logger.info("skipping %s: it belongs to another network namespace", path)
            continue
        journal = UndoJournal(path, handlers=handlers)
        failures = journal.revert(leave=leave)
        name = str(contents.header.get("name") or journal.name)
        if failures:
            logger.warning("recovered %s with %d failed undo(s)", name, len(failures))
        recovered.append(name)
    return recovered
