"""The ``harmrank`` command line: a thin shell over the engine's functions (SPEC section 6)."""

from __future__ import annotations

import os
import sys

import duckdb
import typer

from harmrank.config import ConfigError
from harmrank.reference import ReferenceError
from harmrank.store import StoreError, write_failure

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
    """Entry point of the console script: engine errors, and what the operating system refuses
    (a full disk, a read-only or missing file), become one clear line and exit 2."""
    try:
        app()
    except (ConfigError, ReferenceError, StoreError) as e:
        typer.echo(f"harmrank: {e}", err=True)
        sys.exit(2)
    except duckdb.IOException as e:
        failure = write_failure(None, e)
        typer.echo(f"harmrank: {failure or e}", err=True)
        sys.exit(2)
    except BrokenPipeError:  # the reader went away (`harmrank top10 … | head`): not an error
        # (the Python documentation's recipe: nothing more reaches the closed pipe at exit)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        typer.echo(f"harmrank: {where}{e.strerror or e}", err=True)
        sys.exit(2)
