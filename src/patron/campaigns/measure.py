"""Uplift of a campaign against its holdout, as plain functions of plain data (docs/campaigns.md).

Customers are analysed by the group they were **assigned** to (treated or holdout), whether
or not a message reached them: consent, caps and bounces thin the treated group after the
draw, and leaving those customers out would flatter the campaign.

- **Conversion rate**: the share of a group who bought (net sales > 0) within the window.
  The difference treated − holdout gets Newcombe's hybrid score interval (method 10 of
  Newcombe 1998, built from two Wilson intervals), which keeps its coverage at the small
  rates and small holdouts campaigns have, where the textbook Wald interval does not.
- **Net sales per customer**: the mean over everyone assigned, zeros included; the
  difference gets Welch's t interval (unequal variances).
- **Incremental** conversions and sales: the per-customer differences times the treated
  group's size; **cost per incremental sale**: the campaign's cost over the incremental
  conversions (none when there are none).
- **Verdict**: "positive" or "negative" when the interval of the conversion difference
  lies wholly on one side of zero; otherwise "no measurable effect".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats


class Verdict(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NO_EFFECT = "no_measurable_effect"
    TOO_SMALL = "too_small"  # a group is empty: nothing can be said


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def spans_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


@dataclass(frozen=True)
class GroupFigures:
    customers: int
    converted: int
    net_sales_fen: int

    @property
    def rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    @property
    def sales_per_customer_fen(self) -> float:
        return self.net_sales_fen / self.customers if self.customers else 0.0


@dataclass(frozen=True)
class Uplift:
    treated: GroupFigures
    holdout: GroupFigures
    confidence: float
    conversion: Interval | None  # treated − holdout rate (a share: 0.03 is 3 points)
    sales_per_customer: Interval | None  # fen per customer
    incremental_conversions: Interval | None
    incremental_sales: Interval | None  # fen
    cost_fen: int
    cost_per_incremental_sale_fen: float | None
    # The smallest conversion difference this design finds 80 % of the time
    minimum_detectable_effect: float | None
    verdict: Verdict


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval of p1 − p2."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, low, high)


def welch(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Interval:
    """Welch's t interval of mean(a) − mean(b)."""
    n1, n2 = len(a), len(b)
    m1, m2 = float(a.mean()), float(b.mean())
    v1 = float(a.var(ddof=1)) if n1 > 1 else 0.0
    v2 = float(b.var(ddof=1)) if n2 > 1 else 0.0
    se2 = v1 / n1 + v2 / n2
    d = m1 - m2
    if se2 == 0.0:
        return Interval(d, d, d)
    denominator = 0.0
    if n1 > 1:
        denominator += (v1 / n1) ** 2 / (n1 - 1)
    if n2 > 1:
        denominator += (v2 / n2) ** 2 / (n2 - 1)
    df = se2**2 / denominator if denominator else float(n1 + n2 - 2)
    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    half = t * math.sqrt(se2)
    return Interval(d, d - half, d + half)


def minimum_detectable_effect(
    base_rate: float, n1: int, n2: int, confidence: float = 0.95, power: float = 0.8
) -> float:
    """The conversion difference a two-sided test at ``confidence`` finds with ``power``."""
    z = float(stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power))
    p = min(max(base_rate, 0.01), 0.99)
    return z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def measure_uplift(
    *,
    treated_sales_fen: Sequence[int] | np.ndarray,
    holdout_sales_fen: Sequence[int] | np.ndarray,
    cost_fen: int = 0,
    confidence: float = 0.95,
) -> Uplift:
    """Uplift from each assigned customer's net sales in the window (one value per customer,
    zeros included): a customer with net sales above zero converted."""
    treated = np.asarray(treated_sales_fen, dtype=np.float64)
    holdout = np.asarray(holdout_sales_fen, dtype=np.float64)
    t = GroupFigures(len(treated), int((treated > 0).sum()), int(treated.sum()))
    h = GroupFigures(len(holdout), int((holdout > 0).sum()), int(holdout.sum()))
    if t.customers == 0 or h.customers == 0:
        return Uplift(
            t, h, confidence, None, None, None, None, cost_fen, None, None, Verdict.TOO_SMALL
        )
    conversion = newcombe(t.converted, t.customers, h.converted, h.customers, confidence)
    sales = welch(treated, holdout, confidence)
    incremental = conversion.scaled(t.customers)
    cost_per = cost_fen / incremental.estimate if incremental.estimate > 0 else None
    if conversion.low > 0:
        verdict = Verdict.POSITIVE
    elif conversion.high < 0:
        verdict = Verdict.NEGATIVE
    else:
        verdict = Verdict.NO_EFFECT
    return Uplift(
        treated=t,
        holdout=h,
        confidence=confidence,
        conversion=conversion,
        sales_per_customer=sales,
        incremental_conversions=incremental,
        incremental_sales=sales.scaled(t.customers),
        cost_fen=cost_fen,
        cost_per_incremental_sale_fen=cost_per,
        minimum_detectable_effect=minimum_detectable_effect(
            h.rate, t.customers, h.customers, confidence
        ),
        verdict=verdict,
    )
