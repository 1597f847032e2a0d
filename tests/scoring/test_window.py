"""SPEC section 3, **Window**: ``recorded_on`` from the first day of month M-11 to the last day
of M, inclusive; ``window_months`` configurable; ``date_basis = committed_on`` with a null
``committed_on`` falling back to ``recorded_on``; ``last_recorded_on`` and the tie-breaks
always on ``recorded_on``."""

from __future__ import annotations

import pytest

from .scenario import cfg, crime, link, score, w

# One nominal per date, each with one 19C crime recorded that day; as-at month 2025-06.
EDGES = {
    "day before the window": ("2024-06-30", False),
    "first day of M-11": ("2024-07-01", True),
    "last day of M": ("2025-06-30", True),
    "day after M": ("2025-07-01", False),
    "first day of M": ("2025-06-01", True),
    "last day of M-12": ("2024-06-01", False),
}


@pytest.fixture(scope="module")
def edges():
    crimes = [crime(f"C{i}", "19C", on, da=False) for i, (on, _) in enumerate(EDGES.values())]
    links = [link(f"C{i}", f"N{i}") for i in range(len(EDGES))]
    return score(crimes, links)


@pytest.mark.parametrize("case", list(EDGES))
def test_window_edges(edges, case):
    i = list(EDGES).index(case)
    on, inside = EDGES[case]
    row = edges.scored(f"N{i}")
    if inside:
        assert row is not None and row["frequency"] == 1 and row["harm"] == w("19C")
        assert f"N{i}" in edges.ids("ALL", "harm")
    else:
        assert row is None, f"a crime recorded {on} is outside the window of 2025-06"
        assert f"N{i}" not in edges.ids("ALL", "frequency")


def test_list_object_states_the_window(edges):
    (obj,) = edges.objects("ALL", "harm")
    assert obj["window"] == {"start": _d("2024-07-01"), "end": _d("2025-06-30")}


def _d(text):
    from datetime import date

    return date.fromisoformat(text)


LEAP = [
    # (as-at month, in the window?) for a crime recorded on 29 Feb 2024
    ("2024-02", True),  # the last day of M is 29 Feb
    ("2024-03", True),
    ("2025-01", True),  # window 2024-02-01 .. 2025-01-31
    ("2025-02", False),  # window 2024-03-01 .. 2025-02-28
    ("2024-01", False),  # after the as-at month
]


@pytest.fixture(scope="module")
def leap():
    crimes = [
        crime("CL", "19C", "2024-02-29", da=False),
        crime("CF", "19C", "2025-02-28", da=False),  # last day of a common-year February
    ]
    return score(
        crimes,
        [link("CL", "LEAP"), link("CF", "FEB")],
        months=[m for m, _ in LEAP],
    )


@pytest.mark.parametrize(("month", "inside"), LEAP)
def test_leap_day(leap, month, inside):
    row = leap.scored("LEAP", month)
    assert (row is not None) is inside
    if inside:
        assert row["harm"] == w("19C")


def test_last_day_of_a_common_year_february(leap):
    assert leap.scored("FEB", "2025-02") is not None


@pytest.mark.parametrize(
    ("window_months", "start", "first_in", "last_out"),
    [
        (3, "2025-04-01", "2025-04-01", "2025-03-31"),
        (1, "2025-06-01", "2025-06-01", "2025-05-31"),
        (24, "2023-07-01", "2023-07-01", "2023-06-30"),
    ],
)
def test_window_months_is_configurable(window_months, start, first_in, last_out):
    s = score(
        [crime("IN", "19C", first_in, da=False), crime("OUT", "19C", last_out, da=False)],
        [link("IN", "N_IN"), link("OUT", "N_OUT")],
        config=cfg(scoring={"window_months": window_months}),
    )
    assert s.ids("ALL", "harm") == ["N_IN"]
    (obj,) = s.objects("ALL", "harm")
    assert obj["window"]["start"] == _d(start)
    assert obj["window"]["end"] == _d("2025-06-30")


# date_basis = committed_on ------------------------------------------------------------------
COMMITTED = cfg(scoring={"date_basis": "committed_on"})


@pytest.fixture(scope="module")
def committed():
    crimes = [
        # committed before the window, recorded inside it: out under committed_on
        crime("OLD", "19C", "2025-06-10", committed="2024-06-30", da=False),
        # committed on the first day of the window, recorded later: in
        crime("EDGE", "19C", "2025-01-10", committed="2024-07-01", da=False),
        # no committed_on: falls back to recorded_on (inside)
        crime("NULL_IN", "19C", "2024-07-01", da=False),
        # no committed_on: falls back to recorded_on (outside)
        crime("NULL_OUT", "19C", "2024-06-30", da=False),
        # recorded before the window but committed inside it: recorded_on is not the basis
        crime("REC_BEFORE", "19C", "2024-06-30", committed="2024-07-02", da=False),
        # last_recorded_on is the latest recorded_on, not the latest committed_on
        crime("L1", "8N", "2025-06-20", committed="2025-01-01"),
        crime("L2", "8N", "2025-02-01", committed="2025-06-01"),
    ]
    links = [
        link("OLD", "N_OLD"),
        link("EDGE", "N_EDGE"),
        link("NULL_IN", "N_NULL_IN"),
        link("NULL_OUT", "N_NULL_OUT"),
        link("REC_BEFORE", "N_REC_BEFORE"),
        link("L1", "N_LAST"),
        link("L2", "N_LAST"),
    ]
    return score(crimes, links, config=COMMITTED)


@pytest.mark.parametrize(
    ("nominal", "inside"),
    [
        ("N_OLD", False),
        ("N_EDGE", True),
        ("N_NULL_IN", True),
        ("N_NULL_OUT", False),
        ("N_REC_BEFORE", True),
    ],
)
def test_committed_on_basis(committed, nominal, inside):
    assert (committed.scored(nominal) is not None) is inside


def test_committed_on_basis_keeps_last_recorded_on_on_recorded_on(committed):
    e = committed.entry("N_LAST", "ALL", "frequency")
    assert e is not None
    assert str(e["last_recorded_on"]) == "2025-06-20"


def test_committed_on_basis_breaks_ties_on_recorded_on():
    # Equal harm and frequency; A was committed later but recorded earlier than B, and A's id
    # sorts first: the tie-break on last_recorded_on (recorded_on) puts B first.
    s = score(
        [
            crime("CA", "19C", "2025-06-21", committed="2025-06-20", da=False),
            crime("CB", "19C", "2025-06-25", committed="2025-01-01", da=False),
        ],
        [link("CA", "A"), link("CB", "B")],
        config=COMMITTED,
    )
    assert s.ids("ALL", "harm") == ["B", "A"]
    assert s.ids("ALL", "frequency") == ["B", "A"]


def test_recorded_on_basis_ignores_committed_on():
    s = score(
        [
            crime("IN", "19C", "2024-07-01", committed="2020-01-01", da=False),
            crime("OUT", "19C", "2024-06-30", committed="2025-01-01", da=False),
        ],
        [link("IN", "N_IN"), link("OUT", "N_OUT")],
    )
    assert s.ids("ALL", "frequency") == ["N_IN"]


def test_committed_on_basis_counts_a_crime_recorded_after_m():
    # SPEC 3 puts the window on the date basis: under committed_on an offence committed in the
    # window counts even when it was recorded after M (a backfilled month is scored on today's
    # data, as movement is). Ambiguous in the SPEC; this reading is the literal one.
    s = score(
        [crime("C1", "19C", "2025-07-15", committed="2025-06-20", da=False)],
        [link("C1", "N1")],
        config=COMMITTED,
    )
    e = s.entry("N1", "ALL", "harm")
    assert e is not None and str(e["last_recorded_on"]) == "2025-07-15"
