"""An extract that cannot be read is refused whole, and an ingest is all or nothing: whatever
stops it (an unreadable file, an error half-way, the process killed), the store stays exactly
as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import harmrank.ingest
from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.readers import ExtractUnreadable
from harmrank.store import open_store
from harmrank.testing import write_extract

CRIMES = (
    "crime_id,ho_code,recorded_on,committed_on,lpa,domestic_abuse,victim_id,status,outcome\n"
    "C9,8N,2025-01-15,,Shropshire,true,,recorded,\n"
)
SUSPECTS = "crime_id,nominal_id,role\nC9,N9,suspect\n"
TABLES = (
    "loads",
    "crimes",
    "links",
    "nominals",
    "orders",
    "lpas",
    "crime_versions",
    "link_versions",
    "nominal_versions",
    "order_versions",
    "lpa_versions",
    "quarantine",
    "audit_log",
)


def state(store) -> dict[str, list]:
    return {t: sorted(store.execute(f"SELECT t::VARCHAR FROM {t} t").fetchall()) for t in TABLES}


@pytest.fixture
def loaded(store, tmp_path):
    """A store that already holds one load (with a quarantined row), so that "nothing
    written" is checked against a non-empty store."""
    folder = write_extract(
        tmp_path / "first",
        crimes=[{"crime_id": "C1"}, {"crime_id": "C2", "status": "bad"}],
        suspects=[{"crime_id": "C1", "nominal_id": "N1"}],
        nominals=[{"nominal_id": "N1"}],
    )
    ingest_extract(store, folder, Config())
    return store


PARQUET_MAGIC = b"PAR1" + b"\x00" * 64 + b"PAR1"

UNREADABLE = [
    (
        "missing required column",
        {"crimes": CRIMES.replace(",status", "").replace(",recorded,", ","), "suspects": SUSPECTS},
        "missing required column status",
    ),
    (
        "missing required columns (suspects)",
        {"crimes": CRIMES, "suspects": "crime_id,person\nC9,N9\n"},
        "missing required columns nominal_id, role",
    ),
    (
        "duplicate header names",
        {"crimes": CRIMES.replace("victim_id", "lpa"), "suspects": SUSPECTS},
        "the header has 'lpa' more than once",
    ),
    (
        "empty header names",
        {"crimes": CRIMES, "suspects": "crime_id,nominal_id,role,,\nC9,N9,suspect,,\n"},
        "the header has an empty name more than once",
    ),
    ("empty file", {"crimes": "", "suspects": SUSPECTS}, "crimes.csv: the file is empty"),
    ("blank file", {"crimes": "\n\r\n  \n", "suspects": SUSPECTS}, "crimes.csv: the file is empty"),
    (
        "header not UTF-8",
        {
            "crimes": CRIMES.replace("victim_id", "v\xefctim").encode("latin-1"),
            "suspects": SUSPECTS,
        },
        "the header row is not valid UTF-8",
    ),
    (
        "a Parquet file that is not Parquet",
        {"crimes.parquet": CRIMES, "suspects": SUSPECTS},
        "crimes.parquet: not a readable Parquet file",
    ),
    (
        "a binary file named .csv",
        {"crimes": PARQUET_MAGIC, "suspects": SUSPECTS},
        "crimes.csv: not a CSV text file",
    ),
    (
        "both crimes.csv and crimes.parquet",
        {"crimes": CRIMES, "crimes.parquet": PARQUET_MAGIC, "suspects": SUSPECTS},
        "both crimes.csv and crimes.parquet are present",
    ),
    (
        "missing suspects file",
        {"crimes": CRIMES},
        "the required file suspects.csv (or suspects.parquet) is missing",
    ),
    (
        "missing crimes file",
        {"suspects": SUSPECTS},
        "the required file crimes.csv (or crimes.parquet) is missing",
    ),
    (
        "an optional file with a missing required column",
        {"crimes": CRIMES, "suspects": SUSPECTS, "orders": "order_id,nominal_id\nO1,N1\n"},
        "orders.csv: missing required columns order_type, starts_on",
    ),
]


@pytest.mark.parametrize(
    ("files", "message"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE]
)
def test_an_unreadable_file_refuses_the_whole_ingest_and_writes_nothing(
    loaded, write_files, files, message
):
    folder = write_files(**files)
    before = state(loaded)
    with pytest.raises(ExtractUnreadable) as refused:
        ingest_extract(loaded, folder, Config())
    assert message in str(refused.value)
    assert state(loaded) == before


def test_a_folder_that_does_not_exist_is_refused(loaded, tmp_path):
    before = state(loaded)
    with pytest.raises(ExtractUnreadable, match="not a folder"):
        ingest_extract(loaded, tmp_path / "nowhere", Config())
    assert state(loaded) == before


@pytest.mark.parametrize("late_step", ["lpas", "crimes", "suspects", "nominals", "orders"])
def test_an_ingest_that_fails_half_way_leaves_the_store_as_it_was(
    loaded, tmp_path, monkeypatch, late_step
):
    real_merge = harmrank.ingest._merge

    def failing_merge(store, table, *args, **kwargs):
        real_merge(store, table, *args, **kwargs)  # the step has written, then…
        if table.name == {"suspects": "links"}.get(late_step, late_step):
            raise RuntimeError("disk full")

    monkeypatch.setattr(harmrank.ingest, "_merge", failing_merge)
    folder = write_extract(
        tmp_path / "second",
        crimes=[
            {"crime_id": "C1", "ho_code": "19C"},
            {"crime_id": "C3"},
            {"crime_id": "C4", "lpa": ""},
        ],
        suspects=[{"crime_id": "C3", "nominal_id": "N3"}],
        nominals=[{"nominal_id": "N3"}],
        orders=[
            {"order_id": "O1", "nominal_id": "N3", "order_type": "RO", "starts_on": "2025-01-01"}
        ],
        lpas=["Shropshire"],
    )
    before = state(loaded)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_extract(loaded, folder, Config(), replace=True)
    assert state(loaded) == before
    # and the store is still usable: the same ingest, unpatched, goes through
    monkeypatch.setattr(harmrank.ingest, "_merge", real_merge)
    report = ingest_extract(loaded, folder, Config(), replace=True)
    assert report.load_id == 2


def test_an_ingest_that_fails_writing_its_load_record_leaves_the_store_as_it_was(
    loaded, tmp_path, monkeypatch
):
    store = loaded
    real_execute = type(store).execute

    def execute(self, sql, params=None):
        if sql.startswith("INSERT INTO loads"):
            raise RuntimeError("killed")
        return real_execute(self, sql, params)

    monkeypatch.setattr(type(store), "execute", execute)
    folder = write_extract(tmp_path / "second", crimes=[{"crime_id": "C5"}])
    before = state(store)
    with pytest.raises(RuntimeError, match="killed"):
        ingest_extract(store, folder, Config())
    monkeypatch.undo()
    assert state(store) == before


def test_an_ingest_killed_in_the_middle_leaves_the_database_file_as_it_was(tmp_path):
    """A process that dies (os._exit: no clean-up, no rollback) after writing crimes and links
    but before committing: the next open finds the database as it was before."""
    db = tmp_path / "h.duckdb"
    first = write_extract(tmp_path / "first", crimes=[{"crime_id": "C1"}])
    second = write_extract(
        tmp_path / "second",
        crimes=[{"crime_id": "C1", "ho_code": "19C"}, {"crime_id": "C2"}],
        suspects=[{"crime_id": "C2", "nominal_id": "N2"}],
    )
    with open_store(db) as store:
        ingest_extract(store, first, Config())
        before = state(store)
    script = textwrap.dedent(
        f"""
        import os
        import harmrank.ingest as ingest
        from harmrank.config import Config
        from harmrank.store import open_store

        real = ingest._merge
        def merge(store, table, *args, **kwargs):
            real(store, table, *args, **kwargs)
            if table.name == "links":
                os._exit(9)
        ingest._merge = merge
        store = open_store({str(db)!r})
        ingest.ingest_extract(store, {str(second)!r}, Config())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()
    with open_store(db) as store:
        assert state(store) == before
        report = ingest_extract(store, second, Config())
        assert report.load_id == 2
    assert os.path.exists(db)


def test_a_successful_ingest_is_logged_in_the_audit_log(store, tmp_path):
    folder = write_extract(
        tmp_path / "e", crimes=[{"crime_id": "C1"}, {"crime_id": "C2", "lpa": ""}]
    )
    ingest_extract(store, folder, Config(), user="analyst")
    row = store.one("SELECT user_name, action, route, status, row_count, detail FROM audit_log")
    assert row is not None
    user, action, route, status, rows, detail = row
    assert (user, action, route, status, rows) == ("analyst", "ingest", "harmrank ingest", 200, 2)
    assert '"load_id":1' in detail
    assert '"crimes":1' in detail  # quarantined per file
