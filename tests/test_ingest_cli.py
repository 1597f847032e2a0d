"""`harmrank ingest` and `harmrank quarantine` through the real command line (SPEC section 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmrank.cli import app
from harmrank.testing import write_extract

EXAMPLE = Path(str(resources.files("harmrank").joinpath("examples", "small")))
SPEC_KEYS = {"read", "accepted", "quarantined", "inserted", "updated", "unchanged"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_ingest_json_has_the_shape_of_spec_section_6(tmp_path, runner):
    db = tmp_path / "h.duckdb"
    result = runner.invoke(app, ["ingest", str(EXAMPLE), "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["files"]) == {"crimes", "suspects", "nominals", "orders", "lpas"}
    for name, counts in report["files"].items():
        assert SPEC_KEYS <= set(counts), name
        assert all(isinstance(counts[k], int) for k in SPEC_KEYS)
        assert counts["read"] == counts["accepted"] + counts["quarantined"], name
    crimes = report["files"]["crimes"]
    assert (crimes["read"], crimes["accepted"], crimes["quarantined"]) == (15, 10, 5)
    assert crimes["inserted"] == 10
    assert report["files"]["nominals"]["ignored_columns"] == ["sex"]

    # the second time, everything is unchanged
    again = runner.invoke(app, ["ingest", str(EXAMPLE), "--format", "json", "--db", str(db)])
    assert again.exit_code == 0, again.output
    for name, counts in json.loads(again.stdout)["files"].items():
        assert counts["inserted"] == counts["updated"] == 0, name
        assert counts["read"] == counts["accepted"] + counts["quarantined"], name


def test_ingest_json_through_the_installed_console_script(tmp_path):
    script = Path(sys.executable).with_name("harmrank")
    if not script.exists():
        pytest.skip("the harmrank console script is not installed next to this Python")
    done = subprocess.run(
        [
            str(script),
            "ingest",
            str(EXAMPLE),
            "--format",
            "json",
            "--db",
            str(tmp_path / "h.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert all(c["read"] == c["accepted"] + c["quarantined"] for c in files.values())


def test_ingest_table_prints_the_reconciliation_and_what_it_ignored(tmp_path, runner):
    folder = write_extract(
        tmp_path / "e",
        crimes=[{"crime_id": "C1", "ho_code": "ZZ9"}, {"crime_id": "C2", "status": "x"}],
    )
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(tmp_path / "h.duckdb")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    # off a terminal the table is not cut to 80 columns: every file and count is readable
    for word in ("accepted", "quarantined", "unchanged", "crimes", "suspects"):
        assert word in out
    assert any(
        line.split("│")[1:4] == [" crimes   ", "    2 ", "        1 "] for line in out.splitlines()
    )
    assert "ZZ9 (1)" in out  # unknown codes are reported
    assert "harmrank quarantine --load 1" in out


def test_a_refused_ingest_exits_non_zero_with_a_clear_message(tmp_path, runner, write_files):
    db = tmp_path / "h.duckdb"
    folder = write_files(crimes="crime_id,ho_code\nC1,8N\n", suspects="crime_id,nominal_id,role\n")
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db)])
    assert result.exit_code == 2
    assert "ingest refused, nothing was written" in result.stderr
    assert "missing required columns recorded_on" in result.stderr
    assert result.stdout == ""


def test_quarantine_lists_rows_with_line_reason_and_raw_values(tmp_path, runner):
    db = tmp_path / "h.duckdb"
    assert runner.invoke(app, ["ingest", str(EXAMPLE), "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["quarantine", "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 11
    first = rows[0]
    assert set(first) == {"load_id", "file", "line", "reason", "raw"}
    assert (first["file"], first["line"]) == ("crimes", 12)
    assert first["raw"]["crime_id"] == "C0011"

    only = runner.invoke(
        app,
        ["quarantine", "--file", "suspects", "--load", "1", "--format", "json", "--db", str(db)],
    )
    assert {r["file"] for r in json.loads(only.stdout)} == {"suspects"}
    none = runner.invoke(app, ["quarantine", "--load", "2", "--format", "json", "--db", str(db)])
    assert json.loads(none.stdout) == []

    as_csv = runner.invoke(app, ["quarantine", "--format", "csv", "--db", str(db)])
    assert as_csv.stdout.splitlines()[0] == "load_id,file,line,reason,raw"
    table = runner.invoke(app, ["quarantine", "--db", str(db)])
    assert table.exit_code == 0 and "Quarantine (11 rows)" in table.stdout
