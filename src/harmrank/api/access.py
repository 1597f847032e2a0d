"""Reads under access control: the rules of SPEC section 7 in one place, used by both the JSON
API and the web pages, so that the two can never disagree.

Order of checks, so that a refusal never tells more than the one before it: the token (401),
the role (403), the justification and the other parameters (422), then the LPA scope — where a
nominal outside the token's LPAs gets exactly the 404 of a nominal that does not exist.
"""

from __future__ import annotations

import threading
from typing import Any

from harmrank.api.consultation import Consultation
from harmrank.api.security import Permission, Principal
from harmrank.config import Config
from harmrank.scoring import (
    Month,
    MonthError,
    NotFound,
    RunError,
    approve_runs,
    explain,
    history,
    list_objects,
    listed_lpas,
    nominal_lpas,
    read_run,
)
from harmrank.scoring.read import RunRow
from harmrank.store import Store

NOMINAL_NOT_FOUND = "no such nominal in the LPAs this token may see"
JUSTIFICATION_MAX = 500


class Refused(Exception):
    """A request answered with a 4xx: ``status`` and a message that discloses nothing more."""

    status = 400

    def __init__(self, message: str, *, loc: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class NotAuthenticated(Refused):
    status = 401


class Forbidden(Refused):
    status = 403


class Missing(Refused):
    status = 404


class Conflict(Refused):
    status = 409


class Invalid(Refused):
    status = 422


class BadRequest(Refused):
    status = 400


class JustificationRequired(Invalid):
    """No stated reason for looking at one nominal: a required parameter missing (SPEC 7:
    "bad parameters 422 with a message"), like a justification that is too long."""


class TooManyAttempts(Refused):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(Refused):
    status = 503


def require(principal: Principal, permission: Permission) -> None:
    if not principal.may(permission):
        raise Forbidden(f"your roles ({', '.join(principal.roles)}) may not {permission.value}")


def month_param(text: str, name: str = "month", where: str = "query") -> str:
    try:
        return str(Month.parse(text))
    except MonthError as e:
        raise Invalid(str(e), loc=(where, name)) from None


def justification_of(
    config: Config, text: str | None, consultation: Consultation, *, where: str = "header"
) -> str | None:
    """The stated reason for looking at one nominal: required unless the force switched it off
    (``[api] require_justification = false``); logged either way."""
    reason = (text or "").strip()
    name = "X-Justification" if where == "header" else "justification"
    if len(reason) > JUSTIFICATION_MAX:
        raise Invalid(f"{name} is longer than {JUSTIFICATION_MAX} characters", loc=(where, name))
    if reason:
        consultation.justification = reason
        return reason
    if config.api.require_justification:
        raise JustificationRequired(
            f"state why you are looking at this nominal in the {name} "
            + ("header" if where == "header" else "field")
            + " (it is recorded in the audit log)",
            loc=(where, name),
        )
    return None


def _check_run_id(principal: Principal, run_id: str | None) -> None:
    if run_id is not None and not principal.may(Permission.READ_DRAFTS):
        raise Forbidden("only a supervisor may read a run by its id (draft runs under review)")


def list_scope(
    store: Store, config: Config, principal: Principal, month: str, run_id: str | None = None
) -> tuple[RunRow, list[str]]:
    """The run that reads use for ``month`` (or the named run) and the lists of it the principal
    may read: the LPAs of its scope, then ``ALL`` when it sees every LPA of the run."""
    try:
        run = read_run(store, month, config, run_id)
    except NotFound as e:
        raise Missing(str(e)) from None
    allowed = [x for x in run.lpas if principal.sees_lpa(x)]
    if principal.sees_every(run.lpas):
        allowed.append("ALL")
    return run, allowed


def read_lists(
    store: Store,
    config: Config,
    principal: Principal,
    consultation: Consultation,
    *,
    month: str,
    lpa: str | None = None,
    kind: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """The list objects a principal may read. Asking for an LPA outside the scope is refused
    (403); without ``lpa``, every list of the scope."""
    require(principal, Permission.READ_LISTS)
    _check_run_id(principal, run_id)
    consultation.month, consultation.lpa = month, lpa
    if lpa is not None and lpa != "ALL" and not principal.sees_lpa(lpa):
        raise Forbidden(f"LPA {lpa!r} is outside this token's LPAs")
    run, allowed = list_scope(store, config, principal, month, run_id)
    consultation.detail["run_id"] = run.run_id
    consultation.detail["run_status"] = run.status
    if lpa is not None:
        if lpa not in allowed:
            if lpa == "ALL":
                raise Forbidden("the force-wide list ALL needs a token that sees every LPA")
            raise Missing(f"no LPA {lpa!r} in the run for {month}")
        wanted: list[str] = [lpa]
    else:
        if not allowed:
            raise Forbidden("none of this token's LPAs has lists in this run")
        wanted = allowed
    try:
        objects = list_objects(
            store,
            month,
            config,
            lpa=wanted[0] if len(wanted) == 1 else None,
            kind=kind,
            run_id=run.run_id,
        )
    except NotFound as e:
        raise Missing(str(e)) from None
    objects = [o for o in objects if o["lpa"] in wanted]
    consultation.row_count = sum(len(o["entries"]) for o in objects)
    consultation.detail["lists"] = sorted({f"{o['lpa']}/{o['list']}" for o in objects})
    return objects


def check_nominal(store: Store, principal: Principal, nominal_id: str) -> set[str]:
    """The LPAs a nominal was ever attributed to or listed in, when the principal may see one
    of them; otherwise the same :class:`Missing` as for a nominal that does not exist. (The
    lists are read only when the attributed LPAs do not decide: a repeat list or a `presence`
    list may hold a nominal in an LPA it is not attributed to, or one that is not scored.)"""
    lpas = nominal_lpas(store, nominal_id)
    if not any(principal.sees_lpa(x) for x in lpas):
        lpas = lpas | listed_lpas(store, nominal_id)
        if not any(principal.sees_lpa(x) for x in lpas):
            raise Missing(NOMINAL_NOT_FOUND)
    return lpas


def read_explanation(
    store: Store,
    config: Config,
    principal: Principal,
    consultation: Consultation,
    *,
    nominal_id: str,
    month: str,
    justification: str | None,
    run_id: str | None = None,
    where: str = "header",
) -> dict[str, Any]:
    require(principal, Permission.READ_EXPLANATIONS)
    _check_run_id(principal, run_id)
    consultation.nominal_id, consultation.month = nominal_id, month
    justification_of(config, justification, consultation, where=where)
    check_nominal(store, principal, nominal_id)
    try:
        result = explain(store, nominal_id, month, config, run_id=run_id)
    except NotFound as e:
        raise Missing(str(e)) from None
    consultation.lpa = result["lpa"]
    consultation.row_count = len(result["crimes"])
    consultation.detail["run_id"] = result["run_id"]
    return result


def read_history(
    store: Store,
    config: Config,
    principal: Principal,
    consultation: Consultation,
    *,
    nominal_id: str,
    first: str | None,
    last: str | None,
    justification: str | None,
    where: str = "header",
) -> dict[str, Any]:
    require(principal, Permission.READ_HISTORIES)
    consultation.nominal_id = nominal_id
    justification_of(config, justification, consultation, where=where)
    if first is not None and last is not None and last < first:
        raise Invalid(f"to ({last}) is before from ({first})", loc=("query", "to"))
    lpas = check_nominal(store, principal, nominal_id)
    result = history(store, nominal_id, config, first=first, last=last)
    consultation.row_count = len(result["months"])
    consultation.lpa = ",".join(sorted(lpas))
    if first or last:
        consultation.detail["from"], consultation.detail["to"] = first, last
    return result


def approve(
    store: Store,
    principal: Principal,
    consultation: Consultation,
    run_ids: list[str],
    *,
    write_lock: threading.Lock,
    wait_seconds: float,
) -> list[str]:
    """Four eyes: a supervisor approves draft runs that someone else started (logged)."""
    require(principal, Permission.APPROVE_RUNS)
    consultation.action = "approve"
    ids = list(dict.fromkeys(run_ids))
    consultation.detail["runs"] = ids
    if not ids:
        raise Invalid("name at least one run to approve", loc=("body", "run_ids"))
    found = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in store.execute(
            "SELECT run_id, status, created_by, month, lpas FROM runs "
            "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall()
    }
    missing = [r for r in ids if r not in found]
    if missing:
        raise Missing(f"no such run: {', '.join(missing)}")
    months = sorted({found[r][2] for r in ids})
    consultation.month = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    own = [r for r in ids if found[r][1] == principal.user]
    if own:
        raise Forbidden(
            f"you started {', '.join(own)}: a run must be approved by a supervisor other than "
            "the one who started it"
        )
    # approving publishes every list of the run, ALL included: the approver must be able to
    # read them all (SPEC 7: a supervisor approves a run "after reading its lists")
    beyond = [r for r in ids if not principal.sees_every(found[r][3])]
    if beyond:
        raise Forbidden(
            f"{', '.join(beyond)} {'holds' if len(beyond) == 1 else 'hold'} lists of LPAs "
            f"outside this token's ({principal.scope_text}): approving a run publishes all "
            "its lists, so it needs a supervisor whose token sees every LPA"
        )
    done = [r for r in ids if found[r][0] != "draft"]
    if done:
        raise Conflict(f"already approved: {', '.join(done)}")
    if not write_lock.acquire(timeout=wait_seconds):
        raise Busy("a run is being written; try again shortly")
    try:
        approve_runs(store, ids, by=principal.user, roles=principal.roles)
    except RunError as e:
        raise Conflict(str(e)) from None
    finally:
        write_lock.release()
    consultation.row_count = len(ids)
    return ids
