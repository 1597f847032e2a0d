"""Measure an extract against the calibration targets and print target beside achieved.

The measures read the extract as ingest would see it (the files, not the generator's memory), so
``harmrank synth-report DIR`` works on any extract, synthetic or not. Rows that break the
contract (a ``--faults`` extract) are left out of the measures, not repaired.

Definitions follow SPEC section 3 where it has one: an *eligible* crime has status ``recorded``,
is VAWG (code in the ``vawg`` set or DA-flagged) and is linked to the nominal in any role but
``eliminated``; a crime counts once per nominal; harm is the sum of ONS CSS weights (6 dp; a code
with no weight adds 0).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from harmrank.contract import BY_NAME, PROTECTED_COLUMNS
from harmrank.synthetic_data import calibration
from harmrank.synthetic_data.offence_mix import sexual_codes, vawg_codes, weights

_TRUE = ("true", "1", "y", "yes")
_FALSE = ("false", "0", "n", "no")


@dataclass(frozen=True)
class Measured:
    target: calibration.Target
    achieved: float | None

    @property
    def met(self) -> bool:
        return self.target.met(self.achieved)

    @property
    def measured(self) -> bool:
        """False where the extract is too short to measure the target (one year, no turnover)."""
        return self.achieved is not None


@dataclass(frozen=True)
class CalibrationReport:
    preset: str
    years: int
    end: date
    rows: list[Measured]
    extra: dict[str, object]

    @property
    def all_met(self) -> bool:
        """Every target that could be measured is met."""
        return all(r.met for r in self.rows if r.measured)

    def failures(self) -> list[Measured]:
        return [r for r in self.rows if r.measured and not r.met]

    def as_dict(self) -> dict[str, object]:
        return {
            "preset": self.preset,
            "years": self.years,
            "end": self.end.isoformat(),
            "targets": [
                {
                    "key": r.target.key,
                    "description": r.target.description,
                    "target": r.target.target,
                    "low": r.target.low,
                    "high": r.target.high,
                    "achieved": r.achieved,
                    "met": r.met if r.measured else None,
                    "source": r.target.source,
                    "assumption": r.target.is_assumption,
                }
                for r in self.rows
            ],
            "extra": self.extra,
        }


# ------------------------------------------------------------------------------ reading ----
_ID_COLUMNS = ("crime_id", "nominal_id", "victim_id", "order_id")


def _scan(folder: Path, name: str) -> pl.LazyFrame | None:
    """One file of the extract as text (every column a string, empty = null), lazily."""
    csv_path, pq_path = folder / f"{name}.csv", folder / f"{name}.parquet"
    if csv_path.exists():
        frame = pl.scan_csv(
            csv_path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True
        )
    elif pq_path.exists():
        frame = pl.scan_parquet(pq_path)
        schema = frame.collect_schema()
        frame = frame.with_columns(
            [
                (pl.col(c).dt.strftime("%Y-%m-%d") if t == pl.Date else pl.col(c).cast(pl.String))
                for c, t in schema.items()
            ]
        )
    else:
        return None
    columns = frame.collect_schema().names()
    return frame.with_columns(
        [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


def file_columns(folder: Path) -> dict[str, list[str]]:
    """The header of every file of the extract."""
    out: dict[str, list[str]] = {}
    for name in BY_NAME:
        frame = _scan(folder, name)
        if frame is not None:
            out[name] = frame.collect_schema().names()
    return out


def _key(col: str) -> pl.Expr:
    """An id as a 64-bit hash: the measures only compare ids, and hashes are far lighter."""
    return pl.when(pl.col(col).is_null()).then(None).otherwise(pl.col(col).hash(seed=7)).alias(col)


def _date(col: str) -> pl.Expr:
    return (
        pl.when(pl.col(col).str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(pl.col(col).str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
        .alias(col)
    )


def load_frames(folder: Path) -> dict[str, pl.DataFrame]:
    """The extract's rows that the measures can use (rows breaking the contract left out),
    with ids hashed and dates parsed."""
    crimes_lf = _scan(folder, "crimes")
    suspects_lf = _scan(folder, "suspects")
    if crimes_lf is None or suspects_lf is None:
        raise FileNotFoundError(f"{folder}: an extract needs crimes and suspects files")
    crimes = (
        crimes_lf.select(
            "crime_id",
            "ho_code",
            "recorded_on",
            "committed_on",
            "domestic_abuse",
            "victim_id",
            "status",
            "outcome",
        )
        .with_columns(
            _date("recorded_on"),
            _date("committed_on"),
            pl.col("domestic_abuse").str.to_lowercase().is_in(_TRUE).alias("da"),
            pl.col("domestic_abuse").str.to_lowercase().is_in(_TRUE + _FALSE).alias("_da_ok"),
            pl.col("outcome").cast(pl.Int64, strict=False).alias("outcome_n"),
            pl.col("ho_code").cast(pl.Categorical),
        )
        .filter(
            pl.col("crime_id").is_not_null()
            & pl.col("ho_code").is_not_null()
            & pl.col("recorded_on").is_not_null()
            & pl.col("_da_ok")
            & pl.col("status").is_in(["recorded", "cancelled", "transferred"])
        )
        .with_columns(_key("crime_id"), _key("victim_id"), pl.col("status").cast(pl.Categorical))
        .filter(~pl.col("crime_id").is_duplicated())
        .drop("_da_ok", "domestic_abuse", "outcome")
        .collect()
    )
    suspects = (
        suspects_lf.select("crime_id", "nominal_id", "role")
        .filter(
            pl.col("crime_id").is_not_null()
            & pl.col("nominal_id").is_not_null()
            & pl.col("role").is_in(["suspect", "charged", "convicted", "eliminated"])
        )
        .with_columns(_key("crime_id"), _key("nominal_id"), pl.col("role").cast(pl.Categorical))
        .join(crimes.lazy().select("crime_id"), on="crime_id", how="semi")
        .collect()
    )
    out = {"crimes": crimes, "suspects": suspects}
    nominals = _scan(folder, "nominals")
    if nominals is not None:
        out["nominals"] = (
            nominals.filter(pl.col("nominal_id").is_not_null())
            .select(
                pl.col("birth_year").is_null().alias("birth_year_null"),
                pl.col("home_lpa").is_null().alias("home_lpa_null"),
            )
            .collect()
        )
    orders = _scan(folder, "orders")
    if orders is not None:
        out["orders"] = (
            orders.with_columns(
                _date("starts_on"), _date("ends_on"), _key("order_id"), _key("nominal_id")
            )
            .filter(pl.col("order_id").is_not_null() & pl.col("starts_on").is_not_null())
            .collect()
        )
    return out


# ---------------------------------------------------------------------------- measuring ----
def _months_back(end: date, months: int) -> date:
    """First day of the month ``months - 1`` months before ``end``'s month."""
    y, m = end.year, end.month - (months - 1)
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1)


def _harm_by_nominal(eligible: pl.DataFrame, lo: date, hi: date) -> pl.DataFrame:
    return (
        eligible.filter(pl.col("recorded_on").is_between(lo, hi))
        .group_by("nominal_id")
        .agg(pl.col("weight").sum().alias("harm"), pl.len().alias("crimes"))
        .sort(["harm", "nominal_id"], descending=[True, False])
    )


def _top_group(harm: pl.DataFrame, share: float = 0.8) -> set[str]:
    """The fewest nominals (from the top) whose harm reaches ``share`` of the total."""
    total = float(harm["harm"].sum())
    if total <= 0:
        return set()
    cum = harm["harm"].cum_sum()
    k = int((cum < share * total).sum()) + 1
    return set(harm["nominal_id"].head(k).to_list())


def _share_top(harm: pl.DataFrame, fraction: float) -> float | None:
    n = harm.height
    total = float(harm["harm"].sum())
    if n == 0 or total <= 0:
        return None
    k = max(1, math.ceil(fraction * n))
    return float(harm["harm"].head(k).sum()) / total


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def measure(
    frames: dict[str, pl.DataFrame],
    *,
    preset: str,
    years: int,
    end: date,
    scale: float = 1.0,
    expected_mix: dict[str, float] | None = None,
) -> CalibrationReport:
    """Measure frames (see :func:`load_frames`) against the calibration targets."""
    vawg_set = list(vawg_codes())
    sexual = list(sexual_codes())
    w = weights()
    crimes = frames["crimes"].with_columns(
        (pl.col("ho_code").is_in(vawg_set) | pl.col("da")).alias("vawg"),
        pl.col("ho_code").is_in(sexual).alias("sexual"),
        pl.col("ho_code").replace_strict(w, default=0.0, return_dtype=pl.Float64).alias("weight"),
    )
    suspects = frames["suspects"]
    start = _months_back(end, 12 * years)
    in_window = crimes.filter(pl.col("recorded_on").is_between(start, end))
    vawg = in_window.filter(pl.col("vawg"))
    da = in_window.filter(pl.col("da"))

    links = suspects.filter(pl.col("role") != "eliminated").unique(["crime_id", "nominal_id"])
    eligible = (
        crimes.filter(pl.col("vawg") & (pl.col("status") == "recorded"))
        .join(links.select("crime_id", "nominal_id"), on="crime_id")
        .select("crime_id", "nominal_id", "recorded_on", "weight", "da", "victim_id")
    )
    values: dict[str, float | None] = {}
    values["vawg_per_year"] = vawg.height / years
    values["da_per_year"] = da.height / years
    values["sexual_per_year"] = in_window.filter(pl.col("sexual")).height / years
    values["ccb_share_of_da"] = _ratio(da.filter(pl.col("ho_code") == "8U").height, da.height)

    if expected_mix:
        got = vawg.group_by("ho_code").len()
        got_share = dict(
            zip(got["ho_code"].to_list(), (got["len"] / vawg.height).to_list(), strict=True)
        )
        codes = set(got_share) | set(expected_mix)
        values["offence_mix_distance"] = 0.5 * sum(
            abs(got_share.get(c, 0.0) - expected_mix.get(c, 0.0)) for c in codes
        )
    else:
        values["offence_mix_distance"] = None

    last24 = _months_back(end, 24)
    da_24 = (
        eligible.filter(pl.col("da") & pl.col("recorded_on").is_between(last24, end))
        .group_by("nominal_id")
        .len()
    )
    values["da_one_record_share"] = _ratio(da_24.filter(pl.col("len") == 1).height, da_24.height)

    last12 = _months_back(end, 12)
    harm = _harm_by_nominal(eligible, last12, end)
    values["harm_share_top_7pct"] = _share_top(harm, 0.07)
    if harm.height:
        values["max_crimes_per_nominal_year"] = float(harm["crimes"].max())  # type: ignore[arg-type]
        victims = (
            eligible.filter(pl.col("recorded_on").is_between(last12, end))
            .group_by("nominal_id")
            .agg(pl.col("victim_id").drop_nulls().n_unique().alias("victims"))
        )
        values["max_victims_per_nominal_year"] = float(victims["victims"].max())  # type: ignore[arg-type]
    values["harm_share_top_2pct"] = _share_top(harm, 0.02)
    # the share of nominals that carry 80% of harm (shown in the extras)
    group_last = _top_group(harm)

    groups = []
    for y in range(years):
        hi = _months_back(end, 12 * y) - timedelta(days=1) if y else end
        lo = _months_back(hi, 12)
        groups.append(_top_group(_harm_by_nominal(eligible, lo, hi)))
    new_shares = [
        len(groups[i] - groups[i + 1]) / len(groups[i]) for i in range(len(groups) - 1) if groups[i]
    ]
    values["top_group_new_share"] = sum(new_shares) / len(new_shares) if new_shares else None

    records = (
        crimes.join(links.select("crime_id", "nominal_id"), on="crime_id")
        .group_by("nominal_id")
        .agg(pl.col("crime_id").n_unique().alias("records"))
    )
    one_record = set(records.filter(pl.col("records") == 1)["nominal_id"].to_list())
    values["top_group_one_record_share"] = _ratio(len(group_last & one_record), len(group_last))

    da_12 = da.filter(
        pl.col("recorded_on").is_between(last12, end) & pl.col("victim_id").is_not_null()
    )
    values["da_crimes_per_victim_year"] = _ratio(da_12.height, da_12["victim_id"].n_unique())

    last36 = max(_months_back(end, 36), start)
    serial = (
        eligible.filter(pl.col("da") & pl.col("recorded_on").is_between(last36, end))
        .group_by("nominal_id")
        .agg(pl.col("victim_id").drop_nulls().n_unique().alias("victims"))
    )
    values["da_serial_share"] = _ratio(serial.filter(pl.col("victims") >= 2).height, serial.height)

    linked_any = suspects.select("crime_id").unique()
    values["no_suspect_share"] = _ratio(
        vawg.join(linked_any, on="crime_id", how="anti").height, vawg.height
    )
    per_crime = links.group_by("crime_id").agg(pl.col("nominal_id").n_unique().alias("n"))
    values["multi_suspect_share"] = _ratio(
        per_crime.filter(pl.col("n") >= 2).height, per_crime.height
    )
    values["eliminated_link_share"] = _ratio(
        suspects.filter(pl.col("role") == "eliminated").height, suspects.height
    )
    values["duplicate_link_share"] = _ratio(
        suspects.height - suspects.unique(["crime_id", "nominal_id"]).height, suspects.height
    )
    sex_w = in_window.filter(pl.col("sexual"))
    values["historic_sexual_share"] = _ratio(
        sex_w.filter(
            pl.col("committed_on").is_not_null()
            & ((pl.col("recorded_on") - pl.col("committed_on")).dt.total_days() >= 365)
        ).height,
        sex_w.height,
    )
    values["cancelled_transferred_share"] = _ratio(
        in_window.filter(pl.col("status") != "recorded").height, in_window.height
    )
    old = in_window.filter(
        (pl.col("status") == "recorded") & (pl.col("recorded_on") <= end - timedelta(days=183))
    )
    values["outcome_set_old_share"] = _ratio(
        old.filter(pl.col("outcome_n").is_not_null()).height, old.height
    )
    recent = in_window.filter(
        (pl.col("status") == "recorded") & (pl.col("recorded_on") >= date(end.year, end.month, 1))
    )
    values["open_recent_share"] = _ratio(
        recent.filter(pl.col("outcome_n").is_null()).height, recent.height
    )
    values["non_vawg_ratio"] = _ratio(in_window.height - vawg.height, vawg.height)

    nominals = frames.get("nominals")
    if nominals is not None and nominals.height:
        values["birth_year_null_share"] = int(nominals["birth_year_null"].sum()) / nominals.height
        values["home_lpa_null_share"] = int(nominals["home_lpa_null"].sum()) / nominals.height
    orders = frames.get("orders")
    if orders is not None and orders.height:
        values["open_ended_order_share"] = orders["ends_on"].null_count() / orders.height
        protective = orders.filter(
            pl.col("order_type").is_in(["NMO", "RO", "SPO", "SHPO"])
            & (pl.col("starts_on") >= start)
            & (pl.col("starts_on") <= end - timedelta(days=180))
        )
        crimes_of = (
            crimes.select("crime_id", "recorded_on")
            .join(links.select("crime_id", "nominal_id"), on="crime_id")
            .join(protective.select("nominal_id").unique(), on="nominal_id", how="semi")
        )
        breached = (
            protective.join(crimes_of, on="nominal_id")
            .filter(
                (pl.col("recorded_on") > pl.col("starts_on"))
                & (pl.col("ends_on").is_null() | (pl.col("recorded_on") <= pl.col("ends_on")))
            )
            .select("order_id")
            .unique()
        )
        values["breach_share_of_orders"] = _ratio(breached.height, protective.height)

    rows = [
        Measured(t, values.get(t.key))
        for t in calibration.all_targets(preset, scale)
        if t.key in values
    ]
    extra: dict[str, object] = {
        "nominals_scored_last_12_months": harm.height,
        "share_of_nominals_carrying_80pct_of_harm": _ratio(len(group_last), harm.height),
        "highest_harm_group_size": len(group_last),
        "crimes_in_window": in_window.height,
        "orders": 0 if orders is None else orders.height,
    }
    return CalibrationReport(preset, years, end, rows, extra)


def protected_columns(folder: Path) -> dict[str, list[str]]:
    """Columns named like a protected characteristic, per file (should be empty)."""
    return {
        name: [c for c in columns if c.strip().lower() in PROTECTED_COLUMNS]
        for name, columns in file_columns(folder).items()
    }


def measure_extract(folder: Path) -> CalibrationReport:
    """Measure an extract folder written by ``harmrank synth`` (its ``manifest.json`` says the
    preset, years and end month)."""
    from harmrank.synthetic_data.extract import expected_vawg_mix

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    preset = manifest["preset"]
    years = int(manifest["years"])
    scale = float(manifest.get("scale", 1.0))
    end = date.fromisoformat(manifest["window"]["end"])
    frames = load_frames(folder)
    return measure(
        frames,
        preset=preset,
        years=years,
        end=end,
        scale=scale,
        expected_mix=expected_vawg_mix(preset, scale),
    )


def render(report: CalibrationReport, console: object | None = None) -> None:
    """Print target beside achieved (a rich table)."""
    from rich.console import Console
    from rich.table import Table

    out = console if isinstance(console, Console) else Console()
    table = Table(
        title=f"Calibration: {report.preset}, {report.years} year(s) to {report.end.isoformat()}",
        show_lines=False,
    )
    table.add_column("target", no_wrap=True)
    table.add_column("wanted")
    table.add_column("achieved", justify="right")
    table.add_column("ok")
    table.add_column("source")
    for r in report.rows:
        t = r.target
        if r.achieved is None:
            got = "n/a"
        elif t.kind == "count":
            got = f"{r.achieved:,.0f}"
        elif t.kind == "ratio":
            got = f"{r.achieved:.3f}"
        else:
            got = f"{100 * r.achieved:.1f}%"
        source = "[yellow]assumption[/yellow]" if t.is_assumption else t.short_source
        ok = (
            "[dim]n/a[/dim]"
            if not r.measured
            else "[green]yes[/green]"
            if r.met
            else "[red]NO[/red]"
        )
        table.add_row(t.key, t.target, got, ok, source)
    out.print(table)
    out.print("  Sources in full: harmrank.synthetic_data.calibration and docs/synthetic-data.md.")
    for key, value in report.extra.items():
        shown = (
            f"{100 * value:.1f}%"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else value
        )
        out.print(f"  {key.replace('_', ' ')}: {shown}")
