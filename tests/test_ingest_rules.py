"""The contract rules that decide between rows (SPEC section 1, "Bad input"): duplicate ids,
orphan links, links of quarantined crimes, duplicate links, LPA lists, unknown codes, columns
outside the contract, and the reconciliation of every file."""

from __future__ import annotations

import json

import pytest

from harmrank.config import Config, config_from_dict
from harmrank.ingest import ingest_extract
from harmrank.testing import write_csv, write_extract

CRIME_COLUMNS = [
    "crime_id",
    "ho_code",
    "recorded_on",
    "committed_on",
    "lpa",
    "domestic_abuse",
    "victim_id",
    "status",
    "outcome",
]


def crime(crime_id: str, **values: str) -> dict[str, str]:
    return {
        "crime_id": crime_id,
        "ho_code": "8N",
        "recorded_on": "2025-01-15",
        "lpa": "Shropshire",
        "domestic_abuse": "true",
        "status": "recorded",
        **values,
    }


def link(crime_id: str, nominal_id: str, role: str = "suspect") -> dict[str, str]:
    return {"crime_id": crime_id, "nominal_id": nominal_id, "role": role}


def quarantine(store, file: str) -> list[tuple[int, str]]:
    rows = store.execute(
        "SELECT line, reason FROM quarantine WHERE file = ? ORDER BY line", [file]
    ).fetchall()
    return [(int(a), b) for a, b in rows]


def reconciles(report) -> None:
    for name, rep in report.files.items():
        assert rep.read == rep.accepted + rep.quarantined, name


def ingest(store, folder, config: Config | None = None, **kw):
    report = ingest_extract(store, folder, config or Config(), **kw)
    reconciles(report)
    return report


# ------------------------------------------------------------- duplicate crime ids ----
def test_every_occurrence_of_a_duplicate_crime_id_is_quarantined(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1"), crime("C2"), crime("C1", ho_code="19C"), crime("C3"), crime("C1")],
        suspects=[link("C1", "N1"), link("C2", "N1")],
    )
    report = ingest(store, folder)
    dup = (
        "crime_id 'C1' occurs 3 times in this file; every occurrence is quarantined "
        "(the extract contradicts itself: a person must decide which is right)"
    )
    assert quarantine(store, "crimes") == [(2, dup), (4, dup), (6, dup)]
    assert [r[0] for r in store.execute("SELECT crime_id FROM crimes ORDER BY 1").fetchall()] == [
        "C2",
        "C3",
    ]
    # the link of the contradicted crime is held with it
    assert quarantine(store, "suspects") == [
        (2, "crime 'C1' was quarantined in this extract, so its link is held with it")
    ]
    assert report.files["crimes"].quarantined == 3


def test_a_duplicate_whose_other_copy_is_itself_bad_quarantines_both(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1"), crime("C1", recorded_on="2025-02-30"), crime("C2")],
    )
    ingest(store, folder)
    got = quarantine(store, "crimes")
    assert [line for line, _ in got] == [2, 3]
    assert "occurs 2 times" in got[0][1]
    assert got[1][1].startswith("recorded_on '2025-02-30' is not a date")
    assert "occurs 2 times" in got[1][1]
    assert store.scalar("SELECT count(*) FROM crimes") == 1


def test_a_duplicate_whose_other_copy_cannot_be_parsed_quarantines_both(
    store, tmp_path, write_files
):
    header = ",".join(CRIME_COLUMNS)
    good = "C1,8N,2025-01-15,,Shropshire,true,,recorded,"
    folder = write_files(
        crimes=f"{header}\n{good}\n{good},extra\nC2,8N,2025-01-15,,Shropshire,true,,recorded,\n",
        suspects="crime_id,nominal_id,role\nC1,N1,suspect\n",
    )
    ingest(store, folder)
    got = quarantine(store, "crimes")
    assert [line for line, _ in got] == [2, 3]
    assert "occurs 2 times" in got[0][1]
    assert "10 fields" in got[1][1]
    assert quarantine(store, "suspects") == [
        (2, "crime 'C1' was quarantined in this extract, so its link is held with it")
    ]


def test_identical_duplicate_crime_rows_are_still_a_contradiction(store, tmp_path):
    folder = write_extract(tmp_path / "e", crimes=[crime("C1"), crime("C1")])
    ingest(store, folder)
    assert [line for line, _ in quarantine(store, "crimes")] == [2, 3]


# --------------------------------------------------------------------- links ----
def test_an_orphan_link_is_quarantined_and_a_link_to_a_stored_crime_is_not(store, tmp_path):
    ingest(store, write_extract(tmp_path / "1", crimes=[crime("C1")]))
    folder = write_extract(
        tmp_path / "2",
        crimes=[crime("C2")],
        suspects=[link("C1", "N1"), link("C2", "N2"), link("C9", "N3")],
    )
    report = ingest(store, folder)
    assert quarantine(store, "suspects") == [
        (4, "crime 'C9' is neither in this extract's crimes nor already stored (an orphan link)")
    ]
    assert store.execute("SELECT crime_id, nominal_id FROM links ORDER BY 1").fetchall() == [
        ("C1", "N1"),
        ("C2", "N2"),
    ]
    assert report.files["suspects"].accepted == 2


def test_links_of_a_quarantined_crime_are_quarantined(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1", lpa=""), crime("C2")],
        suspects=[link("C1", "N1"), link("C1", "N2", "charged"), link("C2", "N1")],
    )
    ingest(store, folder)
    held = "crime 'C1' was quarantined in this extract, so its link is held with it"
    assert quarantine(store, "suspects") == [(2, held), (3, held)]
    assert store.scalar("SELECT count(*) FROM links") == 1


def test_links_of_a_quarantined_crime_already_stored_are_quarantined(store, tmp_path):
    ingest(store, write_extract(tmp_path / "1", crimes=[crime("C1")]))
    folder = write_extract(
        tmp_path / "2",
        crimes=[crime("C1", status="reopened")],
        suspects=[link("C1", "N1")],
    )
    report = ingest(store, folder)
    assert quarantine(store, "suspects") == [
        (2, "crime 'C1' was quarantined in this extract, so its link is held with it")
    ]
    assert store.scalar("SELECT count(*) FROM links") == 0
    # the stored crime keeps its previous, valid version
    assert store.scalar("SELECT status FROM crimes") == "recorded"
    assert report.files["crimes"].updated == 0


@pytest.mark.parametrize(
    ("roles", "kept"),
    [
        (["suspect", "charged"], "charged"),
        (["charged", "suspect"], "charged"),
        (["convicted", "charged", "suspect"], "convicted"),
        (["suspect", "eliminated"], "eliminated"),
        (["eliminated", "charged"], "charged"),
        (["eliminated", "convicted"], "convicted"),
        (["suspect", "suspect"], "suspect"),
    ],
)
def test_duplicate_links_collapse_to_the_latest_stage(store, tmp_path, roles, kept):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1")],
        suspects=[link("C1", "N1", r) for r in roles] + [link("C1", "N2")],
    )
    report = ingest(store, folder)
    assert store.execute("SELECT nominal_id, role FROM links ORDER BY 1").fetchall() == [
        ("N1", kept),
        ("N2", "suspect"),
    ]
    rep = report.files["suspects"]
    assert (rep.read, rep.accepted, rep.quarantined) == (len(roles) + 1, len(roles) + 1, 0)
    assert rep.collapsed == len(roles) - 1
    assert rep.inserted == 2
    assert store.scalar("SELECT count(*) FROM quarantine") == 0


def test_a_bad_copy_of_a_duplicate_link_is_quarantined_and_the_rest_collapse(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1")],
        suspects=[link("C1", "N1", "charged"), link("C1", "N1", "Convicted")],
    )
    ingest(store, folder)
    assert [line for line, _ in quarantine(store, "suspects")] == [3]
    assert store.scalar("SELECT role FROM links") == "charged"


# ---------------------------------------------------------------------- LPAs ----
def test_with_no_list_any_lpa_is_accepted(store, tmp_path):
    folder = write_extract(tmp_path / "e", crimes=[crime("C1", lpa="Anywhere")])
    report = ingest(store, folder)
    assert store.scalar("SELECT lpa FROM crimes") == "Anywhere"
    assert report.lpa_list == "none"


def test_the_lpas_file_decides_and_names_are_trimmed_case_matters(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[
            crime("C1", lpa="Shropshire"),
            crime("C2", lpa="  Shropshire "),
            crime("C3", lpa="shropshire"),
            crime("C4", lpa="Herefordshire"),
            crime("C5", lpa="Wyre Forest"),
        ],
        lpas=[" Shropshire", "Herefordshire  "],
    )
    report = ingest(store, folder)
    assert store.execute("SELECT crime_id, lpa FROM crimes ORDER BY 1").fetchall() == [
        ("C1", "Shropshire"),
        ("C2", "Shropshire"),
        ("C4", "Herefordshire"),
    ]
    assert store.execute("SELECT lpa FROM lpas ORDER BY 1").fetchall() == [
        ("Herefordshire",),
        ("Shropshire",),
    ]
    assert quarantine(store, "crimes") == [
        (
            4,
            "lpa 'shropshire' is not one of the force's LPAs (from the extract's lpas file); "
            "correct the LPA or add it to the list",
        ),
        (
            6,
            "lpa 'Wyre Forest' is not one of the force's LPAs (from the extract's lpas file); "
            "correct the LPA or add it to the list",
        ),
    ]
    assert report.lpa_list == "the extract's lpas file"


def test_the_configured_lpas_decide_over_the_lpas_file(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1", lpa="Shropshire"), crime("C2", lpa="Telford & Wrekin")],
        lpas=["Shropshire"],
    )
    config = config_from_dict({"force": {"lpas": ["Telford & Wrekin", " Herefordshire "]}})
    report = ingest(store, folder, config)
    assert [r[0] for r in store.execute("SELECT crime_id FROM crimes").fetchall()] == ["C2"]
    [(line, reason)] = quarantine(store, "crimes")
    assert line == 2
    assert "(from the configuration's [force] lpas)" in reason
    assert report.lpa_list == "the configuration's [force] lpas"


def test_the_lpas_list_of_an_earlier_load_does_not_decide(store, tmp_path):
    """Only this extract's lpas file (or the configuration) decides: a later extract without
    an lpas file accepts any LPA (documented in docs/ingest.md)."""
    ingest(store, write_extract(tmp_path / "1", crimes=[crime("C1")], lpas=["Shropshire"]))
    ingest(store, write_extract(tmp_path / "2", crimes=[crime("C2", lpa="Elsewhere")]))
    assert store.scalar("SELECT count(*) FROM quarantine") == 0


def test_identical_repeated_lpas_collapse_and_home_lpa_is_trimmed(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[crime("C1")],
        lpas=["Shropshire", "Shropshire", " Shropshire"],
        nominals=[{"nominal_id": "N1", "birth_year": "1980", "home_lpa": " Shropshire "}],
    )
    report = ingest(store, folder)
    assert store.execute("SELECT lpa FROM lpas").fetchall() == [("Shropshire",)]
    assert report.files["lpas"].accepted == 3
    assert report.files["lpas"].collapsed == 2
    assert store.scalar("SELECT home_lpa FROM nominals") == "Shropshire"


# ---------------------------------------------------------------- HO codes ----
def test_unknown_ho_codes_are_accepted_and_reported(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        crimes=[
            crime("C1", ho_code="19C"),
            crime("C2", ho_code="8U"),
            crime("C3", ho_code="ZZ9"),
            crime("C4", ho_code="ZZ9"),
            crime("C5", ho_code="X1"),
            crime("C6", ho_code="28A"),
            crime("C7", ho_code="1/4.1/4.10/4.2"),
        ],
    )
    report = ingest(store, folder)
    assert report.unknown_codes == {"X1": 1, "ZZ9": 2}
    assert store.scalar("SELECT count(*) FROM crimes") == 7
    assert report.as_dict()["unknown_codes"] == {"X1": 1, "ZZ9": 2}


def test_codes_of_a_force_weights_table_are_known(store, tmp_path):
    weights = tmp_path / "force.csv"
    weights.write_text("ho_code,weight\nZZ9,10\n")
    config = config_from_dict(
        {"scoring": {"weights": ["ons_css_2019", str(weights)]}}, base_dir=tmp_path
    )
    report = ingest(
        store, write_extract(tmp_path / "e", crimes=[crime("C1", ho_code="ZZ9")]), config
    )
    assert report.unknown_codes == {}


# ------------------------------------------------------- outside the contract ----
SECRET = "SECRET-VALUE-7f3a"


def _all_text_in_store(store) -> str:
    tables = [
        r[0]
        for r in store.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    ]
    parts = []
    for table in tables:
        parts.append(table + ":" + ",".join(store.frame(f'SELECT * FROM "{table}"').columns))
        rows = store.execute(f'SELECT t::VARCHAR FROM "{table}" t').fetchall()
        parts.extend(r[0] for r in rows)
    return "\n".join(parts)


def test_columns_outside_the_contract_are_named_and_never_stored(store, tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    write_csv(
        folder / "crimes.csv",
        [
            {**crime("C1"), "offender_name": SECRET, "postcode": SECRET},
            {**crime("C2", status="bad"), "offender_name": SECRET, "postcode": SECRET},
        ],
        [*CRIME_COLUMNS, "offender_name", "postcode"],
    )
    write_csv(
        folder / "suspects.csv",
        [{**link("C1", "N1"), "ethnicity": SECRET}, {**link("C1", "", "x"), "ethnicity": SECRET}],
        ["crime_id", "nominal_id", "role", "ethnicity"],
    )
    write_csv(
        folder / "nominals.csv",
        [
            {"nominal_id": "N1", "birth_year": "1980", "sex": SECRET, "name": SECRET},
            {"nominal_id": "N2", "birth_year": "x", "sex": SECRET, "name": SECRET},
        ],
        ["nominal_id", "birth_year", "sex", "name"],
    )
    report = ingest(store, folder)
    assert report.files["crimes"].ignored_columns == ["offender_name", "postcode"]
    assert report.files["suspects"].ignored_columns == ["ethnicity"]
    assert report.files["nominals"].ignored_columns == ["sex", "name"]
    assert store.scalar("SELECT count(*) FROM quarantine") == 3
    for raw in store.execute("SELECT raw::VARCHAR FROM quarantine").fetchall():
        assert not {"offender_name", "postcode", "ethnicity", "sex", "name"} & set(
            json.loads(raw[0])
        )
    everything = _all_text_in_store(store)
    assert SECRET not in everything
    for column in ("offender_name", "postcode", "ethnicity", "sex"):
        # named in the load's report (what was ignored), never as a stored column
        assert f",{column}," not in everything.split("\n", 1)[0]


def test_unparseable_rows_keep_only_contract_columns_in_the_quarantine(store, write_files):
    header = ",".join([*CRIME_COLUMNS, "offender_name"])
    folder = write_files(
        crimes=f"{header}\nC1,8N,2025-01-15,,Shropshire,true,,recorded,,{SECRET},too many\n",
        suspects="crime_id,nominal_id,role\n",
    )
    ingest(store, folder)
    raw = json.loads(store.scalar("SELECT raw::VARCHAR FROM quarantine"))
    assert set(raw) == set(CRIME_COLUMNS)
    assert SECRET not in _all_text_in_store(store)


# ------------------------------------------------ nominals, orders: duplicates ----
def test_identical_repeated_nominals_collapse_differing_ones_are_quarantined(store, tmp_path):
    folder = write_extract(
        tmp_path / "e",
        nominals=[
            {"nominal_id": "N1", "birth_year": "1980", "home_lpa": "Shropshire"},
            {"nominal_id": "N2", "birth_year": "1990"},
            {"nominal_id": "N1", "birth_year": "1980", "home_lpa": "Shropshire"},
            {"nominal_id": "N2", "birth_year": "1991"},
            {"nominal_id": "N3"},
        ],
    )
    report = ingest(store, folder)
    assert store.execute("SELECT nominal_id, birth_year FROM nominals ORDER BY 1").fetchall() == [
        ("N1", 1980),
        ("N3", None),
    ]
    differing = (
        "nominal_id 'N2' occurs more than once with different values; every occurrence is "
        "quarantined (a person must decide which is right)"
    )
    assert quarantine(store, "nominals") == [(3, differing), (5, differing)]
    rep = report.files["nominals"]
    assert (rep.read, rep.accepted, rep.quarantined, rep.inserted, rep.collapsed) == (5, 3, 2, 2, 1)


def test_identical_repeated_orders_collapse_differing_ones_are_quarantined(store, tmp_path):
    base = {"nominal_id": "N1", "order_type": "DVPO", "starts_on": "2025-01-01"}
    folder = write_extract(
        tmp_path / "e",
        orders=[
            {**base, "order_id": "O1"},
            {**base, "order_id": "O1"},
            {**base, "order_id": "O2"},
            {**base, "order_id": "O2", "ends_on": "2025-06-01"},
        ],
    )
    ingest(store, folder)
    assert store.execute("SELECT order_id FROM orders").fetchall() == [("O1",)]
    assert [line for line, _ in quarantine(store, "orders")] == [4, 5]


# ------------------------------------------------------------ reconciliation ----
def test_every_file_reconciles_on_a_messy_extract(store):
    from importlib import resources

    folder = resources.files("harmrank").joinpath("examples", "small")
    report = ingest(store, str(folder))
    totals = store.execute(
        "SELECT file, count(*) FROM quarantine GROUP BY file ORDER BY file"
    ).fetchall()
    assert {f: n for f, n in totals} == {
        name: rep.quarantined for name, rep in report.files.items() if rep.quarantined
    }
    assert report.files["crimes"].quarantined > 0
    assert report.files["suspects"].quarantined > 0
    stored = store.scalar("SELECT count(*) FROM crimes")
    assert stored == report.files["crimes"].accepted
