"""Scenarios for the scoring tests: literal rows in, the engine's published output back.

Every scenario goes through the real ingest (:func:`harmrank.testing.store_from_rows`), the
real run (:func:`harmrank.scoring.run_month` / ``backfill``) and the real reads
(``list_objects``, ``history``, ``explain``), so a test checks exactly what an analyst sees.

Expected values in the tests are written from SPEC.md, never read back from the engine; the
only thing taken from a file is the ONS weight of a code, from the shipped reference table
(SPEC section 2), held to 6 decimal places.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from harmrank.config import Config, config_from_dict
from harmrank.scoring import backfill, explain, history, list_objects, run_month
from harmrank.store import Store
from harmrank.testing import store_from_rows

AS_AT = "2025-06"  # window 2024-07-01 .. 2025-06-30 under the default 12 months
MID = "2025-03-15"  # a date well inside that window

# Reference data of SPEC section 2 ------------------------------------------------------------
_SIX = Decimal("0.000001")


def _ons_weights() -> dict[str, Decimal]:
    text = (
        resources.files("harmrank.reference")
        .joinpath("data", "ons_css_2019.csv")
        .read_text(encoding="utf-8")
    )
    return {
        r["ho_code"]: Decimal(r["weight"]).quantize(_SIX, rounding=ROUND_HALF_UP)
        for r in csv.DictReader(io.StringIO(text))
    }


ONS = _ons_weights()
HOMICIDE_OPEN_DATA = "1/4.1/4.10/4.2"
HOMICIDE_ONS = "1, 4.1/2/10"


def w(*codes: str) -> Decimal:
    """The exact harm of crimes with these codes under the default weights (SPEC 2, 3)."""
    return sum((ONS[c] for c in codes), Decimal("0"))


# Literal rows -----------------------------------------------------------------------------
def crime(
    crime_id: str,
    code: str = "8N",
    on: str = MID,
    *,
    lpa: str = "Shropshire",
    da: bool = True,
    victim: str | None = None,
    status: str = "recorded",
    committed: str | None = None,
) -> dict[str, Any]:
    """A crimes row. The default (8N, domestic-abuse-flagged) is VAWG but not RASSO."""
    return {
        "crime_id": crime_id,
        "ho_code": code,
        "recorded_on": on,
        "committed_on": committed or "",
        "lpa": lpa,
        "domestic_abuse": "true" if da else "false",
        "victim_id": victim or "",
        "status": status,
        "outcome": "",
    }


def link(crime_id: str, nominal_id: str, role: str = "suspect") -> dict[str, str]:
    return {"crime_id": crime_id, "nominal_id": nominal_id, "role": role}


def cfg(base_dir: Path | None = None, **sections: Mapping[str, Any]) -> Config:
    """A configuration as a TOML file would give it: ``cfg(scoring={"top_n": 3})``."""
    return config_from_dict(dict(sections), source="test configuration", base_dir=base_dir)


# Reading the engine's output ----------------------------------------------------------------
@dataclass
class Scored:
    """A store with runs, and the reads of SPEC sections 3, 5 and 6 for one month."""

    store: Store
    config: Config
    month: str = AS_AT

    def objects(
        self, lpa: str | None = None, kind: str | None = None, month: str | None = None
    ) -> list[dict[str, Any]]:
        return list_objects(self.store, month or self.month, self.config, lpa=lpa, kind=kind)

    def entries(
        self, lpa: str = "ALL", kind: str = "harm", month: str | None = None
    ) -> list[dict[str, Any]]:
        (obj,) = self.objects(lpa, kind, month)
        return obj["entries"]

    def ids(self, lpa: str = "ALL", kind: str = "harm", month: str | None = None) -> list[str]:
        return [e["nominal_id"] for e in self.entries(lpa, kind, month)]

    def entry(
        self, nominal_id: str, lpa: str = "ALL", kind: str = "harm", month: str | None = None
    ) -> dict[str, Any] | None:
        found = [e for e in self.entries(lpa, kind, month) if e["nominal_id"] == nominal_id]
        assert len(found) <= 1, f"{nominal_id} is twice on {lpa} {kind}"
        return found[0] if found else None

    def history(self, nominal_id: str) -> list[dict[str, Any]]:
        return history(self.store, nominal_id, self.config)["months"]

    def scored(self, nominal_id: str, month: str | None = None) -> dict[str, Any] | None:
        """The nominal's history row for the month (None when it is not scored)."""
        rows = [r for r in self.history(nominal_id) if r["month"] == (month or self.month)]
        return rows[0] if rows else None

    def explain(self, nominal_id: str, month: str | None = None) -> dict[str, Any]:
        return explain(self.store, nominal_id, month or self.month, self.config)

    def run(self, month: str | None = None) -> Scored:
        run_month(self.store, month or self.month, self.config)
        return self

    def ingest(self, **rows: Any) -> Scored:
        """A later extract loaded into the same store."""
        store_from_rows(store=self.store, config=self.config, **rows)
        return self


def load(
    crimes: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    *,
    config: Config | None = None,
    month: str = AS_AT,
    nominals: Iterable[Mapping[str, Any]] | None = None,
    orders: Iterable[Mapping[str, Any]] | None = None,
    lpas: Iterable[str] | None = None,
) -> Scored:
    """Ingest literal rows into a fresh in-memory store (no run yet)."""
    config = config or Config()
    store, report = store_from_rows(
        crimes=list(crimes),
        suspects=list(links),
        nominals=list(nominals) if nominals is not None else None,
        orders=list(orders) if orders is not None else None,
        lpas=list(lpas) if lpas is not None else None,
        config=config,
    )
    quarantined = {n: f.quarantined for n, f in report.files.items() if f.quarantined}
    assert not quarantined, f"the scenario's rows were quarantined: {quarantined}"
    return Scored(store, config, month)


def score(
    crimes: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    *,
    months: Iterable[str] | None = None,
    **kwargs: Any,
) -> Scored:
    """Ingest literal rows and run the as-at month (and any other ``months``)."""
    s = load(crimes, links, **kwargs)
    for m in months or [s.month]:
        run_month(s.store, m, s.config)
    return s


def score_backfill(
    crimes: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    first: str,
    last: str,
    **kwargs: Any,
) -> Scored:
    """Ingest literal rows and backfill ``first`` to ``last`` (reads default to ``last``)."""
    s = load(crimes, links, month=last, **kwargs)
    backfill(s.store, first, last, s.config)
    return s
