"""The web pages in a real headless Chromium (Debian's, through Playwright) against a real
uvicorn server on a free loopback port: sign in through the form, read the lists, expand an
explanation, open a nominal's page and its chart, download a CSV."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harmrank import NOTICE
from harmrank.api import ApiSettings, create_app
from harmrank.api.security import mint_token
from harmrank.config import Config
from harmrank.store import Store, open_store

from .helpers import JUSTIFICATION, LAST

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM} (install Debian's: apt-get install -y chromium)",
    ),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    store: Store
    token: str


@pytest.fixture
def live_server(base_db: Path, tmp_path: Path) -> Iterator[LiveServer]:
    import uvicorn

    path = tmp_path / "live.duckdb"
    shutil.copy(base_db, path)
    store = open_store(path)
    token, _ = mint_token(store, user="olive", roles=["offender_manager"], created_by="test-admin")
    app = create_app(ApiSettings(db_path=path, config=Config()), store=store)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", store, token)
    finally:
        server.should_exit = True
        thread.join(30)
        store.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_sign_in_lists_explanation_nominal_chart_download(live_server: LiveServer, browser) -> None:
    context = browser.new_context(accept_downloads=True, base_url=live_server.url)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()

    # not signed in: the lists send the browser to the sign-in form
    page.goto("/lists")
    assert "/login" in page.url
    assert page.locator(".marking").first.inner_text() == "OFFICIAL-SENSITIVE"
    page.fill("input[name=token]", live_server.token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"**/lists/{LAST}*")

    # the session cookie cannot be read by script nor sent by another site
    session = next(c for c in context.cookies() if c["name"] == "harmrank_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""

    # the lists: marked, with the notice, one row per entry carrying its nominal id
    assert NOTICE in page.inner_text("body")
    rows = page.locator("#list-harm tr[data-nominal-id]")
    assert rows.count() >= 3
    first = rows.first
    assert first.get_attribute("data-nominal-id") == "NS01"

    # expand the first entry's explanation (no script: <details>)
    details = first.locator("details")
    assert not details.evaluate("d => d.open")
    crime = first.locator("table.crimes td", has_text="CS011")
    assert not crime.is_visible()
    first.locator("summary").click()
    assert details.evaluate("d => d.open")
    assert crime.is_visible()
    assert first.locator("table.crimes").inner_text().count("2952.940993") == 2

    # download the CSV of the lists
    with page.expect_download() as download_info:
        page.click("a:has-text('CSV')")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("# OFFICIAL-SENSITIVE.")
    assert "NS01" in text and "3142.094880" in text
    assert download.suggested_filename.endswith(".csv")

    # open the nominal's page: first the reason, then the chart
    first.locator("a", has_text="NS01").click()
    page.wait_for_url("**/nominals/NS01*")
    page.fill("input[name=justification]", JUSTIFICATION)
    page.click("button:has-text('Open the record')")
    page.wait_for_selector("svg.history-chart")
    chart = page.locator("svg.history-chart")
    assert chart.is_visible()
    assert chart.locator("circle.point").count() == 4  # March to June
    assert chart.locator("rect.freq-bar").count() == 4
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert "CS012" in page.inner_text("#explanation")

    # nothing was fetched from anywhere but the server
    assert requested and all(url.startswith(live_server.url) for url in requested)
    context.close()

    # and every step is in the audit log, with the reason for opening the nominal
    rows = live_server.store.execute(
        "SELECT action, route, nominal_id, justification, status FROM audit_log "
        "WHERE user_name = 'olive' ORDER BY seq"
    ).fetchall()
    routes = [r[1] for r in rows]
    assert routes[0] == "POST /login"
    assert "GET /lists/{month}" in routes
    assert "GET /lists/{month}/download" in routes
    opened = [r for r in rows if r[1] == "GET /nominals/{nominal_id}" and r[4] == 200 and r[3]]
    assert opened and opened[-1][2] == "NS01" and opened[-1][3] == JUSTIFICATION


def test_failed_sign_in_stays_on_the_form(live_server: LiveServer, browser) -> None:
    page = browser.new_page(base_url=live_server.url)
    page.goto("/login")
    page.fill("input[name=token]", "hrk_00000000_" + "x" * 43)
    page.click("button:has-text('Sign in')")
    assert "not valid" in page.inner_text("main")
    page.goto("/lists")
    assert "/login" in page.url
    page.close()
