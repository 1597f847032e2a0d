"""Runs: read them with their provenance, start one in the background, approve (four eyes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from harmrank.api import access
from harmrank.api.access import Missing
from harmrank.api.deps import (
    ConsultationDep,
    RunApproverDep,
    RunReaderDep,
    RunStarterDep,
    StateDep,
    StoreDep,
)
from harmrank.api.responses import (
    BUSY,
    CONFLICT,
    NOT_FOUND,
    PROTECTED,
    UNREADABLE_BODY,
    ExactJSONResponse,
)
from harmrank.api.schemas import (
    ApprovedPublic,
    ApproveRequest,
    RunJobPublic,
    RunPublic,
    RunRequest,
)
from harmrank.scoring import runs_table

router = APIRouter(prefix="/runs", tags=["runs"], responses=PROTECTED)

RunIdPath = Annotated[str, Path(min_length=1, max_length=64, description="A run id, e.g. R000012.")]


@router.get(
    "",
    response_model=list[RunPublic],
    response_class=ExactJSONResponse,
    summary="The runs, with provenance and status",
)
def read_runs(principal: RunReaderDep, store: StoreDep, c: ConsultationDep) -> ExactJSONResponse:
    """Every stored run, newest first: month, status (draft, approved), who started and who
    approved it, window, data fingerprint, rule, weights tables and configuration."""
    runs = runs_table(store)
    c.row_count = len(runs)
    return ExactJSONResponse(runs)


@router.post(
    "",
    response_model=RunJobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run of a month (in the background)",
    responses=UNREADABLE_BODY,
)
def start_run(
    principal: RunStarterDep, state: StateDep, body: RunRequest, c: ConsultationDep
) -> RunJobPublic:
    """Queue a run of the month; runs are made one at a time while reads keep being served.
    Poll `GET /runs/jobs/{job_id}`. The new run is a draft until another supervisor approves
    it where review is required."""
    c.action, c.month = "run", body.month
    job = state.jobs.submit(body.month, principal.user)
    c.detail["job_id"] = job.job_id
    return RunJobPublic(**job.as_dict())


@router.get(
    "/jobs/{job_id}",
    response_model=RunJobPublic,
    summary="The state of a run started over HTTP",
    responses=NOT_FOUND,
)
def read_job(
    principal: RunStarterDep,
    state: StateDep,
    c: ConsultationDep,
    job_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> RunJobPublic:
    job = state.jobs.get(job_id)
    if job is None:
        raise Missing("no such job (jobs are kept while the server runs)")
    c.month = job.month
    return RunJobPublic(**job.as_dict())


@router.post(
    "/approve",
    response_model=ApprovedPublic,
    summary="Approve several draft runs together (e.g. a backfill)",
    responses={**NOT_FOUND, **CONFLICT, **BUSY, **UNREADABLE_BODY},
)
def approve_many(
    principal: RunApproverDep,
    state: StateDep,
    store: StoreDep,
    body: ApproveRequest,
    c: ConsultationDep,
) -> ApprovedPublic:
    """Approve the named runs, or every draft run of a backfill; none of them may have been
    started by the approver."""
    ids = list(body.run_ids)
    if body.backfill_id is not None:
        drafts = [
            r[0]
            for r in store.execute(
                "SELECT run_id FROM runs WHERE backfill_id = ? AND status = 'draft' ORDER BY seq",
                [body.backfill_id],
            ).fetchall()
        ]
        c.detail["backfill_id"] = body.backfill_id
        if not drafts and not ids:
            raise Missing(f"no draft run in backfill {body.backfill_id}")
        ids += drafts
    approved = access.approve(
        store,
        principal,
        c,
        ids,
        write_lock=state.jobs.write_lock,
        wait_seconds=state.settings.write_wait_seconds,
    )
    return ApprovedPublic(approved=approved, approved_by=principal.user)


@router.post(
    "/{run_id}/approve",
    response_model=ApprovedPublic,
    summary="Approve a draft run (four eyes)",
    responses={**NOT_FOUND, **CONFLICT, **BUSY},
)
def approve_one(
    principal: RunApproverDep,
    state: StateDep,
    store: StoreDep,
    c: ConsultationDep,
    run_id: RunIdPath,
) -> ApprovedPublic:
    """A supervisor approves a draft run after reading its lists (`GET /lists/{month}?run_id=`).
    The supervisor who started a run may not approve it (403)."""
    approved = access.approve(
        store,
        principal,
        c,
        [run_id],
        write_lock=state.jobs.write_lock,
        wait_seconds=state.settings.write_wait_seconds,
    )
    return ApprovedPublic(approved=approved, approved_by=principal.user)
