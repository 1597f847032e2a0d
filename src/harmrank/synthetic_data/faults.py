"""``--faults RATE``: realistic bad rows, counted exactly as a correct ingest must quarantine them.

One fault kind per row, chosen at random from the kinds the file's format can carry. The count
per file is built alongside the injection, so the manifest is exact by construction:

- crimes: every injected row; **both** rows of a duplicated ``crime_id`` (the copy is added);
- suspects: every injected row, plus **every link of a crime that is quarantined** (a faulty
  crime row, both copies of a duplicated id: their links go too, as orphans or by cascade);
  suspect faults are only put on links whose crime is sound, so nothing is counted twice;
- nominals and orders: every injected row; both rows of an id repeated with differing values;
- lpas: added empty names.

Some *valid but awkward* values are mixed in as well (they must be accepted, not quarantined):
LPA names with surrounding spaces and booleans spelt ``Y``, ``no``, ``TRUE``, ``0``… They are
counted under ``tricky_valid`` in the manifest.

A CSV extract can also carry rows that are broken as records (a wrong number of fields, invalid
UTF-8); these are written as raw lines after the chunk's rows. A Parquet file cannot hold them,
so a Parquet extract draws from the other kinds only (its columns are then all text, so that a
bad date can be written at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from harmrank.synthetic_data.generator import ID_SPAN, ChunkData

BAD_DATES = (
    "2021-02-30",
    "2019-13-01",
    "12/03/2020",
    "2020-06-31",
    "2020-6-1",
    "yesterday",
    "20200115",
)
BAD_BOOLS = ("maybe", "2", "unknown", "t", "-")
BAD_STATUS = ("Recorded", "closed", "no crime", "RECORDED", "recorded.")
BAD_OUTCOMES = ("-3", "0", "23", "x", "99", "1.5")
BAD_ROLES = ("Suspect", "witness", "offender", "CHARGED", "eliminated?")
BAD_BIRTH_YEARS = ("1850", "19x0", "2150", "abc", "-1", "1899")
TRICKY_BOOLS = ("Y", "N", "yes", "No", "TRUE", "False", "1", "0")
_BAD_UTF8_MARK = "\uffff"  # replaced by a lone latin-1 byte after encoding


@dataclass
class FaultedChunk:
    """A chunk's files as text frames (faults in place), raw lines to append, and the counts."""

    frames: dict[str, pl.DataFrame]
    raw: dict[str, list[bytes]]
    faults: dict[str, int]
    tricky: dict[str, int] = field(default_factory=dict)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as the text a CSV would carry (dates ISO, booleans true/false)."""
    return frame.with_columns(
        [
            (
                pl.col(c).dt.strftime("%Y-%m-%d") if dtype == pl.Date else pl.col(c).cast(pl.String)
            ).alias(c)
            for c, dtype in frame.schema.items()
        ]
    )


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> list[str | None]:
    return [values[i] for i in rng.integers(0, len(values), n)]


def _count(rate: float, n: int) -> int:
    return min(n, int(rate * n + 0.5))


def _set(
    frame: pl.DataFrame, column: str, rows: np.ndarray, values: list[str | None]
) -> pl.DataFrame:
    if len(rows) == 0:
        return frame
    series = frame[column].scatter(rows, pl.Series(values, dtype=pl.String))
    return frame.with_columns(series.alias(column))


def _quote(expr: pl.Expr) -> pl.Expr:
    needs = expr.str.contains(r'[,"\n\r]')
    return (
        pl.when(needs)
        .then(pl.lit('"') + expr.str.replace_all('"', '""') + pl.lit('"'))
        .otherwise(expr)
    )


def _raw_lines(frame: pl.DataFrame, unquoted: str | None = None) -> list[bytes]:
    """CSV lines for ``frame``'s rows, RFC 4180 quoted except column ``unquoted`` (written as
    is, so that a comma in it makes a record with too many fields)."""
    if frame.height == 0:
        return []
    parts = [
        (pl.col(c).fill_null("") if c == unquoted else _quote(pl.col(c).fill_null("")))
        for c in frame.columns
    ]
    lines = frame.select(pl.concat_str(parts, separator=",").alias("line"))["line"].to_list()
    return [
        line.encode("utf-8").replace(_BAD_UTF8_MARK.encode("utf-8"), b"\xe9") + b"\n"
        for line in lines
    ]


@dataclass(frozen=True)
class _Picked:
    """Rows chosen for faults and the kind given to each (one kind per row)."""

    rows: np.ndarray
    kinds: np.ndarray

    def __call__(self, kind: str) -> np.ndarray:
        return self.rows[self.kinds == kind]


def _pick_rows(
    rng: np.random.Generator, candidates: np.ndarray, k: int, menu: list[str]
) -> _Picked:
    k = min(k, len(candidates))
    if k == 0:
        return _Picked(np.array([], dtype=np.int64), np.array([], dtype=object))
    rows = np.sort(rng.choice(candidates, size=k, replace=False))
    return _Picked(rows, np.array(menu, dtype=object)[rng.integers(0, len(menu), k)])


def inject(
    rng: np.random.Generator,
    data: ChunkData,
    rate: float,
    fmt: str,
    bad_lpas: tuple[str, ...],
    chunk_index: int,
) -> FaultedChunk:
    raw_ok = fmt == "csv"
    faults: dict[str, int] = {}
    tricky: dict[str, int] = {}
    raw: dict[str, list[bytes]] = {"crimes": [], "suspects": [], "nominals": [], "orders": []}

    # ---- crimes ---------------------------------------------------------------------------
    crimes = as_text(data.crimes)
    n = crimes.height
    menu = [
        "empty_id", "empty_code", "bad_recorded", "bad_committed", "bad_lpa", "bad_bool",
        "bad_status", "bad_outcome", "long_text", "control_char", "duplicate_id",
    ]  # fmt: skip
    if raw_ok:
        menu += ["field_count", "bad_utf8"]
    sel = _pick_rows(rng, np.arange(n), _count(rate, n), menu)
    rows, k = sel.rows, len(sel.rows)
    faulty_ids = crimes["crime_id"].gather(rows)

    crimes = _set(crimes, "crime_id", sel("empty_id"), [None] * len(sel("empty_id")))
    crimes = _set(crimes, "ho_code", sel("empty_code"), [None] * len(sel("empty_code")))
    r = sel("bad_recorded")
    crimes = _set(crimes, "recorded_on", r, _pick(rng, (*BAD_DATES, ""), len(r)))
    r = sel("bad_committed")
    crimes = _set(crimes, "committed_on", r, _pick(rng, BAD_DATES, len(r)))
    r = sel("bad_lpa")
    crimes = _set(crimes, "lpa", r, _pick(rng, bad_lpas, len(r)))
    r = sel("bad_bool")
    crimes = _set(crimes, "domestic_abuse", r, _pick(rng, (*BAD_BOOLS, ""), len(r)))
    r = sel("bad_status")
    crimes = _set(crimes, "status", r, _pick(rng, (*BAD_STATUS, ""), len(r)))
    r = sel("bad_outcome")
    crimes = _set(crimes, "outcome", r, _pick(rng, BAD_OUTCOMES, len(r)))
    r = sel("long_text")
    crimes = _set(crimes, "victim_id", r, ["V" + "0123456789" * 30] * len(r))
    r = sel("control_char")
    crimes = _set(
        crimes, "victim_id", r, [f"{v or 'V'}\x07" for v in crimes["victim_id"].gather(r).to_list()]
    )
    # a second row with the same crime_id, differing (the extract contradicts itself)
    dup = crimes[sel("duplicate_id")].with_columns(
        pl.when(pl.col("status") == "recorded")
        .then(pl.lit("cancelled"))
        .otherwise(pl.lit("recorded"))
        .alias("status"),
        pl.lit(None, dtype=pl.String).alias("outcome"),
    )
    structural = np.sort(np.concatenate([sel("field_count"), sel("bad_utf8")]))
    if len(structural):
        broken = crimes[sel("field_count")].with_columns(
            (pl.col("lpa").fill_null("") + pl.lit(", town centre")).alias("lpa")
        )
        raw["crimes"] += _raw_lines(broken, unquoted="lpa")
        bad_utf8 = crimes[sel("bad_utf8")].with_columns(
            (pl.lit("V" + _BAD_UTF8_MARK) + pl.col("crime_id").str.slice(1)).alias("victim_id")
        )
        raw["crimes"] += _raw_lines(bad_utf8)
        keep = np.ones(crimes.height, dtype=bool)
        keep[structural] = False
        crimes = crimes.filter(pl.Series(keep))
    faults["crimes"] = k + len(dup)  # the added copy of each duplicated id counts as well
    # tricky but valid: padded LPA names and boolean spellings, on sound rows only
    sound = np.ones(n, dtype=bool)
    sound[rows] = False
    keep_idx = np.flatnonzero(np.delete(sound, structural) if len(structural) else sound)
    t = _count(rate / 2, len(keep_idx))
    if t:
        pick = np.sort(rng.choice(keep_idx, size=t, replace=False))
        half = pick[: t // 2]
        rest = pick[t // 2 :]
        crimes = _set(crimes, "lpa", half, [f" {v} " for v in crimes["lpa"].gather(half).to_list()])
        crimes = _set(
            crimes,
            "domestic_abuse",
            rest,
            [
                ("Y", "yes", "TRUE", "1")[i % 4]
                if v == "true"
                else ("N", "No", "False", "0")[i % 4]
                for i, v in enumerate(crimes["domestic_abuse"].gather(rest).to_list())
            ],
        )
        tricky["crimes"] = t
    if dup.height:
        crimes = pl.concat([crimes, dup])

    # ---- suspects -------------------------------------------------------------------------
    suspects = as_text(data.suspects)
    cascade = suspects["crime_id"].is_in(faulty_ids.implode()).to_numpy()
    n_cascade = int(cascade.sum())
    candidates = np.flatnonzero(~cascade)
    menu = ["empty_crime", "empty_nominal", "bad_role", "orphan"]
    if raw_ok:
        menu += ["bad_utf8"]
    sel = _pick_rows(rng, candidates, _count(rate, suspects.height), menu)
    k = len(sel.rows)
    suspects = _set(suspects, "crime_id", sel("empty_crime"), [None] * len(sel("empty_crime")))
    suspects = _set(
        suspects, "nominal_id", sel("empty_nominal"), [None] * len(sel("empty_nominal"))
    )
    r = sel("bad_role")
    suspects = _set(suspects, "role", r, _pick(rng, (*BAD_ROLES, ""), len(r)))
    r = sel("orphan")
    top = chunk_index * ID_SPAN + ID_SPAN - 1
    suspects = _set(suspects, "crime_id", r, [f"C{top - i:010d}" for i in range(len(r))])
    r = sel("bad_utf8")
    if len(r):
        bad = suspects[r].with_columns(
            (pl.lit("N" + _BAD_UTF8_MARK) + pl.col("nominal_id").str.slice(2)).alias("nominal_id")
        )
        raw["suspects"] += _raw_lines(bad)
        keep = np.ones(suspects.height, dtype=bool)
        keep[r] = False
        suspects = suspects.filter(pl.Series(keep))
    faults["suspects"] = k + n_cascade

    # ---- nominals -------------------------------------------------------------------------
    nominals = as_text(data.nominals)
    sel = _pick_rows(
        rng,
        np.arange(nominals.height),
        _count(rate, nominals.height),
        ["empty_id", "bad_birth_year", "duplicate_id"],
    )
    k = len(sel.rows)
    nominals = _set(nominals, "nominal_id", sel("empty_id"), [None] * len(sel("empty_id")))
    r = sel("bad_birth_year")
    nominals = _set(nominals, "birth_year", r, _pick(rng, BAD_BIRTH_YEARS, len(r)))
    dup_n = nominals[sel("duplicate_id")].with_columns(
        pl.when(pl.col("birth_year").is_null())
        .then(pl.lit("1980"))
        .otherwise((pl.col("birth_year").cast(pl.Int64) + 1).cast(pl.String))
        .alias("birth_year")
    )
    if dup_n.height:
        nominals = pl.concat([nominals, dup_n])
    faults["nominals"] = k + dup_n.height

    # ---- orders ---------------------------------------------------------------------------
    orders = as_text(data.orders)
    sel = _pick_rows(
        rng,
        np.arange(orders.height),
        _count(rate, orders.height),
        [
            "empty_id",
            "empty_nominal",
            "empty_type",
            "bad_start",
            "bad_end",
            "end_before_start",
            "duplicate_id",
        ],
    )
    k = len(sel.rows)
    orders = _set(orders, "order_id", sel("empty_id"), [None] * len(sel("empty_id")))
    orders = _set(orders, "nominal_id", sel("empty_nominal"), [None] * len(sel("empty_nominal")))
    orders = _set(orders, "order_type", sel("empty_type"), [None] * len(sel("empty_type")))
    r = sel("bad_start")
    orders = _set(orders, "starts_on", r, _pick(rng, (*BAD_DATES, ""), len(r)))
    r = sel("bad_end")
    orders = _set(orders, "ends_on", r, _pick(rng, BAD_DATES, len(r)))
    r = sel("end_before_start")
    orders = orders.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(pl.Series(r, dtype=pl.Int64).implode()))
        .then(
            (
                pl.col("starts_on").str.to_date("%Y-%m-%d", strict=False) - pl.duration(days=30)
            ).dt.strftime("%Y-%m-%d")
        )
        .otherwise(pl.col("ends_on"))
        .alias("ends_on")
    )
    dup_o = orders[sel("duplicate_id")].with_columns(
        pl.when(pl.col("ends_on").is_null())
        .then(
            (
                pl.col("starts_on").str.to_date("%Y-%m-%d", strict=False) + pl.duration(days=365)
            ).dt.strftime("%Y-%m-%d")
        )
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("ends_on")
    )
    if dup_o.height:
        orders = pl.concat([orders, dup_o])
    faults["orders"] = k + dup_o.height

    frames = {"crimes": crimes, "suspects": suspects, "nominals": nominals, "orders": orders}
    return FaultedChunk(frames, raw, faults, tricky)
