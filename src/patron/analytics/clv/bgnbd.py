"""BG/NBD: the beta-geometric / negative binomial purchase model.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275–284 ("FHL 2005").

While active a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
repeat purchase they become inactive with probability p ~ Beta(a, b). A customer's history
is summarised by x (repeat purchases), t_x (time of the last one) and T (time observed),
all measured from the first purchase in the model's time unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

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
    Objective,
    RowPool,
    covariance,
    maximise_large,
)
from patron.analytics.clv._special import bgnbd_alive_expectation
from patron.core.errors import InvalidInput

# Where the conditional expectation's factor 1/(a − 1) is singular; a is moved off 1 by this
# much, which changes the result by a relative ~1e-7 (FHL 2005 eq. 10 is continuous in a).
_A_NEAR_ONE = 1e-7
# Beyond this ₂F₁ argument scipy's hyp2f1 is not trusted (_special.py); the integral is used.
_SUSPECT_Z = 0.99


@dataclass(frozen=True)
class BgNbd(LogParameters):
    """BG/NBD parameters (r, α, a, b) in a time unit, with the model's predictions."""

    r: float
    alpha: float
    a: float
    b: float
    unit: TimeUnit = "weeks"

    name: ClassVar[str] = "BG/NBD"
    parameter_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    def customer_log_likelihood(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """ln L(r, α, a, b | x, t_x, T) per customer (FHL 2005 eq. 6)."""
        x, t_x, t_age = check_histories(frequency, recency, age)
        return _log_likelihood(self.log_params(), _Rows.build(x, t_x, t_age))

    def p_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(still active at T | x, t_x, T) (Fader, Hardie & Lee 2008, "Computing P(alive)
        using the BG/NBD model", eq. 2): 1 / (1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^{r+x}).
        """
        h = Histories(frequency, recency, age)
        return self._p_alive(h.x, h.t_x, h.t_age)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, t_age: FloatArray) -> FloatArray:
        repeat = x > 0
        odds = np.full(len(x), -np.inf)
        xr = x[repeat]
        odds[repeat] = (
            np.log(self.a)
            - np.log(self.b + xr - 1)
            + (self.r + xr)
            * (np.log(self.alpha + t_age[repeat]) - np.log(self.alpha + t_x[repeat]))
        )
        return np.asarray(expit(-odds), dtype=np.float64)

    def expected_purchases(
        self, horizon: float, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``horizon`` units (FHL 2005 eq. 10)."""
        return self.expected_purchases_path([horizon], frequency, recency, age)[:, 0]

    def expected_purchases_path(
        self, horizons: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] for each customer (rows) and each horizon t (columns).

        FHL 2005 eq. 10 is P(alive) times a factor that depends only on (x, T, t):

            (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z)],
            z = t/(α+T+t).

        Euler's transformation ₂F₁(A,B;C;z) = (1−z)^{C−A−B} ₂F₁(C−A, C−B; C; z) turns the
        bracket into 1 − (1−z)^{a−1} ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose ₂F₁ stays near 1
        for any x (the original overflows for heavy buyers), and it is evaluated as
        −expm1(·) so nothing cancels. The factor is computed once per distinct (x, T).
        """
        t = check_horizon("horizon", horizons)
        return self.expected_purchases_path_of(t, Histories(frequency, recency, age))

    def expected_purchases_path_of(self, horizons: FloatArray, histories: Histories) -> FloatArray:
        """``expected_purchases_path`` on prepared histories (no regrouping)."""
        alive, path, groups = self.expected_purchases_split(horizons, histories)
        return alive[:, None] * path[groups]

    def expected_purchases_split(
        self, horizons: FloatArray, histories: Histories
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """``expected_purchases_path_of`` as (P(alive) per customer, the factor per distinct
        (x, T) and horizon, each customer's (x, T)): the path is ``alive[:, None] ·
        factor[groups]``, and what is linear in the path (value.py's discounting) is done
        once per distinct (x, T) instead of per customer."""
        h = histories
        _, groups, _ = h.ages
        return self._p_alive(h.x, h.t_x, h.t_age), self._alive_factor(h, horizons), groups

    def _alive_path(self, histories: Histories, t: FloatArray) -> FloatArray:
        _, inverse, _ = histories.ages
        return self._alive_factor(histories, t)[inverse]

    def _alive_factor(self, histories: Histories, t: FloatArray) -> FloatArray:
        """The factor of ``expected_purchases_path`` per distinct (x, T) (rows) and horizon."""
        (ux, u_age), _, _ = histories.ages
        a = self.a
        if abs(a - 1) < _A_NEAR_ONE:
            a = 1 + _A_NEAR_ONE if a >= 1 else 1 - _A_NEAR_ONE
        r, alpha, b = self.r, self.alpha, self.b
        base = alpha + u_age[:, None]
        k = t[None, :] / base
        n = (r + ux)[:, None]
        with np.errstate(all="ignore"):
            z = t[None, :] / (base + t[None, :])
            log_one_minus_z = -np.log1p(k)
            series = hyp2f1(a + b - 1 - r, a - 1, (a + b + ux - 1)[:, None], z)
            exponent = (a - 1) * log_one_minus_z + np.log(series)
            factor = (a + b + ux - 1)[:, None] / (a - 1) * -np.expm1(exponent)
            # E[h(p)] with h(p) = (1 − (1+pk)^{−n})/p decreasing in p: h(1) ≤ factor ≤ h(0) = nk.
            floor = -np.expm1(-n * np.log1p(k))
            ceiling = n * k
            # Short horizons: the closed form cancels (₂F₁ ≈ 1 + O(z)), so use the Taylor
            # series of E[h(p)] in k: nk − n(n+1)k²E[p]/2 + n(n+1)(n+2)k³E[p²]/6, whose
            # next term is below ((n+3)k)³ < 10⁻¹² of the first where (n+3)k < 10⁻⁴.
            abx = (self.a + b + ux)[:, None]
            mean_p = self.a / abx
            mean_p2 = mean_p * (self.a + 1) / (abx + 1)
            short = (n + 3) * k < 1e-4
            taylor = n * k * (1 - (n + 1) * k * mean_p / 2 + (n + 1) * (n + 2) * k**2 * mean_p2 / 6)
            factor = np.where(short, taylor, factor)
        bad = (
            ~short
            & (k > 0)
            & (
                ~np.isfinite(factor)
                | (factor < floor * (1 - 1e-6) - 1e-300)
                | (factor > ceiling * (1 + 1e-6))
                | (z > _SUSPECT_Z)
            )
        )
        if bad.any():
            rows, cols = np.nonzero(bad)
            factor[rows, cols] = bgnbd_alive_expectation(self.a, b, r, ux[rows], k[rows, cols])
        factor = np.where(k > 0, factor, 0.0)
        return np.asarray(np.clip(factor, floor, ceiling), dtype=np.float64)

    def expected_purchases_new_customer(self, horizon: Any) -> FloatArray:
        """E[X(t)] for a customer just acquired (FHL 2005 eq. 9), per horizon."""
        t = check_horizon("horizon", horizon)
        return self._alive_path(Histories([0.0], [0.0], [0.0]), t)[0]


@dataclass(frozen=True)
class _Rows:
    """Histories with their weights, arranged for ``_total``: what depends on x alone is
    computed per distinct x (``ux``; ``xi`` each row's), what depends on α and a time per
    distinct time (``times``, the t_x and T values together), and only the repeat buyers'
    rows are gone through one by one (``repeat_*``), with per-row work only where the two
    terms of the likelihood mix."""

    x: FloatArray
    t_x: FloatArray
    t_age: FloatArray
    weights: FloatArray
    ux: FloatArray
    xi: Any
    # Σ weights per distinct x, and per distinct time as T: Σ weights and Σ weights · x.
    w_u: FloatArray
    times: FloatArray
    w_age: FloatArray
    wx_age: FloatArray
    # The rows with x > 0: their x, place in ux, T's and t_x's places in times, weights.
    repeat_x: FloatArray
    repeat_xi: Any
    repeat_age: Any
    repeat_tx: Any
    repeat_w: FloatArray

    @classmethod
    def build(
        cls, x: FloatArray, t_x: FloatArray, t_age: FloatArray, weights: FloatArray | None = None
    ) -> _Rows:
        ux, xi = np.unique(x, return_inverse=True)
        w = np.ones_like(x) if weights is None else weights
        times, where = np.unique(np.concatenate([t_age, t_x]), return_inverse=True)
        age_i, tx_i = where[: len(x)], where[len(x) :]
        repeat = np.flatnonzero(x > 0)
        return cls(
            x=x,
            t_x=t_x,
            t_age=t_age,
            weights=w,
            ux=ux,
            xi=xi,
            w_u=_sums(xi, w, len(ux)),
            times=times,
            w_age=_sums(age_i, w, len(times)),
            wx_age=_sums(age_i, w * x, len(times)),
            repeat_x=x[repeat],
            repeat_xi=xi[repeat],
            repeat_age=age_i[repeat],
            repeat_tx=tx_i[repeat],
            repeat_w=w[repeat],
        )


def _sums(index: Any, weights: FloatArray, length: int) -> FloatArray:
    """Σ ``weights`` per value of ``index`` (0 … length − 1)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=length), dtype=np.float64)


def _log_likelihood(theta: FloatArray, rows: _Rows) -> FloatArray:
    """Per-row ln L (FHL 2005 eq. 6):

        L = Γ(r+x)α^r/Γ(r) · [ B(a, b+x)/B(a, b) · (α+T)^{−(r+x)}
                               + δ_{x>0} B(a+1, b+x−1)/B(a, b) · (α+t_x)^{−(r+x)} ]

    in log form with log-sum-exp over the two terms. Everything that depends on x alone
    (ln Γ, ln B) is computed once per distinct x.
    """
    r, alpha, a, b = np.exp(theta)
    ux, xi, x = rows.ux, rows.xi, rows.x
    repeat_u = ux > 0
    base_u = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    beta_ab = betaln(a, b)
    stay_u = betaln(a, b + ux) - beta_ab
    # For x = 0 the dropout term is absent; b+x−1 is only used where x ≥ 1.
    left_u = np.where(
        repeat_u, betaln(a + 1, np.where(repeat_u, b + ux - 1, 1.0)) - beta_ab, -np.inf
    )
    rx = r + x
    stay = stay_u[xi] - rx * np.log(alpha + rows.t_age)
    left = left_u[xi] - rx * np.log(alpha + rows.t_x)
    return np.asarray(base_u[xi] + np.logaddexp(stay, left), dtype=np.float64)


def _total(theta: FloatArray, rows: _Rows) -> tuple[float, FloatArray]:
    """Σ weights · ln L (``_log_likelihood``) and its gradient in θ = log-params.

    Per row, ln L = base + stay + softplus(left − stay), base and stay as in
    ``_log_likelihood``. The sums of base and stay need no row: base and the stay term's
    beta function depend on x alone, and its −(r+x)·ln(α+T) is summed per distinct T from
    the weights (and weights · x) of its rows. Only softplus(d), d = left − stay, is
    summed row by row, over the repeat buyers (for x = 0 there is no dropout term: d is
    −∞ and softplus 0), as max(d, 0) + ln(1 + e^{−|d|}); its derivative, the share π of
    the dropout term, is what the gradient adds per row. ln(1 + e) with e ≤ 1 is within
    10⁻¹⁶ of ln1p(e), far below the rounding of the total.
    """
    r, alpha, a, b = np.exp(theta)
    ux = rows.ux
    repeat_u = ux > 0
    beta_ab = betaln(a, b)
    log_alpha = np.log(alpha)
    base_u = gammaln(r + ux) - gammaln(r) + r * log_alpha
    stay_u = betaln(a, b + ux) - beta_ab
    left_u = betaln(a + 1, np.where(repeat_u, b + ux - 1, 1.0)) - beta_ab
    log_time = np.log(alpha + rows.times)
    inv_time = 1.0 / (alpha + rows.times)
    # Σ over rows of w · (r + x) per distinct T.
    rx_age = r * rows.w_age + rows.wx_age
    # The repeat rows: d = left − stay = (left_u − stay_u) − (r + x)(ln(α+t_x) − ln(α+T)).
    x, w = rows.repeat_x, rows.repeat_w
    rx = x + r
    log_ratio = log_time[rows.repeat_tx]
    log_ratio -= log_time[rows.repeat_age]
    d = (left_u - stay_u)[rows.repeat_xi]
    d -= rx * log_ratio
    e = np.abs(d)
    np.negative(e, out=e)
    np.exp(e, out=e)
    one_e = e + 1.0
    soft = np.log(one_e)
    soft += np.maximum(d, 0.0)
    total = wsum(rows.w_u, base_u + stay_u) - wsum(rx_age, log_time) + wsum(w, soft)
    # π = e^d / (1 + e^d) = 1 / (1 + e^{−|d|}) for d ≥ 0, e^{−|d|} / (1 + e^{−|d|}) below.
    np.copyto(e, 1.0, where=d >= 0)
    w_left = e
    w_left /= one_e
    w_left *= w
    # d/dr, d/dα, d/da, d/db of Σ w·(base + stay) and of Σ w·softplus(d) (ψ = digamma),
    # then scaled by the parameter.
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + ux)
    d_base_r_u = digamma(r + ux) - digamma(r) + log_alpha
    d_stay_a_u = psi_ab - psi_abx
    d_stay_b_u = digamma(b + ux) - psi_abx - digamma(b) + psi_ab
    d_left_a_u = 1 / a + psi_ab - psi_abx
    d_left_b_u = digamma(np.where(repeat_u, b + ux - 1, 1.0)) - (psi_abx + digamma(b) - psi_ab)
    left_u_w = np.bincount(rows.repeat_xi, weights=w_left, minlength=len(ux))
    inv_gap = inv_time[rows.repeat_age]
    inv_gap -= inv_time[rows.repeat_tx]
    inv_gap *= rx
    d_r = wsum(rows.w_u, d_base_r_u) - wsum(rows.w_age, log_time) - wsum(w_left, log_ratio)
    d_alpha = rows.w_u.sum() * r / alpha - wsum(rx_age, inv_time) + wsum(w_left, inv_gap)
    d_a = wsum(rows.w_u, d_stay_a_u) + wsum(left_u_w, d_left_a_u - d_stay_a_u)
    d_b = wsum(rows.w_u, d_stay_b_u) + wsum(left_u_w, d_left_b_u - d_stay_b_u)
    return total, np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def _start(x: FloatArray, t_age: FloatArray, weights: FloatArray) -> list[FloatArray]:
    """Starting points: a moment guess for α from the purchase rate, then fixed fallbacks."""
    purchases = wsum(weights, x)
    exposure = wsum(weights, t_age)
    rate = purchases / exposure if purchases > 0 and exposure > 0 else 1e-3
    alpha = 1.0 / rate
    return [
        np.log([1.0, alpha, 1.0, 2.0]),
        np.log([0.5, alpha / 2, 0.5, 5.0]),
        np.log([2.0, 2 * alpha, 2.0, 1.0]),
    ]


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    age: Any,
    *,
    unit: TimeUnit = "weeks",
    with_covariance: bool = True,
    max_iterations: int = 3000,
    workers: int | None = None,
    warm_start: FitResult[BgNbd] | None = None,
) -> FitResult[BgNbd]:
    """Fit BG/NBD by maximum likelihood (FHL 2005 eq. 6) on per-customer (x, t_x, T).

    The log-likelihood is evaluated once per distinct (x, t_x, T) weighted by how many
    customers share it — exact, and with dates in whole days a million customers shrink to
    a few hundred thousand rows. The gradient is analytic (digamma terms). Large inputs are
    summed on ``workers`` threads (_fitting.RowPool).

    ``warm_start``: a fit with its covariance on similar data (the same shop at a later
    cut-off) to start from, instead of a fit on a sample (_fitting.maximise_large); the
    optimum is the same, to the convergence test.
    """
    x, t_x, t_age = check_histories(frequency, recency, age)
    unit_days(unit)
    if len(x) == 0:
        raise InvalidInput("frequency", "no customers to fit")
    (ux, ut, uT), _, counts = group_rows(x, t_x, t_age)
    names = BgNbd.parameter_names
    with RowPool(len(ux), workers) as pool:
        chunks = [_Rows.build(ux[s], ut[s], uT[s], counts[s]) for s in pool.slices]

        def part(theta: FloatArray, i: int) -> tuple[float, FloatArray]:
            return _total(theta, chunks[i])

        last: list[tuple[FloatArray, tuple[float, FloatArray]]] = []

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            # The optimum's own evaluation is asked for again (the optimiser's last check,
            # then the covariance's Hessian): the last one is kept, not summed again.
            if last and np.array_equal(last[0][0], theta):
                return last[0][1]
            found = pool.total(lambda i: part(theta, i))
            last[:] = [(np.array(theta, dtype=np.float64), found)]
            return found

        def objective_on(rows: slice) -> Objective:
            sample = _Rows.build(ux[rows], ut[rows], uT[rows], counts[rows])

            def sampled(theta: FloatArray) -> tuple[float, FloatArray]:
                return _total(theta, sample)

            return sampled

        optimum = maximise_large(
            objective,
            objective_on,
            len(ux),
            _start(ux, uT, counts),
            model=BgNbd.name,
            names=names,
            weight=len(x),
            max_iterations=max_iterations,
            warm=_warm(warm_start),
        )
        messages = [*population_warnings(ux, uT, counts, unit), *optimum.warnings]
        cov = None
        if with_covariance:
            cov, more = covariance(objective, optimum, model=BgNbd.name, names=names)
            messages.extend(more)
    model = BgNbd(r=1.0, alpha=1.0, a=1.0, b=1.0, unit=unit).with_log_params(optimum.log_params)
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


def _warm(fit: FitResult[BgNbd] | None) -> tuple[FloatArray, FloatArray] | None:
    """(θ, curvature per customer) of a fit, for ``maximise_large``: its observed information
    (the inverse of its covariance) over its customers."""
    if fit is None or fit.covariance is None or fit.customers < 1:
        return None
    with np.errstate(all="ignore"):
        try:
            information = np.linalg.inv(fit.covariance)
        except np.linalg.LinAlgError:
            return None
    return fit.model.log_params(), information / fit.customers
