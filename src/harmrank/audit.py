"""The audit log: who looked at what, when and why (Data Protection Act 2018 s.62).

Every record carries the SHA-256 of its own fields and of the record before it, so any change,
deletion or insertion breaks the chain at that record. :func:`verify` walks the chain;
:func:`head` gives the latest hash so that it can be kept outside the database, and
``verify(head=…)`` proves the log still extends that record.

Appends are serialised within a process and each is its own transaction on its own cursor,
so that a record is never lost to, or chained across, a caller's rolled-back work.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harmrank.store import Store

GENESIS = "0" * 64
_LOCK = threading.Lock()


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
            with cur.transaction():
                last = cur.one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
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
                cur.execute(
                    "INSERT INTO audit_log VALUES (?, ?::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [fields[f] for f in FIELDS] + [prev, digest],
                )
        finally:
            cur.close()
        return digest


def head(store: Store) -> str:
    """The hash of the latest record (the genesis hash for an empty log)."""
    row = store.one("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return row[0] if row else GENESIS


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
