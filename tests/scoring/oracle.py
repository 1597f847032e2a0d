"""A reference model of SPEC sections 3 and 4 in plain Python, written from the SPEC's words.

It is deliberately naive (loops over nominals, no SQL) so that it can be read against the SPEC
sentence by sentence; the property tests compare the engine's published lists with it on
random extracts. Inputs are the literal rows the scenarios ingest (see :mod:`.scenario`).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .scenario import HOMICIDE_ONS, HOMICIDE_OPEN_DATA, ONS

# SPEC section 2
VAWG = set(
    "17A 17B 19C 19D 19E 19F 19G 19H 19J 19K 20A 20B 21 22A 22B 23 70 71 72 73 "
    "88A 88C 88D 88E 8Q 8U 8K".split()
)
RASSO = set(
    "17A 17B 19C 19D 19E 19F 19G 19H 19J 19K 20A 20B 21 22A 22B 23 70 71 72 73 88A 88C".split()
)
ALIASES = {"28A": "28C", "30A": "30C", HOMICIDE_OPEN_DATA: HOMICIDE_ONS}
# SPEC section 1: duplicate links keep the latest stage
STAGE = {"suspect": 0, "eliminated": 1, "charged": 2, "convicted": 3}
COUNTED = {"suspect", "charged", "convicted"}


def weight(code: str) -> Decimal | None:
    if code in ONS:
        return ONS[code]
    return ONS.get(ALIASES.get(code, ""))


@dataclass(frozen=True)
class Rule:
    offences: frozenset[str]
    include_domestic_abuse: bool
    min_crimes: int
    min_distinct_victims: int
    window_months: int
    roles: frozenset[str]
    min_age: int | None = None


# SPEC section 4, the built-ins
RULES = {
    "rasso-repeat-interim": Rule(frozenset(RASSO), False, 2, 1, 36, frozenset(COUNTED)),
    "rasso-serial": Rule(frozenset(RASSO), False, 2, 2, 36, frozenset(COUNTED)),
    "matac-serial-da": Rule(frozenset(), True, 2, 2, 36, frozenset(COUNTED), 16),
}


# (attribution, date basis, rule) for the checks on a synthetic extract: between them every
# attribution, both date bases and every built-in rule
SYNTHETIC_SETTINGS = [
    ("principal", "recorded_on", "rasso-repeat-interim"),
    ("home", "committed_on", "matac-serial-da"),
    ("presence", "recorded_on", "rasso-serial"),
]


@dataclass(frozen=True)
class Crime:
    crime_id: str
    ho_code: str
    recorded_on: date
    committed_on: date | None
    lpa: str
    domestic_abuse: bool
    victim_id: str | None
    status: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Crime:
        return cls(
            row["crime_id"],
            row["ho_code"],
            date.fromisoformat(row["recorded_on"]),
            date.fromisoformat(row["committed_on"]) if row.get("committed_on") else None,
            row["lpa"].strip(),
            row["domestic_abuse"] == "true",
            row.get("victim_id") or None,
            row["status"],
        )


@dataclass(frozen=True)
class Settings:
    window_months: int = 12
    date_basis: str = "recorded_on"
    top_n: int = 10
    attribution: str = "principal"
    repeat_rule: str = "rasso-repeat-interim"


def month_index(month: str) -> int:
    y, m = month.split("-")
    return int(y) * 12 + int(m) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def window(month: str, months: int) -> tuple[date, date]:
    """The ``months`` whole months ending with ``month``."""
    i = month_index(month)
    first = i - (months - 1)
    start = date(first // 12, first % 12 + 1, 1)
    y, m = i // 12, i % 12 + 1
    return start, date(y, m, calendar.monthrange(y, m)[1])


class Extract:
    def __init__(
        self,
        crimes: Iterable[Mapping[str, Any]],
        links: Iterable[Mapping[str, Any]],
        nominals: Iterable[Mapping[str, Any]] = (),
        lpas: Iterable[str] | None = None,
    ) -> None:
        self.crimes = {c["crime_id"]: Crime.of(c) for c in crimes}
        roles: dict[tuple[str, str], str] = {}
        for lk in links:
            key = (lk["crime_id"], lk["nominal_id"])
            role = lk.get("role", "suspect")
            if key not in roles or STAGE[role] > STAGE[roles[key]]:
                roles[key] = role
        self.links = roles
        self.nominals = {
            n["nominal_id"]: (
                int(n["birth_year"]) if n.get("birth_year") not in (None, "") else None,
                (n.get("home_lpa") or "").strip() or None,
            )
            for n in nominals
        }
        self.lpas = sorted(set(lpas) if lpas is not None else {c.lpa for c in self.crimes.values()})
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """Each month's scores, ranks and flags are computed once (the extract never changes)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def basis(self, c: Crime, s: Settings) -> date:
        if s.date_basis == "committed_on":
            return c.committed_on or c.recorded_on
        return c.recorded_on

    # SPEC 3: scores ---------------------------------------------------------------------------
    def eligible(self, month: str, s: Settings) -> dict[str, list[Crime]]:
        start, end = window(month, s.window_months)
        out: dict[str, list[Crime]] = defaultdict(list)
        for (cid, nid), role in self.links.items():
            c = self.crimes[cid]
            if role == "eliminated" or c.status != "recorded":
                continue
            if not (c.ho_code in VAWG or c.domestic_abuse):
                continue
            if start <= self.basis(c, s) <= end:
                out[nid].append(c)
        return out

    def scores(self, month: str, s: Settings) -> dict[str, dict[str, Any]]:
        return self._once(("scores", month, s), lambda: self._scores(month, s))

    def _scores(self, month: str, s: Settings) -> dict[str, dict[str, Any]]:
        out = {}
        for nid, crimes in self.eligible(month, s).items():
            per_lpa: dict[str, list[Crime]] = defaultdict(list)
            for c in crimes:
                per_lpa[c.lpa].append(c)

            def lpa_key(lpa: str, per_lpa=per_lpa) -> tuple[Any, ...]:
                cs = per_lpa[lpa]
                harm = sum((weight(c.ho_code) or Decimal(0) for c in cs), Decimal(0))
                return (-harm, -max(c.recorded_on for c in cs).toordinal(), lpa)

            principal = min(per_lpa, key=lpa_key)
            lpa = principal
            if s.attribution == "home":
                home = self.nominals.get(nid, (None, None))[1]
                if home is not None and home in self.lpas:
                    lpa = home
            present = set(per_lpa) if s.attribution == "presence" else {lpa}
            out[nid] = {
                "harm": sum((weight(c.ho_code) or Decimal(0) for c in crimes), Decimal(0)),
                "frequency": len(crimes),
                "victims": len({c.victim_id for c in crimes if c.victim_id is not None}),
                "last_recorded_on": max(c.recorded_on for c in crimes),
                "lpa": lpa,
                "lists": present | {"ALL"},
                "crimes": sorted(crimes, key=lambda c: (-c.recorded_on.toordinal(), c.crime_id)),
            }
        return out

    def ranked(self, month: str, s: Settings) -> dict[tuple[str, str], list[str]]:
        """Every scored nominal in rank order, per (list LPA, kind) — not cut at top_n."""
        return self._once(("ranked", month, s), lambda: self._ranked(month, s))

    def _ranked(self, month: str, s: Settings) -> dict[tuple[str, str], list[str]]:
        scores = self.scores(month, s)
        out: dict[tuple[str, str], list[str]] = {}
        for lpa in [*self.lpas, "ALL"]:
            members = [n for n, x in scores.items() if lpa in x["lists"]]

            def harm_key(n: str) -> tuple[Any, ...]:
                x = scores[n]
                return (-x["harm"], -x["frequency"], -x["last_recorded_on"].toordinal(), n)

            def freq_key(n: str) -> tuple[Any, ...]:
                x = scores[n]
                return (-x["frequency"], -x["harm"], -x["last_recorded_on"].toordinal(), n)

            out[(lpa, "harm")] = sorted((n for n in members if scores[n]["harm"] > 0), key=harm_key)
            out[(lpa, "frequency")] = sorted(members, key=freq_key)
        return out

    # SPEC 4: the rule ------------------------------------------------------------------------
    def flags(self, month: str, s: Settings, rule: Rule) -> dict[str, dict[str, Any]]:
        return self._once(("flags", month, s, rule), lambda: self._flags(month, s, rule))

    def _flags(self, month: str, s: Settings, rule: Rule) -> dict[str, dict[str, Any]]:
        start, end = window(month, rule.window_months)
        year = month_index(month) // 12
        qualifying: dict[str, list[Crime]] = defaultdict(list)
        for (cid, nid), role in self.links.items():
            c = self.crimes[cid]
            if role not in rule.roles or c.status != "recorded":
                continue
            if not (
                c.ho_code in rule.offences or (rule.include_domestic_abuse and c.domestic_abuse)
            ):
                continue
            if start <= self.basis(c, s) <= end:
                qualifying[nid].append(c)
        out = {}
        for nid, crimes in qualifying.items():
            known = {c.victim_id for c in crimes if c.victim_id is not None}
            unknown = sum(1 for c in crimes if c.victim_id is None)
            birth_year = self.nominals.get(nid, (None, None))[0]
            if len(crimes) < rule.min_crimes or len(known) + unknown < rule.min_distinct_victims:
                continue
            if (
                rule.min_age is not None
                and birth_year is not None
                and year - birth_year < rule.min_age
            ):
                continue
            per_lpa: dict[str, list[Crime]] = defaultdict(list)
            for c in crimes:
                per_lpa[c.lpa].append(c)
            lpa = min(
                per_lpa,
                key=lambda x, p=per_lpa: (
                    -len(p[x]),
                    -max(c.recorded_on for c in p[x]).toordinal(),
                    x,
                ),
            )
            out[nid] = {
                "lpa": lpa,
                "qualifying": len(crimes),
                "victims": len(known),
                "last_recorded_on": max(c.recorded_on for c in crimes),
                "crimes": sorted(crimes, key=lambda c: (-c.recorded_on.toordinal(), c.crime_id)),
                "victim_unknown": unknown > 0,
                "age_unknown": rule.min_age is not None and birth_year is None,
            }
        return out

    def repeat_ranked(self, month: str, s: Settings, rule: Rule) -> dict[str, list[str]]:
        flags = self.flags(month, s, rule)

        def key(n: str) -> tuple[Any, ...]:
            x = flags[n]
            return (-x["qualifying"], -x["victims"], -x["last_recorded_on"].toordinal(), n)

        return {
            lpa: sorted((n for n, x in flags.items() if lpa in (x["lpa"], "ALL")), key=key)
            for lpa in [*self.lpas, "ALL"]
        }

    # the published lists ----------------------------------------------------------------------
    def lists(
        self, month: str, s: Settings, rule: Rule | None = None
    ) -> dict[tuple[str, str], list[dict]]:
        """(LPA, kind) -> entries, as SPEC section 6 publishes them (crimes as ids)."""
        rule = rule or RULES[s.repeat_rule]
        prev_month = month_name(month_index(month) - 1)
        scores, ranked = self.scores(month, s), self.ranked(month, s)
        prev = self.ranked(prev_month, s)
        flags, repeat = self.flags(month, s, rule), self.repeat_ranked(month, s, rule)
        prev_repeat = self.repeat_ranked(prev_month, s, rule)
        out: dict[tuple[str, str], list[dict]] = {}
        for (lpa, kind), order in ranked.items():
            before = {n: i for i, n in enumerate(prev[(lpa, kind)][: s.top_n], start=1)}
            out[(lpa, kind)] = [
                {
                    "rank": rank,
                    "nominal_id": n,
                    "harm": scores[n]["harm"],
                    "frequency": scores[n]["frequency"],
                    "victims": scores[n]["victims"],
                    "last_recorded_on": scores[n]["last_recorded_on"],
                    "lpa": scores[n]["lpa"],
                    "repeat_suspect": n in flags,
                    "movement": before[n] - rank if n in before else "new",
                    "crimes": [c.crime_id for c in scores[n]["crimes"]],
                }
                for rank, n in enumerate(order[: s.top_n], start=1)
            ]
        for lpa, order in repeat.items():
            before = {n: i for i, n in enumerate(prev_repeat[lpa], start=1)}
            out[(lpa, "repeat")] = [
                {
                    "rank": rank,
                    "nominal_id": n,
                    "lpa": flags[n]["lpa"],
                    "qualifying": flags[n]["qualifying"],
                    "victims": flags[n]["victims"],
                    "last_recorded_on": flags[n]["last_recorded_on"],
                    "crimes": [c.crime_id for c in flags[n]["crimes"]],
                    "movement": before[n] - rank if n in before else "new",
                }
                for rank, n in enumerate(order, start=1)
            ]
        return out

    def history_row(
        self, nominal_id: str, month: str, s: Settings, rule: Rule | None = None
    ) -> dict | None:
        """SPEC 5: the nominal's history row for one month (None when it is not scored)."""
        rule = rule or RULES[s.repeat_rule]
        scores = self.scores(month, s)
        if nominal_id not in scores:
            return None
        x, ranked = scores[nominal_id], self.ranked(month, s)
        harm_order, freq_order = ranked[(x["lpa"], "harm")], ranked[(x["lpa"], "frequency")]
        harm_rank = harm_order.index(nominal_id) + 1 if nominal_id in harm_order else None
        freq_rank = freq_order.index(nominal_id) + 1
        return {
            "month": month,
            "harm": x["harm"],
            "frequency": x["frequency"],
            "victims": x["victims"],
            "lpa": x["lpa"],
            "harm_rank": harm_rank,
            "frequency_rank": freq_rank,
            "on_harm_list": harm_rank is not None and harm_rank <= s.top_n,
            "on_frequency_list": freq_rank <= s.top_n,
            "repeat_suspect": nominal_id in self.flags(month, s, rule),
        }
