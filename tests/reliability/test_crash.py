"""Crash safety, for real: ``harmrank ingest``, ``run`` and ``backfill`` are started as
processes on a database file and SIGKILLed part-way, then the database is checked:

- it opens cleanly and its audit log verifies;
- the extract is exactly as before the command or exactly as after it ran to the end (never a
  partial load), and so are the runs that reads can see (never a run without its scores and
  lists, never part of a backfill: a long backfill commits pass by pass with its runs
  ``pending``, invisible to every read, until one last transaction makes them all visible);
- every read (list objects of each month, the runs table) gives what it gave before the
  command or what it gives after it;
- every load and run that is there is in the audit log;
- running the command again gives what a database that was never interrupted holds: the same
  tables and the same list objects.

Two ways of choosing the moment: at a chosen SQL statement (the process is paused just before
sending it, then killed: half way through the command's work, between two passes of a
backfill, just before the COMMIT that makes the work visible, just after it, and in the middle
of the audit append that follows), and a sweep of delays after
the work starts (killed in the middle of whatever DuckDB is doing, COMMIT and checkpoint
included). ``crashpoint.py`` counts and pauses; it changes nothing in harmrank.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harmrank import audit
from harmrank.api.security import mint_token
from harmrank.cli import app
from harmrank.scoring import runs_table
from harmrank.scoring.months import Month, month_range
from harmrank.store import open_store, server_file

from .conftest import END
from .load import request, serve
from .support import (
    EXTRACT_TABLES,
    RUN_CHILD_TABLES,
    RUN_TABLES,
    Finished,
    all_lists,
    db_state,
    kill_after_delay,
    kill_at_statement,
    run_counted,
    without_run_ids,
)

ALL_TABLES = {**EXTRACT_TABLES, **RUN_TABLES}
# the extract as it stands (a re-run of an ingest that had committed is a further, unchanging
# load: `loads` and the quarantine gain a load; nothing else may differ)
DATA_TABLES = {t: d for t, d in ALL_TABLES.items() if t not in ("loads", "quarantine")}
BACKFILL_FROM = "2023-05"  # 26 months to 2025-06: two batches of the engine


@dataclass
class Scenario:
    name: str
    args: list[str]  # the command, without --db
    months: list[str]  # the months whose lists are compared after the re-run


SCENARIOS = {
    "ingest": Scenario("ingest", ["ingest", "{revised}", "--replace"], ["2025-05", END]),
    "run": Scenario("run", ["run", "--month", END], [END]),
    "backfill": Scenario(
        "backfill",
        ["backfill", "--from", BACKFILL_FROM, "--to", END],
        [str(m) for m in month_range(Month.parse(BACKFILL_FROM), Month.parse(END))],
    ),
}


@dataclass
class Reference:
    """A command run to the end on a copy of its base database."""

    scenario: Scenario
    args: list[str]
    base: Path
    before: dict[str, Any]
    after: dict[str, Any]
    audit_before: list[Any]
    audit_after: list[Any]
    lists_before: dict[str, Any]
    lists: dict[str, Any]
    finished: Finished
    start: int  # statement number (1-based) where the command's work starts (after the open)
    commit: int  # the COMMIT that makes its work visible (the last before its audit append)
    work_commits: list[int]  # COMMITs of the work before that one (a backfill's passes)

    def points(self) -> dict[str, int]:
        """Named statements to stop the command just before."""
        b, c, n = self.start, self.commit, len(self.finished.statements)
        span = c - b
        points = {
            "middle": b + span // 2,
            "before-commit": c,
            "after-commit": c + 1,
        }
        passes = [
            k for k in self.work_commits if k - _begin_before(self.finished.statements, k) > 5
        ]
        if passes:
            points["between-passes"] = passes[0] + 1
        audit_inserts = [
            i + 1
            for i, s in enumerate(self.finished.statements)
            if i + 1 > c and s.startswith("INSERT INTO audit_entries")
        ]
        if audit_inserts:
            points["audit-insert"] = audit_inserts[0]
        return {k: v for k, v in points.items() if 1 <= v <= n}


def _args(scenario: Scenario, extracts: tuple[Path, Path], db: Path) -> list[str]:
    return [a.format(revised=extracts[1]) for a in scenario.args] + ["--db", str(db)]


def _begin_before(statements: list[str], k: int) -> int:
    """The BEGIN of the transaction that statement ``k`` (1-based) ends."""
    return max(i for i in range(1, k) if statements[i - 1].startswith("BEGIN"))


_AUDIT_HEAD_READS = ("SELECT seq, entry->>'hash' FROM audit_entries",)


def _work_span(statements: list[str]) -> tuple[int, int, list[int]]:
    """Where the command's work starts (the first statement after opening the database), the
    COMMIT that makes it visible (the last before the final audit append) and the COMMITs of
    the work before that one."""
    numbered = list(enumerate(statements, start=1))
    opened = next(i for i, s in numbered if s.startswith("COMMIT"))  # the schema check
    # the final audit append: its INSERT, after the statements reading the log's head
    audit_begin = max(i for i, s in numbered if s.startswith("INSERT INTO audit_entries"))
    while statements[audit_begin - 2].startswith(_AUDIT_HEAD_READS):
        audit_begin -= 1
    commits = [i for i, s in numbered if s.startswith("COMMIT") and opened < i < audit_begin]
    assert commits, statements
    return opened + 1, commits[-1], commits[:-1]


def _audit_view(rows: list[Any]) -> list[Any]:
    """Audit records without the mark of a record written late (see ``audit.recover``)."""
    out = []
    for row in rows:
        detail = json.loads(row[-1]) if row[-1] else None
        if isinstance(detail, dict):
            detail.pop("recovered", None)
        out.append((*row[:-1], detail))
    return out


def _audit(db: Path) -> list[Any]:
    with open_store(db) as store:
        rows = store.execute(
            "SELECT seq, user_name, action, route, month, status, row_count, detail "
            "FROM audit_log ORDER BY seq"
        ).fetchall()
    return _audit_view(rows)


_REFERENCES: dict[str, Reference] = {}


@pytest.fixture
def reference(request, extracts, base_dbs, tmp_path_factory) -> Reference:
    return _reference(request.param, extracts, base_dbs, tmp_path_factory)


def _reference(name, extracts, base_dbs, tmp_path_factory) -> Reference:
    if name not in _REFERENCES:
        scenario = SCENARIOS[name]
        work = tmp_path_factory.mktemp(f"reference-{name}")
        db = work / "clean.duckdb"
        shutil.copy(base_dbs[name], db)
        before, audit_before = db_state(db, ALL_TABLES), _audit(db)
        lists_before = all_lists(db, scenario.months)
        args = _args(scenario, extracts, db)
        finished = run_counted(args, work)
        assert finished.returncode == 0, finished.stderr
        start, commit, work_commits = _work_span(finished.statements)
        _REFERENCES[name] = Reference(
            scenario,
            args,
            base_dbs[name],
            before,
            db_state(db, ALL_TABLES),
            audit_before,
            _audit(db),
            lists_before,
            all_lists(db, scenario.months),
            finished,
            start,
            commit,
            work_commits,
        )
        ref = _REFERENCES[name]
        assert ref.before != ref.after  # the command changes something worth protecting
        if name != "ingest":
            assert ref.lists != ref.lists_before
    return _REFERENCES[name]


def _visible(state: dict[str, Any]) -> dict[str, Any]:
    """The state without a backfill's ``pending`` runs (invisible until the backfill ends)."""
    pending = {row[0] for row in state["runs"] if row[4] == "pending"}
    return {
        t: [r for r in rows if r[0] not in pending] if t in RUN_TABLES else rows
        for t, rows in state.items()
    }


def _check_whole(db: Path, ref: Reference) -> bool:
    """The checks right after a kill; returns whether the command's work had committed."""
    with open_store(db) as store:  # opens cleanly (recovering what the kill interrupted)
        check = audit.verify(store)
        assert check.ok, check.message
    state = db_state(db, ALL_TABLES)
    visible = _visible(state)
    committed = visible == ref.after
    assert committed or visible == ref.before, _first_difference(visible, ref)
    # no half-made run: no row of a run table lacks its run, and every run has all the rows
    # the uninterrupted command gave it (a month without data has runs with empty lists)
    expected = ref.after if committed else ref.before
    with open_store(db) as store:
        for table in RUN_CHILD_TABLES:
            orphans = store.scalar(
                f"SELECT count(*) FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)"
            )
            assert orphans == 0, table
            counts = dict(
                store.execute(
                    f"SELECT run_id, count(*) FROM {table} WHERE run_id IN "
                    "(SELECT run_id FROM runs WHERE status <> 'pending') GROUP BY run_id"
                ).fetchall()
            )
            assert counts == dict(Counter(row[0] for row in expected[table])), table
        # what reads see: the lists, the runs and their months, never a pending run
        listed = runs_table(store)
        assert {r["run_id"] for r in listed} == {row[0] for row in expected["runs"]}
    assert all_lists(db, ref.scenario.months) == (ref.lists if committed else ref.lists_before)
    # everything that is there is in the audit log (a record written late says so)
    assert _audit(db) == (ref.audit_after if committed else ref.audit_before)
    return committed


def _first_difference(state: dict[str, Any], ref: Reference) -> str:
    for table in ALL_TABLES:
        if state[table] not in (ref.before[table], ref.after[table]):
            return (
                f"{table} is neither as before ({len(ref.before[table])} rows) nor as after "
                f"({len(ref.after[table])} rows): it has {len(state[table])} rows"
            )
    return "the tables are each as before or as after, but not all of them the same way"


def _rerun_and_compare(db: Path, ref: Reference, committed: bool) -> None:
    """Run the command again (as a person would) and compare with the clean database."""
    result = CliRunner().invoke(app, _with_db(ref, db))
    assert result.exit_code == 0, result.output
    state = db_state(db, ALL_TABLES)
    data = {t: state[t] for t in DATA_TABLES}
    lists = all_lists(db, ref.scenario.months)
    if not committed:
        # the interrupted command left nothing: the re-run is the first, everything identical
        assert state == ref.after, _first_difference(state, ref)
        assert lists == ref.lists
        assert _audit(db) == ref.audit_after
        return
    if ref.scenario.name == "ingest":
        # a second load of the same extract: every row unchanged, nothing else moves
        assert data == {t: ref.after[t] for t in DATA_TABLES}
        assert lists == ref.lists
        with open_store(db) as store:
            report = json.loads(
                store.scalar("SELECT report FROM loads ORDER BY load_id DESC LIMIT 1")
            )
        files = report["files"]
        assert all(f["inserted"] == f["updated"] == f["ended"] == 0 for f in files.values())
    else:
        # the runs were made; the re-run makes the same runs again under new ids
        assert without_run_ids(lists) == without_run_ids(ref.lists)
        new = len(ref.after["runs"]) - len(ref.before["runs"])
        assert len(state["runs"]) == len(ref.after["runs"]) + new
    with open_store(db) as store:
        assert audit.verify(store).ok


def _fresh_copy(ref: Reference, tmp_path: Path) -> Path:
    db = tmp_path / "crashed.duckdb"
    shutil.copy(ref.base, db)
    return db


def _with_db(ref: Reference, db: Path) -> list[str]:
    return [*ref.args[:-1], str(db)]


POINTS = ("middle", "before-commit", "after-commit", "audit-insert")
CASES = [(name, point) for name in SCENARIOS for point in POINTS] + [("backfill", "between-passes")]


@pytest.mark.parametrize(("reference", "point"), CASES, indirect=["reference"])
def test_killed_at_a_statement(reference: Reference, point: str, tmp_path: Path) -> None:
    ref = reference
    n = ref.points()[point]
    db = _fresh_copy(ref, tmp_path)
    sent = kill_at_statement(_with_db(ref, db), tmp_path, n)
    # the interrupted process went exactly the way of the clean one up to the kill
    assert sent == ref.finished.statements[:n]
    committed = _check_whole(db, ref)
    assert committed == (n > ref.commit), f"statement {n}: {ref.finished.statements[n - 1]}"
    if point == "between-passes":  # the first pass of the backfill is stored, invisibly
        with open_store(db) as store:
            assert store.scalar("SELECT count(*) FROM runs WHERE status = 'pending'") > 0
    _rerun_and_compare(db, ref, committed)


@pytest.mark.slow
@pytest.mark.parametrize("reference", list(SCENARIOS), indirect=True)
def test_killed_after_a_sweep_of_delays(reference: Reference, tmp_path: Path) -> None:
    """Killed at moments spread over the work, wherever DuckDB is (a statement, COMMIT, a
    checkpoint)."""
    ref = reference
    times = ref.finished.times
    work = times[-1] - times[ref.start - 1]
    outcomes = []
    for k, fraction in enumerate((0.1, 0.5, 0.9)):
        db = tmp_path / f"sweep{k}.duckdb"
        shutil.copy(ref.base, db)
        killed = kill_after_delay(_with_db(ref, db), tmp_path, ref.start, fraction * work)
        committed = _check_whole(db, ref)
        assert killed or committed
        outcomes.append((killed, committed))
        _rerun_and_compare(db, ref, committed)
    print(f"{ref.scenario.name}: work {work:.3f} s; (killed, committed) per delay: {outcomes}")


# ------------------------------------------------------------------ a killed server ----
@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_the_server_killed_during_a_run_started_over_the_api(
    extracts, base_dbs, tmp_path_factory, tmp_path, delay
) -> None:
    """``harmrank serve`` SIGKILLed (as the OOM killer would) while a run it started is being
    scored: the database opens, the run is all there or not there at all, the server file it
    left does not block anyone, and a new server runs the month to the same lists."""
    ref = _reference("run", extracts, base_dbs, tmp_path_factory)
    db = _fresh_copy(ref, tmp_path)
    with open_store(db) as store:
        token, _ = mint_token(store, user="sup", roles=["supervisor"], created_by="t")
    before = _visible(db_state(db, ALL_TABLES))["runs"]
    with serve(db, tmp_path / "server1.log") as server:
        status, body = request(server, "POST", "/api/v1/runs", token=token, body={"month": END})
        assert status == 202, body
        job = json.loads(body)["job_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the worker has taken the run
            state = json.loads(request(server, "GET", f"/api/v1/runs/jobs/{job}", token=token)[1])
            if state["state"] != "queued":
                break
            time.sleep(0.01)
        time.sleep(delay)
        server.process.kill()
        server.process.wait(30)
    assert server_file(db).exists()  # left behind by the killed server
    # the next command is not refused: the stale file names a process that holds nothing
    listed = CliRunner().invoke(app, ["runs", "--format", "json", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    with open_store(db) as store:
        assert audit.verify(store).ok
    runs = _visible(db_state(db, ALL_TABLES))["runs"]
    made = [r for r in runs if r not in before]
    assert len(made) <= 1
    print(f"server killed {delay} s into the run: the run was {'made' if made else 'not made'}")
    with open_store(db) as store:
        for table in RUN_CHILD_TABLES:
            orphans = store.scalar(
                f"SELECT count(*) FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)"
            )
            assert orphans == 0, table
        if made:  # all of it: as many rows as the same run made by the command line
            run_id = made[0][0]
            for table in RUN_CHILD_TABLES:
                expected = sum(1 for row in ref.after[table] if row[0] == run_id)
                count = store.scalar(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id])
                assert count == expected, table
    # a new server on the same database runs the month again, to the same lists
    with serve(db, tmp_path / "server2.log") as server:
        status, body = request(server, "POST", "/api/v1/runs", token=token, body={"month": END})
        assert status == 202, body
        job = json.loads(body)["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = json.loads(request(server, "GET", f"/api/v1/runs/jobs/{job}", token=token)[1])
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert state["state"] == "done", state
    assert without_run_ids(all_lists(db, [END])) == without_run_ids(ref.lists)
