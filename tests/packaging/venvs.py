"""Scratch venvs for the packaging tests, cached under ~/.cache/ikeclient-tests by a key.

A venv is built under a file lock and marked complete last, so a rerun (or another checkout
testing at the same time) reuses it in about a second and never uses a half-built one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ikeclient-tests"


def cache_key(*parts: str) -> str:
    """A short hash of the parts, the Python version and pyproject.toml."""
    h = hashlib.sha256()
    for part in (*parts, sys.version, (REPO / "pyproject.toml").read_text()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def run(argv: list[str | Path], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a build step; raise with its output if it fails."""
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def cached_venv(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The venv CACHE/NAME-KEY, built by ``build(venv)`` on first use.

    Built in place (a venv's scripts name its path) under a lock; the ``ok`` file written last
    says it is complete, so an interrupted build is redone.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = CACHE / f"{name}-{key}"
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / "ok").exists():
            return venv
        for old in CACHE.glob(f"{name}-*"):  # this one half-built, or those of earlier keys
            if old.is_dir():
                shutil.rmtree(old)
        run([sys.executable, "-m", "venv", venv])
        try:
            build(venv)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        (venv / "ok").touch()
        return venv
