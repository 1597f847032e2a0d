"""Crash safety, for real: ``harmrank ingest``, ``run`` and ``backfill`` are started as
processes on a database file and SIGKILLed part-way, then the database is checked:

- it opens cleanly and its audit log verifies;
- the extract is exactly as before the command or exactly as after it ran to the end (never a
  partial load), and so are the runs (never a run without its scores and lists, never part of
  a backfill);
- every load and run that is there is in the audit log;
- running the command again gives what a database that was never interrupted holds: the same
  tables and the same list objects.

Two ways of choosing the moment: at a chosen SQL statement (the process is paused just before
sending it, then killed: a quarter, half and three quarters of the way through the statements
of the command's transaction, just before its COMMIT, just after it, and in the middle of the
audit append that follows), and a sweep of delays after
the work starts (killed in the middle of whatever DuckDB is doing, COMMIT and checkpoint
included). ``crashpoint.py`` counts and pauses; it changes nothing in harmrank.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harmrank import audit
from harmrank.cli import app
from harmrank.scoring.months import Month, month_range
from harmrank.store import open_store

from .conftest import END
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
    lists: dict[str, Any]
    finished: Finished
    begin: int  # statement number (1-based) of the BEGIN of the command's transaction
    commit: int  # ... and of its COMMIT

    def points(self) -> dict[str, int]:
        """Named statements to stop the command just before."""
        b, c, n = self.begin, self.commit, len(self.finished.statements)
        span = c - b
        points = {
            "quarter": b + span // 4,
            "middle": b + span // 2,
            "three-quarters": b + 3 * span // 4,
            "before-commit": c,
            "after-commit": c + 1,
        }
        audit_inserts = [
            i + 1
            for i, s in enumerate(self.finished.statements)
            if i + 1 > c and s.startswith("INSERT INTO audit_log")
        ]
        if audit_inserts:
            points["audit-insert"] = audit_inserts[0]
        return {k: v for k, v in points.items() if 1 <= v <= n}


def _args(scenario: Scenario, extracts: tuple[Path, Path], db: Path) -> list[str]:
    return [a.format(revised=extracts[1]) for a in scenario.args] + ["--db", str(db)]


def _main_transaction(statements: list[str]) -> tuple[int, int]:
    """The longest BEGIN … COMMIT span (1-based statement numbers)."""
    spans, begin = [], None
    for i, s in enumerate(statements, start=1):
        if s.startswith("BEGIN"):
            begin = i
        elif s.startswith("COMMIT") and begin is not None:
            spans.append((i - begin, begin, i))
            begin = None
    assert spans, statements
    _, b, c = max(spans)
    return b, c


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
    name = request.param
    if name not in _REFERENCES:
        scenario = SCENARIOS[name]
        work = tmp_path_factory.mktemp(f"reference-{name}")
        db = work / "clean.duckdb"
        shutil.copy(base_dbs[name], db)
        before, audit_before = db_state(db, ALL_TABLES), _audit(db)
        args = _args(scenario, extracts, db)
        finished = run_counted(args, work)
        assert finished.returncode == 0, finished.stderr
        begin, commit = _main_transaction(finished.statements)
        _REFERENCES[name] = Reference(
            scenario,
            args,
            base_dbs[name],
            before,
            db_state(db, ALL_TABLES),
            audit_before,
            _audit(db),
            all_lists(db, scenario.months),
            finished,
            begin,
            commit,
        )
        ref = _REFERENCES[name]
        assert ref.before != ref.after  # the command changes something worth protecting
    return _REFERENCES[name]


def _check_whole(db: Path, ref: Reference) -> bool:
    """The checks right after a kill; returns whether the command's work had committed."""
    with open_store(db) as store:  # opens cleanly (recovering what the kill interrupted)
        check = audit.verify(store)
        assert check.ok, check.message
    state = db_state(db, ALL_TABLES)
    committed = state == ref.after
    assert committed or state == ref.before, _first_difference(state, ref)
    # no half-made run: no row of a run table lacks its run, and every run has all the rows
    # the uninterrupted command gave it (a month without data has runs with empty lists)
    with open_store(db) as store:
        for table in RUN_CHILD_TABLES:
            orphans = store.scalar(
                f"SELECT count(*) FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)"
            )
            assert orphans == 0, table
            counts = dict(
                store.execute(f"SELECT run_id, count(*) FROM {table} GROUP BY run_id").fetchall()
            )
            expected = ref.after if committed else ref.before
            assert counts == dict(Counter(row[0] for row in expected[table])), table
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


POINTS = (
    "quarter",
    "middle",
    "three-quarters",
    "before-commit",
    "after-commit",
    "audit-insert",
)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("reference", list(SCENARIOS), indirect=True)
def test_killed_at_a_statement(reference: Reference, point: str, tmp_path: Path) -> None:
    ref = reference
    n = ref.points().get(point)
    if n is None:
        pytest.skip(f"{ref.scenario.name} has no {point} statement")
    db = _fresh_copy(ref, tmp_path)
    sent = kill_at_statement(_with_db(ref, db), tmp_path, n)
    # the interrupted process went exactly the way of the clean one up to the kill
    assert sent == ref.finished.statements[:n]
    committed = _check_whole(db, ref)
    assert committed == (n > ref.commit), f"statement {n}: {ref.finished.statements[n - 1]}"
    _rerun_and_compare(db, ref, committed)


@pytest.mark.slow
@pytest.mark.parametrize("reference", list(SCENARIOS), indirect=True)
def test_killed_after_a_sweep_of_delays(reference: Reference, tmp_path: Path) -> None:
    """Killed at moments spread over the work (and a little beyond), wherever DuckDB is."""
    ref = reference
    times = ref.finished.times
    work = times[-1] - times[ref.begin - 1]
    outcomes = []
    for k, fraction in enumerate((0.05, 0.4, 0.75, 1.1)):
        db = tmp_path / f"sweep{k}.duckdb"
        shutil.copy(ref.base, db)
        killed = kill_after_delay(_with_db(ref, db), tmp_path, ref.begin, fraction * work)
        committed = _check_whole(db, ref)
        assert killed or committed
        outcomes.append((killed, committed))
        _rerun_and_compare(db, ref, committed)
    print(f"{ref.scenario.name}: work {work:.3f} s; (killed, committed) per delay: {outcomes}")
