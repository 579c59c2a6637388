"""Training a sentiment model: from scratch on labelled texts, or on top of another model
with a shop's own labelled feedback.

From scratch, the recipe is NB-SVM (a linear SVM on TF-IDF scaled by naive-Bayes
log-count ratios), averaged with a linear SVM or a logistic regression on the plain TF-IDF,
each margin divided by its spread on the training texts. All are linear in the same
features, so the average is one weight vector: the model file stays as small and as fast
as one model. The NB-SVM's C, and which partner joins it (if any), are chosen on a split
held out of the training texts (stratified by category and label), never on texts the
model is later scored on; the calibration (margin → probability) is fitted on that split
too. Then the chosen recipe is fitted again on every text.

On top of a model (``base``), a logistic regression learns how much to trust the base's
margin and a correction per n-gram, strongly regularised, so that a few hundred of a
shop's texts move it where they disagree and leave it alone elsewhere.

Run ``python -m patron.support.feedback.train --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from patron.support.exceptions import InvalidFeedback
from patron.support.feedback.sentiment import (
    FeatureSpec,
    Featuriser,
    SentimentModel,
    fit_idf,
    nb_ratios,
    shipped_path,
    tfidf,
)

Progress = Callable[[str], None]


PARTNERS = ("none", "svm", "lr")


@dataclass(frozen=True, slots=True)
class Recipe:
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    svm_cs: tuple[float, ...] = (1.0,)  # NB-SVM's C; more values are tried on the split
    # What may join the NB-SVM, also chosen there: nothing, a linear SVM or a logistic
    # regression on the plain TF-IDF
    partners: tuple[str, ...] = PARTNERS
    partner_svm_c: float = 0.5
    partner_lr_c: float = 30.0
    adapt_cs: tuple[float, ...] = (0.3, 1.0, 3.0)  # on top of a base model
    validation: float = 0.2
    seed: int = 20
    min_per_class: int = 10


@dataclass(frozen=True, slots=True)
class _Fit:
    """One fitted candidate: margin = tfidf · weights + bias."""

    weights: np.ndarray
    bias: float


def _quiet(fit: Callable[[], Any]) -> Any:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # liblinear may stop at its iteration cap a hair short of the optimum on big C
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


def _nbsvm(x: sp.csr_matrix, counts: sp.csr_matrix, y: np.ndarray, c: float) -> _Fit:
    from sklearn.svm import LinearSVC

    r = nb_ratios(counts, y)
    model = _quiet(lambda: LinearSVC(C=c, max_iter=3000).fit(x @ sp.diags(r), y))
    return _Fit(r * model.coef_.ravel().astype(np.float32), float(model.intercept_[0]))


def _logistic(x: sp.csr_matrix, y: np.ndarray, c: float) -> _Fit:
    """An L2 logistic regression fitted on the columns some text uses only: a column no
    text has gets weight 0 at the optimum whatever the others do, and leaving the hash
    space's empty columns out makes each solver step cost what the texts hold, not the
    2^21 buckets (a shop's few hundred texts use a few thousand)."""
    from sklearn.linear_model import LogisticRegression

    used = np.unique(x.indices)
    model = _quiet(
        lambda: LogisticRegression(C=c, solver="liblinear", max_iter=500).fit(x[:, used], y)
    )
    weights = np.zeros(x.shape[1], dtype=np.float64)
    weights[used] = model.coef_.ravel()
    return _Fit(weights, float(model.intercept_[0]))


def _lr(x: sp.csr_matrix, y: np.ndarray, c: float) -> _Fit:
    fitted = _logistic(x, y, c)
    return _Fit(fitted.weights.astype(np.float32), fitted.bias)


def _svm(x: sp.csr_matrix, y: np.ndarray, c: float) -> _Fit:
    from sklearn.svm import LinearSVC

    model = _quiet(lambda: LinearSVC(C=c, max_iter=3000).fit(x, y))
    return _Fit(model.coef_.ravel().astype(np.float32), float(model.intercept_[0]))


def _partner(kind: str, x: sp.csr_matrix, y: np.ndarray, recipe: Recipe) -> _Fit | None:
    if kind == "svm":
        return _svm(x, y, recipe.partner_svm_c)
    if kind == "lr":
        return _lr(x, y, recipe.partner_lr_c)
    return None


def _spread(fit: _Fit, x: sp.csr_matrix) -> float:
    margins = np.asarray(x @ fit.weights).ravel() + fit.bias
    return float(np.std(margins)) or 1.0


def _blend(parts: Sequence[tuple[_Fit, float]]) -> _Fit:
    weights = sum((f.weights / s for f, s in parts), start=np.zeros_like(parts[0][0].weights))
    return _Fit(weights.astype(np.float32), sum(f.bias / s for f, s in parts))


def _split(n: int, strata: Sequence[str], share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    try:
        fit, held = train_test_split(index, test_size=share, stratify=strata, random_state=seed)
    except ValueError:  # a stratum with a single text: split by label alone
        fit, held = train_test_split(index, test_size=share, random_state=seed)
    return np.sort(fit), np.sort(held)


def _platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """P(positive | margin) = sigmoid(slope · margin + intercept), fitted by maximum
    likelihood (a nearly unregularised one-feature logistic regression)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4).fit(margins.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _check(labels: np.ndarray, recipe: Recipe) -> None:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if min(positives, negatives) < recipe.min_per_class:
        raise InvalidFeedback(
            "label",
            f"needs at least {recipe.min_per_class} positive and {recipe.min_per_class} "
            f"negative texts (has {positives} and {negatives})",
        )


def train(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    categories: Sequence[str] | None = None,
    recipe: Recipe = Recipe(),
    counts: sp.csr_matrix | None = None,
    about: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> SentimentModel:
    """A model trained from scratch on ``texts`` (labels 1 positive, 0 negative).

    ``counts`` may carry the texts' n-gram counts already made with ``recipe.spec`` (hashing
    depends on nothing learnt, so a benchmark featurises once and slices per fold).
    """
    say = progress or (lambda _m: None)
    y = np.asarray(labels, dtype=np.int8)
    _check(y, recipe)
    if counts is None:
        say(f"reading the n-grams of {len(texts):,} texts")
        counts = Featuriser(recipe.spec).counts(texts)
    strata = [f"{c}|{v}" for c, v in zip(categories or [""] * len(y), y, strict=True)]
    fit_at, held_at = _split(len(y), strata, recipe.validation, recipe.seed)

    # 1. choose on the validation split
    idf = fit_idf(counts[fit_at])
    x_fit, x_held = tfidf(counts[fit_at], idf), tfidf(counts[held_at], idf)
    y_fit, y_held = y[fit_at], y[held_at]
    partners = {k: _partner(k, x_fit, y_fit, recipe) for k in recipe.partners}
    spreads = {k: _spread(f, x_fit) for k, f in partners.items() if f is not None}
    results: list[tuple[float, float, str, _Fit]] = []
    for c in recipe.svm_cs:
        svm = _nbsvm(x_fit, counts[fit_at], y_fit, c)
        svm_spread = _spread(svm, x_fit)
        for kind, partner in partners.items():
            parts = [(svm, svm_spread)]
            if partner is not None:
                parts.append((partner, spreads[kind]))
            blend = _blend(parts)
            margins = np.asarray(x_held @ blend.weights).ravel() + blend.bias
            accuracy = float(((margins > 0) == y_held).mean())
            say(f"  NB-SVM C={c:g} + {kind}: validation accuracy {accuracy:.4f}")
            results.append((accuracy, c, kind, blend))
    # the best; on a tie the simpler (fewer parts, then the smaller C)
    order = {k: i for i, k in enumerate(PARTNERS)}
    accuracy, c, kind, chosen = max(results, key=lambda r: (r[0], -order[r[2]], -r[1]))
    held_margins = np.asarray(x_held @ chosen.weights).ravel() + chosen.bias
    slope, intercept = _platt(held_margins, y_held)

    # 2. the chosen recipe on every text
    say(f"fitting NB-SVM C={c:g} + {kind} on all {len(y):,} texts")
    idf = fit_idf(counts)
    x = tfidf(counts, idf)
    svm = _nbsvm(x, counts, y, c)
    final_parts = [(svm, _spread(svm, x))]
    partner = _partner(kind, x, y, recipe)
    if partner is not None:
        final_parts.append((partner, _spread(partner, x)))
    final = _blend(final_parts)
    return SentimentModel(
        spec=recipe.spec,
        idf=idf,
        weights=final.weights,
        bias=final.bias,
        slope=slope,
        intercept=intercept,
        about={
            **(about or {}),
            "method": "NB-SVM" + {"none": "", "svm": " + SVM", "lr": " + LR"}[kind],
            "svm_c": c,
            "partner": kind,
            "texts": len(y),
            "positive": int(y.sum()),
            "validation_share": recipe.validation,
            "validation_accuracy": round(accuracy, 4),
            "seed": recipe.seed,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def adapt(
    base: SentimentModel,
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    categories: Sequence[str] | None = None,
    recipe: Recipe = Recipe(),
    about: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> SentimentModel:
    """``base`` corrected by a shop's own labelled texts (see the module's note). Its
    validation accuracy, and the base's on the same texts, are kept in ``about``."""
    say = progress or (lambda _m: None)
    y = np.asarray(labels, dtype=np.int8)
    _check(y, recipe)
    counts = base.featuriser.counts(texts)
    x = tfidf(counts, base.idf)
    base_margin = np.asarray(x @ base.weights).ravel() + base.bias
    # The base's margin as one more column, scaled up so that the penalty on the n-gram
    # corrections barely touches how much it is trusted.
    scale = 10.0
    design = sp.hstack([x, sp.csr_matrix(base_margin.reshape(-1, 1) * scale)]).tocsr()
    strata = [f"{c}|{v}" for c, v in zip(categories or [""] * len(y), y, strict=True)]
    fit_at, held_at = _split(len(y), strata, recipe.validation, recipe.seed)
    base_accuracy = float(((base_margin[held_at] > 0) == y[held_at]).mean())
    best: tuple[float, float] | None = None
    for c in recipe.adapt_cs:
        fitted = _logistic(design[fit_at], y[fit_at], c)
        margins = np.asarray(design[held_at] @ fitted.weights).ravel() + fitted.bias
        accuracy = float(((margins > 0) == y[held_at]).mean())
        say(f"  C={c:g}: validation accuracy {accuracy:.4f} (the base alone: {base_accuracy:.4f})")
        if best is None or accuracy > best[0]:
            best = (accuracy, c)
    assert best is not None
    accuracy, c = best
    fitted = _logistic(design, y, c)
    coef = fitted.weights
    trust = float(coef[-1]) * scale
    weights = (coef[:-1] + trust * base.weights).astype(np.float32)
    bias = fitted.bias + trust * base.bias
    return SentimentModel(
        spec=base.spec,
        idf=base.idf,
        weights=weights,
        bias=bias,
        about={
            **(about or {}),
            "method": "adapted",
            "base": base.about,
            "adapt_c": c,
            "texts": len(y),
            "positive": int(y.sum()),
            "validation_share": recipe.validation,
            "validation_accuracy": round(accuracy, 4),
            "base_validation_accuracy": round(base_accuracy, 4),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


SHARED_SET_ABOUT = {
    "data": "online_shopping_10_cats (ChineseNlpCorpus, SophonPlus): the 50,406-review "
    "development part kept beside the project",
    "data_licence": "no licence stated by the collection; the model keeps no text from it",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m patron.support.feedback.train",
        description="Train a sentiment model on a CSV of labelled texts (columns review/评价, "
        "label/标签 as 1/0 or 正面/负面, optionally cat/类别).",
    )
    parser.add_argument("reviews", type=Path, help="the labelled CSV (UTF-8 or GBK)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the model (default: sentiment.npz in the data directory, "
        "which Patron then uses instead of the shipped one)",
    )
    parser.add_argument(
        "--on-top",
        action="store_true",
        help="adapt the shipped model with these texts rather than start from scratch "
        "(for a few hundred or thousand of a shop's own texts)",
    )
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="write the model Patron ships (to the package; for its maintainers)",
    )
    args = parser.parse_args(argv)
    from patron.support.feedback.labelled import read_labelled

    try:
        data = read_labelled(args.reviews)
        for reject in data.rejects[:10]:
            print(f"row {reject.row}, {reject.column}: {reject.reason} (left out)")
        if len(data.rejects) > 10:
            print(f"… and {len(data.rejects) - 10} more rows left out")
        started = time.perf_counter()
        if args.on_top:
            model = adapt(
                SentimentModel.load(shipped_path()),
                data.texts,
                data.labels,
                categories=data.categories,
                about={"data": args.reviews.name},
                progress=print,
            )
        else:
            model = train(
                data.texts,
                data.labels,
                categories=data.categories,
                about=SHARED_SET_ABOUT if args.shipped else {"data": args.reviews.name},
                progress=print,
            )
        if args.shipped:
            out = shipped_path()
        elif args.out is not None:
            out = args.out
        else:
            from patron.core.settings import get_settings

            out = Path(get_settings().data_dir) / "sentiment.npz"
        model.save(out)
    except InvalidFeedback as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    print(
        f"{model.about['method']} on {len(data):,} texts, validation accuracy "
        f"{model.about['validation_accuracy']:.4f}, in {time.perf_counter() - started:.0f} s"
    )
    print(f"written to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print(f"features: {asdict(model.spec)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
