"""harmrank: monthly highest-harm and highest-frequency VAWG offender lists.

Decision support for human review; not a finding of guilt.

For notebooks, the functions the command line itself calls::

    import harmrank
    store = harmrank.open_store("harmrank.duckdb")
    harmrank.lists(store, "2025-06", lpa="Shropshire")     # a polars DataFrame, one row per entry
    harmrank.history_frame(store, "N0001")                 # a polars DataFrame, one row per month
    harmrank.list_objects(store, "2025-06")                # the list objects of SPEC section 6
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("harmrank")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

NOTICE = "Decision support for human review; not a finding of guilt."

if TYPE_CHECKING:
    import polars as pl

    from harmrank.config import Config
    from harmrank.store import Store


def _store(db: Store | str | Path) -> Store:
    from harmrank.store import Store, open_store

    return db if isinstance(db, Store) else open_store(db)


def lists(
    db: Store | str | Path,
    month: str,
    *,
    lpa: str | None = None,
    list: str | None = None,  # noqa: A002
    config: Config | None = None,
    run_id: str | None = None,
) -> pl.DataFrame:
    """The month's lists as one DataFrame (one row per entry; crimes and orders as text)."""
    import polars as pl

    from harmrank.config import Config
    from harmrank.exports import LIST_COLUMNS, list_rows
    from harmrank.scoring import list_objects as _objects

    objects = _objects(_store(db), month, config or Config(), lpa=lpa, kind=list, run_id=run_id)
    rows = list_rows(objects)
    frame = pl.DataFrame(
        [{k: (str(v) if k == "movement" else v) for k, v in r.items()} for r in rows],
        schema_overrides={"harm": pl.Decimal(18, 6)},
        infer_schema_length=None,
    )
    return (
        frame.select(LIST_COLUMNS)
        if frame.height
        else pl.DataFrame(schema={c: pl.String for c in LIST_COLUMNS})
    )


def history_frame(
    db: Store | str | Path,
    nominal_id: str,
    *,
    first: str | None = None,
    last: str | None = None,
    config: Config | None = None,
) -> pl.DataFrame:
    """A nominal's history as a DataFrame (one row per month in which it is scored)."""
    import polars as pl

    from harmrank.config import Config
    from harmrank.scoring import history as _history

    rows = _history(_store(db), nominal_id, config or Config(), first=first, last=last)["months"]
    return pl.DataFrame(rows, infer_schema_length=None)


def __getattr__(name: str) -> Any:
    # the engine's functions, imported on first use so that `import harmrank` stays light
    if name in {"open_store"}:
        from harmrank import store

        return getattr(store, name)
    if name in {"Config", "load_config"}:
        from harmrank import config

        return getattr(config, name)
    if name in {
        "list_objects",
        "history",
        "explain",
        "run_month",
        "backfill",
        "approve_runs",
        "runs_table",
    }:
        from harmrank import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module 'harmrank' has no attribute {name!r}")


__all__ = ["NOTICE", "__version__", "history_frame", "lists"]
