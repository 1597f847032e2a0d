"""A bounded loopback load test of ``harmrank serve``: concurrent readers of lists and
histories over HTTP while runs are started over the API (SPEC section 7: "reads keep working
meanwhile").

By hand (builds a synthetic database in a temporary folder, serves it, loads it, prints the
latencies; nothing is left behind)::

    .venv/bin/python tests/reliability/load.py                      # 16 readers x 40 requests
    .venv/bin/python tests/reliability/load.py --readers 32 --requests 200 --runs 6
    .venv/bin/python tests/reliability/load.py --scale 1.0 --years 4  # force-sized extract

tests/reliability/test_load.py runs it with the defaults and asserts that no request failed
(it prints the latencies; it asserts no time: the machine that runs the tests is shared).

Bounded: every reader makes a fixed number of requests, every request has a timeout, and the
run starter starts at most ``--runs`` runs; the whole test ends when the readers do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

READ_TIMEOUT = 60.0  # seconds, per request
JUSTIFICATION = "load test: offender management review"


# ------------------------------------------------------------------- the database ----
@dataclass
class Prepared:
    db: Path
    reader_token: str  # offender manager (lists and histories), every LPA
    runner_token: str  # supervisor (starts runs)
    months: list[str]  # months that have runs
    lpas: list[str]
    nominals: list[str]  # nominals on the lists (their histories are read)
    run_months: list[str]  # months the run starter runs again, one after another


def prepare_database(
    db: Path, *, scale: float = 0.05, years: int = 2, end_month: str = "2025-06", seed: int = 11
) -> Prepared:
    """A synthetic West Mercia extract, ingested and backfilled over its last 12 months, with
    a reader's and a supervisor's token."""
    from harmrank.api.security import mint_token
    from harmrank.config import Config
    from harmrank.ingest import ingest_extract
    from harmrank.scoring import backfill
    from harmrank.scoring.months import Month
    from harmrank.store import open_store
    from harmrank.synthetic_data import write_extract

    with tempfile.TemporaryDirectory(prefix="harmrank-load-") as tmp:
        extract = Path(tmp) / "extract"
        write_extract(
            extract, "west-mercia", years, seed, end_month=end_month, scale=scale, progress=False
        )
        last = Month.parse(end_month)
        with open_store(db) as store:
            ingest_extract(store, extract, Config(), user="load-test")
            backfill(store, last.shift(-11), last, Config(), user="builder")
            reader, _ = mint_token(
                store, user="om.reader", roles=["offender_manager"], created_by="load-test"
            )
            runner, _ = mint_token(
                store, user="sup.runner", roles=["supervisor"], created_by="load-test"
            )
            months = [
                r[0] for r in store.execute("SELECT DISTINCT month FROM runs ORDER BY 1").fetchall()
            ]
            lpas = [
                r[0] for r in store.execute("SELECT DISTINCT lpa FROM lpas ORDER BY 1").fetchall()
            ]
            nominals = [
                r[0]
                for r in store.execute(
                    "SELECT DISTINCT nominal_id FROM run_entries ORDER BY 1 LIMIT 200"
                ).fetchall()
            ]
    return Prepared(db, reader, runner, months, lpas, nominals, months[-4:])


# --------------------------------------------------------------------- the server ----
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve(db: Path, log: Path, *, port: int | None = None, timeout: float = 90) -> Iterator[Server]:
    """``harmrank serve`` on ``db`` (the real command, uvicorn and all), stopped with SIGTERM
    as a service manager stops it."""
    port = port or free_port()
    out = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from harmrank.cli import main; main()",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server ended: {server.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in {timeout} s")
            try:
                if request(server, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        out.close()


def request(
    server: Server,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request; the path is sent exactly as given (no normalisation)."""
    con = connection or http.client.HTTPConnection(server.host, server.port, timeout=READ_TIMEOUT)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        con.request(method, path, body=data, headers=sent)
        response = con.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            con.close()


# ----------------------------------------------------------------------- the load ----
@dataclass
class Sample:
    kind: str
    status: int  # 0: no answer (an exception)
    seconds: float
    error: str = ""


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # the finished run jobs
    wall_seconds: float = 0.0

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.status != 200]

    def percentile(self, q: float, kind: str | None = None) -> float:
        times = sorted(s.seconds for s in self.samples if kind is None or s.kind == kind)
        if not times:
            return float("nan")
        rank = max(1, min(len(times), round(q / 100 * len(times) + 0.5)))  # nearest rank
        return times[rank - 1]

    def report(self) -> str:
        kinds = sorted({s.kind for s in self.samples})
        made = ", ".join(f"{r['month']} {r['state']}" for r in self.runs)
        lines = [
            f"{len(self.samples)} requests in {self.wall_seconds:.1f} s "
            f"({len(self.samples) / max(self.wall_seconds, 1e-9):.0f}/s), "
            f"{len(self.failures)} failed; {len(self.runs)} runs made meanwhile "
            f"({made})",
            f"{'requests':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        ]
        for kind in [*kinds, None]:
            n = sum(1 for s in self.samples if kind is None or s.kind == kind)
            lines.append(
                f"{kind or 'all':<22}{n:>6}"
                + "".join(f"{1000 * self.percentile(q, kind):>10.1f}" for q in (50, 95, 99, 100))
            )
        for s in self.failures[:10]:
            lines.append(f"FAILED {s.kind}: status {s.status} {s.error[:200]}")
        return "\n".join(lines)


def _reader(
    server: Server,
    prepared: Prepared,
    requests: int,
    seed: int,
    out: list[Sample],
    start: threading.Event,
) -> None:
    rnd = random.Random(seed)
    con = http.client.HTTPConnection(server.host, server.port, timeout=READ_TIMEOUT)
    start.wait()
    try:
        for _ in range(requests):
            month = rnd.choice(prepared.months)
            pick = rnd.random()
            headers: dict[str, str] = {}
            if pick < 0.45:
                kind = "list (one)"
                lpa = rnd.choice([*prepared.lpas, "ALL"])
                kind_name = rnd.choice(["harm", "frequency", "repeat"])
                path = f"/api/v1/lists/{month}?lpa={quote(lpa, safe='')}&list={kind_name}"
            elif pick < 0.55:
                kind = "lists (all)"
                path = f"/api/v1/lists/{month}"
            elif pick < 0.6:
                kind = "lists (csv)"
                path = f"/api/v1/lists/{month}?format=csv"
            else:
                kind = "history"
                nominal = rnd.choice(prepared.nominals)
                path = f"/api/v1/nominals/{quote(nominal, safe='')}/history"
                headers["X-Justification"] = JUSTIFICATION
            started = time.perf_counter()
            try:
                status, body = request(
                    server,
                    "GET",
                    path,
                    token=prepared.reader_token,
                    headers=headers,
                    connection=con,
                )
                error = "" if status == 200 else body[:300].decode(errors="replace")
            except (OSError, http.client.HTTPException) as e:
                status, error = 0, f"{type(e).__name__}: {e}"
                con.close()
                con = http.client.HTTPConnection(server.host, server.port, timeout=READ_TIMEOUT)
            out.append(Sample(kind, status, time.perf_counter() - started, error))
    finally:
        con.close()


def _run_starter(
    server: Server, prepared: Prepared, runs: int, done: threading.Event, result: Result
) -> None:
    """Start runs one after another over the API (``POST /runs``) while the readers read."""
    months = (prepared.run_months * runs)[:runs]
    for month in months:
        if done.is_set():
            break
        started = time.perf_counter()
        status, body = request(
            server, "POST", "/api/v1/runs", token=prepared.runner_token, body={"month": month}
        )
        result.samples.append(
            Sample("start run", 200 if status == 202 else status, time.perf_counter() - started,
                   "" if status == 202 else body[:300].decode(errors="replace"))
        )  # fmt: skip
        if status != 202:
            continue
        job = json.loads(body)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status, body = request(
                server, "GET", f"/api/v1/runs/jobs/{job['job_id']}", token=prepared.runner_token
            )
            job = json.loads(body) if status == 200 else job
            if job.get("state") in ("done", "failed"):
                break
            time.sleep(0.05)
        result.runs.append(job)


def run_load(
    server: Server, prepared: Prepared, *, readers: int = 16, requests: int = 40, runs: int = 3
) -> Result:
    result = Result()
    per_reader: list[list[Sample]] = [[] for _ in range(readers)]
    start, done = threading.Event(), threading.Event()
    threads = [
        threading.Thread(
            target=_reader, args=(server, prepared, requests, 1000 + i, per_reader[i], start)
        )
        for i in range(readers)
    ]
    starter = threading.Thread(target=_run_starter, args=(server, prepared, runs, done, result))
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.set()
    starter.start()
    for t in threads:
        t.join()
    result.wall_seconds = time.perf_counter() - began
    done.set()  # no further run is started; the one under way is waited for
    starter.join()
    for samples in per_reader:
        result.samples.extend(samples)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="requests per reader")
    parser.add_argument("--runs", type=int, default=3, help="runs started over the API")
    parser.add_argument("--scale", type=float, default=0.05, help="synthetic extract scale")
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the database and server log here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="harmrank-load-"))
    try:
        print(f"preparing a synthetic database (scale {args.scale}, {args.years} years)…")
        prepared = prepare_database(work / "load.duckdb", scale=args.scale, years=args.years)
        with serve(prepared.db, work / "server.log") as server:
            print(f"serving at {server.url}; {args.readers} readers x {args.requests} requests")
            result = run_load(
                server, prepared, readers=args.readers, requests=args.requests, runs=args.runs
            )
        print(result.report())
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("load.duckdb", "server.log"):
                shutil.copy(work / name, args.keep / name)
        failed = bool(result.failures) or any(r.get("state") != "done" for r in result.runs)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
