"""What a set of customers' texts is about: keywords, keywords that set it apart from
another set (this month against the months before, one store against the chain), topics.

Each text counts a word once: one long complaint that says 快递 twelve times should not
outweigh eleven customers who say it once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from patron.support.feedback.segment import content_words, initialise


@dataclass(frozen=True, slots=True)
class Keyword:
    word: str
    score: float
    texts: int  # how many texts of the set use it
    share: float  # texts / size of the set


@dataclass(frozen=True, slots=True)
class Contrast:
    """A word used more in the set than in the reference: ``z`` is the log-odds ratio over
    its standard error (Monroe, Colaresi and Quinn's 'informative Dirichlet prior')."""

    word: str
    z: float
    texts: int
    reference_texts: int


@cache
def _idf() -> tuple[dict[str, float], float]:
    """jieba's inverse document frequencies of Chinese at large, and their median (for a
    word it does not know)."""
    initialise()
    from jieba.analyse import default_tfidf

    return default_tfidf.idf_freq, default_tfidf.median_idf


def _document_counts(texts: Sequence[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(content_words(text)))
    return counts


def keywords(texts: Sequence[str], *, top: int = 20, min_texts: int = 2) -> list[Keyword]:
    """The ``top`` words of ``texts``: used by many of them and rare in Chinese at large.

    A word must appear in ``min_texts`` texts (fewer when the set is that small); ties go to
    the word more texts use, then alphabetically, so the answer does not depend on order.
    """
    if not texts:
        return []
    idf, median = _idf()
    counts = _document_counts(texts)
    floor = max(1, min(min_texts, len(texts) // 2))
    scored = [
        Keyword(word, n * idf.get(word, median), n, n / len(texts))
        for word, n in counts.items()
        if n >= floor
    ]
    scored.sort(key=lambda k: (-k.score, -k.texts, k.word))
    return scored[:top]


def distinctive_keywords(
    texts: Sequence[str],
    reference: Sequence[str],
    *,
    top: int = 20,
    min_z: float = 1.96,
) -> list[Contrast]:
    """Words ``texts`` use markedly more than ``reference`` does, strongest first.

    The prior is the two sets pooled, at a tenth of their weight (half a text at least):
    a word both use alike scores near zero, and a word needs about eight texts against none
    before it counts. ``min_z`` 1.96 keeps the words whose difference is clear at about 95 %.
    """
    if not texts:
        return []
    mine = _document_counts(texts)
    theirs = _document_counts(reference)
    pooled = mine + theirs
    n_mine, n_theirs = sum(mine.values()), sum(theirs.values())
    prior_of = {word: max(0.5, 0.1 * n) for word, n in pooled.items()}
    alpha0 = sum(prior_of.values())
    out: list[Contrast] = []
    for word, a in mine.items():
        prior = prior_of[word]
        b = theirs.get(word, 0)
        delta = math.log((a + prior) / (n_mine + alpha0 - a - prior)) - math.log(
            (b + prior) / (n_theirs + alpha0 - b - prior)
        )
        z = delta / math.sqrt(1 / (a + prior) + 1 / (b + prior))
        if z >= min_z:
            out.append(Contrast(word, z, a, b))
    out.sort(key=lambda c: (-c.z, c.word))
    return out[:top]
