"""The oldest library versions ikeclient works with, and the check made at start.

The floors are not repeated here: they are read from the installed distribution's metadata
(``importlib.metadata.requires("ikeclient")``, the ``Requires-Dist`` lines written from
pyproject.toml's ``dependencies``), so pyproject.toml is the one place they are declared.
``tests/unit/test_requirements.py`` checks that the installed metadata says what
pyproject.toml says, and scripts/lowest_constraints.py turns the same floors into the
constraints of the lowest-versions test run.

Standard library only: this runs before anything that could be too old is imported.  It is
also cheap, since every command runs it: ``importlib.metadata`` alone costs ~10 ms to import
and ~5 ms to look up five distributions, so the versions are first read from the names of the
``NAME-VERSION.dist-info`` (and ``.egg-info``) directories on ``sys.path`` and ikeclient's
``Requires-Dist`` lines from its ``METADATA`` file (well under a millisecond);
``importlib.metadata`` is the fallback for whatever that does not find (zip files, an
ikeclient installed as an egg).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable

DISTRIBUTION = "ikeclient"

# name, optional [extras], the specifiers (maybe in parentheses), optional "; marker"
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<specs>[^;]*?)\s*(?:;\s*(?P<marker>.*))?$"
)
_RELEASE = re.compile(r"^\s*v?(?:\d+!)?(\d+(?:\.\d+)*)")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Python_Pytun`` -> ``python-pytun``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version: str) -> tuple[int, ...]:
    """The numeric release of a version, trailing zeros dropped: ``45.0.1`` -> (45, 0, 1).

    Pre-, post- and dev-release suffixes are ignored (``46.0.0rc1`` counts as 46): enough to
    compare an installed version with a floor, which is always a final release.
    """
    match = _RELEASE.match(version)
    if match is None:
        return ()
    parts = [int(part) for part in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def floors(requirements: Iterable[str]) -> dict[str, str]:
    """Name -> lower bound (the X of ``>=X``) of each runtime requirement.

    Requirements behind an ``extra == ...`` marker (the dev extras) are not runtime
    requirements and are left out; so is a requirement without a ``>=``.
    """
    found: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            continue
        marker = match.group("marker") or ""
        if "extra" in marker:
            continue
        for spec in match.group("specs").strip("() ").split(","):
            if spec.strip().startswith(">="):
                found[match.group("name")] = spec.strip()[2:].strip()
    return found


def _dist_info_dirs() -> dict[str, tuple[str, str]]:
    """Normalized name -> (version, metadata directory) of each distribution on sys.path.

    The first one on sys.path wins, as for imports.  A wheel's dist-info directory is named
    ``{escaped name}-{version}.dist-info`` and neither part contains a ``-``; an egg-info
    directory (distribution packages built with setuptools) ``{name}-{version}[-pyX.Y].egg-info``.
    """
    found: dict[str, tuple[str, str]] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a missing directory
            continue
        for name in names:
            stem, dot, kind = name.rpartition(".")
            if not dot or kind not in ("dist-info", "egg-info"):
                continue
            parts = stem.split("-")
            if len(parts) >= 2 and parts[1][:1].isdigit():
                found.setdefault(normalize(parts[0]), (parts[1], os.path.join(entry, name)))
    return found


def _requires_dist(metadata_file: str) -> list[str] | None:
    """The Requires-Dist values of a METADATA file (its headers end at the first blank line)."""
    try:
        with open(metadata_file, encoding="utf-8") as f:
            lines = f.read().split("\n\n", 1)[0].splitlines()
    except OSError:
        return None
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]


def installed_floors() -> dict[str, str]:
    """The floors of the installed ikeclient; empty when it is not installed (a source tree)."""
    dists = _dist_info_dirs()
    own = dists.get(DISTRIBUTION)
    requirements = _requires_dist(os.path.join(own[1], "METADATA")) if own else None
    if requirements is None:
        from importlib import metadata  # noqa: PLC0415 - ~10 ms: only when needed

        try:
            requirements = metadata.requires(DISTRIBUTION) or []
        except metadata.PackageNotFoundError:
            return {}
    return floors(requirements)


def installed_version(name: str, dists: dict[str, tuple[str, str]] | None = None) -> str | None:
    """The installed version of a distribution, or None."""
    dists = _dist_info_dirs() if dists is None else dists
    if normalize(name) in dists:
        return dists[normalize(name)][0]
    from importlib import metadata  # noqa: PLC0415 - ~10 ms: only when needed

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def unmet_requirement() -> str | None:
    """One line naming the first dependency that is missing or older than its floor, or None."""
    dists = _dist_info_dirs()
    for name, floor in installed_floors().items():
        want = f"{name}>={floor}"
        found = installed_version(name, dists)
        if found is None:
            return f"{name} is not installed: ikeclient needs {want} (pip install '{want}')"
        if release(found) < release(floor):
            return (
                f"{name} {found} is too old: ikeclient needs {want} "
                f"(pip install --upgrade '{want}', or install ikeclient with pipx; "
                "see the README, Install)"
            )
    return None
