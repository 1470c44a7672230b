"""A throwaway local user for tests that act as a normal person would (sudo, pipx, a terminal).

``throwaway_user()`` makes ``ikcXXXXXX`` with a home directory and removes it (and the sudoers
rule it may have been given) afterwards, also on failure.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ThrowawayUser:
    name: str
    home: Path

    @property
    def sudoers(self) -> Path:
        return Path(f"/etc/sudoers.d/ikeclient-test-{self.name}")

    def allow_sudo(self, program: str) -> None:
        """Let the user run ``program`` as root through sudo without a password."""
        self.sudoers.write_text(f"{self.name} ALL=(root) NOPASSWD: {program}\n")
        self.sudoers.chmod(0o440)

    def give(self, source: Path, name: str | None = None) -> Path:
        """A copy of ``source`` in the user's home, owned by the user."""
        target = self.home / (name or source.name)
        shutil.copyfile(source, target)
        shutil.chown(target, self.name, self.name)
        return target

    def argv(self, command: str) -> list[str]:
        """argv running a shell command as the user with a clean environment."""
        return ["setpriv", f"--reuid={self.name}", f"--regid={self.name}", "--init-groups",
                "env", "-i", f"HOME={self.home}", "PATH=/usr/bin:/bin", "TERM=dumb",
                "LANG=C.UTF-8", "sh", "-c", command]  # fmt: skip

    def at_a_terminal(self, command: str) -> list[str]:
        """argv running ``command`` as the user at a pseudo-terminal (``script``)."""
        return self.argv(f"script -qec '{command}' /dev/null")


@contextmanager
def throwaway_user() -> Iterator[ThrowawayUser]:
    name = f"ikc{secrets.token_hex(3)}"
    user = ThrowawayUser(name, Path(f"/home/{name}"))
    subprocess.run(["useradd", "-m", "-d", str(user.home), "-s", "/bin/sh", user.name], check=True)
    try:
        yield user
    finally:
        user.sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", user.name], check=False, capture_output=True)
