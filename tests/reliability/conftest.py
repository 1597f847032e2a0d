"""Fixtures of the reliability tests: two small synthetic extracts (a first one and a revision of
it with reclassified, cancelled, missing, new and broken rows) and scored databases built
from them through the real ingest and runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.scoring import run_month
from harmrank.store import open_store
from harmrank.synthetic_data import write_extract

END = "2025-06"


def _revise(first: Path, out: Path) -> Path:
    """A later extract of the same force: every 7th crime reclassified as a rape (19C), every
    11th cancelled, every 13th missing (a ``--replace`` load ends it and its links), 20 new
    crimes in the last month linked to known nominals, a revised birth year, and three broken
    rows (a bad date, a crime id twice, an orphan link) for the quarantine."""
    out.mkdir(parents=True)
    crimes = pl.read_csv(first / "crimes.csv", infer_schema=False).with_row_index("i")
    suspects = pl.read_csv(first / "suspects.csv", infer_schema=False)
    i = pl.col("i")
    crimes = crimes.with_columns(
        pl.when(i % 7 == 3).then(pl.lit("19C")).otherwise(pl.col("ho_code")).alias("ho_code"),
        pl.when(i % 11 == 5).then(pl.lit("cancelled")).otherwise(pl.col("status")).alias("status"),
    )
    gone = crimes.filter(i % 13 == 0).get_column("crime_id")
    new = (
        crimes.filter(i % 13 != 0)
        .head(20)
        .with_columns(
            ("X" + pl.col("crime_id")).alias("crime_id"),
            pl.lit("2025-06-20").alias("recorded_on"),
            pl.lit("19C").alias("ho_code"),
            pl.lit("recorded").alias("status"),
        )
    )
    new_links = suspects.join(
        new.select(
            pl.col("crime_id").str.slice(1).alias("crime_id"), pl.col("crime_id").alias("x")
        ),
        on="crime_id",
    ).select(pl.col("x").alias("crime_id"), "nominal_id", "role")
    crimes = pl.concat([crimes.filter(i % 13 != 0), new]).drop("i")
    suspects = pl.concat([suspects.filter(~pl.col("crime_id").is_in(gone.implode())), new_links])
    crimes.write_csv(out / "crimes.csv")
    suspects.write_csv(out / "suspects.csv")
    with (out / "crimes.csv").open("a", encoding="utf-8") as f:
        f.write("BAD1,19C,2025-02-30,,Shropshire,true,,recorded,\n")
        f.write("DUP1,8N,2025-06-01,,Shropshire,true,,recorded,\n")
        f.write("DUP1,8N,2025-06-02,,Shropshire,true,,recorded,\n")
    with (out / "suspects.csv").open("a", encoding="utf-8") as f:
        f.write("NOSUCHCRIME,N0000000001,suspect\n")
    nominals = pl.read_csv(first / "nominals.csv", infer_schema=False).with_row_index("i")
    nominals = nominals.with_columns(
        pl.when(pl.col("i") == 0).then(pl.lit("1970")).otherwise("birth_year").alias("birth_year")
    ).drop("i")
    nominals.write_csv(out / "nominals.csv")
    for name in ("orders.csv", "lpas.csv"):
        shutil.copy(first / name, out / name)
    return out


@pytest.fixture(scope="session")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(first, revised): a West Mercia extract of two years to 2025-06 at a small scale
    (about 2,900 crimes), and its revision."""
    root = tmp_path_factory.mktemp("reliability-extracts")
    first = root / "first"
    write_extract(first, "west-mercia", 2, 7, end_month=END, scale=0.05, progress=False)
    return first, _revise(first, root / "revised")


@pytest.fixture(scope="session")
def base_dbs(
    extracts: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Databases to start each command from (closed, so the files are complete):

    - ``ingest``: the first extract ingested and 2025-05 run (the revision is then ingested);
    - ``run``: both extracts ingested (2025-06 is then run);
    - ``backfill``: the first extract ingested and 2025-06 run (a backfill is then made).
    """
    first, revised = extracts
    root = tmp_path_factory.mktemp("reliability-dbs")
    out = {}
    for name in ("ingest", "run", "backfill"):
        db = root / f"{name}.duckdb"
        with open_store(db) as store:
            ingest_extract(store, first, Config())
            if name == "run":
                ingest_extract(store, revised, Config(), replace=True)
            if name == "ingest":
                run_month(store, "2025-05", Config())
            if name == "backfill":
                run_month(store, END, Config())
        out[name] = db
    return out
