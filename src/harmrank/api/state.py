"""What one server holds while it runs: its settings, the shared database connection, the run
queue, the sign-in throttle and the page templates."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import jinja2

from harmrank.api.runner import RunJobs
from harmrank.api.security import SigninThrottle
from harmrank.api.settings import ApiSettings
from harmrank.scoring import scores_index
from harmrank.store import Store


class _Cursor(Store):
    def __init__(self, shared: SharedStore) -> None:
        with shared.lock:
            # the open database's shared state (caches of immutable data) goes with the cursor
            super().__init__(shared.con.cursor(), shared.path, shared.shared)
        self._shared = shared

    def close(self) -> None:
        with self._shared.lock:
            self.con.close()


class SharedStore(Store):
    """The server's connection. Every request, run and audit append works on a cursor of its
    own (DuckDB connections are not for concurrent use); cursors are opened and closed under
    a lock."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.con, store.path, store.shared)
        self.lock = threading.Lock()

    def cursor(self) -> Store:
        return _Cursor(self)


def page_templates() -> jinja2.Environment:
    """The web pages' templates (package data), autoescaped, failing loudly on a typo."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harmrank.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@dataclass
class ServerState:
    settings: ApiSettings
    store: SharedStore
    jobs: RunJobs
    throttle: SigninThrottle
    templates: jinja2.Environment
    owns_store: bool

    @classmethod
    def build(cls, settings: ApiSettings, store: Store, *, owns_store: bool) -> ServerState:
        shared = SharedStore(store)
        scores_index.enable(shared, settings.history_index_rows)
        return cls(
            settings=settings,
            store=shared,
            jobs=RunJobs(shared, settings.config),
            throttle=SigninThrottle(
                free=settings.signin_free_failures,
                base_delay=settings.signin_base_delay_seconds,
                max_delay=settings.signin_max_delay_seconds,
                window_minutes=settings.signin_window_minutes,
            ),
            templates=page_templates(),
            owns_store=owns_store,
        )

    def close(self) -> None:
        self.jobs.shutdown()
        scores_index.disable(self.store)
        if self.owns_store:
            self.store.close()
