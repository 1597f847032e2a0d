"""A server's history lookups from memory: every run's scored rows, sorted by nominal key.

A nominal's history is its rows of ``run_scores`` in every run. DuckDB finds them in 4–6 ms at
force scale: about 2 ms is the floor of any query on a table, and a row group holds several
runs' rows, so its key range spans every nominal and the filter cannot skip it. From sorted
arrays the same rows take about 0.3 ms. ``harmrank serve`` keeps such an index when
``run_scores`` holds no more rows than its setting allows (about 45 bytes a row in memory);
every other caller, and a server whose database is bigger, reads DuckDB as before.

The index is used only while it holds what the database holds. Runs are immutable once
written and a run's rows are committed with its row in ``runs``; nominal keys are only ever
added. So the runs (their number and ids) and the number of nominal keys say whether the
index is current. That is checked once for every change committed to the database (the
store's generation); when it is not current, reads go to DuckDB while a new index is built in
the background. Which runs a read uses is decided by the caller, as before.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from harmrank.store import Store

log = logging.getLogger(__name__)

# the columns a nominal's scored rows are returned with (as ``read`` selects them)
SCORE_COLS = (
    "run_id",
    "harm",
    "frequency",
    "victims",
    "lpa",
    "harm_rank",
    "frequency_rank",
    "repeat_suspect",
)

# What the database holds, as far as the index is concerned: the runs (how many, and an
# order-free digest of their ids) and how many nominal keys there are.
_STAMP = """
    SELECT (SELECT count(*) FROM runs), (SELECT bit_xor(hash(run_id)) FROM runs),
           (SELECT count(*) FROM nominal_keys)
"""

_SHARED_KEY = "scores_index"


@dataclass(frozen=True)
class Index:
    """One snapshot of ``run_scores`` and ``nominal_keys`` (its stamp is kept beside it)."""

    ids: pl.Series  # every nominal id, sorted by code point
    id_keys: np.ndarray  # the key of each
    nkeys: np.ndarray  # run_scores' nominal keys, sorted
    rows: pl.DataFrame  # run_scores' other columns (SCORE_COLS), in the same order

    def key(self, nominal_id: str) -> int | None:
        """The nominal's integer key (``None`` for a nominal never linked to a crime)."""
        i = self.ids.search_sorted(nominal_id, side="left")
        if i >= len(self.ids) or self.ids[i] != nominal_id:
            return None
        return int(self.id_keys[i])

    def scored_rows(self, nkey: int) -> list[tuple[Any, ...]]:
        """The nominal's rows, every run, as the SQL read gives them (SCORE_COLS)."""
        # as the array's own type: a Python int would have NumPy cast the array on every call
        key = self.nkeys.dtype.type(nkey)
        lo = int(np.searchsorted(self.nkeys, key, side="left"))
        hi = int(np.searchsorted(self.nkeys, key, side="right"))
        return self.rows.slice(lo, hi - lo).rows() if hi > lo else []


def build(store: Store, max_rows: int) -> tuple[tuple[Any, ...], Index | None]:
    """Read the index from one snapshot of the database: its stamp, and the index (``None``
    when ``run_scores`` holds more than ``max_rows`` rows)."""
    cur = store.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")  # one snapshot: the stamp and the rows agree
        try:
            stamp = _stamp(cur)
            if cur.scalar("SELECT count(*) FROM run_scores") > max_rows:
                return stamp, None
            scores = cur.frame(
                f"SELECT nkey, {', '.join(SCORE_COLS)} FROM run_scores ORDER BY nkey"
            ).with_columns(pl.col("run_id", "lpa").cast(pl.Categorical))
            # sorted here, not by DuckDB: the search below relies on Polars' own order
            keys = cur.frame("SELECT nominal_id, nkey FROM nominal_keys").sort("nominal_id")
        finally:
            cur.execute("ROLLBACK")
    finally:
        cur.close()
    index = Index(
        ids=keys["nominal_id"],
        id_keys=keys["nkey"].to_numpy(),
        nkeys=scores["nkey"].to_numpy(),
        rows=scores.select(SCORE_COLS),
    )
    return stamp, index


def _stamp(store: Store) -> tuple[Any, ...]:
    row = store.one(_STAMP)
    assert row is not None
    return tuple(row)


class ScoresIndex:
    """The index a server keeps for one open database, rebuilt in the background when the
    database has moved on."""

    def __init__(self, store: Store, max_rows: int) -> None:
        self._store = store
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._built: tuple[tuple[Any, ...], Index | None] | None = None  # stamp, index
        self._verdict: tuple[int, Index | None] | None = None  # generation, usable index
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Build in the background (if no build is under way)."""
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            generation = self._store.generation
            self._thread = threading.Thread(
                target=self._build, args=(generation,), name="scores-index", daemon=True
            )
            self._thread.start()

    def _build(self, generation: int) -> None:
        try:
            built = build(self._store, self._max_rows)
        except Exception:  # the server goes on reading DuckDB, and tries again after a change
            if not self._closed:
                log.exception("could not build the history index; history reads DuckDB")
            with self._lock:  # a stamp no database has; no new try until the next change
                self._built = ((), None)
                self._verdict = (generation, None)
            return
        with self._lock:
            self._built = built
            self._verdict = None
        index = built[1]
        if index is None:
            log.info("history index: over %d scored rows; history reads DuckDB", self._max_rows)
        else:
            log.info(
                "history index: %d scored rows of %d nominals", len(index.nkeys), len(index.ids)
            )

    def wait(self, timeout: float | None = None) -> None:
        """Until a build under way has ended (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.wait()

    def current(self, store: Store) -> Index | None:
        """The index when it holds what the database holds now, else ``None`` (and a new one
        is built in the background unless the database is over the limit)."""
        generation = store.generation  # read first: a change meanwhile invalidates
        verdict = self._verdict
        if verdict is not None and verdict[0] == generation:
            return verdict[1]
        built = self._built
        if built is None:
            self.start()
            return None
        usable = built[1]
        if _stamp(store) != built[0]:
            usable = None
            self.start()
        with self._lock:
            if self._built is built:
                self._verdict = (generation, usable)
        return usable


def enable(store: Store, max_rows: int) -> ScoresIndex | None:
    """Keep an index for the open database ``store`` (a server), built before this returns
    (so that a server has it before its first request, and no build competes with them);
    ``max_rows`` 0 keeps none."""
    if max_rows <= 0:
        return None
    index = ScoresIndex(store, max_rows)
    store.shared[_SHARED_KEY] = index
    index.start()
    index.wait()
    return index


def disable(store: Store) -> None:
    """Stop keeping the index (waits for a build under way)."""
    index = store.shared.pop(_SHARED_KEY, None)
    if index is not None:
        index.close()


def current(store: Store) -> Index | None:
    """The open database's index when one is kept and current, else ``None``."""
    index: ScoresIndex | None = store.shared.get(_SHARED_KEY)
    return index.current(store) if index is not None else None
