"""Clear failures: a database held by another process, a full disk, a read-only folder or file.

Each command is the real command line in a subprocess. Each must end at once with a non-zero
status and one line on stderr that says what is wrong and what to do (no traceback), print
nothing on stdout (a list read must not be shown when its reading could not be logged), and
leave the database as it was: it opens, its audit log verifies, and every table holds what it
held. Once the cause is gone, the same command succeeds.

The full disk is a small tmpfs and the read-only places are read-only bind mounts: both need
root (CAP_SYS_ADMIN); without it those tests are skipped, saying so. Without root the read-only
cases are also run with file permissions (which root ignores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harmrank import audit
from harmrank.store import open_store

from .conftest import END
from .support import EXTRACT_TABLES, RUN_TABLES, db_state

ALL_TABLES = {**EXTRACT_TABLES, **RUN_TABLES, "audit_log": ("logged_at",)}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def harmrank(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from harmrank.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    done.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return done


def commands(extracts: tuple[Path, Path], db: Path) -> dict[str, list[str]]:
    """A write of each kind, and a read (which writes its audit record)."""
    return {
        "ingest": ["ingest", str(extracts[1]), "--replace", "--db", str(db)],
        "run": ["run", "--month", END, "--db", str(db)],
        "backfill": ["backfill", "--from", "2024-07", "--to", END, "--db", str(db)],
        "top10": [
            "top10",
            "--month",
            "2025-05",
            "--lpa",
            "ALL",
            "--format",
            "json",
            "--db",
            str(db),
        ],
    }


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("harmrank: ") and "Traceback" not in line
    for text in expected:
        assert text in line, line
    return line


def assert_intact(db: Path, before: dict) -> None:
    with open_store(db) as store:
        check = audit.verify(store)
        assert check.ok, check.message
    assert db_state(db, ALL_TABLES) == before


# ------------------------------------------------------------- held by another process ----
def test_a_database_held_by_another_process(base_dbs, extracts, tmp_path) -> None:
    """Every command refuses at once, naming the process; nothing changes; once the database is
    free the commands work."""
    db = tmp_path / "held.duckdb"
    shutil.copy(base_dbs["ingest"], db)
    before = db_state(db, ALL_TABLES)
    script = textwrap.dedent(
        f"""
        import sys
        from harmrank.store import open_store
        store = open_store({str(db)!r})
        print("ready", flush=True)
        sys.stdin.read()
        store.close()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    try:
        for args in commands(extracts, db).values():
            done = harmrank(*args)
            assert_one_clear_line(
                done, f"{db} is in use by another process (pid {holder.pid})", "try again"
            )
            assert done.seconds < 60  # refused at once, not after a wait
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(60)
    assert_intact(db, before)
    assert harmrank(*commands(extracts, db)["ingest"]).returncode == 0


# -------------------------------------------------------------------------- mounts ----
def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({' '.join(args[:3])}…): {done.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


@contextmanager
def full_disk(folder: Path, db: Path) -> Iterator[Path]:
    """``db`` copied onto a small tmpfs that is then filled to the last byte."""
    if not IS_ROOT:
        pytest.skip("a full disk needs a tmpfs mount, which needs root")
    folder.mkdir()
    _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder))
    try:
        target = folder / db.name
        shutil.copy(db, target)
        filler = folder / "filler"
        with filler.open("wb", buffering=0) as f:
            for size in (1 << 20, 1 << 14, 1 << 8, 1):
                try:
                    while True:
                        f.write(b"\0" * size)
                except OSError:  # no space left for a block this size: try smaller ones
                    pass
        assert shutil.disk_usage(folder).free == 0
        yield target
    finally:
        _umount(folder)


@pytest.mark.parametrize("command", ["ingest", "run", "backfill", "top10"])
def test_a_full_disk(base_dbs, extracts, tmp_path, command) -> None:
    with full_disk(tmp_path / "disk", base_dbs["ingest"]) as db:
        before = db_state(db, ALL_TABLES)
        done = harmrank(*commands(extracts, db)[command])
        assert_one_clear_line(
            done, str(db), "cannot write the database: the disk is full", "free some space"
        )
        assert_intact(db, before)
        # space again: the same command goes through
        (db.parent / "filler").unlink()
        again = harmrank(*commands(extracts, db)[command])
        assert again.returncode == 0, again.stderr


@contextmanager
def read_only_folder(folder: Path, *, file_writable: bool) -> Iterator[None]:
    """Make ``folder`` read-only (and the files in it, unless ``file_writable``): read-only
    bind mounts as root, file permissions otherwise."""
    files = [p for p in folder.iterdir() if p.is_file()]
    if IS_ROOT:
        _mount("--bind", str(folder), str(folder))
        mounted = [folder]
        try:
            _mount("-o", "remount,ro,bind", str(folder))
            if file_writable:
                # the files stay writable: each is bound from a writable copy
                backing = folder.parent / (folder.name + "-rw")
                backing.mkdir()
                for f in files:
                    shutil.copy(f, backing / f.name)
                    _mount("--bind", str(backing / f.name), str(f))
                    mounted.insert(0, f)
            yield
        finally:
            for m in mounted:
                _umount(m)
    else:
        modes = {f: f.stat().st_mode for f in files}
        for f in files:
            if not file_writable:
                f.chmod(0o444)
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
            for f, mode in modes.items():
                f.chmod(mode)


@pytest.mark.parametrize("command", ["ingest", "top10"])
def test_a_read_only_folder_and_file(base_dbs, extracts, tmp_path, command) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "h.duckdb"
    shutil.copy(base_dbs["ingest"], db)
    before = db_state(db, ALL_TABLES)
    with read_only_folder(folder, file_writable=False):
        done = harmrank(*commands(extracts, db)[command])
        line = assert_one_clear_line(done, str(db), "cannot open the database for writing")
        assert "read-only" in line or "permission is denied" in line
        assert "reads included" in line  # why a read needs to write
    assert_intact(db, before)


@pytest.mark.parametrize("command", ["ingest", "top10"])
def test_a_read_only_folder_with_a_writable_file(base_dbs, extracts, tmp_path, command) -> None:
    """DuckDB writes its journal (``h.duckdb.wal``) beside the database on every commit."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "h.duckdb"
    shutil.copy(base_dbs["ingest"], db)
    with read_only_folder(folder, file_writable=True):
        before = db_state_through_copy(db, tmp_path)
        done = harmrank(*commands(extracts, db)[command])
        assert_one_clear_line(done, str(db), "its folder is not writable", "h.duckdb.wal", "intact")
        assert db_state_through_copy(db, tmp_path) == before


def db_state_through_copy(db: Path, tmp_path: Path) -> dict:
    """The state of a database that cannot be opened where it is (its folder is read-only)."""
    copy = tmp_path / f"copy-{time.monotonic_ns()}.duckdb"
    shutil.copy(db, copy)
    return db_state(copy, ALL_TABLES)


def test_a_new_database_in_a_read_only_folder(extracts, tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "keep").write_text("")
    with read_only_folder(folder, file_writable=False):
        done = harmrank("ingest", str(extracts[0]), "--db", str(folder / "new.duckdb"))
        assert_one_clear_line(done, "new.duckdb", "cannot open the database for writing")
    assert not (folder / "new.duckdb").exists()


def test_an_export_to_a_read_only_folder(base_dbs, tmp_path) -> None:
    db = tmp_path / "h.duckdb"
    shutil.copy(base_dbs["ingest"], db)
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "keep").write_text("")
    with read_only_folder(folder, file_writable=False):
        done = harmrank(
            "top10", "--month", "2025-05", "--format", "xlsx", "--out",
            str(folder / "lists.xlsx"), "--db", str(db),
        )  # fmt: skip
        assert_one_clear_line(done, "lists.xlsx")
    assert not (folder / "lists.xlsx").exists()


# ---------------------------------------------------------------------- output ----
def test_duckdb_never_draws_a_progress_bar_on_stdout(tmp_path) -> None:
    """DuckDB draws a progress bar on stdout (even into a pipe) for a statement that runs over
    two seconds: at force scale that would corrupt `--format json` and CSV output. The store
    turns it off, for its cursors too."""
    with open_store(tmp_path / "h.duckdb") as store:
        assert store.scalar("SELECT current_setting('enable_progress_bar')") is False
        cursor = store.cursor()
        try:
            assert cursor.scalar("SELECT current_setting('enable_progress_bar')") is False
        finally:
            cursor.close()
    with open_store(":memory:") as store:
        assert store.scalar("SELECT current_setting('enable_progress_bar')") is False
