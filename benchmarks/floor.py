"""The floor (SPEC section 9): ``benchmarks/floor.sql`` in DuckDB on harmrank's database file."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from harmrank.config import Config
from harmrank.reference import load_offence_set, load_weights
from harmrank.scoring import Month

FLOOR_SQL = Path(__file__).resolve().parent / "floor.sql"
RULE_WINDOW_MONTHS = 36  # rasso-repeat-interim


def prepare(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """The reference tables the floor joins (temporary: nothing is written to the file)."""
    weights = load_weights(config).resolved()
    frame = pl.DataFrame(
        {"ho_code": list(weights), "weight": [str(w) for w in weights.values()]},
        schema={"ho_code": pl.String, "weight": pl.String},
    ).with_columns(pl.col("weight").cast(pl.Decimal(18, 6)))
    sets = pl.DataFrame(
        [
            {"set_name": name, "ho_code": code}
            for name in ("vawg", "rasso")
            for code in sorted(load_offence_set(name, config).codes)
        ],
        schema={"set_name": pl.String, "ho_code": pl.String},
    )
    for name, df in (("floor_weights", frame), ("floor_sets", sets)):
        con.register("__floor_frame", df)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM __floor_frame")
        con.unregister("__floor_frame")


def params(month: str, window_months: int = 12) -> dict[str, Any]:
    m = Month.parse(month)
    p = m.shift(-1)
    return {
        "m_window_start": m.window(window_months)[0],
        "p_window_start": p.window(window_months)[0],
        "m_as_at": m.last_day,
        "p_as_at": p.last_day,
        "m_rule_start": m.window(RULE_WINDOW_MONTHS)[0],
        "p_rule_start": p.window(RULE_WINDOW_MONTHS)[0],
    }


def run(con: duckdb.DuckDBPyConnection, month: str) -> tuple[float, Any]:
    """The floor for ``month``, fully fetched (as Arrow); returns (seconds, table)."""
    sql = FLOOR_SQL.read_text(encoding="utf-8")
    t = time.perf_counter()
    table = con.sql(sql, params=params(month)).to_arrow_table()
    return time.perf_counter() - t, table


def with_ids(con: duckdb.DuckDBPyConnection, table: Any) -> Any:
    """The floor's rows with the nominals' ids for their keys (for the cross-check; the
    floor itself stops at the keys)."""
    con.register("__floor_out", table)
    try:
        return con.sql(
            "SELECT k.nominal_id, f.* EXCLUDE (nkey) FROM __floor_out f "
            "JOIN nominal_keys k USING (nkey)"
        ).to_arrow_table()
    finally:
        con.unregister("__floor_out")


def agrees_with_lists(table: Any, lists: list[dict[str, Any]]) -> dict[str, Any]:
    """Cross-check with harmrank's published lists of the month: every harm and frequency
    entry's harm and frequency, and every repeat entry's qualifying count, equal the floor's;
    and the force-wide repeat list holds exactly the nominals with 2+ qualifying crimes."""
    floor = {r["nominal_id"]: r for r in pl.from_arrow(table).to_dicts()}
    checked = differing = 0
    examples: list[str] = []
    for obj in lists:
        for e in obj["entries"]:
            f = floor.get(e["nominal_id"], {})
            if obj["list"] == "repeat":
                same = f.get("qualifying_m") == e["qualifying"]
            else:
                same = f.get("harm_m") == e["harm"] and f.get("frequency_m") == e["frequency"]
            checked += 1
            if not same:
                differing += 1
                if len(examples) < 5:
                    examples.append(f"{obj['lpa']}/{obj['list']} {e['nominal_id']}")
    flagged = sum(1 for r in floor.values() if (r["qualifying_m"] or 0) >= 2)
    repeat_all = next(
        (len(o["entries"]) for o in lists if o["lpa"] == "ALL" and o["list"] == "repeat"), None
    )
    return {
        "entries_checked": checked,
        "differing": differing,
        "examples": examples,
        "repeat_all_entries": repeat_all,
        "floor_flagged": flagged,
        "agrees": differing == 0 and repeat_all == flagged,
    }


def total_harm(table: Any) -> Decimal:
    return Decimal(str(pl.from_arrow(table).get_column("harm_m").sum() or 0))
