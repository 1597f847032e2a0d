"""Write a synthetic extract: chunk by chunk, CSV or Parquet, with ``manifest.json``."""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from harmrank.synthetic_data import calibration
from harmrank.synthetic_data.faults import as_text, inject
from harmrank.synthetic_data.generator import ChunkData, Window, simulate_chunk
from harmrank.synthetic_data.offence_mix import area_mix
from harmrank.synthetic_data.presets import Chunk, Preset, get_preset

FORMATS = ("csv", "parquet")
FILES = ("crimes", "suspects", "nominals", "orders")  # per chunk; ``lpas`` is written once
GENERATOR_VERSION = "1"
_EPOCH = date(1970, 1, 1)

# Typed Parquet schemas (an extract without faults); with faults every column is text.
_SCHEMAS = {
    "crimes": pa.schema(
        [
            ("crime_id", pa.string()),
            ("ho_code", pa.string()),
            ("recorded_on", pa.date32()),
            ("committed_on", pa.date32()),
            ("lpa", pa.string()),
            ("domestic_abuse", pa.bool_()),
            ("victim_id", pa.string()),
            ("status", pa.string()),
            ("outcome", pa.int8()),
        ]
    ),
    "suspects": pa.schema(
        [("crime_id", pa.string()), ("nominal_id", pa.string()), ("role", pa.string())]
    ),
    "nominals": pa.schema(
        [("nominal_id", pa.string()), ("birth_year", pa.int16()), ("home_lpa", pa.string())]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("nominal_id", pa.string()),
            ("order_type", pa.string()),
            ("starts_on", pa.date32()),
            ("ends_on", pa.date32()),
        ]
    ),
    "lpas": pa.schema([("lpa", pa.string())]),
}

# LPA values a force's extract might carry by mistake (not on its list): case, typos, places.
_BAD_LPAS = {
    "west-mercia": (
        "",
        "Unknown",
        "shropshire",
        "West Mercia",
        "Worcester",
        "Telford and Wrekin",
        "N/A",
    ),
    "national": (
        "",
        "Unknown",
        "British Transport Police",
        "Police Scotland",
        "metropolitan police",
        "N/A",
    ),
}


@dataclass
class Manifest:
    """What ``manifest.json`` says: rows written per file and how many a correct ingest must
    quarantine (``faults``), with the arguments that made the extract."""

    preset: str
    seed: int
    years: int
    end_month: str
    window_start: str
    window_end: str
    format: str
    faults_rate: float
    scale: float
    rows: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    tricky_valid: dict[str, int] = field(default_factory=dict)
    breaches: int = 0
    lpas: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "generator": f"harmrank.synthetic_data {GENERATOR_VERSION}",
            "preset": self.preset,
            "seed": self.seed,
            "years": self.years,
            "end_month": self.end_month,
            "window": {"start": self.window_start, "end": self.window_end},
            "format": self.format,
            "faults_rate": self.faults_rate,
            "scale": self.scale,
            "rows": self.rows,
            "faults": self.faults,
            "tricky_valid": self.tricky_valid,
            "breach_crimes": self.breaches,
            "lpas": self.lpas,
        }


def last_complete_month(today: date | None = None) -> str:
    today = today or date.today()
    first = today.replace(day=1)
    prev = first - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def parse_month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in text.split("-"))
        if len(text) != 7 or not 1 <= month <= 12 or not 1900 <= year <= 2999:
            raise ValueError
    except ValueError:
        raise ValueError(f"end month {text!r} is not YYYY-MM") from None
    return year, month


def window_for(end_month: str, years: int) -> tuple[date, date]:
    """The first and last day of the ``years`` x 12 months ending with ``end_month``."""
    year, month = parse_month(end_month)
    last = date(year, month, calendar.monthrange(year, month)[1])
    m = year * 12 + (month - 1) - (12 * years - 1)
    return date(m // 12, m % 12 + 1, 1), last


def chunk_rates(chunk: Chunk, preset: str) -> dict[str, float]:
    """Crimes a year per pool for a chunk: DA-flagged, sexual (not flagged), other VAWG."""
    v = calibration.VOLUMES[preset]
    vawg = chunk.vawg_per_year
    da = vawg * v["da"] / v["vawg"]
    sexual_total = vawg * v["sexual"] / v["vawg"]
    mix = area_mix(chunk.force)
    sexual = max(sexual_total - da * mix.da_sexual_fraction, 0.0)
    other = max(vawg - da - sexual, 0.02 * vawg)
    return {
        "da": da,
        "sexual": sexual,
        "other": other,
        "non_vawg_ratio": calibration.NON_VAWG_RATIO,
    }


@lru_cache(maxsize=8)
def expected_vawg_mix(preset_name: str, scale: float = 1.0) -> dict[str, float]:
    """The code mix of VAWG crimes the generator draws from (before breaches of orders)."""
    preset = get_preset(preset_name, scale)
    total: dict[str, float] = {}
    for chunk in preset.chunks:
        rates = chunk_rates(chunk, preset_name)
        mix = area_mix(chunk.force)
        for pool, volume in (
            (mix.da, rates["da"]),
            (mix.sexual, rates["sexual"]),
            (mix.other, rates["other"]),
        ):
            for code, p in pool.expected().items():
                total[code] = total.get(code, 0.0) + p * volume
    grand = sum(total.values())
    return {c: v / grand for c, v in total.items()}


# ----------------------------------------------------------------------------- writers ----
class _CsvSink:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.handle: IO[bytes] = path.open("wb")
        self.handle.write((",".join(columns) + "\n").encode("utf-8"))

    def write(self, frame: pl.DataFrame, raw: list[bytes]) -> None:
        if frame.height:
            frame.write_csv(self.handle, include_header=False)
        for line in raw:
            self.handle.write(line)

    def close(self) -> None:
        self.handle.close()


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, frame: pl.DataFrame, raw: list[bytes]) -> None:
        assert not raw, "a Parquet file cannot hold broken CSV records"
        if frame.height:
            self.writer.write_table(frame.to_arrow().cast(self.schema))

    def close(self) -> None:
        self.writer.close()


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([(f.name, pa.string()) for f in schema])


@contextmanager
def _sinks(out: Path, fmt: str, text: bool) -> Iterator[dict[str, _CsvSink | _ParquetSink]]:
    with ExitStack() as stack:
        sinks: dict[str, _CsvSink | _ParquetSink] = {}
        for name in FILES:
            schema = _SCHEMAS[name]
            if fmt == "csv":
                sink: _CsvSink | _ParquetSink = _CsvSink(out / f"{name}.csv", schema.names)
            else:
                sink = _ParquetSink(
                    out / f"{name}.parquet", _text_schema(schema) if text else schema
                )
            stack.callback(sink.close)
            sinks[name] = sink
        yield sinks


def _write_lpas(out: Path, fmt: str, lpas: list[str], empty_rows: int) -> int:
    values = [*lpas, *([""] * empty_rows)]
    if fmt == "csv":
        lines = ["lpa"] + [
            ('"' + v.replace('"', '""') + '"')
            if (v == "" or any(ch in v for ch in ',"\n\r'))
            else v
            for v in values
        ]
        (out / "lpas.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    else:
        pq.write_table(
            pa.table({"lpa": pa.array(values, pa.string())}),
            out / "lpas.parquet",
            compression="zstd",
        )
    return len(values)


# ------------------------------------------------------------------------------- public ----
def write_extract(
    out: Path,
    preset: str,
    years: int,
    seed: int,
    end_month: str | None = None,
    faults: float = 0.0,
    fmt: str = "csv",
    progress: bool = True,
    scale: float = 1.0,
) -> Manifest:
    """Write a synthetic extract into folder ``out`` (created if needed) and return its manifest.

    Same arguments, same bytes. ``faults`` is the share of rows per file made bad (0 to 0.5);
    ``scale`` multiplies every volume (1 = the preset as specified; smaller for quick tests).
    Files are ``crimes``, ``suspects``, ``nominals``, ``orders``, ``lpas`` (CSV or Parquet)
    and ``manifest.json``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not 1 <= years <= 50:
        raise ValueError("years must be between 1 and 50")
    if not 0.0 <= faults <= 0.5:
        raise ValueError("faults must be a share of rows between 0 and 0.5")
    if seed < 0:
        raise ValueError("seed must be 0 or more")
    plan: Preset = get_preset(preset, scale)
    end_month = end_month or last_complete_month()
    start, end = window_for(end_month, years)
    window = Window((start - _EPOCH).days, (end - _EPOCH).days)
    out.mkdir(parents=True, exist_ok=True)
    for name in (*FILES, "lpas"):  # a rerun into the same folder must not leave the other format
        for ext in FORMATS:
            (out / f"{name}.{ext}").unlink(missing_ok=True)

    manifest = Manifest(
        preset=preset,
        seed=seed,
        years=years,
        end_month=end_month,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        format=fmt,
        faults_rate=faults,
        scale=scale,
        rows=dict.fromkeys((*FILES, "lpas"), 0),
        faults=dict.fromkeys((*FILES, "lpas"), 0),
        lpas=sorted(plan.lpas),
    )
    bad_lpas = _BAD_LPAS[preset]
    with (
        _sinks(out, fmt, text=faults > 0) as sinks,
        _progress(progress, len(plan.chunks), preset) as advance,
    ):
        for chunk in plan.chunks:
            data: ChunkData = simulate_chunk(chunk, window, seed, chunk_rates(chunk, preset))
            manifest.breaches += data.breaches
            if faults > 0:
                rng = np.random.default_rng([seed, chunk.index, 7])
                faulted = inject(rng, data, faults, fmt, bad_lpas, chunk.index)
                for name in FILES:
                    frame, raw = faulted.frames[name], faulted.raw[name]
                    sinks[name].write(frame, raw)
                    manifest.rows[name] += frame.height + len(raw)
                    manifest.faults[name] += faulted.faults[name]
                for name, n in faulted.tricky.items():
                    manifest.tricky_valid[name] = manifest.tricky_valid.get(name, 0) + n
            else:
                for name in FILES:
                    frame = getattr(data, name)
                    sinks[name].write(frame if fmt == "parquet" else as_text(frame), [])
                    manifest.rows[name] += frame.height
            advance()
    empty_lpas = int(faults * len(plan.lpas) + 0.5) if faults > 0 else 0
    manifest.rows["lpas"] = _write_lpas(out, fmt, sorted(plan.lpas), empty_lpas)
    manifest.faults["lpas"] = empty_lpas
    (out / "manifest.json").write_text(
        json.dumps(manifest.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


@contextmanager
def _progress(enabled: bool, total: int, preset: str) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"synth {preset}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("chunks", total=total)
        yield lambda: bar.advance(task)
