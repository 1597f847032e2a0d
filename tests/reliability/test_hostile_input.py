"""Hostile input, end to end through the real ingest: whatever an extract holds, every row is
accepted or quarantined with a reason (``read = accepted + quarantined``), no row is lost or
silently changed, and the ingest never crashes. A file that is not UTF-8 CSV text at all may be
refused whole, with a message that says what it is; then nothing is written.

Generated extracts mix valid rows with: byte-order marks, CRLF line endings, rows in Latin-1,
enormous fields, quotes, commas and line breaks inside (quoted) fields, SQL in ids, formula and
markup text, control characters and NULs, C1 controls, Unicode line separators, and (in the
second property) records that are not well-formed CSV at all: stray quotes, bare carriage
returns, too many or too few fields.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmrank.config import Config
from harmrank.contract import CRIMES, MAX_TEXT, SUSPECTS
from harmrank.ingest import ingest_extract
from harmrank.readers import LINE, ExtractUnreadable, read_file
from harmrank.store import open_store

CRIME_COLUMNS = list(CRIMES.column_names[:9])  # the required columns, in contract order
SUSPECT_COLUMNS = list(SUSPECTS.column_names)
NASTY = [
    "'; drop table crimes; --",
    'Robert"); DROP TABLE crimes;--',
    "1 OR 1=1",
    '=HYPERLINK("http://evil.example","x")',
    "+44 1234",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "../../etc/passwd",
    "%2e%2e%2f",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeffC1",
    "C,1",
    'a"b',
    '"',
    '""',
    "a\nb",
    "a\r\nb",
    "a\rb",
    " ",
    " Shropshire ",
    "NULL",
    "𝕳𝖆𝖗𝖒",
]


def enormous() -> st.SearchStrategy[str]:
    return st.builds(
        lambda ch, n: ch * n, st.sampled_from(["x", "é", ",", '"', "\n"]), st.integers(200, 300_000)
    )


HOSTILE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),  # anything Unicode has, controls and NULs included
    st.text(st.characters(max_codepoint=0xFF), max_size=30),
    enormous(),
)


@st.composite
def crime_row(draw: st.DrawFn, i: int) -> dict[str, str]:
    row = {
        "crime_id": f"C{i}",
        "ho_code": draw(st.sampled_from(["19C", "8N", "105A", "8U", "ZZ9"])),
        "recorded_on": draw(st.sampled_from(["2025-01-15", "2025-06-30", "2024-02-29"])),
        "committed_on": draw(st.sampled_from(["", "2024-12-01"])),
        "lpa": draw(st.sampled_from(["Shropshire", "Herefordshire", " Shropshire "])),
        "domestic_abuse": draw(st.sampled_from(["true", "N", "YES", "0"])),
        "victim_id": draw(st.sampled_from(["", "V1", "V2"])),
        "status": draw(st.sampled_from(["recorded", "cancelled"])),
        "outcome": draw(st.sampled_from(["", "1", "22"])),
    }
    for column in draw(st.sets(st.sampled_from(CRIME_COLUMNS), max_size=3)):
        row[column] = draw(HOSTILE)
    return row


@dataclass
class Written:
    data: bytes
    lines: list[int]  # the physical line where each record starts
    rows: list[dict[str, str]]
    utf8: list[bool]  # whether each record's bytes are valid UTF-8


def _field(value: str, quote_all: bool) -> str:
    if quote_all or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(
    rows: list[dict[str, str]],
    columns: list[str],
    *,
    bom: bool,
    crlf: bool,
    quote_all: bool,
    latin1: set[int],
    blanks: set[int],
) -> Written:
    """RFC 4180 text: every row one record. Rows in ``latin1`` are encoded as Latin-1 (what an
    export from an old system gives); blank lines before the rows in ``blanks``."""
    eol = b"\r\n" if crlf else b"\n"
    out = bytearray(codecs.BOM_UTF8 if bom else b"")
    out += ",".join(columns).encode() + eol
    lines, utf8, as_read = [], [], []
    for i, row in enumerate(rows):
        if i in blanks:
            out += eol
        if i in latin1:  # what a reader of UTF-8 makes of each field, if it can
            encoded = {c: row[c].encode("latin-1", errors="replace") for c in columns}
        else:
            encoded = {c: row[c].encode("utf-8") for c in columns}
        try:
            read_as = {c: encoded[c].decode("utf-8") for c in columns}
            utf8.append(True)
        except UnicodeDecodeError:
            read_as = dict(row)
            utf8.append(False)
        as_read.append(read_as)
        body_before = bytes(out[3:] if bom else out)
        lines.append(body_before.count(b"\n") + 1)
        out += (
            b",".join(
                _field(read_as[c], quote_all).encode()
                if utf8[-1]
                else _field(row[c], quote_all).encode("latin-1", errors="replace")
                for c in columns
            )
            + eol
        )
    return Written(bytes(out), lines, as_read, utf8)


def _ingest(crimes: bytes, suspects: bytes) -> tuple[dict, list[tuple], list[tuple], list[tuple]]:
    with tempfile.TemporaryDirectory(prefix="harmrank-hostile-") as tmp:
        folder = Path(tmp)
        (folder / "crimes.csv").write_bytes(crimes)
        (folder / "suspects.csv").write_bytes(suspects)
        with open_store(":memory:") as store:
            report = ingest_extract(store, folder, Config()).as_dict()
            quarantine = store.execute(
                "SELECT file, line, reason, raw::VARCHAR FROM quarantine ORDER BY file, line"
            ).fetchall()
            crimes_stored = store.execute(
                "SELECT crime_id, ho_code, lpa, victim_id, status FROM crimes"
            ).fetchall()
            links = store.execute("SELECT crime_id, nominal_id, role FROM links").fetchall()
    return report, quarantine, crimes_stored, links


def _reconciles(report: dict, quarantine: list[tuple]) -> None:
    for name, rep in report["files"].items():
        assert rep["read"] == rep["accepted"] + rep["quarantined"], name
        assert rep["quarantined"] == sum(1 for q in quarantine if q[0] == name), name
    for _file, _line, reason, raw in quarantine:
        assert reason and reason.strip(), "every quarantined row says why"
        json.loads(raw)  # the raw values are kept, as JSON


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_row_is_accepted_or_quarantined_and_none_is_changed(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 12), label="rows")
    rows = [data.draw(crime_row(i), label=f"crime {i}") for i in range(n)]
    written = write_csv(
        rows,
        CRIME_COLUMNS,
        bom=data.draw(st.booleans(), label="bom"),
        crlf=data.draw(st.booleans(), label="crlf"),
        quote_all=data.draw(st.booleans(), label="quote_all"),
        latin1=data.draw(st.sets(st.integers(0, n - 1)), label="latin1 rows"),
        blanks=data.draw(st.sets(st.integers(0, n - 1)), label="blank lines before"),
    )
    links = [
        {
            "crime_id": data.draw(
                st.one_of(st.sampled_from([r["crime_id"] for r in rows]), HOSTILE)
            ),
            "nominal_id": data.draw(st.one_of(st.sampled_from(["N1", "N2"]), HOSTILE)),
            "role": data.draw(st.sampled_from(["suspect", "convicted", "witness", ""])),
        }
        for _ in range(data.draw(st.integers(0, 6), label="links"))
    ]
    suspects = write_csv(
        links, SUSPECT_COLUMNS, bom=False, crlf=False, quote_all=False, latin1=set(), blanks=set()
    )

    # the reader: every record is a row, at the line where it starts, with its text unchanged
    with tempfile.TemporaryDirectory(prefix="harmrank-hostile-") as tmp:
        path = Path(tmp) / "crimes.csv"
        path.write_bytes(written.data)
        raw = read_file(CRIMES, path, "csv")
    assert raw.read == n
    read_lines = sorted(raw.frame.get_column(LINE).to_list() + [r.line for r in raw.rejects])
    assert read_lines == written.lines
    by_line = {r[LINE]: r for r in raw.frame.iter_rows(named=True)}
    rejected = {r.line for r in raw.rejects}
    for line, row, ok in zip(written.lines, written.rows, written.utf8, strict=True):
        if not ok:
            assert line in rejected, "a row that is not UTF-8 is quarantined"
            continue
        if line in by_line:
            parsed = by_line[line]
            for column in CRIME_COLUMNS:
                assert parsed[column] == (row[column] or None), (column, row[column])

    # the ingest: read = accepted + quarantined; what is stored is exactly what was written
    report, quarantine, stored, _links = _ingest(written.data, suspects.data)
    _reconciles(report, quarantine)
    assert report["files"]["crimes"]["read"] == n
    assert report["files"]["suspects"]["read"] == len(links)
    assert len(stored) == report["files"]["crimes"]["accepted"]
    written_rows = {
        (r["crime_id"], r["ho_code"], r["lpa"].strip(), r["victim_id"] or None, r["status"])
        for r, ok in zip(written.rows, written.utf8, strict=True)
        if ok
    }
    for crime in stored:
        assert crime in written_rows, f"stored {crime!r} was not written so"
        crime_id = crime[0]
        assert len(crime_id) <= MAX_TEXT
        assert not any(ord(c) < 32 or ord(c) == 127 for c in crime_id)


@st.composite
def broken_line(draw: st.DrawFn, i: int) -> str:
    """One line of a file that is not well-formed CSV (never holding a line break)."""
    fields = [
        f"C{i}",
        "8N",
        "2025-01-15",
        "",
        "Shropshire",
        "true",
        "",
        "recorded",
        "",
    ]
    fields = fields[: draw(st.integers(1, 9))] + draw(st.lists(st.just("extra"), max_size=2))
    k = draw(st.integers(0, len(fields) - 1))
    fields[k] = draw(st.sampled_from([fields[k], 'a"b', '"a"b', 'x"y"z', "a\rb", "é", "\x00"]))
    return ",".join(fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_records_that_are_not_csv_are_quarantined_one_by_one(data: st.DataObject) -> None:
    """Stray quotes, bare carriage returns and wrong field counts spoil their own record only:
    the file is read to the end and every line is one row, accepted or quarantined."""
    n = data.draw(st.integers(1, 15), label="lines")
    lines = [data.draw(broken_line(i), label=f"line {i}") for i in range(n)]
    eol = data.draw(st.sampled_from(["\n", "\r\n"]), label="eol")
    text = ",".join(CRIME_COLUMNS) + eol + eol.join(lines) + eol
    latin1 = data.draw(st.booleans(), label="latin-1")
    crimes = text.encode("latin-1" if latin1 else "utf-8")
    report, quarantine, stored, _ = _ingest(crimes, ("crime_id,nominal_id,role" + eol).encode())
    _reconciles(report, quarantine)
    assert report["files"]["crimes"]["read"] == n
    lines_seen = sorted(q[1] for q in quarantine if q[0] == "crimes")
    assert len(lines_seen) == report["files"]["crimes"]["quarantined"]
    assert all(2 <= line <= n + 1 for line in lines_seen)
    first_fields = {line.split(",")[0] for line in lines}
    for crime_id, *_ in stored:  # an accepted row is one of the lines, as written
        assert crime_id in first_fields


# ------------------------------------------------------------- files refused whole ----
HEADER = ",".join(CRIME_COLUMNS) + "\n"
ROW = "C1,8N,2025-01-15,,Shropshire,true,,recorded,\n"


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"crime_id": ["C1"]}).write_parquet(buf)
    return buf.getvalue()


def _xlsx_bytes() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    book.add_worksheet().write_string(0, 0, "crime_id")
    book.close()
    return buf.getvalue()


REFUSED = {
    "utf-16 with a byte-order mark": (
        (HEADER + ROW).encode("utf-16"),
        "the file is UTF-16 text; re-export it as UTF-8",
    ),
    "utf-16 without one": (
        (HEADER + ROW).encode("utf-16-le"),
        "looks like UTF-16 text (every other byte is zero); re-export it as UTF-8",
    ),
    "utf-32": ((HEADER + ROW).encode("utf-32"), "the file is UTF-32 text"),
    "old Mac line endings": (
        (HEADER + ROW).replace("\n", "\r").encode(),
        "its lines end with a carriage return alone",
    ),
    "parquet named .csv": (_parquet_bytes(), "it is a Parquet file named .csv"),
    "xlsx named .csv": (_xlsx_bytes(), "it is a spreadsheet (XLSX) or ZIP file"),
    "gzip named .csv": (gzip.compress((HEADER + ROW).encode()), "compressed (gzip)"),
    "a NUL in the header": (("crime_id\x00" + HEADER[8:] + ROW).encode(), "binary data"),
    "a Latin-1 header": (
        HEADER.replace("lpa", "lpà").encode("latin-1") + ROW.encode(),
        "the header row is not valid UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_file_that_is_not_csv_text_is_refused_whole_saying_what_it_is(case, tmp_path) -> None:
    data, message = REFUSED[case]
    folder = tmp_path / "extract"
    folder.mkdir()
    (folder / "crimes.csv").write_bytes(data)
    (folder / "suspects.csv").write_text("crime_id,nominal_id,role\n")
    with open_store(":memory:") as store:
        with pytest.raises(ExtractUnreadable) as refused:
            ingest_extract(store, folder, Config())
        assert message in str(refused.value)
        assert str(folder / "crimes.csv") in str(refused.value)
        # nothing written: no load, no quarantine, no audit record
        for table in ("loads", "quarantine", "crimes", "audit_log"):
            assert store.scalar(f"SELECT count(*) FROM {table}") == 0


def test_a_nul_in_a_data_row_quarantines_that_row_not_the_file(tmp_path) -> None:
    """A NUL byte early in a small file used to refuse the whole extract as "binary"; it is one
    corrupt row, and the rest of the extract loads."""
    folder = tmp_path / "extract"
    folder.mkdir()
    bad = ROW.replace("C1", "C2").replace("Shropshire", "Shrop\x00shire")
    (folder / "crimes.csv").write_text(HEADER + ROW + bad, encoding="utf-8")
    (folder / "suspects.csv").write_text("crime_id,nominal_id,role\nC1,N1,suspect\n")
    with open_store(":memory:") as store:
        report = ingest_extract(store, folder, Config()).files["crimes"]
        assert (report.read, report.accepted, report.quarantined) == (2, 1, 1)
        line, reason = store.one("SELECT line, reason FROM quarantine")
        assert line == 3 and "lpa contains a control character" in reason
        assert store.scalar("SELECT count(*) FROM links") == 1
