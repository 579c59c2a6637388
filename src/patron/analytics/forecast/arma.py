"""ARMA(1, 1) on the regression's residuals: each series' parameters by maximum likelihood
(the exact likelihood, as statsmodels' ``arma_loglike`` computes it), and the forecasts of
every series of a run, each from one NumPy pass over all the series.

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

The fit (``_mle``) runs the same recursion: with σ² at its optimum for given φ and θ the
likelihood is a function of two parameters, minimised for every series at once by Newton
steps on finite differences (``_newton``), from the Hannan–Rissanen estimate
(``_hannan_rissanen``, the series of one length together) and from four fixed starts
towards the ends of the ridge φ ≈ −θ, where the likelihood often has other optima; the
best of the five is kept. On the chain store's 320 fits (bench/forecast.py) it is never
below the optimum statsmodels' L-BFGS-B found from the Hannan–Rissanen estimate alone, and
above it on a quarter of them.
"""

from __future__ import annotations

import itertools
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


def _hannan_rissanen(series: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
    """(φ, θ) per series by the Hannan–Rissanen procedure as statsmodels'
    ``hannan_rissanen(residuals, ar_order=1, ma_order=1, demean=False)`` computes it
    (Brockwell & Davis §5.1.4): a long autoregression by Yule–Walker (order ⌊ln² n⌋, the
    series demeaned for it), its residuals standing in for the innovations, one least
    squares of ``e[t]`` on ``e[t−1]`` and the residual at ``t−1``, then, when that is
    stationary and invertible, the bias-correcting least squares. The series of one length
    together: a few NumPy passes over a days × series array instead of a call each."""
    count = len(series)
    phi, theta = np.full(count, np.nan), np.full(count, np.nan)
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    for n in np.unique(lengths):
        which = np.flatnonzero(lengths == n)
        e = np.column_stack([series[i] for i in which]).astype(np.float64)  # days × series
        p, q = _hannan_rissanen_same_length(e)
        phi[which], theta[which] = p, q
    return phi, theta


def _hannan_rissanen_same_length(e: FloatArray) -> tuple[FloatArray, FloatArray]:
    n, width = e.shape
    m = max(int(np.floor(np.log(n) ** 2)), 2)
    if n <= m + 3:
        return np.full(width, np.nan), np.full(width, np.nan)
    # Step 1: Yule–Walker (the "mle" autocovariances, over n) of order m.
    x = e - e.mean(axis=0)
    acov = np.empty((m + 1, width))
    acov[0] = (x * x).sum(axis=0) / n
    for k in range(1, m + 1):
        acov[k] = (x[:-k] * x[k:]).sum(axis=0) / n
    lags = np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])
    toeplitz = acov[lags].transpose(2, 0, 1)  # series × m × m
    try:
        ar = np.linalg.solve(toeplitz, acov[1:].T[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # statsmodels falls back to the pseudo-inverse for a singular matrix.
        ar = np.stack([np.linalg.pinv(toeplitz[j]) @ acov[1:, j] for j in range(width)])
    # The long autoregression's residuals, times m … n − 1.
    resid = e[m:].copy()
    for j in range(m):
        resid -= ar[:, j] * e[m - 1 - j : n - 1 - j]
    # Step 2: e[t] on e[t−1] and resid[t−1], t = m + 1 … n − 1.
    target, lag_e, lag_r = e[m + 1 :], e[m:-1], resid[:-1]
    phi, theta = _least_squares_2(target, lag_e, lag_r)
    # Step 3: the bias correction, for stationary and invertible estimates.
    fix = (np.abs(phi) < 1) & (np.abs(theta) < 1)
    if fix.any():
        z = np.zeros((n, width))
        for t in range(1, n):
            z[t] = e[t] - phi * e[t - 1] - theta * z[t - 1]
        v = np.empty((n, width))
        v[0] = z[0]
        for t in range(1, n):
            v[t] = z[t] + phi * v[t - 1]
        w = z.copy()
        w[1:] -= theta * z[:-1]
        d_phi, d_theta = _least_squares_2(z[1:], v[:-1], w[:-1])
        phi = np.where(fix, phi + d_phi, phi)
        theta = np.where(fix, theta + d_theta, theta)
    return phi, theta


def _least_squares_2(y: FloatArray, a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per column, the least-squares coefficients of ``y`` on ``a`` and ``b`` (no constant)."""
    saa, sab, sbb = (a * a).sum(axis=0), (a * b).sum(axis=0), (b * b).sum(axis=0)
    say, sby = (a * y).sum(axis=0), (b * y).sum(axis=0)
    with np.errstate(all="ignore"):
        det = saa * sbb - sab * sab
        return (sbb * say - sab * sby) / det, (saa * sby - sab * say) / det


def _minus_loglike(
    u: FloatArray, y: FloatArray, work: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """(−log-likelihood over the day count, σ²) of ARMA(1, 1) with σ² at its maximum for
    the given φ and θ, per column of ``y`` (days × columns, column ``j`` at
    ``u[j] = (u_φ, u_θ)``, ``φ = u_φ / √(1 + u_φ²)``): the exact likelihood by the
    innovations recursion (module doc), ``−ℓ/n = ½ (ln 2π + ln σ² + 1 + Σ ln R[t] / n)``
    with ``σ² = Σ v[t]² / R[t] / n``, statsmodels' ``arma_loglike`` at that σ². ``work``
    (at least 4 × days × columns cells) holds the day-by-day arrays."""
    phi = u[:, 0] / np.sqrt(1 + u[:, 0] ** 2)
    theta = u[:, 1] / np.sqrt(1 + u[:, 1] ** 2)
    days, width = y.shape
    if work is None:
        work = np.empty((4, days * width))
    r, k, v, w = (work[i, : days * width].reshape(days, width) for i in range(4))
    theta2 = theta**2
    one_plus = 1 + theta2
    r[0] = (1 + 2 * phi * theta + theta2) / (1 - phi**2)
    t = 1
    while t < days:
        np.subtract(one_plus, np.divide(theta2, r[t - 1]), out=r[t])
        # R converges geometrically (as θ^2t): once it has settled for every column the
        # rest of the days repeat it.
        if t % 16 == 0 and np.abs(r[t] - r[t - 1]).max() <= 1e-15:
            r[t + 1 :] = r[t]
            break
        t += 1
    np.divide(theta, r, out=k)
    v[0] = y[0]
    w = w[: days - 1]
    np.multiply(y[:-1], phi, out=w)
    np.subtract(y[1:], w, out=w)
    for t in range(1, days):
        np.subtract(w[t - 1], k[t - 1] * v[t - 1], out=v[t])
    v *= v
    v /= r
    sigma2 = v.sum(axis=0) / days
    log_r = np.log(r, out=k).sum(axis=0) / days
    return 0.5 * (np.log(2 * np.pi) + np.log(sigma2) + 1 + log_r), sigma2


# The finite-difference points around each estimate (times _STEP): the centre, ± each
# parameter, and the two diagonal points for the cross derivative.
_STENCIL = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)], dtype=float)
_STEP = 1e-4
_ALPHAS = 0.5 ** np.arange(8)
# Starts (φ, θ) besides the Hannan–Rissanen estimate (``_mle``).
_STARTS = np.array([(0.9, -0.8), (-0.9, 0.8), (0.99, -0.95), (-0.99, 0.95)])
# Cells (days × columns) of one likelihood pass's arrays: 1.3 MB each (float64). From about
# 1.5 MB on, bench/forecast.py's synthetic chain spent as much system time (fresh pages
# for every array) as computing; below it the allocator reuses them.
_CELLS = 160_000


def _evaluate(
    u: FloatArray, which: IntArray, y: FloatArray, lengths: IntArray
) -> tuple[FloatArray, FloatArray]:
    """``_minus_loglike`` at the points ``u`` of the series ``which`` (a column each), the
    columns of one length together."""
    f, s2 = np.empty(len(which)), np.empty(len(which))
    length = lengths[which]
    # One workspace for every pass, its arrays reused (see _CELLS); the series as well.
    longest = int(length.max())
    work = np.empty((5, max(_CELLS, 16 * longest)))
    order = np.argsort(length, kind="stable")
    bounds = np.flatnonzero(np.r_[True, length[order][1:] != length[order][:-1], True])
    for low, high in itertools.pairwise(bounds):
        days = int(length[order[low]])
        columns = max(16, _CELLS // days)
        for start in range(low, high, columns):
            part = order[start : min(start + columns, high)]
            gathered = work[4, : days * len(part)].reshape(days, len(part))
            np.take(y[:days], which[part], axis=1, out=gathered, mode="clip")
            f[part], s2[part] = _minus_loglike(u[part], gathered, work[:4])
    return f, s2


def _newton(
    u0: FloatArray, series: IntArray, y: FloatArray, lengths: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Minimise each series' ``_minus_loglike`` from ``u0`` (series × 2): Newton steps on
    finite-difference derivatives (the Hessian's eigenvalues taken in absolute value, so
    each step goes downhill), halved until the likelihood rises enough (Armijo), all the
    series still moving in one pass per step. Returns (u, −ℓ/n, σ²); NaN where the
    likelihood is not finite at the start."""
    u = u0.copy()
    f, sigma2 = _evaluate(u, series, y, lengths)
    active = np.isfinite(f)
    for _ in range(MAX_ITERATIONS):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        points = (u[idx][:, None, :] + _STEP * _STENCIL[None]).reshape(-1, 2)
        fs = _evaluate(points, np.repeat(series[idx], len(_STENCIL)), y, lengths)[0]
        fs = fs.reshape(len(idx), len(_STENCIL))
        f0 = fs[:, 0]
        grad = np.column_stack([fs[:, 1] - fs[:, 2], fs[:, 3] - fs[:, 4]]) / (2 * _STEP)
        h11 = (fs[:, 1] - 2 * f0 + fs[:, 2]) / _STEP**2
        h22 = (fs[:, 3] - 2 * f0 + fs[:, 4]) / _STEP**2
        h12 = (fs[:, 5] - fs[:, 1] - fs[:, 3] + 2 * f0 - fs[:, 2] - fs[:, 4] + fs[:, 6]) / (
            2 * _STEP**2
        )
        hessian = np.stack([np.column_stack([h11, h12]), np.column_stack([h12, h22])], axis=1)
        bad = ~np.isfinite(hessian).all(axis=(1, 2)) | ~np.isfinite(grad).all(axis=1)
        hessian[bad] = np.eye(2)
        grad[bad] = 0.0
        values, vectors = np.linalg.eigh(hessian)
        values = np.maximum(np.abs(values), 1e-8)
        along = np.einsum("sji,sj->si", vectors, grad) / values
        step = -np.einsum("sij,sj->si", vectors, along)
        # A trust region in the unbounded parameters: no step longer than 1 or than the
        # point's own distance from white noise (along a ridge towards φ or θ near ±1
        # the steps grow geometrically).
        size = np.sqrt((step**2).sum(axis=1))
        radius = np.maximum(1.0, np.sqrt((u[idx] ** 2).sum(axis=1)))
        step *= np.minimum(1.0, radius / np.maximum(size, 1e-300))[:, None]
        slope = (grad * step).sum(axis=1)
        # The full step first; the series it does not take down enough try the shorter
        # steps together.
        ft = np.full((len(idx), len(_ALPHAS)), np.nan)
        st = np.full((len(idx), len(_ALPHAS)), np.nan)
        ft[:, 0], st[:, 0] = _evaluate(u[idx] + step, series[idx], y, lengths)
        armijo = f0[:, None] + 1e-4 * _ALPHAS[None, :] * slope[:, None]
        short = np.flatnonzero(~(ft[:, 0] <= armijo[:, 0]))
        if len(short):
            trials = u[idx[short]][:, None, :] + _ALPHAS[None, 1:, None] * step[short][:, None, :]
            found_f, found_s = _evaluate(
                trials.reshape(-1, 2), np.repeat(series[idx[short]], len(_ALPHAS) - 1), y, lengths
            )
            ft[short, 1:] = found_f.reshape(len(short), -1)
            st[short, 1:] = found_s.reshape(len(short), -1)
        accept = ft <= armijo
        found = accept.any(axis=1)
        first = np.argmax(accept, axis=1)
        rows = np.arange(len(idx))
        moved = idx[found]
        alpha = _ALPHAS[first[found]]
        u[moved] += alpha[:, None] * step[found]
        f[moved] = ft[rows[found], first[found]]
        sigma2[moved] = st[rows[found], first[found]]
        # Done: no downhill step left, a step of under 1e-9 in every parameter, or one that
        # took the likelihood down by no more than L-BFGS-B's own stop (``factr`` 1e2, as
        # ``SARIMAX.fit`` set it).
        done = ~found | bad
        done[found] = (np.abs(alpha[:, None] * step[found]).max(axis=1) < 1e-9) | (
            f0[found] - f[moved] <= 1e2 * np.finfo(float).eps * np.maximum(np.abs(f0[found]), 1)
        )
        active[idx[done]] = False
    f[~np.isfinite(f)] = np.nan
    return u, f, sigma2


def _mle(series: list[FloatArray], y: FloatArray, lengths: IntArray) -> FloatArray:
    """(φ, θ, σ²) per series (rows) by maximum likelihood: the best of the optima reached
    from the Hannan–Rissanen estimate (white noise where that is not stationary and
    invertible) and from ``_STARTS``, never below the one ``SARIMAX.fit`` finds from the
    first alone, in ``SARIMAX``'s parametrisation ``φ = u / √(1 + u²)``; NaN where the
    likelihood is not finite. Every series together (``_newton``): one likelihood pass
    over a days × series array per step instead of a compiled likelihood and an optimiser
    per series, whose calls were most of the nightly forecast's time."""
    phi, theta = _hannan_rissanen(series)
    usable = np.isfinite(phi) & np.isfinite(theta) & (np.abs(phi) < 1) & (np.abs(theta) < 1)
    first = np.where(usable[:, None], np.column_stack([phi, theta]), 0.0)
    count = len(series)
    # Each series from each start: the likelihood can have other optima along the ridge
    # φ ≈ −θ (the two nearly cancel), towards its ends.
    starts = np.concatenate(
        [first[None], np.broadcast_to(_STARTS[:, None, :], (len(_STARTS), count, 2))]
    )
    u0 = (starts / np.sqrt(1 - starts**2)).reshape(-1, 2)
    rows = np.tile(np.arange(count), len(starts))
    u, f, sigma2 = _newton(u0, rows, y, lengths)
    f = np.where(np.isfinite(f), f, np.inf).reshape(len(starts), count)
    best = np.argmin(f, axis=0)
    pick = best * count + np.arange(count)
    fitted = np.column_stack([u[pick] / np.sqrt(1 + u[pick] ** 2), sigma2[pick]])
    fitted[~np.isfinite(f[best, np.arange(count)])] = np.nan
    return fitted


def fit_arma11(series: list[FloatArray]) -> ArmaFits:
    """Fit ARMA(1, 1) to each of ``series`` (zero mean, lengths ≥ 2): the parameters of
    every series together (``_mle``), then one pass of the recursion over all of them for
    the state the forecasts start from. A fit that fails leaves its series' parameters NaN:
    the caller forecasts it by seasonal naive (model.py)."""
    count = len(series)
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    y = np.zeros((int(lengths.max()), count))
    for i, s in enumerate(series):
        y[: len(s), i] = s
    with np.errstate(all="ignore"):
        try:
            fitted = _mle(series, y, lengths)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            fitted = np.full((count, 3), np.nan)
    phi, theta, sigma2 = fitted[:, 0], fitted[:, 1], fitted[:, 2]
    last_v, last_k = _innovations(phi, theta, y, lengths)
    last_y = y[lengths - 1, np.arange(count)]
    return ArmaFits(
        phi=phi,
        theta=theta,
        sigma2=sigma2,
        next_mean=phi * last_y + last_k * last_v,
        next_r=1 + theta**2 - theta * last_k,
    )
