"""Sentiment of Chinese customer texts, offline: hashed character and word n-grams, scaled
by their naive-Bayes log-count ratios, and one linear model on top (NB-SVM, Wang and
Manning 2012), with a logistic calibration that turns its margin into a probability.

The model is a file of two arrays the size of the hash space (IDF and weights) and a few
numbers, and optionally a small hidden layer over the commoner n-grams (its weights in
int8) and a convolutional network over the characters, whose outputs are added to the
linear margin (non-linear partners, trained with PyTorch but run here in NumPy): no
vocabulary, no text from the data it learnt from. Patron ships one, with both partners,
trained on public online-shopping reviews (``sentiment.npz`` beside this module, provenance in
``SENTIMENT_MODEL.md``); a shop can train its own on its own labelled feedback, from
scratch or on top of the shipped one (``train.py``). Nothing is fetched at run time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from patron.support.exceptions import InvalidFeedback, SentimentModelMissing
from patron.support.feedback.conv import ConvLayer, as_float16
from patron.support.feedback.segment import cut, initialise, normalise

FORMAT = 1  # a linear model only
FORMAT_HIDDEN = 2  # with a hidden layer
FORMAT_CONV = 3  # with a convolutional partner over characters (and maybe a hidden layer)
SHIPPED = "sentiment.npz"
_WORD = "\x1f"  # marks a word n-gram, so the word 好 and the character 好 hash apart


class Polarity(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which n-grams, and how many hash buckets (2**buckets_log2)."""

    char_min: int = 1
    char_max: int = 4
    word_min: int = 1
    word_max: int = 2  # 0: no words (no segmentation, faster)
    buckets_log2: int = 21

    def __post_init__(self) -> None:
        if not (1 <= self.char_min <= self.char_max <= 8):
            raise InvalidFeedback("char_max", "character n-grams must run from 1 to 8")
        if self.word_max and not (1 <= self.word_min <= self.word_max <= 4):
            raise InvalidFeedback("word_max", "word n-grams must run from 1 to 4")
        if not 10 <= self.buckets_log2 <= 24:
            raise InvalidFeedback("buckets_log2", "must be from 10 to 24")


class Featuriser:
    """Texts to sparse n-gram counts in a fixed hash space: the same texts give the same
    columns in every process and on every machine (MurmurHash3, not Python's hash)."""

    def __init__(self, spec: FeatureSpec) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.spec = spec
        self._hasher = HashingVectorizer(
            analyzer=self.grams,
            n_features=2**spec.buckets_log2,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        if spec.word_max:
            initialise()

    def grams(self, text: str) -> list[str]:
        spec = self.spec
        s = normalise(text)
        out = [
            s[i : i + n]
            for n in range(spec.char_min, spec.char_max + 1)
            for i in range(len(s) - n + 1)
        ]
        if spec.word_max:
            words = cut(s, new_words=False, normalised=True)
            for n in range(spec.word_min, spec.word_max + 1):
                out.extend(_WORD + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return out

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw n-gram counts, one row per text."""
        return self._hasher.transform(texts).tocsr()


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF (1 + ln n) times IDF, each row scaled to unit length."""
    x = counts.astype(np.float32, copy=True)
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ x)


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF per bucket: ln((1 + n) / (1 + df)) + 1."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


def nb_ratios(counts: sp.csr_matrix, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Log-count ratio per bucket: how much likelier it is in a positive text than in a
    negative one (presence counted once per text, smoothed by ``alpha``)."""
    present = counts.copy()
    present.data[:] = 1.0
    pos = alpha + np.asarray(present[labels == 1].sum(axis=0)).ravel()
    neg = alpha + np.asarray(present[labels == 0].sum(axis=0)).ravel()
    return np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)


@dataclass(frozen=True, slots=True)
class HiddenLayer:
    """A non-linear term added to a linear margin: ``relu(x[:, columns] · w1 + b1) · w2``,
    where x is the text's TF-IDF (the naive-Bayes ratios it was trained with are folded
    into ``w1``). It reads only ``columns``, the hash buckets commonest in the texts it
    learnt from, which keeps the file small (docs: SENTIMENT_MODEL.md beside this module)."""

    columns: np.ndarray  # int32 bucket ids, ascending
    w1: np.ndarray  # (len(columns), units)
    b1: np.ndarray  # (units,)
    w2: np.ndarray  # (units,)

    def margins(self, x: sp.csr_matrix) -> np.ndarray:
        hidden = np.asarray(x[:, self.columns] @ self.w1) + self.b1
        return np.maximum(hidden, 0.0) @ self.w2

    def scaled(self, factor: float) -> HiddenLayer:
        """The same layer with its output multiplied by ``factor``."""
        return HiddenLayer(self.columns, self.w1, self.b1, (self.w2 * factor).astype(np.float32))

    def quantised(self) -> HiddenLayer:
        """The same layer with ``w1`` on the grid the file keeps it on (one byte a weight,
        one float16 scale a row), so that the saved model scores as this one does."""
        return HiddenLayer(self.columns, dequantise(*quantise(self.w1)), self.b1, self.w2)


def quantise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``w`` as int8 times a float16 scale a row (the row's largest |weight| is
    127 steps): a quarter of float32's bytes, half of float16's. Applied to a quantised
    matrix it gives the same bytes back."""
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float16)
    step = scale.astype(np.float32)
    safe = np.where(step > 0, step, 1.0)[:, None]
    q = np.clip(np.rint(w / safe), -127, 127).astype(np.int8)
    return q, scale


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) * scale.astype(np.float32)[:, None]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Sentiment:
    polarity: Polarity
    probability: float  # that the text is positive, calibrated


@dataclass
class SentimentModel:
    """A trained model: ``margin = tfidf(counts) · weights + bias`` (plus the hidden
    layer's term if it has one); P(positive) is
    ``1 / (1 + exp(-(slope · margin + intercept)))``."""

    spec: FeatureSpec
    idf: np.ndarray
    weights: np.ndarray
    bias: float
    slope: float = 1.0
    intercept: float = 0.0
    about: dict[str, Any] = field(default_factory=dict)
    hidden: HiddenLayer | None = None
    # a convolutional network over the characters, its logit times ``conv_scale`` added
    conv: ConvLayer | None = None
    conv_scale: float = 0.0
    _featuriser: Featuriser | None = field(default=None, repr=False, compare=False)

    @property
    def featuriser(self) -> Featuriser:
        if self._featuriser is None:
            self._featuriser = Featuriser(self.spec)
        return self._featuriser

    def margins_of_counts(
        self, counts: sp.csr_matrix, texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """The margins of texts whose n-gram counts are ``counts``; a model with a
        convolutional partner needs the ``texts`` too."""
        x = tfidf(counts, self.idf)
        margins = np.asarray(x @ self.weights).ravel() + self.bias
        if self.hidden is not None:
            margins = margins + self.hidden.margins(x)
        if self.conv is not None:
            if texts is None:
                raise ValueError("a model with a convolutional partner scores texts")
            margins = margins + self.conv_scale * self.conv.logits(texts)
        return margins

    def margins(self, texts: Sequence[str]) -> np.ndarray:
        """The raw margin per text: above zero leans positive."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        return self.margins_of_counts(self.featuriser.counts(texts), texts)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return _sigmoid(self.slope * self.margins(texts) + self.intercept)

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Polarity and calibrated probability per text, in order."""
        return [
            Sentiment(Polarity.POSITIVE if p >= 0.5 else Polarity.NEGATIVE, float(p))
            for p in self.probabilities(texts)
        ]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """1 for positive, 0 for negative."""
        return (self.margins(texts) > 0).astype(np.int8)

    def stored(self) -> SentimentModel:
        """The same model with every array on the grid its file keeps it on (IDF, weights
        and the convolutional network in float16, the hidden layer in int8 a weight): it
        scores exactly as the model read back from the file does. Training returns models
        so, so that what is measured of a trained model is what its file gives."""
        return replace(
            self,
            idf=as_float16(self.idf),
            weights=as_float16(self.weights),
            hidden=None if self.hidden is None else self.hidden.quantised(),
            conv=None if self.conv is None else self.conv.stored(),
        )

    def save(self, path: Path) -> None:
        """One compressed .npz: float16 arrays (the hidden layer's int8) and a JSON header."""
        fmt = FORMAT if self.hidden is None else FORMAT_HIDDEN
        header: dict[str, Any] = {
            "format": FORMAT_CONV if self.conv is not None else fmt,
            "spec": asdict(self.spec),
            "bias": self.bias,
            "slope": self.slope,
            "intercept": self.intercept,
            "about": self.about,
        }
        if self.conv is not None:
            header["conv"] = {
                "widths": list(self.conv.widths),
                "out_bias": self.conv.out_bias,
                "scale": self.conv_scale,
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {  # numpy's stub types savez's keywords as its options
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), np.uint8),
            "idf": self.idf.astype(np.float16),
            "weights": self.weights.astype(np.float16),
        }
        if self.hidden is not None:
            q, scale = quantise(self.hidden.w1)
            arrays |= {
                "hidden_columns": self.hidden.columns.astype(np.int32),
                # int8 with a float16 scale a row (docs: SENTIMENT_MODEL.md beside this
                # module); training leaves w1 on that grid, so nothing is lost here
                "hidden_w1_int8": q,
                "hidden_w1_scale": scale,
                "hidden_b1": self.hidden.b1.astype(np.float32),
                "hidden_w2": self.hidden.w2.astype(np.float32),
            }
        if self.conv is not None:
            conv = self.conv
            arrays |= {
                "conv_alphabet": conv.alphabet.astype(np.int32),
                "conv_embedding": conv.embedding.astype(np.float16),
                "conv_out": conv.out.astype(np.float32),
            }
            for w, f, b in zip(conv.widths, conv.filters, conv.biases, strict=True):
                arrays |= {f"conv_filter_{w}": f.astype(np.float16), f"conv_bias_{w}": b}
        with path.open("wb") as out:
            np.savez_compressed(out, **arrays)

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        if not path.is_file():
            raise SentimentModelMissing(f"no sentiment model at {path}", path=str(path))
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            if header.get("format") not in (FORMAT, FORMAT_HIDDEN, FORMAT_CONV):
                raise InvalidFeedback(
                    "model",
                    f"{path.name} is format {header.get('format')}, not {FORMAT}, "
                    f"{FORMAT_HIDDEN} or {FORMAT_CONV}",
                )
            hidden = conv = None
            if "conv" in header:
                widths = tuple(int(w) for w in header["conv"]["widths"])
                conv = ConvLayer(
                    alphabet=data["conv_alphabet"].astype(np.int32),
                    embedding=data["conv_embedding"].astype(np.float32),
                    widths=widths,
                    filters=tuple(data[f"conv_filter_{w}"].astype(np.float32) for w in widths),
                    biases=tuple(data[f"conv_bias_{w}"].astype(np.float32) for w in widths),
                    out=data["conv_out"].astype(np.float32),
                    out_bias=float(header["conv"]["out_bias"]),
                )
            if "hidden_columns" in data:
                hidden = HiddenLayer(
                    columns=data["hidden_columns"].astype(np.int32),
                    w1=(
                        dequantise(data["hidden_w1_int8"], data["hidden_w1_scale"])
                        if "hidden_w1_int8" in data
                        else data["hidden_w1"].astype(np.float32)
                    ),
                    b1=data["hidden_b1"].astype(np.float32),
                    w2=data["hidden_w2"].astype(np.float32),
                )
            return cls(
                spec=FeatureSpec(**header["spec"]),
                idf=data["idf"].astype(np.float32),
                weights=data["weights"].astype(np.float32),
                bias=float(header["bias"]),
                slope=float(header["slope"]),
                intercept=float(header["intercept"]),
                about=header.get("about", {}),
                hidden=hidden,
                conv=conv,
                conv_scale=float(header["conv"]["scale"]) if conv is not None else 0.0,
            )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def shipped_path() -> Path:
    return Path(str(resources.files(__package__).joinpath(SHIPPED)))


_loaded: dict[Path, SentimentModel] = {}
_load_lock = threading.Lock()


def load_model(path: Path | None = None) -> SentimentModel:
    """A model, kept in this process once read: the one at ``path``, else the shop's own
    (``sentiment.npz`` in the data directory) if it trained one, else the shipped one."""
    if path is None:
        from patron.core.settings import get_settings

        own = Path(get_settings().data_dir) / SHIPPED
        path = own if own.is_file() else shipped_path()
    path = path.resolve()
    with _load_lock:
        model = _loaded.get(path)
        if model is None:
            model = _loaded[path] = SentimentModel.load(path)
        return model


def forget_models() -> None:
    """Drop the models kept in this process (a new one was trained)."""
    with _load_lock:
        _loaded.clear()


def analyse(texts: Sequence[str], *, model: SentimentModel | None = None) -> list[Sentiment]:
    """Polarity and probability of each text, by ``model`` or the one in force."""
    return (model or load_model()).score(texts)
