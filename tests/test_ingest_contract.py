"""Every value rule of the input contract (SPEC section 1), each with a row that breaks it.

Each case writes a file of three rows, the middle one (line 3) broken, and checks that exactly
that line is quarantined with the reason a person can act on, and that the others are stored.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from harmrank.config import Config
from harmrank.contract import CRIMES, NOMINALS, ORDERS, SUSPECTS
from harmrank.ingest import ingest_extract
from harmrank.testing import write_csv

GOOD = {
    "crimes": {
        "crime_id": "C{}",
        "ho_code": "8N",
        "recorded_on": "2025-01-15",
        "committed_on": "2025-01-10",
        "lpa": "Shropshire",
        "domestic_abuse": "true",
        "victim_id": "V1",
        "status": "recorded",
        "outcome": "",
        "updated_at": "2025-01-16T10:00:00",
    },
    "suspects": {"crime_id": "C1", "nominal_id": "N{}", "role": "suspect"},
    "nominals": {"nominal_id": "N{}", "birth_year": "1980", "home_lpa": "Shropshire"},
    "orders": {
        "order_id": "O{}",
        "nominal_id": "N1",
        "order_type": "DVPO",
        "starts_on": "2025-01-01",
        "ends_on": "2025-02-01",
    },
    "lpas": {"lpa": "Area {}"},  # "Area 1" is Shropshire, where the crimes are
}
COLUMNS = {
    "crimes": list(CRIMES.column_names),
    "suspects": list(SUSPECTS.column_names),
    "nominals": list(NOMINALS.column_names),
    "orders": list(ORDERS.column_names),
    "lpas": ["lpa"],
}


def quarantined(store, file):
    return store.execute(
        "SELECT line, reason, raw::VARCHAR FROM quarantine WHERE file = ? ORDER BY line", [file]
    ).fetchall()


CASES = [
    # crimes: ids, codes, dates
    ("crimes", {"crime_id": ""}, "crime_id is empty"),
    ("crimes", {"ho_code": ""}, "ho_code is empty"),
    ("crimes", {"recorded_on": ""}, "recorded_on is empty"),
    (
        "crimes",
        {"recorded_on": "2025-02-30"},
        "recorded_on '2025-02-30' is not a date in the form YYYY-MM-DD",
    ),
    (
        "crimes",
        {"recorded_on": "31/12/2025"},
        "recorded_on '31/12/2025' is not a date in the form YYYY-MM-DD",
    ),
    (
        "crimes",
        {"recorded_on": "2025-1-5"},
        "recorded_on '2025-1-5' is not a date in the form YYYY-MM-DD",
    ),
    (
        "crimes",
        {"recorded_on": "2025-01-15T10:00"},
        "recorded_on '2025-01-15T10:00' is not a date in the form YYYY-MM-DD",
    ),
    (
        "crimes",
        {"committed_on": "2024-13-01"},
        "committed_on '2024-13-01' is not a date in the form YYYY-MM-DD",
    ),
    # lpa
    ("crimes", {"lpa": ""}, "lpa is empty"),
    ("crimes", {"lpa": "   "}, "lpa is empty"),
    # booleans
    ("crimes", {"domestic_abuse": ""}, "domestic_abuse is empty"),
    (
        "crimes",
        {"domestic_abuse": "maybe"},
        "domestic_abuse 'maybe' is not true/false, 1/0, Y/N or yes/no",
    ),
    (
        "crimes",
        {"domestic_abuse": "t"},
        "domestic_abuse 't' is not true/false, 1/0, Y/N or yes/no",
    ),
    (
        "crimes",
        {"domestic_abuse": " true"},
        "domestic_abuse ' true' is not true/false, 1/0, Y/N or yes/no",
    ),
    ("crimes", {"domestic_abuse": "2"}, "domestic_abuse '2' is not true/false, 1/0, Y/N or yes/no"),
    # status: exact lower case
    ("crimes", {"status": ""}, "status is empty"),
    (
        "crimes",
        {"status": "Recorded"},
        "status 'Recorded' is not one of recorded, cancelled, transferred",
    ),
    ("crimes", {"status": "open"}, "status 'open' is not one of recorded, cancelled, transferred"),
    # outcome 1-22
    ("crimes", {"outcome": "0"}, "outcome '0' is not a whole number from 1 to 22"),
    ("crimes", {"outcome": "23"}, "outcome '23' is not a whole number from 1 to 22"),
    ("crimes", {"outcome": "-3"}, "outcome '-3' is not a whole number from 1 to 22"),
    ("crimes", {"outcome": "x"}, "outcome 'x' is not a whole number from 1 to 22"),
    ("crimes", {"outcome": "1.5"}, "outcome '1.5' is not a whole number from 1 to 22"),
    ("crimes", {"outcome": " 5"}, "outcome ' 5' is not a whole number from 1 to 22"),
    (
        "crimes",
        {"outcome": "99999999999"},
        "outcome '99999999999' is not a whole number from 1 to 22",
    ),
    # updated_at
    (
        "crimes",
        {"updated_at": "yesterday"},
        "updated_at 'yesterday' is not an ISO timestamp (YYYY-MM-DDTHH:MM:SS, optional offset)",
    ),
    (
        "crimes",
        {"updated_at": "2025-01-16T25:00:00"},
        "updated_at '2025-01-16T25:00:00' is not an ISO timestamp (YYYY-MM-DDTHH:MM:SS, optional offset)",
    ),
    # text: length and control characters
    ("crimes", {"victim_id": "V" * 257}, "victim_id is longer than 256 characters"),
    (
        "crimes",
        {"victim_id": "V\t1"},
        "victim_id contains a control character (a tab, line break or similar)",
    ),
    (
        "crimes",
        {"crime_id": "C\n2"},
        "crime_id contains a control character (a tab, line break or similar)",
    ),
    # several broken rules: every reason, in column order
    (
        "crimes",
        {"ho_code": "", "status": "x"},
        "ho_code is empty; status 'x' is not one of recorded, cancelled, transferred",
    ),
    # suspects
    ("suspects", {"crime_id": ""}, "crime_id is empty"),
    ("suspects", {"nominal_id": ""}, "nominal_id is empty"),
    ("suspects", {"role": ""}, "role is empty"),
    (
        "suspects",
        {"role": "Suspect"},
        "role 'Suspect' is not one of suspect, charged, convicted, eliminated",
    ),
    (
        "suspects",
        {"role": "witness"},
        "role 'witness' is not one of suspect, charged, convicted, eliminated",
    ),
    # nominals
    ("nominals", {"nominal_id": ""}, "nominal_id is empty"),
    (
        "nominals",
        {"birth_year": "19x5"},
        "birth_year '19x5' is not a whole number from 1900 to 2100",
    ),
    (
        "nominals",
        {"birth_year": "1899"},
        "birth_year '1899' is not a whole number from 1900 to 2100",
    ),
    (
        "nominals",
        {"birth_year": "2101"},
        "birth_year '2101' is not a whole number from 1900 to 2100",
    ),
    # orders
    ("orders", {"order_id": ""}, "order_id is empty"),
    ("orders", {"nominal_id": ""}, "nominal_id is empty"),
    ("orders", {"order_type": ""}, "order_type is empty"),
    ("orders", {"starts_on": ""}, "starts_on is empty"),
    (
        "orders",
        {"starts_on": "01/01/2025"},
        "starts_on '01/01/2025' is not a date in the form YYYY-MM-DD",
    ),
    (
        "orders",
        {"ends_on": "2025-02-29"},
        "ends_on '2025-02-29' is not a date in the form YYYY-MM-DD",
    ),
    ("orders", {"starts_on": "2025-03-01", "ends_on": "2025-02-28"}, "ends_on is before starts_on"),
    # lpas
    ("lpas", {"lpa": ""}, "lpa is empty"),
    ("lpas", {"lpa": "  "}, "lpa is empty"),
]


@pytest.mark.parametrize("file", ["crimes", "suspects", "nominals", "orders", "lpas"])
def test_every_row_that_breaks_a_rule_is_quarantined_with_its_line_and_reason(
    store, tmp_path, file
):
    """One extract per file: a good row, then each broken row of CASES, then a good row."""
    cases = [(broken, reason) for f, broken, reason in CASES if f == file]
    base = {k: v.format(1) for k, v in GOOD[file].items()}
    if file == "lpas":
        base["lpa"] = "Shropshire"
    rows = [base]
    for i, (broken, _) in enumerate(cases):
        row = {k: v.format(100 + i) for k, v in GOOD[file].items()}
        rows.append({**row, **broken})
    rows.append({k: v.format(2) for k, v in GOOD[file].items()})

    folder = tmp_path / "extract"
    folder.mkdir()
    crimes = rows if file == "crimes" else [{k: v.format(1) for k, v in GOOD["crimes"].items()}]
    write_csv(folder / "crimes.csv", crimes, COLUMNS["crimes"])
    write_csv(folder / "suspects.csv", rows if file == "suspects" else [], COLUMNS["suspects"])
    if file in ("nominals", "orders", "lpas"):
        write_csv(folder / f"{file}.csv", rows, COLUMNS[file])
    report = ingest_extract(store, folder, Config())

    got = quarantined(store, file)
    # the header is line 1, the good row line 2, then one line per case (more where a quoted
    # value holds a line break: the line reported is the one where the record starts)
    expected, line = [], 3
    for broken, reason in cases:
        expected.append((line, reason))
        line += 1 + sum(v.count("\n") for v in broken.values())
    assert [(line, why) for line, why, _ in got] == expected
    for (broken, _), (_, _, raw_text) in zip(cases, got, strict=True):
        raw = json.loads(raw_text)
        assert set(raw) == set(COLUMNS[file])  # the raw values of the contract columns
        for column, value in broken.items():
            assert raw[column] == (value or None)
    rep = report.files[file]
    assert (rep.read, rep.accepted, rep.quarantined) == (len(rows), 2, len(cases))
    # nothing was quarantined in any other file
    assert store.scalar("SELECT count(*) FROM quarantine") == len(cases)


def ingest_crimes(store, tmp_path, variants: list[dict[str, str]]):
    """Crimes C1, C2, … each a good crime changed by one variant."""
    folder = tmp_path / "extract"
    folder.mkdir()
    rows = [
        {**{k: v.format(i) for k, v in GOOD["crimes"].items()}, **variant}
        for i, variant in enumerate(variants, start=1)
    ]
    write_csv(folder / "crimes.csv", rows, COLUMNS["crimes"])
    write_csv(folder / "suspects.csv", [], COLUMNS["suspects"])
    return ingest_extract(store, folder, Config())


def column_of(store, column: str) -> list:
    rows = store.execute(
        f"SELECT {column} FROM crimes ORDER BY length(crime_id), crime_id"
    ).fetchall()
    return [r[0] for r in rows]


BOOLEANS = [
    ("true", True),
    ("TRUE", True),
    ("True", True),
    ("1", True),
    ("Y", True),
    ("y", True),
    ("yes", True),
    ("YES", True),
    ("false", False),
    ("FALSE", False),
    ("0", False),
    ("N", False),
    ("n", False),
    ("no", False),
    ("No", False),
]


def test_booleans_in_any_case(store, tmp_path):
    ingest_crimes(store, tmp_path, [{"domestic_abuse": text} for text, _ in BOOLEANS])
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    assert column_of(store, "domestic_abuse") == [value for _, value in BOOLEANS]


def test_outcomes_from_1_to_22_and_empty_are_accepted(store, tmp_path):
    texts = [str(n) for n in range(1, 23)] + ["+5", "05", ""]
    ingest_crimes(store, tmp_path, [{"outcome": t} for t in texts])
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    assert column_of(store, "outcome") == [*range(1, 23), 5, 5, None]


def test_every_status_is_accepted(store, tmp_path):
    statuses = ["recorded", "cancelled", "transferred"]
    ingest_crimes(store, tmp_path, [{"status": s} for s in statuses])
    assert column_of(store, "status") == statuses


TIMESTAMPS = [
    ("2025-01-16T10:00:00", "2025-01-16 10:00:00"),
    ("2025-01-16 10:00:00", "2025-01-16 10:00:00"),
    ("2025-01-16T10:00", "2025-01-16 10:00:00"),
    ("2025-01-16", "2025-01-16 00:00:00"),
    ("2025-01-16T10:00:00Z", "2025-01-16 10:00:00"),
    ("2025-01-16T10:00:00+01:00", "2025-01-16 09:00:00"),
    ("2025-01-16T10:00:00-0230", "2025-01-16 12:30:00"),
    ("2025-01-16T10:00:00.123456", "2025-01-16 10:00:00.123456"),
    ("", None),
]


def test_updated_at_timestamps_are_read_as_utc(store, tmp_path):
    ingest_crimes(store, tmp_path, [{"updated_at": text} for text, _ in TIMESTAMPS])
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    assert column_of(store, "updated_at::VARCHAR") == [stored for _, stored in TIMESTAMPS]


def test_empty_means_null_for_nullable_columns(store, tmp_path):
    ingest_crimes(store, tmp_path, [{"committed_on": "", "victim_id": "", "outcome": ""}])
    assert store.one("SELECT committed_on, victim_id, outcome FROM crimes") == (None, None, None)


def test_accepted_rows_are_stored_typed(store, tmp_path):
    ingest_crimes(store, tmp_path, [{"outcome": "9"}])
    row = store.frame(
        "SELECT crime_id, ho_code, recorded_on, committed_on, lpa, domestic_abuse, victim_id, "
        "status, outcome FROM crimes"
    ).to_dicts()[0]
    assert row == {
        "crime_id": "C1",
        "ho_code": "8N",
        "recorded_on": dt.date(2025, 1, 15),
        "committed_on": dt.date(2025, 1, 10),
        "lpa": "Shropshire",
        "domestic_abuse": True,
        "victim_id": "V1",
        "status": "recorded",
        "outcome": 9,
    }


def test_a_text_of_256_characters_is_accepted(store, tmp_path):
    ingest_crimes(store, tmp_path, [{"victim_id": "V" * 256}])
    assert store.scalar("SELECT count(*) FROM quarantine") == 0


def test_birth_year_bounds_are_inclusive_and_nullable(store, tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    write_csv(folder / "crimes.csv", [], COLUMNS["crimes"])
    write_csv(folder / "suspects.csv", [], COLUMNS["suspects"])
    write_csv(
        folder / "nominals.csv",
        [
            {"nominal_id": "N1", "birth_year": "1900"},
            {"nominal_id": "N2", "birth_year": "2100"},
            {"nominal_id": "N3", "birth_year": ""},
        ],
        COLUMNS["nominals"],
    )
    ingest_extract(store, folder, Config())
    assert store.execute("SELECT nominal_id, birth_year FROM nominals ORDER BY 1").fetchall() == [
        ("N1", 1900),
        ("N2", 2100),
        ("N3", None),
    ]


def test_an_open_ended_order_and_a_one_day_order_are_accepted(store, tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    write_csv(folder / "crimes.csv", [], COLUMNS["crimes"])
    write_csv(folder / "suspects.csv", [], COLUMNS["suspects"])
    base = {"nominal_id": "N1", "order_type": "DVPO", "starts_on": "2025-01-01"}
    write_csv(
        folder / "orders.csv",
        [
            {**base, "order_id": "O1", "ends_on": ""},
            {**base, "order_id": "O2", "ends_on": "2025-01-01"},
        ],
        COLUMNS["orders"],
    )
    ingest_extract(store, folder, Config())
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    assert store.execute("SELECT order_id, ends_on FROM orders ORDER BY 1").fetchall() == [
        ("O1", None),
        ("O2", dt.date(2025, 1, 1)),
    ]
