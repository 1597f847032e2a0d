"""The configuration file (SPEC section 6): defaults of SPEC section 3, and bad files reported
with the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmrank.config import Config, ConfigError, config_from_dict, load_config

SPEC_EXAMPLE = """
[force]
name = "West Mercia"
lpas = ["Herefordshire", "North Worcestershire", "Shropshire", "South Worcestershire", "Telford & Wrekin"]

[scoring]
window_months = 12
date_basis = "recorded_on"          # or "committed_on"
top_n = 10
attribution = "principal"           # "home", "presence"
weights = ["ons_css_2019"]          # names or CSV paths (ho_code,weight); later ones override earlier
offence_sets = {}                   # e.g. { vawg = "my_vawg_codes.csv" } to override a named set
repeat_rule = "rasso-repeat-interim"  # a registered name, or the path of a rule file

[review]
required = false

[api]
require_justification = true        # tokens live in the database: `harmrank token create`
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "harmrank.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_the_defaults_are_those_of_spec_section_3():
    config = load_config(None)
    assert config.scoring.window_months == 12
    assert config.scoring.date_basis == "recorded_on"
    assert config.scoring.top_n == 10
    assert config.scoring.attribution == "principal"
    assert config.scoring.weights == ["ons_css_2019"]
    assert config.scoring.offence_sets == {}
    assert config.scoring.repeat_rule == "rasso-repeat-interim"
    assert config.review.required is False
    assert config.api.require_justification is True
    assert config.force.lpas is None
    assert config == Config()


def test_an_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")).provenance() == Config().provenance()


def test_the_example_of_spec_section_6_reads_as_written(tmp_path):
    config = load_config(write(tmp_path, SPEC_EXAMPLE))
    assert config.force.name == "West Mercia"
    assert config.force.lpas == [
        "Herefordshire",
        "North Worcestershire",
        "Shropshire",
        "South Worcestershire",
        "Telford & Wrekin",
    ]
    assert config.scoring == Config().scoring


def test_every_key_can_be_set(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            [scoring]
            window_months = 6
            date_basis = "committed_on"
            top_n = 20
            attribution = "presence"
            weights = ["ons_css_2019", "force.csv"]
            offence_sets = { vawg = ["19C", "8U"], rasso = "rasso.txt" }
            repeat_rule = "rules/npcc.toml"
            [review]
            required = true
            [api]
            require_justification = false
            """,
        )
    )
    s = config.scoring
    assert (s.window_months, s.date_basis, s.top_n, s.attribution) == (
        6,
        "committed_on",
        20,
        "presence",
    )
    assert s.offence_sets == {"vawg": ["19C", "8U"], "rasso": "rasso.txt"}
    assert config.review.required is True
    assert config.api.require_justification is False
    # paths in the file are relative to the file's folder
    assert config.resolve("force.csv") == tmp_path.resolve() / "force.csv"
    assert config.resolve("/abs/x.csv") == Path("/abs/x.csv")


def test_the_provenance_is_json_and_reads_back(tmp_path):
    config = load_config(write(tmp_path, SPEC_EXAMPLE))
    again = config_from_dict(config.provenance())
    assert again.provenance() == config.provenance()
    assert "base_dir" not in config.provenance()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[scoring]\nwidow_months = 12\n", "[scoring] widow_months: unknown key"),
        ("[scorin]\ntop_n = 5\n", "scorin: unknown key"),
        ("top_n = 5\n", "top_n: unknown key"),
        ("base_dir = '/'\n", "base_dir: unknown key"),
        ("[force]\nlpa = ['A']\n", "[force] lpa: unknown key"),
        (
            "[scoring]\nwindow_months = '12'\n",
            "[scoring] window_months: Input should be a valid integer",
        ),
        ("[scoring]\ntop_n = true\n", "[scoring] top_n: Input should be a valid integer"),
        ("[scoring]\ntop_n = 1.5\n", "[scoring] top_n: Input should be a valid integer"),
        ("[scoring]\ntop_n = 0\n", "[scoring] top_n: Input should be greater than or equal to 1"),
        (
            "[scoring]\nwindow_months = 0\n",
            "[scoring] window_months: Input should be greater than or equal to 1",
        ),
        ("[review]\nrequired = 'yes'\n", "[review] required: Input should be a valid boolean"),
        ("[force]\nlpas = 'Shropshire'\n", "[force] lpas: Input should be a valid list"),
        ("[force]\nlpas = ['A', ' A ']\n", "[force] lpas: Value error, an LPA is listed twice"),
        ("[force]\nlpas = ['A', '  ']\n", "[force] lpas: Value error, an LPA name is empty"),
        ("[force]\nlpas = ['ALL']\n", "[force] lpas: Value error, 'ALL' is reserved"),
        (
            "[scoring]\nweights = 'ons_css_2019'\n",
            "[scoring] weights: Input should be a valid list",
        ),
        ("[scoring]\nweights = []\n", "[scoring] weights: List should have at least 1 item"),
        (
            "[scoring]\noffence_sets = { vawg = 3 }\n",
            "[scoring] offence_sets.vawg: Input should be a valid string",
        ),
        (
            "[scoring]\ndate_basis = 'occurred_on'\n",
            "[scoring] date_basis: Input should be 'recorded_on' or 'committed_on'",
        ),
        (
            "[scoring]\nattribution = 'home_lpa'\n",
            "[scoring] attribution: Input should be 'principal', 'home' or 'presence'",
        ),
        ("scoring = 3\n", "scoring: Input should be a valid dictionary"),
    ],
)
def test_a_bad_key_or_value_is_reported_with_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    message = str(bad.value)
    assert message.startswith(f"{path}: the configuration is not valid:")
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "[scoring]\ntop_n = 'x'\ndate_basis = 'x'\nfoo = 1\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    lines = str(bad.value).splitlines()[1:]
    assert sorted(line.split(":")[0].strip() for line in lines) == [
        "[scoring] date_basis",
        "[scoring] foo",
        "[scoring] top_n",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[scoring\ntop_n = 5\n", "not valid TOML"),
        ("[scoring]\ntop_n = \n", "(at line 2, column 9)"),
        ("[scoring]\ntop_n = 5\ntop_n = 6\n", "not valid TOML"),
        ('[force]\nname = "West Mercia\n', "not valid TOML"),
    ],
)
def test_toml_syntax_errors_are_clear(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    assert str(bad.value).startswith(f"{path}: not valid TOML: ")
    assert expected in str(bad.value)


def test_a_missing_or_binary_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(write(tmp_path, b"\xff\xfe[\x00"))


def test_lpas_are_trimmed(tmp_path):
    config = load_config(write(tmp_path, "[force]\nlpas = [' Telford & Wrekin ', 'Shropshire']\n"))
    assert config.force.lpas == ["Shropshire", "Telford & Wrekin"]


def test_the_command_line_reports_a_bad_configuration_in_one_line(tmp_path, monkeypatch, capsys):
    import sys

    from harmrank.cli import main

    path = write(tmp_path, "[scoring]\ntop_n = 'ten'\n")
    db = tmp_path / "h.duckdb"
    monkeypatch.setattr(
        sys, "argv", ["harmrank", "ingest", str(tmp_path), "--config", str(path), "--db", str(db)]
    )
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harmrank: {path}: the configuration is not valid:")
    assert "[scoring] top_n" in err
    assert not db.exists()  # refused before the database was opened
