"""Run the real ``harmrank`` command line with its SQL statements counted, optionally pausing
at one of them so that a test can SIGKILL the process at a known point of its work.

    python crashpoint.py ingest EXTRACT --db h.duckdb

Environment (all optional):

``CRASHPOINT_LOG``
    a file; every SQL statement the process sends to DuckDB is appended to it as
    ``<n>\\t<monotonic seconds>\\t<first 100 characters>`` (one line each, flushed), so a
    test can count a command's statements, time them and pick points to stop it at.
``CRASHPOINT_AT``
    a statement number ``n``: just *before* statement ``n`` is sent, the process writes
    ``paused <n>`` to ``CRASHPOINT_MARKER`` and sleeps until it is killed. Statements
    ``1 … n-1`` have run; nothing after them has.
``CRASHPOINT_NOTIFY``
    a statement number ``n``: when statement ``n`` is sent, ``started <n>`` is written to
    ``CRASHPOINT_MARKER`` and the process carries on (a delay sweep kills it some time later).

Nothing in harmrank is changed: the connection returned by ``duckdb.connect`` is wrapped so
that ``execute``, ``executemany`` and ``sql`` (on it and on its cursors) are counted before
being passed on unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import duckdb

_real_connect = duckdb.connect
_lock = threading.Lock()
_count = 0
_LOG = os.environ.get("CRASHPOINT_LOG")
_MARKER = os.environ.get("CRASHPOINT_MARKER")
_AT = int(os.environ.get("CRASHPOINT_AT") or 0)
_NOTIFY = int(os.environ.get("CRASHPOINT_NOTIFY") or 0)


def _write_marker(text: str) -> None:
    assert _MARKER, "CRASHPOINT_MARKER is not set"
    tmp = _MARKER + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, _MARKER)  # the test never reads a half-written marker


def _tick(sql: Any) -> None:
    global _count
    with _lock:
        _count += 1
        n = _count
        if _LOG:
            first = " ".join(str(sql).split())[:100]
            with open(_LOG, "a", encoding="utf-8") as f:
                f.write(f"{n}\t{time.monotonic():.6f}\t{first}\n")
    if n == _NOTIFY:
        _write_marker(f"started {n}")
    if n == _AT:
        _write_marker(f"paused {n}")
        while True:  # wait to be killed
            time.sleep(60)


class CountedConnection:
    """A DuckDB connection whose statements are counted (everything else is passed on)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        _tick(sql)
        return self._con.execute(sql, *args, **kwargs)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        _tick(sql)
        return self._con.executemany(sql, *args, **kwargs)

    def sql(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        _tick(sql)
        return self._con.sql(sql, *args, **kwargs)

    def cursor(self) -> CountedConnection:
        return CountedConnection(self._con.cursor())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _connect(*args: Any, **kwargs: Any) -> CountedConnection:
    return CountedConnection(_real_connect(*args, **kwargs))


def main() -> None:
    duckdb.connect = _connect  # type: ignore[assignment]
    from harmrank.cli import main as harmrank_main

    sys.argv = ["harmrank", *sys.argv[1:]]
    harmrank_main()


if __name__ == "__main__":
    main()
