"""Commands of the server and access control: serve, token, audit."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harmrank import audit, jsonout
from harmrank.api.settings import HISTORY_INDEX_ROWS
from harmrank.cli.common import ConfigOption, DbOption, config_from, fail, opened_store
from harmrank.store import default_db_path, open_store


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
        ] = 8000,
        cookie_secure: Annotated[
            bool,
            typer.Option(
                "--cookie-secure/--no-cookie-secure",
                help="Send the session cookie over HTTPS only (set when served over TLS).",
            ),
        ] = False,
        access_log: Annotated[
            bool,
            typer.Option(
                "--access-log/--no-access-log",
                help="Print each request line (URLs can hold nominal ids and reasons; the "
                "audit log records every request anyway).",
            ),
        ] = False,
        history_index_rows: Annotated[
            int,
            typer.Option(
                "--history-index-rows",
                min=0,
                help="Answer histories from an in-memory index of the stored scores when the "
                "database holds at most this many scored rows (about 45 bytes each); 0 always "
                "reads the database.",
            ),
        ] = HISTORY_INDEX_ROWS,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """The HTTP API and web pages. The server owns the database while it runs: other
        harmrank commands on it refuse at once and name the server."""
        import uvicorn

        from harmrank.api import ApiSettings, create_app
        from harmrank.api.announce import announce, withdraw
        from harmrank.scoring.rules import RuleError, resolve_rule

        cfg = config_from(config)
        try:
            resolve_rule(cfg)
        except RuleError as e:
            fail(str(e))
        db_path = Path(db) if db is not None else default_db_path()
        store = open_store(db_path)  # refuses at once when another process holds it
        url = _url(host, port)
        marker = announce(db_path, url)
        try:
            settings = ApiSettings(
                db_path=db_path,
                config=cfg,
                cookie_secure=cookie_secure,
                server_file=marker,
                history_index_rows=history_index_rows,
            )
            application = create_app(settings, store=store)
            typer.echo(f"harmrank serving {db_path} at {url} (stop with Ctrl-C)", err=True)
            uvicorn.run(
                application,
                host=host,
                port=port,
                access_log=access_log,
                log_level="info",
                server_header=False,
            )
        finally:
            withdraw(marker)
            store.close()

    token_app = typer.Typer(help="API tokens: mint, revoke, list.", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    @token_app.command("create")
    def token_create(
        user: Annotated[str, typer.Option("--user", help="Who the token is for.")],
        roles: Annotated[
            str,
            typer.Option(
                "--roles",
                help="Comma-separated: analyst, offender_manager, supervisor, auditor, admin.",
            ),
        ],
        lpas: Annotated[
            str | None,
            typer.Option(
                "--lpas", help="Comma-separated LPAs the token may see (default: every LPA)."
            ),
        ] = None,
        expires_days: Annotated[
            int, typer.Option("--expires-days", help="Days until the token expires.")
        ] = 90,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Mint a token: printed alone on stdout, once; only its hash is stored (logged)."""
        from harmrank.api.security import AccessError, mint_token, parse_lpas, parse_roles
        from harmrank.scoring.engine import known_lpas

        cfg = config_from(config)
        with opened_store(db) as store:
            try:
                known, _source = known_lpas(store.con, cfg)
                token, info = mint_token(
                    store,
                    user=user,
                    roles=parse_roles(roles),
                    lpas=parse_lpas(lpas, known),
                    expires_days=expires_days,
                    created_by=audit.os_user(),
                )
            except AccessError as e:
                fail(str(e))
        typer.echo(token)
        typer.echo(
            f"token {info.token_id} for {info.user}: roles {', '.join(info.roles)}; "
            f"LPAs {'every LPA' if info.lpas is None else ', '.join(info.lpas)}; expires "
            f"{info.expires_at:%Y-%m-%d %H:%M} UTC. It is shown once: hand it over safely.",
            err=True,
        )

    @token_app.command("revoke")
    def token_revoke(
        user: Annotated[
            str | None, typer.Option("--user", help="End every token of this user.")
        ] = None,
        token_id: Annotated[
            str | None, typer.Option("--id", help="End one token (its id from `token list`).")
        ] = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """End a user's tokens (and their web sessions) at once (logged).

        While `harmrank serve` holds the database, an admin revokes over the API instead:
        POST /api/v1/tokens/revoke with {"user": ...} or {"token_id": ...}."""
        from harmrank.api.security import AccessError, revoke_tokens

        config_from(config)

        with opened_store(db) as store:
            try:
                ids = revoke_tokens(store, by=audit.os_user(), user=user, token_id=token_id)
            except AccessError as e:
                fail(str(e))
        if not ids:
            who = f"user {user!r}" if user is not None else f"id {token_id!r}"
            fail(f"no unrevoked token for {who} (see `harmrank token list`)", code=1)
        typer.echo(f"revoked {len(ids)} token(s): {', '.join(ids)}")

    @token_app.command("list")
    def token_list(
        fmt: Annotated[TableOrJson, typer.Option("--format")] = TableOrJson.table,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Every token with its user, roles, LPAs, expiry and state; never a secret."""
        from harmrank.api.security import list_tokens, utcnow

        config_from(config)

        with opened_store(db) as store:
            tokens = list_tokens(store)
        now = utcnow()
        if fmt is TableOrJson.json:
            typer.echo(jsonout.dumps([t.as_dict(now) for t in tokens], indent=2))
            return
        table = Table(title="API tokens")
        for c in ("id", "user", "roles", "LPAs", "created", "by", "expires", "state"):
            table.add_column(c)
        for t in tokens:
            table.add_row(
                t.token_id,
                t.user,
                ", ".join(t.roles),
                "every LPA" if t.lpas is None else ", ".join(t.lpas),
                f"{t.created_at:%Y-%m-%d}",
                t.created_by,
                f"{t.expires_at:%Y-%m-%d}",
                t.state(now),
            )
        Console().print(table)

    audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def audit_verify(
        head: Annotated[
            str | None,
            typer.Option("--head", help="A head hash recorded earlier (`audit head`)."),
        ] = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Check the chain end to end and name the first broken record (exit 1 when broken)."""
        config_from(config)
        with opened_store(db, read_only=True) as store:
            result = audit.verify(store, head_hash=head)
        if not result.ok:
            fail(f"audit log BROKEN: {result.message}", code=1)
        typer.echo(result.message)

    @audit_app.command("head")
    def audit_head(db: DbOption = None, config: ConfigOption = None) -> None:
        """The latest record's hash: keep it outside the database, check later with
        `audit verify --head HASH`."""
        config_from(config)
        with opened_store(db, read_only=True) as store:
            typer.echo(audit.head(store))
