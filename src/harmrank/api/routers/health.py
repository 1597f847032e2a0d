"""``GET /health``: the server is up (no token, nothing disclosed)."""

from __future__ import annotations

from fastapi import APIRouter

from harmrank import __version__
from harmrank.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, summary="The server is up")
def health() -> HealthPublic:
    return HealthPublic(status="ok", version=__version__)
