"""The import rule of the design notes: ``crypto`` ← ``ike``, ``esp`` ← ``runtime`` ← ``cli``.

``ike``, ``esp`` and ``crypto`` are sans-I/O: they never import sockets, clocks,
event loops or threads, nor each other (ike and esp meet only in runtime).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ikeclient"

IO_MODULES = {"socket", "time", "asyncio", "selectors", "threading", "subprocess", "signal"}

# For each sans-I/O package: the ikeclient packages it must not import.
FORBIDDEN = {
    "crypto": {"ike", "esp", "net", "runtime", "config", "cli", "secretstore"},
    "ike": {"esp", "net", "runtime", "config", "cli", "secretstore"},
    "esp": {"ike", "net", "runtime", "config", "cli", "secretstore"},
}


def imported_modules(source: str) -> set[str]:
    """Every module name an AST imports (absolute names; relative ones are inside the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(layer: str, source: str) -> list[str]:
    """The imports in ``source`` that break the rule for ``layer``."""
    found = []
    for name in sorted(imported_modules(source)):
        top = name.split(".")[0]
        if top in IO_MODULES:
            found.append(name)
        parts = name.split(".")
        if parts[0] == "ikeclient" and len(parts) > 1 and parts[1] in FORBIDDEN[layer]:
            found.append(name)
    return found


def test_the_checker_catches_violations() -> None:
    bad = "import socket\nfrom time import monotonic\nfrom ikeclient.esp import engine\n"
    assert violations("ike", bad) == ["ikeclient.esp", "socket", "time"]
    assert violations("ike", "from ikeclient.crypto import prf\nimport hmac\n") == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_sans_io_layers_keep_the_import_rule(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules found under ikeclient/{layer}"
    problems = {
        str(path.relative_to(PACKAGE)): bad
        for path in files
        if (bad := violations(layer, path.read_text()))
    }
    assert problems == {}
