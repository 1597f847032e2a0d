"""The DuckDB store: one database file holding the extract, the runs and the audit log.

DuckDB lets one process write a database file at a time. :func:`open_store` turns the lock
error into a message a person can act on, naming ``harmrank serve`` when the server holds it.
Every write goes through :meth:`Store.transaction`, so a process killed half-way leaves the
database exactly as it was (DuckDB rolls back an uncommitted transaction on the next open).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

SCHEMA_VERSION = 5  # 2: integer nominal keys, pending backfill runs, one repeat row per suspect
# 3: integer crime keys (crime_keys; crimes.ckey, links.ckey)
# 4: the audit log stored as number, time, action and one JSON text per record
#    (audit_entries), read through the view audit_log
# 5: integer keys for offence codes, LPAs and victims (offence_keys, lpa_keys, victim_keys;
#    crimes.hkey, crimes.lkey, crimes.vkey), and the nominals' id order (nominal_order)
DEFAULT_DB = "harmrank.duckdb"


class StoreError(RuntimeError):
    """The database cannot be used; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another process (often ``harmrank serve``) holds the database."""


def default_db_path() -> Path:
    return Path(os.environ.get("HARMRANK_DB") or DEFAULT_DB)


def server_file(db_path: Path) -> Path:
    """Where ``harmrank serve`` announces itself while it holds ``db_path``."""
    return db_path.with_name(db_path.name + ".server.json")


def _busy_message(db_path: Path, error: Exception) -> str:
    info: dict[str, Any] = {}
    try:
        info = json.loads(server_file(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    pid_match = re.search(r"PID (\d+)", str(error))
    pid = pid_match.group(1) if pid_match else None
    if info and (pid is None or str(info.get("pid")) == pid):
        return (
            f"{db_path} is held by `harmrank serve` (pid {info.get('pid')}, "
            f"{info.get('url', 'address unknown')}). Use the HTTP API while it runs, "
            "or stop the server first."
        )
    who = f" (pid {pid})" if pid else ""
    return (
        f"{db_path} is in use by another process{who}. Wait for it to finish "
        "(an ingest or a run), then try again."
    )


_OS_FAILURES = (
    ("no space left on device", "the disk is full", "free some space"),
    ("disk quota exceeded", "the disk quota is used up", "free some space"),
    ("read-only file system", "the file system is read-only", "use a writable location"),
    ("permission denied", "permission is denied", "check the permissions"),
)


def write_failure(path: Path | None, error: BaseException) -> StoreError | None:
    """A database write that the operating system refused (a full disk, a read-only file or
    folder), as one clear message; ``None`` for any other error (a bug keeps its traceback).

    Only called once the failed transaction has been rolled back: the database is as it was
    before that transaction."""
    if not isinstance(error, duckdb.IOException | duckdb.TransactionException):
        return None
    text = str(error)
    lowered = text.lower()
    known = next((f for f in _OS_FAILURES if f[0] in lowered), None)
    if known is None and not isinstance(error, duckdb.IOException):
        return None
    needle, what, advice = known or ("", "the write failed", "check the disk")
    where = str(path) if path is not None else "the database"
    if ".wal" in lowered and needle in ("read-only file system", "permission denied"):
        what = (
            "its folder is not writable (DuckDB writes its journal, "
            f"{Path(where).name}.wal, beside the database)"
        )
    detail = text.split("\n")[0]
    return StoreError(
        f"{where}: cannot write the database: {what}. The write was rolled back and the "
        f"database is intact; {advice} and run the command again. [{detail}]"
    )


def _schema_files() -> list[tuple[str, str]]:
    folder = resources.files("harmrank").joinpath("schema")
    files = sorted(
        (f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql")
    )
    return files


# Every committed change to a database file bumps its generation in this process. Caches of
# things that can change (which run a month reads, a token's state) are tagged with the
# generation they were read at and are used only while it holds. A database opened for writing
# is held by one process alone (DuckDB's lock), so a change made elsewhere can only come
# before an open, which bumps the generation too.
_GENERATIONS: dict[str, int] = {}
_GENERATIONS_LOCK = threading.Lock()
_CACHE_SIZE = 1024  # entries per cache


def _bump(key: str) -> None:
    with _GENERATIONS_LOCK:
        _GENERATIONS[key] = _GENERATIONS.get(key, 0) + 1


class Store:
    """A connection to a harmrank database, with its schema in place."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path | None,
        shared: dict[str, Any] | None = None,
    ) -> None:
        self.con = con
        self.path = path
        self._in_tx = False
        # State shared by every cursor of one open database (this process holds it alone):
        # caches of immutable things, such as a run's published lists and the audit head.
        self.shared: dict[str, Any] = shared if shared is not None else {}
        if "generation_key" not in self.shared:
            self.shared["generation_key"] = (
                str(path.resolve()) if path is not None else f":memory:{id(self.shared)}"
            )
            self.shared["cache_lock"] = threading.Lock()

    # -- connection -----------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> Store:
        """A store on a new cursor of the same database (one per thread)."""
        return Store(self.con.cursor(), self.path, self.shared)

    # -- caches ---------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """How many changes this process has committed to the database (see ``cached``)."""
        return _GENERATIONS.get(self.shared["generation_key"], 0)

    def changed(self) -> None:
        """Invalidate every cache of the database (called after each committed change)."""
        _bump(self.shared["generation_key"])

    def cached(self, name: str, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, or its value from the last call with the same ``name`` and ``key``
        when no change has been committed to the database since (results must not be
        mutated by the caller)."""
        generation = self.generation  # read before computing: a change meanwhile invalidates
        lock = self.shared["cache_lock"]
        with lock:
            cache: OrderedDict[Any, tuple[int, Any]] = self.shared.setdefault(
                f"cache:{name}", OrderedDict()
            )
            hit = cache.get(key)
            if hit is not None and hit[0] == generation:
                cache.move_to_end(key)
                return hit[1]
        value = compute()
        with lock:
            cache[key] = (generation, value)
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
        return value

    # -- queries --------------------------------------------------------------------------
    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """The result of a query as a polars DataFrame."""
        rel = self.con.sql(sql, params=params) if params is not None else self.con.sql(sql)
        if rel is None:  # a statement with no result
            return pl.DataFrame()
        return rel.pl()

    def one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """The first row of a query (the result is always read to the end)."""
        rows = self.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All or nothing: commit on success, roll back on any error (nesting joins the outer).
        A committed transaction invalidates the caches of :meth:`cached`."""
        if self._in_tx:
            yield self
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self
        except BaseException as e:
            self._in_tx = False
            self._rollback()
            failure = write_failure(self.path, e)
            if failure is not None:
                raise failure from None
            raise
        else:
            self._in_tx = False
            try:
                self.con.execute("COMMIT")
            except duckdb.Error as e:
                self._rollback()  # DuckDB has already discarded it; make sure
                failure = write_failure(self.path, e)
                if failure is not None:
                    raise failure from None
                raise
            finally:
                self.changed()  # after a failed COMMIT too: nothing cached is trusted

    def _rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.Error:
            pass

    # -- schema ---------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        with self.transaction():
            self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)")
            current = self.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            if current is not None and int(current) > SCHEMA_VERSION:
                raise StoreError(
                    f"the database was written by a newer harmrank (schema {current}, "
                    f"this one reads {SCHEMA_VERSION}); upgrade harmrank"
                )
            if current is not None and int(current) < SCHEMA_VERSION:
                raise StoreError(
                    f"the database was written by an earlier harmrank (schema {current}, this "
                    f"one reads {SCHEMA_VERSION}) whose tables are laid out differently: ingest "
                    "the extracts again into a new database (--db) and re-run the months"
                )
            for _name, sql in _schema_files():
                self.con.execute(sql)
            if current is None:
                self.con.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
                )


def _open_failure(db_path: Path, text: str, read_only: bool) -> str:
    lowered = text.lower()
    known = next((f for f in _OS_FAILURES if f[0] in lowered), None)
    if known is None or read_only:
        return f"{db_path}: cannot open the database: {text}"
    _needle, what, advice = known
    return (
        f"{db_path}: cannot open the database for writing: {what}. harmrank writes to its "
        "database for every command, reads included (each read is recorded in the audit "
        f"log); {advice}. [{text.splitlines()[0]}]"
    )


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar: DuckDB draws one on *stdout* (terminal or not) for any statement that
    runs over two seconds, which would corrupt `--format json` and CSV output at force scale
    and fill a server's log. Its cursors inherit the setting."""
    con.execute("SET enable_progress_bar = false")
    return con


def open_store(path: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating if need be) a harmrank database; ``":memory:"`` gives a private one."""
    if path is None:
        path = default_db_path()
    from harmrank import audit

    if str(path) == ":memory:":
        store = Store(_quiet(duckdb.connect(":memory:")), None)
        audit.forget_head(store)  # its key may be that of a closed one
        store.ensure_schema()
        return store
    db_path = Path(path)
    if read_only and not db_path.exists():
        raise StoreError(f"{db_path}: no such database; run `harmrank ingest` first")
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as e:
        text = str(e)
        if "lock" in text.lower():
            raise StoreBusy(_busy_message(db_path, e)) from None
        raise StoreError(_open_failure(db_path, text, read_only)) from None
    except duckdb.Error as e:
        raise StoreError(f"{db_path}: not a harmrank (DuckDB) database or damaged: {e}") from None
    store = Store(_quiet(con), db_path)
    store.changed()  # another process may have changed the file since this one last had it
    audit.forget_head(store)
    if not read_only:
        store.ensure_schema()
        # a change committed by a process that was killed before logging it gets its record
        audit.recover(store)
    return store
