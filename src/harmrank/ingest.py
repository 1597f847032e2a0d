"""Ingest: validate an extract, quarantine what breaks the contract, upsert the rest.

The flow (SPEC section 1)::

    files ─► readers (text + line numbers, structural rejects)
          ─► validate (set-based Polars: one reason per broken rule, cross-row rules)
          ─► accepted rows ─► merge into the store (DuckDB: insert / revise / stale / end)
          ─► quarantined rows ─► quarantine table (file, line, reason, raw contract values)

Everything is written in one transaction: an ingest killed at any moment leaves the database
as it was. A file that cannot be read at all refuses the whole ingest before anything is written.
Every file reconciles: ``read = accepted + quarantined``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from harmrank import audit
from harmrank.config import Config
from harmrank.contract import (
    BY_NAME,
    FALSE_WORDS,
    FILES,
    MAX_TEXT,
    ORDERS,
    ROLE_STAGE,
    TRUE_WORDS,
    Column,
    FileContract,
)
from harmrank.readers import LINE, RAW_LIMIT, ExtractUnreadable, RawFile, find_files, read_file
from harmrank.reference import known_codes
from harmrank.store import Store

__all__ = ["ExtractUnreadable", "FileReport", "IngestReport", "ingest_extract"]

REASON = "__reason"
_DATE_SHAPE = r"^\d{4}-\d{2}-\d{2}$"
_TS_SHAPE = (
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_CONTROL = r"[\x00-\x1f\x7f]"


@dataclass
class FileReport:
    """The reconciliation of one file: ``read = accepted + quarantined``."""

    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # rows older (updated_at) than the stored version: not applied
    ended: int = 0  # --replace: stored rows absent from the extract, ended
    collapsed: int = 0  # duplicate links collapsed into one (suspects)
    format: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    blank_lines: int = 0


@dataclass
class IngestReport:
    load_id: int
    source: str
    replace: bool
    files: dict[str, FileReport]
    unknown_codes: dict[str, int]
    lpa_list: str  # where the list of LPAs came from: configuration, lpas file, or none

    def as_dict(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "source": self.source,
            "replace": self.replace,
            "files": {name: asdict(rep) for name, rep in self.files.items()},
            "unknown_codes": self.unknown_codes,
            "lpa_list": self.lpa_list,
        }


# ------------------------------------------------------------------------ validation ----
def _clip_expr(expr: pl.Expr, n: int = 60) -> pl.Expr:
    return pl.when(expr.str.len_chars() > n).then(expr.str.slice(0, n) + "…").otherwise(expr)


@dataclass(frozen=True)
class _Rule:
    """One contract rule on one file: ``broken`` is true on the rows that break it; ``reason``
    (evaluated on those rows only: formatting a message for every row of a national extract
    would cost more than all the checks) says why, in words a person can act on."""

    broken: pl.Expr
    reason: pl.Expr


def _typed_name(name: str) -> str:
    return f"__typed_{name}"


def _column_rules(col: Column, present: bool) -> tuple[pl.Expr, list[_Rule]]:
    """The typed value of one column (as ``__typed_<name>``, null where the text is not a
    value of the column's kind) and the rules its text must keep."""
    name = col.name
    if not present:
        return pl.lit(None).alias(_typed_name(name)), []
    raw = pl.col(name)
    value = raw.str.strip_chars() if col.trim else raw
    if col.trim:
        value = pl.when(value == "").then(None).otherwise(value)
    typed_col = pl.col(_typed_name(name))
    shown = _clip_expr(raw)
    rules: list[_Rule] = []
    if not col.nullable:
        rules.append(_Rule(value.is_null(), pl.lit(f"{name} is empty")))
    present_value = value.is_not_null()
    if col.kind == "text":
        typed = value
        rules.append(
            _Rule(
                present_value & (raw.str.len_chars() > MAX_TEXT),
                pl.lit(f"{name} is longer than {MAX_TEXT} characters"),
            )
        )
        rules.append(
            _Rule(
                present_value & raw.str.contains(_CONTROL),
                pl.lit(f"{name} contains a control character (a tab, line break or similar)"),
            )
        )
        if col.choices:
            allowed = ", ".join(col.choices)
            rules.append(
                _Rule(
                    present_value & ~value.is_in(list(col.choices)),
                    pl.format(f"{name} '{{}}' is not one of {allowed}", shown),
                )
            )
        return typed.alias(_typed_name(name)), rules
    if col.kind == "date":
        typed = pl.when(value.str.contains(_DATE_SHAPE)).then(
            value.str.to_date("%Y-%m-%d", strict=False)
        )
        message = pl.format(f"{name} '{{}}' is not a date in the form YYYY-MM-DD", shown)
        bad = present_value & typed_col.is_null()
    elif col.kind == "bool":
        lower = value.str.to_lowercase()
        ok = lower.is_in(list(TRUE_WORDS + FALSE_WORDS))
        typed = pl.when(ok).then(lower.is_in(list(TRUE_WORDS)))
        message = pl.format(f"{name} '{{}}' is not true/false, 1/0, Y/N or yes/no", shown)
        bad = present_value & typed_col.is_null()
    elif col.kind == "int":
        lo, hi = col.int_range or (-(2**31), 2**31 - 1)
        typed = pl.when(value.str.contains(r"^[+-]?\d{1,9}$")).then(
            value.cast(pl.Int64, strict=False)
        )
        message = pl.format(f"{name} '{{}}' is not a whole number from {lo} to {hi}", shown)
        bad = present_value & (typed_col.is_null() | (typed_col < lo) | (typed_col > hi))
    elif col.kind == "timestamp":
        typed = _timestamp(value)
        message = pl.format(
            f"{name} '{{}}' is not an ISO timestamp (YYYY-MM-DDTHH:MM:SS, optional offset)", shown
        )
        bad = present_value & typed_col.is_null()
    else:  # pragma: no cover - the contract only has the kinds above
        raise AssertionError(col.kind)
    rules.append(_Rule(bad, message))
    return typed.alias(_typed_name(name)), rules


def _timestamp(value: pl.Expr) -> pl.Expr:
    """An ISO timestamp (date, optional time, optional offset) as a naive UTC datetime."""
    parts = value.str.extract_groups(_TS_SHAPE)
    day = parts.struct.field("1").str.to_date("%Y-%m-%d", strict=False)
    hh = parts.struct.field("2").cast(pl.Int64, strict=False).fill_null(0)
    mi = parts.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    ss = parts.struct.field("4").cast(pl.Int64, strict=False).fill_null(0)
    frac = parts.struct.field("5").fill_null(".0").str.slice(1).str.pad_end(9, "0").str.slice(0, 6)
    tz = parts.struct.field("6").fill_null("Z").str.replace(":", "")
    offset_min = (
        pl.when(tz == "Z")
        .then(0)
        .otherwise(
            (
                tz.str.slice(1, 2).cast(pl.Int64, strict=False) * 60
                + tz.str.slice(3, 2).cast(pl.Int64, strict=False)
            )
            * pl.when(tz.str.starts_with("-")).then(-1).otherwise(1)
        )
    )
    valid_clock = (hh < 24) & (mi < 60) & (ss < 60)
    stamp = (
        day.cast(pl.Datetime("us"))
        + pl.duration(
            hours=hh, minutes=mi, seconds=ss, microseconds=frac.cast(pl.Int64, strict=False)
        )
        - pl.duration(minutes=offset_min)
    )
    return pl.when(day.is_not_null() & valid_clock).then(stamp)


def _raw_json(kept: list[str]) -> pl.Expr:
    if not kept:
        return pl.lit("{}")
    clipped = [
        pl.when(pl.col(c).str.len_chars() > RAW_LIMIT)
        .then(pl.col(c).str.slice(0, RAW_LIMIT) + "…[truncated]")
        .otherwise(pl.col(c))
        .alias(c)
        for c in kept
    ]
    return pl.struct(clipped).struct.json_encode()


def _validate(
    raw: RawFile, extra_rules: list[_Rule] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a file into typed accepted rows and quarantined rows (line, reasons, raw)."""
    contract = raw.contract
    kept = [c for c in contract.column_names if c in raw.frame.columns]
    rules: list[_Rule] = []
    typed: list[pl.Expr] = []
    for col in contract.columns:
        t, r = _column_rules(col, col.name in kept)
        typed.append(t)
        rules += r
    rules += extra_rules or []
    flags = [f"__broken_{i}" for i in range(len(rules))]
    frame = raw.frame.with_columns(typed).with_columns(
        [r.broken.fill_null(False).alias(f) for r, f in zip(rules, flags, strict=True)]
    )
    any_broken = pl.any_horizontal(flags) if flags else pl.lit(False)
    frame = frame.with_columns(any_broken.alias("__bad"))
    good = frame.filter(~pl.col("__bad")).select(
        *[pl.col(_typed_name(c.name)).alias(c.name) for c in contract.columns], pl.col(LINE)
    )
    bad = frame.filter(pl.col("__bad"))
    reasons = [pl.when(pl.col(f)).then(r.reason) for r, f in zip(rules, flags, strict=True)]
    quarantined = bad.select(
        LINE,
        (
            pl.concat_str(reasons, separator="; ", ignore_nulls=True)
            if reasons
            else pl.lit(None, pl.String)
        ).alias(REASON),
        _raw_json(kept).alias("raw"),
        *[pl.col(k).alias(f"__key_{k}") for k in contract.key if k in kept],
    )
    return good, quarantined


def _rejects_frame(raw: RawFile) -> pl.DataFrame:
    keys = raw.contract.key
    return pl.DataFrame(
        {
            LINE: [r.line for r in raw.rejects],
            REASON: [r.reason for r in raw.rejects],
            "raw": [json.dumps(r.raw, ensure_ascii=False) for r in raw.rejects],
            **{f"__key_{k}": [r.raw.get(k) or None for r in raw.rejects] for k in keys},
        },
        schema={
            LINE: pl.Int64,
            REASON: pl.String,
            "raw": pl.String,
            **{f"__key_{k}": pl.String for k in keys},
        },
    )


def _duplicate_rule(key: str, counts_expr: pl.Expr) -> _Rule:
    return _Rule(
        pl.col(key).is_not_null() & (counts_expr > 1),
        pl.format(
            f"{key} '{{}}' occurs {{}} times in this file; every occurrence is quarantined "
            "(the extract contradicts itself: a person must decide which is right)",
            _clip_expr(pl.col(key)),
            counts_expr,
        ),
    )


def _id_counts(raw: RawFile, key: str) -> pl.DataFrame:
    """How often each id occurs in a file, counting rejected records' raw ids too."""
    ids = pl.concat(
        [
            raw.frame.select(pl.col(key)),
            pl.DataFrame(
                {key: [r.raw.get(key) or None for r in raw.rejects]}, schema={key: pl.String}
            ),
        ]
    )
    return ids.drop_nulls().group_by(key).len("__count")


def _check(
    raw: RawFile, extra: list[_Rule] | None = None, joins: list[pl.DataFrame] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate a file (with extra cross-row rules) and add its structural rejects."""
    if joins:
        frame = raw.frame
        for j in joins:
            frame = frame.join(j, on=j.columns[0], how="left")
        raw = RawFile(**{**raw.__dict__, "frame": frame})
    good, bad = _validate(raw, extra)
    rejects = _rejects_frame(raw)
    if rejects.height:
        bad = pl.concat([bad, rejects.select(bad.columns)], how="vertical_relaxed")
    return good, bad.sort(LINE)


def _check_crimes(
    raw: RawFile, lpa_list: list[str] | None, lpa_source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    counts = _id_counts(raw, "crime_id")
    extra = [_duplicate_rule("crime_id", pl.col("__count"))]
    if lpa_list is not None and "lpa" in raw.frame.columns:
        lpa = pl.col("lpa").str.strip_chars()
        extra.append(
            _Rule(
                (lpa != "") & ~lpa.is_in(lpa_list),
                pl.format(
                    f"lpa '{{}}' is not one of the force's LPAs (from {lpa_source}); "
                    "correct the LPA or add it to the list",
                    _clip_expr(pl.col("lpa")),
                ),
            )
        )
    return _check(raw, extra, [counts])


def _check_distinct_rows(raw: RawFile) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nominals, orders, lpas: identical repeated rows collapse; differing ones are quarantined.
    An order cannot end before it starts."""
    key = raw.contract.key[0]
    kept = [c for c in raw.contract.column_names if c in raw.frame.columns]
    versions = raw.frame.select(kept).unique().drop_nulls(key).group_by(key).len("__versions")
    extra = [
        _Rule(
            pl.col(key).is_not_null() & (pl.col("__versions") > 1),
            pl.format(
                f"{key} '{{}}' occurs more than once with different values; every occurrence is "
                "quarantined (a person must decide which is right)",
                _clip_expr(pl.col(key)),
            ),
        )
    ]
    if raw.contract is ORDERS and "ends_on" in raw.frame.columns:
        starts = pl.col("starts_on").str.to_date("%Y-%m-%d", strict=False)
        ends = pl.col("ends_on").str.to_date("%Y-%m-%d", strict=False)
        extra.append(_Rule(ends < starts, pl.lit("ends_on is before starts_on")))
    return _check(raw, extra, [versions])


def _check_suspects(
    raw: RawFile,
    store: Store,
    accepted_crimes: pl.DataFrame,
    quarantined_crime_ids: pl.Series,
    *,
    replace: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    known_frames = [accepted_crimes.select("crime_id")]
    if not replace:
        # a --replace extract is complete: a stored crime it does not hold is ended, so a link
        # to it would be an orphan. Only the ids this extract does not hold are looked up.
        ids = raw.frame.select(pl.col("crime_id").drop_nulls().unique()).join(
            accepted_crimes.select("crime_id"), on="crime_id", how="anti"
        )
        store.con.register("__suspect_crime_ids", ids)
        try:
            stored = store.frame(
                "SELECT DISTINCT c.crime_id FROM crimes c "
                "JOIN __suspect_crime_ids s USING (crime_id)"
            )
        finally:
            store.con.unregister("__suspect_crime_ids")
        known_frames.append(stored.select(pl.col("crime_id").cast(pl.String)))
    known = pl.concat(known_frames).unique()
    known = known.with_columns(pl.lit(True).alias("__known"))
    quarantined = pl.DataFrame(
        {"crime_id": quarantined_crime_ids.drop_nulls().unique()}
    ).with_columns(pl.lit(True).alias("__crime_quarantined"))
    crime = _clip_expr(pl.col("crime_id"))
    extra = [
        _Rule(
            pl.col("crime_id").is_not_null() & pl.col("__crime_quarantined").fill_null(False),
            pl.format(
                "crime '{}' was quarantined in this extract, so its link is held with it", crime
            ),
        ),
        _Rule(
            pl.col("crime_id").is_not_null()
            & pl.col("__known").is_null()
            & pl.col("__crime_quarantined").is_null(),
            pl.format(
                "crime '{}' is not in this extract's crimes (a --replace load is complete: "
                "crimes it does not hold are ended), an orphan link"
                if replace
                else "crime '{}' is neither in this extract's crimes nor already stored "
                "(an orphan link)",
                crime,
            ),
        ),
    ]
    return _check(raw, extra, [known, quarantined])


# ------------------------------------------------------------------------------ merge ----
@dataclass(frozen=True)
class _Table:
    name: str
    versions: str
    key: tuple[str, ...]
    values: tuple[str, ...]
    derived: tuple[str, ...] = ()  # keys from _KEYS, stored with a row (never compared)


_TABLES = {
    "crimes": _Table(
        "crimes",
        "crime_versions",
        ("crime_id",),
        (
            "ho_code",
            "recorded_on",
            "committed_on",
            "lpa",
            "domestic_abuse",
            "victim_id",
            "status",
            "outcome",
            "updated_at",
        ),
        derived=("ckey", "hkey", "lkey", "vkey"),
    ),
    "suspects": _Table(
        "links",
        "link_versions",
        ("crime_id", "nominal_id"),
        ("role",),
        derived=("nkey", "ckey"),
    ),
    "nominals": _Table("nominals", "nominal_versions", ("nominal_id",), ("birth_year", "home_lpa")),
    "orders": _Table(
        "orders",
        "order_versions",
        ("order_id",),
        ("nominal_id", "order_type", "starts_on", "ends_on"),
    ),
    "lpas": _Table("lpas", "lpa_versions", ("lpa",), ()),
}


# the integer keys ingest assigns: column -> (the table holding them, the id they stand for)
_KEYS = {
    "nkey": ("nominal_keys", "nominal_id"),
    "ckey": ("crime_keys", "crime_id"),
    "hkey": ("offence_keys", "ho_code"),
    "lkey": ("lpa_keys", "lpa"),
    "vkey": ("victim_keys", "victim_id"),  # a crime with no victim_id has no vkey
}


def _merge(
    store: Store,
    table: _Table,
    new: pl.DataFrame,
    load_id: int,
    report: FileReport,
    *,
    compare: tuple[str, ...],
    stale_on: str | None,
    present_keys: pl.DataFrame | None,
) -> None:
    """Upsert ``new`` into ``table``, keeping every replaced or ended version."""
    con = store.con
    cols = (*table.key, *table.values, *table.derived)
    # the derived keys are looked up here (a NULL key would be refused by the NOT NULL column)
    con.register("__new_rows", new.select(*table.key, *table.values))
    keys = "".join(f", {c}.{c}" for c in table.derived)
    joins = "".join(
        f" LEFT JOIN {_KEYS[c][0]} {c} ON {c}.{_KEYS[c][1]} = n.{_KEYS[c][1]}"
        for c in table.derived
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW __new AS SELECT n.*{keys} FROM __new_rows n{joins}")
    join = " AND ".join(f"n.{k} = o.{k}" for k in table.key)
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in compare) or "false"
    stale = (
        f"(n.{stale_on} IS NOT NULL AND o.{stale_on} IS NOT NULL AND n.{stale_on} < o.{stale_on})"
        if stale_on
        else "false"
    )
    # One pass over the extract: each row is inserted, unchanged, stale or updated. (What
    # changed is worked out below for the updated rows only.)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __cmp AS
        SELECT n.*,
               CASE WHEN o.{table.key[0]} IS NULL THEN 'inserted'
                    WHEN NOT ({differs}) THEN 'unchanged'
                    WHEN {stale} THEN 'stale'
                    ELSE 'updated' END AS __outcome
        FROM __new n LEFT JOIN {table.name} o ON {join}
        """
    )
    con.execute("DROP VIEW __new")
    con.unregister("__new_rows")
    counts = dict(con.execute("SELECT __outcome, count(*) FROM __cmp GROUP BY ALL").fetchall())
    report.inserted += counts.get("inserted", 0)
    report.updated += counts.get("updated", 0)
    report.unchanged += counts.get("unchanged", 0)
    report.stale += counts.get("stale", 0)
    key_match = " AND ".join(f"t.{k} = c.{k}" for k in table.key)
    if counts.get("updated"):
        changed = (
            ", ".join(f"CASE WHEN c.{x} IS DISTINCT FROM t.{x} THEN '{x}' END" for x in compare)
            or "NULL"
        )
        con.execute(
            f"""
            INSERT INTO {table.versions}
            SELECT t.*, {load_id}, 'revised', list_filter([{changed}], lambda x: x IS NOT NULL)
            FROM {table.name} t JOIN __cmp c ON {key_match} WHERE c.__outcome = 'updated'
            """
        )
        con.execute(
            f"DELETE FROM {table.name} t USING __cmp c WHERE {key_match} AND c.__outcome = 'updated'"
        )
    if counts.get("updated") or counts.get("inserted"):
        con.execute(
            f"INSERT INTO {table.name} ({', '.join(cols)}, load_id) "
            f"SELECT {', '.join(cols)}, {load_id} FROM __cmp "
            "WHERE __outcome IN ('inserted', 'updated')"
        )
    if present_keys is not None:
        con.register("__present", present_keys.select(table.key).unique())
        absent = f"NOT EXISTS (SELECT 1 FROM __present p WHERE {' AND '.join(f'p.{k} = t.{k}' for k in table.key)})"
        ended = store.scalar(f"SELECT count(*) FROM {table.name} t WHERE {absent}")
        if ended:
            con.execute(
                f"INSERT INTO {table.versions} SELECT t.*, {load_id}, 'ended', []::VARCHAR[] "
                f"FROM {table.name} t WHERE {absent}"
            )
            con.execute(f"DELETE FROM {table.name} t WHERE {absent}")
        report.ended += ended
        con.unregister("__present")
    con.execute("DROP TABLE IF EXISTS __cmp")


def _add_keys(store: Store, column: str, ids: pl.DataFrame, order: str) -> None:
    """Give every id in ``ids`` not yet in ``column``'s key table (see ``_KEYS``) a stable
    integer key: the next ones, in ``order`` (``_merge`` attaches the keys to the rows).
    Nominals (and offence codes, LPAs, victims) are numbered in their id's order; crimes in
    the order recorded_on, crime_id, so that crime keys run roughly in date order (their
    links' crimes are in this extract or already stored: orphans were quarantined)."""
    table, id_column = _KEYS[column]
    con = store.con
    con.register("__new_ids", ids)
    try:
        con.execute(
            f"""
            INSERT INTO {table}
            SELECT {id_column},
                   (SELECT coalesce(max({column}), 0) FROM {table})
                   + row_number() OVER (ORDER BY {order})
            FROM __new_ids n
            WHERE NOT EXISTS (SELECT 1 FROM {table} k WHERE k.{id_column} = n.{id_column})
            """
        )
    finally:
        con.unregister("__new_ids")


def refresh_nominal_order(store: Store) -> None:
    """Rebuild ``nominal_order`` when it does not hold every nominal key (a load added
    nominals): each key's place in nominal_id order, the lists' last tie-break. All or
    nothing (inside a caller's transaction, part of it)."""
    if store.scalar(
        "SELECT (SELECT count(*) FROM nominal_order) = (SELECT count(*) FROM nominal_keys)"
    ):
        return
    with store.transaction():
        store.execute("DELETE FROM nominal_order")
        store.execute(
            "INSERT INTO nominal_order SELECT nkey, row_number() OVER (ORDER BY nominal_id) "
            "FROM nominal_keys ORDER BY nkey"
        )


def fingerprint(store: Store) -> str:
    """A checksum of the stored extract (order-independent), recorded with every load and run."""
    parts = store.one(
        """
        SELECT
          (SELECT count(*) || ':' || coalesce(bit_xor(hash(crime_id, ho_code, recorded_on,
                  committed_on, lpa, domestic_abuse, victim_id, status, outcome)), 0) FROM crimes),
          (SELECT count(*) || ':' || coalesce(bit_xor(hash(crime_id, nominal_id, role)), 0) FROM links),
          (SELECT count(*) || ':' || coalesce(bit_xor(hash(nominal_id, birth_year, home_lpa)), 0)
           FROM nominals),
          (SELECT count(*) || ':' || coalesce(bit_xor(hash(order_id, nominal_id, order_type,
                  starts_on, ends_on)), 0) FROM orders),
          (SELECT count(*) || ':' || coalesce(bit_xor(hash(lpa)), 0) FROM lpas)
        """
    )
    assert parts is not None
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


# ----------------------------------------------------------------------------- ingest ----
def _present_keys(
    contract: FileContract, accepted: pl.DataFrame, quarantined: pl.DataFrame
) -> pl.DataFrame:
    """Keys that appear in the extract (accepted or quarantined): a --replace load ends the rest."""
    keys = list(contract.key)
    q = quarantined.select([pl.col(f"__key_{k}").alias(k) for k in keys]).drop_nulls()
    a = accepted.select([pl.col(k).cast(pl.String) for k in keys])
    return pl.concat([a, q], how="vertical_relaxed").unique()


def ingest_extract(
    store: Store,
    folder: Path | str,
    config: Config,
    *,
    replace: bool = False,
    user: str | None = None,
) -> IngestReport:
    """Validate, quarantine and upsert one extract folder; return its reconciliation.

    Raises :class:`ExtractUnreadable` (nothing written) when a file cannot be read at all.
    """
    folder = Path(folder)
    started = datetime.now(UTC).replace(tzinfo=None)
    found = find_files(folder, FILES)
    raws = {name: read_file(BY_NAME[name], path, fmt) for name, (path, fmt) in found.items()}
    reports = {
        name: FileReport(
            format=r.format, ignored_columns=r.ignored_columns, blank_lines=r.blank_lines
        )
        for name, r in raws.items()
    }

    checked: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}

    def check_distinct(name: str) -> None:
        """Identical repeated rows collapse into one (counted as collapsed)."""
        good, bad = _check_distinct_rows(raws[name])
        _accounted(name, good, bad)
        unique = good.unique(BY_NAME[name].key[0], keep="first", maintain_order=True)
        reports[name].collapsed = good.height - unique.height
        checked[name] = (unique, bad)

    def _accounted(name: str, good: pl.DataFrame, bad: pl.DataFrame) -> None:
        # every row read is accepted or quarantined, before anything is written
        if good.height + bad.height != raws[name].read:
            raise AssertionError(f"ingest lost rows of {name}: a bug, nothing was written")

    # lpas first: they decide which crimes are in the force's area
    if "lpas" in raws:
        check_distinct("lpas")
    if config.force.lpas is not None:
        lpa_list: list[str] | None = list(config.force.lpas)
        lpa_source = "the configuration's [force] lpas"
    elif "lpas" in checked:
        lpa_list = checked["lpas"][0].get_column("lpa").to_list()
        lpa_source = "the extract's lpas file"
    else:
        lpa_list, lpa_source = None, "none"

    checked["crimes"] = _check_crimes(raws["crimes"], lpa_list, lpa_source)
    crimes_ok, crimes_bad = checked["crimes"]
    checked["suspects"] = _check_suspects(
        raws["suspects"],
        store,
        crimes_ok,
        crimes_bad.get_column("__key_crime_id"),
        replace=replace,
    )
    for name in ("crimes", "suspects"):
        _accounted(name, *checked[name])
    for name in ("nominals", "orders"):
        if name in raws:
            check_distinct(name)
    # reconcile (counted on rows before duplicate collapsing)
    for name, (_good, bad) in checked.items():
        rep = reports[name]
        rep.read = raws[name].read
        rep.quarantined = bad.height
        rep.accepted = rep.read - rep.quarantined
    # every row is now in a checked frame: let the raw text go (gigabytes at national scale)
    files_meta = {
        name: {"format": r.format, "sha256": r.sha256, "bytes": r.size, "path": str(r.path)}
        for name, r in raws.items()
    }
    has_updated_at = "updated_at" in raws["crimes"].frame.columns
    raws.clear()

    # suspects: duplicate links collapse to the latest stage of the process
    links_ok, links_bad = checked["suspects"]
    stage = pl.col("role").replace_strict(ROLE_STAGE, return_dtype=pl.Int64)
    collapsed = (
        links_ok.with_columns(stage.alias("__stage"))
        .sort(["__stage", LINE], descending=[True, False])
        .unique(["crime_id", "nominal_id"], keep="first", maintain_order=True)
        .drop("__stage")
    )
    reports["suspects"].collapsed = links_ok.height - collapsed.height
    checked["suspects"] = (collapsed, links_bad)
    del links_ok

    codes = known_codes(config)
    unknown = (
        crimes_ok.filter(~pl.col("ho_code").is_in(list(codes)))
        .group_by("ho_code")
        .len()
        .sort("ho_code")
    )
    unknown_codes = dict(
        zip(
            unknown.get_column("ho_code").to_list(),
            unknown.get_column("len").to_list(),
            strict=True,
        )
    )

    user = user or audit.os_user()
    with store.transaction():
        load_id = int(store.scalar("SELECT coalesce(max(load_id), 0) + 1 FROM loads"))
        _add_keys(
            store, "ckey", crimes_ok.select("crime_id", "recorded_on"), "recorded_on, crime_id"
        )
        _add_keys(store, "nkey", collapsed.select("nominal_id").unique(), "nominal_id")
        refresh_nominal_order(store)
        for column in ("hkey", "lkey", "vkey"):  # the crimes' codes, LPAs and victims
            id_column = _KEYS[column][1]
            _add_keys(store, column, crimes_ok.select(id_column).unique().drop_nulls(), id_column)
        del crimes_ok, collapsed  # each accepted frame is let go once merged (below)
        for name in ("lpas", "crimes", "suspects", "nominals", "orders"):
            if name not in checked:
                continue
            frame, bad = checked[name]
            checked[name] = (frame.clear(), bad)
            table = _TABLES[name]
            compare = table.values
            if name == "crimes" and not has_updated_at:
                compare = tuple(c for c in table.values if c != "updated_at")
            present = _present_keys(BY_NAME[name], frame, checked[name][1]) if replace else None
            _merge(
                store,
                table,
                frame,
                load_id,
                reports[name],
                compare=compare,
                stale_on="updated_at" if name == "crimes" and has_updated_at else None,
                present_keys=present,
            )
        quarantine = pl.concat(
            [
                bad.select(
                    pl.lit(load_id, pl.Int32).alias("load_id"),
                    pl.lit(name).alias("file"),
                    pl.col(LINE).alias("line"),
                    pl.col(REASON).alias("reason"),
                    pl.col("raw"),
                )
                for name, (_good, bad) in checked.items()
            ]
        )
        if quarantine.height:
            store.con.register("__quarantine", quarantine)
            store.execute(
                "INSERT INTO quarantine SELECT load_id, file, line, reason, raw::JSON FROM __quarantine"
            )
            store.con.unregister("__quarantine")
        report = IngestReport(load_id, str(folder), replace, reports, unknown_codes, lpa_source)
        store.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?)",
            [
                load_id,
                started,
                datetime.now(UTC).replace(tzinfo=None),
                user,
                str(folder.resolve()),
                replace,
                json.dumps(files_meta),
                json.dumps(report.as_dict()),
                fingerprint(store),
            ],
        )
    audit.append(
        store,
        user=user,
        action="ingest",
        route="harmrank ingest",
        status=200,
        row_count=sum(r.read for r in reports.values()),
        detail={
            "load_id": load_id,
            "source": str(folder.resolve()),
            "replace": replace,
            "quarantined": {n: r.quarantined for n, r in reports.items()},
        },
    )
    return report
