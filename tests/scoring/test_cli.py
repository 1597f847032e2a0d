"""SPEC section 6, the command line: the exact JSON shapes of ``top10``, ``history`` and
``runs``, and clear failures (a bad rule file, no approved run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmrank.cli import app
from harmrank.testing import write_extract

from .scenario import crime, link, w

H, S = "Herefordshire", "Shropshire"
LIST_KEYS = ["month", "lpa", "list", "run_id", "status", "window", "notice", "entries"]
ENTRY_KEYS = [
    "rank",
    "nominal_id",
    "harm",
    "frequency",
    "victims",
    "last_recorded_on",
    "lpa",
    "repeat_suspect",
    "movement",
    "crimes",
    "orders",
]
REPEAT_KEYS = [
    "rank",
    "nominal_id",
    "lpa",
    "qualifying",
    "victims",
    "last_recorded_on",
    "crimes",
    "reasons",
    "movement",
]
CRIME_KEYS = ["crime_id", "ho_code", "offence", "recorded_on", "lpa", "weight"]
HISTORY_KEYS = [
    "month",
    "harm",
    "frequency",
    "victims",
    "lpa",
    "harm_rank",
    "frequency_rank",
    "on_harm_list",
    "on_frequency_list",
    "repeat_suspect",
]
NOTICE = "Decision support for human review; not a finding of guilt."

runner = CliRunner()


def invoke(*args: str, ok: bool = True):
    result = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    folder = write_extract(
        root / "extract",
        crimes=[
            crime("C1", "19C", "2025-06-12", lpa=S, victim="V1", da=False),
            crime("C2", "19D", "2025-02-01", lpa=S, victim="V2", da=False),
            crime("C3", "8N", "2025-05-01", lpa=H, victim="V3"),
            crime("C4", "8U", "2025-04-01", lpa=H, da=False),
        ],
        suspects=[
            link("C1", "N0001"),
            link("C2", "N0001"),
            link("C3", "N0002"),
            link("C4", "N0003"),
        ],
        orders=[
            {
                "order_id": "O1",
                "nominal_id": "N0001",
                "order_type": "SHPO",
                "starts_on": "2024-01-10",
                "ends_on": "",
            }
        ],
        lpas=[H, S],
    )
    path = root / "harmrank.duckdb"
    invoke("ingest", folder, "--db", path)
    invoke("backfill", "--from", "2025-05", "--to", "2025-06", "--db", path)
    return path


def top10(db, *args):
    return invoke("top10", "--month", "2025-06", "--format", "json", "--db", db, *args).stdout


def test_top10_one_list_object_when_lpa_and_list_are_given(db):
    obj = json.loads(top10(db, "--lpa", S, "--list", "harm"))
    assert isinstance(obj, dict)
    assert list(obj) == LIST_KEYS
    assert (obj["month"], obj["lpa"], obj["list"], obj["status"]) == ("2025-06", S, "harm", "draft")
    assert obj["window"] == {"start": "2024-07-01", "end": "2025-06-30"}
    assert obj["notice"] == NOTICE
    (e,) = obj["entries"]
    assert list(e) == ENTRY_KEYS
    assert e["rank"] == 1 and e["nominal_id"] == "N0001" and e["lpa"] == S
    assert e["frequency"] == 2 and e["victims"] == 2
    assert e["last_recorded_on"] == "2025-06-12"
    assert e["repeat_suspect"] is True and e["movement"] == 0
    assert [list(c) for c in e["crimes"]] == [CRIME_KEYS, CRIME_KEYS]
    assert e["crimes"][0]["crime_id"] == "C1" and e["crimes"][0]["recorded_on"] == "2025-06-12"
    assert e["orders"] == [{"order_type": "SHPO", "starts_on": "2024-01-10", "ends_on": None}]


def test_top10_numbers_carry_six_places(db):
    text = top10(db, "--lpa", S, "--list", "harm")
    raw = json.loads(text, parse_float=str)
    e = raw["entries"][0]
    assert e["harm"] == f"{w('19C', '19D'):f}"
    assert e["crimes"][0]["weight"] == "2952.940993"
    assert isinstance(json.loads(text)["entries"][0]["harm"], float)  # a number, not a string
    text_h = top10(db, "--lpa", H, "--list", "frequency")
    harms = [e["harm"] for e in json.loads(text_h, parse_float=str)["entries"]]
    assert "0.000000" in harms


def test_top10_array_every_lpa_then_all_each_harm_frequency_repeat(db):
    arr = json.loads(top10(db))
    assert [(o["lpa"], o["list"]) for o in arr] == [
        (lpa, k) for lpa in (H, S, "ALL") for k in ("harm", "frequency", "repeat")
    ]
    for o in arr:
        assert list(o) == LIST_KEYS
    repeat = next(o for o in arr if o["lpa"] == "ALL" and o["list"] == "repeat")
    (r,) = repeat["entries"]
    assert [k for k in REPEAT_KEYS if k in r] == REPEAT_KEYS
    assert (r["nominal_id"], r["lpa"], r["qualifying"], r["victims"]) == ("N0001", S, 2, 2)
    assert r["movement"] == "new"  # C1 (June) makes the second RASSO crime


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--lpa", H), [(H, "harm"), (H, "frequency"), (H, "repeat")]),
        (("--list", "frequency"), [(H, "frequency"), (S, "frequency"), ("ALL", "frequency")]),
        (("--lpa", "ALL"), [("ALL", "harm"), ("ALL", "frequency"), ("ALL", "repeat")]),
    ],
)
def test_top10_array_filtered(db, args, expected):
    arr = json.loads(top10(db, *args))
    assert isinstance(arr, list)
    assert [(o["lpa"], o["list"]) for o in arr] == expected


def test_top10_harm_list_leaves_out_harm_zero(db):
    harm = json.loads(top10(db, "--lpa", H, "--list", "harm"))
    freq = json.loads(top10(db, "--lpa", H, "--list", "frequency"))
    assert [e["nominal_id"] for e in harm["entries"]] == ["N0002"]
    assert [e["nominal_id"] for e in freq["entries"]] == ["N0002", "N0003"]


def test_history_json(db):
    out = invoke("history", "N0003", "--format", "json", "--db", db).stdout
    obj = json.loads(out, parse_float=str)
    assert list(obj) == ["nominal_id", "months"]
    assert obj["nominal_id"] == "N0003"
    assert [m["month"] for m in obj["months"]] == ["2025-05", "2025-06"]
    for m in obj["months"]:
        assert list(m) == HISTORY_KEYS
    june = obj["months"][1]
    assert june == {
        "month": "2025-06",
        "harm": "0.000000",
        "frequency": 1,
        "victims": 0,
        "lpa": H,
        "harm_rank": None,
        "frequency_rank": 2,
        "on_harm_list": False,
        "on_frequency_list": True,
        "repeat_suspect": False,
    }


def test_history_json_from_to(db):
    out = invoke(
        "history", "N0001", "--from", "2025-06", "--to", "2025-06", "--format", "json", "--db", db
    )
    assert [m["month"] for m in json.loads(out.stdout)["months"]] == ["2025-06"]


def test_runs_json(db):
    arr = json.loads(invoke("runs", "--format", "json", "--db", db).stdout)
    assert isinstance(arr, list) and len(arr) == 2
    for r in arr:
        assert {"run_id", "month", "status"} <= set(r)
        assert r["status"] == "draft"
    assert sorted(r["month"] for r in arr) == ["2025-05", "2025-06"]


def test_review_required_and_four_eyes(tmp_path):
    folder = write_extract(tmp_path / "x", crimes=[crime("C1", "19C")], suspects=[link("C1", "N1")])
    conf = tmp_path / "harmrank.toml"
    conf.write_text("[review]\nrequired = true\n", encoding="utf-8")
    path = tmp_path / "h.duckdb"
    invoke("ingest", folder, "--db", path)
    invoke("run", "--month", "2025-06", "--db", path, "--config", conf)
    r = invoke(
        "top10", "--month", "2025-06", "--format", "json", "--db", path, "--config", conf, ok=False
    )
    assert r.exit_code != 0
    assert "approved" in r.stderr
    (run,) = json.loads(invoke("runs", "--format", "json", "--db", path).stdout)
    starter = run["created_by"]
    r = invoke("runs", "approve", run["run_id"], "--by", starter, "--db", path, ok=False)
    assert r.exit_code != 0 and starter in r.stderr
    invoke("runs", "approve", run["run_id"], "--by", starter + "-supervisor", "--db", path)
    obj = json.loads(
        invoke(
            "top10",
            "--month",
            "2025-06",
            "--lpa",
            "ALL",
            "--list",
            "harm",
            "--format",
            "json",
            "--db",
            path,
            "--config",
            conf,
        ).stdout
    )
    assert obj["status"] == "approved" and obj["run_id"] == run["run_id"]


def test_a_bad_rule_file_fails_the_run_clearly(tmp_path):
    folder = write_extract(tmp_path / "x", crimes=[crime("C1", "19C")], suspects=[link("C1", "N1")])
    (tmp_path / "rule.toml").write_text('name = "x"\nversion = "1"\n', encoding="utf-8")
    conf = tmp_path / "harmrank.toml"
    conf.write_text('[scoring]\nrepeat_rule = "rule.toml"\n', encoding="utf-8")
    path = tmp_path / "h.duckdb"
    invoke("ingest", folder, "--db", path)
    r = invoke("run", "--month", "2025-06", "--db", path, "--config", conf, ok=False)
    assert r.exit_code == 2
    assert "rule.toml" in r.stderr and "description" in r.stderr
    assert json.loads(invoke("runs", "--format", "json", "--db", path).stdout) == []


def _commands(command, path=()):
    """Every command a user can run, with its words: groups that run on their own count too."""
    if hasattr(command, "commands"):  # a group (typer carries its own copy of click)
        if command.invoke_without_command:
            yield path, command
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def test_every_command_takes_db_and_config():
    """SPEC section 6: "All commands take --db PATH ... and --config FILE"."""
    import typer.main

    seen = []
    for path, command in _commands(typer.main.get_command(app)):
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {"--db", "--config"} <= options, " ".join(path)
        seen.append(" ".join(path))
    assert {"runs", "runs approve", "rules list", "rules show", "quarantine"} <= set(seen)


RULE_FILE = """
name = "npcc-repeat-2025"
version = "1"
description = "The force's adopted definition"
offences = "rasso"
include_domestic_abuse = false
min_crimes = 3
min_distinct_victims = 1
window_months = 36
roles = ["suspect", "charged", "convicted"]
"""


def test_rules_list_and_show_mark_the_rule_the_configuration_uses(tmp_path):
    (tmp_path / "npcc.toml").write_text(RULE_FILE, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[scoring]\nrepeat_rule = "npcc.toml"\n', encoding="utf-8")

    listed = invoke("rules", "list", "--config", config).stdout
    rows = {line.split("│")[1].strip(): line for line in listed.splitlines() if "│" in line}
    assert "yes" in rows["npcc-repeat-2025"]
    assert "yes" not in rows["rasso-repeat-interim"]
    shown = json.loads(invoke("rules", "show", "npcc-repeat-2025", "--config", config).stdout)
    assert (shown["kind"], shown["active"], shown["definition"]["min_crimes"]) == ("file", True, 3)
    interim = json.loads(invoke("rules", "show", "rasso-repeat-interim", "--config", config).stdout)
    assert interim["active"] is False

    # without a configuration the built-in default is the one in use, and the file is unknown
    default = json.loads(invoke("rules", "show", "rasso-repeat-interim").stdout)
    assert default["active"] is True
    unknown = invoke("rules", "show", "npcc-repeat-2025", ok=False)
    assert unknown.exit_code == 2 and "no rule 'npcc-repeat-2025'" in unknown.output


def test_runs_checks_its_configuration(db, tmp_path):
    missing = invoke(
        "runs", "--format", "json", "--db", db, "--config", tmp_path / "no.toml", ok=False
    )
    assert missing.exit_code != 0
    good = tmp_path / "c.toml"
    good.write_text("[review]\nrequired = true\n", encoding="utf-8")
    runs = json.loads(invoke("runs", "--format", "json", "--db", db, "--config", good).stdout)
    assert sorted(r["month"] for r in runs) == ["2025-05", "2025-06"]
