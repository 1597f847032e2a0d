"""SPEC section 3, **Repeat-suspect list**: every nominal the rule flags at M, whether or not it
has a crime in the 12-month window, not cut at ``top_n``; attributed to the LPA holding most of
its qualifying crimes (ties: latest qualifying recorded_on, then name); ordered by qualifying
desc, distinct victims desc, latest qualifying recorded_on desc, nominal_id; entries carry
rank, nominal_id, lpa, qualifying, victims (known only), last_recorded_on, crimes, reasons,
movement."""

from __future__ import annotations

from datetime import date

import pytest

from .scenario import cfg, crime, link, score, w

H, S, T = "Herefordshire", "Shropshire", "Telford & Wrekin"
LPAS = [H, S, T]
CONFIG = cfg(force={"lpas": LPAS}, scoring={"top_n": 2})


def _nominal(nid, *crimes_):
    """(code, recorded_on, lpa, victim) per crime; 19C etc. are RASSO, 8N is not."""
    rows, links = [], []
    for i, (code, on, lpa, victim) in enumerate(crimes_):
        cid = f"{nid}#{i}"
        rows.append(crime(cid, code, on, lpa=lpa, da=False, victim=victim))
        links.append(link(cid, nid))
    return rows, links


NOMINALS = [
    # no crime in the 12-month window (2024-07-01 .. 2025-06-30) but two within 36 months
    _nominal("OLD", ("19C", "2023-01-01", S, "V1"), ("19D", "2023-06-01", S, "V2")),
    # most qualifying crimes in H although most harm in T; one non-RASSO DA crime not listed
    _nominal(
        "COUNT",
        ("20A", "2025-01-01", H, "V1"),
        ("20A", "2025-02-01", H, "V1"),
        ("19D", "2025-03-01", T, "V3"),
    ),
    # tie on count between H and T: the LPA of the latest qualifying crime (T)
    _nominal("LATEST", ("19C", "2025-01-01", H, "V1"), ("19C", "2025-02-01", T, None)),
    # tie on count and latest date: name (H < T)
    _nominal("NAME", ("19C", "2024-01-01", T, None), ("19C", "2024-01-01", H, None)),
]
for i in range(9):  # more than top_n flagged nominals: the repeat list is not cut
    NOMINALS.append(
        _nominal(f"F{i}", ("19C", "2023-03-01", S, None), ("19C", "2023-03-01", S, None))
    )
EXTRA = (
    [crime("COUNT#x", "8N", "2025-06-01", lpa=H, da=True)],
    [link("COUNT#x", "COUNT")],
)


@pytest.fixture(scope="module")
def repeat():
    crimes, links = list(EXTRA[0]), list(EXTRA[1])
    for c, lk in NOMINALS:
        crimes += c
        links += lk
    return score(crimes, links, config=CONFIG)


def test_a_flagged_nominal_with_no_crime_in_the_window_is_on_the_repeat_list(repeat):
    assert "OLD" in repeat.ids("ALL", "repeat")
    assert "OLD" in repeat.ids(S, "repeat")
    assert repeat.scored("OLD") is None
    assert "OLD" not in repeat.ids("ALL", "frequency")


def test_the_repeat_list_is_not_cut_at_top_n(repeat):
    assert len(repeat.entries("ALL", "repeat")) == 13
    assert len(repeat.entries("ALL", "harm")) == 2


@pytest.mark.parametrize(
    ("nominal", "lpa"), [("OLD", S), ("COUNT", H), ("LATEST", T), ("NAME", H), ("F0", S)]
)
def test_repeat_attribution(repeat, nominal, lpa):
    (e,) = [e for e in repeat.entries("ALL", "repeat") if e["nominal_id"] == nominal]
    assert e["lpa"] == lpa
    for other in LPAS:
        assert (nominal in repeat.ids(other, "repeat")) is (other == lpa)


def test_repeat_order(repeat):
    # COUNT: 3 qualifying; then the 2s: OLD has 2 known victims; LATEST 1; NAME and F* 0,
    # ordered by latest qualifying recorded_on desc (NAME 2024-01-01 before F* 2023-03-01),
    # then nominal_id.
    expected = ["COUNT", "OLD", "LATEST", "NAME"] + [f"F{i}" for i in range(9)]
    assert repeat.ids("ALL", "repeat") == expected
    assert [e["rank"] for e in repeat.entries("ALL", "repeat")] == list(range(1, 14))
    assert repeat.ids(S, "repeat") == ["OLD"] + [f"F{i}" for i in range(9)]
    assert [e["rank"] for e in repeat.entries(S, "repeat")] == list(range(1, 11))


def test_repeat_entry_fields(repeat):
    e = repeat.entries("ALL", "repeat")[0]
    for key in [
        "rank",
        "nominal_id",
        "lpa",
        "qualifying",
        "victims",
        "last_recorded_on",
        "crimes",
        "reasons",
        "movement",
    ]:
        assert key in e
    assert e["nominal_id"] == "COUNT"
    assert e["qualifying"] == 3
    assert e["victims"] == 2
    assert e["last_recorded_on"] == date(2025, 3, 1)
    assert [c["crime_id"] for c in e["crimes"]] == ["COUNT#2", "COUNT#1", "COUNT#0"]
    assert e["crimes"][0] == {
        "crime_id": "COUNT#2",
        "ho_code": "19D",
        "offence": e["crimes"][0]["offence"],
        "recorded_on": date(2025, 3, 1),
        "lpa": T,
        "weight": w("19D"),
    }
    assert e["crimes"][0]["offence"]
    assert e["movement"] == 0  # flagged at 2025-05 too, first there as well
    assert e["reasons"] and all(isinstance(r, str) for r in e["reasons"])


def test_repeat_victims_count_known_victims_only(repeat):
    by_id = {e["nominal_id"]: e for e in repeat.entries("ALL", "repeat")}
    assert by_id["LATEST"]["victims"] == 1
    assert by_id["NAME"]["victims"] == 0
    assert by_id["OLD"]["victims"] == 2


def test_repeat_suspect_flag_on_harm_and_frequency_entries(repeat):
    e = repeat.entry("COUNT", "ALL", "harm")
    assert e is not None and e["repeat_suspect"] is True
    assert repeat.scored("COUNT")["repeat_suspect"] is True


def test_a_nominal_not_flagged_has_the_flag_false():
    s = score([crime("C1", "19C", da=False)], [link("C1", "N1")])
    assert s.entry("N1", "ALL", "harm")["repeat_suspect"] is False
    assert s.scored("N1")["repeat_suspect"] is False
    assert s.ids("ALL", "repeat") == []
