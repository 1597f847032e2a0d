"""A server's in-memory index of the stored scores (``harmrank.scoring.scores_index``): it must
give exactly what the database gives, and must not be used once the database has moved on."""

from __future__ import annotations

import random

import pytest

from harmrank.scoring import backfill, history, nominal_lpas, run_month, scores_index
from harmrank.scoring.read import nominal_key

from .scenario import crime, link, load

LPAS = ["Shropshire", "Herefordshire", "Telford & Wrekin"]
CODES = ["19C", "19D", "8N", "8Q", "105A", "17A", "5D", "8U"]
# ids whose code-point order differs from a natural or case-blind one, and one with a slash
IDS = [f"N{i}" for i in range(1, 40)] + ["n1", "N1a", "Ñ7", "01/123456A", "Z", "a b"]


def _scenario(seed: int = 11):
    rng = random.Random(seed)
    crimes, links = [], []
    for i in range(220):
        cid = f"C{i:04d}"
        month = rng.randrange(1, 19)  # 2024-01 .. 2025-06
        year, mm = (2024, month) if month <= 12 else (2025, month - 12)
        crimes.append(
            crime(
                cid,
                rng.choice(CODES),
                f"{year}-{mm:02d}-{rng.randrange(1, 28):02d}",
                lpa=rng.choice(LPAS),
                da=rng.random() < 0.7,
                victim=f"V{rng.randrange(30)}" if rng.random() < 0.8 else None,
            )
        )
        for nominal in rng.sample(IDS, rng.choice([1, 1, 1, 2])):
            links.append(link(cid, nominal))
    s = load(crimes, links)
    backfill(s.store, "2025-01", "2025-06", s.config)
    return s


def _reads(s, ids):
    return {
        n: (history(s.store, n, s.config), nominal_lpas(s.store, n), nominal_key(s.store, n))
        for n in ids
    }


@pytest.fixture
def indexed():
    s = _scenario()
    yield s
    scores_index.disable(s.store)


def test_no_index_unless_a_server_keeps_one(indexed):
    assert scores_index.current(indexed.store) is None


def test_the_index_reads_what_the_database_reads(indexed):
    s = indexed
    ids = [*IDS, "NOBODY", "N"]
    from_db = _reads(s, ids)
    assert sum(bool(h["months"]) for h, _lpas, _key in from_db.values()) > 30
    scores_index.enable(s.store, max_rows=10_000)  # built before it returns
    index = scores_index.current(s.store)
    assert index is not None and len(index.nkeys) > 0
    assert _reads(s, ids) == from_db


def test_a_new_run_or_nominal_is_read_from_the_database_until_the_index_has_it(indexed):
    s = indexed
    kept = scores_index.enable(s.store, max_rows=10_000)
    assert scores_index.current(s.store) is not None
    stale = kept._built  # the index built before the changes
    # a new nominal: its key is known at once
    s.ingest(crimes=[crime("C9999", "19C", "2025-06-03")], suspects=[link("C9999", "NEW")])
    assert stale is not None and stale[1] is not None and stale[1].key("NEW") is None
    assert nominal_key(s.store, "NEW") is not None
    # and a re-run month, which the old index does not hold either
    kept.wait()
    run_month(s.store, "2025-06", s.config)
    rows = history(s.store, "NEW", s.config)["months"]
    assert [r["month"] for r in rows] == ["2025-06"] and rows[0]["harm"] > 0
    kept.wait()  # the rebuild started by that read
    index = scores_index.current(s.store)
    assert index is not None and index is not stale[1] and index.key("NEW") is not None
    ids = [*IDS, "NEW"]
    with_index = _reads(s, ids)
    scores_index.disable(s.store)
    assert _reads(s, ids) == with_index


def test_over_the_limit_history_reads_the_database(indexed):
    s = indexed
    from_db = _reads(s, IDS)
    kept = scores_index.enable(s.store, max_rows=5)
    assert kept._built is not None and kept._built[1] is None
    assert scores_index.current(s.store) is None
    assert _reads(s, IDS) == from_db


def test_the_stamp_tells_runs_apart_not_only_their_number(indexed):
    s = indexed
    before = scores_index._stamp(s.store)
    # a run replaced by another with the same count (as when a killed backfill's pending runs
    # are removed and a new backfill stores as many)
    with s.store.transaction():
        s.store.execute(
            "INSERT INTO runs SELECT * REPLACE ('R999999' AS run_id) FROM runs "
            "WHERE run_id = (SELECT max(run_id) FROM runs)"
        )
        s.store.execute("DELETE FROM runs WHERE run_id = (SELECT min(run_id) FROM runs)")
    after = scores_index._stamp(s.store)
    assert after[0] == before[0] and after != before


def test_zero_keeps_no_index(indexed):
    assert scores_index.enable(indexed.store, max_rows=0) is None
    assert scores_index.current(indexed.store) is None


def test_a_failed_build_leaves_history_to_the_database_and_is_retried_after_a_change(
    indexed, monkeypatch
):
    s = indexed
    from_db = _reads(s, IDS)
    calls = []

    def fails(store, max_rows):
        calls.append(1)
        raise OSError("out of memory")

    monkeypatch.setattr(scores_index, "build", fails)
    scores_index.enable(s.store, max_rows=10_000)
    kept = s.store.shared["scores_index"]
    assert len(calls) == 1 and scores_index.current(s.store) is None
    assert _reads(s, IDS) == from_db
    kept.wait()
    assert _reads(s, IDS) == from_db
    assert len(calls) == 1  # no new try until the database changes, and none per read
    monkeypatch.undo()
    run_month(s.store, "2025-06", s.config)  # a change: the next read tries again, and succeeds
    assert _reads(s, ["N1"])["N1"][0]["months"]
    kept.wait()
    assert scores_index.current(s.store) is not None
