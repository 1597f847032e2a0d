"""The input data contract (SPEC section 1) as data: files, columns, types and value rules.

The rules themselves are applied, set-based, by :mod:`harmrank.ingest`; this module only says
what an extract must look like, so that the contract can be read (and documented) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "date", "bool", "int", "timestamp"]

STATUSES = ("recorded", "cancelled", "transferred")
ROLES = ("suspect", "charged", "convicted", "eliminated")
# When duplicate (crime_id, nominal_id) links collapse, the latest stage of the process wins.
ROLE_STAGE = {"suspect": 0, "eliminated": 1, "charged": 2, "convicted": 3}
TRUE_WORDS = ("true", "1", "y", "yes")
FALSE_WORDS = ("false", "0", "n", "no")
MAX_TEXT = 256  # longer ids and names are refused (a corrupt extract, not a person's reference)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    required: bool = True  # must the column be in the header?
    choices: tuple[str, ...] | None = None
    int_range: tuple[int, int] | None = None
    trim: bool = False  # compared after trimming surrounding spaces (LPA names)


@dataclass(frozen=True)
class FileContract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required_file: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


CRIMES = FileContract(
    "crimes",
    (
        Column("crime_id", "text", nullable=False),
        Column("ho_code", "text", nullable=False),
        Column("recorded_on", "date", nullable=False),
        Column("committed_on", "date"),
        Column("lpa", "text", nullable=False, trim=True),
        Column("domestic_abuse", "bool", nullable=False),
        Column("victim_id", "text"),
        Column("status", "text", nullable=False, choices=STATUSES),
        Column("outcome", "int", int_range=(1, 22)),
        Column("updated_at", "timestamp", required=False),
    ),
    key=("crime_id",),
    required_file=True,
)

SUSPECTS = FileContract(
    "suspects",
    (
        Column("crime_id", "text", nullable=False),
        Column("nominal_id", "text", nullable=False),
        Column("role", "text", nullable=False, choices=ROLES),
    ),
    key=("crime_id", "nominal_id"),
    required_file=True,
)

NOMINALS = FileContract(
    "nominals",
    (
        Column("nominal_id", "text", nullable=False),
        Column("birth_year", "int", required=False, int_range=(1900, 2100)),
        Column("home_lpa", "text", required=False, trim=True),
    ),
    key=("nominal_id",),
    required_file=False,
)

LPAS = FileContract(
    "lpas",
    (Column("lpa", "text", nullable=False, trim=True),),
    key=("lpa",),
    required_file=False,
)

ORDERS = FileContract(
    "orders",
    (
        Column("order_id", "text", nullable=False),
        Column("nominal_id", "text", nullable=False),
        Column("order_type", "text", nullable=False),
        Column("starts_on", "date", nullable=False),
        Column("ends_on", "date"),
    ),
    key=("order_id",),
    required_file=False,
)

# In the order ingest applies them: lpas first (they decide which crimes are in area), then
# crimes, then suspects (which need the crimes), then nominals and orders.
FILES: tuple[FileContract, ...] = (LPAS, CRIMES, SUSPECTS, NOMINALS, ORDERS)
BY_NAME = {f.name: f for f in FILES}

# Never read, never stored: the engine must not depend on a protected characteristic.
PROTECTED_COLUMNS = ("name", "sex", "gender", "ethnicity", "address", "postcode")
