"""SPEC section 3, **Eligible crime**: ``status = recorded``, VAWG (code in the set *or* the
domestic-abuse flag), in the window, linked in any role but ``eliminated``; a crime counts once
per nominal however many link rows there are, and in full for each of several suspects."""

from __future__ import annotations

import pytest

from .scenario import cfg, crime, link, score, w

# nominal: (crimes, links, expected (harm, frequency) or None when not scored)
CASES = {
    "cancelled does not count": (
        [crime("C1", "19C", status="cancelled", da=False)],
        [link("C1", "N_CANCELLED")],
        None,
    ),
    "transferred does not count": (
        [crime("C2", "19C", status="transferred", da=False)],
        [link("C2", "N_TRANSFERRED")],
        None,
    ),
    "DA-flagged non-VAWG code counts": (
        [crime("C3", "105A", da=True)],
        [link("C3", "N_DA_NONVAWG")],
        (w("105A"), 1),
    ),
    "VAWG code without the DA flag counts": (
        [crime("C4", "19C", da=False)],
        [link("C4", "N_VAWG_NODA")],
        (w("19C"), 1),
    ),
    "non-VAWG, non-DA does not count": (
        [crime("C5", "105A", da=False)],
        [link("C5", "N_NEITHER")],
        None,
    ),
    "eliminated never counts": (
        [crime("C6", "19C", da=True)],
        [link("C6", "N_ELIMINATED", "eliminated")],
        None,
    ),
    "role suspect counts": (
        [crime("C7", "19C")],
        [link("C7", "N_SUSPECT", "suspect")],
        (w("19C"), 1),
    ),
    "role charged counts": (
        [crime("C8", "19C")],
        [link("C8", "N_CHARGED", "charged")],
        (w("19C"), 1),
    ),
    "role convicted counts": (
        [crime("C9", "19C")],
        [link("C9", "N_CONVICTED", "convicted")],
        (w("19C"), 1),
    ),
    "duplicate link rows collapse to one count": (
        [crime("C10", "19C")],
        [link("C10", "N_DUP"), link("C10", "N_DUP", "charged"), link("C10", "N_DUP")],
        (w("19C"), 1),
    ),
    # SPEC 1: duplicates keep the latest stage, eliminated over suspect -> the link never counts
    "duplicate suspect + eliminated collapse to eliminated": (
        [crime("C11", "19C")],
        [link("C11", "N_DUP_ELIM"), link("C11", "N_DUP_ELIM", "eliminated")],
        None,
    ),
    "duplicate charged + eliminated collapse to charged": (
        [crime("C12", "19C")],
        [link("C12", "N_DUP_CHARGED", "eliminated"), link("C12", "N_DUP_CHARGED", "charged")],
        (w("19C"), 1),
    ),
    "only the eligible crimes of a mixed nominal count": (
        [
            crime("C13", "19C"),
            crime("C14", "19D", status="cancelled"),
            crime("C15", "105A", da=False),
            crime("C16", "8N", on="2024-06-30"),
            crime("C17", "19G"),
        ],
        [
            link("C13", "N_MIXED"),
            link("C14", "N_MIXED"),
            link("C15", "N_MIXED"),
            link("C16", "N_MIXED"),
            link("C17", "N_MIXED", "eliminated"),
        ],
        (w("19C"), 1),
    ),
}


@pytest.fixture(scope="module")
def eligibility():
    crimes = [c for cs, _, _ in CASES.values() for c in cs]
    links = [x for _, ls, _ in CASES.values() for x in ls]
    return score(crimes, links, config=None)


@pytest.mark.parametrize("case", list(CASES))
def test_eligibility(eligibility, case):
    _, links, expected = CASES[case]
    nominal = links[0]["nominal_id"]
    row = eligibility.scored(nominal)
    if expected is None:
        assert row is None
        assert nominal not in eligibility.ids("ALL", "frequency")
    else:
        assert row is not None
        assert (row["harm"], row["frequency"]) == expected


def test_several_suspects_each_count_the_crime_in_full():
    s = score(
        [crime("C1", "19C", victim="V1"), crime("C2", "8N", victim="V2")],
        [
            link("C1", "A"),
            link("C1", "B", "charged"),
            link("C1", "C", "eliminated"),
            link("C2", "B"),
        ],
    )
    a, b = s.entry("A", "ALL", "harm"), s.entry("B", "ALL", "harm")
    assert (a["harm"], a["frequency"], a["victims"]) == (w("19C"), 1, 1)
    assert (b["harm"], b["frequency"], b["victims"]) == (w("19C", "8N"), 2, 2)
    assert s.scored("C") is None
    assert [c["crime_id"] for c in a["crimes"]] == ["C1"]


def test_the_same_extract_loaded_twice_counts_once():
    s = score([crime("C1", "19C")], [link("C1", "N1")])
    s.ingest(crimes=[crime("C1", "19C")], suspects=[link("C1", "N1")]).run()
    row = s.scored("N1")
    assert (row["harm"], row["frequency"]) == (w("19C"), 1)


def test_a_later_extract_that_eliminates_the_link_stops_it_counting():
    s = score([crime("C1", "19C"), crime("C2", "8N")], [link("C1", "N1"), link("C2", "N1")])
    s.ingest(crimes=[crime("C1", "19C")], suspects=[link("C1", "N1", "eliminated")]).run()
    row = s.scored("N1")
    assert (row["harm"], row["frequency"]) == (w("8N"), 1)


def test_a_later_extract_that_cancels_the_crime_stops_it_counting():
    s = score([crime("C1", "19C"), crime("C2", "8N")], [link("C1", "N1"), link("C2", "N1")])
    s.ingest(crimes=[crime("C1", "19C", status="cancelled")], suspects=[]).run()
    row = s.scored("N1")
    assert (row["harm"], row["frequency"]) == (w("8N"), 1)


def test_a_reclassified_crime_scores_its_new_code():
    s = score([crime("C1", "19C", da=False)], [link("C1", "N1")])
    s.ingest(crimes=[crime("C1", "19D", da=False)], suspects=[]).run()
    assert s.scored("N1")["harm"] == w("19D")
    s.ingest(crimes=[crime("C1", "105A", da=False)], suspects=[]).run()
    assert s.scored("N1") is None  # no longer VAWG


def test_vawg_set_is_the_spec_list():
    codes = "17A 17B 19C 19D 19E 19F 19G 19H 19J 19K 20A 20B 21 22A 22B 23 70 71 72 73 88A 88C 88D 88E 8Q 8U 8K".split()
    crimes = [crime(f"C{i}", code, da=False) for i, code in enumerate(codes)]
    crimes.append(crime("NOT", "8N", da=False))  # assault with injury without the DA flag
    links = [link(f"C{i}", f"N_{code}") for i, code in enumerate(codes)] + [link("NOT", "N_NOT")]
    s = score(crimes, links)
    scored = {code for code in codes if s.scored(f"N_{code}") is not None}
    assert scored == set(codes)
    assert s.scored("N_NOT") is None


def test_an_overridden_vawg_set_decides_what_is_vawg(tmp_path):
    # SPEC 2 and 6: offence sets are named and overridable (a list or a file of codes)
    (tmp_path / "vawg.txt").write_text("105A\n", encoding="utf-8")
    crimes = [
        crime("C1", "105A", da=False),
        crime("C2", "19C", da=False),
        crime("C3", "8N", da=True),
    ]
    links = [link("C1", "N_105A"), link("C2", "N_19C"), link("C3", "N_DA")]
    for sets in ({"vawg": ["105A"]}, {"vawg": "vawg.txt"}):
        s = score(crimes, links, config=cfg(tmp_path, scoring={"offence_sets": sets}))
        assert s.scored("N_105A") is not None
        assert s.scored("N_19C") is None
        assert s.scored("N_DA") is not None  # the DA flag still makes a crime VAWG
