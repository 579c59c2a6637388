"""Robust Gauss hypergeometric terms for the purchase models.

scipy's ``hyp2f1`` is fast and accurate over most of the range the models use, but for
large parameters with the argument near 1 it returns NaN, ∞, or even negative numbers
(e.g. ₂F₁(1, 1000; 1001.5; 0.9999)), or takes ~250 µs a value. The optimiser explores such
corners on small or odd data sets, and predictions must never be NaN. So every value is
checked against bounds the function must obey; values outside them, and the known-bad
corner, are recomputed from an integral representation:

    ₂F₁(1, b; b+ε; z) = E[1 / (1 − z·t)],  t ~ Beta(b, ε)          (Euler's integral)

and, for BG/NBD's conditional expectation, E[(1 − (1 + p·k)^{−n}) / p] with p ~ Beta(a, b+x).
Both are taken in the logit variable u = ln(t/(1−t)), where the integrand is smooth and
analytic in a strip around the real axis, so the trapezoidal rule converges geometrically
(h = 0.5, cut to a quarter of the peak's width for sharp peaks). The grid stops where the
log-integrand has become linear (to ~10⁻⁹); the exponential tails beyond are added in
closed form, with the Euler–Maclaurin end correction. For ε < 1 the incomplete beta
identity ₂F₁(1, b; c; z) = (c−1) z^{1−c} (1−z)^{c−b−1} B_z(c−1, b−c+1) is used instead
(scipy's ``betainc`` is robust there). Checked against mpmath, direct series and adaptive
quadrature to ~10⁻¹⁰ over parameters from 0.01 to 10⁴ and 1 − z down to 10⁻¹⁰.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import betainc, betaln, hyp2f1, logsumexp

from patron.analytics.clv._common import FloatArray

_STEP = 0.5
_MAX_CELLS = 2_000_000
# ψ is linear to a relative e^{−20} ≈ 2·10⁻⁹ this far beyond its last bend: there the
# grid stops and the tail is added exactly as an exponential.
_LINEAR_AFTER = 20.0
# A peak narrower than this (both shape parameters ≳ 25) is Gaussian-like: 15 widths from
# the mode the integrand has fallen by more than 100 nats and the grid can stop there.
_NARROW = 0.2
# scipy is not trusted (or is slow) beyond z = 0.9 with a parameter above 30.
_SUSPECT_B = 30.0
_SUSPECT_Z = 0.9

LogIntegrand = Callable[..., FloatArray]


def _softplus(u: FloatArray) -> FloatArray:
    return np.asarray(np.logaddexp(0.0, u), dtype=np.float64)


def logit_trapezoid(
    log_integrand: LogIntegrand,
    lo: FloatArray,
    hi: FloatArray,
    width: FloatArray,
    left_rate: FloatArray,
    right_rate: FloatArray,
    params: tuple[FloatArray, ...],
) -> FloatArray:
    """ln ∫ exp(ψ(u)) du over ℝ per entry: trapezoid on [lo, hi] plus exponential tails.

    ψ is ``log_integrand(u, *params)`` with u of shape (entries, nodes) and params of
    shape (entries, 1); ``width`` is the scale of the peak (the step is at most a quarter of
    it: a sharp peak is not analytic "enough" for a coarse step), ``left_rate`` and
    ``right_rate`` the slopes of ψ beyond lo and hi, used for the closed-form tails.
    """
    n = len(lo)
    out = np.empty(n)
    step_wanted = np.minimum(_STEP, width / 4)
    nodes = np.ceil((hi - lo) / step_wanted).astype(np.int64) + 1
    order = np.argsort(nodes, kind="stable")
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and (stop - start + 1) * nodes[order[stop]] <= _MAX_CELLS:
            stop += 1
        chunk = order[start:stop]
        k = int(nodes[chunk].max())
        span = (hi[chunk] - lo[chunk])[:, None]
        grid = lo[chunk][:, None] + span * np.linspace(0.0, 1.0, k)[None, :]
        step = span[:, 0] / (k - 1)
        values = log_integrand(grid, *(p[chunk][:, None] for p in params))
        # The grid stops where the integrand is a pure exponential, not where it is
        # negligible: trapezoid weights (½ at the ends), the two tails in closed form, and
        # the Euler–Maclaurin end correction h²/12·(f'(lo) − f'(hi)) with f' = ±rate·f
        # (the next term, h⁴/720·rate³·f, is below 10⁻⁹ of the tails for the rates here).
        ends = np.ones(k)
        ends[[0, -1]] = 0.5
        body = logsumexp(values, axis=1, b=ends[None, :]) + np.log(step)
        log_left_rate = np.log(left_rate[chunk])
        log_right_rate = np.log(right_rate[chunk])
        tails = np.logaddexp(values[:, 0] - log_left_rate, values[:, -1] - log_right_rate)
        slopes = np.logaddexp(values[:, 0] + log_left_rate, values[:, -1] + log_right_rate)
        correction = 2 * np.log(step) - np.log(12.0) + slopes
        out[chunk] = np.logaddexp(body, np.logaddexp(tails, correction))
        start = stop
    return out


def _psi_hyp2f1(u: FloatArray, b: FloatArray, eps: FloatArray, log_1mz: FloatArray) -> FloatArray:
    # ln[t^b (1−t)^ε / (1 − z t)] with t = expit(u); dt = t(1−t) du is inside the powers.
    return -b * _softplus(-u) - eps * _softplus(u) - _softplus(u + log_1mz) + _softplus(u)


def log_hyp2f1_unit(b: FloatArray, eps: FloatArray, z: FloatArray) -> FloatArray:
    """ln ₂F₁(1, b; b+ε; z) for b > 0, ε > 0, 0 ≤ z < 1, element-wise (module docstring).

    Bounds used to reject a bad ``hyp2f1`` value: the series has positive terms, so the
    value is ≥ 1; for ε > 1 it increases to (b+ε−1)/(ε−1) at z = 1.
    """
    b, eps, z = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(b, eps, z))
    # Near z = 1 with a large parameter scipy is unreliable or slow (≈ 250 µs a value for
    # ε ≈ 300); those go straight to the integral.
    suspect = (z > _SUSPECT_Z) & ((b > _SUSPECT_B) | (eps > _SUSPECT_B))
    value = np.ones_like(z)
    with np.errstate(all="ignore"):
        value[~suspect] = hyp2f1(1.0, b[~suspect], b[~suspect] + eps[~suspect], z[~suspect])
        ceiling = np.where(eps > 1, (b + eps - 1) / (eps - 1), np.inf)
    bad = suspect | ~np.isfinite(value) | (value < 1 - 1e-12) | (value > ceiling * (1 + 1e-9))
    out = np.log(np.where(bad, 1.0, value))
    if not bad.any():
        return out
    where = np.flatnonzero(bad)
    bb, ee, zz = b[where], eps[where], z[where]
    fixed = np.full(len(where), np.nan)
    # Incomplete beta route for ε < 1 (needs c − 1 = b + ε − 1 > 0).
    beta_route = (ee < 1) & (bb + ee > 1) & (zz > 0)
    if beta_route.any():
        c1 = bb[beta_route] + ee[beta_route] - 1
        q = 1 - ee[beta_route]
        zr = zz[beta_route]
        with np.errstate(divide="ignore"):
            fixed[beta_route] = (
                np.log(c1)
                - c1 * np.log(zr)
                - q * np.log1p(-zr)
                + betaln(c1, q)
                + np.log(betainc(c1, q, zr))
            )
    rest = ~np.isfinite(fixed)
    if rest.any():
        br, er, zr = bb[rest], ee[rest], zz[rest]
        log_1mz = np.log1p(-zr)
        # Beta(b, ε) in logit space: mode ln(b/ε), curvature bε/(b+ε) there. ψ bends at
        # the mode, at u ≈ ±ln(1+b+ε) (where b·e^{∓u}, ε·e^{±u} stop mattering) and at
        # u = −ln(1−z), and is linear (slopes b and −ε) beyond; with ε ≥ 1 the factor
        # 1/(1 − zt), of log-slope in [0, 1), cannot make it rise again right of the peak.
        mode = np.log(br / er)
        width = 1 / np.sqrt(br * er / (br + er))
        scale = np.log1p(br + er)
        lo = np.minimum(mode, -scale) - _LINEAR_AFTER
        hi = np.maximum(np.maximum(mode, scale), -log_1mz) + _LINEAR_AFTER
        narrow = width < _NARROW
        lo = np.where(narrow, np.maximum(lo, mode - 15 * width), lo)
        cut = narrow & (er >= 1) & (mode + 15 * width < hi)
        hi = np.where(cut, mode + 15 * width, hi)
        trapezoid = logit_trapezoid(_psi_hyp2f1, lo, hi, width, br, er, (br, er, log_1mz))
        fixed[rest] = trapezoid - betaln(br, er)
    out[where] = fixed
    return out


def _psi_bgnbd(
    u: FloatArray, a: FloatArray, bx: FloatArray, n: FloatArray, k: FloatArray
) -> FloatArray:
    # ln[p^a (1−p)^{b+x} · h(p)], p = expit(u), h(p) = (1 − (1 + p·k)^{−n}) / p.
    log_p = -_softplus(-u)
    p = np.exp(log_p)
    h = np.log(-np.expm1(-n * np.log1p(p * k))) - log_p
    return a * log_p - bx * _softplus(u) + h


def bgnbd_alive_expectation(
    a: float, b: float, r: float, x: FloatArray, k: FloatArray
) -> FloatArray:
    """E[(1 − (1 + p·k)^{−(r+x)}) / p] for p ~ Beta(a, b+x), by the logit trapezoid.

    With k = t/(α+T) this is BG/NBD's expected purchases in t for a customer alive at T
    (FHL 2005 eq. 10 divided by P(alive)); the fallback for bgnbd._alive_path.
    """
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    bx = b + x
    n = r + x
    av = np.full_like(x, a)
    # Beta(a, b+x) in logit space: mode ln(a/(b+x)), curvature a(b+x)/(a+b+x) there. ψ
    # bends at the mode, where h does (p ≈ 1/(nk)), and at u ≈ ±ln(1+a+b+x+n(1+k)) where
    # the large coefficients stop mattering; beyond, it is linear with slopes a and −(b+x).
    # h has log-slope in (−1, 0], so it cannot undo a narrow peak's fall.
    mode = np.log(a / bx)
    width = 1 / np.sqrt(a * bx / (a + bx))
    scale = np.log1p(a + bx + n * (1 + k))
    lo = np.minimum(np.minimum(mode, -scale), -np.log1p(n * k)) - _LINEAR_AFTER
    hi = np.maximum(mode, scale) + _LINEAR_AFTER
    narrow = width < _NARROW
    lo = np.where(narrow, np.maximum(lo, mode - 15 * width), lo)
    hi = np.where(narrow, np.minimum(hi, mode + 15 * width), hi)
    log_value = logit_trapezoid(_psi_bgnbd, lo, hi, width, av, bx, (av, bx, n, k)) - betaln(a, bx)
    return np.asarray(np.exp(log_value), dtype=np.float64)
