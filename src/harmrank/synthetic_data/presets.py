"""The two presets of SPEC section 8: a force (West Mercia) and England & Wales (43 forces).

A preset is cut into **chunks**, each simulated and written on its own so that memory stays
bounded: West Mercia is one chunk (its five LPAs share one population of nominals, so people
offend across LPA borders); ``national`` is one chunk per force, and a large force is split into
shards of at most :data:`MAX_CHUNK_VAWG` VAWG crimes a year (independent sub-populations of the
same force, statistically alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harmrank.synthetic_data import calibration
from harmrank.synthetic_data.offence_mix import territorial_forces, vawg_relevant_volume

WEST_MERCIA_LPAS = (
    "Herefordshire",
    "North Worcestershire",
    "Shropshire",
    "South Worcestershire",
    "Telford & Wrekin",
)
# Relative share of the force's crime in each LPA: roughly resident population (an assumption).
WEST_MERCIA_LPA_WEIGHTS = (0.15, 0.23, 0.25, 0.22, 0.15)

MAX_CHUNK_VAWG = 40_000.0  # VAWG crimes a year in one chunk (national shards)


@dataclass(frozen=True)
class Chunk:
    """One independently simulated part of an extract."""

    index: int
    force: str  # whose 2017/18 offence mix is used
    lpas: tuple[str, ...]
    lpa_weights: tuple[float, ...]
    vawg_per_year: float


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    lpas: tuple[str, ...]
    vawg_per_year: float
    chunks: tuple[Chunk, ...]


def _west_mercia(scale: float) -> Preset:
    vawg = calibration.VOLUMES["west-mercia"]["vawg"] * scale
    chunk = Chunk(0, "West Mercia", WEST_MERCIA_LPAS, WEST_MERCIA_LPA_WEIGHTS, vawg)
    return Preset(
        "west-mercia",
        "West Mercia Police: five LPAs, offence mix of West Mercia's 2017/18 recorded crime",
        WEST_MERCIA_LPAS,
        vawg,
        (chunk,),
    )


def _national(scale: float) -> Preset:
    total = calibration.VOLUMES["national"]["vawg"] * scale
    forces = territorial_forces()
    volume = {f: vawg_relevant_volume(f) for f in forces}
    grand = sum(volume.values())
    chunks: list[Chunk] = []
    for force in forces:
        per_year = total * volume[force] / grand
        shards = max(1, math.ceil(per_year / MAX_CHUNK_VAWG))
        for _ in range(shards):
            chunks.append(Chunk(len(chunks), force, (force,), (1.0,), per_year / shards))
    return Preset(
        "national",
        "England & Wales: the 43 territorial forces as areas, in proportion to 2017/18 volumes",
        tuple(forces),
        total,
        tuple(chunks),
    )


PRESET_NAMES = ("west-mercia", "national")


def get_preset(name: str, scale: float = 1.0) -> Preset:
    """A preset by name; ``scale`` shrinks or grows every volume (for quick tests and demos)."""
    if not scale > 0:
        raise ValueError("scale must be greater than 0")
    if name == "west-mercia":
        return _west_mercia(scale)
    if name == "national":
        return _national(scale)
    raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESET_NAMES)})")
