"""Downloads: the list objects and histories as CSV and XLSX, safe to open in a spreadsheet.

A text value that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading apostrophe; numbers stay numbers.
Every export is marked OFFICIAL-SENSITIVE and carries the decision-support notice.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

from harmrank import NOTICE

MARKING = "OFFICIAL-SENSITIVE"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LIST_COLUMNS = [
    "month",
    "lpa",
    "list",
    "rank",
    "nominal_id",
    "harm",
    "frequency",
    "victims",
    "qualifying",
    "last_recorded_on",
    "nominal_lpa",
    "repeat_suspect",
    "movement",
    "reasons",
    "crimes",
    "orders",
    "run_id",
    "status",
]
HISTORY_COLUMNS = [
    "month",
    "harm",
    "frequency",
    "victims",
    "lpa",
    "harm_rank",
    "frequency_rank",
    "on_harm_list",
    "on_frequency_list",
    "repeat_suspect",
]


def safe_text(value: str) -> str:
    """Neutralise spreadsheet formula injection in a text cell."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, int | float):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return safe_text(str(value))


def list_rows(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per entry of each list object."""
    rows = []
    for obj in objects:
        for e in obj["entries"]:
            rows.append(
                {
                    "month": obj["month"],
                    "lpa": obj["lpa"],
                    "list": obj["list"],
                    "rank": e["rank"],
                    "nominal_id": e["nominal_id"],
                    "harm": e.get("harm"),
                    "frequency": e.get("frequency"),
                    "victims": e["victims"],
                    "qualifying": e.get("qualifying"),
                    "last_recorded_on": e["last_recorded_on"],
                    "nominal_lpa": e["lpa"],
                    "repeat_suspect": e.get("repeat_suspect"),
                    "movement": e["movement"],
                    "reasons": "; ".join(e.get("reasons", [])),
                    "crimes": "; ".join(
                        f"{c['crime_id']} {c['ho_code']} {c['recorded_on']}" for c in e["crimes"]
                    ),
                    "orders": "; ".join(
                        f"{o['order_type']} {o['starts_on']}–{o['ends_on'] or 'open'}"
                        for o in e["orders"]
                    ),
                    "run_id": obj["run_id"],
                    "status": obj["status"],
                }
            )
    return rows


def _csv_field(value: Any) -> str:
    """RFC 4180 quoting. Python's ``csv`` module with ``\n`` line endings leaves a field holding
    a bare carriage return unquoted, and a spreadsheet then starts a new row (and a new,
    unneutralised cell) at it: every field holding a separator, a quote or either line-break
    character is quoted here."""
    text = str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    out.write(f"# {MARKING}. {NOTICE}\n")
    out.write(",".join(_csv_field(c) for c in columns) + "\n")
    for r in rows:
        out.write(",".join(_csv_field(_cell(r.get(c))) for c in columns) + "\n")
    return out.getvalue()


def lists_csv(objects: list[dict[str, Any]]) -> str:
    return _csv(list_rows(objects), LIST_COLUMNS)


def _one_line(value: str) -> str:
    """A value inside the comment line above the table: no line break can end the comment."""
    return " ".join(safe_text(value).splitlines())


def history_csv(history: dict[str, Any]) -> str:
    rows = [{**m} for m in history["months"]]
    return _csv(rows, HISTORY_COLUMNS).replace(
        f"# {MARKING}. {NOTICE}\n",
        f"# {MARKING}. {NOTICE} Nominal {_one_line(history['nominal_id'])}\n",
        1,
    )


def _sheet_name(obj: dict[str, Any], used: set[str]) -> str:
    base = f"{obj['lpa']} {obj['list']}"
    for ch in "[]:*?/\\":
        base = base.replace(ch, " ")
    name = base[:31]
    n = 2
    while name.lower() in used:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(name.lower())
    return name


def lists_xlsx(objects: list[dict[str, Any]]) -> bytes:
    """One sheet per list object, marked and with the notice above the table."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for obj in objects:
        sheet = book.add_worksheet(_sheet_name(obj, used))
        sheet.write_string(0, 0, MARKING, bold)
        sheet.write_string(1, 0, NOTICE)
        sheet.write_string(
            2,
            0,
            f"{obj['lpa']} · {obj['list']} · {obj['month']} · run {obj['run_id']} ({obj['status']})",
        )
        rows = list_rows([obj])
        for col, name in enumerate(LIST_COLUMNS):
            sheet.write_string(4, col, name, bold)
        for r, row in enumerate(rows, start=5):
            for col, name in enumerate(LIST_COLUMNS):
                value = row.get(name)
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(r, col, value)
                elif isinstance(value, int | float | Decimal):
                    sheet.write_number(r, col, float(value))
                else:
                    sheet.write_string(
                        r,
                        col,
                        safe_text(str(value.isoformat() if isinstance(value, date) else value)),
                    )
    if not objects:
        book.add_worksheet("No lists").write_string(0, 0, MARKING)
    book.close()
    return buf.getvalue()
