"""Helpers to build stores from literal rows: for harmrank's tests and for a force testing its
own rule files and configuration (``from harmrank.testing import store_from_rows``).

Rows go through the real ingest (written as CSV, then ingested), so a test exercises exactly
what a force's extract would.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harmrank.config import Config
from harmrank.contract import BY_NAME
from harmrank.ingest import IngestReport, ingest_extract
from harmrank.store import Store, open_store

Row = Mapping[str, Any]

CRIME_DEFAULTS: dict[str, Any] = {
    "ho_code": "8N",
    "recorded_on": "2025-01-15",
    "committed_on": "",
    "lpa": "Shropshire",
    "domestic_abuse": "true",
    "victim_id": "",
    "status": "recorded",
    "outcome": "",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, rows: Iterable[Row], columns: list[str]) -> None:
    """Write rows (missing keys -> empty) as an RFC 4180 CSV file with a header."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text(row.get(c)) for c in columns])


def write_extract(
    folder: Path,
    *,
    crimes: Iterable[Row] = (),
    suspects: Iterable[Row] = (),
    nominals: Iterable[Row] | None = None,
    orders: Iterable[Row] | None = None,
    lpas: Iterable[str] | None = None,
    crime_defaults: Mapping[str, Any] | None = None,
) -> Path:
    """Write an extract folder from literal rows. Crimes take ``CRIME_DEFAULTS`` for the
    columns they leave out (a crime needs only ``crime_id``); suspects default to role
    ``suspect``."""
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {**CRIME_DEFAULTS, **(crime_defaults or {})}
    crime_rows = [{**defaults, **r} for r in crimes]
    crime_cols = list(BY_NAME["crimes"].required_columns)
    if any("updated_at" in r for r in crime_rows):
        crime_cols.append("updated_at")
    write_csv(folder / "crimes.csv", crime_rows, crime_cols)
    write_csv(
        folder / "suspects.csv",
        [{"role": "suspect", **r} for r in suspects],
        ["crime_id", "nominal_id", "role"],
    )
    if nominals is not None:
        write_csv(folder / "nominals.csv", nominals, ["nominal_id", "birth_year", "home_lpa"])
    if orders is not None:
        write_csv(
            folder / "orders.csv",
            orders,
            ["order_id", "nominal_id", "order_type", "starts_on", "ends_on"],
        )
    if lpas is not None:
        write_csv(folder / "lpas.csv", [{"lpa": x} for x in lpas], ["lpa"])
    return folder


def store_from_rows(
    *,
    crimes: Iterable[Row] = (),
    suspects: Iterable[Row] = (),
    nominals: Iterable[Row] | None = None,
    orders: Iterable[Row] | None = None,
    lpas: Iterable[str] | None = None,
    config: Config | None = None,
    store: Store | None = None,
    crime_defaults: Mapping[str, Any] | None = None,
) -> tuple[Store, IngestReport]:
    """An in-memory store (or ``store``) holding the given rows, ingested for real."""
    store = store or open_store(":memory:")
    with tempfile.TemporaryDirectory(prefix="harmrank-extract-") as tmp:
        folder = write_extract(
            Path(tmp),
            crimes=crimes,
            suspects=suspects,
            nominals=nominals,
            orders=orders,
            lpas=lpas,
            crime_defaults=crime_defaults,
        )
        report = ingest_extract(store, folder, config or Config())
    return store, report


def edit_audit_record(store: Store, seq: int, **changes: Any) -> None:
    """Change fields of audit record ``seq`` in place, as someone with the database file could
    (for tests that prove :func:`harmrank.audit.verify` catches it). A record is a row of
    ``audit_entries``: its time and action as columns, the other fields in its JSON text; a
    callable value is applied to the field's old value."""
    row = store.one("SELECT logged_at, action, entry FROM audit_entries WHERE seq = ?", [seq])
    if row is None:
        raise KeyError(f"no audit record {seq}")
    columns = {"logged_at": row[0], "action": row[1]}
    entry = json.loads(row[2])
    for name, value in changes.items():
        target = columns if name in columns else entry
        target[name] = value(target[name]) if callable(value) else value
    store.execute(
        "UPDATE audit_entries SET logged_at = ?, action = ?, entry = ? WHERE seq = ?",
        [
            columns["logged_at"],
            columns["action"],
            json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
            seq,
        ],
    )
