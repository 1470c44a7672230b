"""Files and directories opened by a process that may run as root, and trusts none of them.

ikeclient runs as root (or with its privileged half started through sudo) on hosts with
other users. Every file it opens and every directory it writes into is untrusted until
checked here, on the open descriptor rather than on the path (a path checked and then opened
can be swapped in between):

* our own files (the undo journal, pid and status files, the ``--detach`` log, the key log)
  live in a *private directory*: owned by the effective uid, not writable by group or
  others, reached only through directories that nobody else can rename or replace
  (:func:`ensure_private_dir`). They are opened with ``O_NOFOLLOW`` and checked with
  ``fstat``: a regular file, owned by the effective uid, not group- or other-writable, one
  link (:func:`open_private`); new ones are created with ``O_EXCL`` and mode 0600, replaced
  through unpredictable temporary names (:func:`write_atomic`);
* files read on a user's behalf (profiles, secret files, certificates and keys) are opened
  with ``O_NOFOLLOW`` and accepted only from the owners the caller names, not writable by
  others, and up to a size limit (:func:`read_checked`).

Every refusal is an :class:`~ikeclient.errors.UnsafeFileError` whose one-line message says
which file, what is wrong with it and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Collection
from pathlib import Path

from ikeclient.errors import UnsafeFileError

#: Largest secret file (pre-shared key, passwords, passphrases) we read.
MAX_SECRET_SIZE = 64 * 1024
#: Largest profile we read.
MAX_PROFILE_SIZE = 1024 * 1024
#: Largest certificate, key, PKCS#12, CRL or CA bundle we read.
MAX_CREDENTIAL_SIZE = 16 * 1024 * 1024
#: Largest file of our own (journal, pid and status files) we read back.
MAX_STATE_SIZE = 16 * 1024 * 1024

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def invoking_uid() -> int:
    """The user on whose behalf this process runs.

    ``SUDO_UID`` when root was reached through sudo (sudo sets it; a caller who can give
    root any environment is root already), otherwise the effective uid.
    """
    euid = os.geteuid()
    value = os.environ.get("SUDO_UID", "")
    if euid == 0 and value.isdigit():
        return int(value)
    return euid


def _describe_owner(uid: int) -> str:
    return "root" if uid == 0 else f"uid {uid}"


def _check_ancestor(directory: Path, st: os.stat_result, trusted: Collection[int]) -> None:
    """A directory on the way to one of ours: nobody else may rename what it holds."""
    if st.st_uid not in trusted:
        raise UnsafeFileError(
            f"{directory} belongs to {_describe_owner(st.st_uid)}, who could replace what it "
            "holds; use a directory reached only through root's (or your own) directories"
        )
    if st.st_mode & _WRITABLE_BY_OTHERS and not st.st_mode & stat.S_ISVTX:
        raise UnsafeFileError(
            f"{directory} is writable by other users (and not sticky), who could replace "
            "what it holds; use another directory"
        )


def ensure_private_dir(
    path: Path,
    *,
    what: str,
    create: bool = True,
    owners: Collection[int] | None = None,
) -> Path:
    """Make sure ``path`` is a directory only we control; create it (mode 0700) if asked.

    The directory must be a real directory (not a symlink), owned by the effective uid (or
    one of ``owners``) and not writable by group or others; every directory above it must
    belong to root or to us and be either not writable by others or sticky (like /tmp), so
    nobody else can rename it away and put their own in its place. Returns the absolute
    path. Raises UnsafeFileError naming the directory and the fix.
    """
    euid = os.geteuid()
    allowed = {euid} if owners is None else set(owners)
    trusted = {0, euid}
    path = Path(os.path.abspath(path))
    if create:
        try:
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UnsafeFileError(
                f"cannot create the {what} {path}: {exc.strerror or exc}"
            ) from None
    for candidate in {path, Path(os.path.realpath(path))}:
        for ancestor in reversed(candidate.parents):
            try:
                st = os.lstat(ancestor)
            except OSError as exc:
                raise UnsafeFileError(f"cannot check {ancestor}: {exc.strerror}") from None
            if stat.S_ISDIR(st.st_mode):
                _check_ancestor(ancestor, st, trusted)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UnsafeFileError(f"the {what} {path} does not exist") from None
    except OSError as exc:
        raise UnsafeFileError(f"cannot check the {what} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(f"the {what} {path} is a symbolic link; refusing to follow it")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"the {what} {path} is not a directory")
    if st.st_uid not in allowed:
        raise UnsafeFileError(
            f"the {what} {path} belongs to {_describe_owner(st.st_uid)}, not to "
            f"{_describe_owner(euid)}; remove it or choose another directory"
        )
    if st.st_mode & _WRITABLE_BY_OTHERS:
        raise UnsafeFileError(
            f"the {what} {path} is writable by other users; run: chmod 700 {path}"
        )
    return path


def _open_nofollow(path: Path, flags: int, mode: int, what: str) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(
                f"{what} {path} is a symbolic link; refusing to follow it"
            ) from None
        raise


def check_own_file(fd: int, path: Path, what: str) -> os.stat_result:
    """Check an open file of our own: regular, ours, not writable by others, one link."""
    st = os.fstat(fd)
    euid = os.geteuid()
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{what} {path} is not a regular file")
    if st.st_uid != euid:
        raise UnsafeFileError(
            f"{what} {path} belongs to {_describe_owner(st.st_uid)}, not to "
            f"{_describe_owner(euid)}; remove it or choose another path"
        )
    if st.st_mode & _WRITABLE_BY_OTHERS:
        raise UnsafeFileError(f"{what} {path} is writable by other users; remove it")
    if st.st_nlink != 1:
        raise UnsafeFileError(
            f"{what} {path} has {st.st_nlink} hard links (another name may be read by "
            "someone else); remove it"
        )
    return st


def open_private(
    path: Path, flags: int, *, what: str, create: bool = False, exclusive: bool = False
) -> int:
    """Open a file of our own without following a symlink, and check it (see module doc).

    ``create`` adds ``O_CREAT`` (mode 0600), ``exclusive`` ``O_EXCL`` as well. OSError from
    the open itself (no such file, …) passes through; a file that fails the checks is closed
    and raises UnsafeFileError.
    """
    if create or exclusive:
        flags |= os.O_CREAT
    if exclusive:
        flags |= os.O_EXCL
    fd = _open_nofollow(path, flags, 0o600, what)
    try:
        check_own_file(fd, path, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, path: Path, what: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise UnsafeFileError(f"{what} {path} is larger than {limit} bytes")


def read_private(path: Path, *, what: str, limit: int = MAX_STATE_SIZE) -> bytes:
    """Read a file of our own (see :func:`open_private`); OSError when it cannot be opened."""
    fd = open_private(path, os.O_RDONLY, what=what)
    try:
        return _read_fd(fd, path, what, limit)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) through an unpredictable temporary name.

    The temporary file is created with ``O_EXCL | O_NOFOLLOW``, so nothing planted in the
    directory can redirect the write; the rename never follows a symlink at ``path`` either
    (it replaces the link itself).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = _open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, "temporary file")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_fresh(path: Path, *, what: str, replaceable: Collection[int] = ()) -> int:
    """A new, empty file of our own at ``path`` (mode 0600), opened for writing.

    An existing regular file of ours (or of a uid in ``replaceable``) is removed first (so
    no descriptor opened on it earlier can read what we write); one that belongs to someone
    else, a symlink, or anything but a regular file is refused.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeFileError(f"{what} {path} is a symbolic link; refusing to follow it")
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{what} {path} exists and is not a regular file")
        if st.st_uid != os.geteuid() and st.st_uid not in replaceable:
            raise UnsafeFileError(
                f"{what} {path} belongs to {_describe_owner(st.st_uid)}; "
                "remove it or choose another path"
            )
        os.unlink(path)
    return open_private(path, os.O_WRONLY, what=what, exclusive=True)


def read_checked(
    path: Path,
    *,
    what: str,
    owners: Collection[int],
    limit: int,
    private: bool = False,
) -> tuple[bytes, int]:
    """Read a file on a user's behalf: no symlink, a regular file owned by one of ``owners``,
    not writable by others, at most ``limit`` bytes; ``private`` also refuses a file that
    group or others can read (secrets). Returns the contents and the owner's uid. Raises
    UnsafeFileError, or OSError from the open.
    """
    # O_NONBLOCK: a FIFO planted in place of the file must not hang us (fstat refuses it).
    fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK, 0, what)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{what} {path} is not a regular file")
        if st.st_uid not in owners:
            allowed = " or ".join(_describe_owner(uid) for uid in sorted(set(owners)))
            raise UnsafeFileError(
                f"{what} {path} belongs to {_describe_owner(st.st_uid)}; only files of "
                f"{allowed} are read here"
            )
        if private and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UnsafeFileError(
                f"{what} {path} is readable by other users; run: chmod 600 {path}"
            )
        if st.st_mode & _WRITABLE_BY_OTHERS:
            raise UnsafeFileError(f"{what} {path} is writable by other users")
        if st.st_size > limit:
            raise UnsafeFileError(f"{what} {path} is larger than {limit} bytes")
        os.set_blocking(fd, True)
        return _read_fd(fd, path, what, limit), st.st_uid
    finally:
        os.close(fd)
