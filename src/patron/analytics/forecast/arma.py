"""ARMA(1, 1) on the regression's residuals: each series' parameters by maximum likelihood
(statsmodels' exact ARMA likelihood), and the forecasts of every series of a run from one NumPy pass.

The model: ``e[t] = φ e[t−1] + ε[t] + θ ε[t−1]``, ``ε`` white noise of variance σ², started
from its stationary distribution (as ``SARIMAX`` starts it). The state a forecast starts
from comes from the innovations algorithm (Brockwell & Davis, *Introduction to Time Series
and Forecasting*, §3.3 and §5.2), for ARMA(1, 1) a scalar recursion:

- the one-step prediction error ``v[t] = y[t] − ŷ[t]`` has variance ``σ² R[t]``;
- ``R[0] = (1 + 2φθ + θ²) / (1 − φ²)``, ``ŷ[0] = 0``;
- ``R[t] = 1 + θ² − θ² / R[t−1]`` and ``ŷ[t] = φ y[t−1] + (θ / R[t−1]) v[t−1]``;

run over a days × series array, one NumPy step per day for all the series. Forecasts h days
ahead: the mean is ``φ^(h−1) ŷ[n]`` and the variance
``σ² (Σ_{j<h} ψ_j² + φ^(2(h−1)) (R[n] − 1))`` with ``ψ_0 = 1``, ``ψ_j = (φ + θ) φ^(j−1)``:
the Kalman filter's figures in closed form (tests/analytics/forecast holds them to
``SARIMAX``'s), without a second state-space model and its results per series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# L-BFGS iterations per fit (as the SARIMAX fit was capped): three parameters settle before.
MAX_ITERATIONS = 50


@dataclass(frozen=True, eq=False)
class ArmaFits:
    """Per series: the parameters, and the one-step state at the end of its history."""

    phi: FloatArray
    theta: FloatArray
    sigma2: FloatArray
    next_mean: FloatArray  # ŷ[n]: the prediction of the first day after the history
    next_r: FloatArray  # R[n]: its variance over σ²

    def forecast(self, horizon: int) -> tuple[FloatArray, FloatArray]:
        """(mean, variance), each series × ``horizon`` days."""
        steps = np.arange(horizon)
        phi = self.phi[:, None]
        decay = phi**steps  # φ^(h−1) for h = 1 … horizon
        psi = np.where(steps == 0, 1.0, (self.phi + self.theta)[:, None] * phi ** (steps - 1.0))
        variance = self.sigma2[:, None] * (
            np.cumsum(psi**2, axis=1) + decay**2 * (self.next_r[:, None] - 1.0)
        )
        return self.next_mean[:, None] * decay, variance


def _innovations(
    phi: FloatArray, theta: FloatArray, y: FloatArray, lengths: IntArray
) -> tuple[FloatArray, FloatArray]:
    """The recursion over ``y`` (days × series, series ``i`` in rows ``< lengths[i]``) for
    one ``phi``/``theta`` per series: the ``v`` and ``k = θ/R`` of each series' last day."""
    days, count = y.shape
    r = np.empty((days, count))
    r[0] = (1 + 2 * phi * theta + theta**2) / (1 - phi**2)
    theta2 = theta**2
    t = 1
    while t < days:
        r[t] = 1 + theta2 - theta2 / r[t - 1]
        # R converges geometrically (as θ^2t): once it has settled for every series the
        # rest of the days repeat it.
        if t % 16 == 0 and np.abs(r[t] - r[t - 1]).max() <= 1e-15:
            r[t + 1 :] = r[t]
            break
        t += 1
    k = theta / r
    w = np.empty((days, count))
    w[0] = y[0]
    np.subtract(y[1:], phi * y[:-1], out=w[1:])
    v = np.empty((days, count))
    v[0] = w[0]
    for t in range(1, days):
        np.subtract(w[t], k[t - 1] * v[t - 1], out=v[t])
    last, columns = lengths - 1, np.arange(count)
    return v[last, columns], k[last, columns]


def _mle(residuals: FloatArray) -> tuple[float, float, float]:
    """(φ, θ, σ²) of ARMA(1, 1) on one series by maximum likelihood, as ``SARIMAX.fit`` finds
    it (L-BFGS on the likelihood over the day count, in its parametrisation
    ``φ = u / √(1 + u²)``, σ² a square, its optimiser settings) but on statsmodels'
    ``arma_loglike``: the same exact likelihood by the innovations algorithm, compiled,
    at half the cost of a state-space model's, which was most of the nightly forecast's
    time. Started from the Hannan–Rissanen estimate (a long autoregression's residuals
    standing in for the innovations, then one least squares), which leaves the optimiser
    a few steps; from white noise when that estimate is not stationary and invertible.
    Hannan–Rissanen alone costs half as much but backtested a little worse on the demo
    (bench/forecast.py)."""
    from scipy.optimize import fmin_l_bfgs_b
    from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen
    from statsmodels.tsa.innovations.arma_innovations import arma_loglike

    found, _ = hannan_rissanen(residuals, ar_order=1, ma_order=1, demean=False)
    start = np.array([found.ar_params[0], found.ma_params[0], found.sigma2], dtype=np.float64)
    usable = np.isfinite(start).all() and abs(start[0]) < 1 and abs(start[1]) < 1 and start[2] > 0
    if not usable:
        start = np.array([0.0, 0.0, float(np.var(residuals))])
    n = len(residuals)

    def minus_loglike(x: FloatArray) -> float:
        phi, theta = x[:2] / np.sqrt(1 + x[:2] ** 2)
        return -float(arma_loglike(residuals, phi[None], theta[None], x[2] ** 2)) / n

    x0 = np.array([*(start[:2] / np.sqrt(1 - start[:2] ** 2)), np.sqrt(start[2])])
    x, _, _ = fmin_l_bfgs_b(
        minus_loglike, x0, approx_grad=True, m=12, pgtol=1e-8, factr=1e2, maxiter=MAX_ITERATIONS
    )
    params = np.array([*(x[:2] / np.sqrt(1 + x[:2] ** 2)), x[2] ** 2])
    return float(params[0]), float(params[1]), float(params[2])


def _fit_or_nan(residuals: FloatArray) -> tuple[float, float, float]:
    """``_mle``, or NaNs when the fit fails: the caller forecasts that series by seasonal
    naive (model.py)."""
    try:
        return _mle(residuals)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return float("nan"), float("nan"), float("nan")


def fit_arma11(series: list[FloatArray]) -> ArmaFits:
    """Fit ARMA(1, 1) to each of ``series`` (zero mean, lengths ≥ 2): the parameters one
    series at a time (``_mle``), then one pass of the recursion over all of them for the
    state the forecasts start from."""
    import warnings

    # Imported before the filter is set: statsmodels adds its own warning filters on import.
    import statsmodels.tsa.arima.estimators.hannan_rissanen
    import statsmodels.tsa.innovations.arma_innovations  # noqa: F401

    count = len(series)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = np.array([_fit_or_nan(s) for s in series], dtype=np.float64).reshape(count, 3)
    phi, theta, sigma2 = fitted[:, 0], fitted[:, 1], fitted[:, 2]
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    y = np.zeros((int(lengths.max()), count))
    for i, s in enumerate(series):
        y[: len(s), i] = s
    last_v, last_k = _innovations(phi, theta, y, lengths)
    last_y = y[lengths - 1, np.arange(count)]
    return ArmaFits(
        phi=phi,
        theta=theta,
        sigma2=sigma2,
        next_mean=phi * last_y + last_k * last_v,
        next_r=1 + theta**2 - theta * last_k,
    )
