"""The JSON answers: exact decimals with all 6 places, the shapes of SPEC section 6 and the
OpenAPI schema's ``…Public`` models, the same content as the engine gives the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

from pydantic import TypeAdapter

from harmrank.api.schemas import (
    AuditPagePublic,
    ExplanationPublic,
    HistoryPublic,
    ListPublic,
    RunPublic,
)
from harmrank.config import Config
from harmrank.jsonout import dumps
from harmrank.scoring import history, list_objects, scores_index

from .helpers import JUSTIFICATION, LAST, XSS_ID, Api


def test_harm_keeps_six_decimal_places(api: Api) -> None:
    token = api.token("ana", "analyst")
    response = api.get(f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", token)
    assert '"harm": 3142.094880' in response.text  # not 3142.09488
    assert '"weight": 2952.940993' in response.text
    entries = json.loads(response.text, parse_float=Decimal)["entries"]
    assert entries[1]["harm"] == Decimal("3142.094880")


def test_lists_are_the_engines_list_objects(api: Api) -> None:
    token = api.token("ana", "analyst")
    body = api.get(f"/api/v1/lists/{LAST}", token).text
    assert body == dumps(list_objects(api.store, LAST, Config()))


def test_list_object_shape(api: Api) -> None:
    token = api.token("ana", "analyst")
    one = api.get(f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", token).json()
    assert list(one) == [
        "month", "lpa", "list", "run_id", "status", "window", "notice", "entries",
    ]  # fmt: skip
    ListPublic.model_validate(one)
    every = api.get(f"/api/v1/lists/{LAST}", token).json()
    TypeAdapter(list[ListPublic]).validate_python(every)
    repeat = next(o for o in every if o["lpa"] == "Shropshire" and o["list"] == "repeat")
    assert repeat["entries"][0]["nominal_id"] == "NS01"
    assert repeat["entries"][0]["qualifying"] == 2


def test_explanation_and_history_shapes(api: Api) -> None:
    token = api.token("olive", "offender_manager")
    explanation = api.get(f"/api/v1/nominals/NS02/explain?month={LAST}", token, JUSTIFICATION)
    ExplanationPublic.model_validate(explanation.json())
    assert [c["crime_id"] for c in explanation.json()["crimes"]] == ["CS022", "CS021"]
    assert explanation.json()["orders"] == [
        {"order_type": "DVPO", "starts_on": "2025-05-01", "ends_on": None}
    ]
    history = api.get("/api/v1/nominals/NS02/history", token, JUSTIFICATION).json()
    HistoryPublic.model_validate(history)
    assert history["nominal_id"] == "NS02"
    assert [m["month"] for m in history["months"]] == ["2025-04", "2025-05", "2025-06"]
    assert set(history["months"][0]) == {
        "month", "harm", "frequency", "victims", "lpa", "harm_rank", "frequency_rank",
        "on_harm_list", "on_frequency_list", "repeat_suspect",
    }  # fmt: skip
    window = api.get("/api/v1/nominals/NS02/history?from=2025-05&to=2025-05", token, JUSTIFICATION)
    assert [m["month"] for m in window.json()["months"]] == ["2025-05"]


def test_history_from_the_servers_index_is_the_engines(make_api: Callable[..., Api]) -> None:
    """A server answers history from its in-memory index of the stored scores; one whose
    limit is 0 keeps none and reads the database: the answers are the same."""
    answers = []
    for rows in (10_000_000, 0):
        api = make_api(history_index_rows=rows)
        assert (scores_index.current(api.store) is not None) == (rows > 0)
        token = api.token("olive", "offender_manager")
        answers.append(
            {
                n: api.get(
                    f"/api/v1/nominals/{quote(n, safe='')}/history", token, JUSTIFICATION
                ).text
                for n in ("NS01", "NS02", "NS03", "NH01", XSS_ID, "NOBODY")
            }
        )
        assert answers[-1]["NS03"] == dumps(history(api.store, "NS03", Config()))
    assert answers[0] == answers[1]


def test_runs_and_audit_shapes(api: Api) -> None:
    sue = api.token("sue", "supervisor")
    runs = api.get("/api/v1/runs", sue).json()
    TypeAdapter(list[RunPublic]).validate_python(runs)
    assert [r["run_id"] for r in runs] == [f"R00000{i}" for i in range(6, 0, -1)]
    assert {r["status"] for r in runs} == {"draft"}
    assert runs[0]["weights"]["tables"][0]["name"] == "ons_css_2019"
    auditor = api.token("audrey", "auditor")
    page = api.get("/api/v1/audit", auditor).json()
    AuditPagePublic.model_validate(page)
    # the database's timestamps are naive UTC: the API writes them with their offset
    assert runs[0]["created_at"].endswith("+00:00")
    assert all(r["logged_at"].endswith("+00:00") for r in page["records"])


def test_justification_can_be_switched_off(make_api) -> None:
    api = make_api({"api": {"require_justification": False}})
    token = api.token("olive", "offender_manager")
    assert api.get(f"/api/v1/nominals/NS01/explain?month={LAST}", token).status_code == 200
    assert api.last_audit()["justification"] is None
    assert api.get("/api/v1/nominals/NS01/history", token, "still logged").status_code == 200
    assert api.last_audit()["justification"] == "still logged"


def test_justification_required_by_default(api: Api) -> None:
    token = api.token("olive", "offender_manager")
    for justification in (None, "   "):  # a missing parameter: SPEC 7's 422, with a message
        response = api.get("/api/v1/nominals/NS01/history", token, justification)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["header", "X-Justification"]
        assert "state why you are looking at this nominal" in error["msg"]
    too_long = api.get("/api/v1/nominals/NS01/history", token, "x" * 501)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["header", "X-Justification"]


def test_openapi_describes_the_api(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/health",
        "/api/v1/lpas",
        "/api/v1/months",
        "/api/v1/lists/{month}",
        "/api/v1/nominals/{nominal_id}/history",
        "/api/v1/nominals/{nominal_id}/explain",
        "/api/v1/rules",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/approve",
        "/api/v1/audit",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/runs"] and "get" in paths["/api/v1/runs"]
    assert not any(p.startswith(("/login", "/lists/", "/nominals/")) for p in paths)
    harm = schema["components"]["schemas"]["ScoredEntryPublic"]["properties"]["harm"]
    assert harm["type"] == "number"
    assert "bearer" in json.dumps(schema["components"]["securitySchemes"]).lower()
    explain = paths["/api/v1/nominals/{nominal_id}/explain"]["get"]
    assert "X-Justification" in [p["name"] for p in explain["parameters"]]
    assert api.client.get("/docs").status_code == 404  # its assets would come from a CDN


def test_utf8_justification_is_logged_as_written(api: Api) -> None:
    token = api.token("olive", "offender_manager")
    reason = "référence MARAC — réunion 12"
    response = api.client.get(
        "/api/v1/nominals/NS01/history",
        headers=[("Authorization", f"Bearer {token}"), ("X-Justification", reason.encode())],
    )
    assert response.status_code == 200
    assert api.last_audit()["justification"] == reason
