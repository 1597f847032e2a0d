"""`harmrank serve` owns its database (SPEC section 6): while it runs, another command on the
same database refuses at once and names the server; shutdown removes the server file and
leaves the database whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmrank import audit
from harmrank.api.security import mint_token
from harmrank.cli import app as cli_app
from harmrank.store import StoreBusy, open_store, server_file

from .helpers import LAST

runner = CliRunner()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def served(base_db: Path, tmp_path: Path):
    db = tmp_path / "served.duckdb"
    shutil.copy(base_db, db)
    with open_store(db) as store:
        token, _ = mint_token(store, user="ana", roles=["analyst"], created_by="test-admin")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from harmrank.cli import main; main()",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if get(url + "/health")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    try:
        yield process, db, url, token
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_serve_owns_the_database(served) -> None:
    process, db, url, token = served
    marker = server_file(db)
    info = json.loads(marker.read_text(encoding="utf-8"))
    assert info["pid"] == process.pid and info["url"] == url and info["started_at"]

    status, body = get(f"{url}/api/v1/lists/{LAST}?lpa=Shropshire&list=harm", token)
    assert status == 200 and json.loads(body)["entries"][0]["nominal_id"] == "NS01"
    assert get(f"{url}/api/v1/lists/{LAST}")[0] == 401

    # another command on the same database refuses at once and names the server
    started = time.monotonic()
    with pytest.raises(StoreBusy) as refused:
        open_store(db)
    assert "harmrank serve" in str(refused.value) and url in str(refused.value)
    result = runner.invoke(cli_app, ["token", "list", "--db", str(db)])
    assert isinstance(result.exception, StoreBusy)
    assert time.monotonic() - started < 10

    # shutdown (SIGTERM, as a service manager stops it) removes the server file
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    assert not marker.exists()
    with open_store(db) as store:
        check = audit.verify(store)
        assert check.ok, check.message
        routes = [r[0] for r in store.execute("SELECT route FROM audit_log").fetchall()]
    assert "GET /api/v1/lists/{month}" in routes


def test_ctrl_c_also_removes_the_server_file(served) -> None:
    process, db, _url, _token = served
    marker = server_file(db)
    assert marker.exists()
    process.send_signal(signal.SIGINT)
    process.wait(30)
    assert not marker.exists()


def test_a_second_server_refuses(served) -> None:
    _process, db, url, _token = served
    result = subprocess.run(
        [sys.executable, "-c", "from harmrank.cli import main; main()", "serve", "--db", str(db),
         "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "harmrank serve" in result.stderr and url in result.stderr
    assert json.loads(server_file(db).read_text())["url"] == url  # the first one's file stays


def test_stale_server_file_is_not_believed(base_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "stale.duckdb"
    shutil.copy(base_db, db)
    server_file(db).write_text(json.dumps({"pid": os.getpid() + 10_000_000, "url": "x"}))
    with open_store(db) as store:  # nobody holds the lock: the file is just left over
        assert store.scalar("SELECT count(*) FROM runs") == 6
