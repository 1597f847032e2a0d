"""SPEC section 3, **Explanation**: every entry lists its contributing crimes (crime_id, ho_code,
offence, recorded_on, lpa, weight), newest ``recorded_on`` first then ``crime_id``, and the
orders active on the last day of M; section 5: explaining a nominal not on any list, and a run
that stays as it was after a later ingest."""

from __future__ import annotations

from datetime import date

import pytest

from .scenario import cfg, crime, link, score, w

CRIME_FIELDS = ["crime_id", "ho_code", "offence", "recorded_on", "lpa", "weight"]

ORDERS = [
    # (order_id, order_type, starts_on, ends_on, active on 2025-06-30?)
    ("O1", "SHPO", "2025-06-30", "", True),  # starts on the last day of M
    ("O2", "DVPO", "2025-01-01", "2025-06-29", False),  # ended the day before
    ("O3", "NMO", "2025-01-01", "2025-06-30", True),  # ends on the last day of M
    ("O4", "RO", "2020-01-01", "", True),  # open-ended
    ("O5", "BAIL", "2025-07-01", "", False),  # starts the day after
    ("O6", "SRO", "2024-01-01", "2025-07-01", True),
]


@pytest.fixture(scope="module")
def explained():
    crimes = [
        crime("C9", "19C", "2025-05-01", lpa="Herefordshire"),
        crime("C10", "8N", "2025-05-01"),  # same day: "C10" < "C9" in code-point order
        crime("C2", "8U", "2025-06-30", da=False),
        crime("C1", "28A", "2024-07-01"),
        crime("X1", "19D", "2024-06-30"),  # outside the window
        crime("X2", "19D", "2025-02-01", status="cancelled"),
        crime("X3", "19D", "2025-02-01"),  # linked as eliminated
        crime("X4", "105A", "2025-02-01", da=False),  # not VAWG
        # N2: principal Herefordshire like N1 (19C there), behind N1 on every list (top_n = 1)
        crime("D1", "8N", "2025-04-01", lpa="Herefordshire"),
    ]
    links = [link(c, "N1") for c in ("C9", "C10", "C2", "C1", "X1", "X2")]
    links += [link("X3", "N1", "eliminated"), link("X4", "N1"), link("D1", "N2")]
    orders = [
        {"order_id": o, "nominal_id": "N1", "order_type": t, "starts_on": s, "ends_on": e}
        for o, t, s, e, _ in ORDERS
    ]
    orders.append(
        {
            "order_id": "O9",
            "nominal_id": "N2",
            "order_type": "DVPO",
            "starts_on": "2025-06-01",
            "ends_on": "",
        }
    )
    return score(crimes, links, orders=orders, config=cfg(scoring={"top_n": 1}))


def test_contributing_crimes_newest_first_then_crime_id(explained):
    e = explained.entry("N1", "ALL", "harm")
    assert [c["crime_id"] for c in e["crimes"]] == ["C2", "C10", "C9", "C1"]


def test_crime_fields(explained):
    e = explained.entry("N1", "ALL", "harm")
    by_id = {c["crime_id"]: c for c in e["crimes"]}
    for c in e["crimes"]:
        assert list(c) == CRIME_FIELDS
    assert by_id["C9"] == {
        "crime_id": "C9",
        "ho_code": "19C",
        "offence": "Rape of a female aged 16 and over",
        "recorded_on": date(2025, 5, 1),
        "lpa": "Herefordshire",
        "weight": w("19C"),
    }
    assert by_id["C2"]["weight"] is None
    assert by_id["C2"]["offence"] == "Controlling or coercive behaviour"
    assert by_id["C1"]["weight"] == w("28C")


def test_entry_sums_match_its_crimes(explained):
    e = explained.entry("N1", "ALL", "harm")
    assert e["harm"] == sum(c["weight"] or 0 for c in e["crimes"])
    assert e["frequency"] == len(e["crimes"])


@pytest.mark.parametrize(("order_id", "order_type", "starts", "ends", "active"), ORDERS)
def test_orders_active_on_the_last_day_of_m(explained, order_id, order_type, starts, ends, active):
    e = explained.entry("N1", "ALL", "harm")
    shown = {
        (o["order_type"], str(o["starts_on"]), "" if o["ends_on"] is None else str(o["ends_on"]))
        for o in e["orders"]
    }
    assert ((order_type, starts, ends) in shown) is active
    for o in e["orders"]:
        assert list(o) == ["order_type", "starts_on", "ends_on"]


def test_orders_are_the_nominals_own(explained):
    e = explained.entry("N1", "ALL", "harm")
    assert "DVPO" not in {
        o["order_type"] for o in e["orders"] if str(o["starts_on"]) == "2025-06-01"
    }


def test_explain_agrees_with_the_list_entry(explained):
    e = explained.entry("N1", "ALL", "harm")
    x = explained.explain("N1")
    assert x["crimes"] == e["crimes"]
    assert (x["harm"], x["frequency"], x["victims"]) == (e["harm"], e["frequency"], e["victims"])
    assert sorted(map(str, x["orders"])) == sorted(map(str, e["orders"]))


def test_explain_a_nominal_on_no_list(explained):
    assert "N2" not in explained.ids("ALL", "harm")
    assert "N2" not in explained.ids("ALL", "frequency")
    x = explained.explain("N2")
    assert x["harm"] == w("8N") and x["frequency"] == 1
    assert x["harm_rank"] == 2 and x["on_harm_list"] is False
    assert [c["crime_id"] for c in x["crimes"]] == ["D1"]
    assert list(x["crimes"][0]) == CRIME_FIELDS
    assert [o["order_type"] for o in x["orders"]] == ["DVPO"]


def test_a_run_does_not_change_after_a_later_ingest():
    s = score(
        [crime("C1", "19D", "2025-04-01"), crime("C2", "8N", "2025-05-01"), crime("C3", "8N")],
        [link("C1", "TOP"), link("C2", "LOW"), link("C3", "LOW")],
        orders=[
            {
                "order_id": "O1",
                "nominal_id": "LOW",
                "order_type": "DVPO",
                "starts_on": "2025-01-01",
                "ends_on": "",
            }
        ],
        config=cfg(scoring={"top_n": 1}),
    )
    before_explain = s.explain("LOW")
    before_lists = s.objects()
    before_history = s.history("LOW")
    assert [c["crime_id"] for c in before_explain["crimes"]] == ["C2", "C3"]
    # a later extract reclassifies C2, cancels C3, adds a crime and ends the order
    s.ingest(
        crimes=[
            crime("C2", "19C", "2025-05-01"),
            crime("C3", "8N", status="cancelled"),
            crime("C4", "8N"),
        ],
        suspects=[link("C4", "LOW")],
        orders=[
            {
                "order_id": "O1",
                "nominal_id": "LOW",
                "order_type": "DVPO",
                "starts_on": "2025-01-01",
                "ends_on": "2025-02-01",
            }
        ],
    )
    assert s.explain("LOW") == before_explain
    assert s.objects() == before_lists
    assert s.history("LOW") == before_history
    s.run()  # a new run of the month sees the new data
    after = s.explain("LOW")
    assert [c["crime_id"] for c in after["crimes"]] == ["C2", "C4"]
    assert after["orders"] == []


def test_explaining_a_nominal_on_no_list_reads_the_extract_as_it_stood_at_the_run():
    # LOW is on no list (top_n = 1: TOP leads both lists), so its explanation is recomputed
    # from the version history, not read from the crimes stored with the list entries
    s = score(
        [
            crime("T1", "19D", "2025-04-01"),
            crime("T2", "19D", "2025-04-02"),
            crime("C2", "8N", "2025-05-01"),
            crime("C3", "8N", "2025-05-02"),
        ],
        [link("T1", "TOP"), link("T2", "TOP"), link("C2", "LOW"), link("C3", "LOW")],
        config=cfg(scoring={"top_n": 1}),
    )
    on_lists = {e["nominal_id"] for o in s.objects() for e in o["entries"]}
    assert "LOW" not in on_lists
    before = s.explain("LOW")
    assert [(c["crime_id"], c["ho_code"]) for c in before["crimes"]] == [
        ("C3", "8N"),
        ("C2", "8N"),
    ]
    # later: C2 reclassified and LOW's link to it now eliminated, C3 cancelled, a new crime
    s.ingest(
        crimes=[
            crime("C2", "19C", "2025-05-01"),
            crime("C3", "8N", "2025-05-02", status="cancelled"),
            crime("C4", "8N", "2025-05-03"),
        ],
        suspects=[link("C2", "LOW", "eliminated"), link("C4", "LOW")],
    )
    assert s.explain("LOW") == before
    s.run()  # a new run of the month sees the new data
    assert [(c["crime_id"], c["ho_code"]) for c in s.explain("LOW")["crimes"]] == [("C4", "8N")]
