"""The audit log (SPEC section 7): an append-only hash chain whose every change, deletion or
truncation is found, and named."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from harmrank import audit
from harmrank.audit import GENESIS
from harmrank.store import open_store
from harmrank.testing import edit_audit_record as edit_record


@pytest.fixture
def logged(store):
    """A store whose audit log holds five records."""
    for i in range(1, 6):
        audit.append(
            store,
            user=f"user{i}",
            action="read",
            roles=["offender_manager", "analyst"],
            route="/api/v1/lists/2025-06",
            nominal_id=f"N{i}",
            lpa="Shropshire",
            month="2025-06",
            justification="MARAC review — é",
            status=200,
            row_count=i,
            detail={"b": 1, "a": [i, "x"]},
        )
    return store


def test_an_empty_log_verifies_and_its_head_is_the_genesis_hash(store):
    assert audit.head(store) == GENESIS
    result = audit.verify(store)
    assert result.ok and result.records == 0 and result.head == GENESIS
    assert audit.verify(store, GENESIS).ok


def test_append_chains_records(logged):
    rows = logged.execute("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after[1] == before[2]
    assert len({r[2] for r in rows}) == 5
    assert audit.head(logged) == rows[-1][2]
    roles = logged.scalar("SELECT roles FROM audit_log WHERE seq = 1")
    assert roles == ["analyst", "offender_manager"]  # stored sorted


def test_append_returns_the_new_head(store):
    digest = audit.append(store, user="u", action="ingest")
    assert digest == audit.head(store)
    assert len(digest) == 64


def test_an_intact_log_verifies(logged):
    result = audit.verify(logged)
    assert result.ok, result.message
    assert result.records == 5
    assert result.head == audit.head(logged)
    assert result.first_broken is None
    assert "intact: 5 records" in result.message


@pytest.mark.parametrize(
    "change",
    [
        {"user_name": "someone else"},
        {"justification": None},
        {"row_count": 0},
        {"logged_at": lambda at: at + timedelta(seconds=1)},
        {"action": "ingest"},
        {"roles": ["admin"]},
        {"detail": "{}"},
        {"status": 403},
    ],
)
def test_an_updated_field_breaks_the_chain_at_that_record(logged, change):
    edit_record(logged, 3, **change)
    result = audit.verify(logged)
    assert not result.ok
    assert result.first_broken == 3
    assert result.message == "record 3: its contents do not match its hash"


def test_a_changed_hash_breaks_the_chain_at_that_record(logged):
    edit_record(logged, 2, hash="a" * 64)
    result = audit.verify(logged)
    assert (result.ok, result.first_broken) == (False, 2)


def test_a_rehashed_record_breaks_the_link_of_the_next(logged):
    """Whoever edits a record and recomputes its own hash still breaks the next link."""
    import hashlib
    import json

    seq = 2
    row = logged.one(
        "SELECT seq, strftime(logged_at, '%Y-%m-%dT%H:%M:%S.%f'), user_name, roles, action, route, "
        "nominal_id, lpa, month, justification, status, row_count, detail, prev_hash "
        "FROM audit_log WHERE seq = 2"
    )
    fields = dict(zip(audit.FIELDS, row[:13], strict=True))
    fields["roles"] = list(fields["roles"])
    fields["user_name"] = "forged"
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged = hashlib.sha256((row[13] + "\n" + canonical).encode()).hexdigest()
    edit_record(logged, seq, user_name="forged", hash=forged)
    result = audit.verify(logged)
    assert (result.ok, result.first_broken) == (False, 3)
    assert result.message == "record 3: its link to record 2 is broken"


@pytest.mark.parametrize(("deleted", "named"), [(1, 1), (3, 3), (4, 4)])
def test_a_deleted_record_is_named(logged, deleted, named):
    logged.execute("DELETE FROM audit_entries WHERE seq = ?", [deleted])
    result = audit.verify(logged)
    assert not result.ok
    assert result.first_broken == named
    assert result.message == f"record {named} is missing (found seq {deleted + 1})"


def test_deleted_and_renumbered_records_break_the_link(logged):
    logged.execute("DELETE FROM audit_entries WHERE seq = 3")
    logged.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 3")
    result = audit.verify(logged)
    assert (result.ok, result.first_broken) == (False, 3)


def test_verify_with_a_recorded_head(logged):
    kept = audit.head(logged)
    assert audit.verify(logged, kept).ok
    # the log grows: it still extends the recorded head
    audit.append(logged, user="later", action="read")
    assert audit.verify(logged, kept).ok
    # an earlier head is also extended
    second = logged.scalar("SELECT hash FROM audit_log WHERE seq = 2")
    assert audit.verify(logged, second).ok


def test_verify_with_a_head_fails_when_the_log_was_truncated_before_it(logged):
    kept = audit.head(logged)
    logged.execute("DELETE FROM audit_entries WHERE seq >= 4")
    # the shorter log is a valid chain on its own…
    assert audit.verify(logged).ok
    # …but it no longer holds the head recorded outside the database
    result = audit.verify(logged, kept)
    assert not result.ok
    assert kept in result.message
    assert "records were removed or rewritten" in result.message


def test_verify_with_a_head_fails_when_the_log_was_rewritten(tmp_path):
    path = tmp_path / "audited.duckdb"
    with open_store(path) as store:
        for i in range(3):
            audit.append(store, user=f"user{i}", action="read")
        kept = audit.head(store)
    with open_store(path) as store:  # someone with the file while harmrank is stopped
        store.execute("DELETE FROM audit_entries")
    with open_store(path) as store:  # a later harmrank process writes a new history
        audit.append(store, user="new history", action="read")
        assert audit.verify(store).ok
        assert not audit.verify(store, kept).ok


def test_a_head_that_never_existed_fails(logged):
    assert not audit.verify(logged, "f" * 64).ok


def test_appends_from_threads_chain_without_gaps(tmp_path):
    from harmrank.store import open_store

    store = open_store(tmp_path / "a.duckdb")
    try:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(10):
                    audit.append(store, user=f"t{n}", action="read", row_count=i)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        result = audit.verify(store)
        assert result.ok, result.message
        assert result.records == 40
    finally:
        store.close()


def test_an_append_is_kept_when_the_callers_transaction_rolls_back(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.execute("CREATE TABLE scratch (x INTEGER)")
        audit.append(store, user="u", action="read")
        raise RuntimeError("the request failed")
    assert audit.verify(store).records == 1


def test_the_next_process_chains_to_the_head_it_finds(tmp_path):
    """A process remembers the head it appended last; a later one reads the head afresh, so a
    record removed by hand in between is not chained to."""
    path = tmp_path / "audited.duckdb"
    with open_store(path) as store:
        audit.append(store, user="a", action="read")
        audit.append(store, user="b", action="read")
    with open_store(path) as store:
        store.execute("DELETE FROM audit_entries WHERE seq = 2")
    with open_store(path) as store:
        audit.append(store, user="c", action="read")
        assert audit.verify(store).ok
        rows = store.execute("SELECT seq, user_name FROM audit_log ORDER BY seq").fetchall()
        assert rows == [(1, "a"), (2, "c")]


def test_appends_through_two_opens_of_one_file_in_a_process_chain_without_forks(tmp_path):
    path = tmp_path / "audited.duckdb"
    first = open_store(path)
    audit.append(first, user="a", action="read")
    second = open_store(path)  # the same database, opened again in this process
    audit.append(second, user="b", action="read")
    audit.append(first, user="c", action="read")
    assert audit.verify(first).ok
    assert [r[0] for r in first.execute("SELECT seq FROM audit_log ORDER BY seq").fetchall()] == [
        1,
        2,
        3,
    ]
    second.close()
    first.close()
