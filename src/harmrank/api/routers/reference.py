"""The configured LPAs, the months that have runs, the repeat-suspect rules."""

from __future__ import annotations

from fastapi import APIRouter

from harmrank.api.deps import ConfigDep, ConsultationDep, ReferenceReaderDep, StoreDep
from harmrank.api.responses import PROTECTED
from harmrank.api.schemas import LpasPublic, MonthsPublic, RulePublic
from harmrank.scoring import months_with_runs
from harmrank.scoring.engine import known_lpas
from harmrank.scoring.rules import rules_in_view

router = APIRouter(tags=["reference"], responses=PROTECTED)


@router.get("/lpas", response_model=LpasPublic, summary="The configured LPAs")
def lpas(
    principal: ReferenceReaderDep, store: StoreDep, config: ConfigDep, c: ConsultationDep
) -> LpasPublic:
    """The force's LPAs (configuration, else the ingested `lpas` files, else the crimes'), and
    which of them this token may see."""
    names, source = known_lpas(store.con, config)
    yours = [x for x in names if principal.sees_lpa(x)]
    c.row_count = len(names)
    return LpasPublic(lpas=names, source=source, yours=yours, all=principal.sees_every(names))


@router.get("/months", response_model=MonthsPublic, summary="The months that have runs")
def months(
    principal: ReferenceReaderDep, store: StoreDep, config: ConfigDep, c: ConsultationDep
) -> MonthsPublic:
    """Months with a run that reads use: with `[review] required`, approved runs only."""
    found = months_with_runs(store, config)
    c.row_count = len(found)
    return MonthsPublic(months=found)


@router.get("/rules", response_model=list[RulePublic], summary="The repeat-suspect rules")
def rules(principal: ReferenceReaderDep, config: ConfigDep, c: ConsultationDep) -> list[RulePublic]:
    """Every registered rule (built-in and plugins) and the one the configuration uses (which
    may be a rule file), with its definition and source."""
    out = [
        RulePublic(
            name=p["name"],
            version=str(p["version"]),
            description=p["description"],
            kind=p.get("kind", "plugin"),
            source=str(p.get("source", "")),
            active=p["active"],
            sha256=p.get("sha256"),
            definition=p.get("definition"),
        )
        for p in rules_in_view(config)
    ]
    c.row_count = len(out)
    return out
