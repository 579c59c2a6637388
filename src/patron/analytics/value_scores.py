"""P(alive), expected purchases and 12-month CLV per customer, from the purchase summary the
churn features compute (churn/features.py, source ``purchases``).

The summary follows the clv package's conventions (clv/summary.py): purchases are distinct
purchase days, x is the number of repeat days, t_x and T are measured from the first
purchase day in weeks, and the mean spend is the mean net spend (paid less refunds dated up
to the cut-off) per repeat purchase day. BG/NBD gives P(alive) and expected purchases;
Gamma-Gamma the expected spend per purchase; ``customer_lifetime_value`` combines them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.clv import (
    BgNbd,
    FitResult,
    Histories,
    ModelFitError,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    round_to_fen,
)
from patron.analytics.clv.warnings import ModelWarning
from patron.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
UNIT_DAYS = 7.0  # the models run in weeks, like the demo generator and the CDNOW tests


@dataclass(frozen=True, eq=False)
class PurchaseFit:
    """BG/NBD at one cut-off and what it says per customer (rows as in the columns)."""

    fit: FitResult[BgNbd] | None
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray
    p_alive: FloatArray
    expected_purchases_90d: FloatArray
    warnings: tuple[str, ...] = field(default=())

    def report(self) -> dict[str, Any]:
        if self.fit is None:
            return {"model": "BG/NBD", "fitted": False, "warnings": list(self.warnings)}
        return {"fitted": True, **self.fit.to_dict(), "warnings": list(self.warnings)}


@dataclass(frozen=True, eq=False)
class ValueScores:
    """12-month CLV (fen) and the value if the customer stays active, per customer."""

    clv_fen: Int64Array
    clv_if_active_fen: Int64Array
    spend_report: dict[str, Any]
    warnings: tuple[str, ...]


def histories(columns: Mapping[str, npt.NDArray[Any]]) -> tuple[FloatArray, ...]:
    """(x, t_x, T, mean repeat spend) in weeks and fen from the purchase columns."""
    x = np.maximum(columns["purchase_days"] - 1, 0).astype(np.float64)
    t_x = columns["active_span_days"] / UNIT_DAYS
    t_age = columns["tenure_days"] / UNIT_DAYS
    monetary = np.divide(
        columns["repeat_net_fen"], x, out=np.zeros(len(x), dtype=np.float64), where=x > 0
    )
    return x, t_x, t_age, monetary


def fit_purchases(
    columns: Mapping[str, npt.NDArray[Any]],
    *,
    with_covariance: bool = True,
    warm_start: FitResult[BgNbd] | None = None,
    expected: bool = True,
) -> PurchaseFit:
    """BG/NBD on the customers in ``columns`` (the covariance is needed for CLV intervals
    only, so earlier cut-offs skip it).

    ``warm_start``: a fit on related data (churn's scoring day, for its earlier cut-offs)
    to start from (clv.fit_bgnbd): the same optimum in a few steps; a start that fails
    gives way to a fit from scratch. ``expected=False`` leaves the 90-day expected
    purchases out (NaN) where nothing reads them.

    If it cannot be fitted (no customers, nobody ever came back, a degenerate optimum) no
    P(alive) is invented: every customer gets P(alive) = 1 and 0 expected purchases, the
    warning says so, and the churn model falls back on the other signals or on recency.
    """
    x, t_x, t_age, monetary = histories(columns)
    n = len(x)
    warnings: list[str] = []
    fit: FitResult[BgNbd] | None = None
    if n == 0:
        warnings.append(
            ModelWarning("no_customers", "BG/NBD: no customers with a purchase, nothing to fit.")
        )
    elif not (x > 0).any():
        warnings.append(
            ModelWarning(
                "no_second_purchase",
                "BG/NBD: no customer has come back for a second purchase yet; not fitted.",
            )
        )
    else:
        try:
            fit = fit_bgnbd(
                x, t_x, t_age, unit="weeks", with_covariance=with_covariance, warm_start=warm_start
            )
        except (ModelFitError, InvalidInput) as exc:
            if warm_start is not None:
                return fit_purchases(columns, with_covariance=with_covariance, expected=expected)
            warnings.append(
                ModelWarning(
                    "purchase_fit_failed", f"BG/NBD could not be fitted: {exc}", reason=str(exc)
                )
            )
    if fit is None:
        return PurchaseFit(
            fit=None,
            frequency=x,
            recency=t_x,
            age=t_age,
            monetary=monetary,
            p_alive=np.ones(n),
            expected_purchases_90d=np.zeros(n),
            warnings=tuple(warnings),
        )
    model = fit.model
    customers = Histories(x, t_x, t_age)
    if expected:
        # P(alive) is the first factor of the expected purchases: computed once for both.
        alive, factor, groups = model.expected_purchases_split(
            np.array([90.0 / UNIT_DAYS]), customers
        )
        expected_90d = np.maximum(np.nan_to_num(alive * factor[groups, 0], nan=0.0), 0.0)
    else:
        alive = model.p_alive(customers.x, customers.t_x, customers.t_age)
        expected_90d = np.full(n, np.nan)
    p_alive = np.clip(np.nan_to_num(alive, nan=1.0), 0.0, 1.0)
    return PurchaseFit(
        fit=fit,
        frequency=x,
        recency=t_x,
        age=t_age,
        monetary=monetary,
        p_alive=p_alive,
        expected_purchases_90d=expected_90d,
        warnings=tuple(warnings),
    )


def value_scores(
    purchases: PurchaseFit,
    columns: Mapping[str, npt.NDArray[Any]],
    *,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> ValueScores:
    """12-month CLV per customer (Gamma-Gamma spend × BG/NBD purchases, discounted).

    CLV is 0 where the customer's net spend is not positive (everything refunded) or there
    is no purchase model. No interval is computed (clv.customer_lifetime_value's
    ``interval=False``): churn shows the value only, and the fits' own standard errors are
    in its report. ``clv_if_active_fen`` is CLV / P(alive): the value of the same
    customer were they certainly still buying — what is at stake if they are lost.
    """
    n = len(purchases.frequency)
    zeros = np.zeros(n, dtype=np.int64)
    if purchases.fit is None or n == 0:
        return ValueScores(
            clv_fen=zeros,
            clv_if_active_fen=zeros,
            spend_report={"model": "Gamma-Gamma", "fitted": False},
            warnings=(
                ModelWarning(
                    "no_lifetime_value",
                    "No purchase model, so no lifetime value: CLV is 0 for everyone.",
                ),
            ),
        )
    days = columns["purchase_days"]
    mean_day_spend = float(np.sum(np.maximum(columns["net_fen"], 0)) / max(float(days.sum()), 1.0))
    spend_fit = fit_gamma_gamma(
        purchases.frequency, purchases.monetary, fallback_mean=max(mean_day_spend, 0.0)
    )
    value = customer_lifetime_value(
        purchases.fit,
        spend_fit,
        frequency=purchases.frequency,
        recency=purchases.recency,
        age=purchases.age,
        monetary=purchases.monetary,
        horizon_months=horizon_months,
        monthly_discount_rate=monthly_discount_rate,
        # Only the value is kept: its interval would cost ~0.4 CPU s for a million
        # customers, and with it went only a warning about intervals nobody is shown.
        interval=False,
    )
    positive = columns["net_fen"] > 0
    clv = np.where(positive, np.nan_to_num(value.value, nan=0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if_active = np.where(purchases.p_alive > 1e-9, clv / purchases.p_alive, 0.0)
    # Below 1e-9 both are at the edge of underflow and the ratio is noise: such a customer is
    # long gone and nothing is counted at stake.
    if_active = np.nan_to_num(if_active, nan=0.0, posinf=0.0)
    return ValueScores(
        clv_fen=round_to_fen(clv),
        clv_if_active_fen=round_to_fen(if_active),
        spend_report=spend_fit.to_dict(),
        warnings=value.warnings,
    )
