"""`harmrank synth`: synthetic extracts (SPEC section 8)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the synthetic-data generator (issue: synthetic extracts)."""
