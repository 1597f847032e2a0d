"""Reading extract files: records, physical line numbers, and the rows that cannot be parsed.

Each test writes the bytes of a file by hand, so that line breaks, quotes and encodings are
exactly those under test, and checks what ingest quarantines (line and reason) and stores.
"""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harmrank.config import Config
from harmrank.contract import CRIMES
from harmrank.contract import SUSPECTS as SUSPECTS_CONTRACT
from harmrank.ingest import ingest_extract
from harmrank.readers import read_file

HEADER = "crime_id,ho_code,recorded_on,committed_on,lpa,domestic_abuse,victim_id,status,outcome"
SUSPECTS = "crime_id,nominal_id,role\n"


def crime(crime_id: str, *, notes: str | None = None, **values: str) -> str:
    """One crimes record (no line terminator); ``notes`` adds a tenth, ignored field."""
    row = {
        "crime_id": crime_id,
        "ho_code": "8N",
        "recorded_on": "2025-01-15",
        "committed_on": "",
        "lpa": "Shropshire",
        "domestic_abuse": "true",
        "victim_id": "",
        "status": "recorded",
        "outcome": "",
        **values,
    }
    fields = [row[c] for c in HEADER.split(",")]
    if notes is not None:
        fields.append(notes)
    return ",".join(fields)


def quarantine(store, file: str = "crimes") -> list[tuple[int, str]]:
    rows = store.execute(
        "SELECT line, reason FROM quarantine WHERE file = ? ORDER BY line", [file]
    ).fetchall()
    return [(int(line), reason) for line, reason in rows]


def crime_ids(store) -> list[str]:
    return [r[0] for r in store.execute("SELECT crime_id FROM crimes ORDER BY crime_id").fetchall()]


def ingest(store, folder, config=None):
    return ingest_extract(store, folder, config or Config())


def test_a_line_break_inside_a_quoted_field_keeps_later_line_numbers_physical(store, write_files):
    body = "\n".join(
        [
            HEADER + ",notes",
            crime("C1", notes='"first line\nsecond line\nthird line"'),  # lines 2-4
            crime("C2", notes="plain"),  # line 5
            crime("C3", notes="x", recorded_on="2025-02-30"),  # line 6: bad
        ]
    )
    folder = write_files(crimes=body + "\n", suspects=SUSPECTS)
    report = ingest(store, folder)
    assert quarantine(store) == [
        (6, "recorded_on '2025-02-30' is not a date in the form YYYY-MM-DD")
    ]
    assert crime_ids(store) == ["C1", "C2"]
    assert report.files["crimes"].read == 3


def test_crlf_line_endings_give_the_same_lines_and_values(store, write_files):
    lines = [HEADER, crime("C1", outcome="9"), crime("C2", outcome="23"), crime("C3")]
    folder = write_files(crimes="\r\n".join(lines) + "\r\n", suspects=SUSPECTS)
    ingest(store, folder)
    assert quarantine(store) == [(3, "outcome '23' is not a whole number from 1 to 22")]
    # the carriage return is not part of the last field
    assert store.execute("SELECT outcome FROM crimes WHERE crime_id = 'C1'").fetchall() == [(9,)]
    assert crime_ids(store) == ["C1", "C3"]


def test_crlf_with_a_quoted_line_break(store, write_files):
    lines = [
        HEADER + ",notes",
        crime("C1", notes='"a\r\nb"'),
        crime("C2", notes="x", status="open"),
    ]
    folder = write_files(crimes="\r\n".join(lines) + "\r\n", suspects=SUSPECTS)
    ingest(store, folder)
    assert quarantine(store) == [
        (4, "status 'open' is not one of recorded, cancelled, transferred")
    ]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(store, write_files):
    folder = write_files(
        crimes=b"\xef\xbb\xbf" + f"{HEADER}\n{crime('C1')}\n".encode(), suspects=SUSPECTS
    )
    report = ingest(store, folder)
    assert report.files["crimes"].ignored_columns == []
    assert crime_ids(store) == ["C1"]


def test_invalid_utf8_quarantines_the_row_with_its_bytes_escaped_not_the_file(store, write_files):
    body = (
        f"{HEADER}\n{crime('C1')}\n".encode()
        + crime("C2", victim_id="V\xe9").encode("latin-1")  # é in Latin-1: not UTF-8
        + f"\n{crime('C3', victim_id='Vé')}\n".encode()  # é in UTF-8: fine
    )
    folder = write_files(crimes=body, suspects=SUSPECTS)
    report = ingest(store, folder)
    [(line, reason)] = quarantine(store)
    assert line == 3
    assert reason.startswith("not valid UTF-8 in victim_id (")
    raw = json.loads(store.scalar("SELECT raw::VARCHAR FROM quarantine"))
    assert raw["crime_id"] == "C2"
    assert raw["victim_id"] == "V\\xe9"
    assert raw["committed_on"] is None  # empty is null, as in every quarantined row
    assert crime_ids(store) == ["C1", "C3"]
    assert store.scalar("SELECT victim_id FROM crimes WHERE crime_id = 'C3'") == "Vé"
    assert report.files["crimes"].read == 3


def test_invalid_utf8_in_an_ignored_column_is_named_in_the_reason(store, write_files):
    # the row is quarantined (SPEC 1: "a row that is not valid UTF-8"), but the value of a
    # column outside the contract is never kept, so the reason is what shows where the bytes are
    header = HEADER + ",notes"
    body = (
        f"{header}\n{crime('C1', notes='fine')}\n".encode()
        + crime("C2", notes="caf\xe9").encode("latin-1")
        + b"\n"
        + crime("C3", victim_id="V\xe9", notes="\xe9").encode("latin-1")
        + b"\n"
    )
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    reasons = dict(quarantine(store))
    assert reasons[3].startswith(
        "not valid UTF-8 in notes (notes: not read by harmrank, so not kept)"
    )
    assert reasons[4].startswith(
        "not valid UTF-8 in victim_id, notes (notes: not read by harmrank, so not kept)"
    )
    raws = [
        json.loads(r[0])
        for r in store.execute("SELECT raw::VARCHAR FROM quarantine ORDER BY line").fetchall()
    ]
    assert all("notes" not in raw for raw in raws)
    assert crime_ids(store) == ["C1"]


def test_many_invalid_utf8_rows_are_found_in_one_pass(store, write_files):
    rows = [crime(f"C{i}", victim_id="V\xe9").encode("latin-1") for i in range(3000)]
    body = HEADER.encode() + b"\n" + b"\n".join(rows) + b"\n" + crime("OK").encode() + b"\n"
    report = ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    assert report.files["crimes"].quarantined == 3000
    assert crime_ids(store) == ["OK"]


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        (crime("C2") + ",extra", 10),
        (crime("C2").rsplit(",", 1)[0], 8),
        ("C2", 1),
    ],
)
def test_a_record_with_the_wrong_number_of_fields(store, write_files, record, fields):
    folder = write_files(crimes=f"{HEADER}\n{crime('C1')}\n{record}\n", suspects=SUSPECTS)
    ingest(store, folder)
    assert quarantine(store) == [
        (
            3,
            f"the record has {fields} fields but the header has 9; "
            "check for an unquoted comma or a missing value",
        )
    ]
    raw = json.loads(store.scalar("SELECT raw::VARCHAR FROM quarantine"))
    assert raw["crime_id"] == "C2"
    assert crime_ids(store) == ["C1"]


def test_an_unterminated_quote_spoils_its_record_only(store, write_files):
    body = "\n".join(
        [
            HEADER,
            crime("C1"),
            crime("C2", victim_id='"V2'),  # line 3: the quote never closes
            crime("C3"),
            crime("C4", victim_id='"V4, quoted"'),
        ]
    )
    report = ingest(store, write_files(crimes=body + "\n", suspects=SUSPECTS))
    [(line, reason)] = quarantine(store)
    assert line == 3
    assert "never closed" in reason
    assert crime_ids(store) == ["C1", "C3", "C4"]
    assert store.scalar("SELECT victim_id FROM crimes WHERE crime_id = 'C4'") == "V4, quoted"
    assert report.files["crimes"].read == 4


def test_an_unterminated_quote_on_the_last_line(store, write_files):
    body = f"{HEADER}\n{crime('C1')}\n{crime('C2', victim_id=chr(34) + 'V2')}"
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    assert [line for line, _ in quarantine(store)] == [3]
    assert crime_ids(store) == ["C1"]


def test_a_stray_quote_in_an_unquoted_field_spoils_its_record_only(store, write_files):
    # a quote in the middle of an unquoted field is not RFC 4180; it must not swallow the
    # records that follow (it once did, silently)
    body = "\n".join(
        [
            HEADER + ",notes",
            crime("C1", notes='5" tall'),
            crime("C2", notes="x"),
            crime("C3", notes='y"z'),
            crime("C4", notes='"closed" then text'),
            crime("C5", notes="ok"),
        ]
    )
    report = ingest(store, write_files(crimes=body + "\n", suspects=SUSPECTS))
    assert [line for line, _ in quarantine(store)] == [2, 4, 5]
    assert all("double quote" in reason for _, reason in quarantine(store))
    assert crime_ids(store) == ["C2", "C5"]
    rep = report.files["crimes"]
    assert (rep.read, rep.accepted, rep.quarantined) == (5, 2, 3)


def test_a_bare_carriage_return_in_an_unquoted_field_spoils_its_record_only(store, write_files):
    # Polars would misread the fields after it (silently); quoted, it is a value like another
    bare = crime("C1", notes="a\rb")
    quoted = crime("C2", notes='"a\rb"')
    body = f"{HEADER},notes\n{bare}\n{quoted}\n"
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    assert [line for line, _ in quarantine(store)] == [2]
    assert crime_ids(store) == ["C2"]


def test_escaped_quotes_and_commas_inside_quoted_fields(store, write_files):
    record = crime("C1", victim_id='"V, ""one"""')
    body = f"{HEADER}\n{record}\n"
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    assert quarantine(store) == []
    assert store.scalar("SELECT victim_id FROM crimes") == 'V, "one"'


def test_blank_lines_are_skipped_and_not_counted(store, write_files):
    body = f"{HEADER}\n\n{crime('C1')}\r\n\r\n\n{crime('C2', status='x')}\n\n"
    report = ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    rep = report.files["crimes"]
    assert (rep.read, rep.accepted, rep.quarantined, rep.blank_lines) == (2, 1, 1, 4)
    assert [line for line, _ in quarantine(store)] == [6]


def test_header_names_are_trimmed_values_are_not(store, write_files):
    header = (
        " crime_id , ho_code,recorded_on,committed_on,lpa,domestic_abuse,victim_id,status,outcome"
    )
    body = f"{header}\n{crime(' C1')}\n"
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    assert crime_ids(store) == [" C1"]


def test_a_header_only_file_reads_no_rows(store, write_files):
    report = ingest(store, write_files(crimes=HEADER + "\n", suspects=SUSPECTS))
    assert report.files["crimes"].read == 0
    assert report.files["suspects"].read == 0


def test_parquet_rows_are_numbered_as_if_the_header_were_line_1(tmp_path):
    path = tmp_path / "crimes.parquet"
    frame = pl.DataFrame({c: ["x", "y", "z"] for c in CRIMES.required_columns})
    frame.write_parquet(path)
    raw = read_file(CRIMES, path, "parquet")
    assert raw.frame.get_column("__line").to_list() == [2, 3, 4]
    assert raw.read == 3


def test_long_raw_values_are_clipped_in_the_quarantine(store, write_files):
    long_id = "C" * 5000
    body = f"{HEADER}\n{crime(long_id)}\n{crime('C2') + ',x'}\n"
    ingest(store, write_files(crimes=body, suspects=SUSPECTS))
    raws = [
        json.loads(r[0])
        for r in store.execute("SELECT raw::VARCHAR FROM quarantine ORDER BY line").fetchall()
    ]
    assert len(raws[0]["crime_id"]) < 1100
    assert raws[0]["crime_id"].startswith("C" * 1000)
    assert raws[1]["crime_id"] == "C2"


# ------------------------------------------------------------------ properties ----
_text = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\té')), max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(_text, min_size=3, max_size=3), max_size=8),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    terminator=st.sampled_from(["\n", "\r\n"]),
)
def test_any_rfc4180_file_reads_as_pythons_csv_reads_it(
    tmp_path_factory, rows, quoting, terminator
):
    if terminator == "\n" and quoting == csv.QUOTE_MINIMAL:
        # this writer leaves a bare CR unquoted, which RFC 4180 does not allow (tested below)
        rows = [[v.replace("\r", "r") for v in row] for row in rows]
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting, lineterminator=terminator)
    writer.writerow(["crime_id", "nominal_id", "role"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("rfc") / "suspects.csv"
    path.write_bytes(out.getvalue().encode())
    raw = read_file(SUSPECTS_CONTRACT, path, "csv")
    assert raw.rejects == []
    expected = [[v or None for v in row] for row in rows]  # empty means null
    got = raw.frame.select("crime_id", "nominal_id", "role").rows()
    assert [list(r) for r in got] == expected


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(st.text(alphabet=st.sampled_from(list('ab,"\r')), max_size=10), max_size=10))
def test_any_text_reads_without_error_and_with_sane_line_numbers(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("junk") / "suspects.csv"
    path.write_bytes(("crime_id,nominal_id,role\n" + "\n".join(lines)).encode())
    raw = read_file(SUSPECTS_CONTRACT, path, "csv")
    numbers = raw.frame.get_column("__line").to_list() + [r.line for r in raw.rejects]
    assert len(set(numbers)) == len(numbers)
    assert all(2 <= n <= len(lines) + 1 for n in numbers)
    # every non-blank physical line is part of some record that was read
    assert raw.read + raw.blank_lines <= max(len(lines), 0) + 1


def test_clean_files_are_parsed_by_polars_not_record_by_record(tmp_path, monkeypatch):
    """The per-record parser is a fallback for rejects; a clean file never reaches it (it once
    did for every file, because an argument Polars 2 no longer takes sent every read there)."""
    import harmrank.readers as readers

    def refuse(*args):
        raise AssertionError("record-by-record parse")

    monkeypatch.setattr(readers, "_parse_slowly", refuse)
    path = tmp_path / "crimes.csv"
    body = "\r\n".join([HEADER, crime("C1", victim_id='"V, 1"'), "", crime("C2")])
    path.write_bytes(("\ufeff" + body + "\r\n").encode())
    raw = read_file(CRIMES, path, "csv")
    assert raw.frame.get_column("crime_id").to_list() == ["C1", "C2"]
    assert raw.frame.get_column("victim_id").to_list() == ["V, 1", None]
