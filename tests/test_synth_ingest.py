"""Synthetic extracts through the real ingest: a clean extract loads whole; a faulty one is
quarantined exactly as its manifest says (SPEC sections 1, 6 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.store import open_store
from harmrank.synthetic_data import write_extract

END = "2026-10"
FILES = ("crimes", "suspects", "nominals", "orders", "lpas")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("preset", ["west-mercia", "national"])
def test_a_clean_extract_ingests_with_nothing_quarantined(
    tmp_path: Path, fmt: str, preset: str
) -> None:
    scale = 0.2 if preset == "west-mercia" else 0.005
    manifest = write_extract(
        tmp_path, preset, 2, 8, end_month=END, fmt=fmt, progress=False, scale=scale
    )
    store = open_store(":memory:")
    report = ingest_extract(store, tmp_path, Config())
    for name in FILES:
        f = report.files[name]
        assert f.read == manifest.rows[name], name
        assert f.quarantined == 0, name
        assert f.accepted == f.read, name
    # duplicate (crime, nominal) link rows are in the extract, and collapse instead of failing
    assert report.files["suspects"].collapsed > 0


@pytest.mark.parametrize(
    ("preset", "fmt", "rate", "scale"),
    [
        ("west-mercia", "csv", 0.02, 0.3),
        ("west-mercia", "csv", 0.25, 0.1),
        ("west-mercia", "parquet", 0.05, 0.2),
        ("national", "csv", 0.03, 0.005),
        ("national", "parquet", 0.3, 0.003),
    ],
)
def test_ingest_quarantines_exactly_the_manifests_faults(
    tmp_path: Path, preset: str, fmt: str, rate: float, scale: float
) -> None:
    manifest = write_extract(
        tmp_path, preset, 2, 21, end_month=END, faults=rate, fmt=fmt, progress=False, scale=scale
    )
    assert (
        manifest.faults["crimes"] > 0
        and manifest.faults["suspects"] > manifest.faults["crimes"] // 2
    )
    store = open_store(":memory:")
    report = ingest_extract(store, tmp_path, Config())
    got = {name: report.files[name].quarantined for name in FILES}
    assert got == manifest.faults
    for name in FILES:
        f = report.files[name]
        assert f.read == manifest.rows[name], name
        assert f.read == f.accepted + f.quarantined, name
    if rate >= 0.25:  # a high rate also puts empty names into the lpas file
        assert manifest.faults["lpas"] > 0
