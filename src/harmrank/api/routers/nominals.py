"""One nominal: its score history and its explanation in a month (justification required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from harmrank.api import access
from harmrank.api.deps import (
    ConfigDep,
    ConsultationDep,
    ExplanationReaderDep,
    HistoryReaderDep,
    JustificationDep,
    StoreDep,
)
from harmrank.api.responses import NOT_FOUND, PROTECTED, ExactJSONResponse
from harmrank.api.schemas import MONTH_PATTERN, ExplanationPublic, HistoryPublic

# `:path`: a nominal id may hold a slash (PNC-style ids such as `01/123456A`), which a client
# sends as %2F and the server decodes before routing. The id is only ever a lookup key.
# A missing or too long X-Justification is a bad parameter: FastAPI's 422 (its validation
# error body), like any other.
router = APIRouter(
    prefix="/nominals/{nominal_id:path}",
    tags=["nominals"],
    responses={**PROTECTED, **NOT_FOUND},
)

NominalPath = Annotated[
    str, Path(min_length=1, max_length=200, description="The nominal's pseudonymised id.")
]
MonthQuery = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]
OptionalMonth = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]


@router.get(
    "/history",
    response_model=HistoryPublic,
    response_class=ExactJSONResponse,
    summary="A nominal's score history",
)
def read_history(
    principal: HistoryReaderDep,
    justification: JustificationDep,
    store: StoreDep,
    config: ConfigDep,
    c: ConsultationDep,
    nominal_id: NominalPath,
    first: Annotated[OptionalMonth, Query(alias="from")] = None,
    last: Annotated[OptionalMonth, Query(alias="to")] = None,
) -> Response:
    """One row per month in which the nominal is scored, from the run reads use for that month
    (offender managers). A nominal outside the token's LPAs is answered as one that does not
    exist."""
    result = access.read_history(
        store,
        config,
        principal,
        c,
        nominal_id=nominal_id,
        first=first,
        last=last,
        justification=justification,
    )
    return ExactJSONResponse(result)


@router.get(
    "/explain",
    response_model=ExplanationPublic,
    response_class=ExactJSONResponse,
    summary="Why a nominal scores what it does in a month",
)
def read_explanation(
    principal: ExplanationReaderDep,
    justification: JustificationDep,
    store: StoreDep,
    config: ConfigDep,
    c: ConsultationDep,
    nominal_id: NominalPath,
    month: MonthQuery,
    run_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="A particular run (supervisors)."),
    ] = None,
) -> Response:
    """The nominal's scores, ranks and contributing crimes (with weights) in the month, and the
    orders active at its end."""
    result = access.read_explanation(
        store,
        config,
        principal,
        c,
        nominal_id=nominal_id,
        month=month,
        run_id=run_id,
        justification=justification,
    )
    return ExactJSONResponse(result)
