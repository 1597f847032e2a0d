"""Reading stored runs: the list objects, a nominal's history and explanation (SPEC 3, 5, 6).

Reads use, for each month, the latest approved run, or the latest run when no review step is
configured (``[review] required = false``). A supervisor may name a draft run (``run_id``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from harmrank import NOTICE
from harmrank.config import Config, config_from_dict
from harmrank.reference import OffenceSet, TableSource, descriptions
from harmrank.scoring import scores_index
from harmrank.scoring.engine import (
    Settings,
    Sources,
    load_context,
    offence_keys,
    window_steps,
)
from harmrank.scoring.months import Month
from harmrank.store import Store

LIST_KINDS = ("harm", "frequency", "repeat")


class NotFound(LookupError):
    """No run, list or nominal matches what was asked."""


@dataclass(frozen=True)
class RunRow:
    run_id: str
    month: str
    status: str
    window_start: date
    window_end: date
    top_n: int
    lpas: list[str]
    last_load_id: int
    created_by: str


# A backfill's runs are `pending` (invisible) until the whole backfill has been stored.
_READABLE = "status IN ('draft', 'approved')"
_RUN_COLS = "run_id, month, status, window_start, window_end, top_n, lpas, last_load_id, created_by"


def _run_row(row: tuple[Any, ...]) -> RunRow:
    return RunRow(row[0], row[1], row[2], row[3], row[4], row[5], list(row[6]), row[7], row[8])


def read_run(store: Store, month: str, config: Config, run_id: str | None = None) -> RunRow:
    """The run that reads use for ``month`` (or the named run, which must be of that month).

    Kept in memory until the next change to the database (a new run, an approval)."""
    approved_only = config.review.required
    return store.cached(  # type: ignore[no-any-return]
        "read_run",
        (month, approved_only, run_id),
        lambda: _read_run(store, month, approved_only, run_id),
    )


def _read_run(store: Store, month: str, approved_only: bool, run_id: str | None) -> RunRow:
    if run_id is None:
        used = _used_runs(store, approved_only).get(month)
        if used is None:
            what = "approved run" if approved_only else "run"
            raise NotFound(
                f"no {what} for {month}: run `harmrank run --month {month}`"
                + (" and approve it" if approved_only else "")
            )
        run_id = used.run_id
    row = store.one(
        f"SELECT {_RUN_COLS} FROM runs WHERE run_id = ? AND month = ? AND {_READABLE}",
        [run_id, month],
    )
    if row is None:
        raise NotFound(f"no run {run_id} for {month}")
    return _run_row(row)


@dataclass(frozen=True)
class _ReadableRun:
    run_id: str
    month: str
    seq: int
    status: str
    top_n: int


def _readable_runs(store: Store) -> dict[str, _ReadableRun]:
    """Every run that reads may use (draft or approved), by id; kept until the next change."""

    def read() -> dict[str, _ReadableRun]:
        rows = store.execute(
            f"SELECT run_id, month, seq, status, top_n FROM runs WHERE {_READABLE}"
        ).fetchall()
        return {r[0]: _ReadableRun(*r) for r in rows}

    return store.cached("readable_runs", None, read)  # type: ignore[no-any-return]


def _used_runs(store: Store, approved_only: bool) -> dict[str, _ReadableRun]:
    """The run reads use for each month that has one: its latest run, or its latest approved
    run where review is required; kept until the next change."""

    def pick() -> dict[str, _ReadableRun]:
        used: dict[str, _ReadableRun] = {}
        for run in _readable_runs(store).values():
            if approved_only and run.status != "approved":
                continue
            if run.month not in used or run.seq > used[run.month].seq:
                used[run.month] = run
        return used

    return store.cached("used_runs", approved_only, pick)  # type: ignore[no-any-return]


def _movement(prev_rank: int | None, rank: int) -> str | int:
    return "new" if prev_rank is None else int(prev_rank) - int(rank)


def _crime_dicts(frame: pl.DataFrame) -> dict[tuple[str, str], list[dict[str, Any]]]:
    offences = descriptions()
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    ordered = frame.sort(
        ["kind", "nominal_id", "recorded_on", "crime_id"], descending=[False, False, True, False]
    )
    for kind, nominal_id, crime_id, ho_code, recorded_on, lpa, weight in _rows(
        ordered, "kind", "nominal_id", "crime_id", "ho_code", "recorded_on", "lpa", "weight"
    ):
        out.setdefault((kind, nominal_id), []).append(
            {
                "crime_id": crime_id,
                "ho_code": ho_code,
                "offence": offences.get(ho_code),
                "recorded_on": recorded_on,
                "lpa": lpa,
                "weight": weight,
            }
        )
    return out


def _rows(frame: pl.DataFrame, *columns: str) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as tuples of the named columns (column by column: several times
    faster than ``iter_rows(named=True)`` over a list of tens of thousands of entries)."""
    return zip(*(frame.get_column(c).to_list() for c in columns), strict=True)


_CACHE_RUN_LISTS = 256  # (run, LPA, list) entries kept in memory: runs never change


def _load_lists(
    store: Store, run_id: str, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The entries of some of a run's lists, with their crimes and orders, from the store."""
    top_lpas = sorted({lpa for lpa, kind in wanted if kind != "repeat"})
    repeat_lpas = sorted({lpa for lpa, kind in wanted if kind == "repeat"})
    # a repeat suspect is stored once, in its LPA's list, with its rank there and in ALL's
    repeat_rows = "true" if "ALL" in repeat_lpas else "lpa IN (SELECT unnest(?::VARCHAR[]))"
    params: list[Any] = [run_id, top_lpas]
    if "ALL" not in repeat_lpas:
        params.append(repeat_lpas)
    entries = store.frame(
        "SELECT * FROM run_entries WHERE run_id = ? AND ("
        "(list <> 'repeat' AND lpa IN (SELECT unnest(?::VARCHAR[]))) OR "
        f"(list = 'repeat' AND {repeat_rows})) ORDER BY lpa, list, rank",
        params,
    )
    nominals = entries.get_column("nominal_id").unique().to_list() if entries.height else []
    crimes = store.frame(
        "SELECT kind, nominal_id, crime_id, ho_code, recorded_on, lpa, weight FROM run_crimes "
        "WHERE run_id = ? AND nominal_id IN (SELECT unnest(?::VARCHAR[]))",
        [run_id, nominals],
    )
    orders = store.frame(
        "SELECT nominal_id, order_type, starts_on, ends_on FROM run_orders "
        "WHERE run_id = ? AND nominal_id IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY nominal_id, starts_on, order_type, order_id",
        [run_id, nominals],
    )
    crime_map = _crime_dicts(crimes)
    order_map: dict[str, list[dict[str, Any]]] = {}
    for nominal_id, order_type, starts_on, ends_on in _rows(
        orders, "nominal_id", "order_type", "starts_on", "ends_on"
    ):
        order_map.setdefault(nominal_id, []).append(
            {"order_type": order_type, "starts_on": starts_on, "ends_on": ends_on}
        )
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in wanted}
    all_repeat: list[tuple[int, dict[str, Any]]] = []
    for values in _rows(entries, *entries.columns):
        e = dict(zip(entries.columns, values, strict=True))
        if e["list"] == "repeat":
            entry = {
                "rank": e["rank"],
                "nominal_id": e["nominal_id"],
                "lpa": e["entry_lpa"],
                "qualifying": e["qualifying"],
                "victims": e["victims"],
                "last_recorded_on": e["last_recorded_on"],
                "crimes": crime_map.get(("qualifying", e["nominal_id"]), []),
                "reasons": list(e["reasons"] or []),
                "movement": _movement(e["prev_rank"], e["rank"]),
                "orders": order_map.get(e["nominal_id"], []),
            }
            if ("ALL", "repeat") in grouped:
                all_entry = {
                    **entry,
                    "rank": e["all_rank"],
                    "movement": _movement(e["all_prev_rank"], e["all_rank"]),
                }
                all_repeat.append((e["all_rank"], all_entry))
            if (e["lpa"], "repeat") not in grouped:
                continue
        else:
            if (e["lpa"], e["list"]) not in grouped:
                continue
            entry = {
                "rank": e["rank"],
                "nominal_id": e["nominal_id"],
                "harm": e["harm"],
                "frequency": e["frequency"],
                "victims": e["victims"],
                "last_recorded_on": e["last_recorded_on"],
                "lpa": e["entry_lpa"],
                "repeat_suspect": bool(e["repeat_suspect"]),
                "movement": _movement(e["prev_rank"], e["rank"]),
                "crimes": crime_map.get(("scored", e["nominal_id"]), []),
                "orders": order_map.get(e["nominal_id"], []),
            }
        grouped[(e["lpa"], e["list"])].append(entry)
    if ("ALL", "repeat") in grouped:
        grouped[("ALL", "repeat")] = [
            entry for _rank, entry in sorted(all_repeat, key=lambda x: x[0])
        ]
    return grouped


def _run_lists(
    store: Store, run_id: str, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The entries of a run's lists, kept in memory once read (a run never changes; only its
    status does, and the status is read afresh every time)."""
    cache: OrderedDict[tuple[str, str, str], list[dict[str, Any]]] = store.shared.setdefault(
        "run_lists", OrderedDict()
    )
    lock = store.shared.setdefault("run_lists_lock", threading.Lock())
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with lock:
        for key in wanted:
            if (run_id, *key) in cache:
                cache.move_to_end((run_id, *key))
                out[key] = cache[(run_id, *key)]
    missing = [key for key in wanted if key not in out]
    if missing:
        if any(kind != "repeat" for _, kind in missing):
            # a run's harm and frequency lists are small: read all of them at once
            lpas = [*store_lpas_of_run(store, run_id), "ALL"]
            missing += [(x, k) for x in lpas for k in ("harm", "frequency")]
        loaded = _load_lists(store, run_id, list(dict.fromkeys(missing)))
        with lock:
            for key, entries in loaded.items():
                cache[(run_id, *key)] = entries
            while len(cache) > _CACHE_RUN_LISTS:
                cache.popitem(last=False)
        out.update({key: loaded[key] for key in wanted if key not in out})
    return out


def store_lpas_of_run(store: Store, run_id: str) -> list[str]:
    row = store.one("SELECT lpas FROM runs WHERE run_id = ?", [run_id])
    return list(row[0]) if row else []


def list_objects(
    store: Store,
    month: str,
    config: Config,
    *,
    lpa: str | None = None,
    kind: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """The list objects of SPEC section 6 for a month: every LPA then ALL; harm, frequency,
    repeat for each; filtered by ``lpa`` and ``kind`` when given."""
    Month.parse(month)
    if kind is not None and kind not in LIST_KINDS:
        raise ValueError(f"list must be one of {', '.join(LIST_KINDS)}")
    run = read_run(store, month, config, run_id)
    lpas = [*run.lpas, "ALL"]
    if lpa is not None:
        if lpa not in lpas:
            raise NotFound(f"no LPA {lpa!r} in the run for {month} (LPAs: {', '.join(lpas)})")
        lpas = [lpa]
    kinds = [kind] if kind else list(LIST_KINDS)
    wanted = [(name, k) for name in lpas for k in kinds]
    grouped = _run_lists(store, run.run_id, wanted)
    return [
        {
            "month": month,
            "lpa": name,
            "list": k,
            "run_id": run.run_id,
            "status": run.status,
            "window": {"start": run.window_start, "end": run.window_end},
            "notice": NOTICE,
            "entries": grouped[(name, k)],
        }
        for name, k in wanted
    ]


def _scored_rows(store: Store, nkey: int) -> list[tuple[Any, ...]]:
    """A nominal's rows in ``run_scores``, every run, as ``scores_index.SCORE_COLS`` (one
    scan: the access check and the history of one request share it; a server's index answers
    without one)."""
    index = scores_index.current(store)
    if index is not None:
        return index.scored_rows(nkey)
    return store.cached(  # type: ignore[no-any-return]
        "scored_rows",
        nkey,
        # a literal key, so that the filter prunes the scan by each row group's key range
        lambda: store.execute(
            f"SELECT {', '.join(scores_index.SCORE_COLS)} FROM run_scores WHERE nkey = {int(nkey)}"
        ).fetchall(),
    )


def history(
    store: Store,
    nominal_id: str,
    config: Config,
    *,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, Any]:
    """One row per month in which the nominal is scored, from the run reads use for that month
    (the latest run of the month; the latest approved one where review is required)."""
    first = str(Month.parse(first)) if first else "0000-01"
    last = str(Month.parse(last)) if last else "9999-12"
    nkey = nominal_key(store, nominal_id)
    if nkey is None:
        return {"nominal_id": nominal_id, "months": []}
    by_run = {
        run.run_id: run
        for month, run in _used_runs(store, config.review.required).items()
        if first <= month <= last
    }
    months = []
    for run_id, harm, frequency, victims, lpa, harm_rank, frequency_rank, repeat in _scored_rows(
        store, nkey
    ):
        used_run = by_run.get(run_id)
        if used_run is None:
            continue
        months.append(
            {
                "month": used_run.month,
                "harm": harm,
                "frequency": frequency,
                "victims": victims,
                "lpa": lpa,
                "harm_rank": harm_rank,
                "frequency_rank": frequency_rank,
                "on_harm_list": harm_rank is not None and harm_rank <= used_run.top_n,
                "on_frequency_list": frequency_rank <= used_run.top_n,
                "repeat_suspect": repeat,
            }
        )
    months.sort(key=lambda m: m["month"])
    return {"nominal_id": nominal_id, "months": months}


def nominal_key(store: Store, nominal_id: str) -> int | None:
    """The nominal's integer key (``None`` for a nominal never linked to a crime)."""
    index = scores_index.current(store)
    if index is not None:
        return index.key(nominal_id)
    key: int | None = store.cached(
        "nominal_key",
        nominal_id,
        lambda: store.scalar("SELECT nkey FROM nominal_keys WHERE nominal_id = ?", [nominal_id]),
    )
    return key


def nominal_lpas(store: Store, nominal_id: str) -> set[str]:
    """Every LPA a nominal has been attributed to in any run (for access-scope checks)."""
    nkey = nominal_key(store, nominal_id)
    if nkey is None:
        return set()
    readable = _readable_runs(store)
    return {row[4] for row in _scored_rows(store, nkey) if row[0] in readable}


def repeat_entry(
    store: Store, nominal_id: str, month: str, config: Config
) -> dict[str, Any] | None:
    """The nominal's entry on its LPA's repeat list in the run reads use for ``month`` (its
    qualifying crimes and the rule's reasons), or ``None`` when the rule did not flag it."""
    run = read_run(store, month, config)
    lpa = store.scalar(
        "SELECT lpa FROM run_entries WHERE run_id = ? AND list = 'repeat' AND nominal_id = ?",
        [run.run_id, nominal_id],
    )
    if lpa is None:
        return None
    entries = _run_lists(store, run.run_id, [(lpa, "repeat")])[(lpa, "repeat")]
    (entry,) = [e for e in entries if e["nominal_id"] == nominal_id]
    return {"month": month, "run_id": run.run_id, "status": run.status, **entry}


def listed_lpas(store: Store, nominal_id: str) -> set[str]:
    """Every LPA whose list holds the nominal in any run. Beyond :func:`nominal_lpas`: a repeat
    list attributes by qualifying crimes (and lists nominals with no crime in the window, who
    are not scored), and ``presence`` lists a nominal in every LPA where it offended."""

    def read() -> set[str]:
        readable = _readable_runs(store)
        rows = store.execute(
            "SELECT DISTINCT run_id, lpa FROM run_entries WHERE nominal_id = ? AND lpa <> 'ALL'",
            [nominal_id],
        ).fetchall()
        return {lpa for run_id, lpa in rows if run_id in readable}

    return store.cached("listed_lpas", nominal_id, read)  # type: ignore[no-any-return]


def _asof_views(con: Any, nominal_id: str, load_id: int) -> Sources:
    """The extract as it stood just after ``load_id``, restricted to one nominal's crimes."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asof_links AS
        SELECT crime_id, nominal_id, role, nkey, ckey FROM links
        WHERE nominal_id = $n AND load_id <= {load_id}
        UNION ALL
        SELECT crime_id, nominal_id, role, nkey, ckey FROM link_versions
        WHERE nominal_id = $n AND load_id <= {load_id} AND superseded_by > {load_id}
        """,
        {"n": nominal_id},
    )
    cols = (
        "crime_id, ho_code, recorded_on, committed_on, lpa, domestic_abuse, victim_id, status, "
        "outcome, ckey, hkey, lkey, vkey"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asof_crimes AS
        SELECT {cols} FROM crimes
        WHERE crime_id IN (SELECT crime_id FROM _asof_links) AND load_id <= {load_id}
        UNION ALL
        SELECT {cols} FROM crime_versions
        WHERE crime_id IN (SELECT crime_id FROM _asof_links) AND load_id <= {load_id} AND superseded_by > {load_id}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asof_nominals AS
        SELECT nominal_id, birth_year, home_lpa FROM nominals WHERE nominal_id = $n AND load_id <= {load_id}
        UNION ALL
        SELECT nominal_id, birth_year, home_lpa FROM nominal_versions
        WHERE nominal_id = $n AND load_id <= {load_id} AND superseded_by > {load_id}
        """,
        {"n": nominal_id},
    )
    return Sources(crimes="_asof_crimes", links="_asof_links", nominals="_asof_nominals")


def explain(
    store: Store,
    nominal_id: str,
    month: str,
    config: Config,
    *,
    run_id: str | None = None,
) -> dict[str, Any]:
    """A nominal's scores and contributing crimes in the run reads use for ``month``.

    Entries on a list carry their crimes in the run; for any other scored nominal the crimes
    are recomputed from the extract exactly as it stood when the run was made (the version
    history), with the run's own weights, offence set and window.
    """
    Month.parse(month)
    run = read_run(store, month, config, run_id)
    score = store.frame(
        "SELECT * EXCLUDE (run_id, nkey) FROM run_scores WHERE nkey = ? AND run_id = ?",
        [nominal_key(store, nominal_id), run.run_id],
    )
    if score.height == 0:
        raise NotFound(
            f"nominal {nominal_id} is not scored in {month}: no eligible crime in the window "
            f"{run.window_start} to {run.window_end}"
        )
    s = score.row(0, named=True)
    stored = store.frame(
        "SELECT kind, nominal_id, crime_id, ho_code, recorded_on, lpa, weight FROM run_crimes "
        "WHERE run_id = ? AND nominal_id = ? AND kind = 'scored'",
        [run.run_id, nominal_id],
    )
    if stored.height == 0:
        stored = _recompute_crimes(store, run, nominal_id)
    crimes = _crime_dicts(stored).get(("scored", nominal_id), [])
    # The orders as they stood when the run was made (the run is immutable: a later ingest
    # that ends or adds an order must not change this run's explanation).
    orders = store.frame(
        """
        SELECT order_type, starts_on, ends_on FROM (
            SELECT order_id, nominal_id, order_type, starts_on, ends_on FROM orders
            WHERE load_id <= $load
            UNION ALL
            SELECT order_id, nominal_id, order_type, starts_on, ends_on FROM order_versions
            WHERE load_id <= $load AND superseded_by > $load
        )
        WHERE nominal_id = $n AND starts_on <= $end AND (ends_on IS NULL OR ends_on >= $end)
        ORDER BY starts_on, order_type, order_id
        """,
        {"load": run.last_load_id, "n": nominal_id, "end": run.window_end},
    ).to_dicts()
    return {
        "month": month,
        "run_id": run.run_id,
        "status": run.status,
        "window": {"start": run.window_start, "end": run.window_end},
        "notice": NOTICE,
        "nominal_id": nominal_id,
        "harm": s["harm"],
        "frequency": s["frequency"],
        "victims": s["victims"],
        "last_recorded_on": s["last_recorded_on"],
        "lpa": s["lpa"],
        "harm_rank": s["harm_rank"],
        "frequency_rank": s["frequency_rank"],
        "on_harm_list": s["harm_rank"] is not None and s["harm_rank"] <= run.top_n,
        "on_frequency_list": s["frequency_rank"] <= run.top_n,
        "repeat_suspect": s["repeat_suspect"],
        "crimes": crimes,
        "orders": orders,
    }


def _recompute_crimes(store: Store, run: RunRow, nominal_id: str) -> pl.DataFrame:
    cur = store.cursor()
    try:
        meta = cur.one("SELECT config, offence_sets FROM runs WHERE run_id = ?", [run.run_id])
        assert meta is not None
        cfg = config_from_dict(json.loads(meta[0]), source=f"run {run.run_id}")
        vawg = json.loads(meta[1])["vawg"]
        weights = {
            code: Decimal(str(w))
            for code, w in cur.execute(
                "SELECT ho_code, weight FROM run_weights WHERE run_id = ?", [run.run_id]
            ).fetchall()
        }
        settings = Settings(
            config=cfg,
            weights=weights,
            weight_tables=(),
            vawg=OffenceSet(
                "vawg",
                frozenset(vawg["codes"]),
                TableSource("vawg", vawg["source"], vawg["sha256"], vawg["rows"]),
            ),
            rule=None,
            lpas=run.lpas,
            lpa_source="run",
            offence_keys=offence_keys(cur.con),
        )
        src = _asof_views(cur.con, nominal_id, run.last_load_id)
        load_context(cur.con, settings, [Month.parse(run.month)])
        window_steps(settings, [Month.parse(run.month)], src).run(cur.con)
        return cur.frame(
            "SELECT 'scored' AS kind, ? AS nominal_id, c.crime_id, c.ho_code, w.recorded_on, "
            f"c.lpa, w.weight FROM _in_window w JOIN {src.crimes} c ON c.ckey = w.ckey "
            "WHERE w.nkey = (SELECT nkey FROM nominal_keys WHERE nominal_id = ?)",
            [nominal_id, nominal_id],
        )
    finally:
        cur.close()


def runs_table(store: Store) -> list[dict[str, Any]]:
    """The stored runs with status and provenance (newest first)."""
    rows = store.frame(
        "SELECT run_id, month, status, created_at, created_by, approved_by, approved_at, backfill_id, "
        "window_start, window_end, data_fingerprint, last_load_id, engine_version, "
        "rule->>'name' AS rule, rule->>'version' AS rule_version, weights::VARCHAR AS weights, "
        f"config::VARCHAR AS config FROM runs WHERE {_READABLE} ORDER BY seq DESC"
    )
    out = []
    for r in rows.to_dicts():
        r["weights"] = json.loads(r["weights"])
        r["config"] = json.loads(r["config"])
        out.append(r)
    return out


def months_with_runs(store: Store, config: Config) -> list[str]:
    return sorted(_used_runs(store, config.review.required))
