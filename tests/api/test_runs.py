"""SPEC sections 5 and 7: runs over HTTP in the background while reads go on, one run at a
time, review before use, four-eyes approval."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import harmrank.scoring.runs as runs_module

from .helpers import JUSTIFICATION, LAST, Api, review_config


@pytest.fixture
def held_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Runs that stop inside their transaction, after writing, until released."""
    writing, release = threading.Event(), threading.Event()
    real = runs_module._persist

    def persist_then_wait(*args, **kwargs):
        out = real(*args, **kwargs)
        writing.set()
        assert release.wait(30), "the test never released the run"
        return out

    monkeypatch.setattr(runs_module, "_persist", persist_then_wait)
    yield writing, release
    release.set()


def test_run_in_background_while_reads_continue(api: Api, held_runs) -> None:
    writing, release = held_runs
    sue = api.token("sue", "supervisor")
    ana = api.token("ana", "analyst")
    started = api.post("/api/v1/runs", sue, json={"month": LAST})
    assert started.status_code == 202
    job = started.json()
    assert job["state"] in ("queued", "running") and job["requested_by"] == "sue"
    assert writing.wait(30)
    # the run is half-written inside its transaction: reads are served, from the old run
    for _ in range(3):
        lists = api.get(f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", ana)
        assert lists.status_code == 200
        assert lists.json()["run_id"] == "R000006"
    assert [r["run_id"] for r in api.get("/api/v1/runs", sue).json()][0] == "R000006"
    assert api.get(f"/api/v1/runs/jobs/{job['job_id']}", sue).json()["state"] == "running"
    release.set()
    done = api.jobs.wait(job["job_id"])
    assert done.state == "done" and done.run_id == "R000007" and done.status == "draft"
    assert api.get(f"/api/v1/runs/jobs/{job['job_id']}", sue).json()["run_id"] == "R000007"
    runs = api.get("/api/v1/runs", sue).json()
    assert (runs[0]["run_id"], runs[0]["created_by"]) == ("R000007", "sue")
    # no review step configured: reads move to the newest run
    assert (
        api.get(f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", ana).json()["run_id"] == "R000007"
    )
    # the run itself is in the audit log, under the user who asked for it
    actions = [(r["action"], r["user_name"]) for r in api.audit_rows()]
    assert ("run", "sue") in actions


def test_runs_are_made_one_at_a_time(api: Api, held_runs) -> None:
    writing, release = held_runs
    admin = api.token("adam", "admin")
    first = api.post("/api/v1/runs", admin, json={"month": "2025-05"}).json()
    assert writing.wait(30)
    second = api.post("/api/v1/runs", admin, json={"month": "2025-04"}).json()
    again = api.post("/api/v1/runs", admin, json={"month": "2025-05"}).json()
    assert again["job_id"] == first["job_id"]  # a month already queued is not queued twice
    assert api.jobs.get(second["job_id"]).state == "queued"
    release.set()
    one, two = api.jobs.wait(first["job_id"]), api.jobs.wait(second["job_id"])
    assert (one.state, two.state) == ("done", "done")
    assert sorted([one.run_id, two.run_id]) == ["R000007", "R000008"]


def test_failed_run_is_reported_not_raised(make_api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = make_api()

    def refuse(*args, **kwargs):
        raise runs_module.RunError("the database holds no extract yet")

    monkeypatch.setattr("harmrank.api.runner.run_month", refuse)
    sue = api.token("sue", "supervisor")
    job = api.post("/api/v1/runs", sue, json={"month": LAST}).json()
    done = api.jobs.wait(job["job_id"])
    assert done.state == "failed" and "no extract" in done.error


def test_unknown_job_is_404(api: Api) -> None:
    sue = api.token("sue", "supervisor")
    assert api.get("/api/v1/runs/jobs/nope", sue).status_code == 404


def test_four_eyes(api: Api) -> None:
    sue, sam = api.token("sue", "supervisor"), api.token("sam", "supervisor")
    job = api.post("/api/v1/runs", sue, json={"month": LAST}).json()
    run_id = api.jobs.wait(job["job_id"]).run_id
    own = api.post(f"/api/v1/runs/{run_id}/approve", sue)
    assert own.status_code == 403
    assert "other than the one who started it" in own.json()["detail"]
    ok = api.post(f"/api/v1/runs/{run_id}/approve", sam)
    assert ok.status_code == 200
    assert ok.json() == {"approved": [run_id], "approved_by": "sam"}
    run = next(r for r in api.get("/api/v1/runs", sam).json() if r["run_id"] == run_id)
    assert (run["status"], run["approved_by"]) == ("approved", "sam")
    assert api.post(f"/api/v1/runs/{run_id}/approve", sam).status_code == 409
    assert api.post("/api/v1/runs/R999999/approve", sam).status_code == 404
    approvals = [r for r in api.audit_rows() if r["action"] == "approve"]
    assert {r["user_name"] for r in approvals} == {"sue", "sam"}  # refused and granted, both logged
    assert any(r["status"] == 403 and r["user_name"] == "sue" for r in approvals)


def test_approving_needs_a_supervisor_who_sees_every_lpa(api: Api) -> None:
    # approving publishes every list of the run (ALL too), which a supervisor limited to one
    # LPA may not read: refused, and logged
    shaun = api.token("shaun", "supervisor", lpas=["Shropshire"])
    refused = api.post("/api/v1/runs/R000006/approve", shaun)
    assert refused.status_code == 403
    assert "sees every LPA" in refused.json()["detail"]
    run = next(r for r in api.get("/api/v1/runs", shaun).json() if r["run_id"] == "R000006")
    assert run["status"] == "draft"
    approvals = [r for r in api.audit_rows() if r["action"] == "approve"]
    assert [(r["user_name"], r["status"]) for r in approvals] == [("shaun", 403)]
    sam = api.token("sam", "supervisor")
    assert api.post("/api/v1/runs/R000006/approve", sam).status_code == 200


def test_admin_starts_but_never_approves(api: Api) -> None:
    adam = api.token("adam", "admin")
    assert api.post("/api/v1/runs", adam, json={"month": LAST}).status_code == 202
    assert api.post("/api/v1/runs/R000006/approve", adam).status_code == 403


def test_review_required_analysts_see_approved_runs_only(make_api) -> None:
    api = make_api(review_config())
    ana = api.token("ana", "analyst")
    sue = api.token("sue", "supervisor")
    url = f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm"
    assert api.get(url, ana).status_code == 404  # every run is a draft
    assert api.get("/api/v1/months", ana).json()["months"] == []
    assert (
        api.get(f"/api/v1/nominals/NS01/explain?month={LAST}", ana, JUSTIFICATION).status_code
        == 404
    )
    # analysts may never name a run; supervisors read the draft to review it
    assert api.get(url + "&run_id=R000006", ana).status_code == 403
    draft = api.get(url + "&run_id=R000006", sue)
    assert draft.status_code == 200 and draft.json()["status"] == "draft"
    assert api.get(url, sue).status_code == 404  # without run_id a supervisor too reads approved
    assert api.post("/api/v1/runs/R000006/approve", sue).status_code == 200
    approved = api.get(url, ana)
    assert approved.status_code == 200
    assert (approved.json()["run_id"], approved.json()["status"]) == ("R000006", "approved")
    assert api.get("/api/v1/months", ana).json()["months"] == [LAST]


def test_run_id_of_another_month_is_404(api: Api) -> None:
    sue = api.token("sue", "supervisor")
    response = api.get(f"/api/v1/lists/{LAST}?run_id=R000001", sue)
    assert response.status_code == 404


def test_backfill_approved_together(make_api) -> None:
    api = make_api(review_config())
    sam = api.token("sam", "supervisor")
    response = api.post("/api/v1/runs/approve", sam, json={"backfill_id": "B000001"})
    assert response.status_code == 200
    assert response.json()["approved"] == [f"R00000{i}" for i in range(1, 7)]
    ana = api.token("ana", "analyst")
    assert len(api.get("/api/v1/months", ana).json()["months"]) == 6
    assert api.post("/api/v1/runs/approve", sam, json={"backfill_id": "B000001"}).status_code == 404
    assert api.post("/api/v1/runs/approve", sam, json={"run_ids": []}).status_code == 422
