"""Chinese word segmentation with jieba, and the text clean-up every analysis shares.

jieba loads its 350,000-word dictionary lazily, once per process, on the first text it
cuts (about a second). ``initialise()`` loads it at a moment of our choosing: call it
before forking worker processes, so that each child inherits the loaded dictionary
instead of loading its own, and before adding words of your own.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

import jieba

_lock = threading.Lock()
_ready = False

_SPACES = re.compile(r"\s+")
# A token that is punctuation, symbols or digits only carries no word.
_NO_WORD = re.compile(r"^[\W\d_]+$")


def initialise() -> None:
    """Load jieba's dictionary now (idempotent, thread-safe)."""
    global _ready
    if _ready:
        return
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _ready = True


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter a shop's own words (brands, product names) so they stay whole."""
    initialise()
    for given in words:
        word = normalise(given)
        if word:
            jieba.add_word(word)


def normalise(text: str) -> str:
    """Full-width letters, digits and punctuation to their ASCII forms (NFKC), Latin letters
    lower-cased, runs of white space to one space, trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def cut(text: str, *, new_words: bool = True, normalised: bool = False) -> list[str]:
    """The tokens of ``text`` (normalised first unless it already is), punctuation
    included, spaces left out.

    ``new_words`` lets jieba's HMM join characters it has no word for (names, slang); the
    sentiment model cuts without it, for speed, the same way in training and in use.
    """
    initialise()
    return [
        t
        for t in jieba.lcut(text if normalised else normalise(text), HMM=new_words)
        if not t.isspace()
    ]


@cache
def stopwords() -> frozenset[str]:
    """Function words, pronouns, fillers: words that say nothing about the service."""
    text = resources.files(__package__).joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def is_word(token: str) -> bool:
    return not _NO_WORD.match(token)


def content_words(text: str, *, min_length: int = 2) -> list[str]:
    """The words worth counting: no punctuation, numbers or stop words, and (by default)
    no single characters."""
    stop = stopwords()
    return [t for t in cut(text) if len(t) >= min_length and t not in stop and is_word(t)]
