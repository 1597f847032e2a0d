"""A backfill longer than one pass commits pass by pass, with its runs invisible until the last
pass is stored; a backfill killed half-way leaves nothing any read can see."""

from __future__ import annotations

import pytest

from harmrank.config import Config
from harmrank.scoring import NotFound, backfill, history, list_objects, months_with_runs, runs_table
from harmrank.scoring import runs as runs_module
from harmrank.testing import store_from_rows

CRIMES = [
    {
        "crime_id": f"C{i:03d}",
        "ho_code": "8N",
        "recorded_on": f"2025-{m:02d}-10",
        "victim_id": f"V{i}",
    }
    for i, m in enumerate(range(1, 13), start=1)
]
SUSPECTS = [{"crime_id": c["crime_id"], "nominal_id": f"N{i % 3}"} for i, c in enumerate(CRIMES)]


def _store():
    store, _ = store_from_rows(crimes=CRIMES, suspects=SUSPECTS, lpas=["Shropshire"])
    return store


def test_a_backfill_in_several_passes_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    one = _store()
    backfill(one, "2025-01", "2025-12", Config())
    monkeypatch.setattr(runs_module, "batch_months", lambda store, window: 5)
    several = _store()
    runs = backfill(several, "2025-01", "2025-12", Config())
    assert [r.status for r in runs] == ["draft"] * 12
    assert {r["status"] for r in runs_table(several)} == {"draft"}
    for month in ("2025-01", "2025-06", "2025-12"):
        a = list_objects(one, month, Config())
        b = list_objects(several, month, Config())
        assert [o["entries"] for o in a] == [o["entries"] for o in b]
    assert history(one, "N1", Config()) == history(several, "N1", Config())


def test_a_backfill_killed_between_passes_leaves_nothing_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _store()
    monkeypatch.setattr(runs_module, "batch_months", lambda store, window: 4)
    real_persist = runs_module._persist
    calls = {"n": 0}

    def dies_on_second_pass(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real_persist(*args, **kwargs)

    monkeypatch.setattr(runs_module, "_persist", dies_on_second_pass)
    with pytest.raises(KeyboardInterrupt):
        backfill(store, "2025-01", "2025-12", Config())
    # the first pass was committed, but as pending runs that no read uses
    assert store.scalar("SELECT count(*) FROM runs WHERE status = 'pending'") == 4
    assert runs_table(store) == []
    assert months_with_runs(store, Config()) == []
    with pytest.raises(NotFound):
        list_objects(store, "2025-02", Config())
    assert history(store, "N1", Config())["months"] == []

    # the next backfill removes the leftovers and gives what a clean database gives
    monkeypatch.setattr(runs_module, "_persist", real_persist)
    backfill(store, "2025-01", "2025-12", Config())
    assert store.scalar("SELECT count(*) FROM runs WHERE status = 'pending'") == 0
    assert store.scalar("SELECT count(*) FROM runs") == 12
    clean = _store()
    backfill(clean, "2025-01", "2025-12", Config())
    for month in ("2025-02", "2025-12"):
        assert [o["entries"] for o in list_objects(store, month, Config())] == [
            o["entries"] for o in list_objects(clean, month, Config())
        ]


def _constraints(store):
    return store.execute(
        "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = 'run_scores' ORDER BY ALL"
    ).fetchall()


def test_a_backfill_of_several_passes_leaves_the_scores_sorted_by_nominal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """So that a nominal's history reads one row group, not one per pass: the same rows and
    constraints, in key order, and the same reads."""
    one = _store()
    backfill(one, "2025-01", "2025-12", Config())
    monkeypatch.setattr(runs_module, "batch_months", lambda store, window: 5)
    several = _store()
    constraints = _constraints(several)
    backfill(several, "2025-01", "2025-12", Config())
    rows = several.execute("SELECT * FROM run_scores").fetchall()  # in stored order
    assert [(r[1], r[0]) for r in rows] == sorted((r[1], r[0]) for r in rows)
    assert sorted(rows) == sorted(one.execute("SELECT * FROM run_scores").fetchall())
    assert _constraints(several) == constraints and len(constraints) == 9
    for nominal in ("N0", "N1", "N2"):
        assert history(several, nominal, Config()) == history(one, nominal, Config())
    # later runs append as before, under the same constraints
    runs_module.run_month(several, "2025-12", Config())
    assert _constraints(several) == constraints
