"""The scoring engine (SPEC sections 3–5): the functions the CLI, the API and notebooks call.

>>> from harmrank.store import open_store
>>> from harmrank.config import Config
>>> store = open_store("harmrank.duckdb")                      # doctest: +SKIP
>>> run_month(store, "2025-06", Config())                       # doctest: +SKIP
>>> list_objects(store, "2025-06", Config(), lpa="Shropshire")  # doctest: +SKIP
"""

from harmrank.scoring.months import Month, MonthError, last_complete_month, month_range
from harmrank.scoring.read import (
    LIST_KINDS,
    NotFound,
    explain,
    history,
    list_objects,
    listed_lpas,
    months_with_runs,
    nominal_lpas,
    read_run,
    repeat_entry,
    runs_table,
)
from harmrank.scoring.runs import RunError, RunInfo, approve_runs, backfill, run_month, score_months

__all__ = [
    "LIST_KINDS",
    "Month",
    "MonthError",
    "NotFound",
    "RunError",
    "RunInfo",
    "approve_runs",
    "backfill",
    "explain",
    "history",
    "last_complete_month",
    "list_objects",
    "listed_lpas",
    "month_range",
    "months_with_runs",
    "nominal_lpas",
    "read_run",
    "repeat_entry",
    "run_month",
    "runs_table",
    "score_months",
]
