"""Who may do what: API tokens, roles and LPA scope, web sessions, sign-in throttling.

A token is ``hrk_<token id>_<secret>``; only its SHA-256 is stored, so a copy of the database
gives nobody a working token. The token id is public (``harmrank token list`` shows it) and
lets a revocation or an audit record name a token without its secret.

What each role may do is data (:data:`ROLE_PERMISSIONS`), read by the routes through
:meth:`Principal.may`; SPEC section 7 is the source of the table.

This module has no web framework in it: the command line mints and revokes tokens with it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from harmrank import audit
from harmrank.store import Store

ROLES = ("analyst", "offender_manager", "supervisor", "auditor", "admin")
TOKEN_PREFIX = "hrk_"
DEFAULT_EXPIRES_DAYS = 90
MAX_EXPIRES_DAYS = 3650
_TOKEN_RE = re.compile(r"^hrk_([0-9a-f]{8})_[A-Za-z0-9_-]{20,100}$")
_USER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")

# Writes to the access tables are serialised within the process: two requests of one session
# must not race on the same row (DuckDB would refuse the second as a conflict).
_WRITES = threading.Lock()


class AccessError(ValueError):
    """A token that cannot be minted or revoked as asked; the message says why."""


class Permission(StrEnum):
    """Things a token may be allowed to do (SPEC section 7)."""

    READ_REFERENCE = "read the configured LPAs, the months with runs and the rules"
    READ_LISTS = "read the monthly lists"
    DOWNLOAD = "download lists (CSV, XLSX)"
    READ_EXPLANATIONS = "read a nominal's explanation"
    READ_HISTORIES = "read a nominal's score history"
    READ_DRAFTS = "read draft runs by run_id"
    READ_RUNS = "read the runs and their provenance"
    START_RUNS = "start runs"
    APPROVE_RUNS = "approve runs started by someone else"
    READ_AUDIT = "read the audit log"
    REVOKE_TOKENS = "revoke API tokens while the server holds the database"


_LIST_READER = frozenset(
    {
        Permission.READ_REFERENCE,
        Permission.READ_LISTS,
        Permission.DOWNLOAD,
        Permission.READ_EXPLANATIONS,
    }
)

#: SPEC section 7's role table. Reference data (LPA names, months that have runs, the rules'
#: definitions) holds nothing about any person, so every role may read it.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "analyst": _LIST_READER,
    "offender_manager": _LIST_READER | {Permission.READ_HISTORIES},
    "supervisor": _LIST_READER
    | {
        Permission.READ_DRAFTS,
        Permission.READ_RUNS,
        Permission.START_RUNS,
        Permission.APPROVE_RUNS,
    },
    "auditor": frozenset({Permission.READ_REFERENCE, Permission.READ_AUDIT}),
    "admin": frozenset(
        {
            Permission.READ_REFERENCE,
            Permission.READ_RUNS,
            Permission.START_RUNS,
            Permission.REVOKE_TOKENS,
        }
    ),
}
assert set(ROLE_PERMISSIONS) == set(ROLES)


def utcnow() -> datetime:
    """Naive UTC, as every timestamp in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The user behind a request: from a bearer token or a web session opened with one."""

    user: str
    roles: tuple[str, ...]
    lpas: frozenset[str] | None  # None: every LPA
    token_id: str
    expires_at: datetime

    def may(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS.get(r, ()) for r in self.roles)

    def sees_lpa(self, lpa: str) -> bool:
        return self.lpas is None or lpa in self.lpas

    def sees_every(self, lpas: Iterable[str]) -> bool:
        """True when the scope holds every one of ``lpas`` (the force-wide list ``ALL``)."""
        return self.lpas is None or set(lpas) <= self.lpas

    @property
    def scope_text(self) -> str:
        return "every LPA" if self.lpas is None else ", ".join(sorted(self.lpas))


@dataclass(frozen=True)
class TokenInfo:
    """A token as ``harmrank token list`` shows it: never its secret."""

    token_id: str
    user: str
    roles: tuple[str, ...]
    lpas: tuple[str, ...] | None
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    def state(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (now or utcnow()) else "active"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "user": self.user,
            "roles": list(self.roles),
            "lpas": None if self.lpas is None else list(self.lpas),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "state": self.state(now),
        }


def parse_roles(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"analyst,supervisor"`` → ``("analyst", "supervisor")``; unknown roles are refused."""
    items = text.split(",") if isinstance(text, str) else list(text)
    roles = sorted({r.strip() for r in items if r.strip()})
    if not roles:
        raise AccessError(f"give at least one role ({', '.join(ROLES)})")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise AccessError(f"unknown role {', '.join(unknown)} (roles: {', '.join(ROLES)})")
    return tuple(roles)


def parse_lpas(
    text: str | Sequence[str] | None, known: Sequence[str] | None = None
) -> tuple[str, ...] | None:
    """``None`` or ``ALL`` → every LPA; otherwise the named LPAs, which must be known when the
    database knows its LPAs (a misspelt LPA would grant nothing and hide the mistake)."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    lpas = sorted({x.strip() for x in items if x.strip()})
    if not lpas:
        raise AccessError("--lpas names no LPA (leave it out for every LPA)")
    if "ALL" in lpas:
        if len(lpas) > 1:
            raise AccessError("ALL already means every LPA; give it alone")
        return None
    if known:
        unknown = [x for x in lpas if x not in known]
        if unknown:
            raise AccessError(
                f"unknown LPA {', '.join(repr(x) for x in unknown)} (LPAs: {', '.join(known)})"
            )
    return tuple(lpas)


def mint_token(
    store: Store,
    *,
    user: str,
    roles: Sequence[str],
    lpas: Sequence[str] | None = None,
    expires_days: int = DEFAULT_EXPIRES_DAYS,
    created_by: str,
    now: datetime | None = None,
) -> tuple[str, TokenInfo]:
    """Mint a token; return it (shown once, never stored) and what is stored about it.

    Logged in the audit log as ``token-create`` by ``created_by``.
    """
    user = user.strip()
    if not _USER_RE.match(user):
        raise AccessError("--user must be 1 to 100 printable characters")
    role_tuple = parse_roles(list(roles))
    if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise AccessError(f"--expires-days must be between 1 and {MAX_EXPIRES_DAYS}")
    lpa_tuple = None if lpas is None else tuple(sorted(set(lpas)))
    now = now or utcnow()
    token_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    info = TokenInfo(
        token_id=token_id,
        user=user,
        roles=role_tuple,
        lpas=lpa_tuple,
        created_at=now,
        created_by=created_by,
        expires_at=now + timedelta(days=expires_days),
        revoked_at=None,
        revoked_by=None,
    )
    with _WRITES:
        cur = store.cursor()
        try:
            with cur.transaction():
                cur.execute(
                    "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [
                        token_id,
                        user,
                        list(role_tuple),
                        None if lpa_tuple is None else list(lpa_tuple),
                        _sha256(token),
                        now,
                        created_by,
                        info.expires_at,
                    ],
                )
        finally:
            cur.close()
    audit.append(
        store,
        user=created_by,
        action="token-create",
        route="harmrank token create",
        detail={
            "token_id": token_id,
            "for_user": user,
            "roles": list(role_tuple),
            "lpas": None if lpa_tuple is None else list(lpa_tuple),
            "expires_at": info.expires_at.isoformat(timespec="seconds"),
        },
    )
    return token, info


def revoke_tokens(
    store: Store,
    *,
    by: str,
    user: str | None = None,
    token_id: str | None = None,
    now: datetime | None = None,
    route: str = "harmrank token revoke",
) -> list[str]:
    """End every unrevoked token of ``user`` (or the one ``token_id``) and their web sessions;
    return the token ids revoked. Logged as ``token-revoke``."""
    if (user is None) == (token_id is None):
        raise AccessError("name either --user or --id")
    now = now or utcnow()
    where, param = ("user_name = ?", user) if user is not None else ("token_id = ?", token_id)
    with _WRITES:
        cur = store.cursor()
        try:
            with cur.transaction():
                ids = [
                    r[0]
                    for r in cur.execute(
                        f"SELECT token_id FROM api_tokens WHERE {where} AND revoked_at IS NULL "
                        "ORDER BY token_id",
                        [param],
                    ).fetchall()
                ]
                if ids:
                    cur.execute(
                        "UPDATE api_tokens SET revoked_at = ?, revoked_by = ? "
                        "WHERE token_id IN (SELECT unnest(?::VARCHAR[])) AND revoked_at IS NULL",
                        [now, by, ids],
                    )
                    cur.execute(
                        "UPDATE web_sessions SET ended_at = ? "
                        "WHERE token_id IN (SELECT unnest(?::VARCHAR[])) AND ended_at IS NULL",
                        [now, ids],
                    )
        finally:
            cur.close()
    if ids:
        audit.append(
            store,
            user=by,
            action="token-revoke",
            route=route,
            row_count=len(ids),
            detail={"token_ids": ids, "for_user": user},
        )
    return ids


_TOKEN_COLS = (
    "token_id, user_name, roles, lpas, created_at, created_by, expires_at, revoked_at, revoked_by"
)


def _token_info(row: tuple[Any, ...]) -> TokenInfo:
    return TokenInfo(
        token_id=row[0],
        user=row[1],
        roles=tuple(row[2]),
        lpas=None if row[3] is None else tuple(row[3]),
        created_at=row[4],
        created_by=row[5],
        expires_at=row[6],
        revoked_at=row[7],
        revoked_by=row[8],
    )


def list_tokens(store: Store) -> list[TokenInfo]:
    rows = store.execute(
        f"SELECT {_TOKEN_COLS} FROM api_tokens ORDER BY user_name, created_at, token_id"
    ).fetchall()
    return [_token_info(r) for r in rows]


def token_id_of(token: str) -> str | None:
    """The public id inside a well-formed token (for the audit record of a refused one)."""
    m = _TOKEN_RE.match(token)
    return m.group(1) if m else None


def _principal(info: TokenInfo) -> Principal:
    return Principal(
        user=info.user,
        roles=info.roles,
        lpas=None if info.lpas is None else frozenset(info.lpas),
        token_id=info.token_id,
        expires_at=info.expires_at,
    )


def authenticate(store: Store, token: str, now: datetime | None = None) -> Principal | None:
    """The principal of a valid token; ``None`` for a malformed, unknown, expired or revoked
    one (the caller answers all four alike)."""
    if not _TOKEN_RE.match(token):
        return None
    digest = _sha256(token)
    # kept until the next change to the database (a token revoked is a change)
    row = store.cached(
        "token",
        digest,
        lambda: store.one(f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE token_hash = ?", [digest]),
    )
    if row is None:
        return None
    info = _token_info(row)
    if info.state(now) != "active":
        return None
    return _principal(info)


# ------------------------------------------------------------------------------ sessions ----
SESSION_TOUCH_SECONDS = 60  # last_seen is written at most once a minute per session


def start_session(store: Store, principal: Principal, now: datetime | None = None) -> str:
    """Open a web session for a signed-in token; return the cookie value (stored as a hash)."""
    now = now or utcnow()
    value = secrets.token_urlsafe(32)
    with _WRITES:
        store.execute(
            "INSERT INTO web_sessions VALUES (?, ?, ?, ?, NULL)",
            [_sha256(value), principal.token_id, now, now],
        )
    return value


def session_principal(
    store: Store, cookie: str, idle_hours: float, now: datetime | None = None
) -> Principal | None:
    """The principal of a live session: not ended, not idle for ``idle_hours``, and its token
    still valid. A live session's last-seen time moves on."""
    if not cookie or len(cookie) > 200:
        return None
    now = now or utcnow()
    row = store.one(
        f"SELECT s.session_hash, s.last_seen_at, {', '.join('t.' + c.strip() for c in _TOKEN_COLS.split(','))} "
        "FROM web_sessions s JOIN api_tokens t USING (token_id) "
        "WHERE s.session_hash = ? AND s.ended_at IS NULL",
        [_sha256(cookie)],
    )
    if row is None:
        return None
    session_hash, last_seen = row[0], row[1]
    info = _token_info(row[2:])
    if info.state(now) != "active":
        return None
    if now - last_seen > timedelta(hours=idle_hours):
        with _WRITES:
            store.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
                [now, session_hash],
            )
        return None
    if (now - last_seen).total_seconds() >= SESSION_TOUCH_SECONDS:
        with _WRITES:
            store.execute(
                "UPDATE web_sessions SET last_seen_at = ? WHERE session_hash = ?",
                [now, session_hash],
            )
    return _principal(info)


def end_session(store: Store, cookie: str, now: datetime | None = None) -> None:
    with _WRITES:
        store.execute(
            "UPDATE web_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
            [now or utcnow(), _sha256(cookie)],
        )


def csrf_token(session_cookie: str) -> str:
    """The anti-forgery token of a session: derived from its secret cookie, which a page on
    another site can neither read nor send (HttpOnly, SameSite=Strict)."""
    return hashlib.sha256(b"harmrank-csrf\n" + session_cookie.encode("utf-8")).hexdigest()


def same_secret(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))


# ----------------------------------------------------------------------------- throttle ----
@dataclass(frozen=True)
class SigninThrottle:
    """Repeated failed sign-ins from one client are slowed down: after ``free`` failures
    within ``window_minutes``, each attempt must wait ``base_delay × 2^(failures − free)``
    seconds (at most ``max_delay``) after the last failure, or it is refused unread. A client
    with no failure for ``window_minutes`` starts again from zero."""

    free: int = 3
    base_delay: float = 2.0
    max_delay: float = 300.0
    window_minutes: float = 15.0

    def wait_seconds(self, store: Store, client: str, now: datetime | None = None) -> float:
        now = now or utcnow()
        row = store.one(
            "SELECT failures, first_failure_at, last_failure_at FROM signin_throttle WHERE client = ?",
            [client],
        )
        if row is None:
            return 0.0
        failures, _first, last = row
        if failures < self.free:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2 ** (failures - self.free))
        remaining = delay - (now - last).total_seconds()
        return max(0.0, remaining)

    def failed(self, store: Store, client: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        with _WRITES:
            with store.transaction():
                row = store.one(
                    "SELECT failures, first_failure_at, last_failure_at FROM signin_throttle "
                    "WHERE client = ?",
                    [client],
                )
                window = timedelta(minutes=self.window_minutes)
                if row is None or now - row[2] > window:
                    failures, first = 1, now
                else:
                    failures, first = row[0] + 1, row[1]
                store.execute("DELETE FROM signin_throttle WHERE client = ?", [client])
                store.execute(
                    "INSERT INTO signin_throttle VALUES (?, ?, ?, ?)",
                    [client, failures, first, now],
                )

    def succeeded(self, store: Store, client: str) -> None:
        with _WRITES:
            store.execute("DELETE FROM signin_throttle WHERE client = ?", [client])
