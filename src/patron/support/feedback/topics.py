"""Topics of a set of customers' texts: groups of words that go together, and the texts
that talk about each, by non-negative matrix factorisation of their words' TF-IDF.

Deterministic (a fixed start), so the same texts give the same topics on every run; each
text belongs to the topic it loads on most, or to none when it shares no word with any.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from patron.support.feedback.segment import content_words


@dataclass(frozen=True, slots=True)
class Topic:
    words: tuple[str, ...]  # its most telling words, strongest first
    texts: tuple[int, ...]  # indexes into the texts given, most typical first

    @property
    def size(self) -> int:
        return len(self.texts)


def suggested_topics(n_texts: int) -> int:
    """A number of topics for a set of this size: about √(n/5), from 2 to 12."""
    return max(2, min(12, round(math.sqrt(n_texts / 5))))


def topics(
    texts: Sequence[str],
    *,
    n_topics: int | None = None,
    top_words: int = 8,
    min_texts: int = 2,
) -> list[Topic]:
    """The topics of ``texts``, largest first. Words must be used by ``min_texts`` texts
    (fewer for a tiny set); a set with fewer than four texts, or with no word shared by
    two of them, has no topics."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 4:
        return []
    tokens = [content_words(t) for t in texts]
    vectoriser = TfidfVectorizer(
        analyzer=lambda words: words,
        min_df=max(1, min(min_texts, len(texts) // 4)),
        sublinear_tf=True,
    )
    try:
        matrix = vectoriser.fit_transform(tokens)
    except ValueError:  # no word left after the floor
        return []
    vocabulary = np.asarray(vectoriser.get_feature_names_out())
    k = min(n_topics or suggested_topics(len(texts)), matrix.shape[1], len(texts) - 1)
    if k < 1 or matrix.nnz == 0:
        return []
    model = NMF(n_components=k, init="nndsvd", max_iter=400, random_state=0)
    with warnings.catch_warnings():
        # a small set may not converge to the last decimal; its topics are still sound
        warnings.simplefilter("ignore")
        loadings = model.fit_transform(matrix)
    owner = loadings.argmax(axis=1)
    strength = loadings.max(axis=1)
    found: list[Topic] = []
    for j in range(k):
        members = np.flatnonzero((owner == j) & (strength > 0))
        if members.size == 0:
            continue
        members = members[np.argsort(-strength[members], kind="stable")]
        weights = model.components_[j]
        order = np.argsort(-weights, kind="stable")[:top_words]
        words = tuple(str(vocabulary[i]) for i in order if weights[i] > 0)
        found.append(Topic(words=words, texts=tuple(int(i) for i in members)))
    found.sort(key=lambda t: (-t.size, t.words))
    return found
