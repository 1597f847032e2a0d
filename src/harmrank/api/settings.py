"""The server's settings: given to :func:`harmrank.api.create_app`, never read at import time.

The scoring, review and API switches a force sets (``[review] required``,
``[api] require_justification``, ``session_idle_hours``) live in the TOML configuration
(:class:`harmrank.config.Config`); these settings say how this one server runs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmrank.config import Config

HISTORY_INDEX_ROWS = 10_000_000  # about 450 MB of index; ten years of a force is 1.4 million


class ApiSettings(BaseModel):
    """How one ``harmrank serve`` process runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_path: Path | None = Field(
        default=None,
        description="The database the server opens and owns while it runs (unless a store is "
        "handed to create_app).",
    )
    config: Config = Field(default_factory=Config, description="The force's configuration.")
    server_file: Path | None = Field(
        default=None,
        description="The server file announcing this server (`harmrank serve` writes it); "
        "removed on shutdown.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark the session cookie Secure (set it when the server is reached over "
        "HTTPS, e.g. behind a TLS-terminating proxy).",
    )
    signin_free_failures: int = Field(default=3, ge=1, le=100)
    signin_base_delay_seconds: float = Field(default=2.0, ge=0.0, le=3600.0)
    signin_max_delay_seconds: float = Field(default=300.0, ge=0.0, le=86400.0)
    signin_window_minutes: float = Field(default=15.0, gt=0.0, le=1440.0)
    write_wait_seconds: float = Field(
        default=60.0,
        gt=0.0,
        description="How long an approval waits for a run in progress before answering 503.",
    )
    audit_page_max: int = Field(default=10_000, ge=1, le=1_000_000)
    repeat_page_rows: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Entries of a repeat list on one web page (the force-wide repeat list holds "
        "every repeat suspect: tens of thousands nationally). The API and downloads give it whole.",
    )
    history_index_rows: int = Field(
        default=HISTORY_INDEX_ROWS,
        ge=0,
        description="Serve nominal histories from an in-memory index of the stored scores "
        "(about 45 bytes a row; ten years of a force is about 1.4 million rows) when the "
        "database holds at most this many; above it, or at 0, history reads the database.",
    )

    @model_validator(mode="after")
    def _delays_ordered(self) -> ApiSettings:
        if self.signin_max_delay_seconds < self.signin_base_delay_seconds:
            raise ValueError("signin_max_delay_seconds is below signin_base_delay_seconds")
        return self
