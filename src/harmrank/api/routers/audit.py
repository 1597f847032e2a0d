"""``GET /audit``: the audit log, for auditors (itself a logged consultation)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from harmrank import audit
from harmrank.api.access import Invalid
from harmrank.api.deps import AuditReaderDep, ConsultationDep, StateDep, StoreDep
from harmrank.api.responses import PROTECTED, ExactJSONResponse
from harmrank.api.schemas import AuditPagePublic, AuditVerificationPublic

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROTECTED)

_COLS = (
    "seq, logged_at, user_name, roles, action, route, nominal_id, lpa, month, justification, "
    "status, row_count, detail, prev_hash, hash"
)


@router.get(
    "",
    response_model=AuditPagePublic,
    response_class=ExactJSONResponse,
    summary="The audit log",
)
def read_audit(
    principal: AuditReaderDep,
    state: StateDep,
    store: StoreDep,
    c: ConsultationDep,
    first: Annotated[
        date | None, Query(alias="from", description="First day (UTC), YYYY-MM-DD.")
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="Last day (UTC, inclusive), YYYY-MM-DD.")
    ] = None,
    user: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only this user's records.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=1_000_000, description="At most this many records.")
    ] = 1000,
) -> ExactJSONResponse:
    """Records in order (oldest first): who, roles, when, route, nominal, LPA, month,
    justification, status, rows, detail, and the hash chain."""
    if first is not None and last is not None and last < first:
        raise Invalid(f"to ({last}) is before from ({first})", loc=("query", "to"))
    limit = min(limit, state.settings.audit_page_max)
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if first is not None:
        where.append("logged_at >= ?")
        params.append(first)
    if last is not None:
        where.append("logged_at < ?")
        params.append(last + timedelta(days=1))
    if user is not None:
        where.append("user_name = ?")
        params.append(user)
    rows = store.execute(
        f"SELECT {_COLS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    truncated = len(rows) > limit
    records = []
    for r in rows[:limit]:
        records.append(
            {
                "seq": r[0],
                "logged_at": r[1],
                "user": r[2],
                "roles": list(r[3]),
                "action": r[4],
                "route": r[5],
                "nominal_id": r[6],
                "lpa": r[7],
                "month": r[8],
                "justification": r[9],
                "status": r[10],
                "row_count": r[11],
                "detail": json.loads(r[12]) if r[12] is not None else None,
                "prev_hash": r[13],
                "hash": r[14],
            }
        )
    c.row_count = len(records)
    c.detail.update({"from": first, "to": last, "user": user})
    return ExactJSONResponse(
        {
            "records": records,
            "count": len(records),
            "truncated": truncated,
            "head": audit.head(store),
        }
    )


@router.get(
    "/verify",
    response_model=AuditVerificationPublic,
    summary="Check the audit log's hash chain",
)
def verify_audit(
    principal: AuditReaderDep,
    store: StoreDep,
    c: ConsultationDep,
    head: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="A head hash recorded earlier: prove the log still extends it.",
        ),
    ] = None,
) -> AuditVerificationPublic:
    """Walk the chain end to end; name the first broken record."""
    result = audit.verify(store, head_hash=head)
    c.action, c.row_count = "audit-verify", result.records
    return AuditVerificationPublic(
        ok=result.ok,
        records=result.records,
        head=result.head,
        message=result.message,
        first_broken=result.first_broken,
    )
