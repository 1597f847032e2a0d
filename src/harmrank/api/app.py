"""The application factory: ``create_app(settings)`` builds the whole server, and nothing is
read or opened at import time.

Every request outside a few static paths goes through :class:`Consultations`, which appends
its audit record (granted or refused) before the answer leaves, adds the protective marking and
security headers, and turns any unexpected error into a bare 500 (the detail goes to the
server log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harmrank import NOTICE, __version__
from harmrank.api import consultation
from harmrank.api.access import JUSTIFICATION_MAX, Invalid, Refused, TooManyAttempts
from harmrank.api.announce import withdraw
from harmrank.api.consultation import API_PREFIX
from harmrank.api.responses import MARKING, MARKING_HEADER
from harmrank.api.routers import audit as audit_router
from harmrank.api.routers import health, lists, nominals, reference, runs, tokens, web
from harmrank.api.settings import ApiSettings
from harmrank.api.state import ServerState
from harmrank.store import Store, open_store

log = logging.getLogger("harmrank.api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    MARKING_HEADER: MARKING,
}

DESCRIPTION = f"""
**{MARKING}.** {NOTICE}

Monthly highest-harm and highest-frequency VAWG lists per local policing area, a nominal's
score history and the explanation of its scores, the runs and their review, and the audit log.

Every route under `{API_PREFIX}` needs a bearer token (`harmrank token create`). A route about
one nominal also needs an `X-Justification` header. Every request, granted or refused, is
recorded in the hash-chained audit log.
"""


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _internal_error(request: Request) -> Response:
    """A bare 500: the detail goes to the server log only."""
    if _is_api(request) or not hasattr(request.app.state, "harmrank"):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    failure = Refused("something went wrong; the error has been logged on the server")
    failure.status = 500
    return web.error_page(request.app.state.harmrank, request, failure)


class Consultations:
    """ASGI middleware (plain ASGI: Starlette's ``BaseHTTPMiddleware`` costs a task and a
    stream per request). When the answer's status is known and before any of it is sent, the
    request's audit record is appended; if that fails, a 503 goes out instead and nothing of
    the answer. Every answer gets the security headers; an unexpected error becomes a bare 500
    (logged here, recorded like any answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = scope["path"]
        exempt = consultation.is_exempt(scope["method"], path)
        if not exempt:
            consultation.of(request)
        started = withheld = False

        async def send_recorded(message: Message) -> None:
            nonlocal started, withheld
            if withheld:  # the record could not be written: nothing of the answer leaves
                return
            if message["type"] == "http.response.start":
                started = True
                if not exempt:
                    state: ServerState = scope["app"].state.harmrank
                    try:
                        await run_in_threadpool(
                            consultation.record, state.store, request, message["status"]
                        )
                    except Exception:
                        log.exception("could not write the audit record; nothing was disclosed")
                        withheld = True
                        refusal = JSONResponse(
                            {
                                "detail": "the consultation could not be recorded; nothing was disclosed"
                            },
                            status_code=503,
                        )
                        _protect(refusal.headers, path)
                        await refusal(scope, receive, send)
                        return
                _protect(MutableHeaders(scope=message), path)
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            log.exception("error serving %s %s", scope["method"], path)
            if started:
                raise
            await _internal_error(request)(scope, receive, send_recorded)


def _protect(headers: MutableHeaders, path: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 shape without echoing inputs or internals."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")), "type": e.get("type")}
        for e in exc.errors()
    ]


def _describe_justification(schema: dict[str, Any], required: bool) -> None:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "X-Justification" and parameter.get("in") == "header":
                    parameter["required"] = required
                    parameter["schema"] = {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": JUSTIFICATION_MAX,
                        "pattern": "\\S",
                    }


def create_app(settings: ApiSettings, *, store: Store | None = None) -> FastAPI:
    """The HTTP API and web pages. With ``store`` the app serves that open store (tests, or a
    caller that opened it); otherwise it opens ``settings.db_path`` on start-up and closes it
    on shutdown."""
    if store is None and settings.db_path is None:
        raise ValueError("create_app needs settings.db_path or an open store")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: ServerState | None = getattr(app.state, "harmrank", None)
        if state is None:
            opened = open_store(settings.db_path)
            state = ServerState.build(settings, opened, owns_store=True)
            app.state.harmrank = state
        try:
            yield
        finally:
            # Before the process ends: uvicorn re-raises a caught SIGTERM once shut down, so
            # code after `uvicorn.run` may never run.
            if settings.server_file is not None:
                withdraw(settings.server_file)
            await run_in_threadpool(state.close)

    app = FastAPI(
        title="harmrank",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the interactive pages load assets from a CDN: not here
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    if store is not None:
        app.state.harmrank = ServerState.build(settings, store, owns_store=False)

    app.add_middleware(Consultations)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        headers: dict[str, str] = {}
        if exc.status == 401 and _is_api(request):
            headers["WWW-Authenticate"] = 'Bearer realm="harmrank"'
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        if not _is_api(request):
            return web.error_page(request.app.state.harmrank, request, exc)
        if exc.status == 422:
            loc = list(exc.loc) if exc.loc else ["request"]
            body: Any = [{"loc": loc, "msg": exc.message, "type": "value_error"}]
            return JSONResponse({"detail": body}, status_code=422, headers=headers)
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(web.LoginRequired)
    async def _login_required(request: Request, exc: web.LoginRequired) -> Response:
        target = "/login" + web._query(next=exc.next_path if exc.next_path != "/lists" else None)
        response = RedirectResponse(target, status_code=303)
        consultation.of(request).detail["refused"] = "no live session"
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = _validation_detail(exc)
        if not _is_api(request):
            message = "; ".join(
                f"{'.'.join(str(p) for p in d['loc'][1:]) or 'request'}: {d['msg']}" for d in detail
            )
            return web.error_page(request.app.state.harmrank, request, Invalid(message))
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "refused"
        if exc.status_code == 404:
            message = "Not Found"
        return JSONResponse({"detail": message}, status_code=exc.status_code, headers=exc.headers)

    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The generated schema, with X-Justification as the configuration makes it."""
        if app.openapi_schema is None:
            _describe_justification(base_openapi(), settings.config.api.require_justification)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(health.router)
    for module in (reference, lists, nominals, runs, tokens, audit_router):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(web.router)
    static = resources.files("harmrank.api").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
