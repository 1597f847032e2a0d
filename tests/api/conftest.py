"""Fixtures of the API tests: a scored database built once through the real ingest and
backfill, and a fresh copy of it behind a fresh app for every test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from harmrank.api import ApiSettings, create_app
from harmrank.config import Config, config_from_dict
from harmrank.scoring import backfill
from harmrank.store import open_store
from harmrank.testing import store_from_rows

from .helpers import MONTHS, Api, TestClient, scored_rows


@pytest.fixture(scope="session")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scored database, built once per test process: runs R000001–R000006 (2025-01 to
    2025-06, backfill B000001, drafts started by `builder`)."""
    path = tmp_path_factory.mktemp("harmrank-api") / "base.duckdb"
    store = open_store(path)
    try:
        store_from_rows(**scored_rows(), store=store)
        backfill(store, *MONTHS, Config(), user="builder")
    finally:
        store.close()
    return path


@pytest.fixture
def make_api(base_db: Path, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """``make_api(config=None, **settings)``: a fresh app over a fresh copy of the database."""
    made: list[Api] = []
    numbers = count()

    def make(config: Config | dict[str, Any] | None = None, **settings: Any) -> Api:
        path = tmp_path / f"api{next(numbers)}.duckdb"
        shutil.copy(base_db, path)
        store = open_store(path)
        if isinstance(config, dict):
            config = config_from_dict(config)
        app = create_app(ApiSettings(config=config or Config(), **settings), store=store)
        api = Api(app=app, client=TestClient(app), store=store, path=path)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
