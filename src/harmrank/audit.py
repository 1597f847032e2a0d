"""The audit log: who looked at what, when and why (Data Protection Act 2018 s.62).

Every record carries the SHA-256 of its own fields and of the record before it, so any change,
deletion or insertion breaks the chain at that record. :func:`verify` walks the chain;
:func:`head` gives the latest hash so that it can be kept outside the database, and
``verify(head=…)`` proves the log still extends that record.

Appends are serialised within a process and each is its own transaction on its own cursor,
so that a record is never lost to, or chained across, a caller's rolled-back work. A record is
stored as its number, time and action and one JSON text of the rest (``audit_entries``: a
DuckDB append costs per column written, and a read is logged on every request) and read
through the view ``audit_log``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from harmrank.store import Store, write_failure

GENESIS = "0" * 64
_LOCK = threading.Lock()
_HEADS: dict[str, tuple[int, str]] = {}  # per database file: the last record appended here


def os_user() -> str:
    """The operating-system user, as recorded for CLI actions."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _canonical(record: dict[str, Any]) -> str:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + _canonical(fields)).encode("utf-8")).hexdigest()


# fields stored as columns of audit_entries (the others are in its JSON text)
_COLUMNS = ("seq", "logged_at", "action")

FIELDS = (
    "seq",
    "logged_at",
    "user_name",
    "roles",
    "action",
    "route",
    "nominal_id",
    "lpa",
    "month",
    "justification",
    "status",
    "row_count",
    "detail",
)


def append(
    store: Store,
    *,
    user: str,
    action: str,
    roles: list[str] | tuple[str, ...] = (),
    route: str | None = None,
    nominal_id: str | None = None,
    lpa: str | None = None,
    month: str | None = None,
    justification: str | None = None,
    status: int = 200,
    row_count: int | None = None,
    detail: dict[str, Any] | None = None,
) -> str:
    """Append one record and return its hash."""
    with _LOCK:
        cur = store.cursor()
        try:
            last = _head(cur)
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            at = datetime.now(UTC).replace(tzinfo=None)
            fields = {
                "seq": seq,
                "logged_at": at.isoformat(timespec="microseconds"),
                "user_name": user,
                "roles": sorted(roles),
                "action": action,
                "route": route,
                "nominal_id": nominal_id,
                "lpa": lpa,
                "month": month,
                "justification": justification,
                "status": status,
                "row_count": row_count,
                "detail": _canonical(detail) if detail is not None else None,
            }
            digest = _record_hash(prev, fields)
            entry = json.dumps(
                {
                    **{k: v for k, v in fields.items() if k not in _COLUMNS},
                    "prev_hash": prev,
                    "hash": digest,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            try:  # one statement, committed on its own (a transaction around it costs more)
                cur.execute(
                    "INSERT INTO audit_entries VALUES (?, ?, ?, ?)", [seq, at, action, entry]
                )
            except duckdb.Error as e:
                failure = write_failure(store.path, e)
                if failure is not None:
                    raise failure from None
                raise
            _HEADS[cur.shared["generation_key"]] = (seq, digest)
        except BaseException:
            _HEADS.pop(cur.shared["generation_key"], None)
            raise
        finally:
            cur.close()
        return digest


# the last record (its hash read from that record alone, not through the view)
_HEAD = "SELECT seq, entry->>'hash' FROM audit_entries ORDER BY seq DESC LIMIT 1"


def _head(cur: Store) -> tuple[int, str] | None:
    """The last record's sequence number and hash: the one this process appended last to the
    database (held in memory, under ``_LOCK``), else read from the log. A database opened for
    writing is held by one process alone (DuckDB's lock) and every record of that process is
    written here, so the remembered head is the log's head; :func:`forget_head` (called when a
    database is opened) drops it."""
    key = cur.shared["generation_key"]
    if key in _HEADS:
        return _HEADS[key]
    row = cur.one(_HEAD)
    return (int(row[0]), str(row[1])) if row else None


def forget_head(store: Store) -> None:
    """Read the log's head afresh at the next append (another process may have written)."""
    with _LOCK:
        _HEADS.pop(store.shared["generation_key"], None)


RECOVERED = (
    "logged when the database was next opened: the process that made this change was stopped "
    "after committing it and before logging it"
)
_LOGGED_ACTIONS = ("ingest", "run", "backfill", "approve", "token-create", "token-revoke")


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def recover(store: Store) -> int:
    """Log the changes that were committed but never logged, and return how many records that
    took.

    Ingests, runs, approvals and token changes commit their work and then append their audit
    record in a transaction of its own (so that reads logged meanwhile by a server never fork
    the chain). A process killed between the two leaves a change without its record. This
    puts the record there, rebuilt from what the change stored (who, when, what), marked
    ``recovered``. :func:`harmrank.store.open_store` calls it whenever it opens a database for
    writing, so a record is missing at most until the database is next opened."""
    logged: dict[str, list[Any]] = {a: [] for a in _LOGGED_ACTIONS}
    for action, detail in store.execute(
        "SELECT action, detail FROM audit_log WHERE action IN (SELECT unnest(?::VARCHAR[]))",
        [list(_LOGGED_ACTIONS)],
    ).fetchall():
        parsed = _json(detail)
        if isinstance(parsed, dict):
            logged[action].append(parsed)
    loads_logged = {d.get("load_id") for d in logged["ingest"]}
    runs_logged = {r for a in ("run", "backfill") for d in logged[a] for r in d.get("runs") or ()}
    approvals_logged = {r for d in logged["approve"] for r in d.get("runs") or ()}
    created_logged = {d.get("token_id") for d in logged["token-create"]}
    revoked_logged = {t for d in logged["token-revoke"] for t in d.get("token_ids") or ()}
    pending: list[tuple[Any, dict[str, Any]]] = []  # (when it happened, the record)

    for load_id, user, when, source, replace, report in store.execute(
        "SELECT load_id, loaded_by, finished_at, source, replace, report FROM loads "
        "ORDER BY load_id"
    ).fetchall():
        if load_id in loads_logged:
            continue
        files = (_json(report) or {}).get("files", {})
        pending.append(
            (
                when,
                dict(
                    user=user,
                    action="ingest",
                    route="harmrank ingest",
                    row_count=sum(int(f.get("read", 0)) for f in files.values()),
                    detail={
                        "load_id": load_id,
                        "source": source,
                        "replace": replace,
                        "quarantined": {n: f.get("quarantined", 0) for n, f in files.items()},
                        "recovered": RECOVERED,
                    },
                ),
            )
        )

    # a backfill's `pending` runs were never made visible (the next run removes them)
    runs = store.execute(
        "SELECT run_id, month, created_at, created_by, backfill_id, status, approved_by, "
        "approved_at FROM runs WHERE status <> 'pending' ORDER BY seq"
    ).fetchall()
    made: dict[Any, list[Any]] = {}
    for row in runs:
        if row[0] not in runs_logged:
            # the runs of one backfill were made together; a single run alone
            made.setdefault(row[4] or row[0], []).append(row)
    for group in made.values():
        months = [r[1] for r in group]
        backfill_id = group[0][4]
        pending.append(
            (
                group[0][2],
                dict(
                    user=group[0][3],
                    action="backfill" if backfill_id else "run",
                    route="harmrank run",
                    month=months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}",
                    row_count=len(group),
                    detail={
                        "runs": [r[0] for r in group],
                        "backfill_id": backfill_id,
                        "recovered": RECOVERED,
                    },
                ),
            )
        )
    approved: dict[Any, list[Any]] = {}
    for row in runs:
        if row[5] == "approved" and row[0] not in approvals_logged:
            approved.setdefault((row[6], row[7]), []).append(row)
    for (by, at), group in approved.items():
        ids = [r[0] for r in group]
        pending.append(
            (
                at,
                dict(
                    user=by,
                    action="approve",
                    route="approve runs",
                    row_count=len(ids),
                    detail={"runs": ids, "recovered": RECOVERED},
                ),
            )
        )

    tokens = store.execute(
        "SELECT token_id, user_name, roles, lpas, created_at, created_by, expires_at, "
        "revoked_at, revoked_by FROM api_tokens ORDER BY created_at, token_id"
    ).fetchall()
    revoked: dict[Any, list[Any]] = {}
    for tid, user, roles, lpas, created_at, created_by, expires_at, rev_at, rev_by in tokens:
        if tid not in created_logged:
            pending.append(
                (
                    created_at,
                    dict(
                        user=created_by,
                        action="token-create",
                        route="harmrank token create",
                        detail={
                            "token_id": tid,
                            "for_user": user,
                            "roles": list(roles),
                            "lpas": None if lpas is None else list(lpas),
                            "expires_at": expires_at.isoformat(timespec="seconds"),
                            "recovered": RECOVERED,
                        },
                    ),
                )
            )
        if rev_at is not None and tid not in revoked_logged:
            revoked.setdefault((rev_by, rev_at), []).append((tid, user))
    for (by, at), group in revoked.items():
        users = sorted({u for _t, u in group})
        pending.append(
            (
                at,
                dict(
                    user=by,
                    action="token-revoke",
                    route="harmrank token revoke",
                    row_count=len(group),
                    detail={
                        "token_ids": [t for t, _u in group],
                        "for_user": users[0] if len(users) == 1 else None,
                        "recovered": RECOVERED,
                    },
                ),
            )
        )

    pending.sort(key=lambda p: (p[0] is None, p[0] or datetime.min))
    for _when, record in pending:
        append(store, **record)
    return len(pending)


def head(store: Store) -> str:
    """The hash of the latest record (the genesis hash for an empty log)."""
    row = store.one(_HEAD)
    return row[1] if row else GENESIS


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head: str
    message: str
    first_broken: int | None = None


def verify(store: Store, head_hash: str | None = None) -> Verification:
    """Check the chain end to end; name the first broken record; optionally prove it extends
    a hash recorded earlier (``head_hash``)."""
    rows = store.execute(
        "SELECT seq, strftime(logged_at, '%Y-%m-%dT%H:%M:%S.%f'), user_name, roles, action, route, "
        "nominal_id, lpa, month, justification, status, row_count, detail, prev_hash, hash "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    prev = GENESIS
    seen_head = head_hash is None or head_hash == GENESIS
    for i, row in enumerate(rows, start=1):
        fields = dict(zip(FIELDS, row[:13], strict=True))
        fields["roles"] = list(fields["roles"])
        if fields["seq"] != i:
            return Verification(
                False, len(rows), prev, f"record {i} is missing (found seq {fields['seq']})", i
            )
        if row[13] != prev:
            return Verification(
                False, len(rows), prev, f"record {i}: its link to record {i - 1} is broken", i
            )
        if _record_hash(prev, fields) != row[14]:
            return Verification(
                False, len(rows), prev, f"record {i}: its contents do not match its hash", i
            )
        prev = row[14]
        if head_hash is not None and prev == head_hash:
            seen_head = True
    if not seen_head:
        return Verification(
            False,
            len(rows),
            prev,
            f"the log does not contain the recorded head {head_hash}: records were removed or rewritten",
        )
    return Verification(
        True, len(rows), prev, f"audit log intact: {len(rows)} records, head {prev}"
    )
