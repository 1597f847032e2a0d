"""The benchmark harness works end to end on a tiny extract and writes the results' shape.

No timing is asserted (SPEC section 9: performance is measured by the benchmarks, never by
timed tests). The PostgreSQL peer runs, and its lists must equal harmrank's, wherever
PostgreSQL's binaries are installed; elsewhere that part is skipped with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

pytest.importorskip(
    "psutil", reason="the benchmarks need the bench extra: pip install -e '.[bench]'"
)

from benchmarks import pg  # noqa: E402
from benchmarks.run import main  # noqa: E402

HAVE_POSTGRES = pg.find_bin() is not None
STEPS = {
    "synth_s",
    "ingest_s",
    "month_run_s",
    "backfill_120_s",
    "api_list_p95_ms",
    "api_history_p95_ms",
    "peak_rss_mb",
}
PEERS = {"postgres_month_run_s", "floor_month_run_s", "ratio_vs_postgres", "ratio_vs_floor"}


def _run(tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "result.json"
    code = main(
        [
            "--scale",
            "force",
            "--size",
            "0.02",
            "--years",
            "2",
            "--backfill-months",
            "3",
            "--repeat",
            "1",
            "--requests",
            "12",
            "--concurrency",
            "2",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
            *extra,
        ]
    )
    assert code == 0
    return json.loads(out.read_text(encoding="utf-8"))


def _check_shape(result: dict) -> None:
    assert result["scale"] == "force"
    for key in ("crimes", "links", "nominals"):
        assert isinstance(result[key], int) and result[key] > 0
    assert {"cores", "cpu_id", "loadavg_start", "loadavg_end"} <= set(result["machine"])
    assert STEPS <= set(result["steps"])
    assert PEERS <= set(result["peers"])
    for key in STEPS:
        assert result["steps"][key] is not None and result["steps"][key] > 0, key
    assert result["peers"]["floor_month_run_s"] > 0
    assert result["peers"]["ratio_vs_floor"] > 0
    assert result["api"]["list"]["errors"] == 0
    assert result["api"]["history"]["errors"] == 0
    assert result["api"]["shapes"]["list_entries"] > 0
    assert result["peers"]["floor"]["agrees_with_lists"]["agrees"]


@pytest.mark.skipif(
    not HAVE_POSTGRES,
    reason="no PostgreSQL binaries under /usr/lib/postgresql/*/bin or on PATH "
    "(apt-get install -y postgresql); the PostgreSQL peer cannot be checked",
)
def test_harness_with_postgres_lists_equal_harmrank(tmp_path: Path) -> None:
    result = _run(tmp_path)
    _check_shape(result)
    peer = result["peers"]["postgres"]
    assert peer["compared"]["entries"] > 0
    assert peer["verified"], peer["differences"]
    assert result["peers"]["postgres_month_run_s"] > 0
    # PostgreSQL timed with and without parallel workers; its figure is the faster median
    by_setting = peer["by_parallel_workers"]
    assert set(by_setting) == {"2", "0"}
    fastest = min(step["median_s"] for step in by_setting.values())
    assert result["peers"]["postgres_month_run_s"] == fastest
    assert by_setting[str(peer["parallel_workers_per_gather"])]["median_s"] == fastest
    assert result["peers"]["ratio_vs_postgres"] > 0
    # the temporary cluster is gone
    assert not list((tmp_path / "work").glob("pg-*"))


def test_harness_without_postgres(tmp_path: Path) -> None:
    result = _run(tmp_path, "--skip-postgres")
    _check_shape(result)
    assert result["peers"]["postgres_month_run_s"] is None
    assert result["peers"]["ratio_vs_postgres"] is None
    assert "skipped" in result["peers"]["postgres"]


def test_scaling_harness_writes_its_points_and_plot(tmp_path: Path) -> None:
    from benchmarks import scaling

    out = tmp_path / "results"
    code = scaling.main(
        [
            "--sizes",
            "0.004,0.008",
            "--years",
            "2",
            "--backfill-months",
            "2",
            "--repeat",
            "1",
            "--work",
            str(tmp_path / "work"),
            "--out-dir",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads((out / "scaling.json").read_text(encoding="utf-8"))
    assert data["code"]["commit"]  # which engine the plot shows
    crimes = [p["crimes"] for p in data["points"]]
    assert len(crimes) == 2 and 0 < crimes[0] < crimes[1]
    for p in data["points"]:
        assert p["month_run_s"] > 0 and p["floor_month_run_s"] > 0
        assert p["backfill_120_s"] > 0 and p["backfill_months"] == 2
    svg = (out / "scaling.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert not list((tmp_path / "work").rglob("*.duckdb"))  # the stores are removed
