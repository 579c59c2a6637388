"""An order-aware partner for the sentiment model: a small convolutional network over the
characters of a text, run in NumPy (it is trained with PyTorch, ``train.py``, but scoring
needs NumPy only).

Each character of the normalised text (at most ``MAX_CHARS``) becomes a learnt vector
(characters outside the network's alphabet share one vector); filters ``widths`` characters
wide slide over the text, each position's output rectified, and the largest output of each
filter anywhere in the text is kept (max-pooling); one linear unit reads those maxima. A
text is followed by ``max(widths) - 1`` padding positions whose vector is zero, so that a
filter wider than a short text still sees it; every position that starts inside the text
counts, which is how the network is trained too (docs: SENTIMENT_MODEL.md beside this
module).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from patron.support.feedback.segment import normalise

MAX_CHARS = 400  # characters read per text; 99 % of the shopping reviews are shorter
PAD, UNKNOWN = 0, 1  # indices of the zero vector and of the unknown characters' vector


def as_float16(a: np.ndarray) -> np.ndarray:
    """``a`` rounded to float16, as a model file keeps it, held in float32."""
    return a.astype(np.float16).astype(np.float32)


def char_ids(texts: Sequence[str], alphabet: dict[str, int]) -> list[np.ndarray]:
    """Each text as the alphabet's indices of its characters (normalised, cut at
    ``MAX_CHARS``); an empty text is one padding position."""
    out = []
    for text in texts:
        s = normalise(text)[:MAX_CHARS]
        ids = np.fromiter((alphabet.get(ch, UNKNOWN) for ch in s), dtype=np.int32, count=len(s))
        out.append(ids if len(ids) else np.zeros(1, dtype=np.int32))
    return out


@dataclass(frozen=True)
class ConvLayer:
    """``logit = max_t relu(conv_w(E[text])_t + b_w) · out + out_bias``, over widths w."""

    alphabet: np.ndarray  # int32 code points; character i has row i + 2 of ``embedding``
    embedding: np.ndarray  # (len(alphabet) + 2, dim); row PAD is zero
    widths: tuple[int, ...]
    filters: tuple[np.ndarray, ...]  # per width: (width, dim, n)
    biases: tuple[np.ndarray, ...]  # per width: (n,)
    out: np.ndarray  # (sum of n,)
    out_bias: float

    def stored(self) -> ConvLayer:
        """The same network with its vectors and filters on the grid its file keeps them on
        (float16; the biases and output weights are kept in float32), so that the network
        scored in training is the one read back from the file. A network on that grid
        already (read from a file) is itself, its tables kept."""
        arrays = (self.embedding, *self.filters)
        if all(np.array_equal(a, as_float16(a)) for a in arrays):
            return self
        return replace(
            self,
            embedding=as_float16(self.embedding),
            filters=tuple(as_float16(f) for f in self.filters),
        )

    def lookup(self) -> dict[str, int]:
        return {chr(int(cp)): i + 2 for i, cp in enumerate(self.alphabet)}

    @cached_property
    def _tables(self) -> list[np.ndarray]:
        """Per offset k within a filter: every character's vector times row k of every
        filter at least k + 1 wide, side by side (widest first). A filter's output at a
        position is then a sum of table rows looked up, no matrix product per text."""
        order = self._widest_first
        return [
            np.ascontiguousarray(
                np.concatenate(
                    [self.embedding @ self.filters[i][k] for i in order if self.widths[i] > k],
                    axis=1,
                )
            )
            for k in range(max(self.widths))
        ]

    def logits(self, texts: Sequence[str], batch: int = 256) -> np.ndarray:
        """The network's logit per text (before any scaling into the model's margin)."""
        lookup = self.lookup()
        ids = char_ids(texts, lookup)
        return np.concatenate(
            [self._logits(ids[i : i + batch]) for i in range(0, len(ids), batch)] or [np.zeros(0)]
        ).astype(np.float64)

    def _logits(self, ids: list[np.ndarray]) -> np.ndarray:
        # every text and its padding laid end to end
        tail = max(self.widths) - 1
        lengths = np.array([len(a) for a in ids])
        starts = np.concatenate([[0], np.cumsum(lengths + tail)[:-1]])
        flat = np.zeros(int((lengths + tail).sum()) + tail, dtype=np.int32)
        for start, a in zip(starts, ids, strict=True):
            flat[start : start + len(a)] = a
        # the positions that start inside a text, in text order
        inside = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
        tables = self._tables
        acc = tables[0][flat[inside]]  # row 0 of every filter (the widest first)
        for k in range(1, len(tables)):
            part = tables[k][flat[inside + k]]
            acc[:, : part.shape[1]] += part  # row k of the filters at least k + 1 wide
        pooled = np.maximum.reduceat(acc, np.cumsum(lengths) - lengths, axis=0)
        bias, out = self._readout
        return np.maximum(pooled + bias, 0.0) @ out + self.out_bias

    @cached_property
    def _readout(self) -> tuple[np.ndarray, np.ndarray]:
        """The filters' biases and the output weights in the tables' order."""
        bounds = np.cumsum([0, *(f.shape[2] for f in self.filters)])
        order = self._widest_first
        bias = np.concatenate([self.biases[i] for i in order])
        out = np.concatenate([self.out[bounds[i] : bounds[i + 1]] for i in order])
        return bias, out

    @property
    def _widest_first(self) -> list[int]:
        return sorted(range(len(self.widths)), key=lambda i: -self.widths[i])
