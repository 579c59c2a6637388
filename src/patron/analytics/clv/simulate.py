"""Draw customers from a known BG/NBD + Gamma-Gamma process (for tests, demo and bench).

The generative story of Fader, Hardie & Lee (2005): each customer has λ ~ Gamma(r, α) and
p ~ Beta(a, b); after the first purchase at time 0, purchases arrive as a Poisson process
with rate λ, and after each repeat purchase the customer leaves with probability p. Each
purchase's spend is Gamma(p_s, ν) with ν ~ Gamma(q, γ) per customer (Gamma-Gamma).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from patron.analytics.clv._common import FloatArray, IntArray, TimeUnit, unit_days
from patron.core.errors import InvalidInput


@dataclass(frozen=True, eq=False)
class SimulatedHistories:
    """Exact (continuous-time) calibration summaries of simulated customers."""

    frequency: FloatArray
    recency: FloatArray
    age: FloatArray


@dataclass(frozen=True, eq=False)
class SimulatedTransactions:
    """A transactions table: one row per purchase, dated to the day, spend in fen."""

    customer_ids: IntArray
    purchased_on: npt.NDArray[np.datetime64]
    spend: npt.NDArray[np.int64]


def _purchase_times(
    rng: np.random.Generator,
    *,
    observed: FloatArray,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> tuple[IntArray, FloatArray]:
    """(customer, time since first purchase) of every repeat purchase up to ``observed``."""
    for name, value in (("r", r), ("alpha", alpha), ("a", a), ("b", b)):
        if not (np.isfinite(value) and value > 0):
            raise InvalidInput(name, "must be a positive number")
    n = len(observed)
    rate = np.maximum(rng.gamma(r, 1.0 / alpha, n), 1e-300)
    dropout = rng.beta(a, b, n)
    clock = np.zeros(n)
    active = np.arange(n)
    customers: list[IntArray] = []
    times: list[FloatArray] = []
    while active.size:
        arrival = clock[active] + rng.exponential(1.0 / rate[active])
        inside = arrival <= observed[active]
        active, arrival = active[inside], arrival[inside]
        customers.append(active)
        times.append(arrival)
        clock[active] = arrival
        active = active[rng.random(active.size) >= dropout[active]]
    if not customers:
        return np.empty(0, dtype=np.intp), np.empty(0)
    return np.concatenate(customers), np.concatenate(times)


def simulate_bgnbd_histories(
    *,
    customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    age: float | FloatArray,
    seed: int,
) -> SimulatedHistories:
    """(x, t_x, T) for ``customers`` drawn from BG/NBD, each observed for ``age`` units."""
    rng = np.random.default_rng(seed)
    observed = np.broadcast_to(np.asarray(age, dtype=np.float64), (customers,)).copy()
    who, when = _purchase_times(rng, observed=observed, r=r, alpha=alpha, a=a, b=b)
    frequency = np.bincount(who, minlength=customers).astype(np.float64)
    recency = np.zeros(customers)
    np.maximum.at(recency, who, when)
    return SimulatedHistories(frequency=frequency, recency=recency, age=observed)


def simulate_bgnbd_transactions(
    *,
    customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    gamma: float,
    first_day: date,
    acquisition_days: int,
    last_day: date,
    unit: TimeUnit = "days",
    seed: int,
) -> SimulatedTransactions:
    """A transactions table for customers acquired uniformly over ``acquisition_days``.

    λ and α are per ``unit``; purchases are dated to the day (several on one day are
    later merged by the summary, as in real data). Spend (p, q, γ) is in yuan and returned
    as integer fen, at least 1 fen.
    """
    rng = np.random.default_rng(seed)
    start = np.datetime64(first_day, "D")
    end = np.datetime64(last_day, "D")
    born = rng.integers(0, acquisition_days, customers)
    step = unit_days(unit)
    observed = ((end - start).astype(np.int64) - born) / step
    who, when = _purchase_times(rng, observed=observed, r=r, alpha=alpha, a=a, b=b)
    all_who = np.concatenate([np.arange(customers), who])
    offset = np.concatenate([np.zeros(customers), np.floor(when * step)]).astype(np.int64)
    days = start + (born[all_who] + offset).astype("timedelta64[D]")
    scale = rng.gamma(q, 1.0 / gamma, customers)
    amount = rng.gamma(p, 1.0 / scale[all_who])
    order = np.lexsort((days, all_who))
    return SimulatedTransactions(
        customer_ids=all_who[order],
        purchased_on=days[order],
        spend=np.maximum(np.round(amount[order] * 100), 1).astype(np.int64),
    )
