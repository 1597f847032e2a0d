"""SPEC section 4, **Repeat-suspect rules**: the three built-ins at the 36-month edge, distinct
victims (a null ``victim_id`` counts as one more, reasons say "victim unknown"), the age
condition (``birth_year`` null is not excluded, reasons say "age unknown"), roles counted, a
rule file adopted through ``[scoring] repeat_rule``, a bad rule file's clear error, and the
``repeat_suspect`` flag on harm and frequency entries."""

from __future__ import annotations

import pytest

from harmrank.scoring.rules import RuleError

from .scenario import cfg, crime, link, load, score

INTERIM = cfg(scoring={"top_n": 100})
SERIAL = cfg(scoring={"repeat_rule": "rasso-serial", "top_n": 100})
MATAC = cfg(scoring={"repeat_rule": "matac-serial-da", "top_n": 100})

LAST = "2025-06-30"  # the as-at date of 2025-06; 36 months start 2022-07-01

# nominal: (crimes [(code, recorded_on, da, victim, status, role)], flagged?)
INTERIM_CASES = {
    "first day of M-35 counts": ([("19C", "2022-07-01"), ("19C", LAST)], True),
    "the day before M-35 does not": ([("19C", "2022-06-30"), ("19C", LAST)], False),
    "after the as-at date does not": ([("19C", "2025-07-01"), ("19C", "2025-06-01")], False),
    "one RASSO crime is not enough": ([("19C", LAST)], False),
    "two RASSO codes": ([("19C", "2023-01-01"), ("88A", "2024-01-01")], True),
    "DA-flagged non-RASSO crimes do not count": (
        [("8N", "2025-01-01"), ("8Q", "2025-02-01")],
        False,
    ),
    "VAWG but not RASSO (88D) does not count": (
        [("88D", "2025-01-01"), ("19C", "2025-02-01")],
        False,
    ),
    "cancelled does not count": (
        [("19C", "2025-01-01"), ("19C", "2025-02-01", "cancelled")],
        False,
    ),
    "transferred does not count": (
        [("19C", "2025-01-01"), ("19C", "2025-02-01", "transferred")],
        False,
    ),
    "eliminated does not count": (
        [("19C", "2025-01-01"), ("19C", "2025-02-01", "recorded", "eliminated")],
        False,
    ),
    "charged and convicted count": (
        [
            ("19C", "2025-01-01", "recorded", "charged"),
            ("19C", "2025-02-01", "recorded", "convicted"),
        ],
        True,
    ),
    "same victim twice is enough for the interim rule": (
        [
            ("19C", "2025-01-01", "recorded", "suspect", "V1"),
            ("19C", "2025-02-01", "recorded", "suspect", "V1"),
        ],
        True,
    ),
}


def _rows(cases):
    crimes, links = [], []
    for nid, (spec, _) in cases.items():
        for i, (code, on, status, role, victim, da) in enumerate(spec):
            cid = f"{nid}#{i}"
            da = code in ("8N", "8Q", "105A") if da is None else da
            crimes.append(crime(cid, code, on, da=da, victim=victim, status=status))
            links.append(link(cid, nid, role))
    return crimes, links


def _spec(code, on, status="recorded", role="suspect", victim=None, da=None):
    return (code, on, status, role, victim, da)


def _norm(cases):
    return {
        nid: ([_spec(*item) for item in spec], flagged) for nid, (spec, flagged) in cases.items()
    }


def _flagged(s, nid):
    on_repeat = nid in s.ids("ALL", "repeat")
    row = s.scored(nid)
    if row is not None:  # scored in the window: the flag on history and entries agrees
        assert row["repeat_suspect"] is on_repeat
        e = s.entry(nid, "ALL", "frequency")
        if e is not None:
            assert e["repeat_suspect"] is on_repeat
    return on_repeat


@pytest.fixture(scope="module")
def interim():
    crimes, links = _rows(_norm(INTERIM_CASES))
    return score(crimes, links, config=INTERIM)


@pytest.mark.parametrize("case", list(INTERIM_CASES))
def test_rasso_repeat_interim(interim, case):
    assert _flagged(interim, case) is INTERIM_CASES[case][1]


def test_interim_is_the_default_rule(interim):
    from harmrank.scoring import runs_table

    assert runs_table(interim.store)[0]["rule"] == "rasso-repeat-interim"


SERIAL_CASES = {
    "two crimes, same victim: not serial": (
        [_spec("19C", "2025-01-01", victim="V1"), _spec("19C", "2025-02-01", victim="V1")],
        False,
    ),
    "two crimes, two victims": (
        [_spec("19C", "2025-01-01", victim="V1"), _spec("19D", "2025-02-01", victim="V2")],
        True,
    ),
    "one known victim and one unknown: two distinct": (
        [_spec("19C", "2025-01-01", victim="V1"), _spec("19C", "2025-02-01")],
        True,
    ),
    "two unknown victims: two distinct": (
        [_spec("19C", "2025-01-01"), _spec("19C", "2025-02-01")],
        True,
    ),
    "two victims but one crime outside 36 months": (
        [_spec("19C", "2022-06-30", victim="V1"), _spec("19C", LAST, victim="V2")],
        False,
    ),
    "two victims at the 36-month edge": (
        [_spec("19C", "2022-07-01", victim="V1"), _spec("19C", LAST, victim="V2")],
        True,
    ),
    "same victim twice in 36 months, another victim only before them": (
        [
            _spec("19C", "2022-06-30", victim="V2"),
            _spec("19C", "2025-01-01", victim="V1"),
            _spec("19C", "2025-02-01", victim="V1"),
        ],
        False,
    ),
    "second victim only on a non-RASSO crime": (
        [
            _spec("19C", "2025-01-01", victim="V1"),
            _spec("19C", "2025-01-02", victim="V1"),
            _spec("8N", "2025-01-03", victim="V2"),
        ],
        False,
    ),
}


@pytest.fixture(scope="module")
def serial():
    crimes, links = _rows(SERIAL_CASES)
    return score(crimes, links, config=SERIAL)


@pytest.mark.parametrize("case", list(SERIAL_CASES))
def test_rasso_serial(serial, case):
    assert _flagged(serial, case) is SERIAL_CASES[case][1]


def _reasons(s, nid):
    (e,) = [e for e in s.entries("ALL", "repeat") if e["nominal_id"] == nid]
    return e


def test_victim_unknown_is_in_the_reasons_and_not_in_victims(serial):
    e = _reasons(serial, "one known victim and one unknown: two distinct")
    assert any("victim unknown" in r for r in e["reasons"])
    assert e["victims"] == 1  # known victims only
    e = _reasons(serial, "two unknown victims: two distinct")
    assert any("victim unknown" in r for r in e["reasons"])
    assert e["victims"] == 0
    e = _reasons(serial, "two crimes, two victims")
    assert not any("victim unknown" in r for r in e["reasons"])
    assert e["victims"] == 2


# matac-serial-da: >= 2 DA-flagged crimes, >= 2 distinct victims, 36 months, aged 16+ ----------
def _matac_rows():
    nominals = {
        "AGE16": 2009,  # 2025 - 2009 = 16: counts whatever the birthday
        "AGE15": 2010,  # 15: excluded
        "NO_BIRTH_YEAR": None,  # not excluded, reasons say "age unknown"
        "NOT_IN_FILE": "absent",
        "ONE_VICTIM": 1980,
        "NOT_DA": 1980,  # RASSO crimes without the DA flag do not count
        "DA_ANY_CODE": 1980,  # a DA flag on a non-VAWG code counts
    }
    crimes, links, rows = [], [], []
    for nid, by in nominals.items():
        victims = ("V1", "V1") if nid == "ONE_VICTIM" else (f"{nid}-a", f"{nid}-b")
        code, da = (
            ("19C", False)
            if nid == "NOT_DA"
            else (("105A", True) if nid == "DA_ANY_CODE" else ("8N", True))
        )
        for i, v in enumerate(victims):
            cid = f"{nid}#{i}"
            crimes.append(crime(cid, code, f"2025-0{i + 1}-01", da=da, victim=v))
            links.append(link(cid, nid))
        if by != "absent":
            rows.append(
                {"nominal_id": nid, "birth_year": by if by is not None else "", "home_lpa": ""}
            )
    return crimes, links, rows


MATAC_EXPECTED = {
    "AGE16": True,
    "AGE15": False,
    "NO_BIRTH_YEAR": True,
    "NOT_IN_FILE": True,
    "ONE_VICTIM": False,
    "NOT_DA": False,
    "DA_ANY_CODE": True,
}


@pytest.fixture(scope="module")
def matac():
    crimes, links, nominals = _matac_rows()
    return score(crimes, links, nominals=nominals, config=MATAC)


@pytest.mark.parametrize("nominal", list(MATAC_EXPECTED))
def test_matac_serial_da(matac, nominal):
    assert _flagged(matac, nominal) is MATAC_EXPECTED[nominal]


@pytest.mark.parametrize(
    ("nominal", "unknown"), [("NO_BIRTH_YEAR", True), ("NOT_IN_FILE", True), ("AGE16", False)]
)
def test_age_unknown_is_in_the_reasons(matac, nominal, unknown):
    assert any("age unknown" in r for r in _reasons(matac, nominal)["reasons"]) is unknown


def test_age_is_the_year_of_the_as_at_month_minus_birth_year():
    # born 2009: 15 at every as-at date in 2024, 16 from January 2025 (whatever the birthday)
    s = score(
        [crime("X1", "8N", "2024-01-10", victim="a"), crime("X2", "8N", "2024-02-10", victim="b")],
        [link("X1", "Y"), link("X2", "Y")],
        nominals=[{"nominal_id": "Y", "birth_year": 2009, "home_lpa": ""}],
        config=MATAC,
        months=["2024-12", "2025-01"],
    )
    assert s.ids("ALL", "repeat", "2024-12") == []
    assert s.ids("ALL", "repeat", "2025-01") == ["Y"]


# rule files -----------------------------------------------------------------------------------
RULE = """
name = "force-test-rule"
version = "7"
description = "Three convicted 8N crimes in 12 months"
offences = ["8N"]
include_domestic_abuse = false
min_crimes = 3
min_distinct_victims = 1
window_months = 12
roles = ["convicted"]
"""


def test_a_rule_file_adopted_through_the_configuration(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "force.toml").write_text(RULE, encoding="utf-8")
    config = cfg(tmp_path, scoring={"repeat_rule": "rules/force.toml"})
    crimes = [crime(f"A{i}", "8N", f"2025-0{i + 1}-01", da=False) for i in range(3)]
    crimes += [crime(f"B{i}", "8N", f"2025-0{i + 1}-01", da=False) for i in range(3)]
    crimes += [
        crime(f"C{i}", "8N", d, da=False)
        for i, d in enumerate(["2024-06-30", "2025-01-01", "2025-02-01"])
    ]
    crimes += [crime(f"D{i}", "19C", f"2025-0{i + 1}-01", da=False) for i in range(3)]
    links = [link(f"A{i}", "THREE_CONVICTED", "convicted") for i in range(3)]
    links += [link("B0", "ONE_CHARGED", "charged")] + [
        link(f"B{i}", "ONE_CHARGED", "convicted") for i in (1, 2)
    ]
    links += [link(f"C{i}", "ONE_OLD", "convicted") for i in range(3)]
    links += [link(f"D{i}", "RASSO", "convicted") for i in range(3)]
    s = score(crimes, links, config=config)
    assert s.ids("ALL", "repeat") == ["THREE_CONVICTED"]
    from harmrank.scoring import runs_table

    run = runs_table(s.store)[0]
    assert (run["rule"], run["rule_version"]) == ("force-test-rule", "7")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name = ", "not a valid TOML"),
        (RULE.replace('roles = ["convicted"]', 'roles = ["witness"]'), "witness"),
        (RULE.replace("min_crimes = 3", "min_crimes = 3\nmin_crimez = 4"), "min_crimez"),
        (RULE.replace('offences = ["8N"]\n', ""), "offences"),
        (RULE.replace("min_crimes = 3", 'min_crimes = "three"'), "min_crimes"),
    ],
)
def test_a_bad_rule_file_gives_a_clear_error(tmp_path, text, says):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    s = load(
        [crime("C1")], [link("C1", "N1")], config=cfg(tmp_path, scoring={"repeat_rule": "bad.toml"})
    )
    with pytest.raises(RuleError) as err:
        s.run()
    assert "bad.toml" in str(err.value)
    assert says in str(err.value)
    assert s.store.scalar("SELECT count(*) FROM runs") == 0  # nothing stored


def test_a_missing_rule_file_or_unknown_rule_name(tmp_path):
    s = load(
        [crime("C1")],
        [link("C1", "N1")],
        config=cfg(tmp_path, scoring={"repeat_rule": "nope.toml"}),
    )
    with pytest.raises(RuleError, match="nope.toml"):
        s.run()
    s = load(
        [crime("C1")],
        [link("C1", "N1")],
        config=cfg(tmp_path, scoring={"repeat_rule": "npcc-2030"}),
    )
    with pytest.raises(RuleError, match="npcc-2030"):
        s.run()


def test_rules_count_on_the_scoring_date_basis():
    # committed_on basis: a crime recorded inside 36 months but committed before does not count
    crimes = [
        crime("C1", "19C", "2025-01-01", committed="2022-06-30", da=False),
        crime("C2", "19C", "2025-02-01", da=False),
        crime("D1", "19C", "2025-01-01", committed="2022-07-01", da=False),
        crime("D2", "19C", "2025-02-01", da=False),
    ]
    links = [link("C1", "OUT"), link("C2", "OUT"), link("D1", "IN"), link("D2", "IN")]
    s = score(crimes, links, config=cfg(scoring={"date_basis": "committed_on"}))
    assert s.ids("ALL", "repeat") == ["IN"]
    plain = score(crimes, links)
    assert sorted(plain.ids("ALL", "repeat")) == ["IN", "OUT"]


# Python plugins ---------------------------------------------------------------------------------
class ConvictedTwice:
    """A plugin rule: two convicted links of any recorded crime in the 36 months (whole sets)."""

    name = "test-convicted-twice"
    version = "1"
    description = "two convictions"

    def evaluate(self, ctx):
        from harmrank.scoring.rules import RuleResult

        rows = ctx.con.sql(
            """
            WITH q AS (
                SELECT m.month, l.nominal_id, l.crime_id
                FROM rule_months m JOIN rule_links l
                  ON l.basis_on BETWEEN (m.first_day - INTERVAL 35 MONTH)::DATE AND m.as_at
                WHERE l.role = 'convicted'
            ), flagged AS (SELECT month, nominal_id FROM q GROUP BY ALL HAVING count(*) >= 2)
            SELECT q.* FROM q JOIN flagged USING (month, nominal_id)
            """
        ).pl()
        import polars as pl

        reasons = (
            rows.select("month", "nominal_id")
            .unique()
            .with_columns(pl.lit(["two convictions"]).alias("reasons"))
        )
        return RuleResult(rows, reasons)


class _EntryPoint:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"tests:{name}", obj

    def load(self):
        return self._obj


def test_a_python_plugin_rule_from_the_entry_point_group(monkeypatch):
    import harmrank.scoring.rules as rules

    def fake(group):
        assert group == "harmrank.repeat_rules"
        return [_EntryPoint("convicted", ConvictedTwice)]

    monkeypatch.setattr(rules, "entry_points", fake)
    s = score(
        [crime("C1", "105A", da=False), crime("C2", "8N", da=False), crime("C3", "19C")],
        [
            link("C1", "P"),
            link("C2", "P", "convicted"),
            link("C1", "Q", "convicted"),
            link("C2", "Q", "convicted"),
        ],
        config=cfg(scoring={"repeat_rule": "test-convicted-twice"}),
    )
    (e,) = s.entries("ALL", "repeat")
    assert (e["nominal_id"], e["qualifying"], e["reasons"]) == ("Q", 2, ["two convictions"])
    assert {c["crime_id"] for c in e["crimes"]} == {"C1", "C2"}


class NamesAnUnknownCrime(ConvictedTwice):
    """A plugin that names a crime its nominal is not linked to in rule_links."""

    name = "test-unknown-crime"

    def evaluate(self, ctx):
        import polars as pl

        from harmrank.scoring.rules import RuleResult

        result = super().evaluate(ctx)
        extra = result.qualifying.head(1).with_columns(pl.lit("NOT-A-CRIME").alias("crime_id"))
        return RuleResult(pl.concat([result.qualifying, extra]), result.reasons)


def test_a_plugin_that_names_a_crime_it_was_not_given_is_refused(monkeypatch):
    import harmrank.scoring.rules as rules

    monkeypatch.setattr(
        rules, "entry_points", lambda group: [_EntryPoint("unknown", NamesAnUnknownCrime)]
    )
    s = load(
        [crime("C1", "105A", da=False), crime("C2", "8N", da=False)],
        [link("C1", "Q", "convicted"), link("C2", "Q", "convicted")],
        config=cfg(scoring={"repeat_rule": "test-unknown-crime"}),
    )
    with pytest.raises(RuleError, match="1 qualifying crime.*'Q'.*'NOT-A-CRIME'"):
        s.run()
    assert s.store.scalar("SELECT count(*) FROM runs") == 0  # nothing half-written


def _reasons_dropped(result):
    return result.qualifying, result.reasons.head(0)


def _reasons_twice(result):
    import polars as pl

    return result.qualifying, pl.concat([result.reasons, result.reasons])


def _reasons_for_nobody(result):
    import polars as pl

    other = result.reasons.with_columns(pl.lit("P").alias("nominal_id"))
    return result.qualifying, pl.concat([result.reasons, other])


def _another_month(result):
    """Crimes and reasons both, but for a month the run did not ask about."""
    import polars as pl

    def moved(df):  # M's decision again, as if for January 1999
        last = df.filter(pl.col("month") == df.get_column("month").max())
        return pl.concat([df, last.with_columns(pl.lit("1999-01").alias("month"))])

    return moved(result.qualifying), moved(result.reasons)


@pytest.mark.parametrize(
    "answer, problem",
    [
        (
            _another_month,
            "a decision for a month it was not asked about for 1 decision.* in 1999-01",
        ),
        (_reasons_dropped, "qualifying crimes but no reasons for 2 decision.*'Q'"),
        (_reasons_twice, "more than one row of reasons for 2 decision.*'Q'"),
        (_reasons_for_nobody, "reasons but no qualifying crimes for 2 decision.*'P'"),
    ],
)
def test_a_plugin_whose_reasons_do_not_match_its_decisions_is_refused(monkeypatch, answer, problem):
    """Each decision is shown with its crimes and its reasons: a decision without reasons
    would be flagged but missing from the repeat list, one with two lists of reasons would
    be counted twice, reasons without crimes are a decision nobody can check, and a decision
    for a month the run does not score would be dropped. (Q is
    flagged at M and at M-1, which a run scores for movement: two decisions.)"""
    import harmrank.scoring.rules as rules
    from harmrank.scoring.rules import RuleResult

    class Mismatched(ConvictedTwice):
        name = "test-mismatched"

        def evaluate(self, ctx):
            result = super().evaluate(ctx)
            return RuleResult(*answer(result))

    monkeypatch.setattr(rules, "entry_points", lambda group: [_EntryPoint("m", Mismatched)])
    s = load(
        [crime("C1", "105A", da=False), crime("C2", "8N", da=False)],
        [link("C1", "Q", "convicted"), link("C2", "Q", "convicted"), link("C1", "P")],
        config=cfg(scoring={"repeat_rule": "test-mismatched"}),
    )
    with pytest.raises(RuleError, match=f"'test-mismatched' gave {problem}"):
        s.run()
    assert s.store.scalar("SELECT count(*) FROM runs") == 0  # nothing half-written


def test_a_plugin_may_not_take_a_built_in_name(monkeypatch):
    import harmrank.scoring.rules as rules

    class Clash(ConvictedTwice):
        name = "rasso-serial"

    monkeypatch.setattr(rules, "entry_points", lambda group: [_EntryPoint("clash", Clash)])
    s = load([crime("C1")], [link("C1", "N1")])
    with pytest.raises(RuleError, match="rasso-serial"):
        s.run()


def test_an_overridden_rasso_set_is_what_the_built_in_rules_count():
    crimes = [crime(f"C{i}", "8N", f"2025-0{i + 1}-01", da=False) for i in range(2)]
    crimes += [crime(f"D{i}", "19C", f"2025-0{i + 1}-01", da=False) for i in range(2)]
    links = [link("C0", "ASSAULT"), link("C1", "ASSAULT"), link("D0", "RAPE"), link("D1", "RAPE")]
    s = score(crimes, links, config=cfg(scoring={"offence_sets": {"rasso": ["8N"]}}))
    assert s.ids("ALL", "repeat") == ["ASSAULT"]


class _FileRuleAsPlugin:
    """A built-in rule file behind the plugin interface, so that the engine takes the path of
    Python plugins (polars frames) instead of keeping the rule's SQL in DuckDB."""

    def __init__(self, name):
        from harmrank.scoring.rules import builtin_rules

        self._rule = builtin_rules()[name]
        self.name, self.version = f"plugin-{name}", "1"
        self.description = self._rule.description

    def evaluate(self, ctx):
        return self._rule.evaluate(ctx)


def _repeat_lists(s):
    return [(o["lpa"], o["entries"]) for o in s.objects(kind="repeat")]


@pytest.mark.parametrize("name", ["rasso-repeat-interim", "rasso-serial", "matac-serial-da"])
def test_a_rule_file_gives_the_same_repeat_lists_in_duckdb_as_through_the_plugin_path(
    monkeypatch, name
):
    import harmrank.scoring.rules as rules

    crimes, links, nominals = _matac_rows()
    more_crimes, more_links = _rows(_norm(INTERIM_CASES))
    crimes, links = crimes + more_crimes, links + more_links
    direct = score(crimes, links, nominals=nominals, config=cfg(scoring={"repeat_rule": name}))
    plugin = _FileRuleAsPlugin(name)
    monkeypatch.setattr(rules, "entry_points", lambda group: [_EntryPoint("p", plugin)])
    through = score(
        crimes, links, nominals=nominals, config=cfg(scoring={"repeat_rule": plugin.name})
    )
    assert any(entries for _, entries in _repeat_lists(direct))
    assert _repeat_lists(direct) == _repeat_lists(through)


def test_plugins_are_read_again_when_a_package_is_installed(monkeypatch, tmp_path):
    """The entry points are kept between runs (reading them scans every installed package)
    while the folders on the import path are unchanged; installing a package changes its
    folder, and the new plugin is seen."""
    import os
    import sys

    import harmrank.scoring.rules as rules

    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    installed = [_EntryPoint("convicted", ConvictedTwice)]
    reads = []

    def fake(group):
        reads.append(group)
        return list(installed)

    monkeypatch.setattr(rules, "entry_points", fake)
    assert "test-convicted-twice" in rules.registered_rules()
    assert "test-convicted-twice" in rules.registered_rules()
    assert len(reads) == 1

    class Other(ConvictedTwice):
        name = "test-other"

    installed.append(_EntryPoint("other", Other))
    (site / "other-1.0.dist-info").mkdir()  # what installing a package does to its folder
    os.utime(site, ns=(0, os.stat(site).st_mtime_ns + 1_000_000_000))
    assert {"test-convicted-twice", "test-other"} <= set(rules.registered_rules())
    assert len(reads) == 2
