"""The scoring engine: SPEC section 3 as a short pipeline of named SQL steps in DuckDB.

One pass scores any set of as-at months together (a backfill shares the pass; a single run
is the pass for ``[M-1, M]``, since movement compares with ``M-1`` on the same data)::

    _linked     the one scan of links x crimes: recorded crimes of the VAWG set, flagged
                domestic abuse or of the repeat rule's offences, dated from the earliest
                month any step looks at (a rule file's 36 months) to the last as-at date;
                integer keys only (crime, nominal, offence code, LPA, victim)
    _in_window  each eligible pair (VAWG or domestic abuse, not eliminated) in the window of
                each month, with its crime and offence code (keys), its LPA's place in name
                order (`lc`), its date, victim and weight
    _scores     per month and nominal: harm (exact decimal), frequency, distinct victims, last
                recorded, and the principal LPA (largest share of harm; ties: latest recorded,
                then LPA name; worked out only for nominals with crimes in several LPAs);
                a table under `presence` only, else a subquery of _ranked, its one reader
    _ranked     the attributed LPA (principal or home) and the ranks in that LPA's lists
                (harm list: harm > 0 only); `presence` ranks every LPA list in _presence;
                a month scored only for movement (a run's M-1) ranks only each list's first n
    _top        the first top_n of each list and of ALL, with the rank at M-1 for movement
    _flag_*     the repeat rule's decisions (qualifying crimes, reasons), by key: a rule file
                reads _linked (which covers its offences and window); a Python plugin reads
                ``rule_links``, a view over the extract's tables, and its answer is checked
                and looked up there
    _qualifying each month's qualifying crimes with their LPA's place and weight
    _repeat_scores  one row per month and flagged nominal (also the repeat_suspect flags)
    _repeat     the repeat-suspect lists (every flagged nominal, per LPA and ALL)

Nominals are grouped and stored by their integer key (``nominal_keys``); months by index.
Names (crime and nominal ids, offence codes, LPAs) are looked up from the keys only for the
rows a run stores: reading and hashing text is most of the cost of a scan.

The steps read the tables named in :class:`Sources`, so the same SQL scores the live extract
or the extract as it stood at an earlier load (explanations: :mod:`harmrank.scoring.read`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from harmrank.config import Config
from harmrank.reference import OffenceSet, TableSource, load_offence_set, load_weights
from harmrank.scoring.months import Month
from harmrank.scoring.rules import (
    DeclarativeRule,
    RepeatRule,
    RuleContext,
    RuleError,
    resolve_rule,
    rule_provenance,
)


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
    # each offence code's integer key (offence_keys); a code never loaded has none
    offence_keys: dict[str, int] = field(default_factory=dict)

    @property
    def top_n(self) -> int:
        return self.config.scoring.top_n

    @property
    def window_months(self) -> int:
        return self.config.scoring.window_months

    @property
    def lookback_months(self) -> int | None:
        """How far back (whole months up to M) any step looks: the scoring window or the
        repeat rule's, whichever is longer; ``None`` for a plugin rule that does not say."""
        if self.rule is None:
            return self.window_months
        rule_months = getattr(self.rule, "lookback_months", None)
        if rule_months is None:
            return None
        return max(self.window_months, int(rule_months))

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


def offence_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT ho_code, hkey FROM offence_keys").fetchall())


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
        offence_keys=offence_keys(con),
    )


# ----------------------------------------------------------------------------- helpers ----
def _load_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register("__frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM __frame")
    con.unregister("__frame")


def load_context(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    months: list[Month],
    weights: dict[str, Decimal] | None = None,
) -> None:
    """Reference tables the steps join: weights (with the codes' keys), LPAs
    (``_lpa_codes``: every LPA loaded or known, its key, its place in name order and whether
    it is one of the known LPAs), months. Each is one statement, its values bound as lists."""
    w = weights if weights is not None else settings.weights
    keys = settings.offence_keys
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _weights AS SELECT unnest(?::VARCHAR[]) AS ho_code, "
        "unnest(?::INTEGER[]) AS hkey, unnest(?::VARCHAR[])::DECIMAL(18, 6) AS weight",
        [list(w), [keys.get(code) for code in w], [str(v) for v in w.values()]],
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _lpa_codes AS
        SELECT coalesce(k.lpa, l.lpa) AS lpa, k.lkey,
               (row_number() OVER (ORDER BY coalesce(k.lpa, l.lpa)))::INTEGER AS lc,
               l.lpa IS NOT NULL AS known
        FROM lpa_keys k FULL JOIN (SELECT unnest(?::VARCHAR[]) AS lpa) l ON l.lpa = k.lpa
    """,
        [settings.lpas],
    )
    window = [m.window(settings.window_months)[0] for m in months]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _months AS SELECT unnest(?::VARCHAR[]) AS month, "
        "unnest(?::INTEGER[]) AS month_index, unnest(?::DATE[]) AS first_day, "
        "unnest(?::DATE[]) AS as_at, unnest(?::DATE[]) AS window_start, "
        "unnest(?::INTEGER[]) AS year",
        [
            [str(m) for m in months],
            [m.index for m in months],
            [m.first_day for m in months],
            [m.last_day for m in months],
            window,
            [m.year for m in months],
        ],
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


def _basis(settings: Settings) -> str:
    return (
        "c.recorded_on"
        if settings.config.scoring.date_basis == "recorded_on"
        else "coalesce(c.committed_on, c.recorded_on)"
    )


def _literals(codes: frozenset[str] | set[str] | list[str]) -> str:
    """Codes as SQL string literals (so that a filter on them reaches the table scan)."""
    return ", ".join("'" + c.replace("'", "''") + "'" for c in sorted(codes)) or "NULL"


def code_keys(codes: frozenset[str] | set[str] | list[str], keys: dict[str, int]) -> list[int]:
    """Offence codes' keys (a code never loaded has no key: no crime has it)."""
    return sorted(keys[c] for c in codes if c in keys)


def key_literals(codes: frozenset[str] | set[str] | list[str], keys: dict[str, int]) -> str:
    """Offence codes as their keys' literals (so that a filter on them reaches the scan)."""
    return ", ".join(str(k) for k in code_keys(codes, keys)) or "NULL"


# the lists' orders; the last tie-break, nominal_id in code-point order, is the nominal's
# place in that order (nominal_order.nord: an integer, cheaper to sort than the ids)
_REPEAT_ORDER = "qualifying DESC, victims DESC, last_recorded_on DESC, nord ASC"
_HARM_ORDER = "harm DESC, frequency DESC, last_recorded_on DESC, nord ASC"
_FREQUENCY_ORDER = "frequency DESC, harm DESC, last_recorded_on DESC, nord ASC"
# the same orders as one value to minimise (a struct compares field by field)
_DAYS = "-(last_recorded_on - DATE '1970-01-01')"
_HARM_KEY = f"{{'h': -harm, 'f': -frequency, 'd': {_DAYS}, 'n': nord}}"
_FREQUENCY_KEY = f"{{'f': -frequency, 'h': -harm, 'd': {_DAYS}, 'n': nord}}"
ALL_LC = 0  # the force-wide lists' LPA code (an LPA's code is its place in name order, from 1)


def _date(d: Any) -> str:
    return f"DATE '{d.isoformat()}'"


def _indexes(months: frozenset[Month]) -> str:
    return ", ".join(str(m.index) for m in sorted(months))


def _ranks(base: str, n: int, movement_only: frozenset[Month]) -> str:
    """``base`` (rows of mi, lc, nkey, nord, harm, frequency, last_recorded_on) with each
    row's rank in its LPA's harm list (harm > 0 only) and frequency list.

    In a month for movement only, just the first n of each list are needed, so only the rows
    that are in the first n of one list or the other (found by a top-n aggregate) are ranked,
    among themselves. That is exact for ranks up to n: every row ahead of a first-n row is a
    first-n row of that list, and a row ranked among them that is not in that list's first n
    has all n of them ahead of it, so ranks above n (never read)."""
    ranks = f"""
        CASE WHEN harm > 0 THEN row_number() OVER (
            PARTITION BY mi, lc, harm > 0 ORDER BY {_HARM_ORDER}) END::INTEGER AS harm_rank,
        row_number() OVER (PARTITION BY mi, lc ORDER BY {_FREQUENCY_ORDER})::INTEGER
            AS frequency_rank"""
    if not movement_only:
        return f"SELECT *, {ranks}\n        FROM ({base})"
    only = _indexes(movement_only)
    return f"""
        WITH base AS ({base}
        ), first_n AS (   -- months for movement only: the first {n} of each list
            SELECT mi, lc, unnest(arg_min(nkey, {_HARM_KEY}, {n}) FILTER (WHERE harm > 0)) AS nkey
            FROM base WHERE mi IN ({only}) GROUP BY mi, lc
            UNION
            SELECT mi, lc, unnest(arg_min(nkey, {_FREQUENCY_KEY}, {n})) AS nkey
            FROM base WHERE mi IN ({only}) GROUP BY mi, lc
        )
        SELECT *, {ranks}
        FROM base WHERE mi NOT IN ({only})
        UNION ALL
        SELECT *, {ranks}
        FROM base b SEMI JOIN first_n f ON f.mi = b.mi AND f.lc = b.lc AND f.nkey = b.nkey"""


def scoring_pipeline(
    settings: Settings,
    months: list[Month],
    src: Sources = Sources(),
    movement_only: frozenset[Month] = frozenset(),
) -> Pipeline:
    """SPEC section 3 for every month in ``months`` (loaded as ``_months``). The date bounds
    are written as literals so that they reach the scan of the crimes.

    A month in ``movement_only`` (the M-1 of a single run) is scored only as far as movement
    needs: every nominal's harm and frequency, but ranks only for the first ``top_n`` of each
    list (exact: see :func:`_ranks`) and no victims; its rows are never stored."""
    first = min(m.window(settings.window_months)[0] for m in months)
    last = max(m.last_day for m in months)
    cfg = settings.config.scoring
    basis = _basis(settings)
    vawg_codes = key_literals(settings.vawg.codes, settings.offence_keys)
    if cfg.attribution == "home":  # the home LPA when it is a known LPA, else the principal
        attributed = "coalesce(h.lc, s.principal)"
        home_join = f"""LEFT JOIN (
            SELECT k.nkey, c.lc FROM {src.nominals} n
            JOIN nominal_keys k ON k.nominal_id = n.nominal_id
            JOIN _lpa_codes c ON c.lpa = n.home_lpa AND c.known
        ) h ON h.nkey = s.nkey"""
    else:  # principal; `presence` keeps the principal LPA for history and entries
        attributed, home_join = "s.principal", ""
    scored = f"(c.domestic_abuse OR c.hkey IN ({vawg_codes}))"
    # victims are worked out only for the months that are stored (NULL in the others)
    stored, victims = "", "coalesce(v.victims, 0)::INTEGER"
    if movement_only:
        stored = f" AND mi NOT IN ({_indexes(movement_only)})"
        victims = f"CASE WHEN p.mi NOT IN ({_indexes(movement_only)}) THEN {victims} END"
    linked_first, linked, rule_role = first, scored, ""
    rule_file = _rule_file(settings)
    if rule_file is not None:  # the rule reads _linked too: add its offences over its window
        linked_first = min(first, _rule_first(settings, months))
        codes = key_literals(rule_file.codes(settings.config), settings.offence_keys)
        counted = f"c.hkey IN ({codes})"
        if rule_file.spec.include_domestic_abuse:
            counted = f"({counted} OR c.domestic_abuse)"
        linked = (
            f"({scored} AND {basis} >= {_date(first)} OR {counted} AND {basis} >= "
            f"{_date(linked_first)})"
        )
        rule_role = f",\n               l.role IN ({_literals(rule_file.spec.roles)}) AS rule_role"
    p = Pipeline()
    p.add(
        "_linked",
        f"""
        SELECT l.nkey, l.ckey, c.hkey, c.lkey, c.recorded_on, {basis} AS basis_on, c.vkey,
               c.domestic_abuse, l.role <> 'eliminated' AS scored_role{rule_role}
        FROM {src.links} l
        JOIN {src.crimes} c ON c.ckey = l.ckey
        WHERE c.status = 'recorded'
          AND {basis} BETWEEN {_date(linked_first)} AND {_date(last)}
          AND {linked}
    """,
    )
    p.add(
        "_in_window",
        f"""
        WITH eligible AS (
            SELECT x.nkey, x.ckey, x.hkey, k.lc, x.recorded_on, x.basis_on, x.vkey, w.weight
            FROM _linked x
            JOIN _lpa_codes k ON k.lkey = x.lkey
            LEFT JOIN _weights w ON w.hkey = x.hkey
            WHERE x.scored_role
              AND (x.domestic_abuse OR x.hkey IN ({vawg_codes}))
              AND x.basis_on BETWEEN {_date(first)} AND {_date(last)}
        )
        SELECT m.month_index AS mi, x.nkey, x.ckey, x.hkey, x.lc, x.recorded_on, x.vkey,
               x.weight
        FROM _months m JOIN eligible x ON x.basis_on BETWEEN m.window_start AND m.as_at
    """,
    )
    scores = f"""
        WITH per_nominal AS (   -- one aggregate over integer keys for everybody
            SELECT mi, nkey,
                   sum(coalesce(weight, 0))::DECIMAL(18, 6) AS harm,
                   count(*)::INTEGER AS frequency,
                   max(recorded_on) AS last_recorded_on,
                   min(lc) AS lc_min, max(lc) AS lc_max
            FROM _in_window GROUP BY mi, nkey
        ), victims AS (         -- distinct known victims, counted in two cheap steps
            SELECT mi, nkey, count(*)::INTEGER AS victims
            FROM (SELECT DISTINCT mi, nkey, vkey FROM _in_window
                  WHERE vkey IS NOT NULL{stored})
            GROUP BY mi, nkey
        ), shared AS (          -- nominals with crimes in several LPAs: pick the principal one
            SELECT w.mi, w.nkey, w.lc,
                   sum(coalesce(w.weight, 0)) AS lpa_harm, max(w.recorded_on) AS lpa_last
            FROM _in_window w
            SEMI JOIN (SELECT mi, nkey FROM per_nominal WHERE lc_min <> lc_max) m
              ON m.mi = w.mi AND m.nkey = w.nkey
            GROUP BY w.mi, w.nkey, w.lc
        ), principal AS (       -- largest harm, then latest recorded_on, then LPA name
            SELECT mi, nkey,
                   min({{'h': -lpa_harm, 'd': -(lpa_last - DATE '1970-01-01'), 'l': lc}}).l AS lc
            FROM shared GROUP BY mi, nkey
        )
        SELECT p.mi, p.nkey, o.nord, p.harm, p.frequency,
               {victims} AS victims, p.last_recorded_on,
               coalesce(pr.lc, p.lc_min) AS principal
        FROM per_nominal p
        LEFT JOIN victims v ON v.mi = p.mi AND v.nkey = p.nkey
        LEFT JOIN principal pr ON pr.mi = p.mi AND pr.nkey = p.nkey
        JOIN nominal_order o ON o.nkey = p.nkey
    """
    n = settings.top_n
    if cfg.attribution == "presence":
        p.add("_scores", scores)  # read twice: by _presence and by _ranked
        # every LPA where the nominal has an eligible crime ranks it, with its force-wide scores
        presence = """SELECT DISTINCT w.mi, w.lc, s.nkey, s.nord, s.harm, s.frequency,
                         s.last_recorded_on
                  FROM _in_window w JOIN _scores s ON s.mi = w.mi AND s.nkey = w.nkey"""
        p.add("_presence", _ranks(presence, n, movement_only))
        p.add(
            "_ranked",
            """
            SELECT s.*, s.principal AS lc, p.harm_rank, p.frequency_rank
            FROM _scores s
            JOIN _presence p ON p.mi = s.mi AND p.nkey = s.nkey AND p.lc = s.principal
        """,
        )
        lists = "_presence"
    else:
        # the scores are read once, here: a subquery rather than a table of their own
        attributed_scores = f"SELECT s.*, {attributed} AS lc FROM ({scores}) s {home_join}"
        p.add("_ranked", _ranks(attributed_scores, n, movement_only))
        lists = "_ranked"
    # ALL: a nominal in the force-wide top n is in the top n of every list it is on, so the
    # force-wide lists are ranked among the LPA lists' top n only (exact, and small)
    p.add(
        "_top",
        f"""
        WITH lpa_top AS (
            SELECT mi, lc, nkey, nord, harm, frequency, last_recorded_on,
                   harm_rank, frequency_rank
            FROM {lists} WHERE harm_rank <= {n} OR frequency_rank <= {n}
        ), candidates AS (
            SELECT DISTINCT mi, nkey, nord, harm, frequency, last_recorded_on FROM lpa_top
        ), all_top AS (
            SELECT mi, {ALL_LC} AS lc, nkey,
                   CASE WHEN harm > 0 THEN row_number() OVER (
                       PARTITION BY mi, harm > 0 ORDER BY {_HARM_ORDER}) END AS harm_rank,
                   row_number() OVER (PARTITION BY mi ORDER BY {_FREQUENCY_ORDER})
                       AS frequency_rank
            FROM candidates
        ), lists AS (
            SELECT mi, lc, nkey, harm_rank, frequency_rank FROM lpa_top
            UNION ALL
            SELECT mi, lc, nkey, harm_rank, frequency_rank FROM all_top
        ), top AS (
            SELECT mi, lc, 'harm' AS list, harm_rank::INTEGER AS rank, nkey
            FROM lists WHERE harm_rank <= {n}
            UNION ALL
            SELECT mi, lc, 'frequency', frequency_rank::INTEGER, nkey
            FROM lists WHERE frequency_rank <= {n}
        )
        SELECT t.*, prev.rank AS prev_rank
        FROM top t
        LEFT JOIN top prev
          ON prev.mi = t.mi - 1 AND prev.lc = t.lc AND prev.list = t.list AND prev.nkey = t.nkey
    """,
    )
    return p


def window_steps(settings: Settings, months: list[Month], src: Sources = Sources()) -> Pipeline:
    """Only the steps that find each nominal's eligible crimes (explanations use them)."""
    p = Pipeline()
    wanted = ("_linked", "_in_window")
    p.steps = [st for st in scoring_pipeline(settings, months, src).steps if st[0] in wanted]
    return p


def _rule_file(settings: Settings) -> DeclarativeRule | None:
    rule = settings.rule
    return rule if isinstance(rule, DeclarativeRule) else None


def _rule_first(settings: Settings, months: list[Month]) -> date:
    """The first day any month's repeat rule (or window) looks at."""
    lookback = settings.lookback_months
    assert lookback is not None
    return min(m.window(lookback)[0] for m in months)


def rule_views(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    months: list[Month],
    src: Sources = Sources(),
    *,
    links: bool = True,
) -> None:
    """The tables a repeat rule reads (see :mod:`harmrank.scoring.rules`): views, so that the
    rule's own filters (its offences, roles, window) reach the scans. ``rule_links`` also
    carries the link's keys, for the engine to look a plugin's decisions up by; it is left
    out (``links=False``) for a rule file, whose fast path reads ``_linked`` instead
    (:meth:`DeclarativeRule.keyed_sql`)."""
    lookback = (
        _date(_rule_first(settings, months))
        if settings.lookback_months is not None
        else "DATE '0001-01-01'"
    )
    last = _date(max(m.last_day for m in months))
    basis = _basis(settings)
    if links:
        con.execute(f"""
        CREATE OR REPLACE TEMP VIEW rule_links AS
        SELECT l.nominal_id, c.crime_id, l.role, c.ho_code, c.recorded_on, c.committed_on,
               {basis} AS basis_on, c.lpa, c.domestic_abuse, c.victim_id,
               l.nkey, c.ckey, c.hkey, c.lkey, c.vkey
        FROM {src.links} l JOIN {src.crimes} c ON c.ckey = l.ckey
        WHERE c.status = 'recorded'
          AND {basis} BETWEEN {lookback} AND {last}
    """)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW rule_nominals AS SELECT nominal_id, birth_year FROM {src.nominals}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW rule_months AS SELECT month, first_day, as_at, year FROM _months"
    )


def repeat_pipeline(settings: Settings, src: Sources = Sources()) -> Pipeline:
    """The repeat-suspect lists from the rule's decisions: ``_flag_crimes`` (each month's
    qualifying crimes by key) and each decision's reasons, made here from a rule file's SQL
    (the reasons then a subquery of ``_repeat``, their only reader) or beforehand by
    :func:`_plugin_decisions` from a plugin's answer (the reasons then ``_flag_reasons``).

    The reasons are kept apart from the crimes after the rule: carried on each of a national
    month's half a million qualifying crimes, a list of sentences made every later join and
    aggregate over them about twice as slow (measured: 1.7 s against 1.2 s)."""
    p = Pipeline()
    rule_file = _rule_file(settings)
    if rule_file is not None:
        # the rule's SQL stays in DuckDB, on the keys in _linked. It gives one row per month
        # and link, and a crime has one link per nominal (ingest collapses duplicate links),
        # so its rows are the qualifying crimes as they stand
        keys = code_keys(rule_file.codes(settings.config), settings.offence_keys)
        p.add("_flag_crimes", rule_file.keyed_sql("_linked", keys))
        # each decision's reasons, read once (by _repeat): a subquery, not a table
        reasons = "(SELECT DISTINCT ON (month, nkey) month, nkey, reasons FROM _flag_crimes)"
    else:
        reasons = "_flag_reasons"
    p.add(
        "_qualifying",
        """
        SELECT m.month_index AS mi, f.nkey, f.ckey, f.hkey, k.lc, f.recorded_on, f.vkey,
               w.weight
        FROM _flag_crimes f
        JOIN _months m ON m.month = f.month
        JOIN _lpa_codes k ON k.lkey = f.lkey
        LEFT JOIN _weights w ON w.hkey = f.hkey
    """,
    )
    p.add(  # the LPA with most qualifying crimes, then the latest recorded, then by name
        "_repeat_scores",
        """
        WITH per_lpa AS (
            SELECT mi, nkey, lc, count(*) AS n, max(recorded_on) AS last
            FROM _qualifying GROUP BY mi, nkey, lc
        ), pick AS (
            SELECT mi, nkey, min({'n': -n, 'd': -(last - DATE '1970-01-01'), 'l': lc}).l AS lc
            FROM per_lpa GROUP BY mi, nkey
        ), per_nominal AS (
            SELECT mi, nkey, count(*)::INTEGER AS qualifying,
                   count(DISTINCT vkey)::INTEGER AS victims,
                   max(recorded_on) AS last_recorded_on
            FROM _qualifying GROUP BY mi, nkey
        )
        SELECT q.mi, q.nkey, o.nord, pick.lc, q.qualifying, q.victims, q.last_recorded_on
        FROM per_nominal q
        JOIN pick USING (mi, nkey)
        JOIN nominal_order o ON o.nkey = q.nkey
    """,
    )
    p.add(
        "_repeat",
        f"""
        WITH ranked AS (   -- one row per nominal: its rank in its LPA's list and in ALL
            SELECT *,
                   row_number() OVER (PARTITION BY mi, lc ORDER BY {_REPEAT_ORDER})::INTEGER
                       AS rank,
                   row_number() OVER (PARTITION BY mi ORDER BY {_REPEAT_ORDER})::INTEGER
                       AS all_rank
            FROM _repeat_scores
        )
        SELECT r.mi, r.lc, r.rank, r.all_rank, r.nkey, r.qualifying, r.victims,
               r.last_recorded_on, reasons.reasons,
               CASE WHEN prev.lc = r.lc THEN prev.rank END AS prev_rank,
               prev.all_rank AS all_prev_rank
        FROM ranked r
        JOIN _months m ON m.month_index = r.mi
        JOIN {reasons} reasons ON reasons.month = m.month AND reasons.nkey = r.nkey
        LEFT JOIN ranked prev ON prev.mi = r.mi - 1 AND prev.nkey = r.nkey
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
    movement_only: frozenset[Month] = frozenset(),
) -> None:
    """Score ``months`` (each needs its M-1 in ``months`` for movement) into temp tables;
    those in ``movement_only`` only as far as the movement of the others needs."""
    load_context(con, settings, months, weights)
    scoring_pipeline(settings, months, src, movement_only).run(con)
    if settings.rule is None:
        raise ValueError("scoring needs a repeat rule")
    rule_file = _rule_file(settings)
    rule_views(con, settings, months, src, links=rule_file is None)
    if rule_file is None:
        _plugin_decisions(con, settings.rule, settings.config)
    repeat_pipeline(settings, src).run(con)


def _plugin_decisions(con: duckdb.DuckDBPyConnection, rule: RepeatRule, config: Config) -> None:
    """A Python plugin's decisions as ``_flag_crimes`` (the crimes it named, looked up in
    ``rule_links``: their keys, date, victim) and ``_flag_reasons``; refused with a
    :class:`RuleError` when a crime is not a link it was given, when a decision is for a month
    it was not asked about (``rule_months``), or when the crimes and the reasons do not
    describe the same decisions (each decision has its crimes and one list of reasons)."""
    result = rule.evaluate(RuleContext(con, config))
    crimes = result.qualifying.select(
        pl.col("month").cast(pl.String),
        pl.col("nominal_id").cast(pl.String),
        pl.col("crime_id").cast(pl.String),
    ).unique()
    reasons = result.reasons.select(
        pl.col("month").cast(pl.String),
        pl.col("nominal_id").cast(pl.String),
        pl.col("reasons").cast(pl.List(pl.String)),
    )
    # the crimes named, as rule_links holds them (their keys, date, victim): one pass over
    # rule_links; a crime it does not hold has no key
    _load_table(con, "_flag_ids", crimes)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _flag_crimes AS
        SELECT f.month, f.nominal_id, f.crime_id, r.nkey, r.ckey, r.hkey, r.lkey, r.vkey,
               r.recorded_on
        FROM _flag_ids f
        LEFT JOIN rule_links r ON r.nominal_id = f.nominal_id AND r.crime_id = f.crime_id
    """)
    (unknown,) = con.execute(
        "SELECT count(*), any_value(nominal_id), any_value(crime_id) FROM _flag_crimes "
        "WHERE ckey IS NULL"
    ).fetchall()
    if unknown[0]:
        raise RuleError(
            f"repeat rule {rule.name!r} gave {unknown[0]} qualifying crime(s) that are "
            f"not links in rule_links (for example nominal {unknown[1]!r}, crime "
            f"{unknown[2]!r}): a rule may only name links it was given"
        )
    _load_table(con, "_flag_given_reasons", reasons)
    mismatched = con.execute("""
        WITH decided AS (SELECT DISTINCT month, nominal_id FROM _flag_ids),
        given AS (SELECT month, nominal_id, count(*) AS n FROM _flag_given_reasons GROUP BY ALL)
        SELECT CASE WHEN NOT asked THEN 'a decision for a month it was not asked about'
                    WHEN g.n IS NULL THEN 'qualifying crimes but no reasons'
                    WHEN d.month IS NULL THEN 'reasons but no qualifying crimes'
                    ELSE 'more than one row of reasons' END AS problem,
               count(*), min([coalesce(d.nominal_id, g.nominal_id), coalesce(d.month, g.month)])
        FROM decided d FULL JOIN given g ON g.month = d.month AND g.nominal_id = d.nominal_id,
        LATERAL (SELECT coalesce(coalesce(d.month, g.month) IN (SELECT month FROM _months),
                                 false) AS asked)
        WHERE g.n IS DISTINCT FROM 1 OR d.month IS NULL OR NOT asked
        GROUP BY problem ORDER BY problem
    """).fetchall()
    if mismatched:
        raise RuleError(
            f"repeat rule {rule.name!r} gave "
            + "; ".join(
                f"{what} for {n} decision(s) (for example nominal {ex[0]!r} in {ex[1]})"
                for what, n, ex in mismatched
            )
            + ": each decision (month and nominal) is for a month of rule_months and needs "
            "its qualifying crimes and one list of reasons"
        )
    con.execute(  # the nominals' keys (each decision's nominal is linked to its crimes)
        "CREATE OR REPLACE TEMP TABLE _flag_reasons AS SELECT f.month, k.nkey, f.reasons "
        "FROM _flag_given_reasons f JOIN nominal_keys k USING (nominal_id)"
    )
