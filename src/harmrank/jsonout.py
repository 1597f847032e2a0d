"""JSON output that keeps decimals exact: a harm of 3412.500001 is written as that number,
with all 6 places, never through a binary float."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_MARK = "\u0000D"
_MARKED = re.compile(r'"\\u0000D(-?[0-9]+(?:\.[0-9]+)?)"')


def _plain(value: Any) -> Any:
    """What the standard encoder cannot write: a Decimal as a marked string (unmarked into a
    number afterwards), a date or timestamp as ISO text."""
    if isinstance(value, Decimal):
        return f"{_MARK}{value:f}"
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _plain_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _plain(value)


def dumps(value: Any, *, indent: int | None = None, utc: bool = False) -> str:
    """``json.dumps`` with Decimals written as exact JSON numbers and dates as ISO strings;
    with ``utc``, a timestamp without an offset (the database's naive UTC) is given ``+00:00``.

    The standard library's C encoder walks the value and calls back only for a Decimal, date
    or timestamp (a walk in Python took seconds for a list of tens of thousands of entries)."""
    text = json.dumps(
        value, indent=indent, ensure_ascii=False, default=_plain_utc if utc else _plain
    )
    return _MARKED.sub(lambda m: m.group(1), text)
