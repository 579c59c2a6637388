"""Pareto/NBD: the Schmittlein, Morrison & Colombo (1987) purchase model.

While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); their lifetime
is exponential with rate μ ~ Gamma(s, β). Expressions follow Fader, P. S. & Hardie, B. G. S.
(2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions" ("FH 2005 note"),
written in a form that is stable for any x and any ordering of α and β.

The likelihood (FH 2005 note, eq. 19–22) is

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^{−(r+x)} (β+T)^{−s} + s/(r+s+x) · (F(t_x) − F(T)) ]

where F(τ) = (r+s+x) ∫_τ^∞ (α+u)^{−(r+x)} (β+u)^{−(s+1)} du is the note's
₂F₁(r+s+x, ·; r+s+x+1; ·)/(·)^{r+s+x} term. The note's ₂F₁ has c − a − b = −s (α ≥ β) or
1 − r − x (α < β) and overflows for heavy buyers. Euler's transformation
₂F₁(a,b;c;z) = (1−z)^{c−a−b} ₂F₁(c−a, c−b; c; z) with c − a = 1 gives, in logs,

    α ≥ β:  ln F(τ) = −(r+x) ln(α+τ) − s ln(β+τ) + ln ₂F₁(1, r+x; r+s+x+1; (α−β)/(α+τ))
    α < β:  ln F(τ) = (1−r−x) ln(α+τ) − (s+1) ln(β+τ) + ln ₂F₁(1, s+1; r+s+x+1; (β−α)/(β+τ))

whose ₂F₁ are bounded positive series (checked against quadrature in the tests). The
difference F(t_x) − F(T) is taken as ln F(t_x) + log1p(−e^{ln F(T) − ln F(t_x)}) and the
two terms are combined with log-sum-exp: no overflow, no catastrophic cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln

from patron.analytics.clv._common import (
    FloatArray,
    Histories,
    IntArray,
    LogParameters,
    TimeUnit,
    check_histories,
    check_horizon,
    group_rows,
    population_warnings,
    unit_days,
    wsum,
)
from patron.analytics.clv._fitting import (
    FitResult,
    RowPool,
    Value,
    central_gradient,
    covariance,
    forward_gradient,
    maximise,
    presolve,
)
from patron.analytics.clv._special import log_hyp2f1_unit
from patron.core.errors import InvalidInput


def _log_f(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, tau: FloatArray
) -> FloatArray:
    """ln F(τ) per (x, τ), the transformed FH 2005 note A₀ term (module docstring)."""
    log_a = np.log(alpha + tau)
    log_b = np.log(beta + tau)
    if alpha >= beta:
        series = log_hyp2f1_unit(r + x, np.full_like(x, s + 1), (alpha - beta) / (alpha + tau))
        return -(r + x) * log_a - s * log_b + series
    series = log_hyp2f1_unit(np.full_like(x, s + 1), r + x, (beta - alpha) / (beta + tau))
    return (1 - r - x) * log_a - (s + 1) * log_b + series


@dataclass(frozen=True)
class _Pairs:
    """Distinct (x, t_x, T) rows and, for the ₂F₁ terms, the distinct (x, τ) pairs behind them."""

    x: FloatArray
    t_x: FloatArray
    t_age: FloatArray
    pair_x: FloatArray
    pair_tau: FloatArray
    at_t_x: Any
    at_t_age: Any

    @classmethod
    def build(cls, x: FloatArray, t_x: FloatArray, t_age: FloatArray) -> _Pairs:
        n = len(x)
        (px, ptau), inverse, _ = group_rows(np.concatenate([x, x]), np.concatenate([t_x, t_age]))
        return cls(x, t_x, t_age, px, ptau, inverse[:n], inverse[n:])


def _log_likelihood_parts(
    theta: FloatArray, h: _Pairs
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(ln L, ln of the alive-at-T term, ln of the dropped-out term) per distinct history."""
    r, alpha, s, beta = (float(v) for v in np.exp(theta))
    log_f = _log_f(r, alpha, s, beta, h.pair_x, h.pair_tau)
    f_t_x = log_f[h.at_t_x]
    f_t_age = log_f[h.at_t_age]
    # F decreases in τ; rounding may reverse a tie (t_x = T), which must give a zero term.
    gap = np.minimum(f_t_age - f_t_x, 0.0)
    with np.errstate(divide="ignore"):
        died = np.log(s) - np.log(r + s + h.x) + f_t_x + np.log1p(-np.exp(gap))
    alive = -(r + h.x) * np.log(alpha + h.t_age) - s * np.log(beta + h.t_age)
    head = gammaln(r + h.x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head + np.logaddexp(alive, died), alive, died


@dataclass(frozen=True)
class ParetoNbd(LogParameters):
    """Pareto/NBD parameters (r, α, s, β) in a time unit, with the model's predictions."""

    r: float
    alpha: float
    s: float
    beta: float
    unit: TimeUnit = "weeks"

    name: ClassVar[str] = "Pareto/NBD"
    parameter_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def customer_log_likelihood(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """ln L(r, α, s, β | x, t_x, T) per customer (FH 2005 note, eq. 19–22)."""
        x, t_x, t_age = check_histories(frequency, recency, age)
        values, _, _ = _log_likelihood_parts(self.log_params(), _Pairs.build(x, t_x, t_age))
        return values

    def p_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(alive at T | x, t_x, T) (FH 2005 note, eq. 24): the alive-at-T term's share of L."""
        return self._p_alive(Histories(frequency, recency, age))

    def _p_alive(self, histories: Histories) -> FloatArray:
        (ux, ut, uT), inverse, _ = histories.triples
        if "paretonbd" not in histories.extras:
            histories.extras["paretonbd"] = _Pairs.build(ux, ut, uT)
        pairs = histories.extras["paretonbd"]
        _, alive, died = _log_likelihood_parts(self.log_params(), pairs)
        return np.asarray(np.exp(alive - np.logaddexp(alive, died)), dtype=np.float64)[inverse]

    def expected_purchases(
        self, horizon: float, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] in the next ``horizon`` units (FH 2005 note, eq. 25)."""
        return self.expected_purchases_path([horizon], frequency, recency, age)[:, 0]

    def expected_purchases_path(
        self, horizons: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] per customer (rows) and horizon t (columns) (FH 2005 note, eq. 25):

            P(alive) · (r+x)/(α+T) · (β+T)/(s−1) · [1 − ((β+T)/(β+T+t))^{s−1}]

        with (β+T)/(s−1)·[1 − …] = (β+T) · (−expm1(−(s−1)·L))/(s−1), L = ln((β+T+t)/(β+T)),
        whose limit at s = 1 is (β+T)·L (taken when |(s−1)·L| is tiny).
        """
        t = check_horizon("horizon", horizons)
        return self.expected_purchases_path_of(t, Histories(frequency, recency, age))

    def expected_purchases_path_of(self, horizons: FloatArray, histories: Histories) -> FloatArray:
        """``expected_purchases_path`` on prepared histories (no regrouping)."""
        alive, lifetime, groups = self.expected_purchases_split(horizons, histories)
        return alive[:, None] * lifetime[groups]

    def expected_purchases_split(
        self, horizons: FloatArray, histories: Histories
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """``expected_purchases_path_of`` as (P(alive) · purchase rate per customer, the
        lifetime factor per distinct T and horizon, each customer's T): the path is
        ``alive[:, None] · lifetime[groups]``."""
        _, at = histories.distinct_ages
        rate = (self.r + histories.x) / (self.alpha + histories.t_age)
        return self._p_alive(histories) * rate, self._lifetime(histories, horizons), at

    def _lifetime(self, histories: Histories, t: FloatArray) -> FloatArray:
        # The lifetime factor depends on T and t only: computed once per distinct T.
        ages, _ = histories.distinct_ages
        base = (self.beta + ages)[:, None]
        span = np.log1p(t[None, :] / base)
        k = self.s - 1
        small = np.abs(k * span) < 1e-8
        ratio = np.where(small, span, -np.expm1(-k * span) / np.where(k == 0, 1.0, k))
        return np.asarray(np.maximum(base * ratio, 0.0), dtype=np.float64)

    def expected_purchases_new_customer(self, horizon: Any) -> FloatArray:
        """E[X(t)] for a customer just acquired (FH 2005 note, eq. 17), per horizon."""
        t = check_horizon("horizon", horizon)
        k = self.s - 1
        span = np.log1p(t / self.beta)
        small = np.abs(k * span) < 1e-8
        ratio = np.where(small, span, -np.expm1(-k * span) / np.where(k == 0, 1.0, k))
        return np.asarray(self.r * self.beta / self.alpha * ratio, dtype=np.float64)


def _start(x: FloatArray, t_age: FloatArray, weights: FloatArray) -> list[FloatArray]:
    purchases = wsum(weights, x)
    exposure = wsum(weights, t_age)
    rate = purchases / exposure if purchases > 0 and exposure > 0 else 1e-3
    span = max(wsum(weights, t_age) / float(weights.sum()), 1.0)
    return [
        np.log([1.0, 1.0 / rate, 1.0, span]),
        np.log([0.5, 0.5 / rate, 0.5, span / 2]),
        np.log([2.0, 2.0 / rate, 2.0, 2 * span]),
    ]


def fit_paretonbd(
    frequency: Any,
    recency: Any,
    age: Any,
    *,
    unit: TimeUnit = "weeks",
    with_covariance: bool = True,
    max_iterations: int = 3000,
    workers: int | None = None,
) -> FitResult[ParetoNbd]:
    """Fit Pareto/NBD by maximum likelihood on per-customer (x, t_x, T).

    Evaluated once per distinct (x, t_x, T) weighted by its count, with the ₂F₁ terms once
    per distinct (x, t_x) and (x, T). The parameter derivatives of ₂F₁ have no closed form,
    so the gradient is by finite differences in log-parameters (forward while optimising,
    central for the covariance; see _fitting).
    Large inputs are summed on ``workers`` threads and started from a fit on a sample.
    """
    x, t_x, t_age = check_histories(frequency, recency, age)
    unit_days(unit)
    if len(x) == 0:
        raise InvalidInput("frequency", "no customers to fit")
    (ux, ut, uT), _, counts = group_rows(x, t_x, t_age)
    # Chunks of rows with few distinct x share their (x, τ) pairs, so the ₂F₁ tables of the
    # chunks stay small: order the distinct rows by x (they come in hash order).
    by_x = np.argsort(ux, kind="stable")
    ux, ut, uT, counts = ux[by_x], ut[by_x], uT[by_x], counts[by_x]
    names = ParetoNbd.parameter_names

    def value_on(rows: slice) -> Value:
        histories = _Pairs.build(ux[rows], ut[rows], uT[rows])
        weights = counts[rows]

        def value(theta: FloatArray) -> float:
            values, _, _ = _log_likelihood_parts(theta, histories)
            return wsum(weights, values)

        return value

    with RowPool(len(ux), workers) as pool:
        parts = [value_on(s) for s in pool.slices]

        def total(theta: FloatArray) -> float:
            return pool.total_value(lambda i: parts[i](theta))

        starts = presolve(
            lambda rows: forward_gradient(value_on(rows)),
            len(ux),
            _start(ux, uT, counts),
            model=ParetoNbd.name,
            names=names,
            weight=len(x),
        )
        optimum = maximise(
            forward_gradient(total),
            starts,
            model=ParetoNbd.name,
            names=names,
            weight=len(x),
            max_iterations=max_iterations,
        )
        messages = [*population_warnings(ux, uT, counts, unit), *optimum.warnings]
        cov = None
        if with_covariance:
            cov, more = covariance(
                central_gradient(total), optimum, model=ParetoNbd.name, names=names
            )
            messages.extend(more)
    model = ParetoNbd(r=1.0, alpha=1.0, s=1.0, beta=1.0, unit=unit).with_log_params(
        optimum.log_params
    )
    return FitResult(
        model=model,
        log_likelihood=optimum.log_likelihood,
        customers=len(x),
        distinct_histories=len(ux),
        iterations=optimum.iterations,
        converged=optimum.converged,
        covariance=cov,
        warnings=tuple(messages),
    )
