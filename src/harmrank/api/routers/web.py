"""The web pages (SPEC section 7): sign-in, the monthly lists, a nominal's page with its
history chart, downloads, and runs for supervisors. Server-rendered, no script needed.

A page reads through the same :mod:`harmrank.api.access` functions as the JSON API, with a
session opened by signing in with an API token. Forms that change something carry the
session's anti-forgery token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from harmrank import NOTICE, __version__
from harmrank.api import access
from harmrank.api.access import (
    BadRequest,
    Forbidden,
    Invalid,
    Missing,
    NotAuthenticated,
    Refused,
    TooManyAttempts,
)
from harmrank.api.charts import history_svg
from harmrank.api.deps import ConfigDep, ConsultationDep, StateDep, StoreDep
from harmrank.api.responses import XLSX
from harmrank.api.routers.lists import download_name, file_name_part
from harmrank.api.schemas import MONTH_PATTERN
from harmrank.api.security import (
    Permission,
    Principal,
    authenticate,
    csrf_token,
    end_session,
    same_secret,
    session_principal,
    start_session,
    token_id_of,
)
from harmrank.api.state import ServerState
from harmrank.exports import MARKING, history_csv, lists_csv, lists_xlsx
from harmrank.scoring import Month, NotFound, months_with_runs, repeat_entry, runs_table

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "harmrank_session"
LOGIN_COOKIE = "harmrank_signin"


class LoginRequired(Exception):
    """No live session: the page sends the browser to ``/login``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    cookie: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.cookie)


def _next_path(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def web_session(
    request: Request, state: StateDep, store: StoreDep, c: ConsultationDep
) -> WebSession:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    principal = (
        session_principal(store, cookie, state.settings.config.api.session_idle_hours)
        if cookie
        else None
    )
    if principal is None:
        raise LoginRequired(_next_path(request))
    c.user, c.roles = principal.user, principal.roles
    c.detail["token_id"] = principal.token_id
    c.detail["via"] = "web"
    return WebSession(principal, cookie)


SessionDep = Annotated[WebSession, Depends(web_session)]


# --------------------------------------------------------------------------- rendering ----
def movement_text(value: Any) -> str:
    if value == "new":
        return "new"
    n = int(value)
    return f"▲ {n}" if n > 0 else (f"▼ {-n}" if n < 0 else "=")


def movement_label(value: Any) -> str:
    if value == "new":
        return "new on this list"
    n = int(value)
    if n == 0:
        return "same rank as last month"
    return f"{'up' if n > 0 else 'down'} {abs(n)} since last month"


def urlpart(value: Any) -> str:
    return quote(str(value), safe="")


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return ("?" + urlencode(kept)) if kept else ""


def render(
    state: ServerState,
    name: str,
    *,
    session: WebSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    template = state.templates.get_template(name)
    principal = session.principal if session else None
    html = template.render(
        marking=MARKING,
        notice=NOTICE,
        version=__version__,
        force=state.settings.config.force.name,
        principal=principal,
        csrf=session.csrf if session else "",
        may=(lambda p: principal is not None and principal.may(Permission[p])),
        movement_text=movement_text,
        movement_label=movement_label,
        urlpart=urlpart,
        query=_query,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if session is not None:
        set_session_cookie(response, state, session.cookie)
    return response


def set_session_cookie(response: Response, state: ServerState, value: str) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no other site sends it); its lifetime
    slides with each page, and the server ends it after the idle time anyway."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(state.settings.config.api.session_idle_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
        path="/",
    )


def error_page(state: ServerState, request: Request, error: Refused) -> HTMLResponse:
    titles = {
        400: "Request refused",
        401: "Sign-in failed",
        403: "Not permitted",
        404: "Not found",
        409: "Not possible now",
        422: "Check what you asked for",
        429: "Too many attempts",
        500: "Something went wrong",
        503: "Busy",
    }
    response = render(
        state,
        "error.html",
        session=None,
        status_code=error.status,
        title=titles.get(error.status, "Refused"),
        message=error.message,
    )
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def check_csrf(session: WebSession, supplied: str | None) -> None:
    if not same_secret(session.csrf, supplied):
        raise Forbidden("the form has expired or did not come from this site; reload the page")


# ------------------------------------------------------------------------------ sign-in ----
def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(
    state: StateDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        state,
        "login.html",
        session=None,
        login_csrf=nonce,
        next_path=_safe_next(next_path),
        title="Sign in",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
        path="/login",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: StateDep,
    store: StoreDep,
    c: ConsultationDep,
    token: Annotated[str, Form(max_length=500)] = "",
    csrf_token_field: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Sign in with an API token: a session cookie for the browser; failures slow down."""
    c.action = "signin"
    client = _client(request)
    c.detail["client"] = client
    wait = state.throttle.wait_seconds(store, client)
    if wait > 0:
        raise TooManyAttempts(
            "too many failed sign-ins from this address; wait and try again",
            retry_after=max(1, int(wait + 0.999)),
        )
    if not same_secret(request.cookies.get(LOGIN_COOKIE), csrf_token_field):
        raise BadRequest(
            "the sign-in form has expired or did not come from this site; reload the page"
        )
    token = token.strip()
    principal = authenticate(store, token)
    if principal is None:
        state.throttle.failed(store, client)
        token_id = token_id_of(token)
        if token_id:
            c.detail["token_id"] = token_id
        raise NotAuthenticated("that token is not valid, has expired or was revoked")
    state.throttle.succeeded(store, client)
    c.user, c.roles = principal.user, principal.roles
    c.detail["token_id"] = principal.token_id
    cookie = start_session(store, principal)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    set_session_cookie(response, state, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    state: StateDep,
    store: StoreDep,
    session: SessionDep,
    c: ConsultationDep,
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    check_csrf(session, csrf)
    c.action = "signout"
    end_session(store, session.cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -------------------------------------------------------------------------------- lists ----
@router.get("/", include_in_schema=False)
def home(request: Request, state: StateDep, store: StoreDep) -> Response:
    """Where a signed-in user starts: the lists, else the runs, else a page saying where to go."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    principal = (
        session_principal(store, cookie, state.settings.config.api.session_idle_hours)
        if cookie
        else None
    )
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if principal.may(Permission.READ_LISTS):
        return RedirectResponse("/lists", status_code=303)
    if principal.may(Permission.READ_RUNS):
        return RedirectResponse("/runs", status_code=303)
    return render(state, "home.html", session=WebSession(principal, cookie), title="Signed in")


@router.get("/lists", response_class=HTMLResponse)
def latest_lists(
    state: StateDep, store: StoreDep, config: ConfigDep, session: SessionDep
) -> Response:
    access.require(session.principal, Permission.READ_LISTS)
    months = months_with_runs(store, config)
    if not months:
        return render(state, "empty.html", session=session, title="No lists yet")
    return RedirectResponse(f"/lists/{months[-1]}", status_code=303)


MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN)]
LpaQuery = Annotated[str | None, Query(min_length=1, max_length=200)]
RunIdQuery = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/lists/{month}", response_class=HTMLResponse)
def lists_page(
    state: StateDep,
    store: StoreDep,
    config: ConfigDep,
    session: SessionDep,
    c: ConsultationDep,
    month: MonthPath,
    lpa: LpaQuery = None,
    run_id: RunIdQuery = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page of the repeat list")] = 1,
) -> HTMLResponse:
    principal = session.principal
    access.require(principal, Permission.READ_LISTS)
    if run_id is not None:
        access.require(principal, Permission.READ_DRAFTS)
    run, allowed = access.list_scope(store, config, principal, month, run_id)
    if lpa is None:
        if not allowed:
            raise Forbidden("none of your LPAs has lists in this run")
        lpa = "ALL" if "ALL" in allowed else allowed[0]
    objects = access.read_lists(
        store, config, principal, c, month=month, lpa=lpa, kind=None, run_id=run_id
    )
    objects, repeat_page = _repeat_page(objects, page, state.settings.repeat_page_rows)
    c.row_count = sum(len(o["entries"]) for o in objects)  # what the page shows
    if repeat_page["pages"] > 1:
        c.detail["repeat_entries"] = (
            f"{repeat_page['first']}-{repeat_page['last']} of {repeat_page['total']}"
        )
    drafts = []
    if principal.may(Permission.READ_DRAFTS):
        drafts = [r for r in runs_table(store) if r["month"] == month and r["status"] == "draft"]
    creator = store.scalar("SELECT created_by FROM runs WHERE run_id = ?", [run.run_id])
    return render(
        state,
        "lists.html",
        session=session,
        month=month,
        lpa=lpa,
        run=run,
        run_id=run_id,
        run_creator=creator,
        lists=objects,
        lpas=allowed,
        months=months_with_runs(store, config),
        drafts=drafts,
        repeat_page=repeat_page,
        title=f"{lpa} · {month}",
    )


def _repeat_page(
    objects: list[dict[str, Any]], page: int, rows: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The list objects with only the ``page``-th ``rows`` entries of the repeat list (the
    harm and frequency lists hold ``top_n``), and where that page lies."""
    total = sum(len(o["entries"]) for o in objects if o["list"] == "repeat")
    pages = max(1, -(-total // rows))
    if page > pages:
        raise Missing(f"the repeat list has {pages} page(s) of {rows} entries: no page {page}")
    start = (page - 1) * rows
    shown = [
        {**o, "entries": o["entries"][start : start + rows]} if o["list"] == "repeat" else o
        for o in objects
    ]
    last = min(start + rows, total)
    return shown, {"page": page, "pages": pages, "first": start + 1, "last": last, "total": total}


@router.get("/lists/{month}/download")
def lists_download(
    state: StateDep,
    store: StoreDep,
    config: ConfigDep,
    session: SessionDep,
    c: ConsultationDep,
    month: MonthPath,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
    lpa: LpaQuery = None,
    kind: Annotated[Literal["harm", "frequency", "repeat"] | None, Query(alias="list")] = None,
    run_id: RunIdQuery = None,
) -> Response:
    access.require(session.principal, Permission.DOWNLOAD)
    objects = access.read_lists(
        store, config, session.principal, c, month=month, lpa=lpa, kind=kind, run_id=run_id
    )
    c.detail["format"] = fmt
    name = download_name(month, lpa, kind, fmt)
    if fmt == "xlsx":
        body, media = lists_xlsx(objects), XLSX
    else:
        body, media = lists_csv(objects).encode("utf-8"), "text/csv; charset=utf-8"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# ----------------------------------------------------------------------------- nominals ----
NominalPath = Annotated[str, Path(min_length=1, max_length=200)]
JustificationQuery = Annotated[str | None, Query(max_length=2000)]


# `:path` on both (a nominal id may hold a slash, see routers/nominals.py); the download is
# declared first so that `…/history.csv` is never read as part of an id.
@router.get("/nominals/{nominal_id:path}/history.csv")
def nominal_history_csv(
    store: StoreDep,
    config: ConfigDep,
    session: SessionDep,
    c: ConsultationDep,
    nominal_id: NominalPath,
    justification: JustificationQuery = None,
) -> Response:
    access.require(session.principal, Permission.DOWNLOAD)
    result = access.read_history(
        store,
        config,
        session.principal,
        c,
        nominal_id=nominal_id,
        first=None,
        last=None,
        justification=justification,
        where="query",
    )
    c.detail["format"] = "csv"
    name = "harmrank-history-" + file_name_part(nominal_id)
    return Response(
        history_csv(result).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/nominals/{nominal_id:path}", response_class=HTMLResponse)
def nominal_page(
    state: StateDep,
    store: StoreDep,
    config: ConfigDep,
    session: SessionDep,
    c: ConsultationDep,
    nominal_id: NominalPath,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
    justification: JustificationQuery = None,
) -> HTMLResponse:
    """One nominal: why it is listed in a month and (offender managers) its history chart.
    Asks first for the reason for looking, which is logged."""
    principal = session.principal
    explains = principal.may(Permission.READ_EXPLANATIONS)
    histories = principal.may(Permission.READ_HISTORIES)
    if not (explains or histories):
        raise Forbidden(f"your roles ({', '.join(principal.roles)}) may not read a nominal")
    c.nominal_id, c.month = nominal_id, month
    months = months_with_runs(store, config)
    month = month or (months[-1] if months else None)
    reason = (justification or "").strip()
    if not reason and config.api.require_justification:
        c.action = "justification-asked"
        return render(
            state,
            "justify.html",
            session=session,
            nominal_id=nominal_id,
            month=month,
            title=f"Nominal {nominal_id}",
        )
    access.justification_of(config, reason, c, where="query")
    access.check_nominal(store, principal, nominal_id)
    explanation, not_scored, hist = None, None, None
    repeat: dict[str, Any] | None = None
    rows = 0
    if explains and month is not None:
        try:
            explanation = access.read_explanation(
                store,
                config,
                principal,
                c,
                nominal_id=nominal_id,
                month=month,
                justification=reason,
                where="query",
            )
            rows += len(explanation["crimes"])
        except Missing as e:
            not_scored = e.message
        try:  # flagged by the repeat rule that month: its qualifying crimes and the reasons
            repeat = repeat_entry(store, nominal_id, month, config)
        except NotFound:
            repeat = None
        if repeat is not None:
            rows += len(repeat["crimes"])
    if histories:
        hist = access.read_history(
            store,
            config,
            principal,
            c,
            nominal_id=nominal_id,
            first=None,
            last=None,
            justification=reason,
            where="query",
        )
        rows += len(hist["months"])
    c.row_count = rows
    c.month = month
    return render(
        state,
        "nominal.html",
        session=session,
        nominal_id=nominal_id,
        month=month,
        months=months,
        justification=reason,
        explanation=explanation,
        not_scored=not_scored,
        repeat=repeat,
        history=hist,
        chart=history_svg(hist["months"]) if hist is not None else Markup(""),
        title=f"Nominal {nominal_id}",
    )


# --------------------------------------------------------------------------------- runs ----
@router.get("/runs", response_class=HTMLResponse)
def runs_page(state: StateDep, store: StoreDep, session: SessionDep, c: ConsultationDep) -> Any:
    access.require(session.principal, Permission.READ_RUNS)
    runs = runs_table(store)
    c.row_count = len(runs)
    return render(
        state,
        "runs.html",
        session=session,
        runs=runs,
        jobs=[j.as_dict() for j in state.jobs.all()],
        title="Runs",
    )


@router.post("/runs")
def runs_start(
    state: StateDep,
    session: SessionDep,
    c: ConsultationDep,
    month: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    check_csrf(session, csrf)
    access.require(session.principal, Permission.START_RUNS)
    try:
        m = str(Month.parse(month))
    except ValueError as e:
        raise Invalid(str(e), loc=("form", "month")) from None
    c.action, c.month = "run", m
    job = state.jobs.submit(m, session.principal.user)
    c.detail["job_id"] = job.job_id
    return RedirectResponse("/runs", status_code=303)


@router.post("/runs/{run_id}/approve")
def runs_approve(
    state: StateDep,
    store: StoreDep,
    session: SessionDep,
    c: ConsultationDep,
    run_id: Annotated[str, Path(min_length=1, max_length=64)],
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    check_csrf(session, csrf)
    access.approve(
        store,
        session.principal,
        c,
        [run_id],
        write_lock=state.jobs.write_lock,
        wait_seconds=state.settings.write_wait_seconds,
    )
    month = store.scalar("SELECT month FROM runs WHERE run_id = ?", [run_id])
    return RedirectResponse(f"/lists/{month}{_query(run_id=run_id)}", status_code=303)
