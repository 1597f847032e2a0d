"""A change committed by a process that died before logging it gets its audit record when the
database is next opened (``audit.recover``, called by ``open_store``).

test_crash.py proves it for ingests, runs and backfills killed with SIGKILL between their
COMMIT and their audit append; here the same moment is reached in-process for approvals and
token changes (the audit append is made to fail as a killed process would: after the commit),
and the rebuilt records are checked field by field against the ones a normal append writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harmrank.api.security as security
import harmrank.scoring.runs as runs_module
from harmrank import audit
from harmrank.config import Config
from harmrank.ingest import ingest_extract
from harmrank.scoring import approve_runs, backfill, run_month
from harmrank.store import open_store
from harmrank.testing import write_extract


class Died(BaseException):
    """Stands for the process ending between the commit and the audit append."""


def _die(*_args, **_kwargs):
    raise Died


def _records(db: Path) -> list[dict]:
    with open_store(db) as store:
        frame = store.frame(
            "SELECT seq, user_name, roles, action, route, month, status, row_count, detail "
            "FROM audit_log ORDER BY seq"
        )
        assert audit.verify(store).ok
    return [
        {**r, "detail": json.loads(r["detail"]) if r["detail"] else None} for r in frame.to_dicts()
    ]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    folder = write_extract(
        tmp_path / "extract",
        crimes=[
            {"crime_id": "C1", "ho_code": "19C", "recorded_on": "2025-05-10"},
            {"crime_id": "C2", "ho_code": "8N", "recorded_on": "2025-06-10", "lpa": ""},
        ],
        suspects=[{"crime_id": "C1", "nominal_id": "N1"}],
        lpas=["Shropshire"],
    )
    path = tmp_path / "h.duckdb"
    with open_store(path) as store:
        ingest_extract(store, folder, Config(), user="loader")
    return path


def test_nothing_to_recover_writes_nothing(db: Path) -> None:
    before = _records(db)
    with open_store(db) as store:
        assert audit.recover(store) == 0
    assert _records(db) == before


def test_an_unlogged_run_and_backfill_are_logged_on_the_next_open(db, monkeypatch) -> None:
    with open_store(db) as store:
        run_month(store, "2025-06", Config(), user="ana")  # logged normally: the model
    normal = _records(db)[-1]
    monkeypatch.setattr(runs_module.audit, "append", _die)
    with open_store(db) as store:
        with pytest.raises(Died):
            run_month(store, "2025-06", Config(), user="ana")
        with pytest.raises(Died):
            backfill(store, "2025-04", "2025-06", Config(), user="bob")
    monkeypatch.undo()
    records = _records(db)  # opening recovered them
    run, fill = records[-2], records[-1]
    assert run["detail"].pop("recovered") == audit.RECOVERED
    assert {**run, "seq": 0, "detail": {**run["detail"], "runs": []}} == {
        **normal,
        "seq": 0,
        "detail": {**normal["detail"], "runs": []},
    }
    assert run["detail"]["runs"] == ["R000002"]
    assert fill["detail"].pop("recovered") == audit.RECOVERED
    assert (fill["user_name"], fill["action"], fill["month"], fill["row_count"]) == (
        "bob",
        "backfill",
        "2025-04..2025-06",
        3,
    )
    assert fill["detail"] == {"runs": ["R000003", "R000004", "R000005"], "backfill_id": "B000003"}
    # and only once
    with open_store(db) as store:
        assert audit.recover(store) == 0


def test_an_unlogged_ingest_is_logged_like_a_normal_one(db, tmp_path, monkeypatch) -> None:
    normal = _records(db)[-1]
    import harmrank.ingest as ingest_module

    monkeypatch.setattr(ingest_module.audit, "append", _die)
    folder = tmp_path / "extract"
    with open_store(db) as store, pytest.raises(Died):
        ingest_extract(store, folder, Config(), user="loader")
    monkeypatch.undo()
    recovered = _records(db)[-1]
    assert recovered["detail"].pop("recovered") == audit.RECOVERED
    assert recovered["detail"].pop("load_id") == 2
    normal["detail"].pop("load_id")
    assert {**recovered, "seq": 0} == {**normal, "seq": 0}


def test_an_unlogged_approval_is_logged(db, monkeypatch) -> None:
    with open_store(db) as store:
        run_month(store, "2025-06", Config(), user="ana")
    monkeypatch.setattr(runs_module.audit, "append", _die)
    with open_store(db) as store, pytest.raises(Died):
        approve_runs(store, ["R000001"], by="sgt.evans")
    monkeypatch.undo()
    record = _records(db)[-1]
    assert (record["user_name"], record["action"], record["route"], record["row_count"]) == (
        "sgt.evans",
        "approve",
        "approve runs",
        1,
    )
    assert record["detail"] == {"runs": ["R000001"], "recovered": audit.RECOVERED}


def test_unlogged_token_changes_are_logged(db, monkeypatch) -> None:
    monkeypatch.setattr(security.audit, "append", _die)
    with open_store(db) as store:
        with pytest.raises(Died):
            security.mint_token(store, user="ana", roles=["analyst"], created_by="admin1")
        token_id = store.scalar("SELECT token_id FROM api_tokens")
        with pytest.raises(Died):
            security.revoke_tokens(store, by="admin2", user="ana")
    monkeypatch.undo()
    created, revoked = _records(db)[-2:]
    assert (created["user_name"], created["action"]) == ("admin1", "token-create")
    assert created["detail"]["token_id"] == token_id
    assert created["detail"]["for_user"] == "ana" and created["detail"]["roles"] == ["analyst"]
    assert (revoked["user_name"], revoked["action"], revoked["row_count"]) == (
        "admin2",
        "token-revoke",
        1,
    )
    assert revoked["detail"] == {
        "token_ids": [token_id],
        "for_user": "ana",
        "recovered": audit.RECOVERED,
    }
    # the token secret is never in the log
    with open_store(db) as store:
        secret_hash = store.scalar("SELECT token_hash FROM api_tokens")
        assert (
            store.scalar("SELECT count(*) FROM audit_log WHERE detail LIKE ?", [f"%{secret_hash}%"])
            == 0
        )
