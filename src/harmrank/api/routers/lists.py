"""``GET /lists/{month}``: the monthly lists as JSON, CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from harmrank.api import access
from harmrank.api.deps import ConfigDep, ConsultationDep, ListReaderDep, StoreDep
from harmrank.api.responses import NOT_FOUND, PROTECTED, XLSX, ExactJSONResponse
from harmrank.api.schemas import MONTH_PATTERN, ListPublic
from harmrank.exports import lists_csv, lists_xlsx
from harmrank.store import Store

router = APIRouter(prefix="/lists", tags=["lists"], responses={**PROTECTED, **NOT_FOUND})

MonthPath = Annotated[
    str, Path(pattern=MONTH_PATTERN, description="The as-at month, YYYY-MM.", examples=["2025-06"])
]


def file_name_part(text: str) -> str:
    """Text made safe for a download's file name: ASCII letters and digits only (a header
    value is Latin-1, so ``Ł`` or ``Ž``, letters to ``str.isalnum``, would fail the response)."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in text)


def download_name(month: str, lpa: str | None, kind: str | None, ext: str) -> str:
    parts = ["harmrank", month, lpa or "lists", kind or "all"]
    return "-".join(file_name_part(p) for p in parts) + f".{ext}"


def _encoded(store: Store, obj: dict[str, Any]) -> bytes:
    encoded: bytes = store.cached(
        "list_json", (obj["run_id"], obj["lpa"], obj["list"]), lambda: ExactJSONResponse.encode(obj)
    )
    return encoded


@router.get(
    "/{month}",
    response_model=ListPublic | list[ListPublic],
    response_class=ExactJSONResponse,
    summary="The monthly lists",
    responses={
        200: {
            "description": "One list object when both `lpa` and `list` are given, else an array "
            "of the list objects this token may see (each LPA, then ALL; harm, frequency, "
            "repeat). `format=csv` and `format=xlsx` give downloads (XLSX: one sheet per list).",
            "content": {"text/csv": {}, XLSX: {}},
        }
    },
)
def read_lists(
    principal: ListReaderDep,
    store: StoreDep,
    config: ConfigDep,
    c: ConsultationDep,
    month: MonthPath,
    lpa: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="One LPA, or ALL for the force-wide lists (needs every LPA).",
        ),
    ] = None,
    kind: Annotated[
        Literal["harm", "frequency", "repeat"] | None,
        Query(alias="list", description="Which list."),
    ] = None,
    fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
    run_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="A particular run of the month, e.g. a draft under review (supervisors).",
        ),
    ] = None,
) -> Response:
    """The list objects of SPEC section 6, from the run that reads use for the month (the latest
    approved run where review is required), limited to the token's LPAs."""
    objects = access.read_lists(
        store, config, principal, c, month=month, lpa=lpa, kind=kind, run_id=run_id
    )
    c.detail["format"] = fmt
    if fmt == "csv":
        return Response(
            lists_csv(objects),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{download_name(month, lpa, kind, "csv")}"'
            },
        )
    if fmt == "xlsx":
        return Response(
            lists_xlsx(objects),
            media_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="{download_name(month, lpa, kind, "xlsx")}"'
            },
        )
    # a list object is fixed once its run is stored (its status changes only with a change to
    # the database, which empties the cache): each is encoded once
    encoded = [_encoded(store, o) for o in objects]
    body = encoded[0] if lpa is not None and kind is not None else b"[" + b", ".join(encoded) + b"]"
    return Response(body, media_type="application/json")
