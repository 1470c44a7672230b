"""The undo journal's format and semantics, without root: undo handlers are test doubles
or the file-restore operation on temporary files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ikeclient.errors import NetError, UnsafeFileError
from ikeclient.net.journal import (
    UndoJournal,
    current_netns,
    process_start_time,
    read_journal,
    recover_stale,
)
from ikeclient.net.undo import UNDO_HANDLERS, undo_file_restore, undo_handlers


class Recorder:
    """Undo handlers that only log what they were asked to undo."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handlers(self) -> dict[str, Any]:
        def make(op: str) -> Any:
            def handler(args: Mapping[str, Any]) -> None:
                self.calls.append((op, dict(args)))

            return handler

        return {op: make(op) for op in UNDO_HANDLERS}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_journal(path: Path, header: dict[str, Any], *records: dict[str, Any]) -> None:
    base = {"journal": "ikeclient-undo", "version": 1, "name": path.stem}
    text = json.dumps({**base, **header}) + "\n"
    text += "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text)
    path.chmod(0o600)


def test_header_and_entries_are_json_lines(tmp_path: Path) -> None:
    directory = tmp_path / "journals"
    journal = UndoJournal.for_connection("work", directory)
    assert not journal.path.exists()  # nothing on disk before open/record
    seq = journal.record("addr_delete", dev="ikc0", address="198.18.200.1/32")
    assert journal.path == directory / "work.journal"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    header, entry = lines(journal.path)
    assert header["journal"] == "ikeclient-undo" and header["version"] == 1
    assert header["name"] == "work"
    assert header["pid"] == os.getpid()
    assert header["start_time"] == process_start_time(os.getpid())
    proc_stat = Path("/proc/self/stat").read_text()
    assert header["start_time"] == float(proc_stat.rsplit(")", 1)[1].split()[19])
    assert header["netns"] == current_netns()
    assert entry == {
        "seq": seq,
        "op": "addr_delete",
        "args": {"dev": "ikc0", "address": "198.18.200.1/32"},
    }


def test_each_record_is_fsynced_before_record_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = UndoJournal(tmp_path / "a.journal")
    journal.open()
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    journal.record("link_delete", name="ikc0")
    assert len(synced) == 1
    # Another reader sees the entry at once (no user-space buffering).
    assert read_journal(journal.path).entries[0].op == "link_delete"


def test_unknown_operation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown undo operation"):
        UndoJournal(tmp_path / "a.journal").record("rm_rf", path="/")


def test_revert_runs_undos_newest_first_then_removes_the_journal(tmp_path: Path) -> None:
    recorder = Recorder()
    journal = UndoJournal(tmp_path / "a.journal", handlers=recorder.handlers())
    journal.record("link_delete", name="ikc0")
    journal.record("addr_delete", dev="ikc0", address="198.18.200.1/32")
    failed = journal.record("route_delete", dst="198.18.50.0/24", dev="ikc0")
    journal.cancel(failed)  # the change failed: never undone
    journal.record("route_delete", dst="198.18.60.0/24", dev="ikc0")
    assert [e.seq for e in journal.entries()] == [1, 2, 4]
    assert journal.revert() == []
    assert [(op, args.get("dst") or args.get("address") or args.get("name"))
            for op, args in recorder.calls] == [
        ("route_delete", "198.18.60.0/24"),
        ("addr_delete", "198.18.200.1/32"),
        ("link_delete", "ikc0"),
    ]  # fmt: skip
    assert not journal.path.exists()
    assert journal.revert() == []  # twice: nothing left to do
    assert len(recorder.calls) == 3


def test_change_context_cancels_on_error(tmp_path: Path) -> None:
    recorder = Recorder()
    journal = UndoJournal(tmp_path / "a.journal", handlers=recorder.handlers())
    with pytest.raises(RuntimeError), journal.change("link_delete", name="ikc0"):
        raise RuntimeError("the change failed")
    with journal.change("link_delete", name="ikc1"):
        pass
    assert [e.args["name"] for e in journal.entries()] == ["ikc1"]
    assert lines(journal.path)[2] == {"seq": 1, "cancel": True}


def test_one_failing_undo_does_not_stop_the_others(tmp_path: Path) -> None:
    recorder = Recorder()
    handlers = recorder.handlers()

    def broken(args: Mapping[str, Any]) -> None:
        raise OSError("boom")

    handlers["addr_delete"] = broken
    journal = UndoJournal(tmp_path / "a.journal", handlers=handlers)
    journal.record("link_delete", name="ikc0")
    journal.record("addr_delete", dev="ikc0", address="198.18.200.1/32")
    journal.record("route_delete", dst="198.18.50.0/24", dev="ikc0")
    failures = journal.revert()
    assert len(failures) == 1 and "addr_delete" in failures[0] and "boom" in failures[0]
    assert [op for op, _ in recorder.calls] == ["route_delete", "link_delete"]
    assert not journal.path.exists()


def test_torn_last_line_is_ignored_but_corruption_is_not(tmp_path: Path) -> None:
    path = tmp_path / "a.journal"
    write_journal(path, {"pid": 1}, {"seq": 1, "op": "link_delete", "args": {"name": "ikc0"}})
    with path.open("a") as handle:
        handle.write('{"seq": 2, "op": "addr_del')  # a crash in the middle of a write
    assert [e.seq for e in read_journal(path).entries] == [1]
    path.write_text(path.read_text() + "\n" + json.dumps({"seq": 3}) + "\n")
    with pytest.raises(NetError, match="line 3 is not JSON"):
        read_journal(path)
    path.write_text('{"hello": 1}\n')
    with pytest.raises(NetError, match="not an ikeclient undo journal"):
        read_journal(path)


def test_bad_connection_names_are_refused(tmp_path: Path) -> None:
    for name in ("", "../etc/passwd", "a/b", ".hidden", "x" * 80):
        with pytest.raises(NetError, match="cannot name a journal file"):
            UndoJournal.for_connection(name, tmp_path)


def test_journal_directory_errors_are_clear(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    journal = UndoJournal.for_connection("work", blocker / "journals")
    with pytest.raises(NetError, match=r"cannot create the undo journal directory .*/journals"):
        journal.open()
    with pytest.raises(NetError, match="cannot create the undo journal directory"):
        journal.record("link_delete", name="ikc0")


def test_missing_journal_directory_is_created(tmp_path: Path) -> None:
    journal = UndoJournal.for_connection("work", tmp_path / "a" / "b")
    journal.open()
    assert journal.path.exists()
    assert journal.revert() == []


def test_reopening_our_own_journal_continues_it(tmp_path: Path) -> None:
    recorder = Recorder()
    journal = UndoJournal(tmp_path / "a.journal", handlers=recorder.handlers())
    journal.record("link_delete", name="ikc0")
    cancelled = journal.record("link_delete", name="ikc1")
    journal.cancel(cancelled)
    journal.close()
    again = UndoJournal(tmp_path / "a.journal", handlers=recorder.handlers())
    assert again.record("link_delete", name="ikc2") == 3  # never reuses a sequence number
    assert [e.args["name"] for e in again.entries()] == ["ikc0", "ikc2"]


def test_live_owner_blocks_a_second_client(tmp_path: Path) -> None:
    path = tmp_path / "work.journal"
    parent = os.getppid()
    write_journal(path, {"pid": parent, "start_time": process_start_time(parent)})
    with pytest.raises(NetError, match="already active"):
        UndoJournal(path).open()


def test_dead_owner_is_reverted_when_the_connection_starts_again(tmp_path: Path) -> None:
    target = tmp_path / "resolv.conf"
    target.write_bytes(b"ours\n")
    path = tmp_path / "work.journal"
    write_journal(
        path,
        {"pid": dead_pid(), "start_time": 1.0, "netns": current_netns()},
        {"seq": 1, "op": "file_restore",
         "args": {"path": str(target), "original": "theirs\n", "written": "ours\n"}},
    )  # fmt: skip
    journal = UndoJournal(path, handlers=undo_handlers(target))
    journal.open()
    assert target.read_bytes() == b"theirs\n"
    assert lines(path)[0]["pid"] == os.getpid()  # a fresh journal of ours
    journal.revert()


def test_recover_stale(tmp_path: Path) -> None:
    me_pid, me_start = os.getpid(), process_start_time(os.getpid())
    assert me_start is not None
    headers = {
        "dead": {"pid": dead_pid(), "start_time": 1.0},
        "reused": {"pid": me_pid, "start_time": me_start - 1000},  # pid reuse
        "live": {"pid": me_pid, "start_time": me_start},
        "foreign": {"pid": dead_pid(), "start_time": 1.0, "netns": 1},  # other namespace
    }
    journals = tmp_path / "journals"
    journals.mkdir(mode=0o700)
    for number, (name, header) in enumerate(headers.items()):
        write_journal(
            journals / f"{name}.journal",
            {"netns": current_netns(), **header},
            {"seq": 1, "op": "link_delete", "args": {"name": f"ikc{number}"}},
        )
    recorder = Recorder()
    assert recover_stale(journals, handlers=recorder.handlers()) == ["dead", "reused"]
    assert recorder.calls == [("link_delete", {"name": "ikc0"}), ("link_delete", {"name": "ikc1"})]
    assert sorted(p.name for p in journals.iterdir()) == ["foreign.journal", "live.journal"]
    assert recover_stale(journals, handlers=recorder.handlers()) == []
    assert recover_stale(tmp_path / "missing") == []


def test_recover_stale_refuses_a_journal_that_is_not_private(tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir(mode=0o700)
    unsafe = journals / "unsafe.journal"
    write_journal(unsafe, {"pid": dead_pid(), "start_time": 1.0},
                  {"seq": 1, "op": "link_delete", "args": {"name": "ikc0"}})  # fmt: skip
    unsafe.chmod(0o666)
    recorder = Recorder()
    with pytest.raises(UnsafeFileError, match=f"undo journal {unsafe} is writable by other"):
        recover_stale(journals, handlers=recorder.handlers())
    assert recorder.calls == [] and unsafe.exists()
    unsafe.chmod(0o600)
    os.link(unsafe, tmp_path / "second-name")
    with pytest.raises(UnsafeFileError, match="2 hard links"):
        recover_stale(journals, handlers=recorder.handlers())
    assert recorder.calls == []


# --- the file-restore undo ---------------------------------------------------------------------


def restore_args(path: Path, original: str | None, written: str, **extra: Any) -> dict[str, Any]:
    return {"path": str(path), "original": original, "written": written, **extra}


def test_file_restore_is_exact_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    original = b"nameserver 198.18.9.53\n\xff odd bytes\n"
    path.write_bytes(b"# ikeclient\nnameserver 198.18.53.1\n")
    inode = path.stat().st_ino
    args = restore_args(
        path,
        original.decode("utf-8", "surrogateescape"),
        "# ikeclient\nnameserver 198.18.53.1\n",
        inode=[path.stat().st_dev, inode],
    )
    json_args = json.loads(json.dumps(args))  # as it comes back from the journal
    undo_file_restore(json_args, path=path)
    assert path.read_bytes() == original
    assert path.stat().st_ino == inode  # in place
    undo_file_restore(json_args, path=path)
    assert path.read_bytes() == original


def test_file_restore_leaves_a_file_someone_else_rewrote(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_bytes(b"nameserver 198.18.1.1  # from DHCP, after us\n")
    undo_file_restore(restore_args(path, "orig\n", "ours\n", marker="# ikeclient\n"), path=path)
    assert path.read_bytes() == b"nameserver 198.18.1.1  # from DHCP, after us\n"
    # ... but one that still starts with our marker is restored.
    path.write_bytes(b"# ikeclient\nnameserver 198.18.53.1\nappended by someone\n")
    undo_file_restore(restore_args(path, "orig\n", "ours\n", marker="# ikeclient\n"), path=path)
    assert path.read_bytes() == b"orig\n"


def test_file_restore_of_a_replaced_file_does_nothing(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_bytes(b"ours\n")
    undo_file_restore(restore_args(path, "orig\n", "ours\n", inode=[0, 0]), path=path)
    assert path.read_bytes() == b"ours\n"


def test_file_restore_removes_a_file_we_created(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_bytes(b"ours\n")
    undo_file_restore(restore_args(path, None, "ours\n"), path=path)
    assert not path.exists()
    undo_file_restore(restore_args(path, None, "ours\n"), path=path)  # already gone: fine
