"""The consultation log of the server: every data request, granted or refused, is appended to
the audit log (Data Protection Act 2018 s.62) before its answer leaves the server.

A route fills in what it learnt (who, which nominal, LPA, month, rows) on the request's
:class:`Consultation`; :func:`record` writes it with the final status. When the record cannot
be written, nothing is disclosed: the answer becomes a 503.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from harmrank import audit
from harmrank.store import Store

SCOPE_KEY = "harmrank.consultation"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")
API_PREFIX = "/api/v1"
_MAX_VALUE = 200
_MAX_JUSTIFICATION = 1000

# Paths that disclose nothing and are not logged (the sign-in form itself is; see web.py).
EXEMPT_PREFIXES = ("/static/",)
EXEMPT_PATHS = frozenset({"/health", "/openapi.json", "/favicon.ico", "/"})


@dataclass
class Consultation:
    """What a request consulted; filled in as the request is served."""

    action: str = "read"
    user: str | None = None
    roles: tuple[str, ...] = ()
    nominal_id: str | None = None
    lpa: str | None = None
    month: str | None = None
    justification: str | None = None
    row_count: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def is_exempt(method: str, path: str) -> bool:
    return (
        path in EXEMPT_PATHS
        or path.startswith(EXEMPT_PREFIXES)
        or (method in ("GET", "HEAD") and path == "/login")
    )


def of(request: Request) -> Consultation:
    """The consultation of a request (a fresh one outside the logged paths)."""
    found = request.scope.get(SCOPE_KEY)
    if found is None:
        found = Consultation()
        request.scope[SCOPE_KEY] = found
    return found


def _clip(value: Any, limit: int = _MAX_VALUE) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header_text(value: str | None) -> str | None:
    """A header as the client meant it: HTTP carries bytes, which the server reads as Latin-1;
    a client sending UTF-8 (``café``) gets its text back rather than mojibake."""
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def record(store: Store, request: Request, status: int) -> str:
    """Append the request's record; values the route did not set come from the raw request
    (path and query parameters, the ``X-Justification`` header), clipped."""
    c = of(request)
    route = request.scope.get("route")
    template = getattr(route, "path", None) or request.url.path
    template = _CONVERTER.sub(r"{\1}", template)  # `{nominal_id:path}` is `{nominal_id}`
    if request.url.path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
        template = API_PREFIX + template  # a route of an included router knows its own path
    params = request.scope.get("path_params") or {}
    query = request.query_params
    justification = c.justification
    if justification is None:
        raw = request.headers.get("x-justification")
        justification = header_text(raw) if raw else query.get("justification")
    detail = dict(c.detail)
    if status >= 400 and "query" not in detail and request.url.query:
        detail["query"] = _clip(request.url.query, 500)
    return audit.append(
        store,
        user=c.user or "anonymous",
        roles=list(c.roles),
        action=c.action,
        route=_clip(f"{request.method} {template}"),
        nominal_id=_clip(c.nominal_id or params.get("nominal_id")),
        lpa=_clip(c.lpa or query.get("lpa")),
        month=_clip(c.month or params.get("month") or query.get("month")),
        justification=_clip(justification, _MAX_JUSTIFICATION),
        status=status,
        row_count=c.row_count,
        detail=detail or None,
    )
