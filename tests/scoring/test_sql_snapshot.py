"""The SQL that computes the scores, kept as a snapshot: an unintended change to it shows up in
review (set HARMRANK_UPDATE_SNAPSHOTS=1 to write the snapshots after an intended change)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harmrank.config import config_from_dict
from harmrank.reference import load_offence_set, load_weights
from harmrank.scoring.engine import Settings, repeat_pipeline, scoring_pipeline
from harmrank.scoring.months import Month
from harmrank.scoring.rules import builtin_rules

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _settings(attribution: str) -> Settings:
    config = config_from_dict({"scoring": {"attribution": attribution}})
    weights = load_weights(config)
    return Settings(
        config=config,
        weights=weights.resolved(),
        weight_tables=weights.tables,
        vawg=load_offence_set("vawg", config),
        rule=builtin_rules()["rasso-repeat-interim"],
        lpas=["Herefordshire", "Shropshire"],
        lpa_source="test",
        # keys as ingest would give them to every weighted code, loaded in code order
        offence_keys={code: i for i, code in enumerate(sorted(weights.resolved()), start=1)},
    )


@pytest.mark.parametrize("attribution", ["principal", "home", "presence"])
def test_the_scoring_sql_is_unchanged(attribution: str) -> None:
    settings = _settings(attribution)
    months = [Month.parse("2025-05"), Month.parse("2025-06")]
    rasso = load_offence_set("rasso", settings.config).codes
    # as a single run scores it: M-1 for movement only
    # the repeat pipeline's first step is the rule's SQL by key (the engine's fast path)
    text = (
        scoring_pipeline(settings, months, movement_only=frozenset(months[:1])).sql()
        + "\n\n"
        + repeat_pipeline(settings).sql()
        + "\n\n-- repeat rule\n"
        + settings.rule.sql(sorted(rasso)).strip()  # type: ignore[union-attr]
        + "\n"
    )
    path = SNAPSHOTS / f"pipeline_{attribution}.sql"
    if os.environ.get("HARMRANK_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with HARMRANK_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"the scoring SQL changed; if intended, update {path.name} (HARMRANK_UPDATE_SNAPSHOTS=1)"
    )
