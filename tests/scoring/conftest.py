"""Fixtures of the scoring tests (the scenario helpers live in :mod:`.scenario`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harmrank.store import Store, open_store


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    """A store in a database file (for the command line)."""
    s = open_store(tmp_path / "harmrank.duckdb")
    try:
        yield s
    finally:
        s.close()
