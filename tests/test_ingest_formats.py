"""The same extract as CSV and as Parquet gives the same store: the same rows, and the same
quarantine lines and reasons."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.store import open_store
from harmrank.testing import write_extract

FILES = ("crimes", "suspects", "nominals", "orders", "lpas")
TABLES = ("crimes", "links", "nominals", "orders", "lpas")

MESSY = dict(
    crimes=[
        {"crime_id": "C1", "ho_code": "19C", "victim_id": "V1", "committed_on": "2024-12-31"},
        {"crime_id": "C2", "domestic_abuse": "Y", "outcome": "9"},
        {"crime_id": "C3", "recorded_on": "2025-02-30"},
        {"crime_id": "C4", "lpa": "  Shropshire "},
        {"crime_id": "C4", "lpa": "Shropshire"},
        {"crime_id": "C5", "lpa": "Nowhere"},
        {"crime_id": "C6", "outcome": "23", "status": "Recorded"},
        {"crime_id": "", "ho_code": "8U"},
        {"crime_id": "C7", "ho_code": "ZZ1", "status": "cancelled", "domestic_abuse": "no"},
    ],
    suspects=[
        {"crime_id": "C1", "nominal_id": "N1", "role": "suspect"},
        {"crime_id": "C1", "nominal_id": "N1", "role": "convicted"},
        {"crime_id": "C2", "nominal_id": "N2", "role": "eliminated"},
        {"crime_id": "C3", "nominal_id": "N3", "role": "suspect"},
        {"crime_id": "C4", "nominal_id": "N4", "role": "suspect"},
        {"crime_id": "C9", "nominal_id": "N9", "role": "suspect"},
        {"crime_id": "C7", "nominal_id": "", "role": "charged"},
        {"crime_id": "C7", "nominal_id": "N7", "role": "witness"},
    ],
    nominals=[
        {"nominal_id": "N1", "birth_year": "1980", "home_lpa": "Shropshire"},
        {"nominal_id": "N2", "birth_year": "19x0"},
        {"nominal_id": "N3", "birth_year": "1990"},
        {"nominal_id": "N3", "birth_year": "1991"},
    ],
    orders=[
        {"order_id": "O1", "nominal_id": "N1", "order_type": "DVPO", "starts_on": "2025-01-01"},
        {
            "order_id": "O2",
            "nominal_id": "N1",
            "order_type": "SHPO",
            "starts_on": "2025-03-01",
            "ends_on": "2025-02-01",
        },
    ],
    lpas=["Shropshire", " Herefordshire"],
)


def as_parquet(csv_folder, parquet_folder, *, typed: bool = False) -> None:
    """Each CSV file of an extract written as Parquet, as text (the values of the CSV exactly)
    or typed (dates, booleans and integers as a warehouse would write them)."""
    parquet_folder.mkdir()
    for name in FILES:
        path = csv_folder / f"{name}.csv"
        if not path.exists():
            continue
        frame = pl.read_csv(path, infer_schema=False, empty_string_is_null=False)
        if typed:
            casts = {
                "recorded_on": pl.Date,
                "committed_on": pl.Date,
                "starts_on": pl.Date,
                "ends_on": pl.Date,
                "outcome": pl.Int16,
                "birth_year": pl.Int32,
            }
            frame = frame.with_columns(
                [
                    pl.when(pl.col(c) == "")
                    .then(None)
                    .otherwise(
                        pl.col(c).str.to_date("%Y-%m-%d") if t == pl.Date else pl.col(c).cast(t)
                    )
                    .alias(c)
                    for c, t in casts.items()
                    if c in frame.columns
                ]
            )
            if "domestic_abuse" in frame.columns:
                frame = frame.with_columns(
                    pl.col("domestic_abuse").str.to_lowercase().is_in(["true", "y", "yes", "1"])
                )
            if "updated_at" in frame.columns:
                frame = frame.with_columns(
                    pl.col("updated_at").str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=True)
                )
        frame.write_parquet(parquet_folder / f"{name}.parquet")


def contents(store) -> dict[str, list]:
    out = {t: sorted(store.frame(f"SELECT * FROM {t}").rows(), key=repr) for t in TABLES}
    out["quarantine"] = store.execute(
        "SELECT file, line, reason, raw::VARCHAR FROM quarantine ORDER BY file, line"
    ).fetchall()
    return out


def ingest(folder):
    store = open_store(":memory:")
    report = ingest_extract(store, folder, Config())
    return store, report


def test_the_same_extract_as_csv_and_as_parquet_gives_the_same_store(tmp_path):
    csv_folder = write_extract(tmp_path / "csv", **MESSY)
    as_parquet(csv_folder, tmp_path / "parquet")
    a, ra = ingest(csv_folder)
    b, rb = ingest(tmp_path / "parquet")
    assert contents(a) == contents(b)
    assert len(contents(a)["quarantine"]) >= 12
    for name in FILES:
        x, y = ra.files[name], rb.files[name]
        assert (x.format, y.format) == ("csv", "parquet")
        assert (x.read, x.accepted, x.quarantined, x.inserted, x.collapsed) == (
            y.read,
            y.accepted,
            y.quarantined,
            y.inserted,
            y.collapsed,
        )
    assert ra.unknown_codes == rb.unknown_codes == {"ZZ1": 1}


VALID = dict(
    crimes=[
        {
            "crime_id": "C1",
            "ho_code": "19C",
            "victim_id": "V1",
            "committed_on": "2024-12-31",
            "updated_at": "2025-01-02T03:04:05",
        },
        {
            "crime_id": "C2",
            "domestic_abuse": "false",
            "outcome": "9",
            "updated_at": "2025-01-02T00:00:00",
        },
        {"crime_id": "C3", "domestic_abuse": "true", "updated_at": "2025-01-02T23:59:59"},
    ],
    suspects=[{"crime_id": "C1", "nominal_id": "N1", "role": "charged"}],
    nominals=[{"nominal_id": "N1", "birth_year": "1980"}, {"nominal_id": "N2"}],
    orders=[
        {"order_id": "O1", "nominal_id": "N1", "order_type": "DVPO", "starts_on": "2025-01-01"},
        {
            "order_id": "O2",
            "nominal_id": "N1",
            "order_type": "RO",
            "starts_on": "2025-01-01",
            "ends_on": "2025-02-01",
        },
    ],
)


def test_typed_parquet_columns_read_as_their_csv_text(tmp_path):
    csv_folder = write_extract(tmp_path / "csv", **VALID)
    as_parquet(csv_folder, tmp_path / "parquet", typed=True)
    schema = pl.read_parquet_schema(tmp_path / "parquet" / "crimes.parquet")
    assert schema["recorded_on"] == pl.Date and schema["domestic_abuse"] == pl.Boolean
    a, _ = ingest(csv_folder)
    b, rb = ingest(tmp_path / "parquet")
    assert contents(b)["quarantine"] == []
    assert contents(a) == contents(b)
    assert b.one("SELECT updated_at FROM crimes WHERE crime_id = 'C1'") == (
        dt.datetime(2025, 1, 2, 3, 4, 5),
    )


def test_parquet_floats_that_are_whole_numbers_are_integers(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    pl.DataFrame(
        {
            "crime_id": ["C1", "C2"],
            "ho_code": ["8N", "8N"],
            "recorded_on": [dt.date(2025, 1, 1)] * 2,
            "committed_on": [None, None],
            "lpa": ["A", "A"],
            "domestic_abuse": [True, False],
            "victim_id": [None, None],
            "status": ["recorded", "recorded"],
            "outcome": [9.0, 9.5],
        },
        schema_overrides={"committed_on": pl.Date, "victim_id": pl.String},
    ).write_parquet(folder / "crimes.parquet")
    pl.DataFrame(
        {"crime_id": [], "nominal_id": [], "role": []},
        schema=dict.fromkeys(["crime_id", "nominal_id", "role"], pl.String),
    ).write_parquet(folder / "suspects.parquet")
    store, _ = ingest(folder)
    assert store.scalar("SELECT outcome FROM crimes") == 9
    assert store.execute("SELECT line, reason FROM quarantine").fetchall() == [
        (3, "outcome '9.5' is not a whole number from 1 to 22")
    ]


@pytest.mark.parametrize("name", FILES)
def test_a_parquet_file_needs_the_required_columns_too(tmp_path, name):
    csv_folder = write_extract(tmp_path / "csv", **VALID, lpas=["Shropshire"])
    as_parquet(csv_folder, tmp_path / "parquet")
    path = tmp_path / "parquet" / f"{name}.parquet"
    frame = pl.read_parquet(path)
    frame.drop(frame.columns[0]).write_parquet(path)
    from harmrank.readers import ExtractUnreadable

    # (lpas has one column: without it the file has no header at all)
    with pytest.raises(
        ExtractUnreadable, match=f"{name}.parquet: (missing required column|the header)"
    ):
        ingest(tmp_path / "parquet")
