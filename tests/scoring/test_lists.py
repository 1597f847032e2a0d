"""SPEC section 3, **Harm list** and **Frequency list**: who is on them, the exact order at every
tie-break level (harm → frequency → last_recorded_on → nominal_id in code-point order, and
frequency → harm → …), the first ``top_n`` (10 by default, configurable)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .scenario import cfg, crime, link, score, w


def _nominal(nid, *crimes_):
    """Crimes (code, recorded_on) for one nominal, with crime ids derived from its id."""
    rows = [crime(f"{nid}#{i}", code, on, da=True) for i, (code, on) in enumerate(crimes_)]
    return rows, [link(r["crime_id"], nid) for r in rows]


def _scenario(*nominals, **kwargs):
    crimes, links = [], []
    for c, lk in nominals:
        crimes += c
        links += lk
    return score(crimes, links, **kwargs)


D = "2025-05-01"
LATER = "2025-05-02"


def test_harm_list_holds_only_harm_above_zero():
    s = _scenario(_nominal("ZERO", ("8U", D), ("8U", D), ("8K", D)), _nominal("ONE", ("8Q", D)))
    assert s.ids("ALL", "harm") == ["ONE"]
    assert s.ids("ALL", "frequency") == ["ZERO", "ONE"]
    assert s.ids("Shropshire", "harm") == ["ONE"]
    row = s.scored("ZERO")
    assert row["harm"] == Decimal("0")
    assert row["harm_rank"] is None
    assert row["frequency_rank"] == 1
    assert row["on_harm_list"] is False
    assert row["on_frequency_list"] is True
    assert s.scored("ONE")["harm_rank"] == 1


# Each case: nominals and the expected order of the harm and the frequency list.
# 8U has no weight (adds 0 to harm, 1 to frequency), which makes equal harm with unequal
# frequency possible with the shipped weights.
TIES = {
    "harm beats frequency on the harm list": (
        [
            _nominal("A", ("19C", D)),
            _nominal("B", ("8N", D), ("8N", D), ("8N", D)),
        ],
        ["A", "B"],
        ["B", "A"],
    ),
    "equal harm: higher frequency first": (
        [
            _nominal("A", ("19C", D)),
            _nominal("B", ("19C", D), ("8U", D)),
        ],
        ["B", "A"],
        ["B", "A"],
    ),
    "equal frequency: higher harm first on the frequency list": (
        [
            _nominal("A", ("8N", D), ("8N", D)),
            _nominal("B", ("19C", D), ("8U", D)),
        ],
        ["B", "A"],
        ["B", "A"],
    ),
    "equal harm and frequency: later last_recorded_on first": (
        [
            _nominal("A", ("19C", D), ("8N", D)),
            _nominal("B", ("8N", "2024-07-01"), ("19C", LATER)),
        ],
        ["B", "A"],
        ["B", "A"],
    ),
    "all equal: nominal_id ascending in code-point order (N10 < N2)": (
        [_nominal("N2", ("19C", D)), _nominal("N10", ("19C", D))],
        ["N10", "N2"],
        ["N10", "N2"],
    ),
    "all equal: upper case before lower case (Z < a)": (
        [_nominal("a", ("19C", D)), _nominal("Z", ("19C", D))],
        ["Z", "a"],
        ["Z", "a"],
    ),
    "all equal: non-ASCII after ASCII (z < é < Ω)": (
        [_nominal("Ω", ("19C", D)), _nominal("é", ("19C", D)), _nominal("z", ("19C", D))],
        ["z", "é", "Ω"],
        ["z", "é", "Ω"],
    ),
    "all equal: shorter prefix first (N1 < N1-2 < N10)": (
        [_nominal("N10", ("19C", D)), _nominal("N1-2", ("19C", D)), _nominal("N1", ("19C", D))],
        ["N1", "N1-2", "N10"],
        ["N1", "N1-2", "N10"],
    ),
    "frequency beats harm on the frequency list": (
        [
            _nominal("A", ("19D", D)),
            _nominal("B", ("8Q", D), ("8Q", D)),
        ],
        ["A", "B"],
        ["B", "A"],
    ),
    "frequency list, equal frequency and harm: later last_recorded_on first": (
        [
            _nominal("A", ("8U", LATER)),
            _nominal("B", ("8U", "2025-06-30")),
            _nominal("C", ("8U", "2024-07-01")),
        ],
        [],
        ["B", "A", "C"],
    ),
    "frequency list, all equal at harm 0: nominal_id": (
        [_nominal("b", ("8U", D)), _nominal("B", ("8U", D)), _nominal("a", ("8U", D))],
        [],
        ["B", "a", "b"],
    ),
}


@pytest.mark.parametrize("case", list(TIES))
def test_tie_breaks(case):
    nominals, harm_order, frequency_order = TIES[case]
    s = _scenario(*nominals)
    assert s.ids("ALL", "harm") == harm_order
    assert s.ids("ALL", "frequency") == frequency_order
    assert s.ids("Shropshire", "harm") == harm_order
    assert s.ids("Shropshire", "frequency") == frequency_order
    assert [e["rank"] for e in s.entries("ALL", "harm")] == list(range(1, len(harm_order) + 1))
    for i, nid in enumerate(frequency_order, start=1):
        assert s.scored(nid)["frequency_rank"] == i


# More than ten candidates -------------------------------------------------------------------
CODES = ["19G", "19D", "19J", "19E", "19F", "19K", "19C", "19H", "72", "70", "23", "22A"]


@pytest.fixture(scope="module")
def twelve():
    # twelve nominals with distinct harms, in descending order of weight; P13 ties exactly
    # with P10 (same code and day), so nominal_id decides between them: P10 < P13.
    assert [w(c) for c in CODES] == sorted((w(c) for c in CODES), reverse=True)
    nominals = [_nominal(f"P{i + 1:02d}", (code, D)) for i, code in enumerate(CODES)]
    nominals.append(_nominal("P13", (CODES[9], D)))
    return _scenario(*nominals)


def test_exactly_top_n_entries(twelve):
    assert twelve.ids("ALL", "harm") == [f"P{i:02d}" for i in range(1, 11)]
    assert [e["rank"] for e in twelve.entries("ALL", "harm")] == list(range(1, 11))
    assert len(twelve.entries("ALL", "frequency")) == 10
    assert len(twelve.entries("Shropshire", "harm")) == 10


def test_the_eleventh_is_excluded_even_on_an_exact_tie_but_id(twelve):
    assert "P13" not in twelve.ids("ALL", "harm")
    row = twelve.scored("P13")
    assert row["harm_rank"] == 11
    assert row["on_harm_list"] is False


def test_everyone_scored_has_a_rank_in_history(twelve):
    assert twelve.scored("P12")["harm_rank"] == 13
    assert twelve.scored("P12")["on_harm_list"] is False
    assert twelve.scored("P11")["harm_rank"] == 12
    # frequency 1 for all: harm decides, then id
    assert twelve.scored("P12")["frequency_rank"] == 13
    assert twelve.scored("P12")["on_frequency_list"] is False
    assert twelve.scored("P01")["on_frequency_list"] is True


@pytest.mark.parametrize("top_n", [1, 3, 12, 20])
def test_top_n_is_configurable(top_n):
    nominals = [_nominal(f"P{i + 1:02d}", (code, D)) for i, code in enumerate(CODES)]
    s = _scenario(*nominals, config=cfg(scoring={"top_n": top_n}))
    expected = [f"P{i:02d}" for i in range(1, min(top_n, 12) + 1)]
    assert s.ids("ALL", "harm") == expected
    assert s.ids("ALL", "frequency") == expected
    assert s.scored("P12")["on_harm_list"] is (top_n >= 12)


def test_an_exact_tie_follows_code_point_order_when_later_loads_add_ids_that_sort_first():
    """The last tie-break is nominal_id in code-point order. Scoring sorts on each nominal's
    place in that order (nominal_order), not on its integer key, which runs in load order:
    here "N2" is loaded first, then "N10" and "A", then "0"."""

    def rows(*nids):
        crimes, links = [], []
        for nid in nids:  # two RASSO crimes on the same days: equal on every list's keys
            for i, on in enumerate(("2025-03-01", "2025-04-01")):
                crimes.append(crime(f"{nid}#{i}", "19C", on, da=False))
                links.append(link(f"{nid}#{i}", nid))
        return crimes, links

    from .scenario import load

    s = load(*rows("N2"))
    for later in (("N10", "A"), ("0",)):
        crimes, links = rows(*later)
        s.ingest(crimes=crimes, suspects=links)
    keys = dict(s.store.execute("SELECT nominal_id, nkey FROM nominal_keys").fetchall())
    assert sorted(keys, key=keys.__getitem__) == ["N2", "A", "N10", "0"]  # load order
    expected = ["0", "A", "N10", "N2"]  # code-point order
    order = (
        "SELECT k.nominal_id FROM nominal_order o JOIN nominal_keys k USING (nkey) ORDER BY o.nord"
    )
    assert [r[0] for r in s.store.execute(order).fetchall()] == expected  # kept by ingest
    s.run()
    for lpa in ("ALL", "Shropshire"):
        for kind in ("harm", "frequency", "repeat"):
            assert s.ids(lpa, kind) == expected, (lpa, kind)
    assert [s.scored(n)["harm_rank"] for n in expected] == [1, 2, 3, 4]
    # a database whose order is incomplete (an earlier build's) is put right by the next run
    s.store.execute("DELETE FROM nominal_order")
    s.run()
    assert s.ids("ALL", "harm") == expected
