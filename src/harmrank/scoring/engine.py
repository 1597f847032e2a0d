"""The scoring engine: SPEC section 3 as a short pipeline of named SQL steps in DuckDB.

One pass scores any set of as-at months together (a backfill shares the pass; a single run
is the pass for ``[M-1, M]``, since movement compares with ``M-1`` on the same data)::

    _eligible   eligible (nominal, crime) pairs: recorded, VAWG, not eliminated, weighted
    _in_window  each pair in the window of each month
    _scores     per month and nominal: harm (exact decimal), frequency, victims, last recorded
    _principal  the LPA holding the largest share of the nominal's window harm
    _attributed the LPA a nominal's history and list entries carry (principal, home)
    _members    which lists a nominal is on: its LPA's (or, for `presence`, every LPA where it
                has an eligible crime) and ALL
    _ranked     rank in each list it is on (harm list: harm > 0 only)
    _top        the first top_n of each list, with the rank at M-1 for movement
    _flags      the repeat rule's decisions (qualifying crimes, reasons)
    _repeat     the repeat-suspect lists (every flagged nominal, per LPA and ALL)

The steps read the tables named in :class:`Sources`, so the same SQL scores the live extract
or the extract as it stood at an earlier load (see :mod:`harmrank.scoring.asof`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from harmrank.config import Config
from harmrank.reference import (
    OffenceSet,
    TableSource,
    descriptions,
    load_offence_set,
    load_weights,
)
from harmrank.scoring.months import Month
from harmrank.scoring.rules import RepeatRule, RuleContext, resolve_rule, rule_provenance


@dataclass(frozen=True)
class Sources:
    """The tables the pipeline reads (views of an earlier state can stand in for them)."""

    crimes: str = "crimes"
    links: str = "links"
    nominals: str = "nominals"
    orders: str = "orders"


@dataclass
class Settings:
    """Everything a run is computed from, resolved from the configuration and the store."""

    config: Config
    weights: dict[str, Decimal]
    weight_tables: tuple[TableSource, ...]
    vawg: OffenceSet
    rule: RepeatRule | None  # None when only the window steps are needed (explanations)
    lpas: list[str]
    lpa_source: str

    @property
    def top_n(self) -> int:
        return self.config.scoring.top_n

    @property
    def window_months(self) -> int:
        return self.config.scoring.window_months

    def provenance(self) -> dict[str, Any]:
        return {
            "config": self.config.provenance(),
            "weights": {
                "tables": [t.as_dict() for t in self.weight_tables],
                "codes_weighted": len(self.weights),
            },
            "offence_sets": {
                "vawg": {**self.vawg.source.as_dict(), "codes": sorted(self.vawg.codes)},
            },
            "rule": rule_provenance(self.rule) if self.rule is not None else None,
            "lpas": {"source": self.lpa_source, "lpas": self.lpas},
        }


def known_lpas(store_con: duckdb.DuckDBPyConnection, config: Config) -> tuple[list[str], str]:
    """SPEC section 3: the configured LPAs, else the ingested lpas files', else the crimes'."""
    if config.force.lpas is not None:
        return sorted(config.force.lpas), "configuration"
    rows = store_con.execute("SELECT DISTINCT lpa FROM lpas").fetchall()
    if rows:
        return sorted(r[0] for r in rows), "lpas files"
    rows = store_con.execute("SELECT DISTINCT lpa FROM crimes").fetchall()
    return sorted(r[0] for r in rows), "crimes"


def resolve_settings(con: duckdb.DuckDBPyConnection, config: Config) -> Settings:
    weights = load_weights(config)
    lpas, source = known_lpas(con, config)
    return Settings(
        config=config,
        weights=weights.resolved(),
        weight_tables=weights.tables,
        vawg=load_offence_set("vawg", config),
        rule=resolve_rule(config),
        lpas=lpas,
        lpa_source=source,
    )


# ----------------------------------------------------------------------------- helpers ----
def _load_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register("__frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM __frame")
    con.unregister("__frame")


def _months_frame(months: list[Month], window_months: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "month": [str(m) for m in months],
            "month_index": [m.index for m in months],
            "first_day": [m.first_day for m in months],
            "as_at": [m.last_day for m in months],
            "window_start": [m.window(window_months)[0] for m in months],
            "year": [m.year for m in months],
        },
        schema={
            "month": pl.String,
            "month_index": pl.Int32,
            "first_day": pl.Date,
            "as_at": pl.Date,
            "window_start": pl.Date,
            "year": pl.Int32,
        },
    )


def load_context(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    months: list[Month],
    weights: dict[str, Decimal] | None = None,
) -> None:
    """Reference tables the steps join: weights, the VAWG set, LPAs, months, descriptions."""
    w = weights if weights is not None else settings.weights
    _load_table(
        con,
        "_weights",
        pl.DataFrame(
            {"ho_code": list(w), "weight": [str(v) for v in w.values()]},
            schema={"ho_code": pl.String, "weight": pl.String},
        ).with_columns(pl.col("weight").cast(pl.Decimal(18, 6))),
    )
    _load_table(
        con,
        "_vawg",
        pl.DataFrame({"ho_code": sorted(settings.vawg.codes)}, schema={"ho_code": pl.String}),
    )
    _load_table(con, "_lpa_list", pl.DataFrame({"lpa": settings.lpas}, schema={"lpa": pl.String}))
    _load_table(con, "_months", _months_frame(months, settings.window_months))
    desc = descriptions()
    _load_table(
        con,
        "_offences",
        pl.DataFrame(
            {"ho_code": list(desc), "offence": list(desc.values())},
            schema={"ho_code": pl.String, "offence": pl.String},
        ),
    )


@dataclass
class Pipeline:
    """Named SQL steps run in order, each materialised as a temp table of its name."""

    steps: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, sql: str) -> None:
        self.steps.append((name, sql))

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        for name, sql in self.steps:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def sql(self) -> str:
        """The whole pipeline as text (for review and snapshot tests)."""
        return "\n\n".join(f"-- {name}\n{sql.strip()}" for name, sql in self.steps)


def scoring_pipeline(settings: Settings, src: Sources = Sources()) -> Pipeline:
    """SPEC section 3 for every month in ``_months``."""
    cfg = settings.config.scoring
    basis = (
        "c.recorded_on"
        if cfg.date_basis == "recorded_on"
        else "coalesce(c.committed_on, c.recorded_on)"
    )
    if cfg.attribution == "home":
        attributed = (
            "CASE WHEN n.home_lpa IN (SELECT lpa FROM _lpa_list) THEN n.home_lpa ELSE p.lpa END"
        )
    else:  # principal; `presence` keeps the principal LPA for history and entries
        attributed = "p.lpa"
    if cfg.attribution == "presence":
        members = """
            SELECT DISTINCT month, lpa AS list_lpa, nominal_id FROM _in_window
            UNION ALL
            SELECT month, 'ALL', nominal_id FROM _scores
        """
    else:
        members = """
            SELECT month, lpa AS list_lpa, nominal_id FROM _attributed
            UNION ALL
            SELECT month, 'ALL', nominal_id FROM _scores
        """
    p = Pipeline()
    p.add(
        "_eligible",
        f"""
        SELECT l.nominal_id, c.crime_id, c.ho_code, c.recorded_on, {basis} AS basis_on,
               c.lpa, c.victim_id, w.weight
        FROM {src.links} l
        JOIN {src.crimes} c ON c.crime_id = l.crime_id
        LEFT JOIN _weights w ON w.ho_code = c.ho_code
        WHERE l.role <> 'eliminated'
          AND c.status = 'recorded'
          AND (c.domestic_abuse OR c.ho_code IN (SELECT ho_code FROM _vawg))
          AND {basis} BETWEEN (SELECT min(window_start) FROM _months) AND (SELECT max(as_at) FROM _months)
    """,
    )
    p.add(
        "_in_window",
        """
        SELECT m.month, m.month_index, e.*
        FROM _months m JOIN _eligible e ON e.basis_on BETWEEN m.window_start AND m.as_at
    """,
    )
    p.add(
        "_scores",
        """
        SELECT month, nominal_id,
               sum(coalesce(weight, 0))::DECIMAL(18, 6) AS harm,
               count(*)::INTEGER AS frequency,
               count(DISTINCT victim_id)::INTEGER AS victims,
               max(recorded_on) AS last_recorded_on
        FROM _in_window GROUP BY month, nominal_id
    """,
    )
    p.add(
        "_principal",
        """
        SELECT month, nominal_id, lpa FROM (
            SELECT month, nominal_id, lpa,
                   row_number() OVER (PARTITION BY month, nominal_id
                                      ORDER BY lpa_harm DESC, lpa_last DESC, lpa ASC) AS pick
            FROM (SELECT month, nominal_id, lpa,
                         sum(coalesce(weight, 0)) AS lpa_harm, max(recorded_on) AS lpa_last
                  FROM _in_window GROUP BY month, nominal_id, lpa)
        ) WHERE pick = 1
    """,
    )
    p.add(
        "_attributed",
        f"""
        SELECT p.month, p.nominal_id, {attributed} AS lpa
        FROM _principal p LEFT JOIN {src.nominals} n ON n.nominal_id = p.nominal_id
    """,
    )
    p.add("_members", members)
    p.add(
        "_ranked",
        """
        SELECT m.month, m.list_lpa, m.nominal_id, s.harm, s.frequency, s.victims, s.last_recorded_on,
               CASE WHEN s.harm > 0 THEN row_number() OVER (
                   PARTITION BY m.month, m.list_lpa, s.harm > 0
                   ORDER BY s.harm DESC, s.frequency DESC, s.last_recorded_on DESC, m.nominal_id ASC)
               END::INTEGER AS harm_rank,
               row_number() OVER (
                   PARTITION BY m.month, m.list_lpa
                   ORDER BY s.frequency DESC, s.harm DESC, s.last_recorded_on DESC, m.nominal_id ASC
               )::INTEGER AS frequency_rank
        FROM _members m JOIN _scores s USING (month, nominal_id)
    """,
    )
    p.add(
        "_top",
        f"""
        WITH top AS (
            SELECT month, list_lpa AS lpa, 'harm' AS list, harm_rank AS rank, nominal_id
            FROM _ranked WHERE harm_rank <= {settings.top_n}
            UNION ALL
            SELECT month, list_lpa, 'frequency', frequency_rank, nominal_id
            FROM _ranked WHERE frequency_rank <= {settings.top_n}
        ), indexed AS (
            SELECT t.*, m.month_index FROM top t JOIN _months m USING (month)
        )
        SELECT t.month, t.lpa, t.list, t.rank, t.nominal_id, prev.rank AS prev_rank
        FROM indexed t
        LEFT JOIN indexed prev
          ON prev.month_index = t.month_index - 1 AND prev.lpa = t.lpa
         AND prev.list = t.list AND prev.nominal_id = t.nominal_id
    """,
    )
    return p


def rule_views(
    con: duckdb.DuckDBPyConnection, settings: Settings, src: Sources = Sources()
) -> None:
    """The tables a repeat rule reads (see :mod:`harmrank.scoring.rules`)."""
    basis = (
        "c.recorded_on"
        if settings.config.scoring.date_basis == "recorded_on"
        else "coalesce(c.committed_on, c.recorded_on)"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW rule_links AS
        SELECT l.nominal_id, c.crime_id, l.role, c.ho_code, c.recorded_on, c.committed_on,
               {basis} AS basis_on, c.lpa, c.domestic_abuse, c.victim_id
        FROM {src.links} l JOIN {src.crimes} c ON c.crime_id = l.crime_id
        WHERE c.status = 'recorded'
    """)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW rule_nominals AS SELECT nominal_id, birth_year FROM {src.nominals}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW rule_months AS SELECT month, first_day, as_at, year FROM _months"
    )


def repeat_pipeline(settings: Settings, src: Sources = Sources()) -> Pipeline:
    """The repeat-suspect lists from the rule's decisions (``_flag_crimes``, ``_flag_reasons``)."""
    p = Pipeline()
    p.add(
        "_qualifying",
        f"""
        SELECT f.month, f.nominal_id, c.crime_id, c.ho_code, c.recorded_on, c.lpa, c.victim_id, w.weight
        FROM (SELECT DISTINCT month, nominal_id, crime_id FROM _flag_crimes) f
        JOIN {src.crimes} c ON c.crime_id = f.crime_id
        LEFT JOIN _weights w ON w.ho_code = c.ho_code
    """,
    )
    p.add(
        "_repeat_scores",
        """
        WITH per_lpa AS (
            SELECT month, nominal_id, lpa, count(*) AS n, max(recorded_on) AS last
            FROM _qualifying GROUP BY month, nominal_id, lpa
        ), pick AS (
            SELECT month, nominal_id, lpa FROM (
                SELECT *, row_number() OVER (PARTITION BY month, nominal_id
                                             ORDER BY n DESC, last DESC, lpa ASC) AS k
                FROM per_lpa) WHERE k = 1
        )
        SELECT q.month, q.nominal_id, pick.lpa,
               count(*)::INTEGER AS qualifying,
               count(DISTINCT q.victim_id)::INTEGER AS victims,
               max(q.recorded_on) AS last_recorded_on,
               any_value(r.reasons) AS reasons
        FROM _qualifying q
        JOIN pick USING (month, nominal_id)
        JOIN _flag_reasons r USING (month, nominal_id)
        GROUP BY q.month, q.nominal_id, pick.lpa
    """,
    )
    p.add(
        "_repeat",
        """
        WITH members AS (
            SELECT *, lpa AS list_lpa FROM _repeat_scores
            UNION ALL
            SELECT *, 'ALL' FROM _repeat_scores
        ), ranked AS (
            SELECT members.*, m.month_index,
                   row_number() OVER (PARTITION BY members.month, list_lpa
                       ORDER BY qualifying DESC, victims DESC, last_recorded_on DESC, nominal_id ASC
                   )::INTEGER AS rank
            FROM members JOIN _months m USING (month)
        )
        SELECT r.month, r.list_lpa AS lpa, r.rank, r.nominal_id, r.lpa AS entry_lpa, r.qualifying,
               r.victims, r.last_recorded_on, r.reasons, prev.rank AS prev_rank
        FROM ranked r
        LEFT JOIN ranked prev
          ON prev.month_index = r.month_index - 1 AND prev.list_lpa = r.list_lpa
         AND prev.nominal_id = r.nominal_id
    """,
    )
    return p


def compute(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    months: list[Month],
    src: Sources = Sources(),
    *,
    weights: dict[str, Decimal] | None = None,
) -> None:
    """Score ``months`` (each needs its M-1 in ``months`` for movement) into temp tables."""
    load_context(con, settings, months, weights)
    scoring_pipeline(settings, src).run(con)
    rule_views(con, settings, src)
    if settings.rule is None:
        raise ValueError("scoring needs a repeat rule")
    result = settings.rule.evaluate(RuleContext(con, settings.config))
    crimes = result.qualifying.select(
        pl.col("month").cast(pl.String),
        pl.col("nominal_id").cast(pl.String),
        pl.col("crime_id").cast(pl.String),
    )
    reasons = result.reasons.select(
        pl.col("month").cast(pl.String),
        pl.col("nominal_id").cast(pl.String),
        pl.col("reasons").cast(pl.List(pl.String)),
    )
    _load_table(con, "_flag_crimes", crimes)
    _load_table(con, "_flag_reasons", reasons)
    repeat_pipeline(settings, src).run(con)
