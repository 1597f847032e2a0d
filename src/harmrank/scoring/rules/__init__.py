"""Repeat-suspect rules (SPEC section 4): pluggable, evaluated on whole sets of nominals.

A rule has a name, a version and a description, and decides, for every nominal at each as-at
month, whether it is a repeat suspect, with the crimes that made it so and the reasons.

Rules come from
- declarative TOML files (:class:`RuleFile`): a force adopts the national definition the day
  it is published by writing one file and naming it in ``[scoring] repeat_rule``;
- Python plugins registered under the entry-point group ``harmrank.repeat_rules``; an entry
  point loads an object with ``name``, ``version``, ``description`` and
  ``evaluate(ctx: RuleContext) -> RuleResult`` (or a class or factory that returns one).

The engine prepares, on the rule's connection, three tables a rule reads:

``rule_links``   one row per (nominal, crime) link of a crime with ``status = recorded``, in any
                 role (the rule decides which roles count): ``nominal_id, crime_id, role,
                 ho_code, recorded_on, committed_on, basis_on, lpa, domestic_abuse, victim_id``
                 where ``basis_on`` is the date the configured date basis puts the crime on
                 (and the link's integer keys ``nkey, ckey, hkey, lkey, vkey``);
``rule_nominals`` ``nominal_id, birth_year``;
``rule_months``  the as-at months: ``month`` (YYYY-MM), ``first_day``, ``as_at`` (last day),
                 ``year``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harmrank.config import Config
from harmrank.contract import ROLES
from harmrank.reference import load_offence_set

ENTRY_POINT_GROUP = "harmrank.repeat_rules"


class RuleError(ValueError):
    """A rule that cannot be loaded or used; the message says which and why."""


@dataclass
class RuleContext:
    """What a rule may read: the prepared tables on ``con`` and the configuration."""

    con: duckdb.DuckDBPyConnection
    config: Config

    def offence_codes(self, name_or_codes: str | list[str]) -> frozenset[str]:
        return offence_codes(name_or_codes, self.config)


def offence_codes(name_or_codes: str | list[str], config: Config) -> frozenset[str]:
    """A named offence set's codes (as the configuration resolves it), or a list of codes."""
    if isinstance(name_or_codes, list):
        return frozenset(c.strip() for c in name_or_codes if c.strip())
    return load_offence_set(name_or_codes, config).codes


@dataclass
class RuleResult:
    """A rule's decisions: only nominals for whom the rule holds appear.

    ``qualifying``: ``month, nominal_id, crime_id`` (the crimes that made each decision: links
    of ``rule_links``, where the engine looks them up; other columns are ignored, and a link
    that is not in ``rule_links`` is refused with an error);
    ``reasons``: ``month, nominal_id, reasons`` (a list of short sentences), one row for each
    decision, that is each (month, nominal_id) of ``qualifying``: a decision without its
    reasons, with two rows of them, reasons without qualifying crimes, or a decision for a
    month that is not in ``rule_months`` are refused.
    """

    qualifying: pl.DataFrame
    reasons: pl.DataFrame


@runtime_checkable
class RepeatRule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def description(self) -> str: ...

    def evaluate(self, ctx: RuleContext) -> RuleResult: ...


class RuleFile(BaseModel):
    """A declarative rule file (TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    offences: str | list[str] = Field(description="A named offence set, or a list of HO codes.")
    include_domestic_abuse: bool = False
    min_crimes: int = Field(default=2, ge=1)
    min_distinct_victims: int = Field(default=1, ge=0)
    window_months: int = Field(default=36, ge=1, le=600)
    roles: list[str] = Field(
        default_factory=lambda: ["suspect", "charged", "convicted"], min_length=1
    )
    min_age: int | None = Field(default=None, ge=0, le=120)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
        return roles


@dataclass(frozen=True)
class DeclarativeRule:
    """A rule defined by a :class:`RuleFile`; turned into SQL by :meth:`sql`."""

    spec: RuleFile
    source: str
    sha256: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def lookback_months(self) -> int:
        """How many whole months up to the as-at month the rule reads (the engine prepares
        ``rule_links`` no further back). A plugin may set this too; without it, all history."""
        return self.spec.window_months

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "kind": "file",
            "source": self.source,
            "sha256": self.sha256,
            "definition": self.spec.model_dump(mode="json"),
        }

    def sql(self, codes: list[str]) -> str:
        """The rule as one SQL query over ``rule_links``, ``rule_nominals``, ``rule_months``.

        The offence codes are written into the query as literals so that the filter reaches
        the scan of the crimes (only the crimes a rule can count are joined at all)."""
        roles = ", ".join(f"'{r}'" for r in self.spec.roles)
        literals = ", ".join("'" + c.replace("'", "''") + "'" for c in codes)
        return self._sql(
            source="rule_links",
            nominal="nominal_id",
            victim="victim_id",
            in_set=f"l.ho_code IN ({literals})" if codes else "false",
            role_ok=f"l.role IN ({roles})",
            carried=("crime_id", "ho_code", "recorded_on", "lpa", "victim_id", "nkey"),
            nominals="rule_nominals",
        )

    def keyed_sql(self, linked: str, code_keys: list[int]) -> str:
        """The same rule over the engine's integer keys: ``linked`` has a row per link with
        ``nkey, ckey, hkey, lkey, vkey, recorded_on, basis_on, domestic_abuse`` and
        ``rule_role`` (the link's role is one of the rule's), and covers the rule's offences
        over its window; ``code_keys`` are the offence codes' keys. It gives ``month, nkey,
        reasons, ckey, hkey, recorded_on, lkey, vkey``: the rows of :meth:`sql` by key (a
        victim_id and its vkey are both NULL or neither, one to one)."""
        keys = ", ".join(str(k) for k in code_keys)
        return self._sql(
            source=linked,
            nominal="nkey",
            victim="vkey",
            in_set=f"l.hkey IN ({keys})" if code_keys else "false",
            role_ok="l.rule_role",
            carried=("ckey", "hkey", "recorded_on", "lkey", "vkey"),
            nominals=(
                "(SELECT k.nkey, n.birth_year FROM rule_nominals n "
                "JOIN nominal_keys k USING (nominal_id))"
            ),
        )

    def _sql(
        self,
        *,
        source: str,
        nominal: str,
        victim: str,
        in_set: str,
        role_ok: str,
        carried: tuple[str, ...],
        nominals: str,
    ) -> str:
        s = self.spec
        offence = f"({in_set} OR l.domestic_abuse)" if s.include_domestic_abuse else in_set
        age_ok = (
            "true"
            if s.min_age is None
            else f"(nm.birth_year IS NULL OR m.year - nm.birth_year >= {s.min_age})"
        )
        age_reason = (
            "NULL"
            if s.min_age is None
            else (
                "CASE WHEN nm.birth_year IS NULL THEN 'age unknown (no birth year recorded; "
                "not excluded by the age condition)' "
                f"ELSE format('aged {{}} in {{}} (at least {s.min_age})', m.year - nm.birth_year, m.year) END"
            )
        )
        # the nominals file is read only for a rule with an age condition
        age_join = "" if s.min_age is None else f"LEFT JOIN {nominals} nm USING ({nominal})"
        w = s.window_months
        # at least one crime is at least one victim (an unknown victim counts as one more)
        victims_at_all = (
            f"""
               AND count(DISTINCT {victim}) + count(*) FILTER (WHERE {victim} IS NULL)
                   >= {s.min_distinct_victims}"""
            if s.min_distinct_victims > 1
            else ""
        )
        cols = ", ".join(f"l.{c}" for c in dict.fromkeys((nominal, *carried, "basis_on")))
        q_cols = ", ".join(f"q.{c}" for c in dict.fromkeys((nominal, *carried)))
        out = ", ".join(f"w.{c}" for c in carried)
        return f"""
        WITH q AS (
            SELECT {cols}
            FROM {source} l
            WHERE {role_ok} AND {offence}
        ),
        candidates AS (   -- nominals that could meet the counts at some month
            SELECT {nominal} FROM q GROUP BY {nominal}
            HAVING count(*) >= {s.min_crimes}{victims_at_all}
        ),
        in_window AS (
            SELECT m.month, {q_cols}
            FROM rule_months m
            JOIN q ON q.basis_on BETWEEN (m.first_day - INTERVAL {w - 1} MONTH)::DATE AND m.as_at
            WHERE q.{nominal} IN (SELECT {nominal} FROM candidates)
        ),
        per AS (
            SELECT month, {nominal}, count(*) AS n,
                   count(DISTINCT {victim}) AS known_victims,
                   count(*) FILTER (WHERE {victim} IS NULL) AS unknown_victims
            FROM in_window GROUP BY month, {nominal}
        ),
        flagged AS (
            SELECT per.month, per.{nominal},
                   list_filter([
                       format('{{}} qualifying crimes (at least {s.min_crimes}) in the {w} months to {{}}',
                              per.n, strftime(m.as_at, '%Y-%m-%d')),
                       format('{{}} distinct victims (at least {s.min_distinct_victims})',
                              per.known_victims + per.unknown_victims),
                       CASE WHEN per.unknown_victims > 0 THEN format(
                           'victim unknown on {{}} crime(s), each counted as one more distinct victim',
                           per.unknown_victims) END,
                       {age_reason}
                   ], lambda x: x IS NOT NULL) AS reasons
            FROM per
            JOIN rule_months m USING (month)
            {age_join}
            WHERE per.n >= {s.min_crimes}
              AND per.known_victims + per.unknown_victims >= {s.min_distinct_victims}
              AND {age_ok}
        )
        SELECT f.month, f.{nominal}, f.reasons, {out}
        FROM flagged f JOIN in_window w USING (month, {nominal})
        """

    def codes(self, config: Config) -> frozenset[str]:
        """The offence codes the rule counts (besides domestic-abuse-flagged crimes)."""
        return offence_codes(self.spec.offences, config)

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        codes = sorted(self.codes(ctx.config))
        rows = ctx.con.sql(self.sql(codes)).pl()
        reasons = rows.select("month", "nominal_id", "reasons").unique(["month", "nominal_id"])
        return RuleResult(rows.drop("reasons"), reasons)


def _rule_file_error(source: str, err: ValidationError) -> RuleError:
    lines = [f"{source}: the rule file is not valid:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(file)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return RuleError("\n".join(lines))


def parse_rule_file(data: bytes, source: str) -> DeclarativeRule:
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RuleError(f"{source}: not a valid TOML rule file: {e}") from None
    try:
        spec = RuleFile.model_validate(raw)
    except ValidationError as e:
        raise _rule_file_error(source, e) from None
    return DeclarativeRule(spec, source, hashlib.sha256(data).hexdigest())


def load_rule_file(path: Path) -> DeclarativeRule:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RuleError(f"{path}: cannot read the rule file: {e.strerror or e}") from None
    return parse_rule_file(data, str(path))


def builtin_rules() -> dict[str, RepeatRule]:
    folder = resources.files("harmrank.scoring.rules").joinpath("builtin")
    rules: dict[str, RepeatRule] = {}
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".toml"):
            rule = parse_rule_file(f.read_bytes(), f"harmrank:scoring/rules/builtin/{f.name}")
            rules[rule.name] = rule
    return rules


def _plugin(ep: Any) -> RepeatRule:
    obj = ep.load()
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, RepeatRule)):
        obj = obj()
    if not isinstance(obj, RepeatRule):
        raise RuleError(
            f"entry point {ep.name!r} ({ep.value}) in {ENTRY_POINT_GROUP} is not a repeat rule: "
            "it needs name, version, description and evaluate(ctx)"
        )
    return obj


# The plugins' entry points, and the state of the import path they were read at. Reading them
# scans every installed package (about 20 ms, on every run); installing or removing a package
# changes the modification time of its folder on the path, which reads them again.
_PLUGIN_ENTRY_POINTS: list[tuple[tuple[Any, ...], list[Any]]] = []  # [(path state, points)]


def _path_state() -> tuple[Any, ...]:
    state: list[tuple[str, int | None]] = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, None))
    return (entry_points, *state)


def _plugin_entry_points() -> list[Any]:
    state = _path_state()
    if _PLUGIN_ENTRY_POINTS and _PLUGIN_ENTRY_POINTS[0][0] == state:
        return _PLUGIN_ENTRY_POINTS[0][1]
    points = list(entry_points(group=ENTRY_POINT_GROUP))
    _PLUGIN_ENTRY_POINTS[:] = [(state, points)]  # one assignment: readers see old or new
    return points


def plugin_rules() -> dict[str, RepeatRule]:
    rules: dict[str, RepeatRule] = {}
    for ep in _plugin_entry_points():
        rule = _plugin(ep)
        rules[rule.name] = rule
    return rules


def registered_rules() -> dict[str, RepeatRule]:
    """Built-in rules, then plugins (a plugin may not silently replace a built-in)."""
    rules = builtin_rules()
    for name, rule in plugin_rules().items():
        if name in rules:
            raise RuleError(f"the plugin rule {name!r} has the name of a built-in rule; rename it")
        rules[name] = rule
    return rules


def resolve_rule(config: Config) -> RepeatRule:
    """The rule named by ``[scoring] repeat_rule``: a registered name or a rule file's path."""
    ref = config.scoring.repeat_rule
    rules = registered_rules()
    if ref in rules:
        return rules[ref]
    path = config.resolve(ref)
    if ref.endswith(".toml") or path.is_file():
        return load_rule_file(path)
    raise RuleError(
        f"repeat_rule {ref!r} is neither a registered rule ({', '.join(sorted(rules))}) "
        "nor a rule file"
    )


def rules_in_view(config: Config) -> list[dict[str, Any]]:
    """Every registered rule (built-in and plugins) and the one ``config`` uses, which may be a
    rule file, by name: each rule's provenance and ``active``, true for the rule in use. What
    ``harmrank rules`` prints and ``GET /rules`` serves."""
    active = rule_provenance(resolve_rule(config))
    found = {name: rule_provenance(rule) for name, rule in registered_rules().items()}
    found.setdefault(active["name"], active)
    return [
        {
            **found[name],
            "active": found[name]["name"] == active["name"]
            and found[name].get("source") == active.get("source"),
        }
        for name in sorted(found)
    ]


def rule_provenance(rule: RepeatRule) -> dict[str, Any]:
    if isinstance(rule, DeclarativeRule):
        return rule.provenance()
    module = type(rule).__module__
    return {
        "name": rule.name,
        "version": rule.version,
        "description": rule.description,
        "kind": "plugin",
        "source": f"{module}.{type(rule).__qualname__}",
    }
