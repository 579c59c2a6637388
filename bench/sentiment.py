"""Sentiment of Chinese reviews: accuracy and macro-F1, overall and per category, and the
time per 1,000 texts on one core.

Target: accuracy ≥ 0.94 on held-out reviews at ≥ 1,000 texts/s on one core, offline. The
peers, run on the same folds in the same run: jieba words (1-2 grams) + TF-IDF + logistic
regression (the reference point, about 0.93) and character 1-4-gram TF-IDF + linear SVM
(about 0.939). Figures are printed, never asserted.

How it is scored (any CSV with the columns cat, label, review; default the shared set):

1. Stratified 5-fold cross-validation by category × label (seed 20): every review is
   scored exactly once, by a model that never saw it.
2. Inside each fold, the recipe of the shipped model (patron.support.feedback.train's
   PARTNERS_RECIPE: the linear model, one hidden layer and the convolutional partner, their
   epochs and shares fixed; it needs PyTorch to train, ``--linear`` runs the linear recipe
   alone) holds 20 % of the *training* part out to choose the linear model's partner (the
   SVM's C, whether a logistic regression or an SVM joins) and to fit the calibration,
   then refits on the whole training part. The test fold takes no part in any choice
   (nested validation).
3. The out-of-fold predictions are pooled: accuracy and macro-F1 overall and per category,
   with each fold's accuracy (mean ± sd).
4. Speed: the shipped model (or ``--model``), loaded in this process pinned to one core
   with one BLAS thread, scores every review in batches of 1,000 after a warm-up; the
   median of three passes. The cold start (reading the file, loading jieba's dictionary)
   is shown apart.

Run:  .venv/bin/python bench/sentiment.py                 (about 150 CPU-seconds a fold)
      .venv/bin/python bench/sentiment.py --quick         (10,000 reviews, a smoke run)
      .venv/bin/python bench/sentiment.py --reviews FILE --no-peer
      .venv/bin/python bench/sentiment.py --hidden --no-peer   (with the hidden layer, which
      needs PyTorch: about 3 CPU-minutes a fold)
      .venv/bin/python bench/sentiment.py --conv --no-peer     (with the convolutional
      partner over characters, which needs PyTorch too)
      .venv/bin/python bench/sentiment.py --linear        (the linear recipe alone)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from patron.support.feedback.labelled import LabelledSet, read_labelled
from patron.support.feedback.sentiment import Featuriser, SentimentModel, shipped_path
from patron.support.feedback.train import PARTNERS_RECIPE, Recipe, torch_available, train

SHARED = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "reviews"
    / "online_shopping_reviews_dev.csv"
)
FOLDS, SEED = 5, 20
console = Console()


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    scores = []
    for cls in (0, 1):
        tp = int(((p == cls) & (y == cls)).sum())
        fp = int(((p == cls) & (y != cls)).sum())
        fn = int(((p != cls) & (y == cls)).sum())
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / 2


Split = tuple[np.ndarray, np.ndarray]  # (train rows, test rows)


def folds(data: LabelledSet, n: int) -> list[Split]:
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{c}|{y}" for c, y in zip(data.categories, data.labels, strict=True)]
    splitter = StratifiedKFold(n_splits=n, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(strata)), strata))


Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (train rows, test rows) → 0/1


def cross_validate(
    name: str, data: LabelledSet, splits: Sequence[Split], predict: Predictor
) -> dict[str, Any]:
    y = np.asarray(data.labels)
    out = np.full(len(y), -1, dtype=np.int8)
    per_fold = []
    started = time.perf_counter()
    for k, (fit_at, test_at) in enumerate(splits, start=1):
        out[test_at] = predict(fit_at, test_at)
        per_fold.append(float((out[test_at] == y[test_at]).mean()))
        console.print(f"  {name}: fold {k}/{len(splits)} accuracy {per_fold[-1]:.4f}")
    return {"pred": out, "folds": per_fold, "seconds": time.perf_counter() - started}


def patron_predictor(data: LabelledSet, chosen: list[str], recipe: Recipe) -> Predictor:
    console.print(f"featurising {len(data):,} reviews once (hashing learns nothing) …")
    counts = Featuriser(recipe.spec).counts(data.texts)
    labels = np.asarray(data.labels)

    def predict(fit_at: np.ndarray, test_at: np.ndarray) -> np.ndarray:
        model = train(
            [data.texts[i] for i in fit_at],
            labels[fit_at],
            categories=[data.categories[i] for i in fit_at],
            recipe=recipe,
            counts=counts[fit_at],
        )
        about = model.about
        note = f"{about['method']}, C={about['svm_c']:g}"
        if model.hidden is not None:
            note += f", {about['hidden_epochs']} epochs, share {about['hidden_share']:g}"
        if model.conv is not None:
            note += f", conv {about['conv_epochs']} epochs, share {about['conv_share']:g}"
        chosen.append(note)
        margins = model.margins_of_counts(counts[test_at], [data.texts[i] for i in test_at])
        return (margins > 0).astype(np.int8)

    return predict


def peer_words_lr(data: LabelledSet) -> Predictor:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from patron.support.feedback.segment import cut

    console.print("segmenting for the jieba + TF-IDF + LR peer …")
    words = [" ".join(w for w in cut(t) if not w.isspace()) for t in data.texts]
    labels = np.asarray(data.labels)

    def predict(fit_at: np.ndarray, test_at: np.ndarray) -> np.ndarray:
        vectoriser = TfidfVectorizer(
            tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 2)
        )
        x = vectoriser.fit_transform([words[i] for i in fit_at])
        model = LogisticRegression(max_iter=1000).fit(x, labels[fit_at])
        return model.predict(vectoriser.transform([words[i] for i in test_at]))

    return predict


def peer_chars_svm(data: LabelledSet) -> Predictor:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    labels = np.asarray(data.labels)

    def predict(fit_at: np.ndarray, test_at: np.ndarray) -> np.ndarray:
        vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True)
        x = vectoriser.fit_transform([data.texts[i] for i in fit_at])
        model = LinearSVC().fit(x, labels[fit_at])
        return model.predict(vectoriser.transform([data.texts[i] for i in test_at]))

    return predict


def report(data: LabelledSet, results: dict[str, dict[str, Any]]) -> None:
    y = np.asarray(data.labels)
    cats = np.asarray(data.categories)
    table = Table(title=f"Accuracy / macro-F1, {FOLDS}-fold out-of-fold, {len(y):,} reviews")
    table.add_column("category")
    table.add_column("reviews", justify="right")
    table.add_column("positive", justify="right")
    for name in results:
        table.add_column(name, justify="right")
    rows = [("all", np.ones(len(y), dtype=bool))]
    rows += [(c, cats == c) for c in sorted(set(data.categories)) if c]
    for label, mask in rows:
        cells = []
        for result in results.values():
            p = result["pred"][mask]
            cells.append(f"{(p == y[mask]).mean():.4f} / {macro_f1(y[mask], p):.4f}")
        table.add_row(label, f"{mask.sum():,}", f"{y[mask].mean():.0%}", *cells)
    console.print(table)
    for name, result in results.items():
        f = result["folds"]
        console.print(
            f"{name}: fold accuracy {statistics.mean(f):.4f} ± {statistics.stdev(f):.4f} "
            f"(min {min(f):.4f}), {result['seconds']:.0f} s for the {FOLDS} folds"
        )


def speed(texts: Sequence[str], model_path: Path) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread
    if hasattr(os, "sched_setaffinity"):  # and one core
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    started = time.perf_counter()
    model = SentimentModel.load(model_path)
    model.margins(["预热"])  # loads jieba's dictionary
    cold = time.perf_counter() - started
    batch = 1000
    model.margins(list(texts[:batch]))
    passes, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), batch):
            model.probabilities(list(texts[i : i + batch]))
        passes.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    seconds = statistics.median(passes)
    cpu_seconds = statistics.median(cpu)
    chars = sum(len(t) for t in texts) / len(texts)
    size = model_path.stat().st_size / 1e6
    console.print(
        f"speed, one core: {1000 * seconds / len(texts) * 1000:.0f} ms per 1,000 texts, "
        f"{len(texts) / seconds:,.0f} texts/s ({len(texts):,} texts of {chars:.0f} characters "
        f"on average; median of 3 passes); cold start {cold:.2f} s; model {model_path.name} "
        f"{size:.1f} MB, 2^{model.spec.buckets_log2} buckets"
    )
    # CPU time says what one core does when other processes share it (load average above 1)
    console.print(
        f"CPU time: {1000 * cpu_seconds / len(texts) * 1000:.0f} ms per 1,000 texts, "
        f"{len(texts) / cpu_seconds:,.0f} texts per CPU-second; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    console.print(f"model: {model.about}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=Path, default=SHARED, help="CSV: cat, label, review")
    parser.add_argument("--model", type=Path, default=None, help="model timed (default shipped)")
    parser.add_argument("--quick", action="store_true", help="a 10,000-review sample")
    parser.add_argument("--no-peer", action="store_true", help="skip the two peers")
    parser.add_argument("--speed-only", action="store_true", help="only time the model")
    parser.add_argument(
        "--hidden", action="store_true", help="the recipe with its hidden layer (needs PyTorch)"
    )
    parser.add_argument(
        "--hidden-seeds",
        type=int,
        default=1,
        metavar="N",
        help="with --hidden: N networks from N seeds, their logits averaged",
    )
    parser.add_argument(
        "--conv",
        action="store_true",
        help="the recipe with its convolutional partner over characters (needs PyTorch)",
    )
    parser.add_argument(
        "--linear", action="store_true", help="the linear recipe alone (no PyTorch needed)"
    )
    args = parser.parse_args()
    # the shipped model's recipe, unless another is asked for
    recipe = PARTNERS_RECIPE
    if args.linear or args.hidden or args.conv:
        recipe = Recipe(hidden=args.hidden, hidden_seeds=args.hidden_seeds, conv=args.conv)
    elif not torch_available():
        console.print("the shipped model's recipe trains with PyTorch: install it, or --linear")
        return 2
    if not args.reviews.is_file():
        console.print(f"no reviews at {args.reviews}: give --reviews FILE (cat, label, review)")
        return 2
    data = read_labelled(args.reviews)
    console.print(f"{args.reviews.name}: {len(data):,} reviews, {len(data.rejects)} rows left out")
    for reject in data.rejects[:5]:
        console.print(f"  row {reject.row}, {reject.column}: {reject.reason}")
    if args.quick:
        keep = np.random.default_rng(SEED).permutation(len(data))[:10_000]
        data = LabelledSet(
            [data.texts[i] for i in keep],
            [data.labels[i] for i in keep],
            [data.categories[i] for i in keep],
        )
    if not args.speed_only:
        splits = folds(data, FOLDS)
        chosen: list[str] = []
        results = {
            "patron": cross_validate(
                "patron",
                data,
                splits,
                patron_predictor(data, chosen, recipe),
            )
        }
        console.print(f"chosen in each fold on its own validation split: {chosen}")
        if not args.no_peer:
            results["jieba+tfidf+LR"] = cross_validate(
                "jieba+tfidf+LR", data, splits, peer_words_lr(data)
            )
            results["char1-4 tfidf+SVM"] = cross_validate(
                "char1-4 tfidf+SVM", data, splits, peer_chars_svm(data)
            )
        report(data, results)
    speed(data.texts, args.model or shipped_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
