"""Commands of the scoring engine: run, backfill, top10, history, rules, runs, demo."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the scoring engine (issue: scoring engine)."""
