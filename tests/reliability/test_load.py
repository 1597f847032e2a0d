"""Concurrency: 16 readers of lists and histories over HTTP against the real server while runs
are started over the API (``POST /api/v1/runs``). No request may fail; the latencies are printed
(``pytest -s``, or see the report in the assertion message), never asserted: the machine that
runs the tests is shared. The load itself is ``load.py`` (also usable by hand)."""

from __future__ import annotations

import pytest

from harmrank import audit
from harmrank.store import open_store

from .load import prepare_database, run_load, serve

READERS, REQUESTS, RUNS = 16, 30, 3


@pytest.mark.slow
def test_sixteen_readers_while_runs_are_started(tmp_path) -> None:
    prepared = prepare_database(tmp_path / "load.duckdb")
    with open_store(prepared.db) as store:
        runs_before = store.scalar("SELECT count(*) FROM runs")
        audit_before = store.scalar("SELECT count(*) FROM audit_log")
    with serve(prepared.db, tmp_path / "server.log") as server:
        result = run_load(server, prepared, readers=READERS, requests=REQUESTS, runs=RUNS)
        log = server.log_text()
    report = result.report()
    print("\n" + report)

    # every request answered 200 (the run starts 202), none lost
    assert len(result.samples) == READERS * REQUESTS + RUNS, report
    assert result.failures == [], report
    # the runs were made meanwhile, each whole
    assert [job["state"] for job in result.runs] == ["done"] * RUNS, result.runs
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
    with open_store(prepared.db) as store:
        made = [job["run_id"] for job in result.runs]
        assert store.scalar("SELECT count(*) FROM runs") == runs_before + RUNS
        for run_id in made:
            assert store.scalar("SELECT count(*) FROM run_entries WHERE run_id = ?", [run_id]) > 0
        # every request and every run was logged, and the chain, appended to by 17 threads
        # at once, is intact
        check = audit.verify(store)
        assert check.ok, check.message
        logged = store.scalar("SELECT count(*) FROM audit_log") - audit_before
        assert logged >= READERS * REQUESTS + RUNS * 2  # each read; each start and each run
        assert (
            store.scalar(
                "SELECT count(*) FROM audit_log WHERE action = 'run' AND user_name = 'sup.runner' "
                "AND route = 'harmrank run'"
            )
            == RUNS
        )
