"""The shipped model's recipe, its partners fixed: a hidden layer kept in one byte a weight (the model
scored in training is the model read back from its file), and the partners' epochs and
shares fixed rather than chosen on one validation split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from patron.support.feedback import train as train_module
from patron.support.feedback.conv import ConvLayer
from patron.support.feedback.sentiment import (
    FeatureSpec,
    HiddenLayer,
    SentimentModel,
    dequantise,
    load_model,
    quantise,
    shipped_path,
)
from patron.support.feedback.train import PARTNERS_RECIPE, Recipe, adapt, main, train
from tests.support.feedback.shop_texts import shop_texts

SPEC = FeatureSpec(word_max=0, buckets_log2=12)
SMALL_CONV = {"conv_alphabet": 200, "conv_dim": 8, "conv_filters": 8}


def test_a_row_is_kept_in_int8_within_half_a_step_of_its_weights() -> None:
    rng = np.random.default_rng(4)
    w = rng.normal(0, 1, (50, 32)).astype(np.float32) * rng.uniform(0.01, 5, (50, 1))
    w[7] = 0.0  # a row of zeros stays zeros
    q, scale = quantise(w)
    assert q.dtype == np.int8 and scale.dtype == np.float16 and scale.shape == (50,)
    assert np.abs(q).max(axis=1)[np.arange(50) != 7].min() == 127
    back = dequantise(q, scale)
    step = scale.astype(np.float32)[:, None]
    assert np.all(np.abs(back - w) <= step / 2 * 1.01 + 1e-7)
    assert not back[7].any()
    # a matrix on the grid gives the same bytes back
    q2, scale2 = quantise(back)
    assert np.array_equal(q2, q) and np.array_equal(scale2, scale)


def test_a_quantised_hidden_layer_is_saved_and_read_back_exactly(tmp_path: Path) -> None:
    texts, labels = shop_texts()
    model = train(texts, labels, recipe=Recipe(spec=SPEC))
    rng = np.random.default_rng(3)
    columns = np.sort(rng.choice(model.weights.shape[0], 64, replace=False)).astype(np.int32)
    layer = HiddenLayer(
        columns=columns,
        w1=rng.normal(0, 1, (64, 4)).astype(np.float32),
        b1=rng.normal(0, 0.1, 4).astype(np.float32),
        w2=rng.normal(0, 1, 4).astype(np.float32),
    ).quantised()
    model.hidden = layer
    path = tmp_path / "hidden.npz"
    model.save(path)
    again = SentimentModel.load(path)
    assert again.hidden is not None
    assert np.array_equal(again.hidden.w1, layer.w1)
    with np.load(path) as data:
        assert data["hidden_w1_int8"].dtype == np.int8
        assert "hidden_w1" not in data


def test_a_model_file_with_a_float16_hidden_layer_is_still_read(tmp_path: Path) -> None:
    """Files written before the layer was kept in int8 hold it as float16."""
    texts, labels = shop_texts()
    model = train(texts, labels, recipe=Recipe(spec=SPEC))
    w1 = np.random.default_rng(1).normal(0, 1, (8, 2)).astype(np.float16)
    path = tmp_path / "old.npz"
    model.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays |= {
        "hidden_columns": np.arange(8, dtype=np.int32),
        "hidden_w1": w1,
        "hidden_b1": np.zeros(2, dtype=np.float32),
        "hidden_w2": np.ones(2, dtype=np.float32),
    }
    np.savez_compressed(path, **arrays)
    again = SentimentModel.load(path)
    assert again.hidden is not None
    assert np.array_equal(again.hidden.w1, w1.astype(np.float32))


def test_fixed_epochs_and_shares_make_the_partners_join_whatever_the_split_says() -> None:
    """With ``hidden_fixed`` and ``conv_fixed`` no share of 0 is a candidate: the model
    has both partners, with those epochs and shares, even on texts the linear model
    already separates perfectly."""
    pytest.importorskip("torch")
    texts, labels = shop_texts()
    recipe = Recipe(
        spec=SPEC, hidden=True, hidden_fixed=(1, 0.5), conv=True, conv_fixed=(1, 0.2), **SMALL_CONV
    )
    said: list[str] = []
    model = train(texts, labels, recipe=recipe, progress=said.append)
    about = model.about
    assert (about["hidden_epochs"], about["hidden_share"]) == (1, 0.5)
    assert (about["conv_epochs"], about["conv_share"]) == (1, 0.2)
    assert model.hidden is not None and model.conv is not None
    assert (
        about["method"]
        == "NB-SVM"
        + {"none": "", "svm": " + SVM", "lr": " + LR"}[about["partner"]]
        + " + hidden layer + convolutional partner"
    )
    # one epoch trained, one share tried for each
    assert sum("hidden layer (1 networks), epoch" in line for line in said) == 1
    assert sum("convolutional partner, epoch" in line for line in said) == 1
    # the layer is on the file's grid: what was trained is what a file gives back
    assert np.array_equal(model.hidden.w1, model.hidden.quantised().w1)


def test_the_partners_recipe_fixes_both_partners() -> None:
    assert PARTNERS_RECIPE.hidden and PARTNERS_RECIPE.conv
    assert PARTNERS_RECIPE.hidden_fixed is not None and PARTNERS_RECIPE.conv_fixed is not None
    assert PARTNERS_RECIPE.hidden_seeds == 1
    assert Recipe().hidden_fixed is None and not Recipe().hidden  # a shop's default: linear


def test_the_shipped_model_is_made_by_the_shipped_recipe() -> None:
    model = load_model(shipped_path())
    about = model.about
    assert model.hidden is not None and model.conv is not None
    assert PARTNERS_RECIPE.hidden_fixed == (about["hidden_epochs"], about["hidden_share"])
    assert PARTNERS_RECIPE.conv_fixed == (about["conv_epochs"], about["conv_share"])
    assert model.hidden.w1.shape[1] == PARTNERS_RECIPE.hidden_units * PARTNERS_RECIPE.hidden_seeds
    assert shipped_path().stat().st_size < 15_000_000


def test_the_command_asks_for_pytorch_for_the_partners_recipe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(train_module, "torch_available", lambda: False)
    path = tmp_path / "r.csv"
    path.write_text("review,label\n" + "很好,1\n很差,0\n" * 20, encoding="utf-8")
    for flag in ("--partners", "--shipped"):
        assert main([str(path), flag, "--out", str(tmp_path / "m.npz")]) == 2
        assert "PyTorch" in capsys.readouterr().err
        assert not (tmp_path / "m.npz").exists()


def test_the_about_names_no_epochs_for_a_partner_that_is_not_in_the_model() -> None:
    """A partner given a share of 0 is not part of the model: its ``about`` says 0 epochs
    (and 0 seeds), as for a model trained without it."""
    pytest.importorskip("torch")
    texts, labels = shop_texts()
    recipe = Recipe(
        spec=SPEC, hidden=True, hidden_fixed=(1, 0.0), conv=True, conv_fixed=(1, 0.0), **SMALL_CONV
    )
    model = train(texts, labels, recipe=recipe)
    assert model.hidden is None and model.conv is None
    about = model.about
    assert (about["hidden_epochs"], about["hidden_share"], about["hidden_seeds"]) == (0, 0.0, 0)
    assert (about["conv_epochs"], about["conv_share"]) == (0, 0.0)
    assert "hidden layer" not in about["method"]
    assert "convolutional" not in about["method"]


PROBE = ["店员很热情", "地面脏乱", "好", "", "导购服务周到，收银很快 ABC"]


def _scores_as_its_file(model: SentimentModel, path: Path, texts: list[str]) -> None:
    model.save(path)
    again = SentimentModel.load(path)
    assert np.array_equal(again.margins(texts), model.margins(texts))
    assert np.array_equal(again.probabilities(texts), model.probabilities(texts))


def test_a_trained_linear_model_scores_as_the_file_it_is_saved_to(tmp_path: Path) -> None:
    """The IDF and weights are kept in float16: training returns them on that grid, so
    what a benchmark scores of a trained model is what its file gives back."""
    texts, labels = shop_texts()
    model = train(texts, labels, recipe=Recipe(spec=SPEC))
    _scores_as_its_file(model, tmp_path / "linear.npz", [*PROBE, *texts])
    adapted = adapt(model, *shop_texts(6))
    _scores_as_its_file(adapted, tmp_path / "adapted.npz", [*PROBE, *texts])


def test_a_model_with_both_partners_scores_as_the_file_it_is_saved_to(tmp_path: Path) -> None:
    """The convolutional network is kept in float16: it is put on that grid as it is taken
    from PyTorch, after each epoch on the validation split as at the end, so its share is
    chosen, and its spread measured, on the network the file holds."""
    pytest.importorskip("torch")
    from patron.support.feedback import conv_train

    texts, labels = shop_texts()
    recipe = Recipe(
        spec=SPEC, hidden=True, hidden_fixed=(1, 0.5), conv=True, conv_fixed=(1, 0.3), **SMALL_CONV
    )
    model = train(texts, labels, recipe=recipe)
    assert model.conv is not None and model.hidden is not None
    _scores_as_its_file(model, tmp_path / "partners.npz", [*PROBE, *texts])

    def on_grid(layer: ConvLayer) -> bool:
        arrays = [layer.embedding, *layer.filters]
        return all(np.array_equal(a, a.astype(np.float16).astype(np.float32)) for a in arrays)

    assert on_grid(model.conv)
    # the networks scored on the validation split after each epoch are on the grid too
    seen: list[bool] = []
    alphabet = conv_train._alphabet(texts, recipe)
    y = np.asarray(labels)
    conv_train._conv_net(
        texts, y, alphabet, recipe, 2, lambda _e, layer: seen.append(on_grid(layer))
    )
    assert seen == [True, True]
