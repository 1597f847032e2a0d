"""Configuration: the TOML file of SPEC section 6 as pydantic models.

Every key is optional; the defaults are those of SPEC section 3. Unknown keys are refused so
that a misspelt key (``widow_months``) is reported instead of silently ignored. Paths given in
the file (weights CSVs, offence-set files, rule files) are relative to the file's folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    # strict: TOML has real types, so `top_n = "10"`, `top_n = true` or `required = "yes"` is a
    # mistake to report, not a value to coerce (lax pydantic read `top_n = true` as 1)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ForceConfig(_Section):
    name: str = ""
    lpas: list[str] | None = Field(
        default=None,
        description="The force's local policing areas. When set, this list decides which LPAs "
        "exist: crimes in other LPAs are quarantined at ingest and every listed LPA gets lists.",
    )

    @field_validator("lpas")
    @classmethod
    def _lpas_distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        trimmed = [v.strip() for v in value]
        if any(not v for v in trimmed):
            raise ValueError("an LPA name is empty")
        if len(set(trimmed)) != len(trimmed):
            raise ValueError("an LPA is listed twice")
        if "ALL" in trimmed:
            raise ValueError("'ALL' is reserved for the force-wide list")
        return sorted(trimmed)


class ScoringConfig(_Section):
    window_months: int = Field(default=12, ge=1, le=120)
    date_basis: Literal["recorded_on", "committed_on"] = "recorded_on"
    top_n: int = Field(default=10, ge=1, le=1000)
    attribution: Literal["principal", "home", "presence"] = "principal"
    weights: list[str] = Field(default_factory=lambda: ["ons_css_2019"], min_length=1)
    offence_sets: dict[str, str | list[str]] = Field(default_factory=dict)
    repeat_rule: str = "rasso-repeat-interim"


class ReviewConfig(_Section):
    required: bool = False


class ApiConfig(_Section):
    require_justification: bool = True
    session_idle_hours: float = Field(default=8.0, gt=0, le=24)


class Config(_Section):
    """The whole configuration. ``base_dir`` is where relative paths are resolved."""

    force: ForceConfig = Field(default_factory=ForceConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve(self, path: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def provenance(self) -> dict[str, Any]:
        """The configuration as recorded with a run (JSON-ready)."""
        return self.model_dump(mode="json")


def _format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: the configuration is not valid:"]
    seen: set[str] = set()
    for e in err.errors():
        # drop the union branch pydantic adds to the location (`… .str`, `… .list[str]`)
        loc = [str(p) for p in e["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else (loc[0] if loc else "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against SPEC section 6)"
        line = f"  {key}: {msg}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "\n".join(lines)


_UNION_TAGS = frozenset({"str", "list[str]"})


def load_config(path: str | Path | None = None) -> Config:
    """Read a TOML configuration file; ``None`` gives the built-in defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    return config_from_dict(data, source=str(p), base_dir=p.resolve().parent)


def config_from_dict(
    data: dict[str, Any], source: str = "configuration", base_dir: Path | str | None = None
) -> Config:
    """Validate a configuration given as a dictionary (as parsed from TOML)."""
    if "base_dir" in data:
        raise ConfigError(
            f"{source}: the configuration is not valid:\n"
            "  base_dir: unknown key (check the spelling against SPEC section 6)"
        )
    try:
        return Config.model_validate(
            {**data, "base_dir": Path(base_dir) if base_dir is not None else Path.cwd()}
        )
    except ValidationError as e:
        raise ConfigError(_format_errors(source, e)) from None
