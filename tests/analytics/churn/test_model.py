"""The churn model on a synthetic shop where who stopped buying is known: holdout AUC against
P(alive) alone, calibration, and the fallback for shops too small to train on."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from patron.analytics.churn.features import FEATURES, store_tables
from patron.analytics.churn.model import Calibrator, auc, brier, isotonic_fit, logistic_fit
from patron.analytics.churn.result import ChurnParams, ChurnResult, _number_texts, _plain
from patron.analytics.churn.scoring import (
    assign_bands,
    band_outcomes,
    cutoff_at,
    score_churn,
    shop_horizon,
)
from patron.core.errors import InvalidInput
from tests.analytics.churn.helpers import Population, Shop, synthetic_population

NOISE = 0.01  # AUC standard error with ~5,000 customers and ~50 % churn is about 0.007


@pytest.fixture(scope="module")
def population() -> Population:
    return synthetic_population(customers=6000, seed=11)


@pytest.fixture(scope="module")
def scored(population: Population) -> ChurnResult:
    return score_churn(population.con, as_of=population.as_of)


def test_holdout_auc_beats_p_alive_alone(scored: ChurnResult) -> None:
    report = scored.report
    assert report["mode"] == "model"
    evaluation = report["evaluation"]
    assert evaluation["available"]
    print(
        f"\nholdout ({evaluation['customers']} customers, churn rate "
        f"{evaluation['churn_rate']:.2f}): AUC {evaluation['auc']:.3f} vs P(alive) alone "
        f"{evaluation['auc_p_alive']:.3f}; Brier {evaluation['brier']:.3f} vs "
        f"{evaluation['brier_p_alive']:.3f}"
    )
    assert evaluation["auc"] >= evaluation["auc_p_alive"] - NOISE
    assert evaluation["brier"] < evaluation["brier_p_alive"]


def test_risk_ranks_the_customers_who_really_stopped_above_the_others(
    population: Population, scored: ChurnResult
) -> None:
    """Against the generator's truth (stopped for good before the scoring day), not the
    90-day label: the model's ranking is at least as good as P(alive)'s."""
    frame = scored.customers
    stopped = population.stopped[frame["customer_id"].to_numpy() - 1]
    auc_model = roc_auc_score(stopped, frame["churn_risk"])
    auc_alive = roc_auc_score(stopped, 1 - frame["p_alive"])
    print(f"\nknown churners: AUC {auc_model:.3f} vs P(alive) alone {auc_alive:.3f}")
    assert auc_model >= auc_alive - NOISE


def test_calibrated_risk_stays_in_0_1_and_matches_observed_churn(scored: ChurnResult) -> None:
    risk = scored.customers["churn_risk"].to_numpy()
    assert np.isfinite(risk).all()
    assert ((risk >= 0) & (risk <= 1)).all()
    for row in scored.report["evaluation"]["calibration"]:
        if row["customers"] >= 300:
            assert row["mean_risk"] == pytest.approx(row["churn_rate"], abs=0.1), row


def test_isotonic_calibration_also_stays_in_0_1(population: Population) -> None:
    result = score_churn(
        population.con, as_of=population.as_of, params=ChurnParams(calibration="isotonic")
    )
    risk = result.customers["churn_risk"].to_numpy()
    assert result.report["training"]["calibration"] == "isotonic"
    assert np.isfinite(risk).all() and risk.min() >= 0 and risk.max() <= 1


def test_every_customer_gets_values_bands_and_at_most_three_raising_reasons(
    scored: ChurnResult,
) -> None:
    frame = scored.customers
    for column in ("p_alive", "expected_purchases_90d", "clv_fen", "value_at_stake_fen"):
        values = frame[column].to_numpy(dtype=float)
        assert np.isfinite(values).all() and (values >= 0).all(), column
    assert set(frame["risk_band"]) <= {"low", "medium", "high", "lapsed"}
    high = frame["risk_band"] == "high"
    lapsed = frame["risk_band"] == "lapsed"
    assert (frame.loc[high, "churn_risk"] >= 0.5).all()
    # High is the riskiest of those not lapsed: nobody outside it outranks it.
    others = frame.loc[~high & ~lapsed, "churn_risk"]
    assert others.max() <= frame.loc[high, "churn_risk"].min()
    assert high.sum() <= max(20, 0.1 * (~lapsed).sum())
    assert sum(scored.report["bands"].values()) == len(frame)
    # A customer with the highest risk has reasons, each with its action.
    top = int(frame["churn_risk"].to_numpy().argmax())
    reasons = scored.reasons_at(top)
    assert 1 <= len(reasons) <= 3
    assert all(r.action for r in reasons)
    # Reasons come from features that raise the risk: positive coefficient × deviation.
    coefficients = {f["feature"]: f["coefficient"] for f in scored.report["features"]}
    assert coefficients["days_since_last"] != 0


def test_clv_is_zero_where_net_spend_is_not_positive() -> None:
    shop = Shop()
    day = date(2025, 6, 30)
    shop.customer(1)
    shop.order(1, day - timedelta(days=40), 5000, refund=5000)
    shop.order(1, day - timedelta(days=20), 5000, refund=5000)
    for cid in range(2, 12):
        shop.customer(cid)
        for back in (300, 200, 100, 10 + cid):
            shop.order(cid, day - timedelta(days=back), 8000)
    frame = score_churn(shop.connect(), as_of=day).customers.set_index("customer_id")
    assert frame.loc[1, "clv_fen"] == 0
    assert frame.loc[1, "value_at_stake_fen"] == 0
    assert (frame.loc[2:, "clv_fen"] > 0).all()


def test_a_tiny_shop_falls_back_on_p_alive_with_a_clear_message() -> None:
    shop = Shop()
    day = date(2025, 6, 30)
    for cid in range(1, 6):
        shop.customer(cid)
        for back in range(10 * cid, 400, 37 * cid):
            shop.order(cid, day - timedelta(days=back))
    result = score_churn(shop.connect(), as_of=day)
    report = result.report
    assert report["mode"] == "fallback"
    assert "1 − P(alive)" in report["message"]
    assert "customers at the training cut-off" in report["message"]
    assert report["evaluation"]["available"] is False
    frame = result.customers
    np.testing.assert_allclose(frame["churn_risk"], 1 - frame["p_alive"])
    assert np.isfinite(frame[["churn_risk", "p_alive"]].to_numpy()).all()


def test_a_shop_where_nobody_came_back_still_scores_without_nan() -> None:
    shop = Shop()
    day = date(2025, 6, 30)
    for cid in range(1, 4):
        shop.customer(cid)
        shop.order(cid, day - timedelta(days=30 * cid))
    result = score_churn(shop.connect(), as_of=day)
    assert result.report["mode"] == "fallback"
    assert "BG/NBD could not be fitted" in result.report["message"]
    assert np.isfinite(result.customers["churn_risk"].to_numpy()).all()
    assert [r.code for r in result.reasons_for(3)] == ["no_recent_purchase", "single_purchase"]


def test_bad_thresholds_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        ChurnParams(high_risk=0.3, medium_risk=0.5)
    assert caught.value.field == "medium_risk"


def test_each_reason_given_raises_that_customers_risk_on_the_side_it_speaks_of(
    population: Population, scored: ChurnResult
) -> None:
    """coef · z > 0 and the customer is above the mean for "high is bad" features (a long
    gap) or below it for "low is bad" ones (few purchases) — for every reason given."""
    features = list(FEATURES)
    now, _ = cutoff_at(population.con, population.as_of, store_tables(population.con), features)
    described = {f["feature"]: f for f in scored.report["features"]}
    by_reason = {f.reason: (j, f) for j, f in enumerate(features)}
    frame = scored.customers
    assert (now.ids == frame["customer_id"].to_numpy()).all()
    given = 0
    for slot in (1, 2, 3):
        codes = frame[f"reason_{slot}"].to_numpy()
        for code, (j, feature) in by_reason.items():
            rows = np.flatnonzero(codes == code)
            if not len(rows):
                continue
            d = described[feature.name]
            z = (np.nan_to_num(now.raw[rows, j], nan=d["mean"]) - d["mean"]) / d["scale"]
            assert (d["coefficient"] * z > 0).all(), code
            assert (feature.direction * z > 0).all(), code
            given += len(rows)
    assert given > len(frame) // 2


def test_reasons_as_json_text_are_each_rows_reasons_as_json_dumps_writes_them(
    scored: ChurnResult,
) -> None:
    texts = scored.reasons_json_text().to_pylist()
    rows = [[r.to_json() for r in scored.reasons_at(i)] for i in range(len(scored.customers))]
    assert any(len(reasons) == 3 for reasons in rows) and any(not r for r in rows)
    assert len(texts) == len(rows)
    for text, reasons in zip(texts, rows, strict=True):
        assert text == json.dumps(reasons)


def test_reason_numbers_as_json_text_are_what_plain_gives() -> None:
    values = np.array([3.0, 12.5, -0.0, np.nan, np.inf, -7.0, 0.1, 2.5e16, 1e-05])
    texts = _number_texts(values).to_pylist()
    assert [json.loads(t) for t in texts] == [_plain(v) for v in values]
    assert texts[:7] == [json.dumps(_plain(v)) for v in values[:7]]


def test_bands_put_the_long_silent_apart_and_size_high_as_a_ranked_share() -> None:
    params = ChurnParams(min_high_customers=2)
    risk = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.35, 0.2, 0.1, 0.99, 0.2])
    silent = np.array([10, 20, 5, 40, 10, 10, 10, 10, 10, 10, 400, 10], dtype=float)
    stake = np.arange(12)
    band = assign_bands(risk, silent, stake, horizon=60, params=params)
    # Silent for more than max(3 × 60, 180) days: lapsed, whatever the risk.
    assert band[10] == "lapsed"
    # Of the 11 others, the top 10 % (at least 2) by risk are high, the next 20 % medium.
    assert [i for i, b in enumerate(band) if b == "high"] == [0, 1]
    assert [i for i, b in enumerate(band) if b == "medium"] == [2, 3]
    assert band[4] == "low"
    # The floors hold even inside the share: a low-risk shop has no "high" list.
    calm = assign_bands(
        np.full(30, 0.2), np.full(30, 10.0), np.zeros(30), horizon=60, params=params
    )
    assert set(calm) == {"low"}


def test_the_horizon_follows_the_shops_usual_gap() -> None:
    params = ChurnParams()
    gaps = np.array([7.0, 14.0, 14.0, 21.0] * 10 + [np.nan] * 5)
    assert shop_horizon({"median_gap_days": gaps}, params) == (28, 14.0)
    slow = np.full(40, 200.0)
    assert shop_horizon({"median_gap_days": slow}, params) == (180, 200.0)
    assert shop_horizon({"median_gap_days": np.full(3, 10.0)}, params)[0] == 90


def test_band_outcomes_give_base_rate_band_churn_and_top_decile_lift() -> None:
    y = np.array([True] * 10 + [False] * 90)
    risk = np.linspace(1, 0, 100)
    band = np.array(["high"] * 10 + ["low"] * 90, dtype=object)
    out = band_outcomes(y, risk, band)
    assert out["base_rate"] == pytest.approx(0.1)
    assert out["top_decile"]["lift"] == pytest.approx(10.0)
    high = next(b for b in out["bands"] if b["band"] == "high")
    assert (high["customers"], high["churn_rate"]) == (10, 1.0)


def _classification(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    x[:, 2] *= 4.0
    x[:, 4] = 0.9 * x[:, 3] + 0.1 * x[:, 4]  # correlated, as gap_ratio and days_since_last are
    beta = np.array([1.0, -0.5, 0.2, 0.8, -0.6, 0.0])
    y = rng.random(rows) < 1.0 / (1.0 + np.exp(0.3 - x @ beta))
    return x, y


@pytest.mark.parametrize(("rows", "c"), [(3000, 1.0), (60_000, 1.0), (5000, 1e6)])
def test_logistic_fit_is_scikit_learns_logistic_regression(rows: int, c: float) -> None:
    """The same objective as LogisticRegression(C=c) (which stops at tol=1e-4 by default;
    at a tight tolerance the two agree to far below 1e-6)."""
    from sklearn.linear_model import LogisticRegression

    x, y = _classification(rows, seed=rows)
    coefficients, intercept = logistic_fit(x, y, c=c)
    reference = LogisticRegression(C=c, solver="newton-cholesky", max_iter=100, tol=1e-10)
    reference.fit(x, y)
    np.testing.assert_allclose(coefficients, reference.coef_[0], atol=1e-6)
    assert intercept == pytest.approx(float(reference.intercept_[0]), abs=1e-6)


def test_isotonic_calibration_is_scikit_learns_isotonic_regression() -> None:
    from sklearn.isotonic import IsotonicRegression

    x, y = _classification(20_000, seed=3)
    scores = np.round(x[:, 0] + x[:, 3], 2)  # many ties, as the calibration scores can have
    knots, levels = isotonic_fit(scores, y)
    reference = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    reference.fit(scores, y.astype(np.float64))
    ours = Calibrator("isotonic", knots=knots, levels=levels)
    grid = np.concatenate([scores, np.linspace(-20, 20, 4001)])
    np.testing.assert_allclose(ours.predict(grid), reference.predict(grid), atol=1e-12)


def test_auc_and_brier_are_scikit_learns() -> None:
    from sklearn.metrics import brier_score_loss

    x, y = _classification(10_000, seed=5)
    risk = 1.0 / (1.0 + np.exp(-x[:, 0]))
    for score in (risk, np.round(risk, 2), np.zeros(len(y))):
        assert auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert brier(y, risk) == pytest.approx(brier_score_loss(y, risk), abs=1e-12)
    assert auc(np.ones(5, dtype=bool), np.arange(5.0)) is None


def test_scoring_does_not_import_scikit_learn() -> None:
    """The nightly path stays free of scikit-learn (module doc of churn/model.py)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "from patron.analytics.churn.scoring import score_churn\n"
        "from tests.analytics.churn.helpers import synthetic_population\n"
        "shop = synthetic_population(customers=1500, seed=2)\n"
        "result = score_churn(shop.con, as_of=shop.as_of)\n"
        "assert result.report['mode'] == 'model', result.report['message']\n"
        "assert 'sklearn' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=root
    )
    assert done.returncode == 0, done.stderr


def test_earlier_cutoffs_p_alive_from_the_warm_start_is_the_cold_fits(
    population: Population, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training and evaluation cut-offs' BG/NBD starts from the scoring day's fit
    (value_scores.fit_purchases' ``warm_start``): the same P(alive) as fitted from scratch."""
    from patron.analytics.clv import _fitting
    from patron.analytics.value_scores import fit_purchases

    tables = store_tables(population.con)
    features = list(FEATURES)
    now, _ = cutoff_at(population.con, population.as_of, tables, features)
    later = fit_purchases(now.columns, with_covariance=True).fit
    assert later is not None and later.covariance is not None
    for back in (60, 120):
        earlier, _ = cutoff_at(
            population.con, population.as_of - timedelta(days=back), tables, features
        )
        cold = fit_purchases(earlier.columns, with_covariance=False)
        with monkeypatch.context() as patch:
            # The warm start alone: no L-BFGS-B fit from the fixed starts.
            patch.setattr(_fitting, "maximise", None)
            warm = fit_purchases(
                earlier.columns, with_covariance=False, warm_start=later, expected=False
            )
        assert warm.fit is not None and cold.fit is not None
        assert np.isnan(warm.expected_purchases_90d).all()
        np.testing.assert_allclose(warm.p_alive, cold.p_alive, rtol=1e-6, atol=1e-9)
        assert warm.fit.converged


def test_the_riskiest_are_the_head_of_the_stable_sort_ties_included() -> None:
    from patron.analytics.churn.scoring import _riskiest

    rng = np.random.default_rng(3)
    for n, count in ((1000, 100), (1000, 1), (50, 50), (7, 3)):
        # Few distinct values, so the edge of the head falls among ties.
        risk = rng.integers(0, 5, n).astype(np.float64) / 4
        expected = np.zeros(n, dtype=bool)
        expected[np.argsort(-risk, kind="stable")[:count]] = True
        np.testing.assert_array_equal(_riskiest(risk, count), expected)
