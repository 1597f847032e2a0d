"""SPEC section 3, **Movement**: against the same list (same LPA, same kind, top ``top_n``) for
M-1 computed on the same data and configuration: ``"new"`` if not on that top-``top_n`` list,
else its rank there minus its rank now (positive = moved up); the same from ``run`` and
``backfill``; on the repeat list against M-1's repeat list."""

from __future__ import annotations

import pytest

from .scenario import cfg, crime, link, load, score, score_backfill

H, S = "Herefordshire", "Shropshire"

# As-at 2025-06 (M) against 2025-05 (M-1). Crimes recorded by 2025-05 count in both months;
# crimes recorded in June only in M. With top_n = 3:
#   M-1 harm ALL:  A (19D), B (19C), C (22A), [D 8N: 4th, not on the list]
#   M   harm ALL:  B (19C + 19G), A (19D), D (8N + 19J)  -> B +1, A -1, D new, C gone
CRIMES = [
    crime("A1", "19D", "2025-01-10", lpa=S),
    crime("B1", "19C", "2025-01-10", lpa=S),
    crime("B2", "19G", "2025-06-10", lpa=S),
    crime("C1", "22A", "2025-01-10", lpa=S),
    crime("D1", "8N", "2025-01-10", lpa=S),
    crime("D2", "19J", "2025-06-10", lpa=S),
    crime("E1", "19C", "2025-01-10", lpa=H),  # alone in Herefordshire in both months: 0
]
LINKS = [
    link("A1", "A"),
    link("B1", "B"),
    link("B2", "B"),
    link("C1", "C"),
    link("D1", "D"),
    link("D2", "D"),
    link("E1", "E"),
]
TOP3 = cfg(force={"lpas": [H, S]}, scoring={"top_n": 3})
EXPECTED_HARM_ALL = [("B", 1), ("A", -1), ("D", "new")]


def _movements(s, lpa="ALL", kind="harm"):
    return [(e["nominal_id"], e["movement"]) for e in s.entries(lpa, kind)]


@pytest.fixture(scope="module")
def by_run():
    return score(CRIMES, LINKS, config=TOP3)  # only 2025-06 is run; M-1 is never stored


@pytest.fixture(scope="module")
def by_backfill():
    return score_backfill(CRIMES, LINKS, "2025-04", "2025-06", config=TOP3)


def test_movement_by_run(by_run):
    assert _movements(by_run) == EXPECTED_HARM_ALL
    assert _movements(by_run, S) == [("B", 1), ("A", -1), ("D", "new")]
    assert _movements(by_run, H) == [("E", 0)]


def test_movement_by_backfill_is_the_same(by_run, by_backfill):
    for lpa in ("ALL", H, S):
        for kind in ("harm", "frequency", "repeat"):
            assert _movements(by_backfill, lpa, kind) == _movements(by_run, lpa, kind)


def test_movement_on_the_frequency_list(by_run):
    # M-1: one crime each, harm decides: A (19D), then B and E tie on 19C and the day, B < E.
    # M: B and D have 2 crimes (B more harm), then A.
    got = dict(_movements(by_run, "ALL", "frequency"))
    assert got["B"] == 2 - 1
    assert got["D"] == "new"
    assert got["A"] == 1 - 3


def test_movement_in_a_month_with_no_data_before():
    s = score([crime("C1", "19C", "2025-06-01")], [link("C1", "N1")])
    assert _movements(s) == [("N1", "new")]


def test_movement_zero_when_the_rank_is_unchanged():
    s = score([crime("C1", "19C", "2025-01-01")], [link("C1", "N1")])
    assert _movements(s) == [("N1", 0)]


def test_movement_compares_with_m_minus_1_on_todays_data():
    # 2025-05 is run while only N1 is known; then an extract adds N2's May crime. The June run
    # compares with May recomputed on the same (new) data: N2 was 1st in May, N1 2nd.
    s = score([crime("C1", "19C", "2025-05-01")], [link("C1", "N1")], months=["2025-05"])
    assert [e["nominal_id"] for e in s.entries(month="2025-05")] == ["N1"]
    s.ingest(crimes=[crime("C2", "19D", "2025-05-02")], suspects=[link("C2", "N2")]).run()
    assert _movements(s) == [("N2", 0), ("N1", 0)]


def test_movement_compares_with_m_minus_1_on_the_same_configuration():
    # With top_n = 1, N2 (2nd in May) was not on May's top-1 list: "new" in June.
    crimes = [
        crime("C1", "19D", "2025-05-01"),
        crime("C2", "19C", "2025-05-01"),
        crime("C3", "19G", "2025-06-01"),
    ]
    links = [link("C1", "N1"), link("C2", "N2"), link("C3", "N2")]
    s = load(crimes, links, config=cfg(scoring={"top_n": 1}))
    s.run()
    assert _movements(s) == [("N2", "new")]
    s2 = load(crimes, links, config=cfg(scoring={"top_n": 2}))
    s2.run()
    assert _movements(s2) == [("N2", 1), ("N1", -1)]


def test_movement_on_the_repeat_list():
    # Rule rasso-repeat-interim: R1 flagged from 2025-04, R2 from 2025-06 with more crimes.
    crimes = [
        crime("R1a", "19C", "2025-03-01", da=False),
        crime("R1b", "19C", "2025-04-01", da=False),
        crime("R2a", "19C", "2025-06-01", da=False),
        crime("R2b", "19D", "2025-06-02", da=False),
        crime("R2c", "19D", "2025-06-03", da=False),
    ]
    links = [link(c["crime_id"], c["crime_id"][:2]) for c in crimes]
    s = score_backfill(crimes, links, "2025-05", "2025-06")
    assert _movements(s, "ALL", "repeat") == [("R2", "new"), ("R1", -1)]
    assert [(e["nominal_id"], e["movement"]) for e in s.entries("ALL", "repeat", "2025-05")] == [
        ("R1", 0)
    ]
    alone = score(crimes, links)  # by run: the same
    assert _movements(alone, "ALL", "repeat") == [("R2", "new"), ("R1", -1)]


def test_repeat_movement_when_the_attributed_lpa_changes():
    """The same list means the same LPA's repeat list: a nominal now attributed to another LPA
    is "new" on that LPA's list, while its force-wide movement compares its ALL ranks."""
    T = "Telford & Wrekin"
    crimes = [
        # X: two qualifying crimes in H by 2025-04, two more in T in June (count tie 2-2,
        # broken by the latest qualifying crime: T)
        crime("X1", "19C", "2025-03-01", lpa=H, da=False),
        crime("X2", "19C", "2025-04-01", lpa=H, da=False),
        crime("X3", "19C", "2025-06-01", lpa=T, da=False),
        crime("X4", "19C", "2025-06-02", lpa=T, da=False),
        # Y: two in T in both months; Z: three in S in both months
        crime("Y1", "19C", "2025-01-01", lpa=T, da=False),
        crime("Y2", "19C", "2025-02-01", lpa=T, da=False),
        crime("Z1", "19C", "2024-11-01", lpa=S, da=False),
        crime("Z2", "19C", "2024-12-01", lpa=S, da=False),
        crime("Z3", "19C", "2025-01-01", lpa=S, da=False),
    ]
    links = [link(c["crime_id"], c["crime_id"][0]) for c in crimes]
    config = cfg(force={"lpas": [H, S, T]})
    for s in (
        score_backfill(crimes, links, "2025-05", "2025-06", config=config),
        score(crimes, links, config=config),  # by run: M-1 computed, never stored
    ):
        # M-1 (2025-05), ALL: Z 3 crimes, X 2 (latest 2025-04-01), Y 2 (latest 2025-02-01)
        # M   (2025-06), ALL: X 4, Z 3, Y 2
        assert _movements(s, "ALL", "repeat") == [("X", 1), ("Z", -1), ("Y", 0)]
        # X was first on Herefordshire's list at M-1; on Telford's it is new, and Y, first
        # there at M-1, is now second
        assert _movements(s, T, "repeat") == [("X", "new"), ("Y", -1)]
        assert _movements(s, H, "repeat") == []
        assert [e["lpa"] for e in s.entries("ALL", "repeat")] == [T, S, T]
