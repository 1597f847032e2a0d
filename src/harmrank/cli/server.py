"""Commands of the server and access control: serve, token, audit."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the API (issue: HTTP API and web pages)."""
