"""SPEC section 7, the web pages: sign-in with a token (HttpOnly, SameSite session cookie that
ends after idle hours; failed sign-ins slowed down), CSRF on every form that changes state,
the lists with movement and explanations, the nominal page and its chart, downloads; every
page marked and carrying the notice, nothing loaded from elsewhere, markup escaped."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from harmrank import NOTICE
from harmrank.api.security import utcnow
from harmrank.config import Config
from harmrank.scoring import list_objects

from .helpers import (
    CSRF,
    JUSTIFICATION,
    LAST,
    XSS_ID,
    Api,
    add_and_rescore,
    review_config,
    sign_in,
)


def csrf_of(page_html: str) -> str:
    return CSRF.search(page_html).group(1)


def assert_marked(html: str) -> None:
    assert html.count("OFFICIAL-SENSITIVE") >= 2  # top and bottom of the page
    assert NOTICE in html


def assert_self_contained(html: str) -> None:
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert not re.match(r"^(https?:)?//", url), url
    assert "<script" not in html


def test_pages_need_a_session(api: Api) -> None:
    for path in ("/lists", f"/lists/{LAST}", "/nominals/NS01", "/runs"):
        response = api.client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_sign_in_sets_a_safe_session_cookie(api: Api) -> None:
    token = api.token("ana", "analyst")
    response = sign_in(api, token)
    assert response.status_code == 303 and response.headers["location"] == "/lists"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("harmrank_session=")
    )
    attributes = cookie.lower()
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "max-age=28800" in attributes  # 8 idle hours
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value != token and token not in value
    stored = api.store.execute("SELECT session_hash FROM web_sessions").fetchall()
    assert value not in repr(stored)
    record = api.last_audit()
    assert (record["action"], record["user_name"], record["status"]) == ("signin", "ana", 303)


def test_sign_in_form_is_marked_and_self_contained(api: Api) -> None:
    html = api.client.get("/login").text
    assert_marked(html)
    assert_self_contained(html)
    assert 'name="token"' in html


def test_sign_in_refuses_a_forged_form(api: Api) -> None:
    token = api.token("ana", "analyst")
    api.client.get("/login")
    response = api.client.post(
        "/login", data={"token": token, "csrf_token": "forged"}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "harmrank_session" not in response.headers.get("set-cookie", "")


def test_bad_token_then_slowed_down(make_api) -> None:
    api = make_api(signin_free_failures=3, signin_base_delay_seconds=30)
    good = api.token("ana", "analyst")
    for _ in range(3):
        response = sign_in(api, "hrk_deadbeef_" + "x" * 43)
        assert response.status_code == 401
        assert "not valid" in response.text
    # the fourth attempt must wait, even with a good token: it is not even read
    response = sign_in(api, good)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    statuses = [r["status"] for r in api.audit_rows() if r["action"] == "signin"]
    assert statuses == [401, 401, 401, 429]
    # once the wait is over, the good token signs in and the count starts again
    api.store.execute(
        "UPDATE signin_throttle SET last_failure_at = ?", [utcnow() - timedelta(seconds=31)]
    )
    assert sign_in(api, good).status_code == 303
    assert api.store.scalar("SELECT count(*) FROM signin_throttle") == 0


def test_each_failure_beyond_the_free_ones_doubles_the_wait(make_api) -> None:
    api = make_api(signin_free_failures=1, signin_base_delay_seconds=10)
    throttle = api.app.state.harmrank.throttle
    now = utcnow()
    waits = []
    for _ in range(4):
        throttle.failed(api.store, "10.0.0.9", now=now)
        waits.append(throttle.wait_seconds(api.store, "10.0.0.9", now=now))
    assert waits == [10, 20, 40, 80]
    assert throttle.wait_seconds(api.store, "10.0.0.10", now=now) == 0


def test_session_ends_after_idle_hours(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    assert api.client.get(f"/lists/{LAST}").status_code == 200
    api.store.execute("UPDATE web_sessions SET last_seen_at = ?", [utcnow() - timedelta(hours=7)])
    assert api.client.get(f"/lists/{LAST}").status_code == 200  # still within 8 idle hours
    api.store.execute("UPDATE web_sessions SET last_seen_at = ?", [utcnow() - timedelta(hours=9)])
    response = api.client.get(f"/lists/{LAST}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert api.store.scalar("SELECT count(*) FROM web_sessions WHERE ended_at IS NULL") == 0


def test_idle_hours_come_from_the_configuration(make_api) -> None:
    api = make_api({"api": {"session_idle_hours": 1}})
    response = sign_in(api, api.token("ana", "analyst"))
    assert "max-age=3600" in response.headers["set-cookie"].lower()
    api.store.execute("UPDATE web_sessions SET last_seen_at = ?", [utcnow() - timedelta(hours=2)])
    assert api.client.get(f"/lists/{LAST}", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_the_session(api: Api) -> None:
    from harmrank.api.security import revoke_tokens

    sign_in(api, api.token("ana", "analyst"))
    revoke_tokens(api.store, by="admin", user="ana")
    assert api.client.get(f"/lists/{LAST}", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_form_token(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    page = api.client.get(f"/lists/{LAST}")
    assert api.client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert api.client.get(f"/lists/{LAST}").status_code == 200
    out = api.client.post(
        "/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert api.client.get(f"/lists/{LAST}", follow_redirects=False).status_code == 303


def test_lists_page(api: Api) -> None:
    sign_in(api, api.token("shrop", "analyst", lpas=["Shropshire"]))
    response = api.client.get("/lists")  # follows to the latest month
    assert response.status_code == 200
    assert response.url.path == f"/lists/{LAST}"
    html = response.text
    assert_marked(html)
    assert_self_contained(html)
    ids = re.findall(r'<tr data-nominal-id="([^"]*)"', html)
    assert ids[:2] == ["NS01", "NS02"]  # harm list first
    assert "NH01" not in html  # another LPA
    assert html.count("<details>") == len(ids)
    assert "<summary>Why listed</summary>" in html
    assert "CS011" in html and "2952.940993" in html  # the crimes and their weights
    assert "3142.094880" in html  # six decimal places
    assert "DVPO" in html  # orders active at month end
    assert "Force-wide (ALL)" not in html  # the token does not see every LPA
    record = api.last_audit()
    assert (record["route"], record["lpa"], record["month"], record["status"]) == (
        "GET /lists/{month}",
        "Shropshire",
        LAST,
        200,
    )
    assert record["row_count"] == len(ids)


def test_lists_page_shows_movement(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    html = api.client.get(f"/lists/{LAST}?lpa=Shropshire").text

    def movement(kind: str, nominal: str) -> str:
        section = re.search(rf'<section class="list" id="list-{kind}">.*?</section>', html, re.S)
        row = re.search(rf'<tr data-nominal-id="{nominal}">.*?</tr>', section.group(0), re.S)
        return re.search(r'class="movement" title="([^"]+)"', row.group(0)).group(1)

    # harm: NS03 passes the nominal whose id is markup (3rd, was 4th); frequency: unchanged
    assert movement("harm", "NS03") == "up 1 since last month"
    assert movement("harm", "NS01") == "same rank as last month"
    assert movement("frequency", "NS03") == "same rank as last month"
    html = api.client.get("/lists/2025-03?lpa=Shropshire").text
    assert movement("harm", "NS01") == "new on this list"


def test_repeat_list_is_paged_on_the_web(make_api) -> None:
    """The force-wide repeat list holds every repeat suspect (tens of thousands nationally):
    the page shows it a page at a time, in rank order, and records what it showed."""
    api = make_api(repeat_page_rows=1)
    add_and_rescore(  # two more repeat suspects: two rapes each
        api,
        [
            ("CP1", "19C", "2025-02-10", "Shropshire", "NP01"),
            ("CP2", "19C", "2025-05-10", "Shropshire", "NP01"),
            ("CP3", "19C", "2025-03-10", "Herefordshire", "NP02"),
            ("CP4", "19C", "2025-04-10", "Herefordshire", "NP02"),
        ],
    )
    (repeat,) = list_objects(api.store, LAST, Config(), lpa="ALL", kind="repeat")
    whole = [e["nominal_id"] for e in repeat["entries"]]
    assert len(whole) == 3
    sign_in(api, api.token("ana", "analyst"))
    seen = []
    for page in range(1, len(whole) + 1):
        html = api.client.get(f"/lists/{LAST}?lpa=ALL&page={page}").text
        section = re.search(r'<section class="list" id="list-repeat">.*?</section>', html, re.S)
        ids = re.findall(r'<tr data-nominal-id="([^"]*)"', section.group(0))
        assert len(ids) == 1
        seen += ids
        assert f"Entries {page} to {page} of {len(whole)}" in html
        assert ('rel="next"' in html) == (page < len(whole))
        assert ('rel="prev"' in html) == (page > 1)
        record = api.last_audit()
        assert record["row_count"] == len(re.findall(r'<tr data-nominal-id="', html))
        assert json.loads(record["detail"])["repeat_entries"] == f"{page}-{page} of {len(whole)}"
    assert seen == whole  # every entry once, in rank order
    past = api.client.get(f"/lists/{LAST}?lpa=ALL&page={len(whole) + 1}")
    assert past.status_code == 404 and "page" in past.text
    # at the default size one page holds a short list whole, with no pager
    api = make_api()
    add_and_rescore(api, [("CP1", "19C", "2025-02-10", "Shropshire", "NP01"),
                          ("CP2", "19C", "2025-05-10", "Shropshire", "NP01")])  # fmt: skip
    sign_in(api, api.token("ana", "analyst"))
    html = api.client.get(f"/lists/{LAST}?lpa=ALL").text
    assert 'class="pages"' not in html
    section = re.search(r'<section class="list" id="list-repeat">.*?</section>', html, re.S)
    assert re.findall(r'<tr data-nominal-id="([^"]*)"', section.group(0)) == ["NS01", "NP01"]


def test_lists_page_refuses_an_lpa_outside_scope(api: Api) -> None:
    sign_in(api, api.token("shrop", "analyst", lpas=["Shropshire"]))
    response = api.client.get(f"/lists/{LAST}?lpa=Herefordshire")
    assert response.status_code == 403
    assert_marked(response.text)
    assert "NH01" not in response.text


def test_markup_in_data_is_escaped(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    html = api.client.get(f"/lists/{LAST}?lpa=Shropshire").text
    assert XSS_ID not in html
    assert "&lt;img src=x onerror=" in html
    assert "<img" not in html


def test_nominal_page_asks_for_a_reason_first(api: Api) -> None:
    sign_in(api, api.token("olive", "offender_manager"))
    html = api.client.get(f"/nominals/NS01?month={LAST}").text
    assert 'name="justification"' in html
    assert "CS011" not in html  # nothing about the nominal before the reason
    assert_marked(html)


def test_nominal_page_with_chart(api: Api) -> None:
    sign_in(api, api.token("olive", "offender_manager"))
    response = api.client.get(
        f"/nominals/NS01?month={LAST}", params={"justification": JUSTIFICATION}
    )
    assert response.status_code == 200
    html = response.text
    assert_marked(html)
    assert_self_contained(html)
    assert '<svg class="history-chart"' in html
    months = re.findall(r'<circle class="point[^"]*" data-month="([0-9-]+)"', html)
    assert months == ["2025-03", "2025-04", "2025-05", "2025-06"]
    assert "harm-line" in html
    assert "CS012" in html and "5905.881986" in html  # the explanation of the month
    assert 'id="repeat"' in html and "Why flagged: 2 qualifying crimes" in html  # two rapes
    record = api.last_audit()
    assert (record["nominal_id"], record["justification"], record["status"]) == (
        "NS01",
        JUSTIFICATION,
        200,
    )


def test_analyst_nominal_page_has_no_history(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    html = api.client.get(f"/nominals/NS01?month={LAST}&justification=checking+the+list").text
    assert "CS011" in html
    assert "history-chart" not in html
    other = api.client.get(f"/nominals/NS03?month={LAST}&justification=checking+the+list").text
    assert "CS034" in other and 'id="repeat"' not in other  # not a repeat suspect


def test_nominal_page_same_404_outside_scope(api: Api) -> None:
    sign_in(api, api.token("shrop", "offender_manager", lpas=["Shropshire"]))
    outside = api.client.get("/nominals/NH01?justification=checking+a+name")
    unknown = api.client.get("/nominals/NQ42?justification=checking+a+name")
    assert outside.status_code == unknown.status_code == 404
    assert outside.text == unknown.text


def test_auditor_cannot_open_a_nominal(api: Api) -> None:
    sign_in(api, api.token("audrey", "auditor"))
    assert api.client.get("/nominals/NS01?justification=curious+today").status_code == 403


def test_downloads(api: Api) -> None:
    sign_in(api, api.token("ana", "analyst"))
    csv = api.client.get(f"/lists/{LAST}/download?format=csv&lpa=Shropshire")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.startswith("# OFFICIAL-SENSITIVE.")
    assert "3142.094880" in csv.text
    xlsx = api.client.get(f"/lists/{LAST}/download?format=xlsx&lpa=Shropshire")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert len(book.sheetnames) == 3  # one sheet per list
    assert all(book[name]["A1"].value == "OFFICIAL-SENSITIVE" for name in book.sheetnames)
    assert api.last_audit()["detail"].count("xlsx") == 1


def test_history_download_needs_a_reason(api: Api) -> None:
    sign_in(api, api.token("olive", "offender_manager"))
    assert api.client.get("/nominals/NS01/history.csv").status_code == 422
    csv = api.client.get("/nominals/NS01/history.csv", params={"justification": JUSTIFICATION})
    assert csv.status_code == 200
    assert csv.text.startswith("# OFFICIAL-SENSITIVE.")
    assert "2025-06" in csv.text


def test_supervisor_reviews_and_approves_from_the_page(make_api) -> None:
    api = make_api(review_config())
    sign_in(api, api.token("sam", "supervisor"))
    empty = api.client.get("/lists")
    assert "No lists yet" in empty.text
    runs = api.client.get("/runs")
    assert runs.status_code == 200 and 'data-run-id="R000006"' in runs.text
    draft = api.client.get(f"/lists/{LAST}?run_id=R000006&lpa=Shropshire")
    assert draft.status_code == 200
    assert "Approve run R000006" in draft.text
    token = csrf_of(draft.text)
    # without the form token, nothing changes
    forged = api.client.post("/runs/R000006/approve", data={}, follow_redirects=False)
    assert forged.status_code == 403
    assert api.store.scalar("SELECT status FROM runs WHERE run_id = 'R000006'") == "draft"
    done = api.client.post(
        "/runs/R000006/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert api.store.one("SELECT status, approved_by FROM runs WHERE run_id = 'R000006'") == (
        "approved",
        "sam",
    )


def test_supervisor_cannot_approve_own_run_from_the_page(api: Api) -> None:
    sign_in(api, api.token("sue", "supervisor"))
    page = api.client.get("/runs")
    started = api.client.post(
        "/runs", data={"month": LAST, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert started.status_code == 303
    job = api.jobs.all()[0]
    run_id = api.jobs.wait(job.job_id).run_id
    review = api.client.get(f"/lists/{LAST}?run_id={run_id}&lpa=Shropshire")
    assert "another supervisor must approve it" in review.text
    refused = api.client.post(f"/runs/{run_id}/approve", data={"csrf_token": csrf_of(review.text)})
    assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/login", f"/lists/{LAST}"])
def test_pages_send_security_headers(api: Api, path: str) -> None:
    sign_in(api, api.token("ana", "analyst"))
    response = api.client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_static_assets_are_served_locally(api: Api) -> None:
    response = api.client.get("/static/harmrank.css")
    assert response.status_code == 200
    assert "url(http" not in response.text and "@import" not in response.text


@pytest.mark.parametrize(
    ("roles", "landing"),
    [(("analyst",), "/lists"), (("admin",), "/runs"), (("auditor",), "/")],
)
def test_where_sign_in_lands(api: Api, roles: tuple[str, ...], landing: str) -> None:
    response = sign_in(api, api.token("someone", *roles), next_path="/")
    assert response.headers["location"] == "/"
    home = api.client.get("/", follow_redirects=False)
    if landing == "/":
        assert home.status_code == 200 and "GET /api/v1/audit" in home.text
        assert_marked(home.text)
    else:
        assert home.status_code == 303 and home.headers["location"] == landing


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(api: Api, target: str) -> None:
    response = sign_in(api, api.token("ana", "analyst"), next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_page_error_is_a_marked_page_without_detail(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harmrank.api.access as access

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    sign_in(api, api.token("ana", "analyst"))
    monkeypatch.setattr(access, "list_objects", boom)
    response = api.client.get(f"/lists/{LAST}")
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert_marked(response.text)
    assert api.last_audit()["status"] == 500
