"""Runs (SPEC section 5): score months and store each as an immutable run with provenance.

A single run scores ``[M-1, M]`` in one pass (movement compares with ``M-1`` on the same data
and configuration) and stores ``M``. A backfill scores a range in batches of shared passes and
stores every month, all in one transaction: a backfill killed half-way leaves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harmrank import __version__, audit
from harmrank.config import Config
from harmrank.ingest import refresh_nominal_order
from harmrank.scoring.engine import (
    ALL_LC,
    Settings,
    compute,
    key_literals,
    resolve_settings,
)
from harmrank.scoring.months import Month, month_range
from harmrank.store import Store

BATCH_MONTHS = 24  # at most this many months scored per shared pass in a backfill
BATCH_ROWS = 6_000_000  # about this many (month, nominal, crime) rows per pass (bounds memory)


def batch_months(store: Store, window_months: int) -> int:
    """How many months one pass of a backfill scores: as many as keep the per-month expansion
    near ``BATCH_ROWS`` rows (a force-scale extract: 24; a national one: a few)."""
    row = store.one(
        "SELECT (SELECT count(*) FROM links), "
        "(SELECT datediff('month', min(recorded_on), max(recorded_on)) + 1 FROM crimes)"
    )
    links, span = row or (0, 1)
    per_month = (links or 0) / max(int(span or 1), 1)
    if per_month <= 0:
        return BATCH_MONTHS
    return max(1, min(BATCH_MONTHS, int(BATCH_ROWS / (per_month * window_months))))


Progress = Callable[[int, int], None]  # (months done, months in all)


class RunError(ValueError):
    """A run that cannot be made or approved; the message says why."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    month: str
    status: str
    created_by: str
    backfill_id: str | None


def data_fingerprint(store: Store) -> tuple[str, int]:
    """The checksum of the extract as stored now (recorded by its latest load), and that load."""
    row = store.one("SELECT fingerprint, load_id FROM loads ORDER BY load_id DESC LIMIT 1")
    return (row[0], int(row[1])) if row else ("", 0)


def _data_quality(
    store: Store, settings: Settings, months: list[Month], last_load: int
) -> dict[str, dict[str, Any]]:
    """Per month: unweighted eligible codes, quarantined rows, crimes per LPA and month."""
    con = store.con
    unweighted = con.execute(
        "SELECT m.month, h.ho_code, count(DISTINCT w.ckey) FROM _in_window w "
        "JOIN _months m ON m.month_index = w.mi JOIN offence_keys h ON h.hkey = w.hkey "
        "WHERE w.weight IS NULL GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    quarantined = con.execute(
        "SELECT file, count(*) FILTER (WHERE load_id = ?), count(*) FROM quarantine "
        "GROUP BY file ORDER BY file",
        [last_load],
    ).fetchall()
    quarantine_last = {file: n for file, n, _all in quarantined if n}
    quarantine_all = {file: n for file, _last, n in quarantined}
    starts = [m.window(settings.window_months)[0] for m in months]
    vawg = key_literals(settings.vawg.codes, settings.offence_keys)
    counts = con.execute(  # counted by LPA key, named after (a crime's LPA has a key)
        f"""
        SELECT k.lpa, c.month, c.crimes, c.vawg
        FROM (
            SELECT lkey, date_trunc('month', recorded_on) AS month, count(*) AS crimes,
                   count(*) FILTER (WHERE status = 'recorded'
                                    AND (domestic_abuse OR hkey IN ({vawg}))) AS vawg
            FROM crimes WHERE recorded_on BETWEEN ? AND ?
            GROUP BY ALL
        ) c JOIN lpa_keys k USING (lkey)
        """,
        [min(starts), max(m.last_day for m in months)],
    ).fetchall()
    by_key = {(lpa, f"{mon:%Y-%m}"): (n, v) for lpa, mon, n, v in counts}
    out: dict[str, dict[str, Any]] = {}
    for m in months:
        window = [str(x) for x in month_range(m.shift(-(settings.window_months - 1)), m)]
        per_lpa = {
            lpa: {
                mon: {
                    "crimes": by_key.get((lpa, mon), (0, 0))[0],
                    "vawg_crimes": by_key.get((lpa, mon), (0, 0))[1],
                }
                for mon in window
            }
            for lpa in settings.lpas
        }
        outside = sum(
            n
            for (lpa, mon), (n, _v) in by_key.items()
            if lpa not in settings.lpas and mon in window
        )
        out[str(m)] = {
            "unweighted_codes": {code: n for mon, code, n in unweighted if mon == str(m)},
            "quarantined_rows": {
                "latest_load": quarantine_last,
                "latest_load_id": last_load,
                "all_loads": quarantine_all,
            },
            "crimes_per_lpa_month": per_lpa,
            "crimes_outside_known_lpas": outside,
            "empty_lpa_months": [
                f"{lpa} {mon}"
                for lpa, months_ in per_lpa.items()
                for mon, c in months_.items()
                if c["crimes"] == 0
            ],
        }
    return out


def _persist(
    store: Store,
    settings: Settings,
    months: list[Month],
    *,
    user: str,
    backfill_id: str | None,
    fingerprint: str,
    last_load: int,
    provenance: dict[str, Any],
    status: str = "draft",
) -> list[RunInfo]:
    con = store.con
    seq0 = int(store.scalar("SELECT coalesce(max(seq), 0) FROM runs")) + 1
    run_ids = {str(m): f"R{seq0 + i:06d}" for i, m in enumerate(months)}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _run_ids AS SELECT unnest(?::VARCHAR[]) AS month, "
        "unnest(?::INTEGER[]) AS mi, unnest(?::VARCHAR[]) AS run_id",
        [list(run_ids), [m.index for m in months], list(run_ids.values())],
    )
    dq = _data_quality(store, settings, months, last_load)
    now = datetime.now(UTC).replace(tzinfo=None)
    cfg = settings.config.scoring
    rows = []
    for i, m in enumerate(months):
        start, end = m.window(cfg.window_months)
        rows.append(
            [
                run_ids[str(m)],
                seq0 + i,
                str(m),
                now,
                user,
                status,
                None,
                None,
                backfill_id,
                start,
                end,
                cfg.top_n,
                cfg.attribution,
                settings.lpas,
                json.dumps(provenance["config"]),
                json.dumps(provenance["weights"]),
                json.dumps(provenance["offence_sets"]),
                json.dumps(provenance["rule"]),
                fingerprint,
                last_load,
                __version__,
                json.dumps(dq[str(m)]),
            ]
        )
    con.executemany(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?::JSON, ?::JSON, ?, ?, ?, ?::JSON)",
        rows,
    )
    con.execute(
        "INSERT INTO run_weights SELECT r.run_id, w.ho_code, w.weight FROM _run_ids r CROSS JOIN _weights w"
    )
    # sorted by nominal key within the batch, so that a history lookup reads few row groups
    con.execute("""
        INSERT INTO run_scores
        SELECT r.run_id, s.nkey, l.lpa, s.harm, s.frequency, s.victims, s.last_recorded_on,
               s.harm_rank, s.frequency_rank, f.nkey IS NOT NULL
        FROM _ranked s
        JOIN _run_ids r USING (mi)
        JOIN _lpa_codes l ON l.lc = s.lc
        LEFT JOIN _repeat_scores f USING (mi, nkey)  -- flagged
        ORDER BY s.nkey, r.run_id
    """)
    # the entries of the stored months, named: nominal ids and LPA names from their keys
    # (a list of an LPA outside the known ones is not stored; ALL is code 0)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _entries AS
        WITH keyed AS (
            SELECT r.run_id, t.mi, t.lc, t.list, t.rank, t.nkey, s.lc AS entry_lc,
                   s.harm, s.frequency, s.victims, s.last_recorded_on,
                   f.nkey IS NOT NULL AS repeat_suspect,
                   NULL::INTEGER AS qualifying, NULL::VARCHAR[] AS reasons, t.prev_rank,
                   NULL::INTEGER AS all_rank, NULL::INTEGER AS all_prev_rank
            FROM _top t
            JOIN _run_ids r USING (mi)
            JOIN _ranked s USING (mi, nkey)
            LEFT JOIN _repeat_scores f USING (mi, nkey)  -- flagged
            WHERE t.lc = {ALL_LC} OR t.lc IN (SELECT lc FROM _lpa_codes WHERE known)
            UNION ALL
            SELECT r.run_id, x.mi, x.lc, 'repeat', x.rank, x.nkey, x.lc,
                   NULL, NULL, x.victims, x.last_recorded_on, NULL, x.qualifying, x.reasons,
                   x.prev_rank, x.all_rank, x.all_prev_rank
            FROM _repeat x JOIN _run_ids r USING (mi)
        )
        SELECT e.run_id, e.mi, CASE WHEN e.lc = {ALL_LC} THEN 'ALL' ELSE l.lpa END AS lpa,
               e.list, e.rank, e.nkey, k.nominal_id, el.lpa AS entry_lpa, e.harm, e.frequency,
               e.victims, e.last_recorded_on, e.repeat_suspect, e.qualifying, e.reasons,
               e.prev_rank, e.all_rank, e.all_prev_rank
        FROM keyed e
        JOIN nominal_keys k ON k.nkey = e.nkey
        LEFT JOIN _lpa_codes l ON l.lc = e.lc
        JOIN _lpa_codes el ON el.lc = e.entry_lc
    """)
    con.execute(
        "INSERT INTO run_entries SELECT * EXCLUDE (mi, nkey) FROM _entries "
        "ORDER BY run_id, lpa, list, rank"
    )
    # the crimes of the entries (on a list: scored; repeat: qualifying), named from their keys
    con.execute("""
        INSERT INTO run_crimes
        WITH keyed AS (
            SELECT w.mi, 'scored' AS kind, e.nominal_id, w.ckey, w.hkey, w.recorded_on, w.lc,
                   w.weight
            FROM _in_window w
            JOIN (SELECT DISTINCT mi, nkey, nominal_id FROM _entries WHERE list <> 'repeat') e
              ON e.mi = w.mi AND e.nkey = w.nkey
            UNION ALL
            SELECT q.mi, 'qualifying', e.nominal_id, q.ckey, q.hkey, q.recorded_on, q.lc,
                   q.weight
            FROM _qualifying q
            JOIN (SELECT DISTINCT mi, nkey, nominal_id FROM _entries WHERE list = 'repeat') e
              USING (mi, nkey)
        )
        SELECT r.run_id, k.kind, k.nominal_id, c.crime_id, h.ho_code, k.recorded_on, l.lpa,
               k.weight
        FROM keyed k
        JOIN _run_ids r USING (mi)
        JOIN crime_keys c ON c.ckey = k.ckey
        JOIN offence_keys h ON h.hkey = k.hkey
        JOIN _lpa_codes l ON l.lc = k.lc
    """)
    con.execute("""
        INSERT INTO run_orders
        SELECT DISTINCT e.run_id, o.nominal_id, o.order_id, o.order_type, o.starts_on, o.ends_on
        FROM (SELECT DISTINCT run_id, mi, nominal_id FROM _entries) e
        JOIN _months m ON m.month_index = e.mi
        JOIN orders o ON o.nominal_id = e.nominal_id
        WHERE o.starts_on <= m.as_at AND (o.ends_on IS NULL OR o.ends_on >= m.as_at)
    """)
    return [RunInfo(run_ids[str(m)], str(m), status, user, backfill_id) for m in months]


def _cluster_scores(store: Store) -> None:
    """Rewrite ``run_scores`` sorted by nominal key, the same rows in another order, at the end
    of a backfill of several passes. Each pass writes its rows sorted by key, but a row group
    then holds a pass's whole key range, so a nominal's history read one row group per pass
    (33 of 533 at national scale, 11 ms); sorted whole, it reads one (3 ms). Nationally this
    takes about 30 s and 4.4 GB at most (DuckDB spills beyond its memory limit); later runs
    append as before. Part of the backfill's last transaction: all or nothing."""
    not_null = [
        r[0][0]
        for r in store.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = "
            "current_database() AND schema_name = 'main' AND table_name = 'run_scores' "
            "AND constraint_type = 'NOT NULL'"
        ).fetchall()
    ]
    store.execute("CREATE TABLE run_scores__sorted AS FROM run_scores ORDER BY nkey, run_id")
    store.execute("DROP TABLE run_scores")
    store.execute("ALTER TABLE run_scores__sorted RENAME TO run_scores")
    for column in not_null:  # a table made by CREATE … AS has no constraints of its own
        store.execute(f"ALTER TABLE run_scores ALTER COLUMN {column} SET NOT NULL")


def _clear_abandoned(store: Store) -> None:
    """Remove what a killed backfill left behind: runs still ``pending`` were never visible
    (reads never use them) and are deleted with their rows, so a rerun starts clean."""
    ids = [
        r[0] for r in store.execute("SELECT run_id FROM runs WHERE status = 'pending'").fetchall()
    ]
    if not ids:
        return
    tables = ("run_weights", "run_scores", "run_entries", "run_crimes", "run_orders", "runs")
    with store.transaction():
        for table in tables:
            store.execute(
                f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
            )


def score_months(
    store: Store,
    months: list[Month],
    config: Config,
    *,
    user: str | None = None,
    backfill: bool = False,
    progress: Progress | None = None,
) -> list[RunInfo]:
    """Score and store ``months``, each as its own run.

    A single run, or a backfill that fits in one pass, is one transaction. A longer backfill
    commits pass by pass (so memory stays bounded) with its runs ``pending`` — invisible to
    every read — and makes them all ``draft`` in one last transaction: a backfill killed
    half-way leaves nothing that any read can see, and its leftovers are removed by the next
    run or backfill."""
    if not months:
        return []
    months = sorted(set(months))
    user = user or audit.os_user()
    out: list[RunInfo] = []
    _clear_abandoned(store)
    refresh_nominal_order(store)  # a no-op unless a database's order is incomplete
    settings = resolve_settings(store.con, config)
    provenance = settings.provenance()
    fingerprint, last_load = data_fingerprint(store)
    if last_load == 0:
        raise RunError("the database holds no extract yet: run `harmrank ingest` first")
    backfill_id = None
    if backfill:
        backfill_id = f"B{int(store.scalar('SELECT coalesce(max(seq), 0) FROM runs')) + 1:06d}"
    step = batch_months(store, settings.window_months)
    batches = [months[i : i + step] for i in range(0, len(months), step)]
    status = "draft" if len(batches) == 1 else "pending"
    done = 0
    for batch in batches:
        with store.transaction():
            compute_months = sorted(set(batch) | {m.shift(-1) for m in batch})
            # the month before the batch is scored for movement only (its rows are not stored)
            movement_only = frozenset(compute_months) - set(batch)
            compute(store.con, settings, compute_months, movement_only=movement_only)
            out += _persist(
                store,
                settings,
                batch,
                user=user,
                backfill_id=backfill_id,
                fingerprint=fingerprint,
                last_load=last_load,
                provenance=provenance,
                status=status,
            )
        done += len(batch)
        if progress:
            progress(done, len(months))
    if status == "pending":
        with store.transaction():
            store.execute(
                "UPDATE runs SET status = 'draft' WHERE status = 'pending' "
                "AND run_id IN (SELECT unnest(?::VARCHAR[]))",
                [[r.run_id for r in out]],
            )
            _cluster_scores(store)
        out = [RunInfo(r.run_id, r.month, "draft", r.created_by, r.backfill_id) for r in out]
    audit.append(
        store,
        user=user,
        action="backfill" if backfill else "run",
        route="harmrank run",
        month=str(months[0]) if len(months) == 1 else f"{months[0]}..{months[-1]}",
        row_count=len(out),
        detail={"runs": [r.run_id for r in out], "backfill_id": out[0].backfill_id},
    )
    return out


def run_month(
    store: Store, month: Month | str, config: Config, *, user: str | None = None
) -> RunInfo:
    m = Month.parse(month) if isinstance(month, str) else month
    return score_months(store, [m], config, user=user)[0]


def backfill(
    store: Store,
    first: Month | str,
    last: Month | str,
    config: Config,
    *,
    user: str | None = None,
    progress: Progress | None = None,
) -> list[RunInfo]:
    f = Month.parse(first) if isinstance(first, str) else first
    t = Month.parse(last) if isinstance(last, str) else last
    return score_months(
        store, month_range(f, t), config, user=user, backfill=True, progress=progress
    )


def approve_runs(
    store: Store,
    run_ids: list[str],
    *,
    by: str,
    roles: tuple[str, ...] = ("supervisor",),
) -> list[str]:
    """Approve draft runs: four eyes (the approver did not start the run), logged."""
    if not run_ids:
        raise RunError("no runs to approve")
    found = {
        r[0]: (r[1], r[2])
        for r in store.execute(
            "SELECT run_id, status, created_by FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [run_ids],
        ).fetchall()
    }
    missing = [r for r in run_ids if r not in found]
    if missing:
        raise RunError(f"no such run: {', '.join(missing)}")
    approved = [r for r in run_ids if found[r][0] == "approved"]
    if approved:
        raise RunError(f"already approved: {', '.join(approved)}")
    pending = [r for r in run_ids if found[r][0] != "draft"]
    if pending:
        raise RunError(
            f"not complete (a backfill still under way or stopped): {', '.join(pending)}"
        )
    own = [r for r in run_ids if found[r][1] == by]
    if own:
        raise RunError(
            f"{by} started {', '.join(own)}: a run must be approved by a supervisor other than "
            "the one who started it"
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.transaction():
        store.execute(
            "UPDATE runs SET status = 'approved', approved_by = ?, approved_at = ? "
            "WHERE run_id IN (SELECT unnest(?::VARCHAR[])) AND status = 'draft'",
            [by, now, run_ids],
        )
    audit.append(
        store,
        user=by,
        roles=list(roles),
        action="approve",
        route="approve runs",
        row_count=len(run_ids),
        detail={"runs": run_ids},
    )
    return run_ids
