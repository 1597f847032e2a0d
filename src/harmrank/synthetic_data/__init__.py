"""Synthetic force- and national-scale extracts (SPEC section 8).

``write_extract`` writes an extract that enters harmrank through the same ingest as a force's
real one; ``measure_extract`` and ``render`` report it against the calibration targets of
:mod:`harmrank.synthetic_data.calibration`. See docs/synthetic-data.md for the model.
"""

from __future__ import annotations

from harmrank.synthetic_data.extract import (
    FORMATS,
    Manifest,
    expected_vawg_mix,
    last_complete_month,
    window_for,
    write_extract,
)
from harmrank.synthetic_data.presets import PRESET_NAMES, get_preset
from harmrank.synthetic_data.report import (
    CalibrationReport,
    measure_extract,
    protected_columns,
    render,
)

__all__ = [
    "FORMATS",
    "PRESET_NAMES",
    "CalibrationReport",
    "Manifest",
    "expected_vawg_mix",
    "get_preset",
    "last_complete_month",
    "measure_extract",
    "protected_columns",
    "render",
    "window_for",
    "write_extract",
]
