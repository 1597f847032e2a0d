"""SPEC section 3 (per nominal) and section 2 (weights): ``harm`` is the exact decimal sum of
the weights of the eligible crimes, a code with no weight adds 0, shows weight ``null`` and is
reported; JSON carries all 6 places; aliases; a force weights CSV; ``frequency``, ``victims``
(distinct non-null ``victim_id``) and ``last_recorded_on``."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from harmrank import jsonout
from harmrank.scoring import runs_table

from .scenario import (
    HOMICIDE_ONS,
    HOMICIDE_OPEN_DATA,
    cfg,
    crime,
    link,
    score,
    w,
)


@pytest.fixture(scope="module")
def unweighted():
    crimes = [
        crime("C19C", "19C", da=False, on="2025-05-01"),
        crime("C8U", "8U", da=False, on="2025-05-02"),
        crime("C8K", "8K", da=False, on="2025-05-03"),
        crime("C99Z", "99Z", da=True, on="2025-05-04"),  # unknown code, DA-flagged: eligible
        crime("C8U2", "8U", da=False, on="2025-05-05"),
    ]
    links = [link(c["crime_id"], "N1") for c in crimes[:4]] + [link("C8U2", "N2")]
    return score(crimes, links)


def test_unweighted_codes_add_zero(unweighted):
    e = unweighted.entry("N1", "ALL", "harm")
    assert e["harm"] == w("19C")
    assert e["frequency"] == 4


@pytest.mark.parametrize(
    ("crime_id", "weight"),
    [("C19C", w("19C")), ("C8U", None), ("C8K", None), ("C99Z", None)],
)
def test_unweighted_codes_show_weight_null(unweighted, crime_id, weight):
    crimes = {c["crime_id"]: c for c in unweighted.entry("N1", "ALL", "harm")["crimes"]}
    assert crimes[crime_id]["weight"] == weight
    text = jsonout.dumps(unweighted.objects("ALL", "harm"))
    if weight is None:
        assert f'"crime_id": "{crime_id}", "ho_code": ' in text
        assert json.loads(text)[0]["entries"][0]["crimes"]  # parses
        found = [
            c for c in json.loads(text)[0]["entries"][0]["crimes"] if c["crime_id"] == crime_id
        ]
        assert found[0]["weight"] is None


def test_unweighted_codes_are_reported(unweighted):
    (dq,) = [
        json.loads(r[0])
        for r in unweighted.store.execute("SELECT data_quality FROM runs").fetchall()
    ]
    assert dq["unweighted_codes"] == {"8U": 2, "8K": 1, "99Z": 1}


def test_a_nominal_with_only_unweighted_crimes_has_harm_zero(unweighted):
    row = unweighted.scored("N2")
    assert row["harm"] == Decimal("0")
    assert row["frequency"] == 1


@pytest.mark.parametrize(
    ("code", "weight_of"),
    [("28A", "28C"), ("30A", "30C"), (HOMICIDE_OPEN_DATA, HOMICIDE_ONS)],
)
def test_aliases_take_the_weight_of_their_code(code, weight_of):
    s = score([crime("C1", code, da=True)], [link("C1", "N1")])
    e = s.entry("N1", "ALL", "harm")
    assert e["harm"] == w(weight_of)
    assert e["crimes"][0]["ho_code"] == code  # shown as the extract spelt it
    assert e["crimes"][0]["weight"] == w(weight_of)


def test_weights_are_held_to_six_places():
    # 19C is 2952.9409930950865 in the ONS table (SPEC 6 shows 2952.940993)
    s = score([crime("C1", "19C"), crime("C2", "19C")], [link("C1", "N1"), link("C2", "N1")])
    e = s.entry("N1", "ALL", "harm")
    assert e["crimes"][0]["weight"] == Decimal("2952.940993")
    assert e["harm"] == Decimal("5905.881986")  # not 2 x 2952.9409930950865 rounded


FORCE_CSV = "ho_code,weight\n88D,0.1\n88E,0.2\n8Q,0.3\n19C,0.1234564\n19D,0.1234566\n"


@pytest.fixture
def force_weights(tmp_path):
    (tmp_path / "force.csv").write_text(FORCE_CSV, encoding="utf-8")
    return cfg(tmp_path, scoring={"weights": ["ons_css_2019", "force.csv"]})


def test_sums_are_exact_decimals_so_equal_harms_tie(force_weights):
    # In binary floating point 0.1 + 0.2 > 0.3, which would put NB first. Summed exactly the
    # harms are equal (0.3), frequency (2) and last_recorded_on tie, and NA < NB decides.
    s = score(
        [
            crime("A1", "8Q", "2025-05-01", da=False),
            crime("A2", "8U", "2025-05-01", da=False),  # no weight: adds 0
            crime("B1", "88D", "2025-05-01", da=False),
            crime("B2", "88E", "2025-05-01", da=False),
        ],
        [link("A1", "NA"), link("A2", "NA"), link("B1", "NB"), link("B2", "NB")],
        config=force_weights,
    )
    assert s.ids("ALL", "harm") == ["NA", "NB"]
    assert [e["harm"] for e in s.entries("ALL", "harm")] == [Decimal("0.3")] * 2
    assert s.ids("ALL", "frequency") == ["NA", "NB"]


def test_sums_do_not_depend_on_the_order_of_summation(force_weights):
    # 0.1 + 0.2 + 0.3 summed in any order is 0.6 exactly; a single 0.6 ties with it.
    many = ["88D", "88E", "8Q"]
    crimes = [crime(f"X{i}", c, "2025-05-01", da=False) for i, c in enumerate(many)]
    crimes += [crime(f"Y{i}", c, "2025-05-01", da=False) for i, c in enumerate(reversed(many))]
    s = score(
        crimes,
        [link(f"X{i}", "N1") for i in range(3)] + [link(f"Y{i}", "N2") for i in range(3)],
        config=force_weights,
    )
    harms = {e["nominal_id"]: e["harm"] for e in s.entries("ALL", "harm")}
    assert harms == {"N1": Decimal("0.6"), "N2": Decimal("0.6")}
    assert s.ids("ALL", "harm") == ["N1", "N2"]


def test_force_weights_are_rounded_to_six_places(force_weights):
    s = score(
        [crime("C1", "19C", da=False), crime("C2", "19D", da=False)],
        [link("C1", "N1"), link("C2", "N2")],
        config=force_weights,
    )
    assert s.entry("N1", "ALL", "harm")["harm"] == Decimal("0.123456")
    assert s.entry("N2", "ALL", "harm")["harm"] == Decimal("0.123457")


def test_json_carries_six_places(force_weights):
    s = score(
        [crime("C1", "8Q", da=False), crime("C2", "8U", da=False)],
        [link("C1", "N1"), link("C2", "N0")],
        config=force_weights,
    )
    text = jsonout.dumps(s.objects("ALL", "frequency"))
    raw = json.loads(text, parse_float=str)
    entries = {e["nominal_id"]: e for e in raw[0]["entries"]}
    assert entries["N1"]["harm"] == "0.300000"
    assert entries["N1"]["crimes"][0]["weight"] == "0.300000"
    assert entries["N0"]["harm"] == "0.000000"
    assert '"harm": 0.300000' in text  # a JSON number, not a string


def test_json_carries_the_example_of_spec_section_6():
    s = score([crime("C1", "19C", da=False)], [link("C1", "N1")])
    text = jsonout.dumps(s.objects("ALL", "harm"))
    assert '"weight": 2952.940993' in text
    assert '"harm": 2952.940993' in text


def test_a_force_weights_csv_adding_8U_changes_harm(tmp_path):
    crimes = [crime("C1", "8U", da=False), crime("C2", "8N")]
    links = [link("C1", "N1"), link("C2", "N1")]
    plain = score(crimes, links)
    assert plain.entry("N1", "ALL", "harm")["harm"] == w("8N")

    (tmp_path / "cc.csv").write_text("ho_code,weight\n8U,400.25\n", encoding="utf-8")
    added = score(
        crimes, links, config=cfg(tmp_path, scoring={"weights": ["ons_css_2019", "cc.csv"]})
    )
    e = added.entry("N1", "ALL", "harm")
    assert e["harm"] == w("8N") + Decimal("400.25")
    assert {c["ho_code"]: c["weight"] for c in e["crimes"]}["8U"] == Decimal("400.250000")
    tables = [t["name"] for t in runs_table(added.store)[0]["weights"]["tables"]]
    assert tables == ["ons_css_2019", "cc"]  # the run records which tables were used


def test_later_weights_tables_override_earlier(tmp_path):
    (tmp_path / "a.csv").write_text("ho_code,weight\n19C,1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("ho_code,weight\n19C,2\n", encoding="utf-8")
    crimes, links = [crime("C1", "19C")], [link("C1", "N1")]
    ab = score(
        crimes, links, config=cfg(tmp_path, scoring={"weights": ["ons_css_2019", "a.csv", "b.csv"]})
    )
    ba = score(crimes, links, config=cfg(tmp_path, scoring={"weights": ["b.csv", "a.csv"]}))
    assert ab.entry("N1")["harm"] == Decimal("2")
    assert ba.entry("N1")["harm"] == Decimal("1")


@pytest.fixture(scope="module")
def counts():
    crimes = [
        crime("C1", "19C", "2025-01-10", victim="V1"),
        crime("C2", "8N", "2025-06-02", victim="V1"),
        crime("C3", "8N", "2024-09-01", victim="V2"),
        crime("C4", "8N", "2025-03-01"),  # no victim: not counted in victims
        crime("C5", "8N", "2025-07-01", victim="V3"),  # after the window
        crime("C6", "8N", "2025-04-01", victim="V4", status="cancelled"),
        crime("C7", "8N", "2025-04-01", victim="V5"),
    ]
    links = [link(c["crime_id"], "N1") for c in crimes[:6]] + [link("C7", "N1", "eliminated")]
    return score(crimes, links)


def test_frequency_counts_eligible_crimes(counts):
    assert counts.scored("N1")["frequency"] == 4


def test_victims_counts_distinct_non_null_victims(counts):
    assert counts.scored("N1")["victims"] == 2


def test_last_recorded_on_is_the_latest_eligible(counts):
    assert str(counts.entry("N1", "ALL", "harm")["last_recorded_on"]) == "2025-06-02"


def test_harm_of_several_crimes(counts):
    assert counts.scored("N1")["harm"] == w("19C", "8N", "8N", "8N")
