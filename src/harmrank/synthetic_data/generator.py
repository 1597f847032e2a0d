"""Simulation of one chunk of an extract: people, their offending careers, victims, suspects,
outcomes and orders, all vectorised with numpy (no Python loop over rows).

The model, in one paragraph. Offenders arrive at a steady rate over the window and a burn-in of
:data:`BURN_IN_YEARS` before it. Each has a career: one crime, or (for the repeaters) a burst of
further crimes whose number is Poisson with a gamma-distributed rate (a negative binomial: a few
chronic offenders, many one-off ones) over a short, exponentially distributed span, so that the
highest-harm people of one year are mostly not those of the next. Every offender has a latent
severity; within each pool the codes drawn from the 2017/18 mix are paired with crimes through a
Gaussian copula on that severity, so that the more violent carry more of the harmful codes while
the code mix stays exactly that of the pool. Domestic-abuse careers are incidents against one
victim at a time, switching now and then (serial perpetrators); homicide only ends a career.
Sexual offences are reports with one victim and one or more counts: child abuse is often
reported years later with several counts, DA rapes are often a course of conduct; the big cases
hold the gravest codes, which is where harm concentrates. Some sexual and stalking offenders are
also domestic abusers. Non-VAWG crimes go to the same people, mostly to the repeaters. Outcomes
close crimes after an exponential delay; orders follow crimes and convictions, and some orders
are breached by a new crime. docs/synthetic-data.md tells the whole model.

The knobs are :class:`Model`'s fields; the targets they are tuned to are in
:mod:`harmrank.synthetic_data.calibration`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from harmrank.synthetic_data.offence_mix import Pool, area_mix, sexual_codes, weights
from harmrank.synthetic_data.presets import Chunk

BURN_IN_YEARS = 3
YEAR = 365.25
ID_SPAN = 10_000_000  # ids are C/N/V/O + 3-digit chunk + 7-digit sequence

POOL_DA, POOL_SEX, POOL_OTHER, POOL_NON_VAWG, POOL_BREACH = 0, 1, 2, 3, 4

# Outcome types (Home Office outcomes framework, 1-22) for a closed crime with a suspect, by pool.
_OUTCOMES_DA = {
    16: 0.50,
    15: 0.20,
    1: 0.11,
    8: 0.03,
    3: 0.02,
    10: 0.02,
    21: 0.04,
    20: 0.02,
    14: 0.05,
    5: 0.01,
}
_OUTCOMES_SEX = {
    15: 0.38,
    16: 0.33,
    1: 0.08,
    14: 0.06,
    21: 0.04,
    11: 0.03,
    20: 0.04,
    17: 0.02,
    5: 0.02,
}
_OUTCOMES_OTHER = {16: 0.45, 15: 0.25, 1: 0.12, 8: 0.04, 21: 0.05, 20: 0.04, 14: 0.05}
_OUTCOMES_NON_VAWG = {
    1: 0.24,
    2: 0.03,
    3: 0.05,
    6: 0.02,
    8: 0.10,
    15: 0.20,
    16: 0.20,
    14: 0.06,
    21: 0.05,
    22: 0.05,
}
_OUTCOMES_NO_SUSPECT = {18: 0.8, 14: 0.2}
CHARGED = 1  # outcome 1: charged or summonsed

# Recent sexual offences whose offenders are often strangers name a suspect less often
# (an assumption): sexual assault on a female 13+, on a male 13+, exposure and voyeurism.
_SEX_IDENTIFIED_RECENT = {"20A": 0.50, "17A": 0.55, "88E": 0.40}
# Codes that end a career against a victim: only ever a perpetrator's last crime.
TERMINAL_CODES = frozenset({"1/4.1/4.10/4.2"})
# Sexual offences against children (by their Home Office descriptions).
CHILD_SEXUAL = frozenset({"17B", "19D", "19E", "19G", "19H", "20B", "21", "22B", "23", "71", "88A"})

ORDER_TYPES = ("DVPO", "NMO", "RO", "SHPO", "SPO", "BAIL")
_ROLES = ("suspect", "charged", "convicted", "eliminated")
STATUSES = ("recorded", "cancelled", "transferred")


@dataclass(frozen=True)
class Model:
    """The generator's knobs (tuned against calibration.py; see docs/synthetic-data.md)."""

    # domestic abuse careers
    da_repeat_share: float = 0.42
    da_rate_mean: float = 3.0  # further crimes a year while active (repeaters)
    da_rate_shape: float = 0.5  # gamma shape: smaller = more chronic offenders
    da_span_years: float = 0.8
    da_max_rate: float = 12.0  # nobody is recorded for a crime every few days all year
    da_switch_victim: float = 0.12  # chance a further crime is against a new victim
    da_sexual_by_severity: float = 1.0  # DA sexual reports go to the more violent (exp weight)
    da_sexual_standalone: float = 0.35  # ... by a partner with no other record
    da_sexual_historic: float = 0.10  # DA sexual reports about a year or more back
    da_sexual_multi: float = 0.6  # ... and carrying several counts (a course of conduct)
    da_identified: float = 0.93
    # sexual offences (not DA-flagged)
    sex_repeat_share: float = 0.14
    sex_rate_mean: float = 1.0
    sex_rate_shape: float = 0.7
    sex_span_years: float = 1.2
    sex_max_rate: float = 4.0  # reports (victims) a year at most
    sex_historic_child: float = 0.37  # child sexual abuse reported a year or more later
    sex_historic_adult: float = 0.12
    sex_identified_recent: float = 0.85
    sex_identified_historic: float = 0.92
    sex_historic_counts: float = 3.0  # extra counts (Poisson mean) in a historic report
    sex_recent_multi_child: float = 0.35  # chance a recent report carries several counts
    sex_recent_multi_adult: float = 0.12
    sex_recent_counts: float = 1.0  # extra counts (Poisson mean) beyond the second
    sex_from_da: float = 0.10  # share of sexual offenders who are also DA perpetrators
    # other VAWG (stalking), not DA-flagged
    other_repeat_share: float = 0.25
    other_rate_mean: float = 2.0
    other_rate_shape: float = 0.8
    other_span_years: float = 0.7
    other_identified: float = 0.90
    other_from_da: float = 0.30
    # severity copula: correlation between a person's latent severity and a crime's code rank
    severity_rho: float = 0.6
    severity_by_count: float = 0.3  # a DA perpetrator's severity rises with log(number of crimes)
    sex_severity_by_count: float = 0.5  # a sexual offender's (and a report's) with log(count)
    # non-VAWG crimes of the same people: weight of an offender ~ (VAWG crimes) ** power
    non_vawg_power: float = 2.0
    non_vawg_spread_days: float = 150.0
    # suspects
    co_suspect: float = 0.025
    eliminated_extra: float = 0.035
    eliminated_unidentified: float = 0.10
    duplicate_link: float = 0.004
    # place
    home_lpa_share: float = 0.85
    # status and outcomes
    cancelled: float = 0.022
    transferred: float = 0.011
    close_days: dict[int, float] = field(
        default_factory=lambda: {
            POOL_DA: 40.0,
            POOL_SEX: 150.0,
            POOL_OTHER: 60.0,
            POOL_NON_VAWG: 50.0,
            POOL_BREACH: 40.0,
        }
    )
    conviction_days: float = 200.0
    # orders (chance per eligible crime)
    dvpo: float = 0.012
    nmo: float = 0.015
    ro_on_conviction: float = 0.55
    shpo_on_conviction: float = 0.70
    spo: float = 0.04
    bail: float = 0.10
    breach: float = 0.15
    # nominals
    birth_year_null: float = 0.035
    home_lpa_null: float = 0.05


@dataclass
class ChunkData:
    crimes: pl.DataFrame
    suspects: pl.DataFrame
    nominals: pl.DataFrame
    orders: pl.DataFrame
    breaches: int


@dataclass
class _Events:
    """Crime events of a chunk, columnar, before windowing and ids."""

    day: np.ndarray  # recorded_on (days since 1970-01-01)
    committed: np.ndarray  # committed_on (days); -1 = null
    code: np.ndarray  # index into the chunk's code table
    da: np.ndarray  # domestic-abuse flag
    offender: np.ndarray  # chunk-local nominal index
    victim: np.ndarray  # chunk-local victim index; -1 = none
    identified: np.ndarray  # is the offender known (a suspects row)?
    pool: np.ndarray

    @staticmethod
    def empty() -> _Events:
        z = np.zeros(0, dtype=np.int64)
        return _Events(z, z, z, z.astype(bool), z, z, z.astype(bool), z.astype(np.int8))

    @staticmethod
    def concat(parts: list[_Events]) -> _Events:
        return _Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in _EVENT_FIELDS))

    def take(self, idx: np.ndarray) -> _Events:
        return _Events(*(getattr(self, f)[idx] for f in _EVENT_FIELDS))

    def __len__(self) -> int:
        return len(self.day)


_EVENT_FIELDS = ("day", "committed", "code", "da", "offender", "victim", "identified", "pool")


class _Ids:
    """Allocates chunk-local nominal and victim indexes."""

    def __init__(self) -> None:
        self.nominals = 0
        self.victims = 0

    def new_nominals(self, n: int) -> np.ndarray:
        out = np.arange(self.nominals, self.nominals + n, dtype=np.int64)
        self.nominals += n
        return out

    def new_victims(self, n: int) -> np.ndarray:
        out = np.arange(self.victims, self.victims + n, dtype=np.int64)
        self.victims += n
        return out


def _careers(
    rng: np.random.Generator,
    n: int,
    t_lo: int,
    t_hi: int,
    repeat_share: float,
    rate_mean: float,
    rate_shape: float,
    span_years: float,
    max_rate: float = 24.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``n`` people arriving uniformly in [t_lo, t_hi]: (owner, day, first) per event,
    sorted by owner then day. A repeater's further events are Poisson(rate x span) with a
    gamma rate (capped at ``max_rate`` a year: nobody is recorded for a crime every few days
    all year), spread uniformly over an exponential span after the first."""
    t0 = rng.integers(t_lo, t_hi + 1, n)
    repeater = rng.random(n) < repeat_share
    rate = np.where(
        repeater, np.minimum(rng.gamma(rate_shape, rate_mean / rate_shape, n), max_rate), 0.0
    )
    span = rng.exponential(span_years, n) * YEAR
    k = 1 + rng.poisson(rate * span / YEAR)
    owner = np.repeat(np.arange(n, dtype=np.int64), k)
    starts = np.cumsum(k) - k
    first = np.zeros(len(owner), dtype=bool)
    first[starts] = True
    offset = np.where(first, 0.0, rng.random(len(owner)) * np.repeat(span, k))
    day = np.repeat(t0, k) + offset.astype(np.int64)
    order = np.lexsort((day, owner))
    return owner[order], day[order], first[order]


def _expected_per_person(
    repeat_share: float,
    rate_mean: float,
    rate_shape: float,
    span_years: float,
    max_rate: float = 24.0,
) -> float:
    """Expected events per person: 1 + share x E[min(rate, cap)] x span."""
    scale = rate_mean / rate_shape
    # E[min(X, c)] for X ~ Gamma(k, scale): k*scale*P(k+1, c/scale) + c*(1 - P(k, c/scale))
    capped = rate_mean * _gamma_cdf(rate_shape + 1, max_rate / scale) + max_rate * (
        1.0 - _gamma_cdf(rate_shape, max_rate / scale)
    )
    return 1.0 + repeat_share * capped * span_years


def _gamma_cdf(k: float, x: float, terms: int = 400) -> float:
    """Regularised lower incomplete gamma P(k, x) by its series (x is small here)."""
    term = 1.0 / k
    total = term
    for n in range(1, terms):
        term *= x / (k + n)
        total += term
        if term < 1e-15 * total:
            break
    return min(1.0, total * math.exp(-x + k * math.log(x) - math.lgamma(k)))


def _rank_weight(code: str, w: dict[str, float]) -> float:
    """Severity used to pair codes with people: the ONS weight; 8U (no weight) sits with the
    harassment and stalking codes, 8K (FGM, no weight) with the serious sexual offences."""
    if code == "8U":
        return 40.0
    if code == "8K":
        return 1000.0
    return w.get(code, 0.0)


def _copula_codes(
    rng: np.random.Generator,
    pool: Pool,
    severity: np.ndarray,
    rho: float,
    table: dict[str, int] | None,
    last: np.ndarray | None = None,
) -> np.ndarray:
    """Codes for crimes whose owners have latent ``severity``: counts from the pool's mix
    (multinomial), the most severe codes paired with the highest ``rho``-correlated scores.
    Homicide only ever falls on a crime marked ``last`` (the end of a career against that
    victim), when such marks are given."""
    n = len(severity)
    counts = rng.multinomial(n, pool.probs)
    w = weights()
    score = rho * severity + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
    out = np.full(n, -1, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    if last is not None:
        for i, code in enumerate(pool.codes):
            if code in TERMINAL_CODES and counts[i]:
                candidates = np.flatnonzero(last & free)
                take = candidates[np.argsort(-score[candidates], kind="stable")[: counts[i]]]
                out[take] = i
                free[take] = False
                counts[i] = 0
    rest = np.flatnonzero(free)
    by_severity = np.argsort([_rank_weight(c, w) for c in pool.codes], kind="stable")
    codes_sorted = np.repeat(by_severity, counts[by_severity])
    # more crimes than codes left only if a terminal code found too few "last" crimes
    codes_sorted = (
        np.resize(codes_sorted, len(rest)) if len(codes_sorted) != len(rest) else codes_sorted
    )
    out[rest[np.argsort(score[rest], kind="stable")]] = codes_sorted
    if table is None:  # indices into the pool's codes
        return out
    glob = np.array([table[c] for c in pool.codes], dtype=np.int64)
    return glob[out]


def _iid_codes(rng: np.random.Generator, pool: Pool, n: int, table: dict[str, int]) -> np.ndarray:
    glob = np.array([table[c] for c in pool.codes], dtype=np.int64)
    return glob[rng.choice(len(pool.codes), size=n, p=pool.probs)]


def _choice(rng: np.random.Generator, mix: dict[int, float], n: int) -> np.ndarray:
    keys = np.array(list(mix), dtype=np.int64)
    p = np.array(list(mix.values()), dtype=np.float64)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


@dataclass(frozen=True)
class _Family:
    """Child or adult sexual offences of a pool, and how their reports are made."""

    pool: Pool
    share: float  # of the pool's crimes
    historic: float  # chance a report is of offences a year or more back
    multi: float  # chance a recent report carries several counts
    counts: float  # expected crimes per report


def _not_child(code: str) -> bool:
    return code not in CHILD_SEXUAL


def _families(pool: Pool, m: Model, da: bool = False) -> list[_Family]:
    """A sexual-offence pool split into child and adult offences. DA-flagged reports (a
    partner or relative, during the relationship) are seldom historic and often a course of
    conduct with several counts."""
    out = []
    for is_child in (True, False):
        sub = pool.restrict(CHILD_SEXUAL.__contains__ if is_child else _not_child)
        share = float(sum(p for c, p in zip(pool.codes, pool.probs, strict=True) if c in sub.codes))
        if share <= 0:
            continue
        if da:
            hist, multi = m.da_sexual_historic, m.da_sexual_multi
        elif is_child:
            hist, multi = m.sex_historic_child, m.sex_recent_multi_child
        else:
            hist, multi = m.sex_historic_adult, m.sex_recent_multi_adult
        counts = hist * (1 + m.sex_historic_counts) + (1 - hist) * (
            1 + multi * (1 + m.sex_recent_counts)
        )
        out.append(_Family(sub, share, hist, multi, counts))
    return out


def _report_shares(fams: list[_Family]) -> np.ndarray:
    """Report shares per family: crime shares / expected counts, so the crime mix is kept."""
    q = np.array([f.share / f.counts for f in fams])
    return q / q.sum()


def _expected_counts(pool: Pool, m: Model, da: bool = False) -> float:
    """Expected crimes per report of a sexual-offence pool."""
    fams = _families(pool, m, da)
    if not fams:
        return 1.0
    return float(sum(q * f.counts for q, f in zip(_report_shares(fams), fams, strict=True)))


def _reports(
    rng: np.random.Generator,
    pool: Pool,
    *,
    day: np.ndarray,
    severity: np.ndarray,
    offender: np.ndarray,
    victim: np.ndarray,
    identified: np.ndarray | None,
    da: bool,
    table: dict[str, int],
    m: Model,
) -> _Events:
    """Sexual-offence reports -> crimes. A report is of child or adult offences (report shares
    keep the pool's crime mix); it is historic (committed a year or more before) with the
    family's chance, and then carries 1 + Poisson(sex_historic_counts) counts spread over
    years; a recent report sometimes carries several counts over the past months. Codes: per
    family, a copula on the report's severity (plus the log of its counts), so that the big
    cases hold the gravest codes."""
    n = len(day)
    fams = _families(pool, m, da)
    if n == 0 or not fams:
        return _Events.empty()
    fam = rng.choice(len(fams), size=n, p=_report_shares(fams))
    hist_p = np.array([f.historic for f in fams])[fam]
    multi_p = np.array([f.multi for f in fams])[fam]
    historic = rng.random(n) < hist_p
    multi = ~historic & (rng.random(n) < multi_p)
    counts = 1 + np.where(
        historic,
        rng.poisson(m.sex_historic_counts, n),
        np.where(multi, 1 + rng.poisson(m.sex_recent_counts, n), 0),
    )
    report = np.repeat(np.arange(n), counts)
    nc = len(report)
    lag_years = np.where(historic, 1.0 + np.minimum(rng.exponential(7.0, n), 39.0), 0.0)
    span = np.where(historic, rng.exponential(1.5, n) * YEAR, np.where(multi, 300.0, 0.0))
    recent_lag = np.minimum(rng.exponential(12.0, nc), 300.0)
    committed = np.where(
        historic[report],
        day[report] - (lag_years[report] * YEAR).astype(np.int64),
        day[report] - recent_lag.astype(np.int64),
    ) - (rng.random(nc) * span[report]).astype(np.int64)
    committed = np.minimum(committed, day[report])
    score = severity + m.sex_severity_by_count * np.log(counts)
    code = np.empty(nc, dtype=np.int64)
    for f, family in enumerate(fams):
        sel = np.flatnonzero(fam[report] == f)
        code[sel] = _copula_codes(rng, family.pool, score[report[sel]], m.severity_rho, table)
    if identified is None:
        # a recent report names a suspect less often where strangers are typical
        names = {i: c for c, i in table.items()}
        first = np.cumsum(counts) - counts
        p_recent = (
            np.array(
                [
                    _SEX_IDENTIFIED_RECENT.get(names[int(c)], m.sex_identified_recent)
                    for c in code[first]
                ]
            )
            if n
            else np.zeros(0)
        )
        identified = rng.random(n) < np.where(historic, m.sex_identified_historic, p_recent)
    return _Events(
        day=day[report],
        committed=committed,
        code=code,
        da=np.full(nc, da, dtype=bool),
        offender=offender[report],
        victim=victim[report],
        identified=identified[report],
        pool=np.full(nc, POOL_SEX, dtype=np.int8),
    )


@dataclass(frozen=True)
class Window:
    """The extract's window of ``recorded_on`` days (inclusive)."""

    start: int
    end: int

    @property
    def sim_start(self) -> int:
        return self.start - int(BURN_IN_YEARS * YEAR)

    @property
    def sim_years(self) -> float:
        return (self.end - self.sim_start + 1) / YEAR


def simulate_chunk(
    chunk: Chunk,
    window: Window,
    seed: int,
    rates: dict[str, float],
    model: Model | None = None,
) -> ChunkData:
    """Simulate one chunk. ``rates``: ``da``, ``sexual``, ``other`` (crimes a year, not DA-flagged
    for the last two) and ``non_vawg_ratio``."""
    m = model or Model()
    rng = np.random.default_rng([seed, chunk.index, 20_251_128])
    mix = area_mix(chunk.force)
    code_names = sorted(
        set(mix.da.codes)
        | set(mix.sexual.codes)
        | set(mix.other.codes)
        | set(mix.non_vawg.codes)
        | {"8L", "88C"}
    )
    table = {c: i for i, c in enumerate(code_names)}
    sexual = sexual_codes()
    ids = _Ids()
    lo, hi, years = window.sim_start, window.end, window.sim_years

    # ---- domestic abuse: careers of incidents, one victim at a time ------------------------
    # (sexual offences in the DA pool are reports with counts, below)
    da_incident_pool = mix.da.restrict(lambda c: c not in sexual)
    da_sexual_pool = mix.da.restrict(lambda c: c in sexual)
    e_da = _expected_per_person(
        m.da_repeat_share, m.da_rate_mean, m.da_rate_shape, m.da_span_years, m.da_max_rate
    )
    n_da = int(rng.poisson(rates["da"] * (1 - mix.da_sexual_fraction) * years / e_da))
    owner, day, first = _careers(
        rng,
        n_da,
        lo,
        hi,
        m.da_repeat_share,
        m.da_rate_mean,
        m.da_rate_shape,
        m.da_span_years,
        m.da_max_rate,
    )
    da_people = ids.new_nominals(n_da)
    k_da = np.bincount(owner, minlength=n_da)
    severity_da = rng.standard_normal(n_da) + m.severity_by_count * np.log(np.maximum(k_da, 1))
    new_victim = first | (rng.random(len(owner)) < m.da_switch_victim)
    last_da = np.append(owner[1:] != owner[:-1], True) if len(owner) else np.zeros(0, dtype=bool)
    victim = ids.new_victims(int(new_victim.sum()))[np.cumsum(new_victim) - 1]
    da_events = _Events(
        day=day,
        committed=day - np.minimum(rng.geometric(0.6, len(day)) - 1, 30),
        code=_copula_codes(
            rng, da_incident_pool, severity_da[owner], m.severity_rho, table, last=last_da
        ),
        da=np.ones(len(day), dtype=bool),
        offender=da_people[owner],
        victim=victim,
        identified=rng.random(len(day)) < m.da_identified,
        pool=np.full(len(day), POOL_DA, dtype=np.int8),
    )
    repeaters_da = da_people[k_da >= 2]

    # ---- sexual offences: reports (one victim, one or more counts each) ------------------
    # DA-flagged reports: a perpetrator's partner or relative reports, during the relationship
    # (the more violent perpetrators more often), one or more counts against that victim.
    e_counts_da = _expected_counts(da_sexual_pool, m, da=True)
    n_da_reports = int(rng.poisson(rates["da"] * mix.da_sexual_fraction * years / e_counts_da))
    if n_da_reports and len(da_events):
        # most by a known DA perpetrator (the more violent more often), reported around one of
        # his incidents against that victim; some by a partner never otherwise recorded
        weight = np.exp(m.da_sexual_by_severity * severity_da[owner])
        anchor = rng.choice(len(da_events), size=n_da_reports, p=weight / weight.sum())
        standalone = rng.random(n_da_reports) < m.da_sexual_standalone
        n_new = int(standalone.sum())
        offender = da_events.offender[anchor]
        offender[standalone] = ids.new_nominals(n_new)
        victim = da_events.victim[anchor]
        victim[standalone] = ids.new_victims(n_new)
        report_day = da_events.day[anchor] - rng.integers(0, 60, n_da_reports)
        report_day[standalone] = rng.integers(lo, hi + 1, n_new)
        severity = severity_da[owner[anchor]]
        severity[standalone] = rng.standard_normal(n_new)
        da_reports = _reports(
            rng,
            da_sexual_pool,
            day=report_day,
            severity=severity,
            offender=offender,
            victim=victim,
            identified=rng.random(n_da_reports) < m.da_identified,
            da=True,
            table=table,
            m=m,
        )
    else:
        da_reports = _Events.empty()
    # Other sexual offences: sexual offenders' careers of reports, one victim each.
    e_reports = _expected_per_person(
        m.sex_repeat_share, m.sex_rate_mean, m.sex_rate_shape, m.sex_span_years, m.sex_max_rate
    )
    e_counts = _expected_counts(mix.sexual, m)
    n_sex = int(rng.poisson(rates["sexual"] * years / (e_reports * e_counts)))
    r_owner, r_day, _ = _careers(
        rng,
        n_sex,
        lo,
        hi,
        m.sex_repeat_share,
        m.sex_rate_mean,
        m.sex_rate_shape,
        m.sex_span_years,
        m.sex_max_rate,
    )
    sex_people = ids.new_nominals(n_sex)
    if len(repeaters_da) and n_sex:
        from_da = rng.random(n_sex) < m.sex_from_da
        sex_people[from_da] = rng.choice(repeaters_da, int(from_da.sum()))
    n_reports = len(r_owner)
    reports_of = np.bincount(r_owner, minlength=n_sex)
    severity_sex = rng.standard_normal(n_sex) + m.sex_severity_by_count * np.log(
        np.maximum(reports_of, 1)
    )
    sex_events = _reports(
        rng,
        mix.sexual,
        day=r_day,
        severity=severity_sex[r_owner],
        offender=sex_people[r_owner],
        victim=ids.new_victims(n_reports),
        identified=None,
        da=False,
        table=table,
        m=m,
    )

    # ---- other VAWG (stalking), not DA-flagged --------------------------------------------
    e_other = _expected_per_person(
        m.other_repeat_share, m.other_rate_mean, m.other_rate_shape, m.other_span_years
    )
    n_other = int(rng.poisson(rates["other"] * years / e_other))
    o_owner, o_day, _ = _careers(
        rng,
        n_other,
        lo,
        hi,
        m.other_repeat_share,
        m.other_rate_mean,
        m.other_rate_shape,
        m.other_span_years,
    )
    other_people = ids.new_nominals(n_other)
    if len(repeaters_da) and n_other:
        from_da = rng.random(n_other) < m.other_from_da
        other_people[from_da] = rng.choice(repeaters_da, int(from_da.sum()))
    other_events = _Events(
        day=o_day,
        committed=o_day - np.minimum(rng.exponential(20.0, len(o_day)), 200).astype(np.int64),
        code=_copula_codes(
            rng, mix.other, rng.standard_normal(n_other)[o_owner], m.severity_rho, table
        ),
        da=np.zeros(len(o_day), dtype=bool),
        offender=other_people[o_owner],
        victim=ids.new_victims(n_other)[o_owner],
        identified=rng.random(len(o_day)) < m.other_identified,
        pool=np.full(len(o_day), POOL_OTHER, dtype=np.int8),
    )

    vawg = _Events.concat([da_events, da_reports, sex_events, other_events])

    # ---- non-VAWG crimes of the same people, mostly of the repeaters ----------------------
    known = vawg.identified
    people, per_person = np.unique(vawg.offender[known], return_counts=True)
    in_window = int(((vawg.day >= window.start) & (vawg.day <= window.end)).sum())
    n_nv = int(
        rng.poisson(
            rates["non_vawg_ratio"] * in_window * years / (window.end - window.start + 1) * YEAR
        )
    )
    if len(people) and n_nv:
        p = per_person.astype(np.float64) ** m.non_vawg_power
        who = rng.choice(len(people), size=n_nv, p=p / p.sum())
        # near one of that person's VAWG crimes in time
        k_off, k_day = vawg.offender[known], vawg.day[known]
        by_person = np.argsort(k_off, kind="stable")
        first_pos = np.searchsorted(k_off[by_person], people[who])
        pick = first_pos + (rng.random(n_nv) * per_person[who]).astype(np.int64)
        anchor = k_day[by_person][pick]
        nv_day = anchor + rng.normal(0.0, m.non_vawg_spread_days, n_nv).astype(np.int64)
        has_victim = rng.random(n_nv) < 0.55
        nv_victim = np.full(n_nv, -1, dtype=np.int64)
        nv_victim[has_victim] = ids.new_victims(int(has_victim.sum()))
        nv_events = _Events(
            day=nv_day,
            committed=nv_day - np.minimum(rng.geometric(0.5, n_nv) - 1, 60),
            code=_iid_codes(rng, mix.non_vawg, n_nv, table),
            da=np.zeros(n_nv, dtype=bool),
            offender=people[who],
            victim=nv_victim,
            identified=np.ones(n_nv, dtype=bool),
            pool=np.full(n_nv, POOL_NON_VAWG, dtype=np.int8),
        )
        events = _Events.concat([vawg, nv_events])
    else:
        events = vawg

    # ---- outcomes, roles, status ------------------------------------------------------------
    outcome, convicted_day = _outcomes(rng, events, window.end, m)

    # ---- orders and their breaches ----------------------------------------------------------
    orders, breach_events = _orders_and_breaches(
        rng, events, outcome, convicted_day, window, table, m
    )
    if len(breach_events):
        b_outcome, b_conv = _outcomes(rng, breach_events, window.end, m)
        events = _Events.concat([events, breach_events])
        outcome = np.concatenate([outcome, b_outcome])
        convicted_day = np.concatenate([convicted_day, b_conv])

    status = np.zeros(len(events), dtype=np.int8)
    u = rng.random(len(events))
    status[u < m.cancelled] = 1
    status[(u >= m.cancelled) & (u < m.cancelled + m.transferred)] = 2
    outcome = np.where(status == 0, outcome, 0)  # a cancelled or transferred crime has no outcome

    # ---- window, order, ids -----------------------------------------------------------------
    keep = (events.day >= window.start) & (events.day <= window.end)
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((rng.random(len(idx)), events.day[idx]))]
    ev = events.take(idx)
    outcome, convicted_day, status = outcome[idx], convicted_day[idx], status[idx]
    n = len(ev)
    if n >= ID_SPAN:
        raise ValueError(f"chunk {chunk.index} has {n} crimes; more than an id block holds")
    n_breaches = int((ev.pool == POOL_BREACH).sum())

    links = _links(rng, ev, outcome, convicted_day, window.end, ids, m)
    home = _home_lpas(rng, ids.nominals, chunk)
    crime_lpa = np.where(
        rng.random(n) < m.home_lpa_share,
        home[ev.offender],
        rng.choice(len(chunk.lpas), size=n, p=np.array(chunk.lpa_weights) / sum(chunk.lpa_weights)),
    )

    # ---- frames -----------------------------------------------------------------------------
    base = chunk.index * ID_SPAN
    victim_rank = _first_appearance_rank(ev.victim, ids.victims)
    used_nominals = np.concatenate([links["nominal"], orders["nominal"]])
    nominal_rank = _first_appearance_rank(used_nominals, ids.nominals)

    crimes = pl.DataFrame(
        {
            "crime_id": _ids("C", base + np.arange(n)),
            "ho_code": pl.Series(code_names, dtype=pl.String).gather(ev.code),
            "recorded_on": pl.Series(ev.day.astype(np.int32)).cast(pl.Date),
            "committed_on": pl.Series(np.where(ev.committed < 0, 0, ev.committed).astype(np.int32))
            .cast(pl.Date)
            .set(pl.Series(rng.random(n) < 0.015), None),
            "lpa": pl.Series(chunk.lpas, dtype=pl.String).gather(crime_lpa),
            "domestic_abuse": ev.da,
            "victim_id": _ids("V", base + victim_rank[np.maximum(ev.victim, 0)]).set(
                pl.Series(ev.victim < 0), None
            ),
            "status": pl.Series(STATUSES, dtype=pl.String).gather(status),
            "outcome": pl.Series(outcome.astype(np.int8)).set(pl.Series(outcome == 0), None),
        }
    )
    link_order = np.lexsort((links["tiebreak"], links["crime"]))
    suspects = pl.DataFrame(
        {
            "crime_id": _ids("C", base + links["crime"][link_order]),
            "nominal_id": _ids("N", base + nominal_rank[links["nominal"][link_order]]),
            "role": pl.Series(_ROLES, dtype=pl.String).gather(links["role"][link_order]),
        }
    )
    nominals = _nominals(rng, used_nominals, nominal_rank, base, home, events, chunk, m)
    order_frame = pl.DataFrame(
        {
            "order_id": _ids("O", base + np.arange(len(orders["nominal"]))),
            "nominal_id": _ids("N", base + nominal_rank[orders["nominal"]]),
            "order_type": pl.Series(ORDER_TYPES, dtype=pl.String).gather(orders["type"]),
            "starts_on": pl.Series(orders["start"].astype(np.int32)).cast(pl.Date),
            "ends_on": pl.Series(np.maximum(orders["end"], 0).astype(np.int32))
            .cast(pl.Date)
            .set(pl.Series(orders["end"] < 0), None),
        }
    )
    return ChunkData(crimes, suspects, nominals, order_frame, n_breaches)


def _ids(prefix: str, numbers: np.ndarray) -> pl.Series:
    digits = pl.Series(numbers.astype(np.int64)).cast(pl.String).str.zfill(10)
    return pl.select(pl.lit(prefix, dtype=pl.String) + digits).to_series()


def _first_appearance_rank(values: np.ndarray, size: int) -> np.ndarray:
    """index -> 0-based rank of its first appearance in ``values`` (ids follow the data)."""
    rank = np.full(max(size, 1), -1, dtype=np.int64)
    v = values[values >= 0]
    uniq, first = np.unique(v, return_index=True)
    rank[uniq[np.argsort(first, kind="stable")]] = np.arange(len(uniq))
    return rank


def _home_lpas(rng: np.random.Generator, n: int, chunk: Chunk) -> np.ndarray:
    p = np.array(chunk.lpa_weights, dtype=np.float64)
    return rng.choice(len(chunk.lpas), size=max(n, 1), p=p / p.sum())


def _outcomes(
    rng: np.random.Generator, ev: _Events, end: int, m: Model
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome per crime (0 = open) and the day a charged suspect is convicted (-1 = not)."""
    n = len(ev)
    outcome = np.zeros(n, dtype=np.int64)
    for pool, mix in (
        (POOL_DA, _OUTCOMES_DA),
        (POOL_SEX, _OUTCOMES_SEX),
        (POOL_OTHER, _OUTCOMES_OTHER),
        (POOL_NON_VAWG, _OUTCOMES_NON_VAWG),
        (POOL_BREACH, _OUTCOMES_DA),
    ):
        sel = np.flatnonzero(ev.pool == pool)
        outcome[sel] = _choice(rng, mix, len(sel))
    unknown = ~ev.identified
    outcome[unknown] = _choice(rng, _OUTCOMES_NO_SUSPECT, int(unknown.sum()))
    close = np.array([m.close_days[p] for p in range(5)])[ev.pool]
    close = np.where(unknown, 30.0, close)
    closed_on = ev.day + rng.exponential(close).astype(np.int64)
    outcome = np.where(closed_on <= end, outcome, 0)
    conv = closed_on + rng.exponential(m.conviction_days, n).astype(np.int64)
    convicted = (outcome == CHARGED) & (rng.random(n) < 0.75) & (conv <= end)
    return outcome, np.where(convicted, conv, -1)


def _orders_and_breaches(
    rng: np.random.Generator,
    ev: _Events,
    outcome: np.ndarray,
    convicted_day: np.ndarray,
    window: Window,
    table: dict[str, int],
    m: Model,
) -> tuple[dict[str, np.ndarray], _Events]:
    n = len(ev)
    known = ev.identified
    is_da = ev.da & known
    u = rng.random(n)
    types, crime, start, end = [], [], [], []

    def add(
        kind: int, sel: np.ndarray, starts: np.ndarray, lengths: np.ndarray, open_share: float
    ) -> None:
        idx = np.flatnonzero(sel)
        s = starts[idx]
        e = s + lengths[idx].astype(np.int64)
        e = np.where(rng.random(len(idx)) < open_share, -1, e)
        types.append(np.full(len(idx), kind))
        crime.append(idx)
        start.append(s)
        end.append(e)

    delay = rng.integers(1, 4, n)
    add(0, is_da & (u < m.dvpo), ev.day + delay, np.full(n, 28.0), 0.0)  # DVPO: 28 days
    add(
        1,
        is_da & (u >= m.dvpo) & (u < m.dvpo + m.nmo),
        ev.day + rng.integers(7, 60, n),
        rng.uniform(180, 730, n),
        0.15,
    )
    convicted = convicted_day >= 0
    add(
        2,
        is_da & convicted & (rng.random(n) < m.ro_on_conviction),
        convicted_day,
        rng.uniform(365, 5 * 365, n),
        0.30,
    )
    is_sex = known & (ev.pool == POOL_SEX)
    add(
        3,
        is_sex & convicted & (rng.random(n) < m.shpo_on_conviction),
        convicted_day,
        rng.uniform(5 * 365, 15 * 365, n),
        0.45,
    )
    is_other = known & (ev.pool == POOL_OTHER)
    add(
        4,
        is_other & (rng.random(n) < m.spo),
        ev.day + rng.integers(14, 90, n),
        rng.uniform(365, 3 * 365, n),
        0.10,
    )
    vawg = known & (ev.pool != POOL_NON_VAWG)
    add(
        5,
        vawg & (rng.random(n) < m.bail),
        ev.day + rng.integers(0, 3, n),
        rng.uniform(28, 90, n),
        0.0,
    )

    o_type = np.concatenate(types)
    o_crime = np.concatenate(crime)
    o_start = np.concatenate(start)
    o_end = np.concatenate(end)
    # keep orders that overlap the window
    keep = (o_start <= window.end) & ((o_end < 0) | (o_end >= window.start))
    o_type, o_crime, o_start, o_end = o_type[keep], o_crime[keep], o_start[keep], o_end[keep]
    # chronological order of orders (ids follow it)
    order = np.lexsort((o_crime, o_start))
    o_type, o_crime, o_start, o_end = o_type[order], o_crime[order], o_start[order], o_end[order]

    # breaches of protective orders (NMO, RO, SHPO, SPO) are new crimes while the order runs
    protective = np.isin(o_type, [1, 2, 3, 4]) & (rng.random(len(o_type)) < m.breach)
    b = np.flatnonzero(protective)
    stop = np.where(o_end[b] < 0, o_start[b] + 2 * 365, np.minimum(o_end[b], o_start[b] + 2 * 365))
    stop = np.minimum(stop, window.end)
    ok = stop > o_start[b]
    b, stop = b[ok], stop[ok]
    b_day = o_start[b] + (rng.random(len(b)) * (stop - o_start[b])).astype(np.int64)
    src = o_crime[b]
    shpo = o_type[b] == 3
    code = np.where(shpo, table["88C"], table["8L"])
    breach_events = _Events(
        day=b_day,
        committed=b_day,
        code=code,
        da=ev.da[src] & ~shpo,
        offender=ev.offender[src],
        victim=np.where(shpo, -1, ev.victim[src]),
        identified=np.ones(len(b), dtype=bool),
        pool=np.full(len(b), POOL_BREACH, dtype=np.int8),
    )
    orders = {"type": o_type, "nominal": ev.offender[o_crime], "start": o_start, "end": o_end}
    return orders, breach_events


def _links(
    rng: np.random.Generator,
    ev: _Events,
    outcome: np.ndarray,
    convicted_day: np.ndarray,
    end: int,
    ids: _Ids,
    m: Model,
) -> dict[str, np.ndarray]:
    """Suspect links: the known offender; sometimes a co-suspect; sometimes an eliminated
    person; now and then a duplicated row (which ingest collapses)."""
    n = len(ev)
    crime = np.arange(n)
    role = np.where(outcome == CHARGED, np.where(convicted_day >= 0, 2, 1), 0)
    known = ev.identified
    # co-suspects: half existing people of the chunk, half people seen only here
    co = known & (rng.random(n) < m.co_suspect)
    elim = (known & (rng.random(n) < m.eliminated_extra)) | (
        ~known & (rng.random(n) < m.eliminated_unidentified)
    )
    n_extra = int(co.sum() + elim.sum())
    pool_people = np.unique(ev.offender[known]) if known.any() else np.zeros(1, dtype=np.int64)
    fresh = rng.random(n_extra) < 0.5
    extra = np.where(fresh, 0, pool_people[rng.integers(0, len(pool_people), n_extra)])
    extra[fresh] = ids.new_nominals(int(fresh.sum()))
    co_idx, elim_idx = np.flatnonzero(co), np.flatnonzero(elim)
    l_crime = np.concatenate([crime[known], co_idx, elim_idx])
    l_nominal = np.concatenate([ev.offender[known], extra[: len(co_idx)], extra[len(co_idx) :]])
    l_role = np.concatenate([role[known], role[co_idx], np.full(len(elim_idx), 3)])
    # an eliminated person who is the offender himself would contradict the known link
    clash = np.zeros(len(l_crime), dtype=bool)
    clash[len(crime[known]) + len(co_idx) :] = (
        l_nominal[len(crime[known]) + len(co_idx) :] == ev.offender[elim_idx]
    )
    clash[len(crime[known]) : len(crime[known]) + len(co_idx)] = (
        l_nominal[len(crime[known]) : len(crime[known]) + len(co_idx)] == ev.offender[co_idx]
    )
    l_crime, l_nominal, l_role = l_crime[~clash], l_nominal[~clash], l_role[~clash]
    # duplicated rows: same (crime, nominal), an earlier stage of the process (collapses)
    dup = np.flatnonzero(rng.random(len(l_crime)) < m.duplicate_link)
    d_role = np.where(l_role[dup] == 3, 3, np.where(rng.random(len(dup)) < 0.5, 0, l_role[dup]))
    l_crime = np.concatenate([l_crime, l_crime[dup]])
    l_nominal = np.concatenate([l_nominal, l_nominal[dup]])
    l_role = np.concatenate([l_role, d_role])
    return {
        "crime": l_crime,
        "nominal": l_nominal,
        "role": l_role,
        "tiebreak": np.arange(len(l_crime)),
    }


def _nominals(
    rng: np.random.Generator,
    used: np.ndarray,
    rank: np.ndarray,
    base: int,
    home: np.ndarray,
    events: _Events,
    chunk: Chunk,
    m: Model,
) -> pl.DataFrame:
    people = np.unique(used)
    people = people[np.argsort(rank[people], kind="stable")]
    # first crime day of each person (over the whole simulation, burn-in included)
    never = np.iinfo(np.int64).max
    first_day = np.full(int(rank.shape[0]), never, dtype=np.int64)
    np.minimum.at(first_day, events.offender, events.day)
    fd = first_day[people]
    fd = np.where(fd == never, int(events.day.max()), fd)
    first_year = 1970 + (fd / YEAR).astype(np.int64)
    age = 18 + rng.gamma(3.0, 6.0, len(people))
    young = rng.random(len(people)) < 0.03
    age = np.where(young, rng.uniform(12, 18, len(people)), np.minimum(age, 85))
    birth = first_year - age.astype(np.int64)
    return pl.DataFrame(
        {
            "nominal_id": _ids("N", base + rank[people]),
            "birth_year": pl.Series(birth.astype(np.int16)).set(
                pl.Series(rng.random(len(people)) < m.birth_year_null), None
            ),
            "home_lpa": pl.Series(chunk.lpas, dtype=pl.String)
            .gather(home[people])
            .set(pl.Series(rng.random(len(people)) < m.home_lpa_null), None),
        }
    )


__all__ = ["ChunkData", "Model", "Window", "simulate_chunk"]
