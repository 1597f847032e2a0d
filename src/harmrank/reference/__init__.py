"""Reference data shipped with the engine (SPEC section 2), loaded as data, never as code.

- weights tables: ``ons_css_2019`` (ONS Crime Severity Score weights) plus any force CSV
  (``ho_code,weight``) that adds or overrides weights; later tables override earlier ones;
- offence sets: ``vawg`` and ``rasso``, each overridable by a force file;
- offence descriptions and code aliases.

Every table carries its provenance (name, source, SHA-256 checksum) so that a run can record
exactly which reference data it used. Weights are held as decimals to 6 places.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path

from harmrank.config import Config

WEIGHT_PLACES = Decimal("0.000001")
BUILTIN_WEIGHTS = {"ons_css_2019": "ons_css_2019.csv"}
BUILTIN_OFFENCE_SETS = {"vawg": "offence_sets/vawg.txt", "rasso": "offence_sets/rasso.txt"}

# Descriptions for codes the 2017/18 open-data list does not carry, in the words of SPEC
# section 2 and SOURCES.md (descriptions only: these codes have no ONS weight).
EXTRA_DESCRIPTIONS = {
    "8U": "Controlling or coercive behaviour",
    "8K": "Poisoning or female genital mutilation",
}


class ReferenceError(ValueError):
    """A reference table (a force weights CSV or offence-set file) that cannot be used."""


def _data_bytes(name: str) -> bytes:
    return resources.files("harmrank.reference").joinpath("data", name).read_bytes()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_weight(text: str) -> Decimal:
    """A weight held to 6 decimal places (round half up from its decimal text)."""
    return Decimal(text.strip()).quantize(WEIGHT_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TableSource:
    """Where one reference table came from, as recorded in a run's provenance."""

    name: str
    source: str
    sha256: str
    rows: int

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "sha256": self.sha256, "rows": self.rows}


@dataclass(frozen=True)
class Weights:
    """The merged weights: HO code -> weight (6 dp), with the tables that made it."""

    by_code: dict[str, Decimal]
    tables: tuple[TableSource, ...]
    aliases: dict[str, str] = field(default_factory=dict)

    def weight_of(self, ho_code: str) -> Decimal | None:
        """The weight of a code: its own, else its alias's, else ``None`` (no weight)."""
        if ho_code in self.by_code:
            return self.by_code[ho_code]
        alias = self.aliases.get(ho_code)
        return self.by_code.get(alias) if alias is not None else None

    def resolved(self) -> dict[str, Decimal]:
        """Every code with a weight, aliases included (what scoring joins against)."""
        out = dict(self.by_code)
        for code, target in self.aliases.items():
            if code not in out and target in self.by_code:
                out[code] = self.by_code[target]
        return out


def _parse_weights_csv(
    data: bytes, source: str, weight_column: str = "weight"
) -> dict[str, Decimal]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReferenceError(f"{source}: not a UTF-8 CSV file") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"ho_code", weight_column} <= set(reader.fieldnames):
        raise ReferenceError(
            f"{source}: a weights file needs the header columns ho_code,{weight_column} "
            f"(found: {', '.join(reader.fieldnames or []) or 'no header'})"
        )
    out: dict[str, Decimal] = {}
    for row in reader:
        line_no = reader.line_num  # the physical line (blank lines are skipped, not counted)
        code = (row.get("ho_code") or "").strip()
        raw = (row.get(weight_column) or "").strip()
        if not code:
            raise ReferenceError(f"{source}, line {line_no}: ho_code is empty")
        try:
            weight = to_weight(raw)
        except (InvalidOperation, ValueError):
            raise ReferenceError(
                f"{source}, line {line_no}: weight {raw!r} for {code} is not a number"
            ) from None
        if not weight.is_finite() or weight < 0:
            raise ReferenceError(f"{source}, line {line_no}: weight for {code} must be 0 or more")
        if code in out:
            raise ReferenceError(f"{source}, line {line_no}: {code} is listed twice")
        out[code] = weight
    return out


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """Code aliases: an extract's spelling -> the code whose weight it takes."""
    reader = csv.DictReader(io.StringIO(_data_bytes("code_aliases.csv").decode("utf-8")))
    return {row["ho_code"]: row["weight_code"] for row in reader}


def load_weights(config: Config) -> Weights:
    """Merge the weights tables named in ``[scoring] weights`` (later override earlier)."""
    by_code: dict[str, Decimal] = {}
    tables: list[TableSource] = []
    for entry in config.scoring.weights:
        if entry in BUILTIN_WEIGHTS:
            data = _data_bytes(BUILTIN_WEIGHTS[entry])
            source = f"harmrank:reference/data/{BUILTIN_WEIGHTS[entry]}"
            name = entry
        else:
            path = config.resolve(entry)
            try:
                data = path.read_bytes()
            except OSError as e:
                raise ReferenceError(
                    f"weights {entry!r}: not a built-in table ({', '.join(BUILTIN_WEIGHTS)}) "
                    f"and the file cannot be read: {e.strerror or e}"
                ) from None
            source, name = str(path), path.stem
        table = _parse_weights_csv(data, source)
        by_code.update(table)
        tables.append(TableSource(name, source, _sha256(data), len(table)))
    return Weights(by_code=by_code, tables=tuple(tables), aliases=aliases())


def _parse_code_list(data: bytes, source: str) -> frozenset[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReferenceError(f"{source}: not a UTF-8 text file") from None
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if first.split(",")[0].strip() == "ho_code":  # CSV with a ho_code column
        rows = csv.DictReader(io.StringIO(text))
        codes = [(r.get("ho_code") or "").strip() for r in rows]
    else:  # whitespace-separated codes, '#' comments
        codes = [tok for line in text.splitlines() for tok in line.split("#", 1)[0].split()]
    codes = [c for c in codes if c]
    if not codes:
        raise ReferenceError(f"{source}: the offence set is empty")
    return frozenset(codes)


@dataclass(frozen=True)
class OffenceSet:
    name: str
    codes: frozenset[str]
    source: TableSource


def load_offence_set(name: str, config: Config) -> OffenceSet:
    """A named offence set, overridden by ``[scoring] offence_sets`` where the force gives one."""
    override = config.scoring.offence_sets.get(name)
    if isinstance(override, list):
        codes = frozenset(c.strip() for c in override if c.strip())
        if not codes:
            raise ReferenceError(f"offence set {name!r} in the configuration is empty")
        blob = " ".join(sorted(codes)).encode()
        return OffenceSet(
            name, codes, TableSource(name, "configuration", _sha256(blob), len(codes))
        )
    if isinstance(override, str):
        path = config.resolve(override)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ReferenceError(
                f"offence set {name!r}: cannot read {path}: {e.strerror or e}"
            ) from None
        codes = _parse_code_list(data, str(path))
        return OffenceSet(name, codes, TableSource(name, str(path), _sha256(data), len(codes)))
    if name not in BUILTIN_OFFENCE_SETS:
        known = sorted(set(BUILTIN_OFFENCE_SETS) | set(config.scoring.offence_sets))
        raise ReferenceError(f"unknown offence set {name!r} (known: {', '.join(known)})")
    data = _data_bytes(BUILTIN_OFFENCE_SETS[name])
    codes = _parse_code_list(data, BUILTIN_OFFENCE_SETS[name])
    source = f"harmrank:reference/data/{BUILTIN_OFFENCE_SETS[name]}"
    return OffenceSet(name, codes, TableSource(name, source, _sha256(data), len(codes)))


@lru_cache(maxsize=1)
def descriptions() -> dict[str, str]:
    """HO code -> offence description (open-data wording, then ONS wording, then SPEC's)."""
    out: dict[str, str] = dict(EXTRA_DESCRIPTIONS)
    for row in csv.DictReader(io.StringIO(_data_bytes("ons_css_2019.csv").decode("utf-8"))):
        out[row["ho_code"]] = row["offence"]
    for row in csv.DictReader(io.StringIO(_data_bytes("ho_offence_codes.csv").decode("utf-8"))):
        out[row["ho_code"]] = row["offence"]
    return out


def known_codes(config: Config) -> frozenset[str]:
    """Every code harmrank knows of; an extract code outside this set is reported as unknown."""
    codes = set(descriptions()) | set(aliases())
    codes |= set(load_weights(config).by_code)
    for name in set(BUILTIN_OFFENCE_SETS) | set(config.scoring.offence_sets):
        codes |= load_offence_set(name, config).codes
    return frozenset(codes)


def reference_file(name: str) -> Path:
    """The path of a shipped reference file (for tools that want to open it themselves)."""
    return Path(str(resources.files("harmrank.reference").joinpath("data", name)))
