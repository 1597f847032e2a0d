"""The whole path a force (or an independent check) takes, through the command line only:
``synth --faults`` → ``ingest`` → ``backfill`` → ``top10 --format json`` and
``history --format json``, compared with the reference model (:mod:`.oracle`) run on the rows
that ingest accepted.

The property tests compare the engine with the model on random extracts through the Python
functions; this one checks what they leave out: a synthetic extract with bad rows among the
good (the model sees only the accepted rows, read back from the CSV files by the line numbers
the quarantine gives), several months scored in one backfill (movement from the month before
in the same pass), every LPA's lists as JSON, and histories as JSON, under each attribution,
date basis and built-in rule, and the same lists and histories over the HTTP API; and a
second, revised extract loaded over the first, with and without ``--replace``, after which
the lists are those of the data as it now stands.
"""

from __future__ import annotations

import csv
import json
import random
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from harmrank.api import ApiSettings, create_app
from harmrank.api.security import mint_token
from harmrank.cli import app as cli_app
from harmrank.config import load_config
from harmrank.store import open_store

with warnings.catch_warnings():  # starlette's notice about httpx versions, not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .oracle import STAGE, SYNTHETIC_SETTINGS, Extract, Settings, month_index, month_name

runner = CliRunner()
MONTHS = ["2025-04", "2025-05", "2025-06"]
TRUE = {"true", "1", "y", "yes"}


def cli(*args: Any) -> str:
    result = runner.invoke(cli_app, [str(a) for a in args])
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


def assert_lists_equal(
    objects: list[dict[str, Any]], expected: dict[tuple[str, str], list[dict]], month: str
) -> set[str]:
    """Every published list of the month equals the model's, entry for entry; returns the
    nominals listed."""
    assert {(o["lpa"], o["list"]) for o in objects} == set(expected)
    listed: set[str] = set()
    for o in objects:
        got = [entry_view(e) for e in o["entries"]]
        assert got == [model_view(e) for e in expected[(o["lpa"], o["list"])]], (
            month,
            o["lpa"],
            o["list"],
        )
        listed.update(e["nominal_id"] for e in got)
    return listed


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
        listed |= assert_lists_equal(objects, model.lists(month, s), month)
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

    # the same lists and histories over the HTTP API (SPEC section 7), read by an offender
    # manager who may see every LPA (no review step is configured: reads use the latest run)
    store = open_store(db)
    app = create_app(ApiSettings(config=load_config(config)), store=store)
    token, _ = mint_token(
        store, user="checker", roles=["offender_manager"], lpas=None, created_by="test"
    )
    headers = {"Authorization": f"Bearer {token}", "X-Justification": "reference-model check"}
    try:
        with TestClient(app) as client:
            for month in MONTHS:
                response = client.get(f"/api/v1/lists/{month}", headers=headers)
                assert response.status_code == 200, response.text
                objects = json.loads(response.text, parse_float=Decimal)
                assert_lists_equal(objects, model.lists(month, s), month)
            for nominal in sample[:10]:
                response = client.get(
                    f"/api/v1/nominals/{nominal}/history",
                    params={"from": MONTHS[0], "to": MONTHS[-1]},
                    headers=headers,
                )
                assert response.status_code == 200, response.text
                want = [r for m in MONTHS if (r := model.history_row(nominal, m, s)) is not None]
                got = json.loads(response.text, parse_float=Decimal)
                assert got == {"nominal_id": nominal, "months": want}, nominal
    finally:
        app.state.harmrank.close()
        store.close()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(rows)


def collapsed(links: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """SPEC section 1: repeated (crime_id, nominal_id) rows in one file keep the latest stage."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for lk in links:
        key = (lk["crime_id"], lk["nominal_id"])
        if key not in out or STAGE[lk["role"]] > STAGE[out[key]["role"]]:
            out[key] = lk
    return out


def revised(first: Path, second: Path, seed: int) -> None:
    """A later extract of the same force: crimes reclassified, cancelled, moved, re-dated and
    dropped; links whose role changed, dropped and added (new nominals among them); new
    crimes; nominals whose birth year or home LPA changed."""
    pick = random.Random(seed)
    header, crimes = read_csv(first / "crimes.csv")
    lpas = sorted({c["lpa"] for c in crimes})
    kept, dropped = [], set()
    for c in crimes:
        c = dict(c)
        roll = pick.random()
        if roll < 0.05:
            c["ho_code"] = pick.choice(["19C", "19D", "8N", "8U", "105A", "28A", "17A", "99Z"])
        elif roll < 0.08:
            c["status"] = pick.choice(["cancelled", "transferred"])
        elif roll < 0.10:
            c["lpa"] = pick.choice(lpas)
        elif roll < 0.12:
            c["recorded_on"] = pick.choice(["2025-06-30", "2024-07-01", "2022-06-30", "2025-05-31"])
        elif roll < 0.14:
            c["victim_id"] = pick.choice(["", "V-REVISED"])
        elif roll < 0.16:
            c["domestic_abuse"] = "false" if c["domestic_abuse"] == "true" else "true"
        elif roll < 0.24:
            dropped.add(c["crime_id"])
            continue
        kept.append(c)
    for i in range(60):  # new crimes, each linked below
        kept.append(
            {
                **pick.choice(kept),
                "crime_id": f"NEW{i:04d}",
                "recorded_on": "2025-06-15",
                "ho_code": pick.choice(["19C", "8N", "8U"]),
            }  # fmt: skip
        )
    write_csv(second / "crimes.csv", header, kept)

    header, links = read_csv(first / "suspects.csv")
    nominal_ids = sorted({lk["nominal_id"] for lk in links})
    out = []
    for lk in links:
        if lk["crime_id"] in dropped:
            continue
        roll = pick.random()
        if roll < 0.06:
            lk = {**lk, "role": pick.choice(["eliminated", "charged", "convicted", "suspect"])}
        elif roll < 0.10:
            continue
        out.append(lk)
    new_crimes = [c["crime_id"] for c in kept if c["crime_id"].startswith("NEW")]
    for i, cid in enumerate(new_crimes):
        nominal = f"NEWNOMINAL{i % 7}" if i % 3 == 0 else pick.choice(nominal_ids)
        out.append({"crime_id": cid, "nominal_id": nominal, "role": "suspect"})
    for _ in range(40):  # an existing nominal newly linked to an existing crime
        out.append({"crime_id": pick.choice(kept)["crime_id"],
                    "nominal_id": pick.choice(nominal_ids), "role": "suspect"})  # fmt: skip
    write_csv(second / "suspects.csv", header, out)

    header, nominals = read_csv(first / "nominals.csv")
    for n in nominals:
        roll = pick.random()
        if roll < 0.05:
            n["home_lpa"] = pick.choice(["", *lpas])
        elif roll < 0.10:
            n["birth_year"] = pick.choice(["", "2012", "1980"])
    write_csv(second / "nominals.csv", header, nominals)
    for name in ("lpas", "orders"):
        write_csv(second / f"{name}.csv", *read_csv(first / f"{name}.csv"))


@pytest.mark.slow
@pytest.mark.parametrize("replace", [False, True])
def test_lists_after_a_revised_extract_equal_the_reference_model_on_the_current_data(
    tmp_path: Path, replace: bool
) -> None:
    """SPEC section 1, Updates: a later extract replaces what it changes (crimes by crime_id,
    links by crime and nominal); without --replace nothing is ended, with it what the extract
    no longer holds is. Scoring reads the data as it now stands, integer keys and all."""
    first, second, db = tmp_path / "a", tmp_path / "b", tmp_path / "h.duckdb"
    config = tmp_path / "config.toml"
    config.write_text(
        '[scoring]\nattribution = "home"\nrepeat_rule = "matac-serial-da"\n', encoding="utf-8"
    )
    common = ["--db", db, "--config", config]
    cli("synth", "--preset", "west-mercia", "--years", "3", "--seed", "13", "--out", first,
        "--end-month", MONTHS[-1], "--scale", "0.06")  # fmt: skip
    revised(first, second, seed=3)
    cli("ingest", first, *common)
    cli("run", "--month", MONTHS[-1], *common)  # a run on the first extract: keys, caches
    report = json.loads(
        cli("ingest", second, "--format", "json", *(["--replace"] if replace else []), *common)
    )
    assert all(f["quarantined"] == 0 for f in report["files"].values()), report
    assert report["files"]["crimes"]["updated"] > 0 and report["files"]["suspects"]["inserted"] > 0
    for name in ("crimes", "suspects"):  # what the second extract no longer holds
        assert (report["files"][name]["ended"] > 0) is replace, name
    cli("backfill", "--from", MONTHS[0], "--to", MONTHS[-1], *common)

    def rows(folder: Path, name: str) -> list[dict[str, str]]:
        return read_csv(folder / f"{name}.csv")[1]

    if replace:
        crimes, links = rows(second, "crimes"), list(collapsed(rows(second, "suspects")).values())
        nominals = rows(second, "nominals")
    else:
        crimes = list(
            {c["crime_id"]: c for c in rows(first, "crimes") + rows(second, "crimes")}.values()
        )
        merged = collapsed(rows(first, "suspects")) | collapsed(rows(second, "suspects"))
        links = list(merged.values())
        nominals = list(
            {
                n["nominal_id"]: n for n in rows(first, "nominals") + rows(second, "nominals")
            }.values()
        )
    crimes = [{**c, "domestic_abuse": c["domestic_abuse"].lower()} for c in crimes]
    model = Extract(crimes, links, nominals, [r["lpa"] for r in rows(second, "lpas")])
    s = Settings(attribution="home", repeat_rule="matac-serial-da")
    for month in MONTHS:
        objects = json.loads(
            cli("top10", "--month", month, "--format", "json", *common), parse_float=Decimal
        )
        expected = model.lists(month, s)
        for o in objects:
            got = [entry_view(e) for e in o["entries"]]
            want = [model_view(e) for e in expected[(o["lpa"], o["list"])]]
            assert got == want, (replace, month, o["lpa"], o["list"])
    new = json.loads(
        cli("history", "NEWNOMINAL0", "--format", "json", "--justification", "check", *common),
        parse_float=Decimal,
    )
    want = [r for m in MONTHS if (r := model.history_row("NEWNOMINAL0", m, s)) is not None]
    assert new["months"] == want and want
