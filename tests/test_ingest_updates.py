"""Ingest as an upsert (SPEC section 1, "Updates"): idempotence, revisions kept as versions,
the ``updated_at`` stale rule, ``--replace``, and the order of rows never mattering."""

from __future__ import annotations

import random

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.store import open_store
from harmrank.testing import write_extract

DATA_TABLES = {
    "crimes": "crime_id",
    "links": "crime_id, nominal_id",
    "nominals": "nominal_id",
    "orders": "order_id",
    "lpas": "lpa",
}
VERSION_TABLES = (
    "crime_versions",
    "link_versions",
    "nominal_versions",
    "order_versions",
    "lpa_versions",
)


def crime(crime_id: str, **values: str) -> dict[str, str]:
    return {"crime_id": crime_id, **values}


def link(crime_id: str, nominal_id: str, role: str = "suspect") -> dict[str, str]:
    return {"crime_id": crime_id, "nominal_id": nominal_id, "role": role}


def snapshot(store, *, with_load: bool = True) -> dict[str, list[tuple]]:
    """Every data and version table, sorted, as plain rows."""
    out = {}
    for table in (*DATA_TABLES, *VERSION_TABLES):
        frame = store.frame(f"SELECT * FROM {table}")
        if not with_load:
            frame = frame.drop([c for c in ("load_id", "superseded_by") if c in frame.columns])
        out[table] = sorted(frame.rows(), key=repr)
    return out


def quarantine_content(store) -> list[tuple]:
    """The quarantine without load ids and line numbers (which depend on the row order)."""
    return sorted(store.execute("SELECT file, reason, raw::VARCHAR FROM quarantine").fetchall())


# ------------------------------------------------------------------ idempotence ----
EXTRACT = dict(
    crimes=[
        crime("C1", ho_code="19C"),
        crime("C2", status="cancelled", outcome="9"),
        crime("C3", recorded_on="bad"),
        crime("C4", lpa="Telford & Wrekin"),
    ],
    suspects=[link("C1", "N1"), link("C1", "N1", "charged"), link("C2", "N2"), link("C3", "N3")],
    nominals=[{"nominal_id": "N1", "birth_year": "1980"}, {"nominal_id": "N2"}],
    orders=[
        {"order_id": "O1", "nominal_id": "N1", "order_type": "DVPO", "starts_on": "2025-01-01"}
    ],
    lpas=["Shropshire", "Telford & Wrekin"],
)


def test_ingesting_twice_is_ingesting_once(store, tmp_path):
    folder = write_extract(tmp_path / "e", **EXTRACT)
    first = ingest_extract(store, folder, Config())
    before = snapshot(store)
    second = ingest_extract(store, folder, Config())
    assert snapshot(store) == before
    for name, rep in second.files.items():
        assert (rep.inserted, rep.updated, rep.stale, rep.ended) == (0, 0, 0, 0), name
        assert rep.unchanged == first.files[name].inserted, name
        assert rep.read == first.files[name].read
        assert rep.quarantined == first.files[name].quarantined
    for table in VERSION_TABLES:
        assert before[table] == []
    # each load records its own quarantined rows
    assert store.execute(
        "SELECT load_id, count(*) FROM quarantine GROUP BY 1 ORDER BY 1"
    ).fetchall() == [(1, 2), (2, 2)]
    assert store.scalar("SELECT count(*) FROM loads") == 2


def test_ingesting_twice_with_replace_is_ingesting_once(store, tmp_path):
    folder = write_extract(tmp_path / "e", **EXTRACT)
    ingest_extract(store, folder, Config(), replace=True)
    before = snapshot(store)
    again = ingest_extract(store, folder, Config(), replace=True)
    assert snapshot(store) == before
    assert all(r.ended == 0 and r.updated == 0 and r.inserted == 0 for r in again.files.values())


# -------------------------------------------------------------------- revisions ----
def test_a_revised_crime_replaces_the_old_one_which_is_kept_as_a_version(store, tmp_path):
    ingest_extract(
        store,
        write_extract(tmp_path / "1", crimes=[crime("C1", ho_code="8N"), crime("C2")]),
        Config(),
        user="analyst1",
    )
    report = ingest_extract(
        store,
        write_extract(
            tmp_path / "2",
            crimes=[crime("C1", ho_code="19C", status="cancelled", outcome="15"), crime("C2")],
        ),
        Config(),
        user="analyst2",
    )
    rep = report.files["crimes"]
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 1, 1)
    assert store.one(
        "SELECT ho_code, status, outcome, load_id FROM crimes WHERE crime_id = 'C1'"
    ) == (
        "19C",
        "cancelled",
        15,
        2,
    )
    versions = store.frame("SELECT * FROM crime_versions").to_dicts()
    assert len(versions) == 1
    old = versions[0]
    assert (old["crime_id"], old["ho_code"], old["status"], old["outcome"]) == (
        "C1",
        "8N",
        "recorded",
        None,
    )
    assert old["load_id"] == 1
    assert old["superseded_by"] == 2
    assert old["change"] == "revised"
    assert old["changed"] == ["ho_code", "status", "outcome"]
    # who and when: the loads table
    assert store.execute("SELECT load_id, loaded_by FROM loads ORDER BY 1").fetchall() == [
        (1, "analyst1"),
        (2, "analyst2"),
    ]
    # C2 is untouched: still the version of load 1
    assert store.scalar("SELECT load_id FROM crimes WHERE crime_id = 'C2'") == 1


def test_a_revised_link_keeps_its_old_role(store, tmp_path):
    ingest_extract(
        store,
        write_extract(tmp_path / "1", crimes=[crime("C1")], suspects=[link("C1", "N1")]),
        Config(),
    )
    ingest_extract(
        store,
        write_extract(tmp_path / "2", crimes=[crime("C1")], suspects=[link("C1", "N1", "charged")]),
        Config(),
    )
    assert store.scalar("SELECT role FROM links") == "charged"
    assert store.one("SELECT role, superseded_by, change, changed FROM link_versions") == (
        "suspect",
        2,
        "revised",
        ["role"],
    )


def test_three_revisions_keep_two_versions(store, tmp_path):
    for i, code in enumerate(["8N", "19C", "19D"]):
        ingest_extract(
            store, write_extract(tmp_path / str(i), crimes=[crime("C1", ho_code=code)]), Config()
        )
    assert store.execute(
        "SELECT ho_code, load_id, superseded_by FROM crime_versions ORDER BY load_id"
    ).fetchall() == [("8N", 1, 2), ("19C", 2, 3)]
    assert store.scalar("SELECT ho_code FROM crimes") == "19D"


def test_without_replace_links_and_crimes_are_never_ended(store, tmp_path):
    ingest_extract(
        store,
        write_extract(
            tmp_path / "1",
            crimes=[crime("C1"), crime("C2")],
            suspects=[link("C1", "N1"), link("C2", "N2")],
        ),
        Config(),
    )
    report = ingest_extract(
        store,
        write_extract(tmp_path / "2", crimes=[crime("C3")], suspects=[link("C3", "N3")]),
        Config(),
    )
    assert store.scalar("SELECT count(*) FROM crimes") == 3
    assert store.scalar("SELECT count(*) FROM links") == 3
    assert report.files["crimes"].ended == 0


# -------------------------------------------------------------------- updated_at ----
def test_an_older_updated_at_is_stale_and_not_applied(store, tmp_path):
    ingest_extract(
        store,
        write_extract(
            tmp_path / "1",
            crimes=[
                crime("C1", ho_code="8N", updated_at="2025-03-01T12:00:00"),
                crime("C2", ho_code="8N", updated_at="2025-03-01T12:00:00"),
                crime("C3", ho_code="8N", updated_at="2025-03-01T12:00:00"),
                crime("C4", ho_code="8N", updated_at="2025-03-01T12:00:00"),
            ],
        ),
        Config(),
    )
    report = ingest_extract(
        store,
        write_extract(
            tmp_path / "2",
            crimes=[
                crime("C1", ho_code="19C", updated_at="2025-02-01T12:00:00"),  # older: stale
                crime("C2", ho_code="19C", updated_at="2025-03-01T13:00:00+02:00"),  # older
                crime("C3", ho_code="19C", updated_at="2025-03-02T00:00:00"),  # newer
                crime("C4", ho_code="19C", updated_at=""),  # unknown: the last load wins
            ],
        ),
        Config(),
    )
    rep = report.files["crimes"]
    assert (rep.stale, rep.updated, rep.accepted, rep.quarantined) == (2, 2, 4, 0)
    assert store.execute("SELECT crime_id, ho_code FROM crimes ORDER BY 1").fetchall() == [
        ("C1", "8N"),
        ("C2", "8N"),
        ("C3", "19C"),
        ("C4", "19C"),
    ]
    assert [
        r[0] for r in store.execute("SELECT crime_id FROM crime_versions ORDER BY 1").fetchall()
    ] == [
        "C3",
        "C4",
    ]


def test_an_equal_updated_at_with_the_same_values_is_unchanged(store, tmp_path):
    rows = [crime("C1", updated_at="2025-03-01T12:00:00")]
    ingest_extract(store, write_extract(tmp_path / "1", crimes=rows), Config())
    report = ingest_extract(store, write_extract(tmp_path / "2", crimes=rows), Config())
    assert report.files["crimes"].unchanged == 1


def test_an_equal_updated_at_with_other_values_is_applied(store, tmp_path):
    # only an older row is stale (SPEC 1, Updates); at the same time the last load wins
    at = "2025-03-01T12:00:00"
    ingest_extract(
        store,
        write_extract(tmp_path / "1", crimes=[crime("C1", ho_code="8N", updated_at=at)]),
        Config(),
    )
    report = ingest_extract(
        store,
        write_extract(tmp_path / "2", crimes=[crime("C1", ho_code="19C", updated_at=at)]),
        Config(),
    )
    rep = report.files["crimes"]
    assert (rep.stale, rep.updated) == (0, 1)
    assert store.scalar("SELECT ho_code FROM crimes") == "19C"
    assert store.scalar("SELECT count(*) FROM crime_versions WHERE crime_id = 'C1'") == 1


def test_without_updated_at_the_last_load_wins(store, tmp_path):
    ingest_extract(
        store,
        write_extract(tmp_path / "1", crimes=[crime("C1", ho_code="8N", updated_at="2025-03-01")]),
        Config(),
    )
    report = ingest_extract(
        store, write_extract(tmp_path / "2", crimes=[crime("C1", ho_code="19C")]), Config()
    )
    assert report.files["crimes"].updated == 1
    assert store.scalar("SELECT ho_code FROM crimes") == "19C"


# ---------------------------------------------------------------------- replace ----
def test_replace_ends_what_the_extract_no_longer_holds_and_keeps_the_quarantined(store, tmp_path):
    ingest_extract(
        store,
        write_extract(
            tmp_path / "1",
            crimes=[crime("C1"), crime("C2"), crime("C3"), crime("C4")],
            suspects=[link("C1", "N1"), link("C2", "N2"), link("C3", "N3"), link("C4", "N4")],
            nominals=[{"nominal_id": "N1"}, {"nominal_id": "N2"}],
            orders=[
                {
                    "order_id": "O1",
                    "nominal_id": "N1",
                    "order_type": "RO",
                    "starts_on": "2025-01-01",
                }
            ],
        ),
        Config(),
    )
    report = ingest_extract(
        store,
        write_extract(
            tmp_path / "2",
            crimes=[
                crime("C1"),  # unchanged
                crime("C3", recorded_on="not a date"),  # present, but only as a quarantined row
                crime("C4"),
            ],
            suspects=[
                link("C1", "N1"),
                link("C3", "N3"),  # held with its quarantined crime: kept
                link("C4", "N4", "Charged"),  # quarantined itself: kept
            ],
            nominals=[{"nominal_id": "N1"}],
            # no orders file: orders are not ended
        ),
        Config(),
        replace=True,
    )
    assert [r[0] for r in store.execute("SELECT crime_id FROM crimes ORDER BY 1").fetchall()] == [
        "C1",
        "C3",
        "C4",
    ]
    assert store.execute("SELECT crime_id, nominal_id FROM links ORDER BY 1").fetchall() == [
        ("C1", "N1"),
        ("C3", "N3"),
        ("C4", "N4"),
    ]
    assert store.execute(
        "SELECT crime_id, superseded_by, change, changed FROM crime_versions"
    ).fetchall() == [("C2", 2, "ended", [])]
    assert store.execute(
        "SELECT crime_id, nominal_id, role, change FROM link_versions"
    ).fetchall() == [("C2", "N2", "suspect", "ended")]
    assert store.execute("SELECT nominal_id FROM nominals").fetchall() == [("N1",)]
    assert store.execute("SELECT nominal_id, change FROM nominal_versions").fetchall() == [
        ("N2", "ended")
    ]
    assert store.scalar("SELECT count(*) FROM orders") == 1
    assert report.files["crimes"].ended == 1
    assert report.files["suspects"].ended == 1
    assert report.files["nominals"].ended == 1
    assert report.replace is True


def test_replace_quarantines_a_link_to_a_crime_it_ends(store, tmp_path):
    """With --replace the extract is complete: a link whose crime is not in it would point at
    an ended crime, so it is an orphan."""
    ingest_extract(
        store, write_extract(tmp_path / "1", crimes=[crime("C1"), crime("C2")]), Config()
    )
    ingest_extract(
        store,
        write_extract(
            tmp_path / "2", crimes=[crime("C2")], suspects=[link("C1", "N1"), link("C2", "N2")]
        ),
        Config(),
        replace=True,
    )
    assert store.execute("SELECT crime_id FROM crimes").fetchall() == [("C2",)]
    assert store.execute("SELECT crime_id FROM links").fetchall() == [("C2",)]
    [(line, reason)] = store.execute("SELECT line, reason FROM quarantine").fetchall()
    assert line == 2
    assert "'C1'" in reason and "orphan" in reason


def test_an_ended_crime_that_comes_back_is_inserted_again(store, tmp_path):
    ingest_extract(store, write_extract(tmp_path / "1", crimes=[crime("C1")]), Config())
    ingest_extract(store, write_extract(tmp_path / "2", crimes=[]), Config(), replace=True)
    assert store.scalar("SELECT count(*) FROM crimes") == 0
    report = ingest_extract(store, write_extract(tmp_path / "3", crimes=[crime("C1")]), Config())
    assert report.files["crimes"].inserted == 1
    assert store.scalar("SELECT load_id FROM crimes") == 3
    assert store.scalar("SELECT count(*) FROM crime_versions") == 1


# ---------------------------------------------------------- properties (hypothesis) ----
_ids = st.sampled_from(["C1", "C2", "C3", "C4", "C5", "C6"])
_crime = st.builds(
    lambda cid, code, lpa, status, outcome, rec: crime(
        cid, ho_code=code, lpa=lpa, status=status, outcome=outcome, recorded_on=rec
    ),
    _ids,
    st.sampled_from(["8N", "19C", "ZZ"]),
    st.sampled_from(["Shropshire", " Shropshire", "Herefordshire", "Nowhere"]),
    st.sampled_from(["recorded", "cancelled", "transferred", "bad"]),
    st.sampled_from(["", "9", "23"]),
    st.sampled_from(["2025-01-15", "2025-02-30"]),
)
_link = st.builds(
    link,
    st.sampled_from(["C1", "C2", "C3", "C4", "C5", "C6", "C9"]),
    st.sampled_from(["N1", "N2", "N3", ""]),
    st.sampled_from(["suspect", "charged", "convicted", "eliminated", "witness"]),
)
_nominal = st.builds(
    lambda nid, year: {"nominal_id": nid, "birth_year": year},
    st.sampled_from(["N1", "N2", "N3"]),
    st.sampled_from(["1980", "1990", "x", ""]),
)
_extract = st.fixed_dictionaries(
    {
        "crimes": st.lists(_crime, max_size=10),
        "suspects": st.lists(_link, max_size=10),
        "nominals": st.lists(_nominal, max_size=5),
        "lpas": st.lists(st.sampled_from(["Shropshire", "Herefordshire "]), max_size=3),
    }
)
_FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _shuffled(extract: dict, seed: int) -> dict:
    rng = random.Random(seed)
    out = {}
    for name, rows in extract.items():
        rows = list(rows)
        rng.shuffle(rows)
        out[name] = rows
    return out


@_FAST
@given(extract=_extract, seed=st.integers(0, 2**32 - 1))
def test_the_order_of_rows_never_changes_the_store(tmp_path_factory, extract, seed):
    stores = []
    for variant in (extract, _shuffled(extract, seed)):
        store = open_store(":memory:")
        folder = write_extract(tmp_path_factory.mktemp("order"), **variant)
        report = ingest_extract(store, folder, Config())
        stores.append((snapshot(store), quarantine_content(store), report))
        store.close()
    (a, qa, ra), (b, qb, rb) = stores
    assert a == b
    assert qa == qb
    for name in ra.files:
        x, y = ra.files[name], rb.files[name]
        assert (x.read, x.accepted, x.quarantined, x.inserted, x.collapsed) == (
            y.read,
            y.accepted,
            y.quarantined,
            y.inserted,
            y.collapsed,
        )


@_FAST
@given(first=_extract, second=_extract, replace=st.booleans())
def test_ingesting_any_extract_twice_is_ingesting_it_once(tmp_path_factory, first, second, replace):
    """After any history (a first extract), loading the same second extract again changes
    nothing: every row is unchanged, and no version is made."""
    store = open_store(":memory:")
    try:
        ingest_extract(store, write_extract(tmp_path_factory.mktemp("a"), **first), Config())
        folder = write_extract(tmp_path_factory.mktemp("b"), **second)
        once = ingest_extract(store, folder, Config(), replace=replace)
        before = snapshot(store)
        twice = ingest_extract(store, folder, Config(), replace=replace)
        assert snapshot(store) == before
        for name, rep in twice.files.items():
            assert (rep.inserted, rep.updated, rep.ended, rep.stale) == (0, 0, 0, 0), name
            assert rep.quarantined == once.files[name].quarantined
            assert rep.read == rep.accepted + rep.quarantined
    finally:
        store.close()


@_FAST
@given(extract=_extract)
def test_the_store_holds_exactly_the_accepted_rows(tmp_path_factory, extract):
    store = open_store(":memory:")
    try:
        report = ingest_extract(
            store, write_extract(tmp_path_factory.mktemp("c"), **extract), Config()
        )
        rep = report.files["crimes"]
        assert rep.read == len(extract["crimes"])
        assert store.scalar("SELECT count(*) FROM crimes") == rep.accepted
        links = report.files["suspects"]
        assert store.scalar("SELECT count(*) FROM links") == links.accepted - links.collapsed
        q = dict(store.execute("SELECT file, count(*) FROM quarantine GROUP BY 1").fetchall())
        for name, r in report.files.items():
            assert q.get(name, 0) == r.quarantined
        # keys are unique in the store
        for table, key in DATA_TABLES.items():
            dupes = store.scalar(
                f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
            )
            assert dupes == 0, table
        frame = store.frame("SELECT lpa FROM crimes")
        assert frame.filter(pl.col("lpa") != pl.col("lpa").str.strip_chars()).height == 0
    finally:
        store.close()


# ------------------------------------------------------------------- crime keys ----
def test_every_crime_keeps_one_integer_key_across_loads(store, tmp_path):
    """Scoring joins links to crimes on crime_keys: one key per crime id for good, new crimes
    numbered after the stored ones in date order, and every link carrying its crime's key."""
    ingest_extract(
        store,
        write_extract(
            tmp_path / "1",
            crimes=[
                crime("C2", recorded_on="2025-03-01"),
                crime("C1", recorded_on="2025-04-01"),
            ],
            suspects=[link("C1", "N1"), link("C2", "N1"), link("C2", "N2")],
        ),
        Config(),
    )
    first = dict(store.execute("SELECT crime_id, ckey FROM crime_keys").fetchall())
    assert first == {"C2": 1, "C1": 2}  # in recorded_on order, not id order
    ingest_extract(
        store,
        write_extract(
            tmp_path / "2",
            crimes=[
                crime("C1", recorded_on="2025-04-01", ho_code="19C"),  # revised
                crime("C3", recorded_on="2025-05-01"),
                crime("C0", recorded_on="2025-05-01"),
            ],
            suspects=[link("C1", "N1", "charged"), link("C3", "N3"), link("C0", "N3")],
        ),
        Config(),
    )
    keys = dict(store.execute("SELECT crime_id, ckey FROM crime_keys").fetchall())
    assert keys == {**first, "C0": 3, "C3": 4}  # ties on the date: in id order
    assert store.scalar("SELECT count(*) - count(DISTINCT crime_id) FROM crime_keys") == 0
    stored = store.execute("SELECT crime_id, ckey FROM crimes ORDER BY 1").fetchall()
    assert stored == sorted(keys.items())
    assert store.execute(
        "SELECT l.crime_id, l.ckey FROM links l ORDER BY 1, l.nominal_id"
    ).fetchall() == [("C0", 3), ("C1", 2), ("C2", 1), ("C2", 1), ("C3", 4)]
    # the revised crime's old version kept its key too
    assert store.execute("SELECT crime_id, ckey FROM crime_versions").fetchall() == [("C1", 2)]


def test_offence_codes_lpas_and_victims_keep_one_integer_key_across_loads(store, tmp_path):
    """Scoring reads crimes by the keys of their ho_code, lpa and victim_id: one key per value
    for good, new values numbered after the stored ones, every crime (and kept version)
    carrying its values' keys, and no key for an unknown victim."""
    ingest_extract(
        store,
        write_extract(
            tmp_path / "1",
            crimes=[
                crime("C1", ho_code="19C", lpa="Shropshire", victim_id="V2"),
                crime("C2", ho_code="8N", lpa="Herefordshire", victim_id="V1"),
                crime("C3", ho_code="19C", lpa="Shropshire", victim_id=""),
            ],
            suspects=[link("C1", "N1"), link("C2", "N1"), link("C3", "N2")],
        ),
        Config(),
    )
    dims = {
        "offence_keys": "SELECT ho_code, hkey FROM offence_keys",
        "lpa_keys": "SELECT lpa, lkey FROM lpa_keys",
        "victim_keys": "SELECT victim_id, vkey FROM victim_keys",
    }
    first = {name: dict(store.execute(sql).fetchall()) for name, sql in dims.items()}
    assert first == {
        "offence_keys": {"19C": 1, "8N": 2},
        "lpa_keys": {"Herefordshire": 1, "Shropshire": 2},
        "victim_keys": {"V1": 1, "V2": 2},
    }
    ingest_extract(
        store,
        write_extract(
            tmp_path / "2",
            crimes=[
                crime("C1", ho_code="17A", lpa="Telford & Wrekin", victim_id="V0"),  # revised
                crime("C4", ho_code="8N", lpa="Herefordshire", victim_id="V1"),
            ],
            suspects=[link("C1", "N1"), link("C4", "N3")],
        ),
        Config(),
    )
    now = {name: dict(store.execute(sql).fetchall()) for name, sql in dims.items()}
    assert now == {
        "offence_keys": {**first["offence_keys"], "17A": 3},
        "lpa_keys": {**first["lpa_keys"], "Telford & Wrekin": 3},
        "victim_keys": {**first["victim_keys"], "V0": 3},
    }
    for table in ("crimes", "crime_versions"):
        rows = store.execute(
            f"SELECT crime_id, ho_code, hkey, lpa, lkey, victim_id, vkey FROM {table} ORDER BY 1"
        ).fetchall()
        for _crime, code, hkey, lpa, lkey, victim, vkey in rows:
            assert hkey == now["offence_keys"][code]
            assert lkey == now["lpa_keys"][lpa]
            assert vkey == (now["victim_keys"][victim] if victim is not None else None)
    assert [
        r[0] for r in store.execute("SELECT crime_id FROM crimes WHERE vkey IS NULL").fetchall()
    ] == ["C3"]
    assert store.scalar("SELECT hkey FROM crime_versions WHERE crime_id = 'C1'") == 1
