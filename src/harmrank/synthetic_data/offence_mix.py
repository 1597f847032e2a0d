"""Offence mixes for the generator, taken from the shipped 2017/18 police recorded crime counts.

Each area (a force) gets four pools of Home Office codes with their probabilities:

- ``da``: domestic-abuse-flagged crimes. A code's 2017/18 count times its assumed domestic-abuse
  share (:data:`DA_SHARE`), plus ``8U`` (controlling or coercive behaviour, absent from the
  2017/18 tables) at :data:`CCB_SHARE_OF_DA` of the pool;
- ``sexual``: sexual offences (the Home Office "Sexual offences" group) not flagged as domestic
  abuse: count times (1 - share);
- ``other``: the rest of the ``vawg`` set (stalking ``8Q``; ``8K``), not flagged;
- ``non_vawg``: every other code (not flagged), the crimes that make filtering matter.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from harmrank.config import Config
from harmrank.reference import load_offence_set, load_weights, reference_file

PRC_FILE = "prc_counts_2017_18_by_force.csv"

# Bodies in the 2017/18 table that are not one of the 43 territorial forces of England & Wales.
NON_TERRITORIAL = frozenset(
    {"Action Fraud", "British Transport Police", "CIFAS", "Financial Fraud Action UK", "UK Finance"}
)
# Fraud pseudo-codes: recorded by national bodies, never by a force against a person.
FRAUD_CODES = frozenset({"AF", "CIFAS", "FFA UK", "UK Finance"})

# Controlling or coercive behaviour: about 4.5% of domestic-abuse crimes (see calibration.py).
CCB_CODE = "8U"
CCB_SHARE_OF_DA = 0.045

# Assumed share of each code's crimes that a force flags as domestic abuse. ONS reports that
# about 38% of violence against the person was domestic-abuse-related in the year ending March
# 2021; the split between codes is a judgement (an assumption, written down in
# docs/synthetic-data.md). Codes not listed are never flagged.
DA_SHARE: dict[str, float] = {
    # violence against the person
    "1/4.1/4.10/4.2": 0.25,  # homicide
    "2": 0.15,  # attempted murder
    "3B": 0.35,  # threats to kill
    "5D": 0.25,  # assault with intent to cause serious harm
    "5E": 0.25,  # endangering life
    "8N": 0.30,  # assault with injury
    "105A": 0.45,  # assault without injury
    "8L": 0.40,  # harassment
    "8M": 0.10,  # racially or religiously aggravated harassment
    "8Q": 0.55,  # stalking
    "8R": 0.30,  # malicious communications
    "11A": 0.30,  # cruelty to children/young persons
    "36": 0.30,  # kidnapping
    # criminal damage and public order
    "58A": 0.30,  # criminal damage to a dwelling
    "58C": 0.08,  # criminal damage to a vehicle
    "58D": 0.10,  # other criminal damage
    "9A": 0.12,  # public fear, alarm or distress
    # sexual offences
    "19C": 0.35,  # rape of a female aged 16 and over
    "19F": 0.10,  # rape of a male aged 16 and over
    "19D": 0.08,
    "19E": 0.05,
    "19G": 0.05,
    "19H": 0.05,
    "20A": 0.10,
    "20B": 0.05,
    "17A": 0.05,
    "17B": 0.03,
    "21": 0.05,
    "22A": 0.20,
    "22B": 0.03,
    "23": 0.50,  # incest or familial sexual offences
    "88E": 0.05,
}


@dataclass(frozen=True)
class Pool:
    """Codes and their probabilities (summing to 1)."""

    codes: tuple[str, ...]
    probs: np.ndarray

    def expected(self) -> dict[str, float]:
        return dict(zip(self.codes, self.probs.tolist(), strict=True))

    def restrict(self, keep: Callable[[str], bool]) -> Pool:
        """The pool's codes for which ``keep`` holds, renormalised (empty if none)."""
        idx = [i for i, c in enumerate(self.codes) if keep(c)]
        probs = self.probs[idx]
        total = probs.sum()
        return Pool(tuple(self.codes[i] for i in idx), probs / total if total > 0 else probs)


@dataclass(frozen=True)
class AreaMix:
    force: str
    da: Pool
    sexual: Pool
    other: Pool
    non_vawg: Pool
    da_sexual_fraction: float  # share of the da pool that is a sexual offence


@lru_cache(maxsize=1)
def prc_counts() -> dict[str, dict[str, int]]:
    """force -> ho_code -> 2017/18 count (territorial forces only)."""
    text = reference_file(PRC_FILE).read_text(encoding="utf-8")
    out: dict[str, dict[str, int]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["force"] in NON_TERRITORIAL or row["ho_code"] in FRAUD_CODES:
            continue
        out.setdefault(row["force"], {})[row["ho_code"]] = int(row["count"])
    return out


@lru_cache(maxsize=1)
def sexual_codes() -> frozenset[str]:
    """Codes in the Home Office "Sexual offences" group (from the 2017/18 table)."""
    text = reference_file(PRC_FILE).read_text(encoding="utf-8")
    return frozenset(
        row["ho_code"]
        for row in csv.DictReader(io.StringIO(text))
        if row["offence_group"] == "Sexual offences"
    )


@lru_cache(maxsize=1)
def vawg_codes() -> frozenset[str]:
    return load_offence_set("vawg", Config()).codes


@lru_cache(maxsize=1)
def weights() -> dict[str, float]:
    """ONS CSS weights (6 dp, aliases resolved) as floats, for measuring and ranking severity."""
    return {code: float(w) for code, w in load_weights(Config()).resolved().items()}


def territorial_forces() -> list[str]:
    return sorted(prc_counts())


def vawg_relevant_volume(force: str) -> float:
    """A force's 2017/18 volume of VAWG-set crimes plus the assumed domestic-abuse part of others."""
    vawg = vawg_codes()
    return sum(
        n * (1.0 if code in vawg else DA_SHARE.get(code, 0.0))
        for code, n in prc_counts()[force].items()
    )


def _pool(weights_by_code: dict[str, float]) -> Pool:
    items = sorted((c, w) for c, w in weights_by_code.items() if w > 0)
    codes = tuple(c for c, _ in items)
    probs = np.array([w for _, w in items], dtype=np.float64)
    return Pool(codes, probs / probs.sum())


@lru_cache(maxsize=64)
def area_mix(force: str) -> AreaMix:
    counts = prc_counts()[force]
    vawg, sexual = vawg_codes(), sexual_codes()
    da = {c: n * DA_SHARE[c] for c, n in counts.items() if c in DA_SHARE}
    da_total = sum(da.values())
    # 8U is added on top so that it is CCB_SHARE_OF_DA of the enlarged pool.
    da[CCB_CODE] = da_total * CCB_SHARE_OF_DA / (1.0 - CCB_SHARE_OF_DA)
    not_flagged = {c: n * (1.0 - DA_SHARE.get(c, 0.0)) for c, n in counts.items()}
    sex = {c: n for c, n in not_flagged.items() if c in sexual}
    other = {c: n for c, n in not_flagged.items() if c in vawg and c not in sexual}
    non_vawg = {c: n for c, n in not_flagged.items() if c not in vawg}
    if not any(v > 0 for v in other.values()):  # a force with no stalking at all (none in 2017/18)
        other = {"8Q": 1.0}
    da_pool = _pool(da)
    da_sexual = float(
        sum(p for c, p in zip(da_pool.codes, da_pool.probs, strict=True) if c in sexual)
    )
    return AreaMix(force, da_pool, _pool(sex), _pool(other), _pool(non_vawg), da_sexual)
