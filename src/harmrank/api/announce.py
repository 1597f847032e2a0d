"""The server file: ``<db>.server.json`` says which process serves a database, so that a
command on the same database can name the server when it finds the database locked
(:func:`harmrank.store.open_store`). Written once the server holds the database; removed on
shutdown (a file left by a killed server names a process that no longer holds the lock, and
the store then ignores it)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from harmrank.store import server_file


def announce(db_path: Path, url: str) -> Path:
    path = server_file(db_path)
    payload = {
        "pid": os.getpid(),
        "url": url,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)
    return path


def withdraw(path: Path) -> None:
    """Remove the server file if it is still this process's."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if info.get("pid") == os.getpid():
        path.unlink(missing_ok=True)
