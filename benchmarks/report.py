"""The table of latest figures in ``benchmarks/README.md``, rendered from ``results/*.json``.

    python -m benchmarks.report        # rewrite the table between the README's markers

``python -m benchmarks.run`` calls this after writing its results to the default place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"

ROWS = [
    ("synth", "synth_s", "s", "< 30 s", "< 5 min"),
    ("ingest", "ingest_s", "s", "< 30 s", "< 5 min"),
    ("one month run", "month_run_s", "s", "< 1 s", "< 10 s"),
    ("backfill 120 months", "backfill_120_s", "s", "< 30 s", "< 15 min"),
    ("history over the API, p95 (paced load)", "api_history_p95_ms", "ms", "< 20 ms", "< 50 ms"),
    ("one list over the API, p95 (paced load)", "api_list_p95_ms", "ms", "< 20 ms", "< 50 ms"),
    ("history, p95 at saturation", "api_history_saturated_p95_ms", "ms", "", ""),
    ("one list, p95 at saturation", "api_list_saturated_p95_ms", "ms", "", ""),
    ("peak memory", "peak_rss_mb", "MB", "< 2 GB", "< 12 GB"),
]
PEER_ROWS = [
    ("PostgreSQL, same month's lists", "postgres_month_run_s", "s", "", ""),
    (
        "one month run, timed in turn with PostgreSQL",
        "harmrank_month_run_with_postgres_s",
        "s",
        "",
        "",
    ),
    ("floor (DuckDB), bare aggregates", "floor_month_run_s", "s", "", ""),
    ("ratio vs PostgreSQL (postgres / harmrank)", "ratio_vs_postgres", "x", "≥ 5 (aim 10)", "≥ 5"),
    ("ratio vs floor (harmrank / floor)", "ratio_vs_floor", "x", "≤ 2 (aim 1.5)", "≤ 2"),
]


def _fmt(value: Any, unit: str, ok: bool | None) -> str:
    if value is None:
        return "—"
    if unit == "s":
        text = f"{value:.2f} s" if value < 100 else f"{value:.0f} s ({value / 60:.1f} min)"
    elif unit == "ms":
        text = f"{value:.1f} ms"
    elif unit == "MB":
        text = f"{value / 1024:.2f} GB"
    else:
        text = f"{value:.2f}"
    if ok is None:
        return text
    return f"{text} {'✅' if ok else '❌'}"


def load(scale: str) -> dict[str, Any] | None:
    path = RESULTS / f"{scale}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(result: dict[str, Any] | None, section: str, key: str, unit: str) -> str:
    if result is None:
        return "not measured"
    ok = result.get("meets_target", {}).get(key)
    return _fmt(result[section].get(key), unit, ok)


def render() -> str:
    force, national = load("force"), load("national")
    lines = [
        "| work | force (West Mercia, 10 years) | target | national (10 years) | target |",
        "|---|---|---|---|---|",
    ]
    for label, key, unit, t_force, t_nat in ROWS:
        lines.append(
            f"| {label} | {_cell(force, 'steps', key, unit)} | {t_force} | "
            f"{_cell(national, 'steps', key, unit)} | {t_nat} |"
        )
    for label, key, unit, t_force, t_nat in PEER_ROWS:
        lines.append(
            f"| {label} | {_cell(force, 'peers', key, unit)} | {t_force} | "
            f"{_cell(national, 'peers', key, unit)} | {t_nat} |"
        )
    lines.append("")
    for name, r in (("force", force), ("national", national)):
        if r is None:
            continue
        m, code = r["machine"], r.get("code", {})
        pg = r["peers"].get("postgres", {})
        verified = (
            "PostgreSQL's lists equal harmrank's"
            if pg.get("verified")
            else ("PostgreSQL skipped" if "skipped" in pg else "PostgreSQL's lists DIFFER")
        )
        lines.append(
            f"- **{name}**: {r['date']}, {r['crimes']:,} crimes, {r['links']:,} links, "
            f"{r['nominals']:,} nominals; month {r['month']}; {m['cores']} cores ({m['cpu']}"
            f"{'; ' + m['cpu_id'] if m.get('cpu_id') else ''}), "
            f"{m['memory_gb']} GB; load average {m['loadavg_start'][0]} at the start, "
            f"{m['loadavg_end'][0]} at the end (a shared machine); commit {code.get('commit')}"
            f"{' with the engine being edited' if code.get('src_modified') else ''}; "
            f"{verified}; whole run {r.get('wall_s', 0) / 60:.1f} min."
        )
        steps = r["steps"]
        if steps.get("api_rate_per_s"):
            lines.append(
                f"  API: paced load {steps['api_rate_per_s']:g} requests/s over "
                f"{r.get('api', {}).get('list', {}).get('concurrency', '?')} connections; at "
                f"saturation the server answered {steps.get('api_list_saturated_rps')} lists/s "
                f"and {steps.get('api_history_saturated_rps')} histories/s."
            )
        if pg.get("by_parallel_workers"):
            medians = ", ".join(
                f"{w} parallel workers {st['median_s']:.2f} s"
                for w, st in pg["by_parallel_workers"].items()
            )
            lines.append(f"  PostgreSQL's month by setting (the faster is its figure): {medians}.")
        if r.get("notes"):
            lines.append(f"  Notes: {'; '.join(r['notes'])}.")
    return "\n".join(lines)


def update_readme() -> bool:
    if not README.exists():
        return False
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{render()}\n{END}{tail}", encoding="utf-8")
    return True


if __name__ == "__main__":
    print("updated benchmarks/README.md" if update_readme() else render())
