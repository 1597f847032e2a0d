"""Dependencies of the routes, as aliases so that each route is a few lines.

Those that only read the request are ``async``: FastAPI runs them on the event loop instead
of handing each to a worker thread (a thread hop per dependency per request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from harmrank.api import consultation as consultation_mod
from harmrank.api.access import (
    JUSTIFICATION_MAX,
    Invalid,
    NotAuthenticated,
    justification_of,
    require,
)
from harmrank.api.consultation import Consultation, header_text
from harmrank.api.security import Permission, Principal, authenticate, token_id_of
from harmrank.api.state import ServerState
from harmrank.config import Config
from harmrank.store import Store

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `harmrank token create` (sent as `Authorization: Bearer …`).",
)


async def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.harmrank
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


async def get_config(state: StateDep) -> Config:
    return state.settings.config


ConfigDep = Annotated[Config, Depends(get_config)]


def get_store(state: StateDep) -> Iterator[Store]:
    """A cursor of its own for this request, closed when the request is done."""
    cur = state.store.cursor()
    try:
        yield cur
    finally:
        cur.close()


StoreDep = Annotated[Store, Depends(get_store)]


async def get_consultation(request: Request) -> Consultation:
    return consultation_mod.of(request)


ConsultationDep = Annotated[Consultation, Depends(get_consultation)]


def bearer_principal(
    store: StoreDep,
    consultation: ConsultationDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the request's bearer token, or 401 (missing, bad, expired, revoked —
    answered alike)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("a bearer token is required")
    principal = authenticate(store, credentials.credentials)
    if principal is None:
        token_id = token_id_of(credentials.credentials)
        if token_id:
            consultation.detail["token_id"] = token_id
        raise NotAuthenticated("the token is not valid, has expired or was revoked")
    consultation.user, consultation.roles = principal.user, principal.roles
    consultation.detail["token_id"] = principal.token_id
    return principal


PrincipalDep = Annotated[Principal, Depends(bearer_principal)]


_DECLARED: dict[int, frozenset[str]] = {}


def _declared_query(request: Request) -> frozenset[str] | None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    key = id(route)
    if key not in _DECLARED:
        names: set[str] = set()
        pending = [dependant]
        while pending:  # the route's own query parameters and its dependencies'
            d = pending.pop()
            names.update(getattr(p, "alias", p.name) for p in getattr(d, "query_params", ()))
            pending.extend(getattr(d, "dependencies", ()))
        _DECLARED[key] = frozenset(names)
    return _DECLARED[key]


def reject_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is refused (422), so that a misspelt one
    (``?lsit=harm``) is reported instead of silently giving every list."""
    declared = _declared_query(request)
    if declared is None:
        return
    unknown = sorted(set(request.query_params.keys()) - declared)
    if unknown:
        raise Invalid(
            f"unknown query parameter {', '.join(repr(u[:50]) for u in unknown[:5])}"
            + (f"; this route takes {', '.join(sorted(declared))}" if declared else ""),
            loc=("query", unknown[0][:50]),
        )


class Allowed:
    """A dependency that lets through only principals whose roles give ``permission`` (403),
    then refuses query parameters the route does not take (422)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, principal: PrincipalDep, request: Request) -> Principal:
        require(principal, self.permission)
        reject_unknown_query(request)
        return principal


ListReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_LISTS))]
ExplanationReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_EXPLANATIONS))]
HistoryReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_HISTORIES))]
ReferenceReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_REFERENCE))]
RunReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_RUNS))]
RunStarterDep = Annotated[Principal, Depends(Allowed(Permission.START_RUNS))]
RunApproverDep = Annotated[Principal, Depends(Allowed(Permission.APPROVE_RUNS))]
AuditReaderDep = Annotated[Principal, Depends(Allowed(Permission.READ_AUDIT))]
TokenRevokerDep = Annotated[Principal, Depends(Allowed(Permission.REVOKE_TOKENS))]


async def stated_justification(
    config: ConfigDep,
    consultation: ConsultationDep,
    x_justification: Annotated[
        str | None,
        Header(
            alias="X-Justification",
            description="Why you are looking at this nominal (required unless the force's "
            "configuration says `[api] require_justification = false`: without it, 422; "
            f"recorded in the audit log; at most {JUSTIFICATION_MAX} characters).",
        ),
    ] = None,
) -> str | None:
    return justification_of(config, header_text(x_justification), consultation)


JustificationDep = Annotated[str | None, Depends(stated_justification)]
