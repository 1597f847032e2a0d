"""A bounded loopback load against a real ``harmrank serve`` (uvicorn) process.

The server runs as a child process, as a force would run it, so that the load generator does
not share its interpreter; it is stopped at the end, on error too. Each of a few client threads
keeps one HTTP/1.1 connection open and sends its share of the requests one after another; the
latency of each request (send to last byte) is recorded.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from benchmarks.measure import percentiles

JUSTIFICATION = "benchmark: offender management review (synthetic data)"
SERVE = "import sys; from harmrank.cli import main; sys.argv[0] = 'harmrank'; main()"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def serve(db: Path, log: Path, timeout: float = 120.0) -> Iterator[Server]:
    """``harmrank serve --db DB`` on a free loopback port until the block ends."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--db", str(db), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"harmrank serve exited with {proc.returncode}: "
                        f"{log.read_text(errors='replace')[-2000:]}"
                    )
                try:
                    con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    con.request("GET", "/health")
                    if con.getresponse().status == 200:
                        con.close()
                        break
                    con.close()
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("harmrank serve did not answer /health in time")
                time.sleep(0.2)
            yield Server("127.0.0.1", port, proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def _worker(
    server: Server,
    jobs: _Jobs,
    headers: dict[str, str],
    latencies: list[float],
    failures: list[str],
) -> None:
    con = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        while (job := jobs.next()) is not None:
            path, due = job
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t = due if jobs.rate is not None else time.perf_counter()
            try:
                con.request("GET", path, headers=headers)
                resp = con.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"{path}: {e!r}")
                con.close()
                con = http.client.HTTPConnection(server.host, server.port, timeout=120)
                continue
            dt = time.perf_counter() - t
            if resp.status != 200:
                failures.append(f"{path}: HTTP {resp.status} {body[:200]!r}")
            else:
                latencies.append(dt * 1000)
    finally:
        con.close()


class _Jobs:
    """The requests to send, in order, each with the time it is due: at once (a closed loop:
    each connection sends its next request as soon as the last is answered), or at a fixed
    rate (an open loop: request i is due i/rate seconds after the start, whether or not the
    server has kept up, and its latency counts from then, so that time spent waiting for a
    free connection is counted rather than hidden)."""

    def __init__(self, paths: list[str], rate: float | None) -> None:
        self.paths, self.rate = paths, rate
        self.i = 0
        self.start = time.perf_counter()
        self.lock = threading.Lock()

    def next(self) -> tuple[str, float] | None:
        with self.lock:
            if self.i >= len(self.paths):
                return None
            i, self.i = self.i, self.i + 1
        due = self.start + i / self.rate if self.rate else 0.0
        return self.paths[i], due


def load(
    server: Server,
    paths: list[str],
    headers: dict[str, str],
    *,
    concurrency: int,
    warmup: int,
    rate: float | None = None,
) -> dict[str, Any]:
    """Send ``paths`` over ``concurrency`` connections, as fast as they are answered or, with
    ``rate``, at that many requests a second; latencies in milliseconds."""
    if warmup:
        _worker(server, _Jobs(paths[:warmup], None), headers, [], [])
    latencies: list[float] = []
    failures: list[str] = []
    jobs = _Jobs(paths, rate)
    threads = [
        threading.Thread(target=_worker, args=(server, jobs, headers, latencies, failures))
        for _ in range(concurrency)
    ]
    t = time.perf_counter()
    jobs.start = t
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    stats = {k: round(v, 3) for k, v in percentiles(latencies).items()}
    return {
        **stats,
        "requests": len(paths),
        "concurrency": concurrency,
        "rate_per_s": rate,
        "errors": len(failures),
        "first_errors": failures[:5],
        "throughput_rps": round(len(latencies) / wall, 1) if wall > 0 else None,
    }


def list_paths(month: str, lpas: list[str], kinds: list[str], n: int) -> list[str]:
    combos = [(lpa, k) for lpa in [*lpas, "ALL"] for k in kinds]
    out = []
    for i in range(n):
        lpa, kind = combos[i % len(combos)]
        out.append(f"/api/v1/lists/{month}?" + urlencode({"lpa": lpa, "list": kind}))
    return out


def history_paths(nominals: list[str], n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"/api/v1/nominals/{quote(rng.choice(nominals), safe='')}/history" for _ in range(n)]


def check_shapes(server: Server, token: str, month: str, nominal: str) -> dict[str, Any]:
    """One list and one history, parsed: proof that the load measured real answers."""
    con = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        con.request(
            "GET",
            f"/api/v1/lists/{month}?" + urlencode({"lpa": "ALL", "list": "harm"}),
            headers={"Authorization": f"Bearer {token}"},
        )
        lst = json.loads(con.getresponse().read())
        con.request(
            "GET",
            f"/api/v1/nominals/{quote(nominal, safe='')}/history",
            headers={"Authorization": f"Bearer {token}", "X-Justification": JUSTIFICATION},
        )
        hist = json.loads(con.getresponse().read())
    finally:
        con.close()
    return {
        "list_entries": len(lst.get("entries", [])),
        "history_months": len(hist.get("months", [])),
    }
