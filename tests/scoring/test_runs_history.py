"""SPEC section 5, **Runs, snapshots and history**: a new run per re-run, reads use the latest
(or, with ``[review] required``, the latest approved) run; four-eyes approval; a nominal's
history is one row per month in which it is scored, for every scored nominal, with its ranks in
its LPA's lists."""

from __future__ import annotations

import pytest

from harmrank.scoring import NotFound, RunError, approve_runs, backfill, run_month, runs_table

from .scenario import cfg, crime, link, load, score, w

HISTORY_KEYS = [
    "month",
    "harm",
    "frequency",
    "victims",
    "lpa",
    "harm_rank",
    "frequency_rank",
    "on_harm_list",
    "on_frequency_list",
    "repeat_suspect",
]


def test_rerunning_a_month_makes_a_new_run_and_reads_use_it():
    s = score([crime("C1", "19C")], [link("C1", "N1")])
    first = s.objects("ALL", "harm")[0]["run_id"]
    s.ingest(crimes=[crime("C2", "19D")], suspects=[link("C2", "N1")]).run()
    runs = runs_table(s.store)
    assert [r["month"] for r in runs] == ["2025-06", "2025-06"]
    second = s.objects("ALL", "harm")[0]["run_id"]
    assert second != first and {r["run_id"] for r in runs} == {first, second}
    assert s.scored("N1")["harm"] == w("19C", "19D")  # history reads the new run
    assert s.entry("N1")["harm"] == w("19C", "19D")


def test_runs_carry_run_id_month_and_status():
    s = score([crime("C1", "19C")], [link("C1", "N1")])
    (r,) = runs_table(s.store)
    assert r["month"] == "2025-06" and r["status"] == "draft" and r["run_id"]
    for key in ("data_fingerprint", "engine_version", "rule", "rule_version", "weights", "config"):
        assert r[key] is not None


REVIEW = cfg(review={"required": True})


def test_review_required_reads_only_approved_runs():
    s = load([crime("C1", "19C")], [link("C1", "N1")], config=REVIEW)
    r1 = run_month(s.store, "2025-06", REVIEW, user="alice")
    with pytest.raises(NotFound, match="approved"):
        s.objects()
    assert s.history("N1") == []
    with pytest.raises(RunError, match="alice"):
        approve_runs(s.store, [r1.run_id], by="alice")  # the starter cannot approve
    approve_runs(s.store, [r1.run_id], by="bob")
    assert s.objects("ALL", "harm")[0]["run_id"] == r1.run_id
    assert s.objects("ALL", "harm")[0]["status"] == "approved"
    # a newer draft does not replace the approved run in reads
    s.ingest(crimes=[crime("C2", "19D")], suspects=[link("C2", "N1")])
    r2 = run_month(s.store, "2025-06", REVIEW, user="alice")
    assert s.objects("ALL", "harm")[0]["run_id"] == r1.run_id
    assert s.scored("N1")["harm"] == w("19C")
    approve_runs(s.store, [r2.run_id], by="carol")
    assert s.objects("ALL", "harm")[0]["run_id"] == r2.run_id
    assert s.scored("N1")["harm"] == w("19C", "19D")


def test_without_review_reads_use_the_latest_run_draft_or_not():
    s = load([crime("C1", "19C")], [link("C1", "N1")])
    r1 = run_month(s.store, "2025-06", s.config, user="alice")
    approve_runs(s.store, [r1.run_id], by="bob")
    r2 = run_month(s.store, "2025-06", s.config, user="alice")
    assert s.objects("ALL", "harm")[0]["run_id"] == r2.run_id


def test_approval_refuses_unknown_and_approved_runs():
    s = load([crime("C1", "19C")], [link("C1", "N1")])
    r = run_month(s.store, "2025-06", s.config, user="alice")
    with pytest.raises(RunError):
        approve_runs(s.store, ["R999999"], by="bob")
    approve_runs(s.store, [r.run_id], by="bob")
    with pytest.raises(RunError):
        approve_runs(s.store, [r.run_id], by="carol")


# history --------------------------------------------------------------------------------------
def _backfilled():
    # N1 is scored in 2025-01 and 2025-02 (its crime of 2024-03-10 leaves the window when
    # 2025-03's starts on 2024-04-01), then again from 2025-05 with new crimes.
    crimes = [
        crime("C1", "19C", "2024-03-10", lpa="Herefordshire"),
        crime("C2", "8U", "2025-05-20", da=False),
        crime("C3", "19C", "2025-06-01", da=False, lpa="Herefordshire"),
        crime("C4", "19C", "2025-06-02", da=False, lpa="Herefordshire"),
    ]
    crimes += [crime(f"X{i}", "19D", "2025-01-05") for i in range(11)]
    links = [link("C1", "N1"), link("C2", "N1"), link("C3", "N1"), link("C4", "N1")]
    links += [link(f"X{i}", f"X{i:02d}") for i in range(11)]
    s = load(crimes, links)
    backfill(s.store, "2025-01", "2025-06", s.config)
    return s


@pytest.fixture(scope="module")
def months():
    return _backfilled()


def test_history_has_one_row_per_month_scored(months):
    rows = months.history("N1")
    assert [r["month"] for r in rows] == ["2025-01", "2025-02", "2025-05", "2025-06"]
    for r in rows:
        assert list(r) == HISTORY_KEYS


def test_history_row_values(months):
    rows = {r["month"]: r for r in months.history("N1")}
    jan = rows["2025-01"]
    assert (jan["harm"], jan["frequency"], jan["victims"], jan["lpa"]) == (
        w("19C"),
        1,
        0,
        "Herefordshire",
    )
    assert (jan["harm_rank"], jan["frequency_rank"]) == (1, 1)  # alone in Herefordshire
    assert jan["on_harm_list"] is True and jan["on_frequency_list"] is True
    may = rows["2025-05"]
    assert (may["harm"], may["frequency"], may["lpa"]) == (0, 1, "Shropshire")
    assert may["harm_rank"] is None and may["on_harm_list"] is False
    # in Shropshire with the eleven X nominals (19D, frequency 1, harm > 0): frequency rank 12
    assert may["frequency_rank"] == 12 and may["on_frequency_list"] is False
    assert may["repeat_suspect"] is False
    jun = rows["2025-06"]
    assert (jun["harm"], jun["frequency"], jun["lpa"]) == (w("19C", "19C"), 3, "Herefordshire")
    assert jun["repeat_suspect"] is True  # two RASSO crimes in 36 months


def test_history_covers_nominals_off_the_top_ten(months):
    # X00..X10 tie exactly: X10 is 11th in Shropshire and force-wide
    rows = months.history("X10")
    assert [r["month"] for r in rows] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    jan = rows[0]
    assert jan["harm_rank"] == 11 and jan["on_harm_list"] is False
    assert jan["frequency_rank"] == 11 and jan["on_frequency_list"] is False


def test_history_from_to(months):
    from harmrank.scoring import history

    got = history(months.store, "N1", months.config, first="2025-02", last="2025-05")
    assert got["nominal_id"] == "N1"
    assert [r["month"] for r in got["months"]] == ["2025-02", "2025-05"]


def test_history_follows_a_rerun_month():
    s = _backfilled()
    s.ingest(
        crimes=[crime("C9", "19G", "2025-02-01", lpa="Herefordshire")], suspects=[link("C9", "N9")]
    )
    run_month(s.store, "2025-02", s.config)
    assert [r["month"] for r in s.history("N9")] == ["2025-02"]  # only the re-run month
    rows = {r["month"]: r for r in s.history("N1")}
    assert rows["2025-02"]["harm_rank"] == 2  # N9 now first in Herefordshire
    assert rows["2025-01"]["harm_rank"] == 1  # the other months keep their runs


def test_history_of_an_unknown_nominal_is_empty(months):
    assert months.history("NOBODY") == []


# backfill ------------------------------------------------------------------------------------
def _strip(objects):
    """List objects without what differs between two runs of the same month."""
    return [{k: v for k, v in o.items() if k != "run_id"} for o in objects]


def test_backfill_equals_single_runs_across_its_batches():
    # 26 months: more than one shared pass (batches of 24); every month, including the first
    # of a later pass, must equal a run of that month alone (movement included).
    crimes = [
        crime(
            f"C{i}",
            code,
            f"{2023 + (i % 3)}-{(i * 5) % 12 + 1:02d}-{(i % 27) + 1:02d}",
            da=True,
            victim=f"V{i % 4}",
        )
        for i, code in enumerate(
            ["19C", "8N", "19D", "8U", "20A", "8N", "19C", "88D", "8N", "19G"] * 3
        )
    ]
    links = [link(c["crime_id"], f"N{i % 7}") for i, c in enumerate(crimes)]
    links += [link(c["crime_id"], f"M{i % 5}", "charged") for i, c in enumerate(crimes) if i % 2]
    config = cfg(scoring={"top_n": 3})
    filled = load(crimes, links, config=config)
    backfill(filled.store, "2023-06", "2025-07", config)
    for month in ("2023-06", "2025-06", "2025-07"):  # 2025-06 opens the second pass
        alone = load(crimes, links, config=config)
        alone.run(month)
        assert _strip(filled.objects(month=month)) == _strip(alone.objects(month=month)), month
    assert len(runs_table(filled.store)) == 26
    assert len({r["backfill_id"] for r in runs_table(filled.store)}) == 1


# data quality ----------------------------------------------------------------------------------
def test_every_run_reports_unweighted_codes_and_crimes_per_lpa_and_month():
    import json

    s = load(
        [
            crime("C1", "8U", "2025-06-10", da=False),
            crime("C2", "19C", "2025-05-10"),
            crime("C3", "8K", "2025-06-11"),
            crime("C4", "8N", "2025-04-10", lpa="Herefordshire", da=False),  # not VAWG
        ],
        # C1 has two suspects: its code is reported once, as one crime
        [link("C1", "N1"), link("C1", "N3"), link("C2", "N1"), link("C3", "N2")],
        lpas=["Shropshire", "Herefordshire"],
    )
    s.run()
    dq = json.loads(s.store.scalar("SELECT data_quality FROM runs"))
    assert dq["unweighted_codes"] == {"8U": 1, "8K": 1}
    per = dq["crimes_per_lpa_month"]
    assert per["Shropshire"]["2025-06"]["crimes"] == 2
    assert per["Shropshire"]["2025-05"]["crimes"] == 1
    assert per["Herefordshire"]["2025-04"] == {"crimes": 1, "vawg_crimes": 0}
    # "no data" is never shown as "no offending": every LPA and month of the window is there
    assert per["Herefordshire"]["2025-06"]["crimes"] == 0
    window = [f"2024-{m:02d}" for m in range(7, 13)] + [f"2025-{m:02d}" for m in range(1, 7)]
    assert sorted(per["Herefordshire"]) == window
    # an LPA-month with no crime at all is named; one with crimes but none of them VAWG is not
    assert dq["empty_lpa_months"] == [f"Herefordshire {m}" for m in window if m != "2025-04"] + [
        f"Shropshire {m}" for m in window if m not in ("2025-05", "2025-06")
    ]


def test_the_data_quality_report_counts_quarantined_rows():
    import json

    from harmrank.testing import store_from_rows

    store, report = store_from_rows(
        crimes=[crime("C1", "19C"), crime("C2", "19C", "not-a-date")],
        suspects=[link("C1", "N1"), link("C2", "N2")],
    )
    assert report.files["crimes"].quarantined == 1 and report.files["suspects"].quarantined == 1
    run_month(store, "2025-06", cfg())
    dq = json.loads(store.scalar("SELECT data_quality FROM runs"))
    assert dq["quarantined_rows"]["latest_load"] == {"crimes": 1, "suspects": 1}
