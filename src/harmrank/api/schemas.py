"""The API's public shapes (``…Public``), kept apart from the engine's own types.

The engine returns plain dicts with exact decimals; routes write those with
:func:`harmrank.jsonout.dumps` (every harm and weight with its 6 decimal places, as a JSON
number) and these models describe them in the OpenAPI schema. The tests check every answer
against them.
"""

from __future__ import annotations

import builtins
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

Exact = Annotated[
    Decimal,
    WithJsonSchema(
        {
            "type": "number",
            "description": "An exact decimal with 6 decimal places (written as a JSON number).",
        }
    ),
]
Movement = Annotated[
    int | Literal["new"],
    Field(
        description='"new" when not on the same list at M-1, else the rank there minus the rank '
        "now (positive = moved up)."
    ),
]
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"  # YYYY-MM, 1900 to 2999


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorPublic(_Public):
    detail: str = Field(description="What was refused and why; nothing more.")


class HealthPublic(_Public):
    status: Literal["ok"]
    version: str


class WindowPublic(_Public):
    start: date
    end: date


class CrimePublic(_Public):
    crime_id: str
    ho_code: str
    offence: str | None
    recorded_on: date
    lpa: str
    weight: Exact | None = Field(description="The ONS CSS (or force) weight; null when none.")


class OrderPublic(_Public):
    order_type: str
    starts_on: date
    ends_on: date | None


class ScoredEntryPublic(_Public):
    """An entry of a harm or frequency list."""

    rank: int
    nominal_id: str
    harm: Exact
    frequency: int
    victims: int
    last_recorded_on: date
    lpa: str = Field(description="The LPA the nominal is attributed to.")
    repeat_suspect: bool
    movement: Movement
    crimes: list[CrimePublic]
    orders: list[OrderPublic]


class RepeatEntryPublic(_Public):
    """An entry of the repeat-suspect list."""

    rank: int
    nominal_id: str
    lpa: str
    qualifying: int
    victims: int
    last_recorded_on: date
    crimes: list[CrimePublic]
    reasons: list[str]
    movement: Movement
    orders: list[OrderPublic]


class ListPublic(_Public):
    """One list object (SPEC section 6)."""

    month: str
    lpa: str
    list: Literal["harm", "frequency", "repeat"]
    run_id: str
    status: Literal["draft", "approved"]
    window: WindowPublic
    notice: str
    entries: builtins.list[ScoredEntryPublic | RepeatEntryPublic]


class HistoryMonthPublic(_Public):
    month: str
    harm: Exact
    frequency: int
    victims: int
    lpa: str
    harm_rank: int | None
    frequency_rank: int
    on_harm_list: bool
    on_frequency_list: bool
    repeat_suspect: bool


class HistoryPublic(_Public):
    nominal_id: str
    months: list[HistoryMonthPublic]


class ExplanationPublic(_Public):
    month: str
    run_id: str
    status: Literal["draft", "approved"]
    window: WindowPublic
    notice: str
    nominal_id: str
    harm: Exact
    frequency: int
    victims: int
    last_recorded_on: date
    lpa: str
    harm_rank: int | None
    frequency_rank: int
    on_harm_list: bool
    on_frequency_list: bool
    repeat_suspect: bool
    crimes: list[CrimePublic]
    orders: list[OrderPublic]


class LpasPublic(_Public):
    lpas: list[str] = Field(description="The force's LPAs (SPEC section 3).")
    source: str = Field(description="Where the list comes from: configuration, lpas files, crimes.")
    yours: list[str] = Field(description="The LPAs this token may see.")
    all: bool = Field(description="Whether this token may read the force-wide lists (ALL).")


class MonthsPublic(_Public):
    months: list[str] = Field(description="Months that have a run reads use, oldest first.")


class RulePublic(_Public):
    name: str
    version: str
    description: str
    kind: str
    source: str
    active: bool = Field(description="The rule this server's configuration uses.")
    sha256: str | None = None
    definition: dict[str, Any] | None = None


class RunPublic(_Public):
    run_id: str
    month: str
    status: Literal["draft", "approved"]
    created_at: datetime
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    backfill_id: str | None
    window_start: date
    window_end: date
    data_fingerprint: str
    last_load_id: int
    engine_version: str
    rule: str | None
    rule_version: str | None
    weights: dict[str, Any]
    config: dict[str, Any]


class RunRequest(_Public):
    month: str = Field(pattern=MONTH_PATTERN, examples=["2025-06"])


RunId = Annotated[str, Field(min_length=1, max_length=64)]


class ApproveRequest(_Public):
    """Name the runs, or a backfill (every draft run of it), or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["run_ids"]}, {"required": ["backfill_id"]}]},
    )

    run_ids: list[RunId] = Field(
        default_factory=list, min_length=1, max_length=1000, description="Runs to approve."
    )
    backfill_id: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64}),
    ] = Field(default=None, description="Approve every draft run of this backfill.")

    @model_validator(mode="after")
    def _something_named(self) -> ApproveRequest:
        given = self.model_fields_set
        if "backfill_id" in given and self.backfill_id is None:
            raise ValueError("backfill_id must be a backfill id, not null")
        if self.backfill_id is not None and not 1 <= len(self.backfill_id) <= 64:
            raise ValueError("backfill_id must be 1 to 64 characters")
        if not given & {"run_ids", "backfill_id"}:
            raise ValueError("name run_ids or a backfill_id")
        return self


class ApprovedPublic(_Public):
    approved: list[str]
    approved_by: str


class RunJobPublic(_Public):
    job_id: str
    month: str
    requested_by: str
    requested_at: datetime
    state: Literal["queued", "running", "done", "failed"]
    run_id: str | None
    status: Literal["draft", "approved"] | None
    error: str | None
    finished_at: datetime | None


class AuditRecordPublic(_Public):
    seq: int
    logged_at: datetime
    user: str
    roles: list[str]
    action: str
    route: str | None
    nominal_id: str | None
    lpa: str | None
    month: str | None
    justification: str | None
    status: int | None
    row_count: int | None
    detail: Any = None
    prev_hash: str
    hash: str


class AuditPagePublic(_Public):
    records: list[AuditRecordPublic]
    count: int
    truncated: bool = Field(description="More records match than were returned (use `limit`).")
    head: str = Field(description="The hash of the latest record of the whole log.")


class AuditVerificationPublic(_Public):
    ok: bool
    records: int
    head: str
    message: str
    first_broken: int | None


class RevokeRequest(_Public):
    """Name a user (every unrevoked token of theirs) or one token by its id."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["user"]}, {"required": ["token_id"]}]},
    )

    # null is not offered in the schema: name one of the two
    user: Annotated[
        str | None, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200})
    ] = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Revoke every unrevoked token of this user.",
    )
    token_id: Annotated[
        str | None, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64})
    ] = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Revoke this one token (its id, as `harmrank token list` shows).",
    )

    @model_validator(mode="after")
    def _one_named(self) -> RevokeRequest:
        if (self.user is None) == (self.token_id is None):
            raise ValueError("name either user or token_id")
        return self


class RevokedPublic(_Public):
    revoked: list[str] = Field(description="The token ids revoked; their web sessions ended.")
    revoked_by: str
