"""Every module of the package imports with the installed libraries.

scripts/test.sh also runs this in .venv-lowest, where every dependency is at its declared
floor: a floor below what the code imports (``from cryptography.x509 import verification``
with cryptography 41) fails here, not at a user's first connection.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ikeclient

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(ikeclient.__path__, "ikeclient.")
    if not info.name.endswith(".__main__")  # runs the command when imported
)


def test_the_walk_finds_the_package() -> None:
    assert len(MODULES) > 50
    assert "ikeclient.ike.pki" in MODULES and "ikeclient.net.tun" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)
