"""Shared fixtures: the network-namespace lab (``tests.lab``) for interop tests.

``lab`` (per test) and ``lab_module`` (per module) skip only when not running as root; as root
(CI) a broken lab is an error, never a skip.  A failing test gets the lab's strongSwan logs
appended to its report ("lab logs" section).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab import Lab


def require_root() -> None:
    """Skip the calling test unless running as root (the lab needs namespaces)."""
    if os.geteuid() != 0:
        pytest.skip("interop lab needs root (network namespaces, strongSwan); CI runs as root")


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_root()
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="module")
def lab_module() -> Iterator[Lab]:
    require_root()
    with Lab() as the_lab:
        yield the_lab


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("lab", "lab_module"):
            the_lab = funcargs.get(name)
            if isinstance(the_lab, Lab):
                report.sections.append((f"lab logs ({the_lab.prefix})", the_lab.dump_logs()))
    return report
