"""Shared by the reliability tests: running the real command line in a subprocess (optionally
stopped at a chosen SQL statement), and reading a database's whole state for comparison."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmrank.config import Config
from harmrank.scoring import NotFound, list_objects
from harmrank.store import open_store

HERE = Path(__file__).resolve().parent
CRASHPOINT = HERE / "crashpoint.py"

# Every table of the store, with the columns that hold wall-clock times (left out of a
# comparison: a re-run at another moment is still the same result).
EXTRACT_TABLES = {
    "crimes": (),
    "links": (),
    "nominal_keys": (),
    "nominals": (),
    "orders": (),
    "lpas": (),
    "crime_versions": (),
    "link_versions": (),
    "nominal_versions": (),
    "order_versions": (),
    "lpa_versions": (),
    "quarantine": (),
    "loads": ("started_at", "finished_at"),
}
RUN_TABLES = {
    "runs": ("created_at", "approved_at"),
    "run_weights": (),
    "run_scores": (),
    "run_entries": (),
    "run_crimes": (),
    "run_orders": (),
}
RUN_CHILD_TABLES = ("run_weights", "run_scores", "run_entries", "run_crimes", "run_orders")


def table_rows(con: Any, table: str, drop: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    select = f"* EXCLUDE ({', '.join(drop)})" if drop else "*"
    return con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()


def db_state(db: Path, tables: dict[str, tuple[str, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``tables`` (sorted, wall-clock columns left out), read through a clean open."""
    with open_store(db) as store:
        return {t: table_rows(store.con, t, drop) for t, drop in tables.items()}


def audit_actions(db: Path) -> list[tuple[Any, ...]]:
    """The audit log without its times and hashes (which depend on the time)."""
    with open_store(db) as store:
        return store.execute(
            "SELECT seq, user_name, action, route, month, status, row_count, detail "
            "FROM audit_log ORDER BY seq"
        ).fetchall()


def all_lists(db: Path, months: list[str]) -> dict[str, Any]:
    """Every list object of every month (``None`` for a month without a run)."""
    out: dict[str, Any] = {}
    with open_store(db) as store:
        for m in months:
            try:
                out[m] = list_objects(store, m, Config())
            except NotFound:
                out[m] = None
    return out


def without_run_ids(lists: dict[str, Any]) -> dict[str, Any]:
    return {
        m: None if objs is None else [{**o, "run_id": "*"} for o in objs]
        for m, objs in lists.items()
    }


def harmrank_cmd(*args: str) -> list[str]:
    """The real command line (through the statement counter, which changes nothing)."""
    return [sys.executable, str(CRASHPOINT), *args]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    statements: list[str]  # the SQL statements sent, in order (first 100 characters each)
    times: list[float]  # when each was sent (monotonic seconds)
    seconds: float


def run_counted(
    args: list[str], work: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> Finished:
    """Run ``harmrank ARGS`` to the end, recording every SQL statement it sends."""
    log = work / f"statements-{time.monotonic_ns()}.log"
    environment = {
        **os.environ,
        **(env or {}),
        "CRASHPOINT_LOG": str(log),
        "PYTHONFAULTHANDLER": "1",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        harmrank_cmd(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # a hang: make Python print where every thread is (faulthandler), then fail with it
        process.send_signal(signal.SIGABRT)
        stdout, stderr = process.communicate(timeout=30)
        sent = log.read_text() if log.exists() else "(no statement sent)"
        raise AssertionError(
            f"harmrank {' '.join(args)} hung for {timeout} s; statements sent:\n{sent[-3000:]}"
            f"\nstderr:\n{stderr[-6000:]}"
        ) from None
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    seconds = time.monotonic() - started
    statements, times = read_log(log)
    return Finished(done.returncode, done.stdout, done.stderr, statements, times, seconds)


def read_log(log: Path) -> tuple[list[str], list[float]]:
    """The statements (and their times) a process wrote to its ``CRASHPOINT_LOG``."""
    if not log.exists():
        return [], []
    rows = [line.split("\t", 2) for line in log.read_text().splitlines()]
    log.unlink()
    return [r[2] for r in rows], [float(r[1]) for r in rows]


def _wait_for(marker: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            return marker.read_text()
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(
                f"the process ended (status {process.returncode}) before {marker.name}: {err}"
            )
        time.sleep(0.005)
    # a hang: make Python print where every thread is (faulthandler), then fail with it
    process.send_signal(signal.SIGABRT)
    process.wait(30)
    err = process.stderr.read().decode() if process.stderr else ""
    raise AssertionError(f"no {marker.name} within {timeout} s; stderr:\n{err[-6000:]}")


def _kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL; whether it was the kill that ended the process (it may just have finished)."""
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    if process.returncode == 0:
        return False
    assert process.returncode == -signal.SIGKILL, process.returncode
    return True


def kill_at_statement(args: list[str], work: Path, n: int, timeout: float = 120) -> list[str]:
    """Start ``harmrank ARGS``, let it run until just before its SQL statement ``n``, and
    SIGKILL it there. Returns the statements it sent (``1 … n``; statement ``n`` was reached
    but not sent to DuckDB)."""
    marker = work / f"marker-{time.monotonic_ns()}"
    log = work / f"statements-{time.monotonic_ns()}.log"
    env = {
        **os.environ,
        "CRASHPOINT_AT": str(n),
        "PYTHONFAULTHANDLER": "1",
        "CRASHPOINT_MARKER": str(marker),
        "CRASHPOINT_LOG": str(log),
    }
    process = subprocess.Popen(
        harmrank_cmd(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert _wait_for(marker, process, timeout) == f"paused {n}"
        assert _kill(process)  # paused: it cannot have finished
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    return read_log(log)[0]


def kill_after_delay(
    args: list[str], work: Path, start_statement: int, delay: float, timeout: float = 120
) -> bool:
    """Start ``harmrank ARGS``; once it sends SQL statement ``start_statement`` (the start of
    its work), wait ``delay`` seconds and SIGKILL it. Returns whether it was still running
    when killed (False: it had already finished, successfully)."""
    marker = work / f"marker-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "CRASHPOINT_NOTIFY": str(start_statement),
        "PYTHONFAULTHANDLER": "1",
        "CRASHPOINT_MARKER": str(marker),
    }
    process = subprocess.Popen(
        harmrank_cmd(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for(marker, process, timeout)
        time.sleep(delay)
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            assert process.returncode == 0, err
            return False
        return _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
