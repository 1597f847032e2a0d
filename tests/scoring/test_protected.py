"""SPEC section 1: no name, sex, ethnicity, address or postcode is read by the engine; scoring
must never depend on a protected characteristic, and a test must prove that. Here: the same
extract with such columns added to the nominals file, with different values, gives the same
lists, flags and histories."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pytest

from harmrank.ingest import ingest_extract
from harmrank.scoring import backfill, history, list_objects
from harmrank.store import open_store
from harmrank.testing import write_extract

from .scenario import cfg, crime, link

H, S, T = "Herefordshire", "Shropshire", "Telford & Wrekin"

CRIMES = [
    crime("C1", "19C", "2025-01-05", lpa=S, victim="V1", da=False),
    crime("C2", "19D", "2025-03-05", lpa=H, victim="V2", da=False),
    crime("C3", "8N", "2025-04-05", lpa=T, victim="V3"),
    crime("C4", "8N", "2025-05-05", lpa=T, victim="V4"),
    crime("C5", "8U", "2025-05-06", lpa=H, da=False),
    crime("C6", "19C", "2025-06-06", lpa=S, da=False),
]
LINKS = [
    link("C1", "A"),
    link("C2", "A"),
    link("C3", "B"),
    link("C4", "B"),
    link("C5", "C"),
    link("C6", "D"),
    link("C6", "C", "charged"),
]
NOMINALS = [
    {"nominal_id": "A", "birth_year": "1990", "home_lpa": T},
    {"nominal_id": "B", "birth_year": "", "home_lpa": H},
    {"nominal_id": "C", "birth_year": "2010", "home_lpa": ""},
    {"nominal_id": "D", "birth_year": "1975", "home_lpa": S},
]
PROTECTED = {
    "one": {
        "A": ("F", "White British", "WR1 1AA", "1 High Street, Worcester", "Alice"),
        "B": ("M", "Asian British", "SY1 1AA", "2 Castle Street, Shrewsbury", "Bob"),
        "C": ("M", "Black British", "HR1 1AA", "3 Broad Street, Hereford", "Carl"),
        "D": ("", "", "", "", ""),
    },
    "two": {
        "A": ("M", "Mixed", "TF1 1AA", "9 Mill Lane, Telford", "Ann"),
        "B": ("F", "White Irish", "", "", "Bea"),
        "C": ("X", "Gypsy or Irish Traveller", "DY10 1AA", "5 Church Road, Kidderminster", "Cy"),
        "D": ("F", "Chinese", "WR14 1AA", "7 Bank Street, Malvern", "Di"),
    },
}
EXTRA = ["sex", "ethnicity", "postcode", "address", "name"]


def _outputs(config, protected: str | None):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_extract(Path(tmp), crimes=CRIMES, suspects=LINKS, nominals=NOMINALS)
        if protected is not None:
            with (folder / "nominals.csv").open("w", encoding="utf-8", newline="") as f:
                out = csv.writer(f, lineterminator="\n")
                # protected columns first and in between, as an extract might have them
                out.writerow(
                    [
                        "sex",
                        "nominal_id",
                        "ethnicity",
                        "birth_year",
                        "postcode",
                        "home_lpa",
                        "address",
                        "name",
                    ]
                )
                for n in NOMINALS:
                    sx, eth, pc, addr, name = PROTECTED[protected][n["nominal_id"]]
                    out.writerow(
                        [sx, n["nominal_id"], eth, n["birth_year"], pc, n["home_lpa"], addr, name]
                    )
        store = open_store(":memory:")
        report = ingest_extract(store, folder, config)
    try:
        nominals = report.files["nominals"]
        assert nominals.accepted == 4 and nominals.quarantined == 0
        if protected is not None:
            assert set(EXTRA) <= set(nominals.ignored_columns)
        backfill(store, "2025-05", "2025-06", config)
        lists = {m: list_objects(store, m, config) for m in ("2025-05", "2025-06")}
        histories = {n["nominal_id"]: history(store, n["nominal_id"], config) for n in NOMINALS}
        stored = store.frame("SELECT * FROM nominals").columns
        return lists, histories, stored
    finally:
        store.close()


@pytest.mark.parametrize(
    "config",
    [
        cfg(),
        cfg(
            force={"lpas": [H, S, T]},
            scoring={"attribution": "home", "repeat_rule": "matac-serial-da"},
        ),
        cfg(scoring={"attribution": "presence", "repeat_rule": "rasso-serial", "top_n": 2}),
    ],
    ids=["default", "home-matac", "presence-serial"],
)
def test_protected_characteristics_change_nothing(config):
    plain_lists, plain_hist, plain_cols = _outputs(config, None)
    june = plain_lists["2025-06"]
    assert any(o["entries"] for o in june if o["list"] == "harm")  # the scenario is not empty
    assert any(o["entries"] for o in june if o["list"] == "repeat")  # and flags someone
    for variant in PROTECTED:
        lists, hist, cols = _outputs(config, variant)
        assert lists == plain_lists
        assert hist == plain_hist
        assert not set(EXTRA) & set(cols)  # never stored
