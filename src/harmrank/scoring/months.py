"""Months (``YYYY-MM``) and the date windows built on them (SPEC section 3)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class MonthError(ValueError):
    """A month that is not ``YYYY-MM``."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise MonthError(f"{text!r} is not a month in the form YYYY-MM (e.g. 2025-06)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def index(self) -> int:
        """Months since year 0 (so that month arithmetic is integer arithmetic)."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Month:
        return cls(index // 12, index % 12 + 1)

    def shift(self, months: int) -> Month:
        return Month.from_index(self.index + months)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def window(self, months: int) -> tuple[date, date]:
        """The ``months`` whole months ending with this one: first day of M-(n-1) to last of M."""
        return self.shift(-(months - 1)).first_day, self.last_day


def month_range(first: Month, last: Month) -> list[Month]:
    if last < first:
        raise MonthError(f"the range {first} to {last} runs backwards")
    return [Month.from_index(i) for i in range(first.index, last.index + 1)]


def last_complete_month(today: date | None = None) -> Month:
    today = today or date.today()
    return Month.of(today).shift(-1)
