"""`harmrank synth` and `harmrank synth-report`: synthetic extracts (SPEC section 8)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harmrank.cli.common import ConfigOption, DbOption, fail


class Preset(StrEnum):
    west_mercia = "west-mercia"
    national = "national"


class ExtractFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


def _print_report(folder: Path, fmt: ReportFormat) -> bool:
    from harmrank.synthetic_data import measure_extract, render

    report = measure_extract(folder)
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render(report, Console())
    return report.all_met


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Annotated[
            Path,
            typer.Option("--out", help="Folder to write the extract into (created if needed)."),
        ],
        preset: Annotated[
            Preset, typer.Option("--preset", help="Which extract to make.")
        ] = Preset.west_mercia,
        years: Annotated[
            int, typer.Option("--years", min=1, max=50, help="Years of recorded crime.")
        ] = 3,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Same seed and arguments, same bytes.")
        ] = 1,
        end_month: Annotated[
            str | None,
            typer.Option(
                "--end-month",
                help="Last month of the extract, YYYY-MM (default: last complete month).",
            ),
        ] = None,
        faults: Annotated[
            float,
            typer.Option(
                "--faults",
                min=0.0,
                max=0.5,
                help="Share of rows per file made bad (bad dates, unknown LPA, duplicate ids, orphan "
                "links...); manifest.json counts every row a correct ingest must quarantine.",
            ),
        ] = 0.0,
        fmt: Annotated[
            ExtractFormat, typer.Option("--format", help="File format.")
        ] = ExtractFormat.csv,
        report: Annotated[
            bool,
            typer.Option(
                "--report", help="Then print the calibration targets beside what was achieved."
            ),
        ] = False,
        scale: Annotated[
            float,
            typer.Option(
                "--scale",
                min=0.001,
                max=10.0,
                help="Multiply every volume (quick demos and tests).",
            ),
        ] = 1.0,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Write a synthetic extract: crimes, suspects, nominals, orders, lpas, manifest.json.

        Every person, victim and crime is invented (docs/synthetic-data.md).
        --db and --config are accepted like every command's, and not used.
        """
        from harmrank.synthetic_data import write_extract

        del db, config
        try:
            manifest = write_extract(
                out,
                preset.value,
                years,
                seed,
                end_month=end_month,
                faults=faults,
                fmt=fmt.value,
                progress=True,
                scale=scale,
            )
        except ValueError as e:
            fail(str(e))
        err = Console(stderr=True)
        rows = ", ".join(f"{name} {n:,}" for name, n in manifest.rows.items())
        err.print(f"wrote {out} ({manifest.window_start} to {manifest.window_end}): {rows}")
        if faults > 0:
            bad = ", ".join(f"{name} {n:,}" for name, n in manifest.faults.items())
            err.print(f"injected bad rows (a correct ingest quarantines exactly these): {bad}")
        if report:
            _print_report(out, ReportFormat.table)

    @app.command("synth-report")
    def synth_report(
        folder: Annotated[Path, typer.Argument(help="An extract written by harmrank synth.")],
        fmt: Annotated[
            ReportFormat, typer.Option("--format", help="table or json.")
        ] = ReportFormat.table,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit with status 1 when a target is not met.")
        ] = False,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Print a synthetic extract's calibration targets beside what it achieves.

        --db and --config are accepted like every command's, and not used.
        """
        del db, config
        if not (folder / "manifest.json").is_file():
            fail(f"{folder}: no manifest.json (not an extract written by harmrank synth)")
        met = _print_report(folder, fmt)
        if strict and not met:
            raise typer.Exit(1)
