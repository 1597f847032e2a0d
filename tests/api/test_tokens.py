"""SPEC sections 6 and 7, tokens: only a hash is stored, expiry, revocation, the token
commands of the command line."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from typer.testing import CliRunner

from harmrank.api.security import AccessError, parse_lpas, parse_roles, utcnow
from harmrank.cli import app as cli_app
from harmrank.store import open_store

from .helpers import LAST, Api

runner = CliRunner()


def test_only_a_hash_is_stored(api: Api) -> None:
    token = api.token("ana", "analyst")
    rows = api.store.execute("SELECT * FROM api_tokens").fetchall()
    assert token not in repr(rows)
    secret = token.split("_", 2)[2]
    assert secret not in repr(rows) and secret not in repr(api.audit_rows())
    stored = api.store.scalar("SELECT token_hash FROM api_tokens WHERE user_name = 'ana'")
    assert stored == hashlib.sha256(token.encode()).hexdigest()


def test_expired_token_is_401(api: Api) -> None:
    old = api.token("ana", "analyst", expires_days=90, now=utcnow() - timedelta(days=91))
    fresh = api.token("ana", "analyst", expires_days=1)
    assert api.get(f"/api/v1/lists/{LAST}", old).status_code == 401
    assert api.get(f"/api/v1/lists/{LAST}", fresh).status_code == 200


def test_default_expiry_is_90_days(api: Api) -> None:
    api.token("ana", "analyst")
    created, expires = api.store.one(
        "SELECT created_at, expires_at FROM api_tokens WHERE user_name = 'ana'"
    )
    assert expires - created == timedelta(days=90)


def test_revoked_token_is_401_at_once(api: Api) -> None:
    from harmrank.api.security import revoke_tokens

    token = api.token("ana", "analyst")
    other = api.token("bob", "analyst")
    assert api.get(f"/api/v1/lists/{LAST}", token).status_code == 200
    assert revoke_tokens(api.store, by="admin", user="ana")
    assert api.get(f"/api/v1/lists/{LAST}", token).status_code == 401
    assert api.get(f"/api/v1/lists/{LAST}", other).status_code == 200
    actions = [(r["action"], r["user_name"], r["status"]) for r in api.audit_rows()[-3:]]
    assert actions == [
        ("token-revoke", "admin", 200),
        ("read", "anonymous", 401),
        ("read", "bob", 200),
    ]


def test_an_admin_revokes_a_token_over_the_api_while_the_server_runs(api: Api) -> None:
    # `harmrank token revoke` needs the database to itself; a leaked token must not keep
    # working until the server is stopped
    leaked = api.token("ana", "analyst")
    other = api.token("bob", "analyst")
    adam = api.token("adam", "admin")
    assert api.get(f"/api/v1/lists/{LAST}", leaked).status_code == 200
    # only an admin may; nobody else learns anything about tokens
    sue = api.token("sue", "supervisor")
    assert api.post("/api/v1/tokens/revoke", sue, json={"user": "ana"}).status_code == 403
    assert api.post("/api/v1/tokens/revoke", leaked, json={"user": "ana"}).status_code == 403
    for bad in ({}, {"user": "ana", "token_id": "x"}, {"user": ""}, {"user": "ana", "x": 1}):
        assert api.post("/api/v1/tokens/revoke", adam, json=bad).status_code == 422, bad
    response = api.post("/api/v1/tokens/revoke", adam, json={"user": "ana"})
    assert response.status_code == 200
    [token_id] = response.json()["revoked"]
    assert response.json()["revoked_by"] == "adam"
    assert leaked.split("_")[1] == token_id
    assert api.get(f"/api/v1/lists/{LAST}", leaked).status_code == 401
    assert api.get(f"/api/v1/lists/{LAST}", other).status_code == 200
    again = api.post("/api/v1/tokens/revoke", adam, json={"user": "ana"})
    assert again.status_code == 404
    by_id = api.post("/api/v1/tokens/revoke", adam, json={"token_id": other.split("_")[1]})
    assert by_id.status_code == 200
    assert api.get(f"/api/v1/lists/{LAST}", other).status_code == 401
    # every request logged, refusals included; each revocation also as its own record
    rows = [r for r in api.audit_rows() if r["route"] == "POST /api/v1/tokens/revoke"]
    assert [(r["user_name"], r["status"]) for r in rows] == [
        ("sue", 403),
        ("ana", 403),
        *[("adam", 422)] * 4,
        *[("adam", 200)] * 2,  # the revocation and the request
        ("adam", 404),
        *[("adam", 200)] * 2,
    ]
    assert [
        r["row_count"] for r in rows if r["action"] == "token-revoke" and r["status"] == 200
    ] == [1] * 4


def test_roles_and_lpas_are_checked() -> None:
    assert parse_roles("supervisor, analyst") == ("analyst", "supervisor")
    assert parse_lpas(None) is None and parse_lpas("ALL") is None
    assert parse_lpas("Shropshire,Herefordshire", ["Herefordshire", "Shropshire"]) == (
        "Herefordshire",
        "Shropshire",
    )
    for bad in ("", "wizard", "analyst,root"):
        try:
            parse_roles(bad)
        except AccessError:
            pass
        else:
            raise AssertionError(f"{bad!r} accepted")
    try:
        parse_lpas("Shropshire,Narnia", ["Shropshire"])
    except AccessError as e:
        assert "Narnia" in str(e)
    else:
        raise AssertionError("an unknown LPA was accepted")


def test_cli_token_lifecycle(api: Api) -> None:
    api.close()
    db = str(api.path)
    made = runner.invoke(
        cli_app,
        [
            "token",
            "create",
            "--user",
            "olive",
            "--roles",
            "offender_manager",
            "--lpas",
            "Shropshire",
            "--db",
            db,
        ],
    )
    assert made.exit_code == 0, made.output
    lines = made.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hrk_")  # the token alone on stdout
    token = lines[0]
    assert "shown once" in made.stderr
    listed = runner.invoke(cli_app, ["token", "list", "--format", "json", "--db", db])
    assert listed.exit_code == 0
    tokens = json.loads(listed.stdout)
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    olive = next(t for t in tokens if t["user"] == "olive")
    assert (olive["roles"], olive["lpas"], olive["state"]) == (
        ["offender_manager"],
        ["Shropshire"],
        "active",
    )
    # the minted token works with the API
    from harmrank.api.security import authenticate

    with open_store(db) as store:
        principal = authenticate(store, token)
        assert principal is not None and principal.lpas == frozenset({"Shropshire"})
        actions = [r[0] for r in store.execute("SELECT action FROM audit_log").fetchall()]
        assert "token-create" in actions
    revoked = runner.invoke(cli_app, ["token", "revoke", "--user", "olive", "--db", db])
    assert revoked.exit_code == 0 and olive["token_id"] in revoked.stdout
    again = runner.invoke(cli_app, ["token", "revoke", "--user", "olive", "--db", db])
    assert again.exit_code == 1
    listed = json.loads(
        runner.invoke(cli_app, ["token", "list", "--format", "json", "--db", db]).stdout
    )
    assert next(t for t in listed if t["user"] == "olive")["state"] == "revoked"
    with open_store(db) as store:
        assert authenticate(store, token) is None
        assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'token-revoke'") == 1


def test_cli_token_create_refuses_bad_input(api: Api) -> None:
    api.close()
    db = str(api.path)
    for args in (
        ["--user", "x", "--roles", "wizard"],
        ["--user", "x", "--roles", "analyst", "--lpas", "Narnia"],
        ["--user", "x", "--roles", "analyst", "--expires-days", "0"],
        ["--user", "", "--roles", "analyst"],
    ):
        result = runner.invoke(cli_app, ["token", "create", *args, "--db", db])
        assert result.exit_code != 0, args
        assert result.stdout == ""


def test_cli_no_lpas_means_every_lpa(api: Api) -> None:
    api.close()
    db = str(api.path)
    made = runner.invoke(
        cli_app, ["token", "create", "--user", "sue", "--roles", "supervisor", "--db", db]
    )
    from harmrank.api.security import authenticate

    with open_store(db) as store:
        principal = authenticate(store, made.stdout.strip())
    assert principal is not None and principal.lpas is None
    assert principal.sees_every(["Herefordshire", "Shropshire", "Telford & Wrekin"])
