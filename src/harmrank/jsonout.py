"""JSON output that keeps decimals exact: a harm of 3412.500001 is written as that number,
with all 6 places, never through a binary float."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_MARK = "\u0000D"
_MARKED = re.compile(r'"\\u0000D(-?[0-9]+(?:\.[0-9]+)?)"')


def _prepare(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value:f}"
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` with Decimals written as exact JSON numbers and dates as ISO strings."""
    text = json.dumps(_prepare(value), indent=indent, ensure_ascii=False)
    return _MARKED.sub(lambda m: m.group(1), text)
