"""Maximum likelihood in log-parameter space, shared by the three models.

Every parameter of BG/NBD, Pareto/NBD and Gamma-Gamma is positive, so the optimiser works
on θ = log(parameter): the problem becomes unconstrained up to wide box bounds that only
keep a degenerate fit finite (e^±15 ≈ 3·10⁻⁷ … 3·10⁶). The objective is the total
log-likelihood divided by the number of customers, so tolerances mean the same thing for
a shop of 200 customers and a chain of a million.

The covariance of θ is the inverse of the observed information (minus the Hessian of the
total log-likelihood at the optimum), the usual asymptotic approximation; value.py turns it
into CLV intervals with the delta method.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from scipy.optimize import minimize

from patron.analytics.clv._common import FloatArray
from patron.analytics.clv.exceptions import ModelFitError
from patron.analytics.clv.warnings import ModelWarning

LOG_BOUND = 15.0
# Largest |d(mean log-likelihood)/dθ| still called converged; ≈ 10⁻⁵ relative changes in the
# parameters on the CDNOW data, far inside the 0.5 % the published tables are checked to.
GRADIENT_TOLERANCE = 1e-4
_PENALTY = 1e30

Objective = Callable[[FloatArray], tuple[float, FloatArray]]
Value = Callable[[FloatArray], float]
# Below this many distinct histories one thread is faster than handing work around.
PARALLEL_MIN_ROWS = 50_000
CHUNK_ROWS = 32_768
# Above this many, a rough fit on an evenly spaced sample of about PRESOLVE_SAMPLE of them
# gives the full fit a start a few iterations from the optimum.
PRESOLVE_ROWS = 100_000
PRESOLVE_SAMPLE = 20_000


class RowPool:
    """Sums a likelihood over chunks of rows on a few threads.

    numpy releases the GIL inside its element-wise loops, so chunks run in parallel; chunks
    of CHUNK_ROWS keep each temporary array small (no page faults from fresh allocations,
    which otherwise serialise the threads). The chunk sums are added in a fixed order, so
    the result does not depend on thread timing. ``workers=None`` uses up to 4 cores.
    """

    def __init__(self, rows: int, workers: int | None) -> None:
        wanted = workers if workers is not None else min(os.cpu_count() or 1, 4)
        count = max(1, wanted) if rows >= PARALLEL_MIN_ROWS else 1
        pieces = max(1, -(-rows // CHUNK_ROWS)) if count > 1 else 1
        edges = np.linspace(0, rows, pieces + 1).astype(np.int64)
        self.slices = [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]
        self._pool = ThreadPoolExecutor(count) if count > 1 else None

    def total(self, part: Callable[[int], tuple[float, FloatArray]]) -> tuple[float, FloatArray]:
        """Σ over chunks of ``part(chunk index)`` = (value, gradient)."""
        indices = range(len(self.slices))
        parts = list(self._pool.map(part, indices)) if self._pool else [part(i) for i in indices]
        return float(sum(p[0] for p in parts)), np.sum([p[1] for p in parts], axis=0)

    def total_value(self, part: Callable[[int], float]) -> float:
        """Σ over chunks of ``part(chunk index)``, a value without gradient."""
        indices = range(len(self.slices))
        parts = list(self._pool.map(part, indices)) if self._pool else [part(i) for i in indices]
        return float(sum(parts))

    def __enter__(self) -> RowPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown()


class Parametrised(Protocol):
    """What a fit result needs from its model: a name and named parameters."""

    @property
    def name(self) -> str: ...

    def parameters(self) -> dict[str, float]: ...


ModelT = TypeVar("ModelT", bound=Parametrised)


@dataclass(frozen=True, eq=False)
class FitResult(Generic[ModelT]):
    """A fitted model with its log-likelihood and diagnostics.

    ``covariance`` is the asymptotic covariance of the log-parameters (None when the
    information matrix is singular, e.g. a parameter at its bound); ``warnings`` are plain
    English messages for the analyst (docs/architecture.md, Analytics): read them before the numbers.
    """

    model: ModelT
    log_likelihood: float
    customers: int
    distinct_histories: int
    iterations: int
    converged: bool
    covariance: FloatArray | None = None
    warnings: tuple[str, ...] = field(default=())

    def standard_errors(self) -> dict[str, float] | None:
        """Approximate standard errors of the parameters: se(θ)·parameter (delta method)."""
        if self.covariance is None:
            return None
        params = self.model.parameters()
        log_se = np.sqrt(np.diag(self.covariance))
        return {
            name: float(value * se)
            for (name, value), se in zip(params.items(), log_se, strict=True)
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the fit for the console's model report."""
        return {
            "model": self.model.name,
            "parameters": self.model.parameters(),
            "standard_errors": self.standard_errors(),
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
            "distinct_histories": self.distinct_histories,
            "iterations": self.iterations,
            "converged": self.converged,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser stopped, and what to say about it."""

    log_params: FloatArray
    log_likelihood: float
    iterations: int
    converged: bool
    warnings: tuple[str, ...]


def central_gradient(value: Value, step: float = 1e-5) -> Objective:
    """Wrap a log-likelihood without an analytic gradient: central differences in θ.

    Used for Pareto/NBD, whose likelihood goes through ₂F₁ with parameter-dependent
    arguments (no closed-form parameter derivatives), where accuracy matters: for the
    Hessian behind the covariance. The step balances truncation (∝ h²) against rounding
    (∝ ε·|ln L|/h) for log-likelihoods summed over up to millions of customers.
    """

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        gradient = np.empty_like(theta)
        for i in range(len(theta)):
            shift = np.zeros_like(theta)
            shift[i] = step
            gradient[i] = (value(theta + shift) - value(theta - shift)) / (2 * step)
        return value(theta), gradient

    return objective


def forward_gradient(value: Value, step: float = 1e-6) -> Objective:
    """Forward differences in θ: k + 1 evaluations instead of 2k + 1, for the optimiser.

    The O(h) error (≈ h/2 · curvature, ~10⁻⁶ relative) only moves the optimum by as much,
    far inside the convergence test; the covariance uses ``central_gradient``.
    """

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        at = value(theta)
        gradient = np.empty_like(theta)
        for i in range(len(theta)):
            shift = np.zeros_like(theta)
            shift[i] = step
            gradient[i] = (value(theta + shift) - at) / step
        return at, gradient

    return objective


def _projected_gradient(theta: FloatArray, gradient: FloatArray) -> FloatArray:
    """The gradient of the objective to *minimise* with components that push out of bounds zeroed."""
    projected = gradient.copy()
    projected[(theta <= -LOG_BOUND + 1e-9) & (gradient > 0)] = 0.0
    projected[(theta >= LOG_BOUND - 1e-9) & (gradient < 0)] = 0.0
    return projected


def maximise(
    objective: Objective,
    starts: Sequence[FloatArray],
    *,
    model: str,
    names: Sequence[str],
    weight: float,
    max_iterations: int = 3000,
) -> Optimum:
    """Maximise a total log-likelihood over log-parameters with L-BFGS-B.

    Tries each start in turn (stopping at the first that converges), restarting once from
    where a run stopped when it stopped short (a fresh L-BFGS memory often clears a failed
    line search). Keeps the best run. Raises ModelFitError only when no run reached a finite
    log-likelihood; otherwise a run that did not pass the gradient test is returned with
    ``converged=False`` and a warning.
    """
    scale = max(weight, 1.0)

    def negative(theta: FloatArray) -> tuple[float, FloatArray]:
        total, gradient = objective(theta)
        if not (np.isfinite(total) and np.isfinite(gradient).all()):
            return _PENALTY, np.zeros_like(theta)
        return -total / scale, -gradient / scale

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    best: tuple[float, FloatArray, int] | None = None
    best_converged = False
    for start in starts:
        theta = np.clip(np.asarray(start, dtype=np.float64), -LOG_BOUND, LOG_BOUND)
        iterations = 0
        for _ in range(2):
            result = minimize(
                negative,
                theta,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9},
            )
            theta = np.asarray(result.x, dtype=np.float64)
            iterations += int(result.nit)
            value, gradient = negative(theta)
            converged = bool(
                value < _PENALTY
                and np.abs(_projected_gradient(theta, gradient)).max() <= GRADIENT_TOLERANCE
            )
            if best is None or value < best[0]:
                best, best_converged = (value, theta, iterations), converged
            if converged:
                break
        if best_converged:
            break
    assert best is not None
    value, theta, iterations = best
    if value >= _PENALTY:
        raise ModelFitError(
            model, "the log-likelihood is not finite at any starting point; check the input"
        )
    messages: list[str] = []
    if not best_converged:
        messages.append(
            ModelWarning(
                "fit_not_converged",
                f"{model} fit did not converge (the gradient test failed after {iterations} "
                "iterations): the parameters are the best found but may be off; more data or a "
                "longer calibration period usually helps.",
                model=model,
                iterations=iterations,
            )
        )
    for name, value_at in zip(names, theta, strict=True):
        if abs(value_at) >= LOG_BOUND - 1e-6:
            messages.append(
                ModelWarning(
                    "parameter_at_bound",
                    f"{model} parameter {name} ran to its bound ({np.exp(value_at):.3g}): the "
                    "data do not determine it; predictions stay finite but lean on that limit.",
                    model=model,
                    parameter=name,
                    value=float(f"{np.exp(value_at):.3g}"),
                )
            )
    return Optimum(
        log_params=theta,
        log_likelihood=-value * scale,
        iterations=iterations,
        converged=best_converged,
        warnings=tuple(messages),
    )


def presolve(
    objective_on: Callable[[slice], Objective],
    rows: int,
    starts: Sequence[FloatArray],
    *,
    model: str,
    names: Sequence[str],
    weight: float,
) -> list[FloatArray]:
    """Starts for a large fit: first the optimum on a sample of the rows, then ``starts``.

    ``objective_on(rows)`` builds the objective restricted to a slice of the distinct rows;
    every k-th row is a deterministic sample spread over all of them (they come in hash
    order from _common.group_rows, or by x). Only a start: the full fit still has to pass
    its own convergence test.
    """
    found = _sample_optimum(objective_on, rows, starts, model=model, names=names, weight=weight)
    return list(starts) if found is None else [found[0].log_params, *starts]


def _sample_optimum(
    objective_on: Callable[[slice], Objective],
    rows: int,
    starts: Sequence[FloatArray],
    *,
    model: str,
    names: Sequence[str],
    weight: float,
) -> tuple[Optimum, Objective, int] | None:
    """(optimum, objective, k) on every k-th distinct row (``presolve``), or None for a fit
    small enough to need no sample, or a sample that does not fit."""
    if rows <= PRESOLVE_ROWS:
        return None
    step = rows // PRESOLVE_SAMPLE
    sampled = objective_on(slice(None, None, step))
    try:
        rough = maximise(sampled, starts, model=model, names=names, weight=weight / step)
    except ModelFitError:
        return None
    return rough, sampled, step


# The quasi-Newton finish of a large fit (``maximise_large``) stops when the largest
# |d(mean log-likelihood)/dθ| is below this: where L-BFGS-B's own stopping rule leaves the
# same fits (its last steps change the mean log-likelihood by less than rounding), so both
# reach the same optimum to ~10⁻⁷ in θ.
NEWTON_TOLERANCE = 1e-10
NEWTON_STEPS = 30


def maximise_large(
    objective: Objective,
    objective_on: Callable[[slice], Objective],
    rows: int,
    starts: Sequence[FloatArray],
    *,
    model: str,
    names: Sequence[str],
    weight: float,
    max_iterations: int = 3000,
    warm: tuple[FloatArray, FloatArray] | None = None,
) -> Optimum:
    """``maximise`` for many distinct rows, in far fewer evaluations of the full likelihood.

    L-BFGS-B learns the curvature from scratch and spends ~20 full evaluations even from
    the sample's optimum (``presolve``). Here the sample also gives the curvature: the
    Hessian of its log-likelihood at its optimum, scaled to the full data, starts a BFGS
    iteration on the full likelihood (full steps, halved while the likelihood would fall),
    which reaches the optimum in a handful of evaluations. Whenever that does not go
    cleanly (a parameter near its bound, a curvature that is not negative definite, no
    convergence within NEWTON_STEPS), the fit falls back on ``maximise`` from the best
    point found, so the answer is never worse; the convergence test is ``maximise``'s.

    ``warm`` = (θ, curvature per customer) of a fit on similar data (the same shop at a
    later cut-off) replaces the sample's: the iteration starts there and needs no sample
    fit; if it does not go cleanly, the fit goes on as without it, θ as a first start.
    """

    def full(begin: Sequence[FloatArray]) -> Optimum:
        return maximise(
            objective,
            begin,
            model=model,
            names=names,
            weight=weight,
            max_iterations=max_iterations,
        )

    if warm is not None:
        begin, per_customer = warm
        finished = _quasi_newton(objective, begin, per_customer, weight=weight)
        if finished is not None:
            theta, total, iterations = finished
            return Optimum(theta, total, iterations, converged=True, warnings=())
        starts = [begin, *starts]
    found = _sample_optimum(objective_on, rows, starts, model=model, names=names, weight=weight)
    if found is None:
        return full(starts)
    rough, sampled, step = found
    fallback = [rough.log_params, *starts]
    finished = None
    if not (np.abs(rough.log_params) >= LOG_BOUND - 1.0).any():
        with np.errstate(all="ignore"):
            curvature = -hessian(sampled, rough.log_params) * step / max(weight, 1.0)
        finished = _quasi_newton(objective, rough.log_params, curvature, weight=weight)
    if finished is None:
        return full(fallback)
    theta, total, iterations = finished
    return Optimum(
        log_params=theta,
        log_likelihood=total,
        iterations=rough.iterations + iterations,
        converged=True,
        warnings=(),
    )


def _quasi_newton(
    objective: Objective, theta: FloatArray, curvature: FloatArray, *, weight: float
) -> tuple[FloatArray, float, int] | None:
    """(θ, total log-likelihood, steps) at the full optimum, or None (``maximise_large``);
    ``curvature`` is minus the Hessian of the mean log-likelihood near θ."""
    scale = max(weight, 1.0)
    if (np.abs(theta) >= LOG_BOUND - 1.0).any():
        return None
    if not np.isfinite(curvature).all() or np.linalg.eigvalsh(curvature).min() <= 0:
        return None
    total, gradient = objective(theta)
    if not (np.isfinite(total) and np.isfinite(gradient).all()):
        return None
    g = gradient / scale
    for iteration in range(1, NEWTON_STEPS + 1):
        direction = np.linalg.solve(curvature, g)
        length = 1.0
        while True:
            moved = theta + length * direction
            if (np.abs(moved) >= LOG_BOUND - 1.0).any():
                return None
            new_total, new_gradient = objective(moved)
            if (
                np.isfinite(new_total)
                and np.isfinite(new_gradient).all()
                and new_total / scale >= total / scale - 1e-13 * abs(total / scale)
            ):
                break
            length /= 2
            if length < 1e-3:
                return None
        new_g = new_gradient / scale
        s, y = moved - theta, g - new_g
        theta, total, g = moved, new_total, new_g
        if np.abs(g).max() <= NEWTON_TOLERANCE:
            return theta, float(total), iteration
        sy = float(s @ y)
        if sy > 1e-300:
            bs = curvature @ s
            curvature = curvature + np.outer(y, y) / sy - np.outer(bs, bs) / float(s @ bs)
    return None


def hessian(objective: Objective, theta: FloatArray, step: float = 1e-4) -> FloatArray:
    """Hessian of the total log-likelihood in θ by forward differences of its gradient.

    Forward rather than central differences: half the evaluations, and an O(step) = 10⁻⁴
    relative error is immaterial for standard errors and intervals.
    """
    k = len(theta)
    matrix = np.empty((k, k))
    at = objective(theta)[1]
    for j in range(k):
        shift = np.zeros(k)
        shift[j] = step
        matrix[:, j] = (objective(theta + shift)[1] - at) / step
    return (matrix + matrix.T) / 2


def covariance(
    objective: Objective, optimum: Optimum, *, model: str, names: Sequence[str]
) -> tuple[FloatArray | None, tuple[str, ...]]:
    """Inverse observed information of the log-parameters, or None with a message.

    None when a parameter sits at its bound or the information is not positive definite
    (the likelihood is flat in some direction: the data cannot separate the parameters).
    """
    theta = optimum.log_params
    if (np.abs(theta) >= LOG_BOUND - 1e-3).any():
        return None, (
            f"{model}: no parameter covariance (a parameter is at its bound), so no interval.",
        )
    information = -hessian(objective, theta)
    if not np.isfinite(information).all():
        return None, (f"{model}: the parameter covariance could not be computed.",)
    eigenvalues = np.linalg.eigvalsh(information)
    if eigenvalues.min() <= 1e-10 * max(eigenvalues.max(), 1e-300):
        weakest = names[int(np.argmax(np.abs(np.linalg.eigh(information)[1][:, 0])))]
        return None, (
            f"{model}: the likelihood is flat along {weakest} (the data do not separate the "
            "parameters), so no parameter covariance and no interval.",
        )
    return np.asarray(np.linalg.inv(information), dtype=np.float64), ()
