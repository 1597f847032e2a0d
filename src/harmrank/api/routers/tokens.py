"""``POST /tokens/revoke``: end a leaked token at once, while the server holds the database
(the command line's ``harmrank token revoke`` needs the database to itself)."""

from __future__ import annotations

from fastapi import APIRouter

from harmrank.api.access import Missing
from harmrank.api.deps import ConsultationDep, StoreDep, TokenRevokerDep
from harmrank.api.responses import NOT_FOUND, PROTECTED
from harmrank.api.schemas import RevokedPublic, RevokeRequest
from harmrank.api.security import revoke_tokens

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=PROTECTED)


@router.post(
    "/revoke",
    response_model=RevokedPublic,
    summary="Revoke a user's tokens, or one token (admin)",
    responses=NOT_FOUND,
)
def revoke(
    body: RevokeRequest, principal: TokenRevokerDep, store: StoreDep, c: ConsultationDep
) -> RevokedPublic:
    """Ends every unrevoked token of ``user`` (or the one ``token_id``) and the web sessions
    opened with them, at once: their next request gets 401. Logged twice, as the request and
    as the revocation (`token-revoke`)."""
    c.action = "token-revoke"
    c.detail["for_user"] = body.user
    c.detail["token_id"] = body.token_id
    ids = revoke_tokens(
        store,
        by=principal.user,
        user=body.user,
        token_id=body.token_id,
        route="POST /api/v1/tokens/revoke",
    )
    if not ids:
        raise Missing("no unrevoked token matches (see `harmrank token list`)")
    c.row_count = len(ids)
    return RevokedPublic(revoked=ids, revoked_by=principal.user)
