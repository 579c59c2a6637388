"""The buy-till-you-die process behind the demo's purchase timing and spend.

Timing is BG/NBD (Fader, Hardie & Lee 2005): while alive, a customer buys as a Poisson
process with rate λ ~ Gamma(shape r, rate α) per week; after each *repeat* purchase they
drop out for good with probability p ~ Beta(a, b). Spend is Gamma-Gamma (Fader, Hardie &
Lee 2005b): each customer has ν ~ Gamma(q, rate γ), and each of their orders aims at a
value z ~ Gamma(p, rate ν) yuan, so their mean order value is p/ν.

Seasonality (weekends, the weeks before Spring Festival, the holiday itself) modulates
*when* people buy without changing what λ means. A daily factor s(d) is scaled so it
averages 1 over the calibration window, and purchases are drawn by thinning: candidates
at rate λ·max(s), each kept with probability s(d)/max(s). That is a Poisson process with
intensity λ·s(d), i.e. exactly BG/NBD in *operational time* τ(t) = ∫ s — a week of
operational time is an average week. Over the whole window τ equals calendar time, so
λ keeps its meaning "purchases per average week" and the textbook formulas hold with
exposure measured in τ (``truth.json`` records both, per customer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np

# 春节 (first day of the lunar year), for the seasonality.
SPRING_FESTIVAL: dict[int, date] = {
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
}

# Monday … Sunday: weekend shopping trips are the big ones in Chinese supermarkets.
WEEKDAY_FACTOR = np.array([0.86, 0.84, 0.88, 0.92, 1.08, 1.36, 1.30])


def _spring_festival_factor(offset: int) -> float:
    """Traffic relative to normal, ``offset`` days from 春节 (negative: before).

    Stocking up for the new year builds over three weeks and peaks in the last week (年货);
    on 除夕 and the first days of the holiday most people are at home and stores run short
    hours; the two weeks after are a lull while people travel back and spend less.
    """
    if -21 <= offset <= -8:
        return 1.25 + 0.35 * (offset + 21) / 13
    if -7 <= offset <= -2:
        return 1.9
    if offset == -1:
        return 0.9
    if 0 <= offset <= 3:
        return 0.45
    if 4 <= offset <= 7:
        return 0.7
    if 8 <= offset <= 21:
        return 0.85
    return 1.0


def daily_seasonality(*, start: date, days: int) -> np.ndarray:
    """s(d) for each day of the window, averaging 1 over it."""
    factors = np.empty(days)
    for d in range(days):
        day = start + timedelta(days=d)
        festival = SPRING_FESTIVAL.get(day.year)
        offset = (day - festival).days if festival else 999
        if festival is not None and offset > 60:
            nxt = SPRING_FESTIVAL.get(day.year + 1)
            offset = (day - nxt).days if nxt else offset
        factors[d] = WEEKDAY_FACTOR[day.weekday()] * _spring_festival_factor(offset)
    return factors / factors.mean()


@dataclass(frozen=True, slots=True)
class BtydParameters:
    """Population parameters. Time unit: week; money unit: yuan."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# Shapes chosen for a grocery chain: wide spread of purchase rates, a fifth of customers
# lost per repeat visit on average (mean of Beta(a, b) is 0.2), order values near ¥90 with
# a long tail of big spenders. α is solved for in ``calibrate_alpha`` to hit the volume.
DEFAULT_SHAPES = {"r": 0.8, "a": 1.4, "b": 5.6, "p": 4.0, "q": 2.5, "gamma": 33.75}


def _hyp2f1(a: float, b: float, c: float, z: np.ndarray) -> np.ndarray:
    """Gauss's hypergeometric function by its power series (|z| < 1 here)."""
    z = np.asarray(z, dtype=float)
    term = np.ones_like(z)
    total = np.ones_like(z)
    for k in range(20000):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if np.all(np.abs(term) < 1e-12 * np.abs(total)):
            break
    return total


def expected_repeat_purchases(*, params: BtydParameters, t: np.ndarray) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in ``t`` weeks (of operational time) after birth.

    E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))], for a > 1.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * _hyp2f1(r, b, a + b - 1, z))


def birth_weights(seasonality: np.ndarray) -> np.ndarray:
    """Probability that a customer's first purchase falls on each day: busy days win more."""
    return seasonality / seasonality.sum()


def operational_weeks_left(seasonality: np.ndarray) -> np.ndarray:
    """τ(end) − τ(start of day d), in weeks, for each day d."""
    return np.cumsum(seasonality[::-1])[::-1] / 7.0


def mean_repeat_purchases(*, params: BtydParameters, seasonality: np.ndarray) -> float:
    """Expected repeat purchases of a buyer whose birth is drawn like the demo draws it."""
    weights = birth_weights(seasonality)
    # Birth is uniform within its day: on average half the day's exposure is gone.
    exposure = operational_weeks_left(seasonality) - seasonality / 14.0
    return float(np.sum(weights * expected_repeat_purchases(params=params, t=exposure)))


def calibrate_alpha(
    *, shapes: dict[str, float], seasonality: np.ndarray, repeat_purchases: float
) -> BtydParameters:
    """The α (scale of the purchase rates) that gives buyers ``repeat_purchases`` on average."""
    lo, hi = 1e-3, 1e5
    for _ in range(80):
        mid = float(np.sqrt(lo * hi))
        got = mean_repeat_purchases(
            params=BtydParameters(alpha=mid, **shapes), seasonality=seasonality
        )
        if got > repeat_purchases:
            lo = mid
        else:
            hi = mid
    return BtydParameters(alpha=float(np.sqrt(lo * hi)), **shapes)


@dataclass(frozen=True, slots=True)
class SimulatedPurchases:
    """One chunk's customers and their purchase days (fractional days from the window start)."""

    birth_day: np.ndarray  # float, first purchase
    purchase_rate: np.ndarray  # λ per week
    dropout: np.ndarray  # p
    spend_rate: np.ndarray  # ν
    alive_at_end: np.ndarray  # bool
    death_day: np.ndarray  # float, nan when alive: the day of the repeat purchase they left after
    operational_exposure: np.ndarray  # weeks of τ from birth to the end
    repeat_owner: np.ndarray  # index into the chunk, one per repeat purchase
    repeat_day: np.ndarray  # float


def simulate_customers(
    *, rng: np.random.Generator, params: BtydParameters, seasonality: np.ndarray, n: int
) -> SimulatedPurchases:
    """Draw ``n`` buyers' BG/NBD histories over the window, vectorised."""
    days = len(seasonality)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p_drop = rng.beta(params.a, params.b, n)
    nu = rng.gamma(params.q, 1.0 / params.gamma, n)
    birth_date = rng.choice(days, size=n, p=birth_weights(seasonality))
    birth_frac = rng.random(n)
    birth = birth_date + birth_frac
    weeks_left = operational_weeks_left(seasonality)
    exposure = weeks_left[birth_date] - birth_frac * seasonality[birth_date] / 7.0

    # Thinning: candidates at the peak rate over the calendar time left, kept by s(d)/max s.
    peak = float(seasonality.max())
    calendar_weeks = (days - birth) / 7.0
    candidates = rng.poisson(lam * peak * calendar_weeks)
    owner = np.repeat(np.arange(n), candidates)
    when = birth[owner] + rng.random(owner.size) * (days - birth[owner])
    day_index = np.minimum(when.astype(np.int64), days - 1)
    kept = rng.random(owner.size) < seasonality[day_index] / peak
    owner, when = owner[kept], when[kept]
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]

    # Drop-out: the customer leaves after their J-th repeat purchase, J ~ Geometric(p).
    leaves_after = rng.geometric(p_drop)
    starts = np.searchsorted(owner, np.arange(n))
    rank = np.arange(owner.size) - starts[owner]
    survive = rank < leaves_after[owner]
    owner, when = owner[survive], when[survive]
    counts = np.bincount(owner, minlength=n)
    alive = counts < leaves_after
    death = np.full(n, np.nan)
    dead = np.flatnonzero(~alive)
    if dead.size:
        last = np.searchsorted(owner, dead, side="right") - 1
        death[dead] = when[last]
    return SimulatedPurchases(
        birth_day=birth,
        purchase_rate=lam,
        dropout=p_drop,
        spend_rate=nu,
        alive_at_end=alive,
        death_day=death,
        operational_exposure=exposure,
        repeat_owner=owner,
        repeat_day=when,
    )
