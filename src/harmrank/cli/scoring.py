"""Commands of the scoring engine: run, backfill, top10, history, explain, rules, runs, demo."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harmrank import NOTICE, audit, jsonout
from harmrank.cli.common import ConfigOption, DbOption, config_from, fail, opened_store
from harmrank.exports import HISTORY_COLUMNS, MARKING, history_csv, lists_csv, lists_xlsx
from harmrank.scoring import (
    LIST_KINDS,
    Month,
    MonthError,
    NotFound,
    RunError,
    approve_runs,
    backfill,
    explain,
    history,
    list_objects,
    run_month,
    runs_table,
)
from harmrank.scoring.rules import RuleError, rules_in_view

MonthOption = Annotated[str, typer.Option("--month", help="The as-at month, YYYY-MM.")]
JustificationOption = Annotated[
    str | None,
    typer.Option("--justification", help="Why you are looking (recorded in the audit log)."),
]


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except MonthError as e:
        fail(str(e))


def _progress(description: str) -> Progress:
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
        disable=not sys.stderr.isatty(),
    )


def wide_console(**kwargs: Any) -> Console:
    """A console for tables: the terminal's width, or 160 columns when writing to a pipe/file."""
    if "file" not in kwargs and sys.stdout.isatty():
        return Console(**kwargs)
    return Console(width=160, **kwargs)


def print_lists(
    objects: list[dict[str, Any]], console: Console, *, repeat_rows: int | None = None
) -> None:
    """The lists as tables. ``repeat_rows`` cuts the (uncut) repeat list for an overview."""
    console.print(f"[bold]{MARKING}[/bold] — {NOTICE}")
    for obj in objects:
        title = (
            f"{obj['lpa']} · {obj['list']} · {obj['month']} "
            f"(window {obj['window']['start']} to {obj['window']['end']}; run {obj['run_id']}, {obj['status']})"
        )
        table = Table(title=title, title_justify="left")
        if obj["list"] == "repeat":
            cols = [
                "rank",
                "nominal",
                "LPA",
                "qualifying",
                "victims",
                "last recorded",
                "movement",
                "reasons",
            ]
        else:
            cols = [
                "rank",
                "nominal",
                "harm",
                "frequency",
                "victims",
                "last recorded",
                "LPA",
                "repeat",
                "movement",
                "orders",
            ]
        for c in cols:
            table.add_column(
                c,
                justify="right"
                if c in ("rank", "harm", "frequency", "victims", "qualifying")
                else "left",
            )
        shown = obj["entries"]
        if obj["list"] == "repeat" and repeat_rows is not None and len(shown) > repeat_rows:
            table.caption = (
                f"first {repeat_rows} of {len(shown)} repeat suspects; the whole list: "
                f"`harmrank top10 --month {obj['month']} --lpa '{obj['lpa']}' --list repeat`"
            )
            shown = shown[:repeat_rows]
        for e in shown:
            mv = e["movement"]
            movement = "new" if mv == "new" else (f"+{mv}" if mv > 0 else str(mv))
            if obj["list"] == "repeat":
                table.add_row(
                    str(e["rank"]),
                    e["nominal_id"],
                    e["lpa"],
                    str(e["qualifying"]),
                    str(e["victims"]),
                    str(e["last_recorded_on"]),
                    movement,
                    "; ".join(e["reasons"]),
                )
            else:
                orders = ", ".join(o["order_type"] for o in e["orders"])
                table.add_row(
                    str(e["rank"]),
                    e["nominal_id"],
                    f"{e['harm']:.6f}",
                    str(e["frequency"]),
                    str(e["victims"]),
                    str(e["last_recorded_on"]),
                    e["lpa"],
                    "yes" if e["repeat_suspect"] else "",
                    movement,
                    orders,
                )
        if not obj["entries"]:
            table.caption = (
                "nobody scored (check the data-quality report: no data is not no offending)"
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(month: MonthOption, db: DbOption = None, config: ConfigOption = None) -> None:
        """Score one month and store the run (draft until approved where review is required)."""
        cfg = config_from(config)
        m = _month(month)
        with opened_store(db) as store:
            try:
                info = run_month(store, m, cfg)
            except (RunError, RuleError) as e:
                fail(str(e))
        typer.echo(f"run {info.run_id}: {info.month} scored ({info.status})")

    @app.command("backfill")
    def backfill_cmd(
        first: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")],
        last: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM.")],
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Score a range of months in one go (one run per month; the runs become readable
        together when the last is stored)."""
        cfg = config_from(config)
        f, t = _month(first), _month(last)
        if t < f:
            fail(f"--to {t} is before --from {f}")
        with opened_store(db) as store, _progress("backfill") as bar:
            task = bar.add_task("backfill", total=t.index - f.index + 1)
            try:
                runs = backfill(
                    store, f, t, cfg, progress=lambda done, total: bar.update(task, completed=done)
                )
            except (RunError, RuleError) as e:
                fail(str(e))
        typer.echo(
            f"{len(runs)} runs: {runs[0].run_id} ({runs[0].month}) to {runs[-1].run_id} ({runs[-1].month}), backfill {runs[0].backfill_id}"
        )

    @app.command("top10")
    def top10(
        month: MonthOption,
        lpa: Annotated[
            str | None, typer.Option("--lpa", help="One LPA, or ALL for the force-wide lists.")
        ] = None,
        kind: Annotated[
            str | None, typer.Option("--list", help="harm, frequency or repeat.")
        ] = None,
        fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write to this file instead of the terminal.")
        ] = None,
        run_id: Annotated[
            str | None,
            typer.Option("--run-id", help="A particular run (e.g. a draft under review)."),
        ] = None,
        justification: JustificationOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Print or write the monthly lists (decision support for human review)."""
        cfg = config_from(config)
        m = _month(month)
        if kind is not None and kind not in LIST_KINDS:
            fail(f"--list must be one of {', '.join(LIST_KINDS)}")
        if fmt is ListFormat.xlsx and out is None:
            fail("--format xlsx needs --out FILE")
        with opened_store(db) as store:
            user = audit.os_user()
            try:
                objects = list_objects(store, str(m), cfg, lpa=lpa, kind=kind, run_id=run_id)
            except NotFound as e:
                audit.append(
                    store,
                    user=user,
                    action="read",
                    route="harmrank top10",
                    lpa=lpa,
                    month=str(m),
                    justification=justification,
                    status=404,
                    row_count=0,
                )
                fail(str(e))
            audit.append(
                store,
                user=user,
                action="read",
                route="harmrank top10",
                lpa=lpa,
                month=str(m),
                justification=justification,
                status=200,
                row_count=sum(len(o["entries"]) for o in objects),
                detail={"list": kind, "run_id": objects[0]["run_id"] if objects else run_id},
            )
        if fmt is ListFormat.json:
            payload: Any = objects[0] if (lpa is not None and kind is not None) else objects
            _emit(jsonout.dumps(payload, indent=2) + "\n", out)
        elif fmt is ListFormat.csv:
            _emit(lists_csv(objects), out)
        elif fmt is ListFormat.xlsx:
            assert out is not None
            _write_atomic(out, lists_xlsx(objects))
            typer.echo(f"wrote {out}", err=True)
        else:
            overview = None if kind == "repeat" else cfg.scoring.top_n
            if out is not None:
                with open(out, "w", encoding="utf-8") as fh:
                    print_lists(objects, Console(file=fh, width=200), repeat_rows=overview)
            else:
                print_lists(objects, wide_console(), repeat_rows=overview)

    @app.command("history")
    def history_cmd(
        nominal_id: Annotated[str, typer.Argument(help="The nominal's id.")],
        first: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
        last: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
        fmt: Annotated[HistoryFormat, typer.Option("--format")] = HistoryFormat.table,
        justification: JustificationOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """One nominal's score history: one row per month in which it is scored."""
        cfg = config_from(config)
        for value in (first, last):
            if value is not None:
                _month(value)
        with opened_store(db) as store:
            result = history(store, nominal_id, cfg, first=first, last=last)
            audit.append(
                store,
                user=audit.os_user(),
                action="read",
                route="harmrank history",
                nominal_id=nominal_id,
                justification=justification,
                status=200 if result["months"] else 404,
                row_count=len(result["months"]),
                detail={"from": first, "to": last},
            )
        if fmt is HistoryFormat.json:
            typer.echo(jsonout.dumps(result, indent=2))
        elif fmt is HistoryFormat.csv:
            typer.echo(history_csv(result), nl=False)
        else:
            console = wide_console()
            console.print(f"[bold]{MARKING}[/bold] — {NOTICE}")
            table = Table(title=f"History of {nominal_id}", title_justify="left")
            for c in HISTORY_COLUMNS:
                table.add_column(c)
            for row in result["months"]:
                table.add_row(*("" if row[c] is None else str(row[c]) for c in HISTORY_COLUMNS))
            if not result["months"]:
                table.caption = "not scored in any month read"
            console.print(table)

    @app.command("explain")
    def explain_cmd(
        nominal_id: Annotated[str, typer.Argument(help="The nominal's id.")],
        month: MonthOption,
        justification: JustificationOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """A nominal's scores and contributing crimes in one month (JSON)."""
        cfg = config_from(config)
        m = _month(month)
        with opened_store(db) as store:
            try:
                result = explain(store, nominal_id, str(m), cfg)
                status = 200
            except NotFound as e:
                result, status = None, 404
                message = str(e)
            audit.append(
                store,
                user=audit.os_user(),
                action="read",
                route="harmrank explain",
                nominal_id=nominal_id,
                month=str(m),
                justification=justification,
                status=status,
                row_count=len(result["crimes"]) if result else 0,
            )
        if result is None:
            fail(message)
        typer.echo(jsonout.dumps(result, indent=2))

    rules_app = typer.Typer(help="The registered repeat-suspect rules.", no_args_is_help=True)
    app.add_typer(rules_app, name="rules")

    def rules_for(config: Path | None) -> list[dict[str, Any]]:
        try:
            return rules_in_view(config_from(config))
        except RuleError as e:
            fail(str(e))

    @rules_app.command("list")
    def rules_list(db: DbOption = None, config: ConfigOption = None) -> None:
        """Name, version and description of every registered rule, and the configuration's rule
        (which may be a rule file) marked "in use". --db is accepted like every command's, and
        not used."""
        del db
        table = Table(title="Repeat-suspect rules")
        for c in ("name", "version", "kind", "in use", "description"):
            table.add_column(c, overflow="fold")
        for p in rules_for(config):
            table.add_row(
                p["name"],
                str(p["version"]),
                p["kind"],
                "yes" if p["active"] else "",
                p["description"],
            )
        wide_console().print(table)

    @rules_app.command("show")
    def rules_show(
        name: Annotated[str, typer.Argument(help="A rule's name.")],
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """A rule's full definition and source (JSON); "active" says whether the configuration
        uses it. --db is accepted like every command's, and not used."""
        del db
        rules = {p["name"]: p for p in rules_for(config)}
        if name not in rules:
            fail(f"no rule {name!r} (registered or configured: {', '.join(rules)})")
        typer.echo(json.dumps(rules[name], indent=2))

    runs_app = typer.Typer(help="The stored runs.", invoke_without_command=True)
    app.add_typer(runs_app, name="runs")

    @runs_app.callback()
    def runs_cmd(
        ctx: typer.Context,
        fmt: Annotated[TableOrJson, typer.Option("--format")] = TableOrJson.table,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """The stored runs: id, month, status and provenance (each with the configuration it
        was made with). --config is accepted like every command's, and checked, not used."""
        config_from(config)
        if ctx.invoked_subcommand is not None:
            return
        with opened_store(db) as store:
            runs = runs_table(store)
        if fmt is TableOrJson.json:
            typer.echo(jsonout.dumps(runs, indent=2))
            return
        table = Table(title="Runs (newest first)")
        for c in (
            "run_id",
            "month",
            "status",
            "created_by",
            "created_at",
            "approved_by",
            "backfill_id",
            "rule",
            "data_fingerprint",
        ):
            table.add_column(c)
        for r in runs:
            table.add_row(
                r["run_id"],
                r["month"],
                r["status"],
                r["created_by"],
                str(r["created_at"])[:19],
                r["approved_by"] or "",
                r["backfill_id"] or "",
                f"{r['rule']} v{r['rule_version']}",
                r["data_fingerprint"][:12],
            )
        wide_console().print(table)

    @runs_app.command("approve")
    def runs_approve(
        run_ids: Annotated[list[str] | None, typer.Argument(help="Run ids to approve.")] = None,
        month: Annotated[
            str | None, typer.Option("--month", help="Approve every draft run of this month.")
        ] = None,
        backfill_id: Annotated[
            str | None, typer.Option("--backfill", help="Approve every draft run of this backfill.")
        ] = None,
        by: Annotated[str, typer.Option("--by", help="The approving supervisor.")] = "",
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Approve draft runs (a supervisor other than the one who started them), logged.
        --config is accepted like every command's, and checked, not used."""
        config_from(config)
        if not by.strip():
            fail("--by NAME is required: the supervisor who read the lists and approves them")
        ids = list(run_ids or [])
        with opened_store(db) as store:
            if month is not None:
                ids += [
                    r[0]
                    for r in store.execute(
                        "SELECT run_id FROM runs WHERE month = ? AND status = 'draft' ORDER BY seq",
                        [str(_month(month))],
                    ).fetchall()
                ]
            if backfill_id is not None:
                ids += [
                    r[0]
                    for r in store.execute(
                        "SELECT run_id FROM runs WHERE backfill_id = ? AND status = 'draft' ORDER BY seq",
                        [backfill_id],
                    ).fetchall()
                ]
            ids = list(dict.fromkeys(ids))
            if not ids:
                fail("no draft runs match")
            try:
                approve_runs(store, ids, by=by.strip())
            except RunError as e:
                fail(str(e))
        typer.echo(f"approved by {by.strip()}: {', '.join(ids)}")

    @app.command("demo")
    def demo_cmd(
        out: Annotated[
            Path, typer.Option("--out", help="Where the synthetic extract is written.")
        ] = Path("demo"),
        years: Annotated[int, typer.Option("--years", help="Years of synthetic data.")] = 4,
        seed: Annotated[int, typer.Option("--seed")] = 2025,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Synthetic West Mercia extract → ingest → backfill 12 months → the last month's lists."""
        from harmrank.cli.ingest import print_report
        from harmrank.ingest import ingest_extract
        from harmrank.scoring.months import last_complete_month
        from harmrank.synthetic_data import write_extract

        cfg = config_from(config)
        db_path = db or out / "harmrank.duckdb"
        end = last_complete_month()
        console = wide_console()
        console.print(
            f"[bold]1. Synthetic West Mercia extract[/bold] ({years} years to {end}, seed {seed}) → {out}"
        )
        write_extract(
            out / "extract", preset="west-mercia", years=years, seed=seed, end_month=str(end)
        )
        if Path(db_path).exists():
            Path(db_path).unlink()
        with opened_store(db_path) as store:
            console.print("[bold]2. Ingest[/bold]")
            report = ingest_extract(store, out / "extract", cfg)
            print_report(report, console)
            console.print(f"[bold]3. Backfill[/bold] {end.shift(-11)} to {end}")
            runs = backfill(store, end.shift(-11), end, cfg)
            console.print(f"{len(runs)} runs stored ({runs[0].run_id}–{runs[-1].run_id})")
            console.print(f"[bold]4. Lists for {end}[/bold]")
            objects = list_objects(store, str(end), cfg)
            audit.append(
                store,
                user=audit.os_user(),
                action="read",
                route="harmrank demo",
                month=str(end),
                justification="demonstration on synthetic data",
                row_count=sum(len(o["entries"]) for o in objects),
            )
        print_lists(objects, console, repeat_rows=cfg.scoring.top_n)
        console.print(
            f"\nDatabase: {db_path}  ·  try `harmrank top10 --db {db_path} --month {end} --lpa Shropshire --list harm --format json`"
        )


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write_atomic(out, text.encode("utf-8"))
        typer.echo(f"wrote {out}", err=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
