"""``harmrank.jsonout``: exact decimals with all their places, ISO dates, UTC offsets."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harmrank.jsonout import dumps


def test_decimals_are_exact_numbers_with_every_place() -> None:
    text = dumps(
        {"harm": Decimal("3142.094880"), "zero": Decimal("0.000000"), "neg": Decimal("-1.5")}
    )
    assert text == '{"harm": 3142.094880, "zero": 0.000000, "neg": -1.5}'


def test_nested_values_tuples_dates_and_timestamps() -> None:
    value = {
        "entries": [
            {"crimes": ({"weight": Decimal("12.000001"), "recorded_on": date(2025, 1, 31)},)},
            {"weight": None, "at": datetime(2026, 11, 29, 4, 39, 19, 5)},
        ]
    }
    assert json.loads(dumps(value), parse_float=Decimal) == {
        "entries": [
            {"crimes": [{"weight": Decimal("12.000001"), "recorded_on": "2025-01-31"}]},
            {"weight": None, "at": "2026-11-29T04:39:19.000005"},
        ]
    }


def test_utc_gives_naive_timestamps_their_offset_and_leaves_others() -> None:
    naive = datetime(2026, 11, 29, 4, 39, 19)
    aware = datetime(2026, 11, 29, 5, 39, 19, tzinfo=timezone(timedelta(hours=1)))
    text = dumps([naive, aware, date(2026, 11, 29)], utc=True)
    assert json.loads(text) == [
        "2026-11-29T04:39:19+00:00",
        "2026-11-29T05:39:19+01:00",
        "2026-11-29",
    ]
    assert json.loads(dumps([naive])) == ["2026-11-29T04:39:19"]
    assert json.loads(dumps([naive.replace(tzinfo=UTC)])) == ["2026-11-29T04:39:19+00:00"]


def test_text_is_never_mistaken_for_a_number() -> None:
    value = {"id": "D12.5", "quoted": '"12.5"', "weight": Decimal("1.000000")}
    assert json.loads(dumps(value), parse_float=Decimal) == {
        "id": "D12.5",
        "quoted": '"12.5"',
        "weight": Decimal("1.000000"),
    }


def test_what_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="set"):
        dumps({"codes": {"19C"}})


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False))
def test_any_six_place_decimal_round_trips(d: Decimal) -> None:
    parsed = json.loads(dumps({"harm": d}), parse_float=Decimal, parse_int=Decimal)
    assert parsed["harm"] == d
    assert dumps(d) == f"{d:f}"
