"""Reading one extract file into text columns, with the physical line of every record.

A CSV file is split into records with NumPy (quote-aware: a newline inside a quoted field does
not end a record), so every record knows the physical line where it starts (the header is
line 1), even when fields hold line breaks. Records that cannot be parsed as rows of the header
(wrong number of fields, invalid UTF-8, an unterminated quote) become *rejects*: they go to the
quarantine with their raw values, and the rest of the file is read, column by column, by Polars.
Nothing here loops over rows in Python except over rejects.

A Parquet file has no lines; its rows are numbered as if the header were line 1 (row ``i`` of
the file, counted from 0, is "line" ``i + 2``), so that CSV and Parquet extracts report alike.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from harmrank.contract import FileContract

LINE = "__line"  # the column that carries each row's line number
RAW_LIMIT = 1000  # characters of a raw value kept in the quarantine
FORMATS = ("csv", "parquet")
_CHUNK = 1 << 25  # bytes per step when counting fields (bounds memory on national extracts)


class ExtractUnreadable(ValueError):
    """A file that cannot be read at all: the whole ingest is refused, nothing is written."""


@dataclass
class Reject:
    line: int
    reason: str
    raw: dict[str, str | None]


@dataclass
class RawFile:
    """One extract file as text columns (contract columns only) plus its line numbers."""

    contract: FileContract
    path: Path
    format: str
    frame: pl.DataFrame  # Utf8 columns of the contract present in the header, and LINE
    rejects: list[Reject]
    ignored_columns: list[str]
    missing_optional: list[str]
    sha256: str
    size: int
    blank_lines: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.frame.height + len(self.rejects)


def find_files(folder: Path, contracts: tuple[FileContract, ...]) -> dict[str, tuple[Path, str]]:
    """The extract's files by contract name; refuses a folder that is not an extract."""
    if not folder.is_dir():
        raise ExtractUnreadable(
            f"{folder}: not a folder (an extract is a folder of CSV or Parquet files)"
        )
    found: dict[str, tuple[Path, str]] = {}
    for contract in contracts:
        hits = [
            (folder / f"{contract.name}.{fmt}", fmt)
            for fmt in FORMATS
            if (folder / f"{contract.name}.{fmt}").is_file()
        ]
        if len(hits) > 1:
            raise ExtractUnreadable(
                f"{folder}: both {contract.name}.csv and {contract.name}.parquet are present; "
                "keep one so that it is clear which is the extract"
            )
        if hits:
            found[contract.name] = hits[0]
        elif contract.required_file:
            raise ExtractUnreadable(
                f"{folder}: the required file {contract.name}.csv (or {contract.name}.parquet) is missing"
            )
    return found


def _clip(value: str | None) -> str | None:
    if value is None or len(value) <= RAW_LIMIT:
        return value
    return value[:RAW_LIMIT] + f"…[{len(value) - RAW_LIMIT} more characters]"


def _header(
    contract: FileContract, names: list[str], source: str
) -> tuple[list[str], list[str], list[str]]:
    """Check a header; return (kept contract columns, ignored columns, missing optional)."""
    names = [n.strip() for n in names]
    if not names or all(not n for n in names):
        raise ExtractUnreadable(
            f"{source}: the header row is empty (the first line must name the columns)"
        )
    counts = Counter(names)
    dupes = sorted(n for n, k in counts.items() if k > 1)
    if dupes:
        shown = ", ".join(f"'{n}'" if n else "an empty name" for n in dupes)
        raise ExtractUnreadable(
            f"{source}: the header has {shown} more than once; every column needs its own name"
        )
    missing = [c for c in contract.required_columns if c not in names]
    if missing:
        raise ExtractUnreadable(
            f"{source}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header has: {', '.join(names)})"
        )
    kept = [c for c in contract.column_names if c in names]
    ignored = [n for n in names if n not in contract.column_names]
    missing_optional = [c for c in contract.column_names if c not in names]
    return kept, ignored, missing_optional


def read_file(contract: FileContract, path: Path, fmt: str) -> RawFile:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if fmt == "parquet":
        return _read_parquet(contract, path, data, digest)
    return _read_csv(contract, path, data, digest)


# ----------------------------------------------------------------------------- Parquet ----
def _as_text(series: pl.Series) -> pl.Series:
    """A typed Parquet column written as the text an extract would carry."""
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if dtype == pl.Boolean:
        return series.cast(pl.String)
    if dtype == pl.Date:
        return series.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        # midnight datetimes are dates written by a datetime-minded tool; others stay visible
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
        is_midnight = series.dt.time() == pl.time(0, 0, 0)
        return pl.select(
            pl.when(is_midnight).then(series.dt.strftime("%Y-%m-%d")).otherwise(text)
        ).to_series()
    if dtype.is_float():
        integral = series.is_finite() & (series == series.floor())
        return pl.select(
            pl.when(integral)
            .then(series.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(series.cast(pl.String))
        ).to_series()
    if dtype == pl.Binary:
        return series.map_elements(
            lambda b: b.decode("utf-8", "backslashreplace"), return_dtype=pl.String
        )
    return series.cast(pl.String)


def _read_parquet(contract: FileContract, path: Path, data: bytes, digest: str) -> RawFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as e:  # polars raises several kinds for a damaged file
        raise ExtractUnreadable(
            f"{path}: not a readable Parquet file ({type(e).__name__}: {e})"
        ) from None
    kept, ignored, missing_optional = _header(contract, list(frame.columns), str(path))
    columns = {c: _as_text(frame.get_column(c)).alias(c) for c in kept}
    text = pl.DataFrame(columns) if columns else pl.DataFrame()
    text = text.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    text = _empty_is_null(text, kept)
    return RawFile(
        contract, path, "parquet", text, [], ignored, missing_optional, digest, len(data)
    )


# --------------------------------------------------------------------------------- CSV ----
def _empty_is_null(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    if not columns:
        return frame
    return frame.with_columns(
        [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


# ------------------------------------------------------------------------ CSV records ----
_COMMA, _NL, _CR, _QUOTE = 44, 10, 13, 34


@dataclass
class _Quotes:
    """The double quotes of a CSV body, sorted into the ones that open or close a quoted field
    (``kept``) and misplaced ones (``misplaced``: a quote inside an unquoted field, text after
    a closing quote, or an opening quote that is never closed, in ``unclosed``)."""

    kept: np.ndarray
    misplaced: np.ndarray
    unclosed: np.ndarray


def _classify_quotes(arr: np.ndarray) -> _Quotes:
    """Which quotes delimit fields, as RFC 4180 (and Polars, and Python's csv) read them: a quote
    opens a field only at the start of a field; inside a quoted field ``""`` is a quote and a lone
    quote closes the field, which must then end.

    The usual file passes a vectorised check (every quote is where the parity of the quotes
    before it says it should be); only a file with misplaced quotes is scanned quote by quote,
    from the first misplaced one, so that a stray quote spoils one record and never the rest of
    the file."""
    quotes = np.flatnonzero(arr == _QUOTE)
    empty = np.empty(0, dtype=np.int64)
    if not quotes.size:
        return _Quotes(quotes, empty, empty)
    n = arr.size
    prev = np.where(quotes > 0, arr[np.maximum(quotes - 1, 0)], _NL)
    nxt = np.where(quotes < n - 1, arr[np.minimum(quotes + 1, n - 1)], _NL)
    adjacent_prev = np.zeros(quotes.size, dtype=bool)
    adjacent_prev[1:] = quotes[1:] == quotes[:-1] + 1
    adjacent_next = np.zeros(quotes.size, dtype=bool)
    adjacent_next[:-1] = adjacent_prev[1:]
    opening = (np.arange(quotes.size) & 1) == 0
    opens_ok = (prev == _COMMA) | (prev == _NL) | adjacent_prev  # field start, or `""` inside
    closes_ok = (nxt == _COMMA) | (nxt == _NL) | (nxt == _CR) | adjacent_next
    wrong = np.flatnonzero(np.where(opening, ~opens_ok, ~closes_ok))
    if not wrong.size:
        if quotes.size & 1:  # the last quote opens a field that never closes
            return _Quotes(quotes[:-1], empty, quotes[-1:])
        return _Quotes(quotes, empty, empty)
    return _scan_quotes(arr, quotes, int(wrong[0]))


def _scan_quotes(arr: np.ndarray, quotes: np.ndarray, first_wrong: int) -> _Quotes:
    """The quote-by-quote reading of :func:`_classify_quotes`, from the first misplaced quote
    (every quote before it is where it should be)."""
    n = arr.size
    keep = np.ones(quotes.size, dtype=bool)
    misplaced: list[int] = []
    unclosed: list[int] = []
    pos = quotes.tolist()
    i = first_wrong
    inside = bool(first_wrong & 1)  # an odd index: the quote before it opened a field
    last_open = first_wrong - 1 if inside else -1
    while True:
        while i < len(pos):
            p = pos[i]
            if not inside:
                before = int(arr[p - 1]) if p else _NL
                if before in (_COMMA, _NL):
                    inside, last_open = True, i
                else:  # a quote in the middle of an unquoted field: a literal, but misplaced
                    keep[i] = False
                    misplaced.append(p)
                i += 1
            elif i + 1 < len(pos) and pos[i + 1] == p + 1:  # `""` inside a quoted field
                i += 2
            else:
                after = int(arr[p + 1]) if p + 1 < n else _NL
                if after not in (_COMMA, _NL, _CR):  # text after the closing quote
                    if np.any(arr[pos[last_open] : p] == _NL):
                        # A "field" that runs over lines and then does not end: far more likely
                        # an opening quote that was never closed (this quote opened a later
                        # field). Cut it at its own line, below, rather than swallow the lines.
                        break
                    misplaced.append(p)
                inside = False
                i += 1
        if not inside:
            break
        # The field opened at `last_open` never closes: that quote becomes a literal, its record
        # ends with its line, and the file is read on from just after it (only `""` pairs were
        # read inside the field, so the scan moves forward every time).
        keep[last_open] = False
        unclosed.append(pos[last_open])
        i, inside = last_open + 1, False
    as_array = np.asarray
    return _Quotes(
        quotes[keep],
        as_array(sorted(misplaced), dtype=np.int64),
        as_array(unclosed, dtype=np.int64),
    )


def _record_spans(arr: np.ndarray, quotes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end (exclusive, before any CR) of each record, and the line of each start.
    A record ends at a newline outside quoted fields (``quotes``: the field-delimiting ones)."""
    newlines = np.flatnonzero(arr == _NL)
    if quotes.size:
        terminators = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    else:
        terminators = newlines
    n = arr.size
    starts = np.concatenate(([0], terminators + 1)).astype(np.int64)
    ends = np.concatenate((terminators, [n])).astype(np.int64)
    if starts[-1] >= n:  # the file ends with a newline: no record after it
        starts, ends = starts[:-1], ends[:-1]
    if starts.size:
        has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR)
        ends = ends - has_cr.astype(np.int64)
    lines = np.searchsorted(newlines, starts).astype(np.int64) + 1
    return starts, ends, lines


def _stray_carriage_returns(arr: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Carriage returns that do not end a line, outside quoted fields (not RFC 4180, and
    Polars would read the fields after one wrongly)."""
    crs = np.flatnonzero(arr == _CR)
    if not crs.size:
        return crs
    crs = crs[(crs + 1 < arr.size) & (arr[np.minimum(crs + 1, arr.size - 1)] != _NL)]
    if quotes.size:
        crs = crs[(np.searchsorted(quotes, crs) & 1) == 0]
    return crs


def _owners(starts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The index of the record holding each byte position."""
    return np.searchsorted(starts, positions, side="right") - 1


def _unquoted_commas(
    arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, quotes: np.ndarray
) -> np.ndarray:
    """The number of field separators (commas outside quoted fields) in each record, summed
    over the bytes in chunks to bound memory on national extracts."""
    counts = np.zeros(starts.size, dtype=np.int64)
    i = 0
    while i < starts.size:
        j = max(int(np.searchsorted(starts, starts[i] + _CHUNK, side="left")), i + 1)
        # [start of record i, start of record j): the bytes between a record's end and the next
        # start are its line ending, never a comma
        lo = int(starts[i])
        hi = int(starts[j]) if j < starts.size else arr.size
        separator = arr[lo:hi] == _COMMA
        q = quotes[np.searchsorted(quotes, lo) : np.searchsorted(quotes, hi)] - lo
        if q.size:
            # every record starts outside quotes, so parity counts from the chunk start
            toggles = np.zeros(hi - lo, dtype=np.uint8)
            toggles[q] = 1
            separator &= (np.cumsum(toggles, dtype=np.uint8) & 1) == 0
        counts[i:j] = np.add.reduceat(separator.view(np.uint8), starts[i:j] - lo, dtype=np.int32)
        i = j
    return counts


_UTF8_ERRORS: list[int] = []


def _record_utf8_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    _UTF8_ERRORS.append(error.start)
    return "", error.end


codecs.register_error("harmrank-note-position", _record_utf8_error)
_UTF8_LOCK = threading.Lock()


def _invalid_utf8_records(body: bytes, starts: np.ndarray) -> np.ndarray:
    """Indices of the records holding bytes that are not valid UTF-8.

    One decoding pass, in chunks that begin at record starts (so never inside a character),
    with an error handler that notes where each invalid sequence is: linear whatever the
    number of bad rows."""
    if body.isascii() or not starts.size:
        return np.empty(0, dtype=np.int64)
    view = memoryview(body)
    positions: list[int] = []
    with _UTF8_LOCK:
        i = 0
        while i < starts.size:
            j = max(int(np.searchsorted(starts, starts[i] + _CHUNK, side="left")), i + 1)
            lo = int(starts[i])
            hi = int(starts[j]) if j < starts.size else len(body)
            _UTF8_ERRORS.clear()
            codecs.utf_8_decode(view[lo:hi], "harmrank-note-position", True)
            positions += [lo + p for p in _UTF8_ERRORS]
            i = j
        _UTF8_ERRORS.clear()
    if not positions:
        return np.empty(0, dtype=np.int64)
    return np.unique(_owners(starts, np.asarray(positions, dtype=np.int64)))


def _parse_record(text: str) -> list[str]:
    """The fields of one record's text (best effort for a rejected record; never fails)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=False))
    except csv.Error:  # e.g. a bare carriage return inside an unquoted field
        rows = []
    if len(rows) == 1:
        return rows[0]
    return text.split(",")


def _raw_of(fields: list[str], header: list[str], kept: list[str]) -> dict[str, str | None]:
    by_name = dict(zip(header, fields, strict=False))
    # an empty or missing value is null, as in every other quarantined row
    return {c: _clip(by_name.get(c) or None) for c in kept}


def _bad_utf8_reason(chunk: bytes, header: list[str], kept: list[str]) -> str:
    """Why a record with bytes that are not UTF-8 is quarantined, naming the columns that hold
    them: in a column outside the contract the value is not kept, so the reason is all a
    reviewer has to find the bytes by."""
    # undecodable bytes become lone surrogates, which no valid UTF-8 text decodes to
    fields = _parse_record(chunk.decode("utf-8", errors="surrogateescape"))
    named = [
        header[i] if i < len(header) else f"field {i + 1}"
        for i, value in enumerate(fields)
        if any("\udc80" <= ch <= "\udcff" for ch in value)
    ]
    outside = [n for n in named if n not in kept]
    where = f" in {', '.join(named)}" if named else ""
    if outside:
        where += f" ({', '.join(outside)}: not read by harmrank, so not kept)"
    return f"not valid UTF-8{where} (raw bytes kept escaped as \\xNN); re-export the file as UTF-8"


_BINARY_MAGIC = (
    (b"PAR1", "a Parquet file named .csv; name it .parquet"),
    (b"PK\x03\x04", "a spreadsheet (XLSX) or ZIP file, not CSV; save it as CSV (UTF-8)"),
    (b"\xd0\xcf\x11\xe0", "a spreadsheet (XLS), not CSV; save it as CSV (UTF-8)"),
    (b"\x1f\x8b", "a compressed (gzip) file; decompress it first"),
)
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _refuse_unless_csv_text(path: Path, body: bytes) -> None:
    """Refuse, with what the file is and what to do, a file that is not UTF-8 CSV text at all.

    A NUL byte only refuses the file when it is in the header line (a binary file, or UTF-16
    text without a byte-order mark); a NUL in a data row is that row's fault and it is
    quarantined (a control character), like any other corrupt row."""
    for magic, what in _BINARY_MAGIC:
        if body.startswith(magic):
            raise ExtractUnreadable(f"{path}: not a CSV text file: it is {what}")
    for bom, name in _WIDE_BOMS:
        if body.startswith(bom):
            raise ExtractUnreadable(
                f"{path}: the file is {name} text; re-export it as UTF-8 (CSV UTF-8)"
            )
    newline = body.find(b"\n")
    first = body[: newline if newline >= 0 else 4096]
    if b"\x00" in first:
        even, odd = first[0::2], first[1::2]
        if first and (even.count(0) > 0.4 * len(even) or odd.count(0) > 0.4 * len(odd)):
            raise ExtractUnreadable(
                f"{path}: the file looks like UTF-16 text (every other byte is zero); "
                "re-export it as UTF-8 (CSV UTF-8)"
            )
        raise ExtractUnreadable(f"{path}: not a CSV text file (its first line holds binary data)")
    if newline < 0 and b"\r" in body.rstrip(b"\r"):
        raise ExtractUnreadable(
            f"{path}: its lines end with a carriage return alone (an old Mac format); "
            "re-export it with Windows (CRLF) or Unix (LF) line endings"
        )


def _read_csv(contract: FileContract, path: Path, data: bytes, digest: str) -> RawFile:
    size = len(data)
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    _refuse_unless_csv_text(path, data)
    if not body.strip():
        raise ExtractUnreadable(f"{path}: the file is empty (it needs at least a header row)")
    arr = np.frombuffer(body, dtype=np.uint8)
    quotes = _classify_quotes(arr)
    starts, ends, lines = _record_spans(arr, quotes.kept)

    # header
    try:
        header_text = body[starts[0] : ends[0]].decode("utf-8")
    except UnicodeDecodeError:
        raise ExtractUnreadable(f"{path}: the header row is not valid UTF-8") from None
    header = [h.strip() for h in _parse_record(header_text)]
    kept, ignored, missing_optional = _header(contract, header, str(path))
    header_end = int(ends[0])
    starts, ends, lines = starts[1:], ends[1:], lines[1:]

    # which records are not rows of the header
    blank = ends == starts
    fields = _unquoted_commas(arr, starts, ends, quotes.kept) + 1
    wrong_width = (fields != len(header)) & ~blank
    bad_utf8 = np.zeros(starts.size, dtype=bool)
    bad_utf8[_invalid_utf8_records(body, starts)] = True
    unclosed = np.zeros(starts.size, dtype=bool)
    misplaced = np.zeros(starts.size, dtype=bool)
    stray_cr = _stray_carriage_returns(arr, quotes.kept)
    for flags, positions in (
        (unclosed, quotes.unclosed),
        (misplaced, quotes.misplaced),
        (misplaced, stray_cr),
    ):
        positions = positions[positions > header_end]  # a quote in the header: see _header
        flags[_owners(starts, positions)] = True

    bad = wrong_width | bad_utf8 | unclosed | misplaced
    rejects: list[Reject] = []
    for idx in np.flatnonzero(bad):
        chunk = body[starts[idx] : ends[idx]]
        text = chunk.decode("utf-8", errors="backslashreplace")
        if bad_utf8[idx]:
            reason = _bad_utf8_reason(chunk, header, kept)
        elif unclosed[idx]:
            reason = (
                "a quoted field is never closed (an unmatched double quote); the record was "
                "read to the end of its line and the rest of the file read as usual"
            )
        elif misplaced[idx]:
            reason = (
                "a double quote or a carriage return inside a field that is not quoted, or "
                "text after a closing quote; quote the whole field and double any quote "
                "inside it (RFC 4180)"
            )
        else:
            reason = (
                f"the record has {fields[idx]} fields but the header has {len(header)}; "
                "check for an unquoted comma or a missing value"
            )
        rejects.append(Reject(int(lines[idx]), reason, _raw_of(_parse_record(text), header, kept)))

    good = ~bad & ~blank
    good_lines = lines[good]
    frame = _parse_good(body, header, starts, ends, good, kept, path)
    frame = frame.with_columns(pl.Series(LINE, good_lines, dtype=pl.Int64))
    frame = _empty_is_null(frame, kept)
    return RawFile(
        contract,
        path,
        "csv",
        frame,
        rejects,
        ignored,
        missing_optional,
        digest,
        size,
        blank_lines=int(blank.sum()),
    )


def _parse_good(
    body: bytes,
    header: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
    good: np.ndarray,
    kept: list[str],
    path: Path,
) -> pl.DataFrame:
    """Parse the good records with Polars (all text), checking one row per record."""
    n_good = int(good.sum())
    schema = {name: pl.String for name in header}
    if n_good == 0:
        return pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in kept})
    # the bytes of the header plus the good records, in order, each ending with a newline
    first = int(starts[0]) if starts.size else len(body)
    pieces = [body[:first]]
    if not pieces[0].endswith(b"\n"):
        pieces[0] += b"\n"
    if bool(good.all()) and len(pieces[0]) == first:
        blob = body  # the whole file as it is: no copy
        pieces = []
    elif bool(good.all()):
        pieces.append(body[first:])
    else:
        idx = np.flatnonzero(good)
        # join runs of consecutive good records as one slice each
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for run in np.split(idx, breaks):
            pieces.append(body[int(starts[run[0]]) : int(ends[run[-1]])] + b"\n")
    if pieces:
        blob = b"".join(pieces)
    try:
        frame = pl.read_csv(
            blob,
            has_header=True,
            schema=schema,
            quote_char='"',
            raise_if_empty=False,
            truncate_ragged_lines=False,
            encoding="utf8-lossy",
            empty_string_is_null=True,
        )
        if frame.height == n_good:
            return frame.select(kept)
    except pl.exceptions.PolarsError:  # fall back to the exact, slower parser below
        # (only a parse error: a wrong argument must fail loudly, not slow every file down)
        pass
    return _parse_slowly(body, header, starts[good], ends[good], kept)


def _parse_slowly(
    body: bytes, header: list[str], starts: np.ndarray, ends: np.ndarray, kept: list[str]
) -> pl.DataFrame:
    """The fallback when Polars cannot read the good records as one file: record by record."""
    rows = [
        _parse_record(body[int(s) : int(e)].decode("utf-8"))
        for s, e in zip(starts, ends, strict=True)
    ]
    columns = {
        c: [r[header.index(c)] if header.index(c) < len(r) else "" for r in rows] for c in kept
    }
    frame = pl.DataFrame(columns, schema={c: pl.String for c in kept})
    return _empty_is_null(frame, kept)
