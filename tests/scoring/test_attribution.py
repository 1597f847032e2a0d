"""SPEC section 3, **LPAs** and **Attribution**: ``principal`` (largest share of window harm;
ties → LPA of the latest recorded_on among the tied, then LPA name ascending), ``home``,
``presence``; ``ALL`` ranks everybody; every LPA gets its lists every month, empty where nobody
is scored; LPAs from ``[force] lpas``, else the lpas files, else the crimes."""

from __future__ import annotations

import pytest

from harmrank.scoring import LIST_KINDS

from .scenario import cfg, crime, link, load, score, w

H, S, T = "Herefordshire", "Shropshire", "Telford & Wrekin"
FIVE = [H, "North Worcestershire", S, "South Worcestershire", T]
D1, D2 = "2025-03-01", "2025-05-01"

PRINCIPAL = {
    # nominal: (crimes [(code, lpa, recorded_on)], expected principal LPA)
    "share of harm, not count of crimes": (
        [("8N", H, D1), ("8N", H, D1), ("8N", H, D1), ("19C", S, D1)],
        S,
    ),
    "harm summed per LPA": (
        [("19C", H, D1), ("19D", S, D1), ("19D", H, D1)],  # H: 19C+19D > S: 19D
        H,
    ),
    "tie in harm: LPA of the latest recorded_on": (
        [("19C", T, D2), ("19C", H, D1)],
        T,
    ),
    "tie in harm: latest recorded_on is per LPA, not per crime": (
        # H has the latest crime overall; T and H tie on harm; T's latest is earlier
        [("19C", H, D2), ("19C", T, D1), ("8U", S, "2025-06-30")],
        H,
    ),
    "tie in harm and latest date: LPA name ascending": (
        [("19C", T, D1), ("19C", H, D1), ("19C", S, D1)],
        H,
    ),
    "the LPA with most harm wins even when another has the latest crime": (
        [("19C", H, D1), ("8N", T, "2025-06-30")],
        H,
    ),
    "harm 0 everywhere: latest recorded_on": (
        [("8U", H, D1), ("8U", T, D2)],
        T,
    ),
    "harm 0 everywhere, same day: name": (
        [("8U", T, D1), ("8U", S, D1)],
        S,
    ),
}


def _rows(table):
    crimes, links = [], []
    for nid, (spec, _) in table.items():
        for i, (code, lpa, on) in enumerate(spec):
            cid = f"{nid}#{i}"
            crimes.append(crime(cid, code, on, lpa=lpa, da=True))
            links.append(link(cid, nid))
    return crimes, links


@pytest.fixture(scope="module")
def principal():
    crimes, links = _rows(PRINCIPAL)
    return score(crimes, links, config=cfg(force={"lpas": FIVE}, scoring={"top_n": 50}))


@pytest.mark.parametrize("case", list(PRINCIPAL))
def test_principal_attribution(principal, case):
    expected = PRINCIPAL[case][1]
    assert principal.scored(case)["lpa"] == expected
    kind = "frequency"
    for lpa in FIVE:
        on = case in principal.ids(lpa, kind)
        assert on is (lpa == expected), f"{case} on {lpa}'s list"
    assert principal.entry(case, "ALL", kind)["lpa"] == expected
    assert principal.entry(case, expected, kind)["lpa"] == expected


def test_all_ranks_every_scored_nominal(principal):
    assert sorted(principal.ids("ALL", "frequency")) == sorted(PRINCIPAL)


def test_lpa_names_sort_in_code_point_order():
    # "Zeta" < "alpha" < "Ärea" in code-point order: a harm tie goes to "Zeta"
    lpas = ["alpha", "Zeta", "Ärea"]
    s = score(
        [crime(f"C{i}", "19C", D1, lpa=lpa) for i, lpa in enumerate(lpas)],
        [link(f"C{i}", "N1") for i in range(3)],
        config=cfg(force={"lpas": lpas}),
    )
    assert s.scored("N1")["lpa"] == "Zeta"
    assert [o["lpa"] for o in s.objects(kind="harm")] == ["Zeta", "alpha", "Ärea", "ALL"]


# home ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def home():
    crimes = [
        crime("C1", "19C", D1, lpa=S),
        crime("C2", "19C", D1, lpa=S),
        crime("C3", "19C", D1, lpa=S),
        crime("C4", "19C", D1, lpa=S),
        crime("C5", "19C", D1, lpa=S),
        crime("C6", "19C", D1, lpa=T),
        crime("C7", "8N", D2, lpa=S),
    ]
    links = [
        link("C1", "HOME_H"),
        link("C2", "HOME_NULL"),
        link("C3", "HOME_UNKNOWN"),
        link("C4", "NO_ROW"),
        link("C5", "HOME_SPACES"),
        link("C6", "HOME_T"),
        link("C7", "HOME_T"),
    ]
    nominals = [
        {"nominal_id": "HOME_H", "birth_year": 1980, "home_lpa": H},
        {"nominal_id": "HOME_NULL", "birth_year": 1980, "home_lpa": ""},
        {"nominal_id": "HOME_UNKNOWN", "birth_year": 1980, "home_lpa": "Atlantis"},
        {"nominal_id": "HOME_SPACES", "birth_year": 1980, "home_lpa": f"  {H} "},
        {"nominal_id": "HOME_T", "birth_year": 1980, "home_lpa": T},
    ]
    return score(
        crimes,
        links,
        nominals=nominals,
        config=cfg(force={"lpas": FIVE}, scoring={"attribution": "home"}),
    )


@pytest.mark.parametrize(
    ("nominal", "expected"),
    [
        ("HOME_H", H),  # no crime in its home LPA: still its home LPA's list
        ("HOME_NULL", S),  # null home_lpa: principal
        ("HOME_UNKNOWN", S),  # not a known LPA: principal
        ("NO_ROW", S),  # not in the nominals file: principal
        ("HOME_SPACES", H),  # LPA names are compared after trimming
        ("HOME_T", T),  # home agrees with... not principal (S has 8N but T has 19C)
    ],
)
def test_home_attribution(home, nominal, expected):
    assert home.scored(nominal)["lpa"] == expected
    for lpa in FIVE:
        assert (nominal in home.ids(lpa, "harm")) is (lpa == expected)
    assert home.entry(nominal, "ALL", "harm")["lpa"] == expected


# presence -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def presence():
    crimes = [
        crime("P1", "19C", D1, lpa=H),
        crime("P2", "8N", D2, lpa=S),
        crime("P3", "8N", D2, lpa=S, status="cancelled"),  # not eligible: not on T's list
        crime("Q1", "19D", D1, lpa=S),
        crime("X1", "8N", "2024-01-01", lpa=T),  # outside the window: not present in T
    ]
    links = [link("P1", "P"), link("P2", "P"), link("Q1", "Q"), link("X1", "P")]
    return score(
        crimes, links, config=cfg(force={"lpas": FIVE}, scoring={"attribution": "presence"})
    )


def test_presence_lists_the_nominal_in_every_lpa_with_an_eligible_crime(presence):
    for kind in ("harm", "frequency"):
        assert presence.ids(H, kind) == ["P"]
        assert presence.ids(S, kind) == ["Q", "P"] if kind == "harm" else ["P", "Q"]
        assert presence.ids(T, kind) == []
        assert sorted(presence.ids("ALL", kind)) == ["P", "Q"]


def test_presence_entries_carry_force_wide_scores(presence):
    for lpa in (H, S, "ALL"):
        e = presence.entry("P", lpa, "harm")
        assert (e["harm"], e["frequency"]) == (w("19C", "8N"), 2)
        assert {c["crime_id"] for c in e["crimes"]} == {"P1", "P2"}


def test_presence_history_keeps_the_principal_lpa(presence):
    row = presence.scored("P")
    assert row["lpa"] == H
    assert row["harm_rank"] == 1 and row["frequency_rank"] == 1
    assert presence.entry("P", S, "harm")["lpa"] == H  # the entry names its principal LPA


# every LPA gets its lists ---------------------------------------------------------------------
def test_every_lpa_gets_every_list_every_month_even_empty():
    s = score(
        [crime("C1", "19C", D1, lpa=S)],
        [link("C1", "N1")],
        config=cfg(force={"lpas": FIVE}),
        months=["2025-06", "2030-01"],  # 2030-01: nobody is scored at all
    )
    for month in ("2025-06", "2030-01"):
        objs = s.objects(month=month)
        assert [(o["lpa"], o["list"]) for o in objs] == [
            (lpa, k) for lpa in [*FIVE, "ALL"] for k in LIST_KINDS
        ]
        for o in objs:
            expected = (
                ["N1"]
                if (month == "2025-06" and o["lpa"] in (S, "ALL") and o["list"] != "repeat")
                else []
            )
            assert [e["nominal_id"] for e in o["entries"]] == expected


@pytest.mark.parametrize(
    ("config_lpas", "lpas_file", "expected"),
    [
        (["Alpha", "Beta", "Shropshire"], None, ["Alpha", "Beta", "Shropshire"]),
        (["Shropshire", "Zulu"], ["Shropshire", "Beta"], ["Shropshire", "Zulu"]),  # config decides
        (None, ["Shropshire", "Beta", "Alpha"], ["Alpha", "Beta", "Shropshire"]),
        (None, None, [H, S, T]),  # from the crimes (any status, any date)
    ],
)
def test_where_the_lpas_come_from(config_lpas, lpas_file, expected):
    crimes = [
        crime("C1", "19C", D1, lpa=S),
        crime("C2", "105A", D1, lpa=H, da=False),  # not VAWG
        crime("C3", "19C", "2010-01-01", lpa=T, status="cancelled"),
    ]
    config = cfg(force={"lpas": config_lpas}) if config_lpas else None
    known = config_lpas or lpas_file
    if known:  # crimes outside a known list are quarantined at ingest (SPEC 1)
        crimes = [c for c in crimes if c["lpa"] in known]
    s = load(crimes, [link("C1", "N1")], config=config, lpas=lpas_file)
    s.run()
    assert [o["lpa"] for o in s.objects(kind="harm")] == [*expected, "ALL"]


def test_no_list_is_stored_for_an_lpa_the_configuration_no_longer_knows():
    """Crimes ingested before the configured LPAs changed keep their LPA: a nominal attributed
    to an LPA that is not (or no longer) known is on the ALL lists only, and no list of that
    LPA is stored."""
    s = load(
        [crime("C1", "19C", D1, lpa=S), crime("C2", "19C", D2, lpa=H)],
        [link("C1", "IN"), link("C2", "OUT")],
    )
    s.config = cfg(force={"lpas": [S]})
    s.run()
    assert [o["lpa"] for o in s.objects(kind="harm")] == [S, "ALL"]
    assert s.ids(S, "harm") == ["IN"]
    assert sorted(s.ids("ALL", "harm")) == ["IN", "OUT"]
    stored = s.store.execute("SELECT DISTINCT lpa FROM run_entries ORDER BY lpa").fetchall()
    assert stored == [("ALL",), (S,)]
