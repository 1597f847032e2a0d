"""Fixtures shared by every test file: an in-memory store and a writer of extract folders.

Kept small and generic on purpose; a test file adds its own fixtures beside its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harmrank.store import Store, open_store

ExtractWriter = Callable[..., Path]


@pytest.fixture
def store() -> Iterator[Store]:
    """A fresh in-memory harmrank store with its schema."""
    s = open_store(":memory:")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def write_files(tmp_path: Path) -> ExtractWriter:
    """``write_files(crimes="...", suspects=b"...", folder="x")``: writes each file as
    ``NAME.csv`` (text is written byte for byte as UTF-8, bytes as given) into a new folder
    under ``tmp_path`` and returns the folder. A name with a dot (``"crimes.parquet"``) is used
    as the file name."""
    counter = iter(range(1_000_000))

    def write(folder: str | None = None, **files: str | bytes) -> Path:
        target = tmp_path / (folder or f"extract{next(counter)}")
        target.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = target / (name if "." in name else f"{name}.csv")
            data = content.encode("utf-8") if isinstance(content, str) else content
            path.write_bytes(data)
        return target

    return write
