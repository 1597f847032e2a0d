"""What every command shares: ``--db`` and ``--config``, opening the store, clear failures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from harmrank.config import Config, load_config
from harmrank.store import Store, default_db_path, open_store

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="The database file (default: $HARMRANK_DB, else harmrank.duckdb here).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="A TOML configuration file (SPEC section 6).", show_default=False
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear message on stderr and leave with a non-zero status."""
    typer.echo(f"harmrank: {message}", err=True)
    raise typer.Exit(code)


def config_from(path: Path | None) -> Config:
    return load_config(path)


@contextmanager
def opened_store(db: Path | None, *, read_only: bool = False) -> Iterator[Store]:
    store = open_store(db if db is not None else default_db_path(), read_only=read_only)
    try:
        yield store
    finally:
        store.close()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
