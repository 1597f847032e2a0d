"""What leaves harmrank cannot be turned against its readers: nominal ids, LPA names and order
types written by a hostile extract reach CSV and XLSX downloads neutralised (no spreadsheet
formula) while numbers stay numbers, reach HTML pages as text (no markup, no script), and no
request path or parameter reaches the file system.

The data: a force whose extract names nominals ``<script>…``, ``"><img onerror…>``,
``=HYPERLINK(…)``, ``+1-555``, ``-2+3``, ``@SUM(A1)``, ``'; drop table crimes; --`` and
``Ž-1``, an LPA ``<i>Evil</i> & Co`` and an order type ``=cmd|' /C calc'!A0``, with runs for
2025-05 and 2025-06 in which three of them move down (a negative movement).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import warnings
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from harmrank.api import ApiSettings, create_app
from harmrank.api.security import mint_token
from harmrank.cli import app as cli_app
from harmrank.config import Config
from harmrank.exports import MARKING, lists_csv, lists_xlsx, safe_text
from harmrank.scoring import backfill, list_objects
from harmrank.store import open_store
from harmrank.testing import store_from_rows

from .load import request, serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

XSS = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
EQ = '=HYPERLINK("http://evil.example","x")'
PLUS = "+1-555"
MINUS = "-2+3"
AT = "@SUM(A1)"
SQLI = "'; drop table crimes; --"
PNC = "01/123456A"  # a slash, as in PNC-style ids
UNI = "Ž-1"
EVIL_LPA = "<i>Evil</i> & Co"
ORDER = "=cmd|' /C calc'!A0"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
JUSTIFICATION = "case review 2025/117"
MOVED_DOWN = {EQ, XSS, PLUS}


def _rows() -> dict[str, Any]:
    crimes, links = [], []
    n = iter(range(1000))

    def add(nominal: str, code: str, day: str, lpa: str = "Shropshire") -> None:
        crime_id = f"C{next(n)}"
        crimes.append(
            {
                "crime_id": crime_id,
                "ho_code": code,
                "recorded_on": day,
                "lpa": lpa,
                "victim_id": f"V{crime_id}",
            }
        )
        links.append({"crime_id": crime_id, "nominal_id": nominal})

    for day in ("2025-01-10", "2025-02-10", "2025-03-10"):
        add(EQ, "19C", day)
    add(XSS, "19C", "2025-02-11")
    add(XSS, "19C", "2025-04-11")
    add(PLUS, "19C", "2025-03-12")
    for day in ("2025-06-01", "2025-06-02", "2025-06-03", "2025-06-04"):
        add(MINUS, "19C", day)  # new at the top in June: the three above move down one
    add(AT, "8N", "2025-06-05", EVIL_LPA)
    add(SQLI, "105A", "2025-05-06")
    add(ATTR, "8Q", "2025-05-07")
    add(UNI, "8N", "2025-06-08", EVIL_LPA)
    add(PNC, "8N", "2025-06-09")
    orders = [
        {
            "order_id": "O1",
            "nominal_id": EQ,
            "order_type": ORDER,
            "starts_on": "2025-01-01",
            "ends_on": "",
        }
    ]
    return {
        "crimes": crimes,
        "suspects": links,
        "orders": orders,
        "lpas": ["Shropshire", EVIL_LPA],
    }


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    with open_store(db) as store:
        _store, report = store_from_rows(**_rows(), store=store)
        assert all(f.quarantined == 0 for f in report.files.values())  # all of it is valid
        backfill(store, "2025-05", "2025-06", Config(), user="builder")
    return db


@pytest.fixture
def db(hostile_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "h.duckdb"
    shutil.copy(hostile_db, copy)
    return copy


def _objects(db: Path, **kw: Any) -> list[dict[str, Any]]:
    with open_store(db) as store:
        return list_objects(store, "2025-06", Config(), **kw)


def test_the_hostile_nominals_are_on_the_lists_and_three_moved_down(db: Path) -> None:
    (harm,) = _objects(db, lpa="Shropshire", kind="harm")
    movement = {e["nominal_id"]: e["movement"] for e in harm["entries"]}
    assert {m for n, m in movement.items() if n in MOVED_DOWN} == {-1}
    assert movement[MINUS] == "new"
    ids = {e["nominal_id"] for o in _objects(db) for e in o["entries"]}
    assert {XSS, ATTR, EQ, PLUS, MINUS, AT, SQLI, UNI, PNC} <= ids


# ---------------------------------------------------------------------------- CSV ----
def _csv_rows(text: str) -> list[dict[str, str]]:
    marking, body = text.split("\n", 1)
    assert marking.startswith(f"# {MARKING}")
    return list(csv.DictReader(io.StringIO(body, newline="")))


def _check_csv(text: str) -> None:
    rows = _csv_rows(text)
    assert rows
    seen = set()
    for row in rows:
        for column, value in row.items():
            if column in ("rank", "harm", "frequency", "victims", "qualifying", "movement"):
                continue
            assert not value.startswith(FORMULA_START), (column, value)
        nominal = row["nominal_id"]
        neutralised = nominal.startswith("'") and nominal[1:].startswith(FORMULA_START)
        seen.add(nominal[1:] if neutralised else nominal)
        if row["movement"] != "new":
            int(row["movement"])  # a number, written as one: -1, not '-1
        if row["harm"]:
            Decimal(row["harm"])
    assert {EQ, PLUS, MINUS, AT} <= seen
    moved = [r for r in rows if r["list"] == "harm" and r["nominal_id"].lstrip("'") in MOVED_DOWN]
    assert moved and {r["movement"] for r in moved} == {"-1"}
    orders = [r["orders"] for r in rows if r["orders"]]
    assert orders and all(o.startswith("'=cmd") for o in orders)


def test_csv_from_the_library_the_cli_and_the_api(db: Path) -> None:
    _check_csv(lists_csv(_objects(db)))
    out = CliRunner().invoke(
        cli_app, ["top10", "--month", "2025-06", "--format", "csv", "--db", str(db)]
    )
    assert out.exit_code == 0, out.output
    _check_csv(out.stdout)
    with open_store(db) as store:
        token, _ = mint_token(store, user="ana", roles=["analyst"], created_by="t")
        client = TestClient(create_app(ApiSettings(config=Config()), store=store))
        response = client.get(
            "/api/v1/lists/2025-06?format=csv", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        _check_csv(response.text)
        client.close()


@pytest.mark.parametrize("start", FORMULA_START)
def test_every_text_column_is_neutralised_whatever_it_starts_with(start: str) -> None:
    """Tabs and carriage returns cannot reach a list through the ingest (control characters
    are quarantined), so the exports are also given list objects directly."""
    value = f"{start}1+1"
    obj = {
        "month": "2025-06",
        "lpa": value,
        "list": "harm",
        "run_id": value,
        "status": "draft",
        "entries": [
            {
                "rank": 1,
                "nominal_id": value,
                "harm": Decimal("-1.500000"),
                "frequency": 2,
                "victims": 1,
                "last_recorded_on": "2025-06-01",
                "lpa": value,
                "repeat_suspect": True,
                "movement": -3,
                "reasons": [value],
                "crimes": [{"crime_id": value, "ho_code": "19C", "recorded_on": "2025-06-01"}],
                "orders": [{"order_type": value, "starts_on": "2025-01-01", "ends_on": None}],
            }
        ],
    }
    (row,) = _csv_rows(lists_csv([obj]))
    for column in ("lpa", "nominal_id", "nominal_lpa", "reasons", "crimes", "orders", "run_id"):
        assert row[column].startswith("'" + start), column
    assert row["movement"] == "-3" and row["harm"] == "-1.500000"
    book = load_workbook(io.BytesIO(lists_xlsx([obj])))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[5]]
    cells = dict(zip(header, sheet[6], strict=False))
    for column in ("lpa", "nominal_id", "nominal_lpa", "reasons", "crimes", "orders", "run_id"):
        assert cells[column].data_type == "s" and cells[column].value.startswith("'"), column
    assert cells["movement"].data_type == "n" and cells["movement"].value == -3
    assert cells["harm"].data_type == "n" and cells["harm"].value == -1.5
    assert safe_text(value) == "'" + value


# --------------------------------------------------------------------------- XLSX ----
def _check_xlsx(data: bytes) -> None:
    book = load_workbook(io.BytesIO(data))
    moved, ids = 0, set()
    for sheet in book.worksheets:
        header = [c.value for c in sheet[5]] if sheet.max_row >= 5 else []
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if cell.data_type == "s" and cell.row > 5:
                    assert not str(cell.value).startswith(FORMULA_START), cell.value
        for row in sheet.iter_rows(min_row=6):
            cells = dict(zip(header, row, strict=False))
            nominal = cells["nominal_id"].value
            neutralised = nominal.startswith("'") and nominal[1:].startswith(FORMULA_START)
            ids.add(nominal[1:] if neutralised else nominal)
            for column in ("rank", "victims"):
                assert cells[column].data_type == "n"
            movement = cells["movement"]
            if movement.value != "new":
                assert movement.data_type == "n", movement.value  # a number, not text
                if movement.value < 0:
                    moved += 1
            if cells["harm"].value is not None:
                assert cells["harm"].data_type == "n"
    assert moved >= 3
    assert {EQ, PLUS, MINUS, AT, XSS, UNI} <= ids


def test_xlsx_from_the_library_the_cli_and_the_api(db: Path, tmp_path: Path) -> None:
    _check_xlsx(lists_xlsx(_objects(db)))
    out = tmp_path / "lists.xlsx"
    done = CliRunner().invoke(
        cli_app,
        ["top10", "--month", "2025-06", "--format", "xlsx", "--out", str(out), "--db", str(db)],
    )
    assert done.exit_code == 0, done.output
    _check_xlsx(out.read_bytes())
    with open_store(db) as store:
        token, _ = mint_token(store, user="ana", roles=["analyst"], created_by="t")
        client = TestClient(create_app(ApiSettings(config=Config()), store=store))
        response = client.get(
            "/api/v1/lists/2025-06?format=xlsx", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        _check_xlsx(response.content)
        client.close()


# -------------------------------------------------------------------------- pages ----
class _Dom(HTMLParser):
    """The elements and attributes a browser would make of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _dom(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    dom.close()
    return dom


def _assert_inert(html: str) -> _Dom:
    """No script, no event handler, no javascript: URL; the raw markup never appears."""
    dom = _dom(html)
    for tag, attrs in dom.tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        assert tag != "img" or "onerror" not in attrs
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, value)
    for raw in (XSS, ATTR, EVIL_LPA):
        assert raw not in html
    return dom


@pytest.fixture
def browser(db: Path):
    """A signed-in web session (offender manager and supervisor, every LPA)."""
    store = open_store(db)
    token, _ = mint_token(
        store, user="om", roles=["offender_manager", "supervisor"], created_by="t"
    )
    client = TestClient(create_app(ApiSettings(config=Config()), store=store))
    form = client.get("/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    signed = client.post(
        "/login", data={"token": token, "csrf_token": nonce}, follow_redirects=False
    )
    assert signed.status_code == 303
    yield client
    client.close()
    store.close()


def test_list_pages_show_hostile_ids_and_lpas_as_text(browser) -> None:
    for lpa in ("Shropshire", EVIL_LPA, "ALL"):
        page = browser.get(f"/lists/2025-06?lpa={quote(lpa, safe='')}")
        assert page.status_code == 200, page.text
        dom = _assert_inert(page.text)
        listed = {a["data-nominal-id"] for _t, a in dom.tags if "data-nominal-id" in a}
        # each id comes back exactly as it is, from the attribute a browser reads
        assert listed
        if lpa == "Shropshire":
            assert {XSS, EQ, PLUS, MINUS, SQLI, ATTR} <= listed
            assert XSS in "".join(dom.text)  # shown as text
        if lpa == EVIL_LPA:
            assert AT in listed
        assert EVIL_LPA in "".join(dom.text)  # the LPA chooser names it, as text


@pytest.mark.parametrize("nominal", [XSS, ATTR, UNI, SQLI, PNC])
def test_nominal_pages_show_hostile_ids_as_text(browser, nominal) -> None:
    path = f"/nominals/{quote(nominal, safe='')}"
    asked = browser.get(path)  # first the page asks why
    assert asked.status_code == 200
    _assert_inert(asked.text)
    page = browser.get(f"{path}?month=2025-06&justification={quote(JUSTIFICATION)}")
    assert page.status_code == 200, page.text
    dom = _assert_inert(page.text)
    assert nominal in "".join(dom.text)
    csv_download = browser.get(f"{path}/history.csv?justification={quote(JUSTIFICATION)}")
    assert csv_download.status_code == 200  # a non-Latin-1 id makes a safe file name
    disposition = csv_download.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9_.-]+"', disposition), disposition


def test_downloads_of_a_hostile_lpa_have_safe_file_names(browser) -> None:
    for lpa in (EVIL_LPA, "Shropshire"):
        for fmt in ("csv", "xlsx"):
            response = browser.get(
                f"/lists/2025-06/download?format={fmt}&lpa={quote(lpa, safe='')}"
            )
            assert response.status_code == 200
            disposition = response.headers["content-disposition"]
            assert re.fullmatch(r'attachment; filename="[A-Za-z0-9_.-]+"', disposition)


def test_error_pages_echo_nothing_as_markup(browser) -> None:
    for path in (
        f"/lists/{quote(XSS, safe='')}",
        f"/lists/2025-06?lpa={quote(XSS, safe='')}",
        f"/nominals/{quote(XSS, safe='')}?month={quote(XSS, safe='')}&justification=x",
        f"/lists/2025-06?run_id={quote(ATTR, safe='')}",
    ):
        page = browser.get(path)
        assert 400 <= page.status_code < 500, (path, page.status_code)
        _assert_inert(page.text)


# ---------------------------------------------------------------------- paths ----
SECRETS = ("root:x:0:0", "def create_app", "from __future__", "CREATE TABLE")


@pytest.fixture(scope="module")
def live(hostile_db: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real server (uvicorn), so that paths reach it exactly as sent."""
    folder = tmp_path_factory.mktemp("live")
    db = folder / "h.duckdb"
    shutil.copy(hostile_db, db)
    with open_store(db) as store:
        token, _ = mint_token(
            store, user="om", roles=["offender_manager", "analyst"], created_by="t"
        )
    with serve(db, folder / "server.log") as server:
        yield server, token


TRAVERSALS = [
    "/api/v1/lists/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/v1/lists/../../../../etc/passwd",
    "/api/v1/lists/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/v1/lists/2025-06?format=..%2F..%2Fetc%2Fpasswd",
    "/api/v1/lists/2025-06?lpa=..%2F..%2Fetc%2Fpasswd",
    "/api/v1/nominals/..%2F..%2F..%2Fetc%2Fpasswd/history",
    "/api/v1/nominals/..%2F..%2F..%2Fetc%2Fpasswd/explain?month=2025-06",
    "/api/v1/nominals/N1/explain?month=..%2F..%2Fetc",
    "/lists/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/lists/../../../../etc/passwd",
    "/nominals/..%2F..%2Fetc%2Fpasswd",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2Fapp.py",
    "/static/../app.py",
    "/static/%2e%2e%2fapp.py",
    "/static/..%5capp.py",
    "/static/....//app.py",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/..%2F..%2Fschema%2F10_extract.sql",
    "/static/harmrank.css%00../app.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_reaches_the_file_system(live, path: str) -> None:
    server, token = live
    headers = {"X-Justification": JUSTIFICATION}
    status, body = request(server, "GET", path, token=token, headers=headers)
    text = body.decode("utf-8", errors="replace")
    assert status in (303, 400, 401, 403, 404, 405, 422), (status, text[:300])
    for secret in SECRETS:
        assert secret not in text, (path, secret)


def test_static_files_are_still_served(live) -> None:
    server, _token = live
    status, body = request(server, "GET", "/static/harmrank.css")
    assert status == 200 and b"{" in body


@pytest.mark.parametrize("nominal", [XSS, PNC, ATTR, UNI])
def test_a_nominal_whose_id_holds_a_slash_or_markup_is_reachable(live, nominal) -> None:
    """Ids are only ever lookup keys: one with a slash (``01/123456A``, sent as %2F) is read
    like any other, and is not a path."""
    server, token = live
    headers = {"X-Justification": JUSTIFICATION}
    path = f"/api/v1/nominals/{quote(nominal, safe='')}"
    status, body = request(server, "GET", f"{path}/history", token=token, headers=headers)
    assert status == 200, body
    assert json.loads(body)["nominal_id"] == nominal
    status, body = request(
        server, "GET", f"{path}/explain?month=2025-06", token=token, headers=headers
    )
    assert status == 200, body


def test_an_unknown_nominal_and_a_traversal_get_the_same_answer(live) -> None:
    server, token = live
    headers = {"X-Justification": JUSTIFICATION}
    unknown = request(
        server, "GET", "/api/v1/nominals/NOBODY/history", token=token, headers=headers
    )
    traversal = request(
        server,
        "GET",
        "/api/v1/nominals/..%2F..%2Fetc%2Fpasswd/history",
        token=token,
        headers=headers,
    )
    assert unknown == traversal
    assert "Traceback" not in server.log_text()
