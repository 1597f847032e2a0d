"""`harmrank ingest` and `harmrank quarantine`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harmrank.cli.common import (
    ConfigOption,
    DbOption,
    config_from,
    fail,
    opened_store,
    stdout_is_terminal,
)
from harmrank.ingest import IngestReport, ingest_extract
from harmrank.readers import ExtractUnreadable


class IngestFormat(StrEnum):
    table = "table"
    json = "json"


class QuarantineFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def print_report(report: IngestReport, console: Console) -> None:
    table = Table(
        title=f"Load {report.load_id}: {report.source}" + (" (--replace)" if report.replace else "")
    )
    for col in (
        "file",
        "read",
        "accepted",
        "quarantined",
        "inserted",
        "updated",
        "unchanged",
        "stale",
        "ended",
    ):
        # never truncated: the reconciliation is read in logs and pipes as much as on screens
        table.add_column(
            col,
            justify="left" if col == "file" else "right",
            no_wrap=True,
            min_width=8 if col == "file" else len(col),
        )
    for name, rep in report.files.items():
        table.add_row(
            name,
            *(
                str(v)
                for v in (
                    rep.read,
                    rep.accepted,
                    rep.quarantined,
                    rep.inserted,
                    rep.updated,
                    rep.unchanged,
                    rep.stale,
                    rep.ended,
                )
            ),
        )
    console.print(table)
    for name, rep in report.files.items():
        if rep.ignored_columns:
            console.print(
                f"{name}: columns outside the contract, ignored and not stored: {', '.join(rep.ignored_columns)}"
            )
        if rep.collapsed:
            what = (
                "duplicate links collapsed to the latest stage"
                if name == "suspects"
                else "identical repeated rows collapsed into one"
            )
            console.print(f"{name}: {rep.collapsed} {what}")
        if rep.blank_lines:
            console.print(f"{name}: {rep.blank_lines} blank lines skipped")
    if report.unknown_codes:
        codes = ", ".join(f"{c} ({n})" for c, n in report.unknown_codes.items())
        console.print(f"HO codes not in the reference data (accepted, reported): {codes}")
    console.print(f"LPA list: {report.lpa_list}")
    if any(r.quarantined for r in report.files.values()):
        console.print(f"Quarantined rows: `harmrank quarantine --load {report.load_id}`")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        folder: Annotated[Path, typer.Argument(help="The extract folder (crimes, suspects, …).")],
        replace: Annotated[
            bool,
            typer.Option(
                "--replace", help="Treat the extract as complete: end what it no longer holds."
            ),
        ] = False,
        fmt: Annotated[IngestFormat, typer.Option("--format")] = IngestFormat.table,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Validate an extract, quarantine bad rows, upsert the rest; print the reconciliation."""
        cfg = config_from(config)
        with opened_store(db) as store:
            try:
                report = ingest_extract(store, folder, cfg, replace=replace)
            except ExtractUnreadable as e:
                fail(f"ingest refused, nothing was written: {e}")
        if fmt is IngestFormat.json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            # off a terminal (a log, a pipe) rich assumes 80 columns: never cut the table there
            print_report(report, Console() if stdout_is_terminal() else Console(width=160))

    @app.command()
    def quarantine(
        load: Annotated[
            int | None, typer.Option("--load", help="Only this load (default: every load).")
        ] = None,
        file: Annotated[
            str | None, typer.Option("--file", help="Only this file (crimes, suspects, …).")
        ] = None,
        fmt: Annotated[QuarantineFormat, typer.Option("--format")] = QuarantineFormat.table,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """List quarantined rows: load, file, line, reason and the raw contract values.
        --config is accepted like every command's, and checked, not used."""
        config_from(config)
        with opened_store(db) as store:
            rows = store.frame(
                "SELECT load_id, file, line, reason, raw::VARCHAR AS raw FROM quarantine "
                "WHERE (? IS NULL OR load_id = ?) AND (? IS NULL OR file = ?) ORDER BY load_id, file, line",
                [load, load, file, file],
            )
        if fmt is QuarantineFormat.json:
            typer.echo(
                json.dumps(
                    [{**r, "raw": json.loads(r["raw"])} for r in rows.to_dicts()],
                    indent=2,
                    ensure_ascii=False,
                )
            )
        elif fmt is QuarantineFormat.csv:
            typer.echo(rows.write_csv(), nl=False)
        else:
            table = Table(title=f"Quarantine ({rows.height} rows)")
            for col in rows.columns:
                table.add_column(col, overflow="fold")
            for r in rows.iter_rows():
                table.add_row(*(str(v) for v in r))
            Console().print(table)
