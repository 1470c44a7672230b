"""Entry point of the ``ikeclient`` command and of ``python -m ikeclient``.

It only imports the CLI and runs it; if that fails on anything but a clean exit, and a
dependency is missing or older than ikeclient's floor for it, the person gets one line that
names it (``ikeclient: error: cryptography 44.0.3 is too old: ikeclient needs
cryptography>=45.0.1 ...``) and exit code 1 instead of a traceback.  Every command also makes
the check before it runs (``ikeclient.cli._run``), because an old library can fail late (a
missing attribute during certificate validation) or inside the privileged half; ``--help``
does not pay for it.
"""

from __future__ import annotations

import sys

EXIT_TOO_OLD = 1  # ikeclient.exitcodes.ExitCode.INTERNAL_ERROR, without importing it here


def exit_if_unmet() -> None:
    """Print one line and exit 1 if a dependency is missing or older than its floor."""
    from ikeclient.requirements import unmet_requirement  # noqa: PLC0415 - only on failure

    problem = unmet_requirement()
    if problem is not None:
        print(f"ikeclient: error: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_TOO_OLD)


def main() -> None:
    """Run the typer application; an old dependency ends as one line, not a traceback."""
    try:
        from ikeclient.cli import main as cli_main  # noqa: PLC0415 - inside the guard

        cli_main()
    except Exception:
        exit_if_unmet()
        raise
