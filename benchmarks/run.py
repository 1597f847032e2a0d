"""The benchmark of issue 6 and SPEC section 9: harmrank at force or national scale, side by side
with PostgreSQL and the floor, in one run.

    python -m benchmarks.run --scale force            # make bench
    python -m benchmarks.run --scale national         # make bench-national
    python -m benchmarks.run --verify                 # PostgreSQL's lists == harmrank's?

Steps, each timed in-process as the median of ``--repeat`` repetitions (a step whose first
repetition takes over a minute runs once): synth, ingest, one month run, the 120-month
backfill, a list and a history over HTTP (p50/p95/p99 of a bounded loopback load against a real
``harmrank serve``), and the peak resident memory of harmrank's steps (this process and its
children). Then the peers: the same month's lists in a temporary PostgreSQL cluster
(``benchmarks/postgres_month.sql``; its lists are checked against harmrank's) and the floor in
DuckDB (``benchmarks/floor.sql``). Each peer is timed in turn with harmrank's month run, in
the same rounds, and its ratio is taken from those runs: on a shared machine the load changes
from minute to minute, and runs minutes apart compare the load as much as the engines.
Results go to ``benchmarks/results/<scale>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

PRESETS = {"force": "west-mercia", "national": "national"}

# SPEC section 9 (2-core machine); None = no target.
TARGETS: dict[str, dict[str, float]] = {
    "force": {
        "synth_s": 30,
        "ingest_s": 30,
        "month_run_s": 1,
        "backfill_120_s": 30,
        "api_history_p95_ms": 20,
        "api_list_p95_ms": 20,
        "peak_rss_mb": 2048,
    },
    "national": {
        "synth_s": 300,
        "ingest_s": 300,
        "month_run_s": 10,
        "backfill_120_s": 900,
        "api_history_p95_ms": 50,
        "api_list_p95_ms": 50,
        "peak_rss_mb": 12 * 1024,
    },
}
# issue 6: ratio_vs_postgres >= 5 (aim 10), ratio_vs_floor <= 2 (aim 1.5)
PEER_TARGETS = {"ratio_vs_postgres": 5.0, "ratio_vs_floor": 2.0}
# rounds of a peer timed in turn with harmrank's month run (fewer where a run takes over a
# minute: such a round is the last); the ratios are taken from these medians
PAIRED_ROUNDS = 5


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--scale", choices=sorted(PRESETS), default="force")
    p.add_argument("--years", type=int, default=10, help="years of synthetic data (default 10)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per step (median)")
    p.add_argument(
        "--work", type=Path, default=None, help="work folder (default benchmarks/work/SCALE)"
    )
    p.add_argument("--skip-postgres", action="store_true", help="leave out the PostgreSQL peer")
    p.add_argument(
        "--out", type=Path, default=None, help="results file (default results/SCALE.json)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--end-month", default="2025-12", help="last month of data; the month run")
    p.add_argument(
        "--size", type=float, default=1.0, help="multiply the preset's volumes (tests: 0.02)"
    )
    p.add_argument("--backfill-months", type=int, default=120)
    p.add_argument(
        "--backfill-timeout",
        type=float,
        default=None,
        help="run the backfill in a child process and give up after this many seconds "
        "(default: in-process, no limit, at force scale; 1800 at national scale)",
    )
    p.add_argument(
        "--duckdb-memory-limit",
        default=None,
        help="DuckDB memory_limit for the stores the benchmark opens (e.g. 12GB; 'none' for "
        "DuckDB's default of 80%% of RAM; default: none at force scale, the SPEC's 12GB at "
        "national scale)",
    )
    p.add_argument(
        "--min-available-gb",
        type=float,
        default=2.0,
        help="stop a child-process backfill when the machine's available memory falls below "
        "this (the machine is shared; default 2)",
    )
    p.add_argument("--requests", type=int, default=300, help="HTTP requests per endpoint")
    p.add_argument("--concurrency", type=int, default=4, help="concurrent HTTP connections")
    p.add_argument(
        "--rate",
        type=float,
        default=20.0,
        help="requests a second of the paced load whose p95 is the API figure (the closed-loop "
        "load at full speed is measured too, as the server's saturation)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder's databases")
    p.add_argument(
        "--snapshot",
        nargs="?",
        const="HEAD",
        default=None,
        metavar="REV",
        help="measure the engine as committed at REV (default HEAD): `git archive REV src` "
        "into the work folder, which then comes first on the path (the working tree's "
        "uncommitted edits are not measured)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="only check, on a small extract and several months, that the PostgreSQL "
        "script's lists equal harmrank's; exit 1 on any difference",
    )
    p.add_argument(
        "--backfill-child", nargs=3, metavar=("DB", "FIRST", "LAST"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args.backfill_child:  # the memory limit comes from the parent's environment
        return args
    if args.backfill_timeout is None and args.scale == "national":
        args.backfill_timeout = 1800.0
    if args.duckdb_memory_limit is None and args.scale == "national":
        args.duckdb_memory_limit = "12GB"
    if args.duckdb_memory_limit and args.duckdb_memory_limit.lower() != "none":
        os.environ[MEMORY_LIMIT_ENV] = args.duckdb_memory_limit  # children inherit it
    else:
        args.duckdb_memory_limit = None
        os.environ.pop(MEMORY_LIMIT_ENV, None)
    return args


# --------------------------------------------------------------------------- helpers ----
def _config() -> Any:
    from harmrank.config import Config

    return Config()


def _reference(config: Any) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    from harmrank.reference import load_offence_set, load_weights

    weights = load_weights(config).resolved()
    sets = {name: load_offence_set(name, config).codes for name in ("vawg", "rasso")}
    return weights, sets


def _remove_db(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def _copy_db(src: Path, dst: Path) -> None:
    _remove_db(dst)
    shutil.copyfile(src, dst)


def _counts(store: Any) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for t in ("crimes", "links", "nominals"):
        try:
            out[t] = int(store.scalar(f"SELECT count(*) FROM {t}"))
        except Exception:  # the store's schema is the engine's to change
            out[t] = None
    return out


def _code_version() -> dict[str, Any]:
    """The commit measured, and whether the engine's sources differ from it."""

    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    import harmrank

    snapshot = os.environ.get("HARMRANK_BENCH_SNAPSHOT")
    if snapshot:
        return {
            "harmrank": harmrank.__version__,
            "commit": snapshot,
            "src_modified": False,
            "source": str(Path(harmrank.__file__).parent),
        }
    return {
        "harmrank": harmrank.__version__,
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(git("status", "--porcelain", "--", "src")),
        "source": str(Path(harmrank.__file__).parent),
    }


MEMORY_LIMIT_ENV = "HARMRANK_BENCH_DUCKDB_MEMORY_LIMIT"


def _open(path: Path | str, **kw: Any) -> Any:
    """``open_store`` with the benchmark's DuckDB memory limit, when one is set."""
    from harmrank.store import open_store

    store = open_store(path, **kw)
    limit = os.environ.get(MEMORY_LIMIT_ENV)
    if limit:
        store.con.execute(f"SET memory_limit = '{limit}'")
    return store


def _backfill_child(db: str, first: str, last: str) -> None:
    """``--backfill-child DB FIRST LAST``: time one backfill in this (child) process."""
    from harmrank.scoring import backfill

    store = _open(db)
    limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
    print(json.dumps({"memory_limit": limit[0] if limit else None}), flush=True)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        print(json.dumps({"progress": [done, total], "elapsed_s": elapsed}), flush=True)

    t = time.perf_counter()
    backfill(store, first, last, _config(), progress=progress)
    dt = time.perf_counter() - t
    store.close()
    print(json.dumps({"backfill_s": dt}), flush=True)


def _backfill_in_child(
    db: Path, first: str, last: str, timeout: float, min_available_gb: float
) -> dict[str, Any]:
    """A backfill in a child process, stopped after ``timeout`` seconds or when the machine's
    available memory falls below ``min_available_gb`` (it is shared: a runaway backfill must
    not take it down). Returns the seconds, or why it stopped and the months it had done."""
    import psutil

    cmd = [sys.executable, "-m", "benchmarks.run", "--backfill-child", str(db), first, last]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [p for p in (os.environ.get("PYTHONPATH", ""), str(REPO)) if p]
        ),
    }
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    lines: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
            if "progress" in lines[-1]:
                done, total = lines[-1]["progress"]
                log(f"  backfill: {done}/{total} months, {lines[-1]['elapsed_s']:.0f} s")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stopped: str | None = None
    peak_rss = 0.0
    deadline = time.monotonic() + timeout
    child = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak_rss = max(peak_rss, child.memory_info().rss / 2**30)
        except psutil.Error:
            pass
        available = psutil.virtual_memory().available / 2**30
        if time.monotonic() > deadline:
            stopped = f"time limit of {timeout:.0f} s reached"
        elif available < min_available_gb:
            stopped = (
                f"the machine's available memory fell to {available:.1f} GB with the "
                f"backfill at {peak_rss:.1f} GB resident (guard: {min_available_gb} GB)"
            )
        if stopped:
            log(f"  backfill stopped: {stopped}")
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            break
        time.sleep(0.5)
    reader.join(10)
    done = [x for x in lines if "backfill_s" in x]
    progress = [x for x in lines if "progress" in x]
    limits = [x["memory_limit"] for x in lines if "memory_limit" in x]
    out: dict[str, Any] = {
        "child_peak_rss_gb": round(peak_rss, 2),
        "child_duckdb_memory_limit": limits[0] if limits else None,
    }
    if done:
        return {**out, "seconds": done[-1]["backfill_s"]}
    last_p = progress[-1] if progress else None
    return {
        **out,
        "seconds": None,
        "stopped": stopped or f"the backfill process failed with exit code {proc.returncode}",
        "months_done": last_p["progress"][0] if last_p else 0,
        "elapsed_at_last_batch_s": round(last_p["elapsed_s"], 1) if last_p else None,
    }


# ------------------------------------------------------------------------------ main ----
def bench(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    from benchmarks import api_load, floor, measure, pg, verify
    from harmrank.api.security import mint_token
    from harmrank.ingest import ingest_extract
    from harmrank.scoring import Month, backfill, list_objects, months_with_runs, run_month
    from harmrank.synthetic_data import write_extract

    preset = PRESETS[args.scale]
    work: Path = args.work or HERE / "work" / args.scale
    work.mkdir(parents=True, exist_ok=True)
    extract = work / "extract"
    base_db = work / "harmrank.duckdb"
    bf_db = work / "backfill.duckdb"
    config = _config()
    month = args.end_month
    first = str(Month.parse(month).shift(-(args.backfill_months - 1)))
    R = max(1, args.repeat)
    info: dict[str, Any] = {"machine": measure.machine(), "code": _code_version()}
    sampler = measure.MemorySampler().start()
    steps: dict[str, measure.Step] = {}
    notes: list[str] = []
    log(
        f"harmrank benchmark: {args.scale} ({preset}, {args.years} years, size x{args.size}), "
        f"month {month}, work {work}"
    )

    # -- synth --------------------------------------------------------------------------
    sampler.phase("synth")
    manifest: list[Any] = []
    steps["synth"] = measure.timed(
        "synth",
        lambda i: manifest.append(
            write_extract(
                extract,
                preset,
                args.years,
                args.seed,
                end_month=month,
                fmt="csv",
                progress=False,
                scale=args.size,
            )
        ),
        R,
        log=log,
    )

    # -- ingest -------------------------------------------------------------------------
    sampler.phase("ingest")
    dbs: list[Path] = []
    stores: list[Any] = []

    def ingest_setup(i: int) -> None:
        db = work / f"ingest{i}.duckdb"
        _remove_db(db)
        dbs.append(db)
        stores.append(_open(db))

    def ingest(i: int) -> None:
        ingest_extract(stores[i], extract, config, user="benchmark")

    steps["ingest"] = measure.timed("ingest", ingest, R, setup=ingest_setup, log=log)
    for s in stores:
        s.close()
    _remove_db(base_db)
    dbs[-1].rename(base_db)
    for db in dbs[:-1]:
        _remove_db(db)

    # -- one month run ------------------------------------------------------------------
    sampler.phase("month_run")
    store = _open(base_db)
    counts = _counts(store)
    log(f"  stored: {counts}")
    # the floor (a peer, on this same database file) runs in turn with the month run, so
    # that the ratio compares runs under the same load
    floor.prepare(store.con, config)
    runs: list[Any] = []
    floor_out: list[Any] = []
    steps["month_run"], steps["floor"] = measure.alternating(
        [
            ("month run", lambda i: runs.append(run_month(store, month, config, user="benchmark"))),
            ("floor", lambda i: floor_out.append(floor.run(store.con, month)[1])),
        ],
        max(R, PAIRED_ROUNDS),
        log=log,
    )
    sampler.phase("peers")
    month_lists = list_objects(store, month, config)
    floor_rows = floor.with_ids(store.con, floor_out[-1])
    floor_check = floor.agrees_with_lists(floor_rows, month_lists)
    if not floor_check["agrees"]:
        notes.append(f"the floor's aggregates differ from harmrank's lists: {floor_check}")
    lpas = sorted({o["lpa"] for o in month_lists} - {"ALL"})
    scored = (
        pl.from_arrow(floor_rows)
        .filter(pl.col("frequency_m") > 0)
        .get_column("nominal_id")
        .sort()
        .to_list()
    )
    # nominals on the month's harm and frequency lists (a repeat-list entry need not be scored
    # in any month, and then has no history)
    on_lists = sorted(
        {e["nominal_id"] for o in month_lists if o["list"] != "repeat" for e in o["entries"]}
    )
    store.close()

    # -- backfill -----------------------------------------------------------------------
    sampler.phase("backfill")
    backfill_extra: dict[str, Any] = {}
    if args.backfill_timeout:
        _copy_db(base_db, bf_db)
        log(f"  backfill {first}..{month} in a child process (limit {args.backfill_timeout:.0f} s)")
        res = _backfill_in_child(bf_db, first, month, args.backfill_timeout, args.min_available_gb)
        steps["backfill"] = measure.Step("backfill", [res["seconds"]] if res["seconds"] else [])
        backfill_extra = {k: v for k, v in res.items() if k != "seconds"}
        if res["seconds"] is None:
            notes.append(
                f"backfill not measured: {res['stopped']}, with {res['months_done']} of "
                f"{args.backfill_months} months done at {res['elapsed_at_last_batch_s']} s "
                "(a backfill is one transaction: none stored; the API history read fewer months)"
            )
        else:
            log(f"  backfill: {res['seconds']:.3f} s")
    else:
        bf_stores: list[Any] = []

        def bf_setup(i: int) -> None:
            for s in bf_stores:
                s.close()
            bf_stores.clear()
            _copy_db(base_db, bf_db)
            bf_stores.append(_open(bf_db))

        steps["backfill"] = measure.timed(
            f"backfill {args.backfill_months}",
            lambda i: backfill(bf_stores[0], first, month, config, user="benchmark"),
            R,
            setup=bf_setup,
            log=log,
        )
        for s in bf_stores:
            s.close()
    if not bf_db.exists():
        _copy_db(base_db, bf_db)

    # -- the API ------------------------------------------------------------------------
    sampler.phase("api")
    store = _open(bf_db)
    token, _ = mint_token(store, user="bench", roles=["offender_manager"], created_by="benchmark")
    # history: nominals on the month's lists and a seeded sample of those scored that month
    rng = random.Random(args.seed)
    nominals = on_lists + rng.sample(scored, min(len(scored), 500))
    history_months = len(months_with_runs(store, config))
    store.close()
    auth = {"Authorization": f"Bearer {token}"}
    n = max(10, args.requests)
    with api_load.serve(bf_db, work / "serve.log") as server:
        shapes = api_load.check_shapes(server, token, month, nominals[0])
        log(f"  API up on port {server.port}: {shapes}")
        # the figures of SPEC 9: latency under a bounded load, `--rate` requests a second over
        # `--concurrency` connections (an open loop: a late answer delays no later request)
        paced = {"concurrency": args.concurrency, "rate": args.rate}
        api_list = api_load.load(
            server,
            api_load.list_paths(month, lpas, ["harm", "frequency"], n),
            auth,
            warmup=min(20, n),
            **paced,
        )
        log(f"  API list: p50 {api_list['p50']} p95 {api_list['p95']} p99 {api_list['p99']} ms")
        api_history = api_load.load(
            server,
            api_load.history_paths(nominals, n),
            {**auth, "X-Justification": api_load.JUSTIFICATION},
            warmup=min(20, n),
            **paced,
        )
        log(
            f"  API history: p50 {api_history['p50']} p95 {api_history['p95']} "
            f"p99 {api_history['p99']} ms"
        )
        # the repeat lists are not cut at 10 (the force-wide one holds every repeat suspect
        # with their crimes: megabytes at national scale), so no rate suits both scales: their
        # service time, one request at a time
        api_repeat = api_load.load(
            server,
            api_load.list_paths(month, lpas, ["repeat"], max(10, n // 3)),
            auth,
            concurrency=1,
            warmup=min(6, n),
        )
        log(f"  API repeat list: p50 {api_repeat['p50']} p95 {api_repeat['p95']} ms")
        # saturation: every connection sends its next request as soon as it has an answer
        api_list_sat = api_load.load(
            server,
            api_load.list_paths(month, lpas, ["harm", "frequency"], n),
            auth,
            concurrency=args.concurrency,
            warmup=0,
        )
        api_history_sat = api_load.load(
            server,
            api_load.history_paths(nominals, n, seed=3),
            {**auth, "X-Justification": api_load.JUSTIFICATION},
            concurrency=args.concurrency,
            warmup=0,
        )
        log(
            f"  API at saturation ({args.concurrency} connections): list p95 "
            f"{api_list_sat['p95']} ms, {api_list_sat['throughput_rps']}/s; history p95 "
            f"{api_history_sat['p95']} ms, {api_history_sat['throughput_rps']}/s"
        )
        # one connection: the service time of a request without queueing behind others
        seq = max(10, n // 3)
        api_list_seq = api_load.load(
            server,
            api_load.list_paths(month, lpas, ["harm", "frequency"], seq),
            auth,
            concurrency=1,
            warmup=0,
        )
        api_history_seq = api_load.load(
            server,
            api_load.history_paths(nominals, seq, seed=2),
            {**auth, "X-Justification": api_load.JUSTIFICATION},
            concurrency=1,
            warmup=0,
        )
        log(
            f"  API one connection: list p50 {api_list_seq['p50']} ms, "
            f"history p50 {api_history_seq['p50']} ms"
        )
    sampler.phase("peers")
    harmrank_phases = ("synth", "ingest", "month_run", "backfill", "api")
    sampled_peak = max(sampler.peaks.get(p, 0.0) for p in harmrank_phases)
    self_peak = measure.self_peak_mb()
    peak_rss = max(sampled_peak, self_peak)

    # -- PostgreSQL ---------------------------------------------------------------------
    peers: dict[str, Any] = {
        "floor_month_run_s": round(steps["floor"].median, 4),
        "floor": {**steps["floor"].as_dict(), "agrees_with_lists": floor_check},
    }
    if args.skip_postgres:
        peers["postgres"] = {"skipped": "--skip-postgres"}
    elif pg.find_bin() is None:
        peers["postgres"] = {"skipped": "no PostgreSQL binaries (apt-get install -y postgresql)"}
        notes.append("PostgreSQL peer skipped: no binaries")
    else:
        weights, sets = _reference(config)
        with pg.temporary_cluster(work) as cluster, cluster.connect() as con:
            log(f"  PostgreSQL {cluster.version}: loading the extract with COPY")
            t = time.perf_counter()
            load_phases = pg.load(con, extract, weights, sets)
            load_s = time.perf_counter() - t
            log(f"  PostgreSQL load: {load_s:.1f} s {load_phases}")
            # in turn with harmrank's month run (on the month-run database again), so that
            # the ratio compares runs under the same load
            paired = _open(base_db)

            def postgres(workers: int) -> Callable[[int], float]:
                return lambda i: pg.run_month(con, month, parallel=workers)

            try:
                steps["month_run_with_postgres"], *by_setting = measure.alternating(
                    [
                        ("month run", lambda i: run_month(paired, month, config, user="benchmark")),
                        *(
                            (f"postgres month, {w} parallel workers", postgres(w))
                            for w in pg.PARALLEL_SETTINGS
                        ),
                    ],
                    max(R, PAIRED_ROUNDS),
                    log=log,
                )
            finally:
                paired.close()
            # PostgreSQL's figure is its faster setting's median (a DBA keeps the better)
            settings_runs = dict(zip(pg.PARALLEL_SETTINGS, by_setting, strict=True))
            best = min(settings_runs, key=lambda w: settings_runs[w].median)
            steps["postgres_month"] = settings_runs[best]
            store = _open(bf_db, read_only=True)
            try:
                counted, problems = verify.compare(
                    verify.harmrank_lists(store, month, config), verify.postgres_lists(con), month
                )
            finally:
                store.close()
            log(f"  PostgreSQL lists vs harmrank's: {counted}, {len(problems)} difference(s)")
            for line in problems[:10]:
                log(f"    {line}")
            peers["postgres_month_run_s"] = round(steps["postgres_month"].median, 4)
            peers["postgres"] = {
                **steps["postgres_month"].as_dict(),
                "version": cluster.version,
                "settings": cluster.settings,
                "parallel_workers_per_gather": best,
                "by_parallel_workers": {
                    str(w): step.as_dict() for w, step in settings_runs.items()
                },
                "load_s": round(load_s, 3),
                "load_phases_s": {k: round(v, 3) for k, v in load_phases.items()},
                "tables": pg.sizes(con),
                "verified": not problems,
                "compared": counted,
                "differences": problems[:50],
            }
    sampler.stop()

    # -- results ------------------------------------------------------------------------
    def med(name: str) -> float | None:
        st = steps.get(name)
        return round(st.median, 4) if st and st.times else None

    month_s = med("month_run")
    month_with_pg = med("month_run_with_postgres")
    if peers.get("postgres_month_run_s") and month_with_pg:
        # harmrank's month run measured in turn with PostgreSQL's (the same rounds)
        peers["harmrank_month_run_with_postgres_s"] = month_with_pg
        peers["ratio_vs_postgres"] = round(peers["postgres_month_run_s"] / month_with_pg, 3)
    else:
        peers["ratio_vs_postgres"] = None
        peers.setdefault("postgres_month_run_s", None)
    peers["ratio_vs_floor"] = (
        round(month_s / peers["floor_month_run_s"], 3)
        if month_s and peers["floor_month_run_s"]
        else None
    )
    result_steps: dict[str, Any] = {
        "synth_s": med("synth"),
        "ingest_s": med("ingest"),
        "month_run_s": month_s,
        "backfill_120_s": med("backfill"),
        "api_list_p50_ms": api_list.get("p50"),
        "api_list_p95_ms": api_list.get("p95"),
        "api_list_p99_ms": api_list.get("p99"),
        "api_history_p50_ms": api_history.get("p50"),
        "api_history_p95_ms": api_history.get("p95"),
        "api_history_p99_ms": api_history.get("p99"),
        "api_repeat_list_p95_ms": api_repeat.get("p95"),
        "api_rate_per_s": args.rate,
        "api_list_saturated_p95_ms": api_list_sat.get("p95"),
        "api_history_saturated_p95_ms": api_history_sat.get("p95"),
        "api_list_saturated_rps": api_list_sat.get("throughput_rps"),
        "api_history_saturated_rps": api_history_sat.get("throughput_rps"),
        "peak_rss_mb": round(peak_rss, 1),
    }
    targets = TARGETS[args.scale]
    meets = {k: (result_steps[k] is not None and result_steps[k] < v) for k, v in targets.items()}
    meets["ratio_vs_postgres"] = (
        peers["ratio_vs_postgres"] is not None
        and peers["ratio_vs_postgres"] >= PEER_TARGETS["ratio_vs_postgres"]
    )
    meets["ratio_vs_floor"] = (
        peers["ratio_vs_floor"] is not None
        and peers["ratio_vs_floor"] <= PEER_TARGETS["ratio_vs_floor"]
    )
    info["machine"]["loadavg_end"] = measure.loadavg()
    result = {
        "scale": args.scale,
        "preset": preset,
        "years": args.years,
        "size": args.size,
        "seed": args.seed,
        "month": month,
        "backfill": {"from": first, "to": month, "months": args.backfill_months, **backfill_extra},
        "duckdb_memory_limit": args.duckdb_memory_limit,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "crimes": counts["crimes"],
        "links": counts["links"],
        "nominals": counts["nominals"],
        "extract_rows": manifest[-1].rows if manifest else None,
        "machine": info["machine"],
        "code": info["code"],
        "steps": result_steps,
        "peers": peers,
        "targets": {
            **targets,
            **{
                k: (">= " if k == "ratio_vs_postgres" else "<= ") + str(v)
                for k, v in PEER_TARGETS.items()
            },
        },
        "meets_target": meets,
        "repetitions": {name: st.as_dict() for name, st in steps.items()},
        "api": {
            "list": api_list,
            "history": {**api_history, "months_of_runs": history_months},
            "repeat_list": api_repeat,
            "list_saturated": api_list_sat,
            "history_saturated": api_history_sat,
            "list_one_connection": api_list_seq,
            "history_one_connection": api_history_seq,
            "shapes": shapes,
        },
        "memory_mb": {
            "peak_rss_mb": round(peak_rss, 1),
            "sampled_peak_by_phase": {k: round(v, 1) for k, v in sampler.peaks.items()},
            "self_ru_maxrss_before_peers": round(self_peak, 1),
            "note": "peak_rss_mb: the larger of this process's own peak (ru_maxrss) and the "
            "sampled sum of this process and its children (the API server, a backfill child) "
            "over harmrank's steps; PostgreSQL's processes are not counted",
        },
        "notes": notes,
    }
    if not args.keep:
        for db in (base_db, bf_db):
            _remove_db(db)
    return result


def verify_small(args: argparse.Namespace) -> int:
    """``--verify``: a small West Mercia extract, every month of its last year."""
    from benchmarks import pg, verify
    from harmrank.ingest import ingest_extract
    from harmrank.scoring import Month, backfill, month_range
    from harmrank.store import open_store
    from harmrank.synthetic_data import write_extract

    if pg.find_bin() is None:
        print("no PostgreSQL binaries: apt-get install -y postgresql", file=sys.stderr)
        return 2
    work: Path = args.work or HERE / "work" / "verify"
    work.mkdir(parents=True, exist_ok=True)
    config = _config()
    extract = work / "extract"
    size = args.size if args.size != 1.0 else 0.25
    years = args.years if args.years != 10 else 4
    write_extract(
        extract,
        "west-mercia",
        years,
        args.seed,
        end_month=args.end_month,
        progress=False,
        scale=size,
    )
    db = work / "verify.duckdb"
    _remove_db(db)
    store = open_store(db)
    ingest_extract(store, extract, config, user="benchmark")
    last = Month.parse(args.end_month)
    months = [str(m) for m in month_range(last.shift(-11), last)]
    backfill(store, months[0], months[-1], config, user="benchmark")
    weights, sets = _reference(config)
    failures = 0
    with pg.temporary_cluster(work) as cluster, cluster.connect() as con:
        pg.load(con, extract, weights, sets)
        for m in months:
            pg.run_month(con, m)
            counted, problems = verify.compare(
                verify.harmrank_lists(store, m, config), verify.postgres_lists(con), m
            )
            print(
                f"{m}: {counted['lists']} lists, {counted['entries']} entries, "
                f"{len(problems)} difference(s)"
            )
            for line in problems[:20]:
                print(f"  {line}")
            failures += len(problems)
    store.close()
    _remove_db(db)
    print("PostgreSQL's lists equal harmrank's" if not failures else f"{failures} difference(s)")
    return 1 if failures else 0


def _exec_in_snapshot(args: argparse.Namespace, argv: list[str]) -> None:
    """Re-run this command with ``git archive REV src`` first on the path (never returns)."""
    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.snapshot],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    work: Path = args.work or HERE / "work" / args.scale
    snap = work / f"src-{rev}"
    if not (snap / "src" / "harmrank").is_dir():
        snap.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", rev, "src"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(snap / "src"), str(REPO)]),
        "HARMRANK_BENCH_SNAPSHOT": rev,
    }
    log(f"measuring harmrank as committed at {rev} ({snap / 'src'})")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks.run", *argv], env)


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.snapshot and not os.environ.get("HARMRANK_BENCH_SNAPSHOT"):
        _exec_in_snapshot(args, raw)
    if args.backfill_child:
        _backfill_child(*args.backfill_child)
        return 0
    if args.verify:
        return verify_small(args)
    started = time.perf_counter()
    result = bench(args)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    out: Path = args.out or HERE / "results" / f"{args.scale}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    log(f"wrote {out} in {result['wall_s']:.0f} s")
    if args.out is None:
        from benchmarks import report

        if report.update_readme():
            log("updated the table in benchmarks/README.md")
    s, p = result["steps"], result["peers"]
    for k, v in s.items():
        target = result["targets"].get(k)
        log(f"  {k:24} {v!s:>12}" + (f"   target < {target}" if target else ""))
    for k in ("postgres_month_run_s", "floor_month_run_s", "ratio_vs_postgres", "ratio_vs_floor"):
        log(f"  {k:24} {p.get(k)!s:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
