"""Customer lifetime value over a horizon, with a 90 % interval.

CLV_i = E[M_i] · Σ_{k=1..H} (E[Y_i(k)] − E[Y_i(k−1)]) / (1 + d)^k

over H months with a monthly discount rate d: purchases expected in month k (from BG/NBD or
Pareto/NBD, conditional on the customer's history) are discounted to today as if made at
the end of that month, and priced at the customer's expected spend per purchase from
Gamma-Gamma. Multiplying the two rests on spend being independent of the purchase process,
as in Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves"; they discount in
continuous time over an infinite horizon (DERT), here it is monthly over a finite one, as
retailers budget. A month is 365.25/12 days.

Units: CLV comes back in the unit the spend came in. Patron's spend is integer fen, so CLV
is a float amount of fen; ``round_to_fen`` (or ``LifetimeValue.to_fen``) rounds it half up,
the project's one rounding mode (core/money.py).

The interval: delta method on log CLV with the inverse observed information of each fit's
log-parameters (purchase model and Gamma-Gamma are fitted separately, so their estimates
are treated as independent):

    Var(ln CLV) ≈ g_pᵀ Σ_p g_p + g_sᵀ Σ_s g_s,   CLV · exp(± z_{0.95} · sd)

with g_p by central differences of ln(discounted purchases) and g_s analytic. Why this and
not a parametric bootstrap or posterior draws: it costs nine model evaluations instead of
hundreds (scoring a million customers stays within seconds), it is deterministic (the same
data give the same scores on every run, so the console does not jitter), and on the log
scale it stays positive and asymmetric like the quantity itself. It is the uncertainty of
the *expected* value from estimating the parameters — it does not cover how much a single
customer's actual purchases will scatter around that expectation, and with few customers
(when the fits warn) the asymptotic normality it rests on is weak. The tests check it
against the quantiles of CLV under parameters drawn from the same normal approximation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from patron.analytics.clv._common import (
    DAYS_PER_MONTH,
    FloatArray,
    Histories,
    PurchaseModel,
    as_float_array,
    check_histories,
    group_rows,
    unit_days,
)
from patron.analytics.clv._fitting import FitResult
from patron.analytics.clv.gammagamma import GammaGamma
from patron.analytics.clv.warnings import ModelWarning
from patron.core.errors import InvalidInput

Int64Array = npt.NDArray[np.int64]
_STEP = 1e-4
# Interval half-widths on the log scale: beyond _WIDE (×20 either way) a warning, beyond
# _WIDEST (×e^40) a cap.
_WIDE = np.log(20.0)
_WIDEST = 40.0


def round_to_fen(amounts: Any) -> Int64Array:
    """Float amounts of fen to integer fen, rounded half up (away from zero) like core.money."""
    values = as_float_array("amounts", amounts)
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class LifetimeValue:
    """CLV per customer with its interval, in the unit of the spend input (fen in Patron)."""

    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    expected_purchases: FloatArray
    discounted_purchases: FloatArray
    expected_spend: FloatArray
    horizon_months: int
    monthly_discount_rate: float
    level: float
    warnings: tuple[str, ...]

    def to_fen(self) -> tuple[Int64Array, Int64Array, Int64Array]:
        """(value, lower, upper) as integer fen, half up, when the spend input was fen."""
        return round_to_fen(self.value), round_to_fen(self.lower), round_to_fen(self.upper)


def _discounted_purchases(
    model: PurchaseModel, histories: Histories, horizons: FloatArray, discount: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(Σ_k discounted month-k purchases, undiscounted purchases over the horizon).

    The path is a per-customer factor (≥ 0) times a path shared by a group of customers
    (``expected_purchases_split``), so the months' differences and their discounting are
    taken once per group: a few thousand rows instead of one per customer.
    """
    scale, path, groups = model.expected_purchases_split(horizons, histories)
    monthly = np.diff(path, axis=1, prepend=0.0)
    # Cumulative expectations are non-decreasing; clip rounding noise so no month is < 0.
    monthly = np.maximum(monthly, 0.0)
    # Matrix-vector product by broadcasting: no BLAS threads (see _common.wsum).
    discounted = np.add.reduce(monthly * discount[None, :], axis=1)
    return scale * discounted[groups], scale * path[groups, -1]


def customer_lifetime_value(
    purchases: FitResult[Any] | PurchaseModel,
    spend: FitResult[GammaGamma] | GammaGamma,
    *,
    frequency: Any,
    recency: Any,
    age: Any,
    monetary: Any,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    level: float = 0.90,
    interval: bool = True,
) -> LifetimeValue:
    """CLV over ``horizon_months`` for each customer, with a ``level`` interval (module doc).

    ``purchases`` and ``spend`` are fits (their covariances give the interval) or bare
    models (the interval then leaves out that model's parameter uncertainty, with a
    warning). ``frequency``, ``recency``, ``age`` are in the purchase model's time unit.

    ``interval=False`` leaves the interval out (``lower`` and ``upper`` are the value, and
    no warning speaks of it), for a caller that reads only the value: the delta method's
    eight further evaluations of the purchase model cost more than the value itself.
    """
    if (
        not isinstance(horizon_months, int)
        or isinstance(horizon_months, bool)
        or horizon_months < 1
    ):
        raise InvalidInput("horizon_months", "must be a whole number of months ≥ 1")
    if not (np.isfinite(monthly_discount_rate) and 0 <= monthly_discount_rate < 1):
        raise InvalidInput("monthly_discount_rate", "must be in [0, 1), e.g. 0.01 for 1 % a month")
    if not 0 < level < 1:
        raise InvalidInput("level", "must be between 0 and 1, e.g. 0.9")
    x, t_x, t_age = check_histories(frequency, recency, age)
    m = as_float_array("monetary", monetary)
    if len(m) != len(x):
        raise InvalidInput("monetary", f"needs one value per customer ({len(x)})")

    purchase_model: PurchaseModel = (
        purchases.model if isinstance(purchases, FitResult) else purchases
    )
    spend_model = spend.model if isinstance(spend, FitResult) else spend
    purchase_cov = purchases.covariance if isinstance(purchases, FitResult) else None
    spend_cov = spend.covariance if isinstance(spend, FitResult) else None
    messages: list[str] = []
    if isinstance(purchases, FitResult):
        messages.extend(purchases.warnings)
    if isinstance(spend, FitResult):
        messages.extend(spend.warnings)

    months = np.arange(1, horizon_months + 1, dtype=np.float64)
    horizons = months * DAYS_PER_MONTH / unit_days(purchase_model.unit)
    discount = (1.0 + monthly_discount_rate) ** -months

    (ux, ut, uT), inverse, _ = group_rows(x, t_x, t_age)
    distinct = Histories(ux, ut, uT)
    discounted_u, total_u = _discounted_purchases(purchase_model, distinct, horizons, discount)
    expected_spend = spend_model.expected_spend(x, m)
    discounted = discounted_u[inverse]
    value = np.maximum(discounted * expected_spend, 0.0)

    # Without the interval (interval=False) the bounds are the value itself.
    spread: Any = 1.0
    if interval:
        variance = np.zeros(len(x))
        if purchase_cov is None:
            messages.append(
                ModelWarning(
                    "no_purchase_covariance",
                    f"{purchase_model.name}: no parameter covariance, so the CLV interval leaves "
                    "out the purchase model's uncertainty.",
                    model=purchase_model.name,
                )
            )
        else:
            theta = purchase_model.log_params()
            gradient = np.empty((len(ux), len(theta)))
            for i in range(len(theta)):
                shift = np.zeros_like(theta)
                shift[i] = _STEP
                up, _ = _discounted_purchases(
                    purchase_model.with_log_params(theta + shift), distinct, horizons, discount
                )
                down, _ = _discounted_purchases(
                    purchase_model.with_log_params(theta - shift), distinct, horizons, discount
                )
                log_up = np.log(np.maximum(up, 1e-300))
                log_down = np.log(np.maximum(down, 1e-300))
                gradient[:, i] = (log_up - log_down) / (2 * _STEP)
            gradient[discounted_u <= 0] = 0.0
            variance += np.einsum("ij,jk,ik->i", gradient, purchase_cov, gradient)[inverse]
        if spend_cov is None:
            messages.append(
                ModelWarning(
                    "no_spend_covariance",
                    "Gamma-Gamma: no parameter covariance, so the CLV interval leaves out the spend "
                    "model's uncertainty.",
                )
            )
        else:
            spend_gradient = spend_model.expected_spend_gradient(x, m)
            variance += np.einsum("ij,jk,ik->i", spend_gradient, spend_cov, spend_gradient)

        z = float(ndtri(0.5 + level / 2))
        half_width = z * np.sqrt(np.maximum(variance, 0.0))
        if (half_width > _WIDE).any():
            messages.append(
                ModelWarning(
                    "wide_clv_intervals",
                    f"{int((half_width > _WIDE).sum())} customers' CLV intervals span more than a "
                    f"factor of {np.exp(2 * _WIDE):.0f}: the parameters are too uncertain to value "
                    "them.",
                    customers=int((half_width > _WIDE).sum()),
                    factor=round(float(np.exp(2 * _WIDE))),
                )
            )
        # Capped so that a nearly flat likelihood gives a huge but finite upper bound.
        spread = np.exp(np.minimum(half_width, _WIDEST))
    return LifetimeValue(
        value=value,
        lower=value / spread,
        upper=value * spread,
        expected_purchases=total_u[inverse],
        discounted_purchases=discounted,
        expected_spend=expected_spend,
        horizon_months=horizon_months,
        monthly_discount_rate=float(monthly_discount_rate),
        level=float(level),
        warnings=tuple(dict.fromkeys(messages)),
    )
