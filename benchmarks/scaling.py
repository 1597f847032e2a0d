"""How the month run and the 120-month backfill grow with the data: 1, 2, 5 and 10 million
crimes (the national preset shrunk with ``scale=``), plotted to ``results/scaling.svg``.

    python -m benchmarks.scaling                      # 1, 2, 5, 10 million crimes, 10 years
    python -m benchmarks.scaling --sizes 0.1,0.2 --out-dir /tmp/s   # a quick look

For each size: synth and ingest (once, untimed here), the month run (median of ``--repeat``),
the floor (median), and the backfill of 120 months (once). Figures go to
``results/scaling.json``; the plot is redrawn from that file (``--plot-only``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import measure
from benchmarks.run import (
    HERE,
    MEMORY_LIMIT_ENV,
    _backfill_in_child,
    _code_version,
    _open,
    _remove_db,
    log,
)

# crimes in a 10-year national extract at scale 1 (about 13.5 million; see docs/synthetic-data.md)
NATIONAL_CRIMES_10Y = 13_500_000


def _scale_for(million: float, years: int) -> float:
    return million * 1e6 / (NATIONAL_CRIMES_10Y * years / 10)


def measure_size(
    million: float,
    years: int,
    month: str,
    repeat: int,
    work: Path,
    backfill_months: int,
    backfill_timeout: float,
    min_available_gb: float,
) -> dict[str, Any]:
    from benchmarks import floor
    from harmrank.config import Config
    from harmrank.ingest import ingest_extract
    from harmrank.scoring import Month, run_month
    from harmrank.synthetic_data import write_extract

    config = Config()
    scale = _scale_for(million, years)
    folder = work / f"{million:g}M"
    extract = folder / "extract"
    db = folder / "harmrank.duckdb"
    _remove_db(db)
    log(f"{million:g} million crimes (national x{scale:.4f}, {years} years)")
    t = time.perf_counter()
    write_extract(extract, "national", years, 1, end_month=month, progress=False, scale=scale)
    synth_s = time.perf_counter() - t
    store = _open(db)
    t = time.perf_counter()
    ingest_extract(store, extract, config, user="benchmark")
    ingest_s = time.perf_counter() - t
    crimes = int(store.scalar("SELECT count(*) FROM crimes"))
    log(f"  {crimes:,} crimes: synth {synth_s:.1f} s, ingest {ingest_s:.1f} s")
    month_step = measure.timed(
        "month run", lambda i: run_month(store, month, config, user="benchmark"), repeat, log=log
    )
    floor.prepare(store.con, config)
    floor_step = measure.timed(
        "floor", lambda i: floor.run(store.con, month), max(repeat, 3), log=log
    )
    store.close()
    first = str(Month.parse(month).shift(-(backfill_months - 1)))
    # in a child process, stopped if the shared machine runs short of memory (see run.py)
    res = _backfill_in_child(db, first, month, backfill_timeout, min_available_gb)
    backfill_s = res["seconds"]
    log(
        f"  backfill {backfill_months}: {backfill_s if backfill_s is None else round(backfill_s, 1)} s"
    )
    _remove_db(db)
    return {
        "million_target": million,
        "scale": round(scale, 6),
        "years": years,
        "crimes": crimes,
        "synth_s": round(synth_s, 3),
        "ingest_s": round(ingest_s, 3),
        "month_run_s": round(month_step.median, 4),
        "month_run_runs_s": [round(x, 4) for x in month_step.times],
        "floor_month_run_s": round(floor_step.median, 4),
        "backfill_120_s": round(backfill_s, 3) if backfill_s is not None else None,
        "backfill_months": backfill_months,
        "backfill": {k: v for k, v in res.items() if k != "seconds"},
        "loadavg": measure.loadavg(),
    }


def plot(data: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(data["points"], key=lambda p: p["crimes"])
    x = [p["crimes"] / 1e6 for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    ax1.plot(x, [p["month_run_s"] for p in points], "o-", label="harmrank month run")
    ax1.plot(x, [p["floor_month_run_s"] for p in points], "s--", label="floor (DuckDB)")
    ax1.axhline(10, color="grey", linestyle=":", label="SPEC national target (10 s)")
    ax1.set_title("One month run")
    ax1.set_ylabel("seconds")
    done = [p for p in points if p["backfill_120_s"] is not None]
    ax2.plot(
        [p["crimes"] / 1e6 for p in done],
        [p["backfill_120_s"] for p in done],
        "o-",
        color="C2",
        label="harmrank",
    )
    for p in points:
        if p["backfill_120_s"] is None:  # stopped: mark where, with the months it had done
            ax2.annotate(
                f"stopped ({p['backfill'].get('months_done')} months done)",
                (p["crimes"] / 1e6, 0),
                fontsize=7,
                rotation=90,
                va="bottom",
            )
    ax2.axhline(900, color="grey", linestyle=":", label="SPEC national target (15 min)")
    ax2.set_title(f"Backfill of {points[0].get('backfill_months', 120)} months")
    for ax in (ax1, ax2):
        ax.set_xlabel("crimes in the store (millions)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    m = data["machine"]
    commit = data.get("code", {}).get("commit", "?")
    fig.suptitle(
        f"harmrank scaling (national preset, {points[0]['years']} years; {m.get('cores')} cores, "
        f"{data['date'][:10]}, commit {commit}; shared machine, load {points[-1]['loadavg'][:1]})",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lstrip(".") or "svg", metadata={"Date": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.split("\n")[0]
    )
    p.add_argument("--sizes", default="1,2,5,10", help="millions of crimes (default 1,2,5,10)")
    p.add_argument("--years", type=int, default=10)
    p.add_argument("--end-month", default="2025-12")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backfill-months", type=int, default=120)
    p.add_argument("--work", type=Path, default=HERE / "work" / "scaling")
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    p.add_argument("--plot-only", action="store_true", help="redraw from scaling.json")
    p.add_argument("--backfill-timeout", type=float, default=1800.0)
    p.add_argument("--min-available-gb", type=float, default=2.0)
    p.add_argument(
        "--duckdb-memory-limit",
        default="12GB",
        help="DuckDB memory_limit for the stores ('none' for DuckDB's default); default 12GB",
    )
    args = p.parse_args(argv)
    if args.duckdb_memory_limit.lower() != "none":
        os.environ[MEMORY_LIMIT_ENV] = args.duckdb_memory_limit
    data_file = args.out_dir / "scaling.json"
    if not args.plot_only:
        points = []
        for million in (float(s) for s in args.sizes.split(",")):
            points.append(
                measure_size(
                    million,
                    args.years,
                    args.end_month,
                    args.repeat,
                    args.work,
                    args.backfill_months,
                    args.backfill_timeout,
                    args.min_available_gb,
                )
            )
        data = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": measure.machine(),
            "code": _code_version(),
            "duckdb_memory_limit": os.environ.get(MEMORY_LIMIT_ENV),
            "points": points,
        }
        args.out_dir.mkdir(parents=True, exist_ok=True)
        data_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    data = json.loads(data_file.read_text(encoding="utf-8"))
    plot(data, args.out_dir / "scaling.svg")
    log(f"wrote {data_file} and {args.out_dir / 'scaling.svg'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
