"""The whole path a force (or an independent check) takes, through the command line only:
``synth --faults`` → ``ingest`` → ``backfill`` → ``top10 --format json`` and
``history --format json``, compared with the reference model (:mod:`.oracle`) run on the rows
that ingest accepted.

The property tests compare the engine with the model on random extracts through the Python
functions; this one checks what they leave out: a synthetic extract with bad rows among the
good (the model sees only the accepted rows, read back from the CSV files by the line numbers
the quarantine gives), several months scored in one backfill (movement from the month before
in the same pass), every LPA's lists as JSON, and histories as JSON, under each attribution,
date basis and built-in rule.
"""

from __future__ import annotations

import csv
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from harmrank.cli import app

from .oracle import SYNTHETIC_SETTINGS, Extract, Settings, month_index, month_name

runner = CliRunner()
MONTHS = ["2025-04", "2025-05", "2025-06"]
TRUE = {"true", "1", "y", "yes"}


def cli(*args: Any) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def accepted_rows(folder: Path, name: str, quarantined: set[int]) -> list[dict[str, str]]:
    """The rows of NAME.csv whose physical first line is not in the quarantine."""
    path = folder / f"{name}.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        out, before = [], reader.line_num
        for row in reader:
            start, before = before + 1, reader.line_num
            if row and start not in quarantined:
                out.append(dict(zip(header, row, strict=True)))
    return out


def model_of(folder: Path, db: Path) -> Extract:
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.execute("SELECT file, line FROM quarantine").fetchall()
    lines: dict[str, set[int]] = {}
    for file, line in q:
        lines.setdefault(file, set()).add(line)

    def rows(name: str) -> list[dict[str, str]]:
        return accepted_rows(folder, name, lines.get(name, set()))

    crimes = rows("crimes")
    for c in crimes:
        c["domestic_abuse"] = "true" if c["domestic_abuse"].strip().lower() in TRUE else "false"
    lpas = [r["lpa"].strip() for r in rows("lpas")]
    return Extract(crimes, rows("suspects"), rows("nominals"), lpas or None)


def entry_view(e: dict[str, Any]) -> dict[str, Any]:
    e = {k: v for k, v in e.items() if k not in ("orders", "reasons")}
    e["crimes"] = [c["crime_id"] for c in e["crimes"]]
    return e


def model_view(e: dict[str, Any]) -> dict[str, Any]:
    return {**e, "last_recorded_on": e["last_recorded_on"].isoformat()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attribution", "basis", "rule"),
    SYNTHETIC_SETTINGS,
)
def test_command_line_lists_and_histories_equal_the_reference_model(
    tmp_path: Path, attribution: str, basis: str, rule: str
) -> None:
    folder, db, config = tmp_path / "extract", tmp_path / "h.duckdb", tmp_path / "config.toml"
    config.write_text(
        "[scoring]\n"
        f'attribution = "{attribution}"\n'
        f'date_basis = "{basis}"\n'
        f'repeat_rule = "{rule}"\n',
        encoding="utf-8",
    )
    common = ["--db", db, "--config", config]
    cli("synth", "--preset", "west-mercia", "--years", "3", "--seed", "11", "--out", folder,
        "--end-month", MONTHS[-1], "--faults", "0.02", "--scale", "0.06")  # fmt: skip
    report = json.loads(cli("ingest", folder, "--format", "json", *common))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name, counts in report["files"].items():
        assert counts["read"] == counts["accepted"] + counts["quarantined"], name
        assert counts["quarantined"] == manifest["faults"].get(name, 0), name
    assert report["files"]["crimes"]["quarantined"] > 0  # the model must leave rows out
    cli("backfill", "--from", MONTHS[0], "--to", MONTHS[-1], *common)

    model = model_of(folder, db)
    s = Settings(attribution=attribution, date_basis=basis, repeat_rule=rule)
    listed: set[str] = set()  # every nominal on a list, repeat lists included
    for month in MONTHS:
        objects = json.loads(
            cli("top10", "--month", month, "--format", "json", *common),
            parse_float=Decimal,
        )
        expected = model.lists(month, s)
        assert {(o["lpa"], o["list"]) for o in objects} == set(expected)
        for o in objects:
            got = [entry_view(e) for e in o["entries"]]
            want = [model_view(e) for e in expected[(o["lpa"], o["list"])]]
            assert got == want, (month, o["lpa"], o["list"])
            listed.update(e["nominal_id"] for e in got)
        assert any(o["entries"] for o in objects if o["list"] == "repeat")

    # histories: a sample of the listed nominals and of the others the model scores
    pick = random.Random(5)
    scored = sorted(set().union(*(model.scores(m, s) for m in MONTHS)) - listed)
    sample = pick.sample(sorted(listed), 20) + pick.sample(scored, min(10, len(scored)))
    for nominal in sample:
        got = json.loads(
            cli(
                "history",
                nominal,
                "--from",
                MONTHS[0],
                "--to",
                MONTHS[-1],
                "--format",
                "json",
                "--justification",
                "reference-model check",
                *common,
            ),  # fmt: skip
            parse_float=Decimal,
        )
        want = [row for m in MONTHS if (row := model.history_row(nominal, m, s)) is not None]
        assert got == {"nominal_id": nominal, "months": want}, nominal
    # the month before the first is scored for movement only, never stored
    before = month_name(month_index(MONTHS[0]) - 1)
    runs = json.loads(cli("runs", "--format", "json", *common))
    assert sorted(r["month"] for r in runs) == MONTHS and before not in {r["month"] for r in runs}
