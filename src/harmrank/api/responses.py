"""Response classes and the documented refusals shared by the routers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from harmrank import jsonout
from harmrank.api.schemas import ErrorPublic
from harmrank.exports import MARKING

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MARKING_HEADER = "X-Protective-Marking"


class ExactJSONResponse(JSONResponse):
    """JSON written by :func:`harmrank.jsonout.dumps`: decimals exact, with all 6 places;
    timestamps with their UTC offset."""

    def render(self, content: Any) -> bytes:
        return self.encode(content)

    @staticmethod
    def encode(content: Any) -> bytes:
        # timestamps in the database are naive UTC: they are written with their offset
        return jsonout.dumps(content, utc=True).encode("utf-8")


Responses = dict[int | str, dict[str, Any]]


def _error(status: int, description: str) -> Responses:
    return {status: {"model": ErrorPublic, "description": description}}


UNAUTHENTICATED = _error(401, "Missing, bad, expired or revoked token.")
FORBIDDEN = _error(403, "Outside the token's roles or LPAs.")
NOT_FOUND = _error(404, "Not found (or outside the token's LPAs: answered alike).")
CONFLICT = _error(409, "The request conflicts with the current state.")
BUSY = _error(503, "The server is busy (a run is being written); try again.")
UNREADABLE_BODY = _error(400, "The request body could not be read (not UTF-8 JSON).")

PROTECTED: Responses = {**UNAUTHENTICATED, **FORBIDDEN}

__all__ = [
    "BUSY",
    "CONFLICT",
    "FORBIDDEN",
    "MARKING",
    "MARKING_HEADER",
    "NOT_FOUND",
    "PROTECTED",
    "Responses",
    "UNAUTHENTICATED",
    "UNREADABLE_BODY",
    "XLSX",
    "ExactJSONResponse",
]
