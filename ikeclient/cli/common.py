"""What every command shares: one-line errors with documented exit codes, logging setup."""

from __future__ import annotations

import logging
import sys

import typer

from ikeclient.exitcodes import exit_code_for


def fail(error: BaseException) -> typer.Exit:
    """Print ``ikeclient: error: ...`` on stderr; return the Exit with the error's code."""
    typer.echo(f"ikeclient: error: {error}", err=True)
    return typer.Exit(int(exit_code_for(error)))


def setup_logging(verbose: int) -> None:
    """-v: protocol progress, -vv: debug. Plain lines, fit for journald."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(name)s: %(message)s", stream=sys.stderr)
