"""The convolutional partner over characters: scored in NumPy exactly as PyTorch computes
the network it was trained as, saved and read back, kept when a shop adapts the model,
and chosen (or not) on the validation split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from patron.support.feedback.conv import MAX_CHARS, ConvLayer, char_ids
from patron.support.feedback.sentiment import FeatureSpec, SentimentModel
from patron.support.feedback.train import Recipe, adapt, train
from tests.support.feedback.shop_texts import SHOP_BAD, SHOP_GOOD, shop_texts

PROBE = ["店员很热情", "地面脏乱", "好", "", "导购服务周到，收银很快 ABC", "差" * 700]


def _random_layer(seed: int = 5, widths: tuple[int, ...] = (2, 3, 5)) -> ConvLayer:
    rng = np.random.default_rng(seed)
    alphabet = np.array(sorted({ord(c) for t in SHOP_GOOD + SHOP_BAD for c in t}), dtype=np.int32)
    dim, n = 6, 3
    embedding = rng.normal(0, 1, (len(alphabet) + 2, dim)).astype(np.float32)
    embedding[0] = 0
    return ConvLayer(
        alphabet=alphabet,
        embedding=embedding,
        widths=widths,
        filters=tuple(rng.normal(0, 1, (w, dim, n)).astype(np.float32) for w in widths),
        biases=tuple(rng.normal(0, 0.1, n).astype(np.float32) for _ in widths),
        out=rng.normal(0, 1, n * len(widths)).astype(np.float32),
        out_bias=0.25,
    )


def _by_hand(layer: ConvLayer, text: str) -> float:
    """The network's definition, one text, one position at a time."""
    ids = char_ids([text], layer.lookup())[0]
    tail = max(layer.widths) - 1
    vectors = layer.embedding[np.concatenate([ids, np.zeros(tail, dtype=np.int32)])]
    features = []
    for w, f, b in zip(layer.widths, layer.filters, layer.biases, strict=True):
        outputs = [sum(vectors[t + k] @ f[k] for k in range(w)) + b for t in range(len(ids))]
        features.append(np.maximum(np.max(outputs, axis=0), 0.0))
    return float(np.concatenate(features) @ layer.out + layer.out_bias)


def test_the_numpy_scorer_follows_the_networks_definition() -> None:
    layer = _random_layer()
    expected = [_by_hand(layer, t) for t in PROBE]
    assert np.allclose(layer.logits(PROBE), expected, atol=1e-4)
    # the same texts in batches of any size give the same logits
    assert np.allclose(layer.logits(PROBE, batch=2), layer.logits(PROBE), atol=1e-6)


def test_a_text_is_read_normalised_and_cut_at_its_first_characters() -> None:
    layer = _random_layer()
    lookup = layer.lookup()
    assert len(char_ids(["差" * (MAX_CHARS + 50)], lookup)[0]) == MAX_CHARS
    assert list(char_ids([""], lookup)[0]) == [0]  # an empty text is one padding position
    # full-width letters read as their ASCII forms, an unknown character as UNKNOWN (1)
    assert list(char_ids(["ＡＢ"], lookup)[0]) == list(char_ids(["ab"], lookup)[0]) == [1, 1]


def test_the_numpy_scorer_matches_the_trained_pytorch_network() -> None:
    pytest.importorskip("torch")
    from patron.support.feedback import conv_train

    texts, labels = shop_texts()
    recipe = Recipe(conv=True, conv_dim=8, conv_filters=4, conv_widths=(3, 2, 5))
    alphabet = conv_train._alphabet(texts, recipe)
    layer = conv_train._conv_net(texts, np.asarray(labels), alphabet, recipe, 2)
    probe = [*PROBE, *texts[:6]]
    expected = conv_train._torch_logits(layer, probe, recipe)
    assert np.allclose(layer.logits(probe), expected, atol=1e-5)


def _toy() -> SentimentModel:
    texts, labels = shop_texts()
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    return train(texts, labels, recipe=Recipe(spec=spec), about={"data": "toy"})


def test_a_model_with_a_convolutional_partner_adds_its_term_and_is_saved(
    tmp_path: Path,
) -> None:
    """Scoring such a model needs NumPy only (no PyTorch)."""
    linear = _toy()
    layer = _random_layer()
    model = replace(linear, conv=layer, conv_scale=0.5, _featuriser=None)
    expected = linear.margins(PROBE) + 0.5 * layer.logits(PROBE)
    assert np.allclose(model.margins(PROBE), expected, atol=1e-5)
    path = tmp_path / "conv.npz"
    model.save(path)
    again = SentimentModel.load(path)
    assert again.conv is not None and again.conv.widths == layer.widths
    assert again.conv_scale == 0.5
    assert np.allclose(again.margins(PROBE), model.margins(PROBE), atol=1e-2)
    linear.save(tmp_path / "linear.npz")
    assert SentimentModel.load(tmp_path / "linear.npz").conv is None


def test_counts_alone_are_not_enough_for_a_convolutional_partner() -> None:
    model = replace(_toy(), conv=_random_layer(), conv_scale=0.5, _featuriser=None)
    counts = model.featuriser.counts(PROBE)
    with pytest.raises(ValueError, match="scores texts"):
        model.margins_of_counts(counts)
    assert np.allclose(model.margins_of_counts(counts, PROBE), model.margins(PROBE))


def test_adapting_keeps_the_convolutional_partner_trusted_as_the_rest() -> None:
    # a base's network is on its file's grid (float16), as one read or trained is
    base = replace(_toy(), conv=_random_layer().stored(), conv_scale=0.5, _featuriser=None)
    texts, labels = shop_texts(6)
    adapted = adapt(base, texts, labels)
    assert adapted.conv is base.conv
    trust = adapted.conv_scale / base.conv_scale
    assert trust > 0


def test_a_convolutional_partner_is_chosen_on_the_split_when_pytorch_is_there() -> None:
    pytest.importorskip("torch")
    texts, labels = shop_texts()
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    recipe = Recipe(
        spec=spec, conv=True, conv_dim=8, conv_filters=4, conv_epochs=2, conv_shares=(0.5,)
    )
    model = train(texts, labels, recipe=recipe)
    assert model.about["conv_epochs"] in (0, 1, 2)
    if model.about["conv_share"]:
        assert model.conv is not None
        assert model.about["method"].endswith("convolutional partner")
    else:
        assert model.conv is None
    assert list(model.predict(["店员很热情", "地面脏乱"])) == [1, 0]


def test_without_pytorch_no_convolutional_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.support.feedback import train as train_module

    monkeypatch.setattr(train_module, "torch_available", lambda: False)
    texts, labels = shop_texts()
    said: list[str] = []
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    model = train(texts, labels, recipe=Recipe(spec=spec, conv=True), progress=said.append)
    assert model.conv is None
    assert any("no convolutional partner" in line for line in said)
