"""Reference data (SPEC section 2): the ONS CSS weights to 6 dp, code aliases, force weights
tables, and offence sets with their overrides."""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from harmrank.config import Config, config_from_dict
from harmrank.reference import (
    ReferenceError,
    descriptions,
    known_codes,
    load_offence_set,
    load_weights,
    reference_file,
    to_weight,
)

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ons_css_weights.csv"
VAWG = "17A 17B 19C 19D 19E 19F 19G 19H 19J 19K 20A 20B 21 22A 22B 23 70 71 72 73 88A 88C 88D 88E 8Q 8U 8K"
RASSO = "17A 17B 19C 19D 19E 19F 19G 19H 19J 19K 20A 20B 21 22A 22B 23 70 71 72 73 88A 88C"


def config_with(tmp_path: Path, **scoring) -> Config:
    return config_from_dict({"scoring": scoring}, base_dir=tmp_path)


def force_csv(tmp_path: Path, text: str, name: str = "force.csv") -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


# ------------------------------------------------------------------ ONS weights ----
def test_ons_css_2019_weights_are_held_to_6_decimal_places():
    weights = load_weights(Config())
    assert weights.weight_of("19C") == Decimal("2952.940993")
    assert weights.weight_of("1, 4.1/2/10") == Decimal("7973.393423")
    for code, weight in weights.by_code.items():
        assert weight == weight.quantize(Decimal("0.000001")), code
        assert weight.as_tuple().exponent == -6, code
    assert len(weights.by_code) == 129


def test_the_shipped_weights_are_those_of_the_shared_data_file():
    shipped = reference_file("ons_css_2019.csv").read_bytes()
    rows = list(csv.DictReader(shipped.decode().splitlines()))
    assert {r["ho_code"]: to_weight(r["weight"]) for r in rows} == load_weights(Config()).by_code
    if SHARED_WEIGHTS.exists():
        shared = list(csv.DictReader(SHARED_WEIGHTS.read_text(encoding="utf-8").splitlines()))
        code_col = "ho_code" if "ho_code" in shared[0] else next(iter(shared[0]))
        assert {r[code_col]: to_weight(r["weight"]) for r in shared} == load_weights(
            Config()
        ).by_code


def test_rounding_is_half_up_from_the_decimal_text():
    assert to_weight("1.0000005") == Decimal("1.000001")
    assert to_weight("1.0000004999") == Decimal("1.000000")
    assert to_weight(" 2952.9409930950865 ") == Decimal("2952.940993")


@pytest.mark.parametrize("code", ["8U", "8K"])
def test_this_edition_has_no_weight_for_8u_or_8k(code):
    weights = load_weights(Config())
    assert weights.weight_of(code) is None
    assert code not in weights.resolved()
    assert code in descriptions()  # described, though not weighted


@pytest.mark.parametrize(
    ("alias", "target", "weight"),
    [
        ("1/4.1/4.10/4.2", "1, 4.1/2/10", "7973.393423"),
        ("28A", "28C", "465.381473"),
        ("30A", "30C", "123.018396"),
    ],
)
def test_aliases_take_the_weight_of_their_code(alias, target, weight):
    weights = load_weights(Config())
    assert alias not in weights.by_code
    assert weights.weight_of(alias) == weights.weight_of(target) == Decimal(weight)
    assert weights.resolved()[alias] == Decimal(weight)


def test_the_run_can_record_which_tables_were_used():
    [table] = load_weights(Config()).tables
    data = reference_file("ons_css_2019.csv").read_bytes()
    assert table.name == "ons_css_2019"
    assert table.sha256 == hashlib.sha256(data).hexdigest()
    assert table.rows == 129
    assert table.as_dict()["source"].endswith("ons_css_2019.csv")


# ------------------------------------------------------------ force weights ----
def test_a_force_csv_adds_8u_and_overrides_a_weight(tmp_path):
    name = force_csv(tmp_path, "ho_code,weight\n8U,500.1234567\n19C,3000\n")
    weights = load_weights(config_with(tmp_path, weights=["ons_css_2019", name]))
    assert weights.weight_of("8U") == Decimal("500.123457")
    assert weights.weight_of("19C") == Decimal("3000.000000")
    assert weights.weight_of("19D") == load_weights(Config()).weight_of("19D")
    assert [t.name for t in weights.tables] == ["ons_css_2019", "force"]
    assert weights.tables[1].rows == 2
    assert weights.tables[1].sha256 == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


def test_later_tables_override_earlier_ones(tmp_path):
    a = force_csv(tmp_path, "ho_code,weight\n8U,1\n8K,5\n", "a.csv")
    b = force_csv(tmp_path, "ho_code,weight\n8U,2\n", "b.csv")
    assert load_weights(config_with(tmp_path, weights=["ons_css_2019", a, b])).weight_of("8U") == 2
    assert load_weights(config_with(tmp_path, weights=["ons_css_2019", b, a])).weight_of("8U") == 1
    # and a force table placed first is overridden by the ONS table after it
    c = force_csv(tmp_path, "ho_code,weight\n19C,1\n", "c.csv")
    both = load_weights(config_with(tmp_path, weights=[c, "ons_css_2019"]))
    assert both.weight_of("19C") == Decimal("2952.940993")


def test_overriding_an_aliased_code_moves_its_aliases_with_it(tmp_path):
    name = force_csv(tmp_path, "ho_code,weight\n28C,100\n")
    weights = load_weights(config_with(tmp_path, weights=["ons_css_2019", name]))
    assert weights.weight_of("28A") == Decimal("100.000000")
    assert weights.resolved()["28A"] == Decimal("100.000000")  # what scoring joins against


def test_a_weight_given_for_an_aliased_spelling_is_its_own(tmp_path):
    # a force that weights 28A itself: the alias (28A takes 28C's weight) only fills a gap
    name = force_csv(tmp_path, "ho_code,weight\n28A,7.5\n")
    weights = load_weights(config_with(tmp_path, weights=["ons_css_2019", name]))
    assert weights.weight_of("28A") == Decimal("7.500000")
    assert weights.resolved()["28A"] == Decimal("7.500000")
    assert weights.resolved()["28C"] == load_weights(Config()).weight_of("28C")


def test_a_force_csv_with_a_bom_extra_columns_and_blank_lines_is_read(tmp_path):
    name = force_csv(tmp_path, "\ufeffho_code,weight,note\n\n8U,10,coercive control\n")
    assert load_weights(config_with(tmp_path, weights=["ons_css_2019", name])).weight_of("8U") == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "code,weight\n8U,1\n",
            "a weights file needs the header columns ho_code,weight (found: code, weight)",
        ),
        ("", "a weights file needs the header columns ho_code,weight (found: no header)"),
        ("ho_code,weight\n8U,1\n8K,heavy\n", "line 3: weight 'heavy' for 8K is not a number"),
        ("ho_code,weight\n\n\n8U,\n", "line 4: weight '' for 8U is not a number"),
        ("ho_code,weight\n8U,-1\n", "line 2: weight for 8U must be 0 or more"),
        ("ho_code,weight\n8U,inf\n", "line 2: weight 'inf' for 8U is not a number"),
        ("ho_code,weight\n8U,nan\n", "line 2: weight for 8U must be 0 or more"),
        ("ho_code,weight\n,1\n", "line 2: ho_code is empty"),
        ("ho_code,weight\n8U,1\n8U,2\n", "line 3: 8U is listed twice"),
        ('ho_code,weight\n"8U\nX",1\n8K,x\n', "line 4: weight 'x' for 8K is not a number"),
    ],
)
def test_a_bad_force_csv_is_refused_with_its_line_and_reason(tmp_path, text, message):
    name = force_csv(tmp_path, text)
    with pytest.raises(ReferenceError) as bad:
        load_weights(config_with(tmp_path, weights=["ons_css_2019", name]))
    assert str(bad.value).startswith(str(tmp_path / name))
    assert message in str(bad.value)


def test_a_missing_or_non_utf8_weights_file_is_refused(tmp_path):
    with pytest.raises(ReferenceError, match="not a built-in table .*cannot be read"):
        load_weights(config_with(tmp_path, weights=["no_such_table"]))
    (tmp_path / "latin.csv").write_bytes(b"ho_code,weight\n8\xe9,1\n")
    with pytest.raises(ReferenceError, match="not a UTF-8 CSV file"):
        load_weights(config_with(tmp_path, weights=["latin.csv"]))


# ---------------------------------------------------------------- offence sets ----
def test_the_built_in_offence_sets_are_those_of_the_spec():
    assert load_offence_set("vawg", Config()).codes == frozenset(VAWG.split())
    assert load_offence_set("rasso", Config()).codes == frozenset(RASSO.split())
    assert load_offence_set("rasso", Config()).codes < load_offence_set("vawg", Config()).codes


def test_an_offence_set_overridden_by_a_list(tmp_path):
    config = config_with(tmp_path, offence_sets={"vawg": ["19C", " 8U ", "8U"]})
    vawg = load_offence_set("vawg", config)
    assert vawg.codes == {"19C", "8U"}
    assert vawg.source.source == "configuration"
    # the other set is untouched
    assert load_offence_set("rasso", config).codes == frozenset(RASSO.split())


@pytest.mark.parametrize(
    "text",
    [
        "# my force's VAWG codes\n19C 19D   # rape\n8U\n\n",
        "ho_code,description\n19C,Rape\n19D,Rape\n8U,Coercive control\n",
        "\ufeffho_code\n19C\n19D\n8U\n",
    ],
)
def test_an_offence_set_overridden_by_a_file(tmp_path, text):
    (tmp_path / "vawg_codes.txt").write_text(text, encoding="utf-8")
    config = config_with(tmp_path, offence_sets={"vawg": "vawg_codes.txt"})
    vawg = load_offence_set("vawg", config)
    assert vawg.codes == {"19C", "19D", "8U"}
    assert vawg.source.source == str(tmp_path / "vawg_codes.txt")


def test_a_force_can_name_a_new_offence_set(tmp_path):
    config = config_with(tmp_path, offence_sets={"stalking": ["8Q", "8R"]})
    assert load_offence_set("stalking", config).codes == {"8Q", "8R"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ([" "], "offence set 'vawg' in the configuration is empty"),
        ("missing.txt", "offence set 'vawg': cannot read"),
        ("empty.txt", "the offence set is empty"),
    ],
)
def test_a_bad_offence_set_override_is_refused(tmp_path, override, message):
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ReferenceError, match=message):
        load_offence_set("vawg", config_with(tmp_path, offence_sets={"vawg": override}))


def test_an_unknown_offence_set_is_refused():
    with pytest.raises(ReferenceError, match="unknown offence set 'dv' \\(known: rasso, vawg\\)"):
        load_offence_set("dv", Config())


# ---------------------------------------------------------------- descriptions ----
def test_descriptions_cover_every_weighted_code_and_the_spec_codes():
    names = descriptions()
    assert names["8U"] == "Controlling or coercive behaviour"
    assert "rape" in names["19C"].lower()
    for code in load_weights(Config()).by_code:
        assert code in names, code
    codes = known_codes(Config())
    assert set(VAWG.split()) <= codes
    assert {"1/4.1/4.10/4.2", "28A", "30A", "105A", "8N"} <= codes
    assert "ZZ9" not in codes
