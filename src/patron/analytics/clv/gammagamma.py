"""Gamma-Gamma: the spend-per-transaction model.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", Journal of Marketing Research 42(4), 415–430, and Fader &
Hardie (2013), "The Gamma-Gamma Model of Monetary Value" ("FH 2013 note").

A customer's transactions are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers, so the
mean spend per transaction of a customer is p/ν and, over the population, pγ/(q−1).
The model needs x ≥ 1 transactions with a positive mean m_x; others are left out of the
fit and get the population mean. Spend is in whatever unit the summary gave (fen in
Patron) and every expected spend comes back in that unit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import digamma, gammaln

from patron.analytics.clv._common import (
    FEW_REPEAT_CUSTOMERS,
    FloatArray,
    LogParameters,
    as_float_array,
    group_rows,
    wsum,
)
from patron.analytics.clv._fitting import FitResult, covariance, maximise
from patron.analytics.clv.warnings import ModelWarning
from patron.core.errors import InvalidInput

# Fewer usable customers than this and no Gamma-Gamma is fitted: everyone gets the pooled mean.
MIN_SPEND_CUSTOMERS = 5
# A customer whose mean spend is this many times the median is called an extreme spender.
EXTREME_SPEND_RATIO = 50.0
# |correlation(x, m_x)| above this casts doubt on the independence Gamma-Gamma assumes.
DEPENDENCE_WARNING = 0.3
# The pooled fallback is a Gamma-Gamma whose prior on ν is a near point mass (q huge):
# every customer's expected spend is then the population mean, whatever their own history.
_POOLED_Q = 1e8


@dataclass(frozen=True)
class GammaGamma(LogParameters):
    """Gamma-Gamma parameters (p, q, γ) and the population mean spend used as a fallback.

    ``population_mean`` is pγ/(q−1) when q > 1; when q ≤ 1 (no finite mean, usually a few
    extreme spenders) or the model could not be fitted, it is the sample's mean spend per
    repeat transaction. It is always finite and ≥ 0.
    """

    p: float
    q: float
    gamma: float
    population_mean: float

    name: ClassVar[str] = "Gamma-Gamma"
    parameter_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

    def with_log_params(self, theta: FloatArray) -> GammaGamma:
        moved = super().with_log_params(theta)
        if moved.q <= 1:
            return moved
        return dataclasses.replace(moved, population_mean=moved.p * moved.gamma / (moved.q - 1))

    def customer_log_likelihood(self, frequency: Any, monetary: Any) -> FloatArray:
        """ln f(m_x | p, q, γ; x) per customer with x ≥ 1 and m_x > 0 (FH 2013 note, eq. 3)."""
        x, m = _check_spend(frequency, monetary)
        usable = (x > 0) & (m > 0)
        values, _ = _log_likelihood(self.log_params(), x[usable], m[usable], gradient=False)
        return values

    def expected_spend(self, frequency: Any, monetary: Any) -> FloatArray:
        """E[M | x, m_x] per customer (FHL 2005 RFM/CLV, eq. 5; FH 2013 note, eq. 5):

            p(γ + x·m_x) / (px + q − 1)
              = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · m_x,

        a weighted mean of the population mean and the customer's own mean. Customers with
        x = 0, m_x ≤ 0, or (q ≤ 1 and px + q − 1 ≤ 0) get ``population_mean``. Never < 0.
        """
        x, m = _check_spend(frequency, monetary)
        own = (x > 0) & (m > 0) & (self.p * x + self.q - 1 > 0)
        value = np.full(len(x), self.population_mean)
        xo, mo = x[own], m[own]
        value[own] = self.p * (self.gamma + xo * mo) / (self.p * xo + self.q - 1)
        return np.maximum(value, 0.0)

    def expected_spend_gradient(self, frequency: Any, monetary: Any) -> FloatArray:
        """d ln E[M | x, m_x] / d(ln p, ln q, ln γ) per customer (rows), for the delta method.

        Zero for customers on an empirical fallback mean (it does not depend on p, q, γ).
        """
        x, m = _check_spend(frequency, monetary)
        p, q, gamma = self.p, self.q, self.gamma
        own = (x > 0) & (m > 0) & (p * x + q - 1 > 0)
        xe = np.where(own, x, 0.0)
        me = np.where(own, m, 0.0)
        prior = q > 1
        uses_model = own | prior
        denominator = p * xe + q - 1
        safe = np.where(uses_model, denominator, 1.0)
        gradient = np.column_stack([1 - p * xe / safe, -q / safe, gamma / (gamma + xe * me)])
        gradient[~uses_model] = 0.0
        return gradient


def _check_spend(frequency: Any, monetary: Any) -> tuple[FloatArray, FloatArray]:
    x = as_float_array("frequency", frequency)
    m = as_float_array("monetary", monetary)
    if len(m) != len(x):
        raise InvalidInput(
            "monetary", f"needs one value per customer: frequency has {len(x)}, monetary {len(m)}"
        )
    if (x < 0).any() or (x != np.floor(x)).any():
        row = int(np.flatnonzero((x < 0) | (x != np.floor(x)))[0])
        raise InvalidInput(
            "frequency", f"must be a whole number ≥ 0; row {row} is {x[row]}", row=row
        )
    return x, m


def _log_likelihood(
    theta: FloatArray,
    x: FloatArray,
    m: FloatArray,
    *,
    gradient: bool,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per-customer ln f(m_x | p, q, γ; x) and the weighted gradient in θ = log-params.

    f = Γ(px+q) / (Γ(px)Γ(q)) · γ^q · m_x^{px−1} · x^{px} / (γ + m_x·x)^{px+q}
    (FH 2013 note, eq. 3: the mean of x Gamma(p, ν) draws is Gamma(px, νx), mixed over ν).
    """
    p, q, gamma = np.exp(theta)
    px = p * x
    log_m = np.log(m)
    log_x = np.log(x)
    log_total = np.log(gamma + m * x)
    values = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_total
    )
    if not gradient:
        return values, np.empty(0)
    w = np.ones_like(values) if weights is None else weights
    psi_total = digamma(px + q)
    d_p = wsum(w, x * (psi_total - digamma(px) + log_m + log_x - log_total))
    d_q = wsum(w, psi_total - digamma(q) + np.log(gamma) - log_total)
    d_gamma = wsum(w, q / gamma - (px + q) / (gamma + m * x))
    return values, np.array([d_p * p, d_q * q, d_gamma * gamma])


@dataclass(frozen=True)
class _Spends:
    """Weighted (x, m_x) rows arranged for ``_total``: what does not depend on the
    parameters summed once, and x's distinct values (a few hundred, against a row per
    customer) for the Γ and ψ terms, which depend on x and the parameters alone."""

    weights: FloatArray
    x_weights: FloatArray  # weights · x
    spent: FloatArray  # m_x · x
    ux: FloatArray
    w_u: FloatArray  # Σ weights per distinct x
    wx_u: FloatArray  # Σ weights · x per distinct x
    xi: Any
    weight: float
    log_m: float  # Σ weights · ln m_x
    x_log_m: float  # Σ weights · x · ln m_x
    x_log_x: float  # Σ weights · x · ln x

    @classmethod
    def build(cls, x: FloatArray, m: FloatArray, weights: FloatArray) -> _Spends:
        ux, xi = np.unique(x, return_inverse=True)
        w_u = np.asarray(np.bincount(xi, weights=weights, minlength=len(ux)), dtype=np.float64)
        x_weights = weights * x
        log_m = np.log(m)
        return cls(
            weights=weights,
            x_weights=x_weights,
            spent=m * x,
            ux=ux,
            w_u=w_u,
            wx_u=w_u * ux,
            xi=xi,
            weight=float(np.add.reduce(weights)),
            log_m=wsum(weights, log_m),
            x_log_m=wsum(x_weights, log_m),
            x_log_x=wsum(x_weights, np.log(x)),
        )


def _total(theta: FloatArray, rows: _Spends) -> tuple[float, FloatArray]:
    """Σ weights · ln f(m_x | p, q, γ; x) (``_log_likelihood``) and its gradient in θ.

    Term by term: Γ(px+q)/Γ(px) and its ψ depend on x alone (per distinct x); q·ln γ and
    −ln Γ(q) on nothing per row; (px−1)·ln m_x and px·ln x on the data's own sums
    (``_Spends``); only ln(γ + m_x·x) and its derivative are taken row by row.
    """
    p, q, gamma = np.exp(theta)
    pxu = p * rows.ux
    log_gamma = np.log(gamma)
    total_at = gamma + rows.spent
    log_total = np.log(total_at)
    inverse_total = np.reciprocal(total_at, out=total_at)
    w, wx = rows.weights, rows.x_weights
    sum_log_total, x_sum_log_total = wsum(w, log_total), wsum(wx, log_total)
    value = (
        wsum(rows.w_u, gammaln(pxu + q) - gammaln(pxu))
        + rows.weight * (q * log_gamma - float(gammaln(q)))
        + p * rows.x_log_m
        - rows.log_m
        + p * rows.x_log_x
        - p * x_sum_log_total
        - q * sum_log_total
    )
    psi_total = digamma(pxu + q)
    d_p = wsum(rows.wx_u, psi_total - digamma(pxu)) + rows.x_log_m + rows.x_log_x - x_sum_log_total
    d_q = wsum(rows.w_u, psi_total) + rows.weight * (log_gamma - float(digamma(q))) - sum_log_total
    d_gamma = rows.weight * q / gamma - p * wsum(wx, inverse_total) - q * wsum(w, inverse_total)
    return value, np.array([d_p * p, d_q * q, d_gamma * gamma])


def _pooled(mean: float) -> GammaGamma:
    """A Gamma-Gamma that gives everyone ``mean`` (see _POOLED_Q)."""
    mean = max(mean, 0.0)
    return GammaGamma(p=1.0, q=_POOLED_Q, gamma=mean * (_POOLED_Q - 1), population_mean=mean)


def fit_gamma_gamma(
    frequency: Any,
    monetary: Any,
    *,
    fallback_mean: float | None = None,
    with_covariance: bool = True,
    max_iterations: int = 3000,
) -> FitResult[GammaGamma]:
    """Fit Gamma-Gamma by maximum likelihood on customers with x ≥ 1 and m_x > 0.

    ``monetary`` is each customer's mean spend per repeat transaction (0 when x = 0).
    Customers with zero or negative mean spend (refunds) are left out with a warning. With
    fewer than MIN_SPEND_CUSTOMERS usable customers no model is fitted: everyone gets the
    pooled mean spend per repeat transaction, or ``fallback_mean`` (e.g. the mean first
    purchase) when there is none, or 0 — with a warning saying which.
    """
    x, m = _check_spend(frequency, monetary)
    if fallback_mean is not None and not (np.isfinite(fallback_mean) and fallback_mean >= 0):
        raise InvalidInput("fallback_mean", "must be a finite amount ≥ 0")
    repeat = x > 0
    usable = repeat & (m > 0)
    messages: list[str] = []
    dropped = int((repeat & ~usable).sum())
    if dropped:
        messages.append(
            ModelWarning(
                "non_positive_spend_left_out",
                f"{dropped} repeat customers with zero or negative mean spend (refunds) were "
                "left out of the spend model; they get the population mean spend.",
                customers=dropped,
            )
        )
    xu, mu = x[usable], m[usable]
    n_usable = len(xu)
    pooled_mean = wsum(xu, mu) / float(xu.sum()) if n_usable else None

    if n_usable < MIN_SPEND_CUSTOMERS:
        if pooled_mean is not None:
            mean, source = pooled_mean, "their mean spend per repeat purchase"
        elif fallback_mean is not None:
            mean, source = float(fallback_mean), "the fallback mean given (no repeat spend at all)"
        else:
            mean, source = 0.0, "0, as there is no repeat spend and no fallback mean"
        messages.append(
            ModelWarning(
                "no_spend_model",
                f"Only {n_usable} customers have a positive repeat spend (fewer than "
                f"{MIN_SPEND_CUSTOMERS}): no spend model was fitted; every customer gets "
                f"{source} ({mean:.2f}).",
                customers=n_usable,
                minimum=MIN_SPEND_CUSTOMERS,
                mean=round(mean, 2),
            )
        )
        return FitResult(
            model=_pooled(mean),
            log_likelihood=0.0,
            customers=n_usable,
            distinct_histories=n_usable,
            iterations=0,
            converged=True,
            covariance=None,
            warnings=tuple(messages),
        )
    assert pooled_mean is not None
    if n_usable < FEW_REPEAT_CUSTOMERS:
        messages.append(
            ModelWarning(
                "few_spend_customers",
                f"Only {n_usable} customers have a positive repeat spend (fewer than "
                f"{FEW_REPEAT_CUSTOMERS}): the spend parameters are poorly determined and "
                "expected spends lean on each customer's own mean.",
                customers=n_usable,
                minimum=FEW_REPEAT_CUSTOMERS,
            )
        )
    median = float(np.median(mu))
    extreme = mu > EXTREME_SPEND_RATIO * median
    if extreme.any():
        messages.append(
            ModelWarning(
                "extreme_spenders",
                f"{int(extreme.sum())} customers spend more than {EXTREME_SPEND_RATIO:.0f} times "
                f"the median per purchase (up to {mu.max():.2f} against a median of "
                f"{median:.2f}); they are kept, and shrunk towards the population mean in "
                "proportion to their history.",
                customers=int(extreme.sum()),
                ratio=round(EXTREME_SPEND_RATIO),
                largest=round(float(mu.max()), 2),
                median=round(median, 2),
            )
        )
    if n_usable >= 3 and np.ptp(xu) > 0 and np.ptp(mu) > 0:
        correlation = float(np.corrcoef(xu, mu)[0, 1])
        if abs(correlation) > DEPENDENCE_WARNING:
            messages.append(
                ModelWarning(
                    "frequency_spend_correlated",
                    f"Purchase frequency and mean spend are correlated (r = {correlation:.2f}); "
                    "Gamma-Gamma assumes they are independent, so value estimates may be "
                    "biased.",
                    r=round(correlation, 2),
                )
            )

    (gx, gm), _, counts = group_rows(xu, mu)

    spends = _Spends.build(gx, gm, counts)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        return _total(theta, spends)

    # Start from moments: mean m ≈ pγ/(q−1); a spread-based p; q = 3.
    mean_spend = max(float(np.mean(mu)), 1e-300)
    cv2 = max(float(np.var(mu)) / mean_spend**2, 1e-3)
    p0 = min(max(1.0 / cv2, 0.5), 50.0)
    starts = [
        np.log([p0, 3.0, 2.0 * pooled_mean / p0]),
        np.log([1.0, 2.0, pooled_mean]),
        np.log([10.0, 5.0, 0.4 * pooled_mean]),
    ]
    names = GammaGamma.parameter_names
    optimum = maximise(
        objective,
        starts,
        model=GammaGamma.name,
        names=names,
        weight=n_usable,
        max_iterations=max_iterations,
    )
    messages.extend(optimum.warnings)
    cov = None
    if with_covariance:
        cov, more = covariance(objective, optimum, model=GammaGamma.name, names=names)
        messages.extend(more)
    p, q, gamma = (float(v) for v in np.exp(optimum.log_params))
    if q > 1:
        mean = p * gamma / (q - 1)
    else:
        mean = pooled_mean
        messages.append(
            ModelWarning(
                "spend_mean_infinite",
                f"The fitted spend distribution has no finite mean (q = {q:.3f} ≤ 1), usually "
                "because of a few extreme spenders: customers without their own spend history "
                f"get the sample's mean spend per repeat purchase ({mean:.2f}).",
                q=round(q, 3),
                mean=round(mean, 2),
            )
        )
    return FitResult(
        model=GammaGamma(p=p, q=q, gamma=gamma, population_mean=mean),
        log_likelihood=optimum.log_likelihood,
        customers=n_usable,
        distinct_histories=len(gx),
        iterations=optimum.iterations,
        converged=optimum.converged,
        covariance=cov,
        warnings=tuple(messages),
    )
