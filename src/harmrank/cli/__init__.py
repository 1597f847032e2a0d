"""The ``harmrank`` command line: a thin shell over the engine's functions (SPEC section 6)."""

from __future__ import annotations

import sys

import typer

from harmrank.config import ConfigError
from harmrank.reference import ReferenceError
from harmrank.store import StoreError

app = typer.Typer(
    name="harmrank",
    help="Monthly highest-harm and highest-frequency VAWG offender lists. "
    "Decision support for human review; not a finding of guilt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module adds its commands to `app`.
from harmrank.cli import ingest, scoring, server, synth  # noqa: E402

for _module in (synth, ingest, scoring, server):
    _module.register(app)


def main() -> None:
    """Entry point of the console script: engine errors become one clear line and exit 2."""
    try:
        app()
    except (ConfigError, ReferenceError, StoreError) as e:
        typer.echo(f"harmrank: {e}", err=True)
        sys.exit(2)
