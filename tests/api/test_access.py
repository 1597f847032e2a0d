"""SPEC section 7, access control: the role table route by route, LPA scope, the same 404 for
unknown and out-of-scope nominals, 401/422/500 answers that disclose nothing."""

from __future__ import annotations

import pytest

from harmrank.api.security import ROLES

from .helpers import JUSTIFICATION, LAST, Api, add_and_rescore, sign_in

# route name -> (method, url, needs a justification, JSON body)
ROUTES: dict[str, tuple[str, str, bool, dict | None]] = {
    "lpas": ("GET", "/api/v1/lpas", False, None),
    "months": ("GET", "/api/v1/months", False, None),
    "rules": ("GET", "/api/v1/rules", False, None),
    "lists": ("GET", f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", False, None),
    "lists_csv": ("GET", f"/api/v1/lists/{LAST}?lpa=Shropshire&format=csv", False, None),
    "lists_xlsx": ("GET", f"/api/v1/lists/{LAST}?lpa=Shropshire&format=xlsx", False, None),
    "draft_by_run_id": ("GET", f"/api/v1/lists/{LAST}?lpa=Shropshire&run_id=R000006", False, None),
    "explain": ("GET", f"/api/v1/nominals/NS01/explain?month={LAST}", True, None),
    "history": ("GET", "/api/v1/nominals/NS01/history", True, None),
    "runs": ("GET", "/api/v1/runs", False, None),
    "start_run": ("POST", "/api/v1/runs", False, {"month": LAST}),
    "approve": ("POST", "/api/v1/runs/R000006/approve", False, None),
    "audit": ("GET", "/api/v1/audit", False, None),
}
REFERENCE = {"lpas", "months", "rules"}
LIST_READER = REFERENCE | {"lists", "lists_csv", "lists_xlsx", "explain"}
ALLOWED: dict[str, set[str]] = {
    "analyst": LIST_READER,
    "offender_manager": LIST_READER | {"history"},
    "supervisor": LIST_READER | {"draft_by_run_id", "runs", "start_run", "approve"},
    "auditor": REFERENCE | {"audit"},
    "admin": REFERENCE | {"runs", "start_run"},
}


def call(api: Api, route: str, token: str):
    method, url, justified, body = ROUTES[route]
    headers = api.auth(token, JUSTIFICATION if justified else None)
    return api.client.request(method, url, headers=headers, json=body)


def test_the_role_table_covers_every_role() -> None:
    assert set(ALLOWED) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_table(api: Api, role: str) -> None:
    """Each route with a token of one role: granted (200, 202 for a run) or refused (403)
    exactly as SPEC section 7's table says, and each request recorded with who and how."""
    token = api.token(f"user-{role}", role)
    before = len(api.audit_rows())
    order = sorted(ROUTES, key=lambda r: r == "approve")  # the one write last
    got = {route: call(api, route, token) for route in order}
    expected = {
        route: (202 if route == "start_run" else 200) if route in ALLOWED[role] else 403
        for route in order
    }
    assert {route: r.status_code for route, r in got.items()} == expected
    for route, response in got.items():
        if response.status_code == 403:
            assert set(response.json()) == {"detail"}, route  # a reason, nothing more
    records = [r for r in api.audit_rows()[before:] if r["route"] and "/api/v1/" in r["route"]]
    assert [(r["user_name"], list(r["roles"]), r["status"]) for r in records] == [
        (f"user-{role}", [role], expected[route]) for route in order
    ]


def test_admin_with_another_role_reads_nominals(api: Api) -> None:
    token = api.token("ada", "admin", "analyst")
    assert (
        api.get(f"/api/v1/nominals/NS01/explain?month={LAST}", token, JUSTIFICATION).status_code
        == 200
    )
    assert api.get("/api/v1/nominals/NS01/history", token, JUSTIFICATION).status_code == 403


def test_lists_in_scope_only(api: Api) -> None:
    token = api.token("shrop", "analyst", lpas=["Shropshire"])
    body = api.get(f"/api/v1/lists/{LAST}", token).json()
    assert [(o["lpa"], o["list"]) for o in body] == [
        ("Shropshire", "harm"),
        ("Shropshire", "frequency"),
        ("Shropshire", "repeat"),
    ]
    one = api.get(f"/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", token).json()
    assert one["lpa"] == "Shropshire" and one["list"] == "harm"
    assert [e["nominal_id"] for e in one["entries"]][:2] == ["NS01", "NS02"]


@pytest.mark.parametrize("lpa", ["Herefordshire", "ALL", "Nowhere"])
def test_lpa_outside_scope_is_403(api: Api, lpa: str) -> None:
    token = api.token("shrop", "analyst", lpas=["Shropshire"])
    response = api.get(f"/api/v1/lists/{LAST}", token, params={"lpa": lpa})
    assert response.status_code == 403
    record = api.last_audit()
    assert (record["lpa"], record["month"], record["status"]) == (lpa, LAST, 403)


def test_all_needs_every_lpa(api: Api) -> None:
    full = api.token("everyone", "analyst")
    listed = api.token("three", "analyst", lpas=["Herefordshire", "Shropshire", "Telford & Wrekin"])
    two = api.token("two", "analyst", lpas=["Herefordshire", "Shropshire"])
    url = f"/api/v1/lists/{LAST}?lpa=ALL&list=frequency"
    assert api.get(url, full).status_code == 200
    assert api.get(url, listed).status_code == 200
    assert api.get(url, two).status_code == 403
    everything = api.get(f"/api/v1/lists/{LAST}", full).json()
    assert [o["lpa"] for o in everything][-3:] == ["ALL", "ALL", "ALL"]
    assert "ALL" not in {o["lpa"] for o in api.get(f"/api/v1/lists/{LAST}", two).json()}


def test_unknown_lpa_for_a_full_token_is_404(api: Api) -> None:
    token = api.token("everyone", "analyst")
    response = api.get(f"/api/v1/lists/{LAST}?lpa=Nowhere", token)
    assert response.status_code == 404


@pytest.mark.parametrize("route", ["explain", "history"])
def test_same_404_for_unknown_and_out_of_scope_nominals(api: Api, route: str) -> None:
    token = api.token("om", "offender_manager", lpas=["Shropshire"])
    suffix = f"explain?month={LAST}" if route == "explain" else "history"
    inside = api.get(f"/api/v1/nominals/NS01/{suffix}", token, JUSTIFICATION)
    outside = api.get(f"/api/v1/nominals/NH01/{suffix}", token, JUSTIFICATION)
    unknown = api.get(f"/api/v1/nominals/NZ99/{suffix}", token, JUSTIFICATION)
    assert inside.status_code == 200
    assert outside.status_code == unknown.status_code == 404
    assert outside.content == unknown.content
    assert {k: v for k, v in outside.headers.items() if k != "content-length"} == {
        k: v for k, v in unknown.headers.items() if k != "content-length"
    }
    # the full token sees NH01
    full = api.token("om-all", "offender_manager")
    assert api.get(f"/api/v1/nominals/NH01/{suffix}", full, JUSTIFICATION).status_code == 200


def test_nominal_not_scored_that_month_in_scope(api: Api) -> None:
    token = api.token("ana", "analyst")
    response = api.get("/api/v1/nominals/NS02/explain?month=2025-01", token, JUSTIFICATION)
    assert response.status_code == 404
    assert "not scored" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer hrk_0123abcd_" + "A" * 43},
    ],
    ids=["missing", "empty", "malformed", "basic", "unknown"],
)
def test_401_without_a_valid_token(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get(f"/api/v1/lists/{LAST}", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"detail"}
    record = api.last_audit()
    assert (record["user_name"], record["status"], record["month"]) == ("anonymous", 401, LAST)


def test_401_comes_before_validation(api: Api) -> None:
    assert api.client.get("/api/v1/lists/2025-13").status_code == 401
    assert api.client.get("/api/v1/nominals/X/explain").status_code == 401


def test_403_comes_before_validation(api: Api) -> None:
    auditor = api.token("aud", "auditor")
    assert api.get("/api/v1/lists/2025-13", auditor).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/lists/2025-13",
        "/api/v1/lists/25-06",
        f"/api/v1/lists/{LAST}?list=bogus",
        f"/api/v1/lists/{LAST}?format=pdf",
        "/api/v1/nominals/NS01/explain",
        "/api/v1/nominals/NS01/explain?month=June",
        "/api/v1/nominals/NS01/history?from=2025-06&to=2025-01",
        "/api/v1/nominals/NS01/history?from=2025",
        "/api/v1/audit?from=yesterday",
    ],
)
def test_422_with_a_message(api: Api, url: str) -> None:
    token = api.token("all", "offender_manager", "auditor")
    response = api.get(url, token, JUSTIFICATION)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(d["msg"] and d["loc"] for d in detail)
    assert '"input"' not in response.text and "Traceback" not in response.text
    assert api.last_audit()["status"] == 422


def test_post_runs_validates_the_month(api: Api) -> None:
    token = api.token("sue", "supervisor")
    for body in ({"month": "2025-13"}, {}, {"month": "2025-06", "extra": 1}):
        assert api.post("/api/v1/runs", token, json=body).status_code == 422


def test_unexpected_error_is_a_bare_500_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harmrank.api.access as access

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /srv/db password=hunter2")

    monkeypatch.setattr(access, "list_objects", boom)
    token = api.token("ana", "analyst")
    response = api.get(f"/api/v1/lists/{LAST}", token)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "hunter2" not in response.text
    assert api.last_audit()["status"] == 500


def test_health_needs_no_token_and_discloses_nothing(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_security_headers_and_marking(api: Api) -> None:
    token = api.token("ana", "analyst")
    response = api.get(f"/api/v1/lists/{LAST}", token)
    assert response.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_reference_routes(api: Api) -> None:
    token = api.token("shrop", "analyst", lpas=["Shropshire"])
    lpas = api.get("/api/v1/lpas", token).json()
    assert lpas == {
        "lpas": ["Herefordshire", "Shropshire", "Telford & Wrekin"],
        "source": "lpas files",
        "yours": ["Shropshire"],
        "all": False,
    }
    months = api.get("/api/v1/months", token).json()["months"]
    assert months == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    rules = api.get("/api/v1/rules", token).json()
    assert {r["name"] for r in rules} >= {"rasso-repeat-interim", "rasso-serial", "matac-serial-da"}
    assert [r["name"] for r in rules if r["active"]] == ["rasso-repeat-interim"]


def _history(api: Api, nominal_id: str, *lpas: str):
    token = api.token(f"om-{len(lpas)}-{lpas[0]}", "offender_manager", lpas=list(lpas))
    return api.get(f"/api/v1/nominals/{nominal_id}/history", token, JUSTIFICATION)


def test_a_nominal_who_moved_lpa_is_seen_whole_by_either_lpa(api: Api) -> None:
    """A nominal is within a token's LPAs when a run attributed it to one of them; its whole
    history is then shown, months in another LPA included (README, decisions)."""
    add_and_rescore(
        api,
        [
            ("CM1", "19C", "2025-01-10", "Herefordshire", "NM01"),
            ("CM2", "19C", "2025-06-10", "Telford & Wrekin", "NM01"),
            ("CM3", "19C", "2025-06-11", "Telford & Wrekin", "NM01"),
        ],
    )
    response = _history(api, "NM01", "Herefordshire")
    assert response.status_code == 200
    months = {m["month"]: m["lpa"] for m in response.json()["months"]}
    assert months["2025-01"] == "Herefordshire" and months[LAST] == "Telford & Wrekin"
    hereford = api.token("an-h", "analyst", lpas=["Herefordshire"])
    explained = api.get(f"/api/v1/nominals/NM01/explain?month={LAST}", hereford, JUSTIFICATION)
    assert explained.status_code == 200
    assert _history(api, "NM01", "Shropshire").status_code == 404


def test_a_nominal_on_an_lpas_repeat_list_is_within_that_lpa(api: Api) -> None:
    """The repeat list attributes by qualifying crimes: NR01 (no crime in the window, so not
    scored) and NR02 (scored in Telford & Wrekin for one crime) are on Herefordshire's repeat
    list, and a Herefordshire token may look them up."""
    add_and_rescore(
        api,
        [
            ("CR1", "19C", "2023-03-01", "Herefordshire", "NR01"),
            ("CR2", "19C", "2023-04-01", "Herefordshire", "NR01"),
            ("CR3", "19C", "2023-03-01", "Herefordshire", "NR02"),
            ("CR4", "19C", "2023-04-01", "Herefordshire", "NR02"),
            ("CR5", "8N", "2025-05-01", "Telford & Wrekin", "NR02"),
        ],
    )
    full = api.token("an-all", "analyst")
    repeat = api.get(f"/api/v1/lists/{LAST}?lpa=Herefordshire&list=repeat", full).json()
    assert {"NR01", "NR02"} <= {e["nominal_id"] for e in repeat["entries"]}
    r1 = _history(api, "NR01", "Herefordshire")
    assert r1.status_code == 200 and r1.json()["months"] == []  # never scored
    r2 = _history(api, "NR02", "Herefordshire")
    assert r2.status_code == 200
    assert {m["lpa"] for m in r2.json()["months"]} == {"Telford & Wrekin"}
    hereford = api.token("an-h", "analyst", lpas=["Herefordshire"])
    not_scored = api.get(f"/api/v1/nominals/NR01/explain?month={LAST}", hereford, JUSTIFICATION)
    assert not_scored.status_code == 404
    assert not_scored.json()["detail"] == (
        "nominal NR01 is not scored in 2025-06: no eligible crime in the window "
        "2024-07-01 to 2025-06-30"
    )
    for nominal in ("NR01", "NR02"):
        assert _history(api, nominal, "Shropshire").status_code == 404
    # the web page a reader reaches from the list entry
    sign_in(api, api.token("om-web", "offender_manager", lpas=["Herefordshire"]))
    page = api.client.get(f"/nominals/NR01?month={LAST}", params={"justification": JUSTIFICATION})
    assert page.status_code == 200 and "not scored" in page.text
    # with what put it on the list: the qualifying crimes and the rule's reasons
    assert 'id="repeat"' in page.text and "CR1" in page.text and "CR2" in page.text
    assert "2 qualifying crimes (at least 2) in the 36 months to 2025-06-30" in page.text
    assert api.last_audit()["row_count"] == 2


def test_a_nominal_on_an_lpas_presence_list_is_within_that_lpa(api: Api) -> None:
    """Under `presence` a nominal is listed in every LPA where it offended: NP01 (principal
    Shropshire) is on Herefordshire's lists, and a Herefordshire token may explain it."""
    add_and_rescore(
        api,
        [
            ("CP1", "19C", "2025-05-01", "Shropshire", "NP01"),
            ("CP2", "8N", "2025-06-01", "Herefordshire", "NP01"),
        ],
        scoring={"attribution": "presence"},
    )
    full = api.token("an-all", "analyst")
    lists = api.get(f"/api/v1/lists/{LAST}?lpa=Herefordshire", full).json()
    assert "NP01" in {e["nominal_id"] for o in lists for e in o["entries"]}
    hereford = api.token("an-h", "analyst", lpas=["Herefordshire"])
    explained = api.get(f"/api/v1/nominals/NP01/explain?month={LAST}", hereford, JUSTIFICATION)
    assert explained.status_code == 200
    assert explained.json()["lpa"] == "Shropshire"
    telford = api.token("an-t", "analyst", lpas=["Telford & Wrekin"])
    assert (
        api.get(f"/api/v1/nominals/NP01/explain?month={LAST}", telford, JUSTIFICATION).status_code
        == 404
    )
