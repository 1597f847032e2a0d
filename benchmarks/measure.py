"""Timing, memory and machine facts shared by the benchmark scripts."""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ONCE_OVER_S = 60.0  # a step whose first repetition takes longer than this runs once (SPEC 9)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb
    import polars

    cpu = platform.processor() or ""
    info: dict[str, str] = {}  # the first processor's fields
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if not line.strip():
                break
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except OSError:
        pass
    cpu = info.get("model name", cpu)
    # hosts that name their processor alike ("Intel(R) Xeon(R) Processor") still differ here
    cpu_id = ", ".join(
        f"{k} {info[k]}" for k in ("cpu family", "model", "stepping", "cpu MHz") if k in info
    )
    mem_gb = None
    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cpu_id": cpu_id or None,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "loadavg_start": loadavg(),
    }


class MemorySampler:
    """Samples the resident memory of this process and its children (e.g. the API server)
    every ``interval`` seconds; keeps the peak per labelled phase."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._label = "setup"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def phase(self, label: str) -> None:
        self._sample()
        self._label = label

    def _sample(self) -> None:
        import psutil

        total = 0
        procs = [self._proc]
        try:
            procs += self._proc.children(recursive=True)
        except psutil.Error:
            pass
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        mb = total / 2**20
        if mb > self.peaks.get(self._label, 0.0):
            self.peaks[self._label] = mb

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join(5)


def self_peak_mb() -> float:
    """This process's own peak resident memory so far (the kernel's figure, no sampling gap)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Step:
    name: str
    times: list[float] = field(default_factory=list)
    load: list[list[float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs_s": [round(t, 4) for t in self.times],
            "median_s": round(self.median, 4) if self.times else None,
            "loadavg_before": self.load,
        }


def timed(
    name: str,
    fn: Callable[[int], Any],
    repeat: int,
    *,
    setup: Callable[[int], Any] | None = None,
    log: Callable[[str], None] = print,
    once_over: float = ONCE_OVER_S,
) -> Step:
    """Run ``fn(i)`` up to ``repeat`` times (``setup(i)`` before each, untimed); a first run
    over ``once_over`` seconds is not repeated."""
    step = Step(name)
    for i in range(repeat):
        if setup is not None:
            setup(i)
        if _time_one(step, fn, i, log) > once_over:
            break
    return step


def _time_one(step: Step, fn: Callable[[int], Any], i: int, log: Callable[[str], None]) -> float:
    """Run ``fn(i)`` once as ``step``'s run ``i + 1``: its time and the load before it are
    kept and logged; returns the time."""
    step.load.append(loadavg())
    t = time.perf_counter()
    fn(i)
    dt = time.perf_counter() - t
    step.times.append(dt)
    log(f"  {step.name} #{i + 1}: {dt:.3f} s (load {step.load[-1][:1]})")
    return dt


def alternating(
    runs: list[tuple[str, Callable[[int], Any]]],
    repeat: int,
    *,
    log: Callable[[str], None] = print,
    once_over: float = ONCE_OVER_S,
) -> list[Step]:
    """Run each of ``runs`` in turn, ``repeat`` rounds: steps compared by a ratio then see the
    same load on a shared machine (one measured a few minutes after the other need not). A
    round with a run over ``once_over`` seconds is the last."""
    steps = [Step(name) for name, _ in runs]
    for i in range(repeat):
        times = [_time_one(step, fn, i, log) for step, (_, fn) in zip(steps, runs, strict=True)]
        if max(times) > once_over:
            break
    return steps


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest rank on the sorted values) and the mean."""
    if not values:
        return {}
    s = sorted(values)

    def rank(p: float) -> float:
        k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
        return s[k]

    return {
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "mean": statistics.fmean(s),
        "max": s[-1],
        "n": len(s),
    }
