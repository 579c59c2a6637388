"""Score churn risk for every customer of the analytics store as of a day.

The horizon H follows the shop's own rhythm: ``horizon_factor`` (2) times the median of its
repeat customers' usual gaps (each customer's median days between purchase days), clamped
to [``min_horizon_days``, ``max_horizon_days``]; LABEL_DAYS (90) when fewer than
``min_class`` customers have a gap to measure. "Churned" is no purchase in the H days
after a cut-off — for a shop whose customers come back every three weeks, six weeks of
silence is already a loss, and for one where they come every two months it is not.

The time split (label window H):

- scoring: features up to ``as_of``, scored with the model trained at t1 = as_of − H;
- training: features up to t1, label = no purchase in (t1, as_of];
- evaluation: a model trained the same way one window earlier (features up to t2 = as_of −
  2H, label in (t2, t1]) is scored on features up to t1 against the label in (t1, as_of]:
  holdout AUC, Brier and a calibration table, next to 1 − P(alive) alone.

Every cut-off sees only purchases and refunds dated on or before it, and BG/NBD is refitted
at each cut-off, so no label leaks into the features. (The two earlier fits start from the
scoring day's optimum and curvature, which saves a fit on a sample; where they end is their
own data's optimum, to the convergence test, whatever the start.) The population is every customer with
a purchase on or before the cut-off. In a shop of more than ~375,000 such customers the two
earlier cut-offs (training and evaluation only) use a fixed hash sample of them, enough for
the training cap (model.MAX_TRAINING_CUSTOMERS); scoring always covers everyone.

Value at stake: churn risk × the 12-month CLV the customer would have if still active
(CLV / P(alive)), i.e. the value a win-back would keep.

Bands, sized for a store to work: a customer silent for more than ``lapsed_factor`` × H
(and at least ``min_lapsed_days``) is **lapsed** (gone already: a win-back campaign's
audience, not a call list). The others are ranked by risk (then value at stake); the top
``high_share`` of them (at least ``min_high_customers``, so a small shop still gets a list)
whose risk is at least ``high_risk`` are **high**, the next ``medium_share`` with risk at least ``medium_risk``
**medium**, the rest **low**. So "high" is a minority by construction, and the at-risk list
orders it by value at stake. The report gives the base rate, each band's size and — on the
holdout (the evaluation model's bands at t1 against what happened by as_of) — its observed
churn, and the top-decile lift: the churn rate of the riskiest tenth of the customers who
are not lapsed over theirs as a whole.

Too few customers or churners to train (a new or tiny shop): the risk is 1 − P(alive), and
the report says so; reasons are then the ones whose condition holds, in registry order.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from patron.analytics.churn.features import (
    FEATURES,
    Feature,
    available_features,
    store_tables,
)
from patron.analytics.churn.history import purchase_history
from patron.analytics.churn.model import (
    MAX_TRAINING_CUSTOMERS,
    ChurnModel,
    evaluate,
    train,
    trainable,
)
from patron.analytics.churn.result import (
    TOP_REASONS,
    ChurnParams,
    ChurnResult,
    FloatArray,
)
from patron.analytics.clv import round_to_fen
from patron.analytics.clv.warnings import ModelWarning, warning_json
from patron.analytics.value_scores import (
    PurchaseFit,
    ValueScores,
    fit_purchases,
    value_scores,
)
from patron.core.errors import InvalidInput

LABEL_DAYS = 90
BANDS = ("low", "medium", "high", "lapsed")


@dataclass(frozen=True, eq=False)
class _Cutoff:
    """Features and P(alive) of the population at one cut-off."""

    day: date
    columns: dict[str, npt.NDArray[Any]]
    raw: FloatArray  # model-scale feature values, rows × features

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        return self.columns["customer_id"]


class _Steps:
    """Seconds per step of the scoring, summed over the cut-offs, for the report: wall
    time and the process's CPU time (every thread's, DuckDB's included), which a loaded
    machine inflates far less.

    CLV and the holdout evaluation run in threads of their own beside the scoring (CLV
    needs only the scoring day's BG/NBD fit, the evaluation the training cut-off): a step
    timed in another thread than the one that made the steps counts that thread's CPU, and
    the steps they run beside count some of it too, so the steps' CPU add up to more than
    the run's."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._home = threading.get_ident()
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        beside = threading.get_ident() != self._home
        clock = time.thread_time if beside else time.process_time
        started, cpu = time.perf_counter(), clock()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            used = clock() - cpu
            with self._lock:
                self.seconds[name] = round(self.seconds.get(name, 0.0) + spent, 3)
                self.cpu_seconds[name] = round(self.cpu_seconds.get(name, 0.0) + used, 3)


def _at(
    day: date,
    columns: dict[str, npt.NDArray[Any]],
    features: list[Feature],
    steps: _Steps | None = None,
    *,
    with_covariance: bool = False,
    later: PurchaseFit | None = None,
) -> tuple[_Cutoff, PurchaseFit]:
    """The population at one cut-off from its purchase columns: BG/NBD fitted on them,
    P(alive) and the model's features. ``later``: the fit at the scoring day, for an
    earlier cut-off's fit to start from; the expected purchases, which nothing reads at
    the earlier cut-offs, are then left out."""
    steps = steps or _Steps()
    with steps("bgnbd"):
        purchases = fit_purchases(
            columns,
            with_covariance=with_covariance,
            warm_start=later.fit if later is not None else None,
            expected=later is None,
        )
    columns["p_alive"] = purchases.p_alive
    with steps("features"):
        raw = _raw(columns, features)
    return _Cutoff(day=day, columns=columns, raw=raw), purchases


def _clv(
    steps: _Steps, purchases: Any, columns: dict[str, npt.NDArray[Any]], params: ChurnParams
) -> ValueScores:
    with steps("clv"):
        return value_scores(
            purchases,
            columns,
            horizon_months=params.clv_horizon_months,
            monthly_discount_rate=params.monthly_discount_rate,
        )


_T = TypeVar("_T")


def _beside(work: Callable[..., _T], *args: Any) -> Future[_T]:
    """``work(*args)`` started in a thread of its own (NumPy and SciPy release the GIL in
    their loops, so on two cores it runs beside the caller); ``result()`` waits for it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn")
    try:
        return pool.submit(work, *args)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the work does


def _holdout(
    steps: _Steps,
    day: date,
    columns: dict[str, npt.NDArray[Any]],
    t1: _Cutoff,
    now: _Cutoff,
    features: list[Feature],
    params: ChurnParams,
    horizon: int,
    later: PurchaseFit,
) -> dict[str, Any]:
    """The holdout evaluation (module doc): a model trained at ``day`` (t2) on the label in
    (t2, t1], scored on t1's features against the label in (t1, as_of]."""
    t2, _ = _at(day, columns, features, steps, later=later)
    with steps("training"):
        eval_model, eval_why_not = _fit_at(t2, t1, features, params)
    if eval_model is None:
        return {"available": False, "message": f"no holdout evaluation: {eval_why_not}"}
    y = _churned_after(t1, now)
    held_risk = eval_model.predict(t1.raw)
    held_bands = assign_bands(
        held_risk,
        t1.columns["days_since_last"],
        np.zeros(len(held_risk)),
        horizon=horizon,
        params=params,
    )
    return {
        "available": True,
        "features_up_to": t1.day.isoformat(),
        "trained_at_cutoff": t2.day.isoformat(),
        "label_window": [t1.day.isoformat(), now.day.isoformat()],
        **evaluate(y, held_risk, t1.columns["p_alive"]),
        "outcomes": band_outcomes(y, held_risk, held_bands),
    }


def cutoff_at(
    con: Any, day: date, tables: set[str], features: list[Feature], *, upto: date | None = None
) -> tuple[_Cutoff, Any]:
    """One cut-off's population on its own, its columns from the orders read up to ``upto``
    (default: the cut-off), as scoring reads them."""
    with purchase_history(con, upto=upto or day, tables=tables) as history:
        [columns] = history.columns_at([day])
    return _at(day, columns, features)


def _raw(columns: dict[str, npt.NDArray[Any]], features: list[Feature]) -> FloatArray:
    n = len(columns["customer_id"])
    raw = np.empty((n, len(features)))
    with np.errstate(all="ignore"):
        for j, feature in enumerate(features):
            raw[:, j] = feature.value(columns)
    raw[~np.isfinite(raw)] = np.nan
    return raw


def _churned_after(earlier: _Cutoff, later: _Cutoff) -> npt.NDArray[np.bool_]:
    """For each customer of ``earlier``: no purchase in (earlier.day, later.day]."""
    window = (later.day - earlier.day).days
    pos = np.searchsorted(later.ids, earlier.ids)
    # Everyone with a purchase by the earlier cut-off is in the later population too.
    bought = later.columns["days_since_last"][pos] < window
    return np.asarray(~bought, dtype=np.bool_)


def _fit_at(
    base: _Cutoff, labels_from: _Cutoff, features: list[Feature], params: ChurnParams
) -> tuple[ChurnModel | None, str | None]:
    y = _churned_after(base, labels_from)
    why_not = trainable(y, min_customers=params.min_customers, min_class=params.min_class)
    if why_not is not None:
        return None, why_not
    model = train(
        base.raw,
        y,
        features=tuple(f.name for f in features),
        calibration=params.calibration,
        seed=params.seed,
    )
    return model, None


def _top_reasons(
    columns: dict[str, npt.NDArray[Any]],
    features: list[Feature],
    standardised: tuple[FloatArray, FloatArray] | None,
) -> tuple[list[pd.Series], list[pd.Series], dict[str, dict[str, FloatArray]]]:
    """Reason and action codes (top 3 per row) and the numbers of every reason.

    With a model: features whose condition holds, on the side of the mean the reason speaks
    of (``Feature.direction``), and whose contribution coef · z raises the risk, largest
    first. Without: those whose condition holds, in registry order. Ties go to the
    earlier feature in the registry, so the result is deterministic.

    ``standardised`` (the model's z and coef · z, rows × features) is the caller's to give
    away: the strengths are written over the contributions, so no array of that size is
    made here.
    """
    n = len(columns["customer_id"])
    k = len(features)
    applies = np.zeros((n, k), dtype=bool)
    numbers: dict[str, dict[str, FloatArray]] = {}
    with np.errstate(all="ignore"):
        for j, feature in enumerate(features):
            applies[:, j] = feature.applies(columns)
            numbers[feature.reason] = {
                name: np.asarray(values, dtype=np.float64)
                for name, values in feature.numbers(columns).items()
            }
    if standardised is not None:
        z, contributions = standardised  # the model's z and coef · z of each row
        # A reason is said where it applies, its contribution raises the risk and z is on
        # the side of the mean it speaks of (z · direction > 0).
        said = applies
        said &= contributions > 0
        for j, feature in enumerate(features):
            if feature.direction > 0:
                said[:, j] &= z[:, j] > 0
            elif feature.direction < 0:
                said[:, j] &= z[:, j] < 0
            else:
                said[:, j] = False
        strength = contributions
        np.copyto(strength, -np.inf, where=~said)
    else:
        strength = np.where(applies, np.arange(k, 0, -1, dtype=np.float64)[None, :], -np.inf)
    # The strongest left, TOP_REASONS times: argmax takes the first of equals, so registry
    # order decides ties (as a stable sort on −strength would, at a fraction of its cost).
    rows = np.arange(n)
    reasons, actions = [], []
    for slot in range(TOP_REASONS):
        if slot < k:
            best = np.argmax(strength, axis=1)
            index = np.where(np.isfinite(strength[rows, best]), best, k)
            strength[rows, best] = -np.inf
        else:
            index = np.full(n, k)
        reasons.append(_text_column(index, [f.reason for f in features]))
        actions.append(_text_column(index, [f.action for f in features]))
    return reasons, actions, numbers


def _text_column(index: npt.NDArray[Any], names: list[str]) -> pd.Series:
    """``names[index]`` per row (missing where ``index`` is ``len(names)``) as pandas' string
    column, made by Arrow from the indices: no Python string per row to convert."""
    import pyarrow as pa

    missing = index >= len(names)
    codes = pa.array(np.where(missing, 0, index).astype(np.int32), mask=missing)
    texts = pa.DictionaryArray.from_arrays(codes, pa.array(names, type=pa.string()))
    return pd.Series(texts.cast(pa.string()), dtype="str")


def shop_horizon(
    columns: Mapping[str, npt.NDArray[Any]], params: ChurnParams
) -> tuple[int, float | None]:
    """(H in days, the shop's usual gap or None): module doc."""
    gaps = np.asarray(columns["median_gap_days"], dtype=np.float64)
    measured = gaps[np.isfinite(gaps) & (gaps > 0)]
    if len(measured) < params.min_class:
        return LABEL_DAYS, None
    usual = float(np.median(measured))
    horizon = round(params.horizon_factor * usual)
    return int(min(max(horizon, params.min_horizon_days), params.max_horizon_days)), usual


def lapsed_after(horizon: int, params: ChurnParams) -> int:
    """Days of silence after which a customer is lapsed."""
    return max(round(params.lapsed_factor * horizon), params.min_lapsed_days)


def assign_bands(
    risk: FloatArray,
    days_since_last: FloatArray,
    value_at_stake: npt.NDArray[Any],
    *,
    horizon: int,
    params: ChurnParams,
) -> npt.NDArray[Any]:
    """Each customer's band (module doc): lapsed by silence, then high and medium by rank
    of risk (ties: more value at stake first) among the others, with the risk floors."""
    n = len(risk)
    code = np.zeros(n, dtype=np.int8)  # places in BANDS: low
    lapsed = days_since_last > lapsed_after(horizon, params)
    code[lapsed] = BANDS.index("lapsed")
    active = np.flatnonzero(~lapsed)
    n_high = min(
        max(math.floor(params.high_share * len(active)), params.min_high_customers), len(active)
    )
    n_medium = math.floor(params.medium_share * len(active))
    ranked = min(n_high + n_medium, len(active))
    # Only the first ``ranked`` of the order are needed: the customers whose risk reaches the
    # ranked-th largest (ties included), in their ascending order, then sorted stably as the
    # whole list would be, give exactly the whole list's head.
    if 0 < ranked < len(active):
        floor = np.partition(risk[active], len(active) - ranked)[len(active) - ranked]
        active = active[risk[active] >= floor]
    order = active[
        np.lexsort((-np.asarray(value_at_stake, dtype=np.float64)[active], -risk[active]))
    ][:ranked]
    high = order[:n_high]
    high = high[risk[high] >= params.high_risk]
    medium = order[n_high : n_high + n_medium]
    medium = medium[risk[medium] >= params.medium_risk]
    code[high] = BANDS.index("high")
    code[medium] = BANDS.index("medium")
    return np.asarray(np.array(BANDS, dtype=object)[code])


def band_outcomes(
    y: npt.NDArray[np.bool_], risk: FloatArray, band: npt.NDArray[Any]
) -> dict[str, Any]:
    """Base rate, each band's size and observed churn, and the top-decile lift among the
    customers who are not lapsed (and among all, for comparison)."""
    rows = []
    for name in BANDS:
        inside = band == name
        n = int(inside.sum())
        rows.append(
            {
                "band": name,
                "customers": n,
                "churned": int(y[inside].sum()),
                "churn_rate": float(y[inside].mean()) if n else None,
            }
        )
    active = band != "lapsed"

    def lift(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
        n = int(mask.sum())
        if n < 10 or not y[mask].any():
            return {"customers": n, "top_decile_customers": 0, "lift": None}
        base = float(y[mask].mean())
        idx = np.flatnonzero(mask)
        top = _riskiest(risk[idx], max(1, n // 10))
        rate = float(y[idx][top].mean())
        return {
            "customers": n,
            "base_rate": base,
            "top_decile_customers": int(top.sum()),
            "top_decile_churn_rate": rate,
            "lift": rate / base if base > 0 else None,
        }

    return {
        "base_rate": float(y.mean()) if len(y) else None,
        "bands": rows,
        "top_decile": lift(active),
        "top_decile_all": lift(np.ones(len(y), dtype=bool)),
    }


def _riskiest(risk: FloatArray, count: int) -> npt.NDArray[np.bool_]:
    """The ``count`` highest risks, ties at the edge going to the earlier rows: the head of
    a stable sort by descending risk, found by a partition instead of the whole sort."""
    n = len(risk)
    chosen = np.zeros(n, dtype=np.bool_)
    if count >= n or np.isnan(risk).any():
        chosen[np.argsort(-risk, kind="stable")[:count]] = True
        return chosen
    floor = np.partition(risk, n - count)[n - count]
    chosen = risk > floor
    edge = risk == floor
    chosen |= edge & (np.cumsum(edge) <= count - int(chosen.sum()))
    return chosen


def score_churn(con: Any, *, as_of: date, params: ChurnParams | None = None) -> ChurnResult:
    """Churn risk, P(alive), CLV, value at stake, band and reasons for every customer with a
    purchase on or before ``as_of``, with the model report (module doc).

    OpenBLAS is held to one thread for the scoring only (every thread of the process, the
    CLV thread's included; restored after): nothing here is a product large enough to
    gain from a second BLAS thread, while SciPy's L-BFGS-B (the sample and Gamma-Gamma
    fits) wakes OpenBLAS's idle thread, which then spins on the other core (about 0.1 CPU
    s a fit, beside the likelihood threads of clv/_fitting.py).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _score_churn(con, as_of=as_of, params=params or ChurnParams())


def _score_churn(con: Any, *, as_of: date, params: ChurnParams) -> ChurnResult:
    started = time.perf_counter()
    tables = store_tables(con)
    for needed in ("orders", "refunds", "customers"):
        if needed not in tables:
            raise InvalidInput("con", f"the analytics store has no {needed} table")
    features, unavailable = available_features(tables)
    steps = _Steps()
    # The orders are read once (churn/history.py); the scoring day's columns give the
    # horizon, which places the two earlier cut-offs, computed together.
    with ExitStack() as held:
        with steps("features_sql"):
            history = held.enter_context(purchase_history(con, upto=as_of, tables=tables))
            [columns_now] = history.columns_at([as_of])
        now, purchases_now = _at(as_of, columns_now, features, steps, with_covariance=True)
        clv_job = _beside(_clv, steps, purchases_now, now.columns, params)
        horizon, usual_gap = shop_horizon(now.columns, params)
        window = timedelta(days=horizon)
        # Training never uses more than MAX_TRAINING_CUSTOMERS, so in a big shop the earlier
        # cut-offs are computed for a fixed sample of customers only (with room to spare).
        sample = min(1000, math.ceil(1000 * 1.5 * MAX_TRAINING_CUSTOMERS / max(len(now.ids), 1)))
        with steps("features_sql"):
            columns_t1, columns_t2 = history.columns_at(
                [as_of - window, as_of - 2 * window], sample_per_mille=sample
            )
    t1, purchases_t1 = _at(as_of - window, columns_t1, features, steps, later=purchases_now)
    # The holdout evaluation (the earliest cut-off's fit, its model, its figures on t1)
    # needs nothing the scoring makes: it runs beside it.
    holdout_job = _beside(
        _holdout,
        steps,
        as_of - 2 * window,
        columns_t2,
        t1,
        now,
        features,
        params,
        horizon,
        purchases_now,
    )
    del columns_t1, columns_t2  # held by t1 and the evaluation, which go once they are done

    warnings: list[str] = list(purchases_now.warnings)
    if usual_gap is None:
        warnings.append(
            ModelWarning(
                "horizon_unmeasured",
                f"Too few repeat customers to measure the shop's purchase rhythm: churn is "
                f"no purchase in {LABEL_DAYS} days.",
                days=LABEL_DAYS,
            )
        )
    with steps("training"):
        model, why_not = _fit_at(t1, now, features, params)
    # t1's columns are not needed past here but by the evaluation, which holds them till done.
    t1_day = t1.day
    del t1

    p_alive = now.columns["p_alive"]
    standardised = None
    if model is not None:
        z = model.standardise(now.raw)
        standardised = (z, z * model.coefficients)
        del z
        risk = model.predict_contributions(standardised[1])
        mode = "model"
        message = (
            f"Logistic regression on {len(features)} features, trained on "
            f"{model.training_customers} customers at {t1_day.isoformat()} "
            f"({model.training_churned} churned), {params.calibration} calibration on "
            f"{model.calibration_customers} of them."
        )
    else:
        risk = 1.0 - p_alive
        mode = "fallback"
        message = f"Churn risk is 1 − P(alive) from BG/NBD: no model was trained because {why_not}."
        if purchases_now.fit is None:
            message += " BG/NBD could not be fitted either, so P(alive) is 1 and risk 0."
    risk = np.clip(np.nan_to_num(risk, nan=0.0), 0.0, 1.0)

    values = clv_job.result()
    evaluation = holdout_job.result()
    warnings.extend(values.warnings)
    at_stake = round_to_fen(risk * values.clv_if_active_fen)
    band = assign_bands(
        risk, now.columns["days_since_last"], at_stake, horizon=horizon, params=params
    )
    with steps("reasons"):
        # The z and contributions go to the reasons, which write over them.
        reasons, actions, numbers = _top_reasons(now.columns, features, standardised)
        standardised = None
    frame = pd.DataFrame(
        {
            "customer_id": now.ids,
            "churn_risk": risk,
            "p_alive": p_alive,
            "expected_purchases_90d": purchases_now.expected_purchases_90d,
            "clv_fen": values.clv_fen,
            "value_at_stake_fen": at_stake,
            "risk_band": band,
            **{f"reason_{k + 1}": reasons[k] for k in range(TOP_REASONS)},
            **{f"action_{k + 1}": actions[k] for k in range(TOP_REASONS)},
        }
    )
    report = {
        "as_of": as_of.isoformat(),
        "mode": mode,
        "message": message,
        "label": f"no purchase in the {horizon} days after the cut-off",
        "horizon_days": horizon,
        "usual_gap_days": usual_gap,
        "lapsed_after_days": lapsed_after(horizon, params),
        "training_sample_per_mille": sample,
        "params": params.to_json(),
        "customers": len(frame),
        "bands": {b: int((band == b).sum()) for b in BANDS},
        "features": (
            model.describe()
            if model is not None
            else [{"feature": f.name, "coefficient": None} for f in features]
        ),
        "feature_descriptions": {f.name: f.description for f in FEATURES},
        "unavailable_features": unavailable,
        "training": (
            {
                "cutoff": t1_day.isoformat(),
                "customers": model.training_customers,
                "churned": model.training_churned,
                "calibration": params.calibration,
                "calibration_customers": model.calibration_customers,
            }
            if model is not None
            else {"cutoff": t1_day.isoformat(), "trained": False, "message": why_not}
        ),
        "evaluation": evaluation,
        "bgnbd": purchases_now.report(),
        "bgnbd_at_training_cutoff": purchases_t1.report(),
        "gamma_gamma": values.spend_report,
        "warnings": [warning_json(w) for w in dict.fromkeys(warnings)],
        "seconds": round(time.perf_counter() - started, 3),
        "steps": steps.seconds,
        "steps_cpu": steps.cpu_seconds,
    }
    return ChurnResult(as_of=as_of, report=_json_safe(report), customers=frame, numbers=numbers)


def _json_safe(value: Any) -> Any:
    """NaN and infinities (e.g. an undefined standard error) as None, numpy as Python."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
