"""The DuckDB store: schema, transactions, query helpers, and clear refusals when the database
file is held by another process (above all `harmrank serve`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from harmrank import audit
from harmrank.store import (
    SCHEMA_VERSION,
    StoreBusy,
    StoreError,
    default_db_path,
    open_store,
    server_file,
)


# ------------------------------------------------------------------ holding process ----
@pytest.fixture
def held_db(tmp_path):
    """A database file held open (read-write) by another process; yields (path, pid)."""
    db = tmp_path / "held.duckdb"
    open_store(db).close()
    script = textwrap.dedent(
        f"""
        import sys, time
        from harmrank.store import open_store
        store = open_store({str(db)!r})
        print("ready", flush=True)
        sys.stdin.read()  # hold the database until the test closes our stdin
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
        yield db, proc.pid
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the child hangs
            proc.kill()
            proc.wait()


def test_a_database_held_by_another_process_is_refused_at_once(held_db):
    db, pid = held_db
    with pytest.raises(StoreBusy) as busy:
        open_store(db)
    message = str(busy.value)
    assert message.startswith(f"{db} is in use by another process (pid {pid}).")
    assert "try again" in message
    with pytest.raises(StoreBusy):
        open_store(db, read_only=True)


def test_a_database_held_by_the_server_names_harmrank_serve(held_db):
    db, pid = held_db
    server_file(db).write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:8765"}))
    with pytest.raises(StoreBusy) as busy:
        open_store(db)
    message = str(busy.value)
    assert f"is held by `harmrank serve` (pid {pid}, http://127.0.0.1:8765)" in message
    assert "Use the HTTP API while it runs, or stop the server first." in message


def test_a_stale_server_file_of_another_pid_is_not_believed(held_db):
    db, pid = held_db
    server_file(db).write_text(json.dumps({"pid": pid + 100000, "url": "http://x"}))
    with pytest.raises(StoreBusy) as busy:
        open_store(db)
    assert "harmrank serve" not in str(busy.value)
    assert f"(pid {pid})" in str(busy.value)


def test_the_command_line_refuses_with_the_servers_name_and_exit_2(held_db, monkeypatch, capsys):
    from harmrank.cli import main

    db, pid = held_db
    server_file(db).write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:8765"}))
    monkeypatch.setattr(sys, "argv", ["harmrank", "quarantine", "--db", str(db)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harmrank: {db} is held by `harmrank serve` (pid {pid}")


def test_server_file_sits_next_to_the_database():
    assert server_file(Path("/data/force.duckdb")) == Path("/data/force.duckdb.server.json")


# ------------------------------------------------------------------------ opening ----
def test_a_new_database_gets_the_schema_and_keeps_its_data(tmp_path):
    db = tmp_path / "h.duckdb"
    with open_store(db) as store:
        assert store.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(
            SCHEMA_VERSION
        )
        store.execute("INSERT INTO lpas VALUES ('Shropshire', 1)")
    with open_store(db) as store:  # opening again neither fails nor resets
        assert store.scalar("SELECT count(*) FROM lpas") == 1
        assert store.scalar("SELECT count(*) FROM meta") == 1
    with open_store(db, read_only=True) as store:
        assert store.scalar("SELECT lpa FROM lpas") == "Shropshire"


def test_a_database_of_a_newer_harmrank_is_refused(tmp_path):
    db = tmp_path / "h.duckdb"
    with open_store(db) as store:
        store.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
        )
    with pytest.raises(StoreError, match="written by a newer harmrank"):
        open_store(db)


def test_a_database_of_an_earlier_layout_is_refused_without_touching_it(tmp_path):
    db = tmp_path / "h.duckdb"
    with open_store(db) as store:
        store.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION - 1)]
        )
        tables_before = store.frame("SELECT table_name FROM duckdb_tables() ORDER BY 1")
    with pytest.raises(StoreError, match="written by an earlier harmrank .* new database"):
        open_store(db)
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        after = con.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1").pl()
        assert after.equals(tables_before)
    finally:
        con.close()


def test_read_only_needs_an_existing_database(tmp_path):
    with pytest.raises(StoreError, match="no such database; run `harmrank ingest` first"):
        open_store(tmp_path / "none.duckdb", read_only=True)
    assert not (tmp_path / "none.duckdb").exists()


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("crime_id,ho_code\n" * 1000)
    with pytest.raises(StoreError) as bad:
        open_store(path)
    assert str(bad.value).startswith(str(path))
    assert not isinstance(bad.value, StoreBusy)


def test_the_default_path_follows_harmrank_db(monkeypatch):
    monkeypatch.setenv("HARMRANK_DB", "/srv/force.duckdb")
    assert default_db_path() == Path("/srv/force.duckdb")
    monkeypatch.delenv("HARMRANK_DB")
    assert default_db_path() == Path("harmrank.duckdb")


# --------------------------------------------------------------- transactions ----
def test_a_transaction_commits_or_rolls_back_everything(store):
    with store.transaction():
        store.execute("INSERT INTO lpas VALUES ('A', 1)")
    with pytest.raises(ValueError), store.transaction():
        store.execute("INSERT INTO lpas VALUES ('B', 1)")
        raise ValueError("stop")
    assert store.frame("SELECT lpa FROM lpas").get_column("lpa").to_list() == ["A"]


def test_a_nested_transaction_joins_the_outer_one(store):
    with pytest.raises(ValueError), store.transaction():
        store.execute("INSERT INTO lpas VALUES ('A', 1)")
        with store.transaction():
            store.execute("INSERT INTO lpas VALUES ('B', 1)")
        raise ValueError("the outer fails after the inner finished")
    assert store.scalar("SELECT count(*) FROM lpas") == 0
    # and the store is usable afterwards
    with store.transaction():
        store.execute("INSERT INTO lpas VALUES ('C', 1)")
    assert store.scalar("SELECT count(*) FROM lpas") == 1


def test_a_failing_statement_rolls_back_the_transaction(store):
    with pytest.raises(Exception), store.transaction():  # noqa: B017 - duckdb's own error
        store.execute("INSERT INTO lpas VALUES ('A', 1)")
        store.execute("INSERT INTO lpas VALUES (NULL, 1)")  # NOT NULL
    assert store.scalar("SELECT count(*) FROM lpas") == 0


# -------------------------------------------------------------------- queries ----
def test_query_helpers(store):
    store.execute("INSERT INTO lpas VALUES (?, ?), (?, ?)", ["A", 1, "B", 2])
    frame = store.frame("SELECT lpa, load_id FROM lpas WHERE load_id >= ? ORDER BY lpa", [1])
    assert isinstance(frame, pl.DataFrame)
    assert frame.rows() == [("A", 1), ("B", 2)]
    assert store.one("SELECT lpa FROM lpas ORDER BY lpa") == ("A",)
    assert store.one("SELECT lpa FROM lpas WHERE false") is None
    assert store.scalar("SELECT count(*) FROM lpas") == 2
    assert store.scalar("SELECT lpa FROM lpas WHERE false") is None
    # one() reads its result to the end, so the next statement on the connection is free
    first = store.one("SELECT lpa FROM lpas ORDER BY lpa")
    store.execute("INSERT INTO lpas VALUES ('C', 3)")
    assert first == ("A",) and store.scalar("SELECT count(*) FROM lpas") == 3
    assert store.frame("SELECT * FROM lpas WHERE false").columns == ["lpa", "load_id"]


def test_a_cursor_sees_committed_data(tmp_path):
    with open_store(tmp_path / "h.duckdb") as store:
        store.execute("INSERT INTO lpas VALUES ('A', 1)")
        cursor = store.cursor()
        try:
            assert cursor.scalar("SELECT count(*) FROM lpas") == 1
            assert cursor.path == store.path
        finally:
            cursor.close()


# -- caches of things that can change ---------------------------------------------------------
def test_a_cached_value_is_reused_until_a_change_is_committed(tmp_path):
    store = open_store(tmp_path / "h.duckdb")
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return int(store.scalar("SELECT count(*) FROM meta"))

    first = store.cached("meta", None, count)
    assert store.cached("meta", None, count) == first and len(calls) == 1
    with store.transaction():
        store.execute("INSERT INTO meta VALUES ('k', 'v')")
    assert store.cached("meta", None, count) == first + 1 and len(calls) == 2


def test_a_rolled_back_transaction_or_an_audit_record_keeps_the_cache(tmp_path):
    store = open_store(tmp_path / "h.duckdb")
    calls: list[int] = []
    store.cached("k", 1, lambda: calls.append(1))
    with pytest.raises(RuntimeError), store.transaction():
        store.execute("INSERT INTO meta VALUES ('k', 'v')")
        raise RuntimeError("stop")
    audit.append(store, user="u", action="read")
    store.cached("k", 1, lambda: calls.append(1))
    assert len(calls) == 1


def test_a_change_through_another_cursor_or_store_of_the_same_file_invalidates(tmp_path):
    path = tmp_path / "h.duckdb"
    store = open_store(path)
    cur = store.cursor()
    seen = store.cached("n", None, lambda: store.scalar("SELECT count(*) FROM meta"))
    with cur.transaction():
        cur.execute("INSERT INTO meta VALUES ('k', 'v')")
    assert store.cached("n", None, lambda: store.scalar("SELECT count(*) FROM meta")) == seen + 1
    other = open_store(path)  # the same file opened again in this process
    with other.transaction():
        other.execute("INSERT INTO meta VALUES ('k2', 'v')")
    assert store.cached("n", None, lambda: store.scalar("SELECT count(*) FROM meta")) == seen + 2
    other.close()
