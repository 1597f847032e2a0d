"""harmrank's lists against the PostgreSQL script's, entry by entry.

For every LPA and ALL, the harm and frequency top-10 lists and the repeat list of a month are
compared field by field: rank, nominal, harm (6 decimal places), frequency, victims,
last_recorded_on, attributed LPA, repeat flag, movement, the ids of the crimes behind the entry
(in harmrank's order) and the active orders; for the repeat list, qualifying crimes instead of
harm and frequency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from benchmarks import pg
from harmrank.config import Config
from harmrank.scoring import list_objects
from harmrank.store import Store

SIX = Decimal("0.000001")
Key = tuple[str, str]  # (list LPA, list kind)


def _dec(x: Any) -> str | None:
    return None if x is None else str(Decimal(str(x)).quantize(SIX))


def _day(x: Any) -> str | None:
    return None if x is None else str(x)[:10]


def _movement(prev_rank: Any, rank: int) -> str | int:
    return "new" if prev_rank is None else int(prev_rank) - int(rank)


def harmrank_lists(store: Store, month: str, config: Config) -> dict[Key, list[dict[str, Any]]]:
    out: dict[Key, list[dict[str, Any]]] = {}
    for obj in list_objects(store, month, config):
        rows = []
        for e in obj["entries"]:
            row: dict[str, Any] = {
                "rank": e["rank"],
                "nominal_id": e["nominal_id"],
                "lpa": e["lpa"],
                "victims": e["victims"],
                "last_recorded_on": _day(e["last_recorded_on"]),
                "movement": e["movement"],
                "crimes": [c["crime_id"] for c in e["crimes"]],
                "orders": [
                    (o["order_type"], _day(o["starts_on"]), _day(o["ends_on"])) for o in e["orders"]
                ],
            }
            if obj["list"] == "repeat":
                row["qualifying"] = e["qualifying"]
            else:
                row.update(
                    harm=_dec(e["harm"]),
                    frequency=e["frequency"],
                    repeat_suspect=bool(e["repeat_suspect"]),
                )
            rows.append(row)
        out[(obj["lpa"], obj["list"])] = rows
    return out


def postgres_lists(con: Any) -> dict[Key, list[dict[str, Any]]]:
    crimes = pg.crimes(con)
    orders = pg.orders(con)
    out: dict[Key, list[dict[str, Any]]] = {}
    for e in pg.entries(con):
        kind = e["list"]
        row: dict[str, Any] = {
            "rank": e["rank"],
            "nominal_id": e["nominal_id"],
            "lpa": e["entry_lpa"],
            "victims": e["victims"],
            "last_recorded_on": _day(e["last_recorded_on"]),
            "movement": _movement(e["prev_rank"], e["rank"]),
            "crimes": crimes.get(
                ("qualifying" if kind == "repeat" else "scored", e["nominal_id"]), []
            ),
            "orders": [(t, _day(s), _day(x)) for t, s, x in orders.get(e["nominal_id"], [])],
        }
        if kind == "repeat":
            row["qualifying"] = e["qualifying"]
        else:
            row.update(
                harm=_dec(e["harm"]),
                frequency=e["frequency"],
                repeat_suspect=bool(e["repeat_suspect"]),
            )
        out.setdefault((e["lpa"], kind), []).append(row)
    return out


def compare(
    ours: dict[Key, list[dict[str, Any]]], theirs: dict[Key, list[dict[str, Any]]], month: str
) -> tuple[dict[str, int], list[str]]:
    """Counts of lists and entries compared, and one line per difference."""
    problems: list[str] = []
    entries = 0
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key, []), theirs.get(key, [])
        if key not in ours and b:
            problems.append(f"{month} {key}: PostgreSQL has a list harmrank does not")
        entries += len(a)
        if len(a) != len(b):
            problems.append(f"{month} {key}: harmrank {len(a)} entries, PostgreSQL {len(b)}")
        for x, y in zip(a, b, strict=False):
            for field in sorted(set(x) | set(y)):
                if x.get(field) != y.get(field):
                    problems.append(
                        f"{month} {key[0]}/{key[1]} rank {x.get('rank')}: {field} harmrank="
                        f"{x.get(field)!r} postgres={y.get(field)!r} "
                        f"(nominals {x.get('nominal_id')} / {y.get('nominal_id')})"
                    )
    return {"lists": len(ours), "entries": entries}, problems
