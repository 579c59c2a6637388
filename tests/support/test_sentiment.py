"""Sentiment of customers' texts: the shipped model offline, a shop's own model, labelled
files as shops export them, and the accuracy on held-out public reviews."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from patron.support.exceptions import InvalidFeedback, SentimentModelMissing
from patron.support.feedback import sentiment
from patron.support.feedback import train as train_module
from patron.support.feedback.labelled import read_labelled
from patron.support.feedback.sentiment import (
    FeatureSpec,
    HiddenLayer,
    Polarity,
    SentimentModel,
    load_model,
    shipped_path,
)
from patron.support.feedback.train import Recipe, adapt, main, train
from tests.support.feedback.shop_texts import shop_texts

REVIEWS = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "reviews"
    / "online_shopping_reviews_dev.csv"
)

POSITIVE = [
    "质量很好，物流也快，非常满意，会回购的",
    "客服态度特别好，耐心解答问题，点赞",
    "衣服很漂亮，面料舒服，尺码标准",
    "酒店位置方便，房间干净，早餐丰富",
    "水果很新鲜，个头大，味道甜",
    "性价比很高，推荐购买",
]
NEGATIVE = [
    "质量太差了，用了两天就坏了，客服也不理人",
    "物流慢得要死，包装破了，东西也少了一件",
    "衣服有色差，线头很多，穿一次就起球，退货",
    "酒店隔音很差，房间有霉味，服务员态度冷淡",
    "水果烂了一半，还有一股怪味，再也不买了",
    "假货，跟描述完全不符，差评",
]


@pytest.fixture(autouse=True)
def _fresh_models() -> None:
    sentiment.forget_models()


def test_the_shipped_model_scores_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the sentiment model reached for the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = load_model(shipped_path())
    assert model.spec == FeatureSpec()
    assert len(model.score(["好"])) == 1


def test_known_positive_and_negative_sentences_are_scored_right() -> None:
    results = load_model(shipped_path()).score(POSITIVE + NEGATIVE)
    assert [r.polarity for r in results] == [Polarity.POSITIVE] * 6 + [Polarity.NEGATIVE] * 6
    assert all(r.probability > 0.8 for r in results[:6])
    assert all(r.probability < 0.2 for r in results[6:])


def test_the_shipped_model_says_what_it_learnt_from() -> None:
    about = load_model(shipped_path()).about
    assert "online_shopping_10_cats" in about["data"]
    assert "licence" in about["data_licence"]
    assert about["texts"] > 50_000 - 100
    assert shipped_path().stat().st_size < 15_000_000  # 12.2 MB with its two partners


def test_no_texts_no_scores() -> None:
    assert load_model(shipped_path()).score([]) == []


def test_the_shops_own_model_in_the_data_directory_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.core.settings import get_settings

    assert load_model().about == load_model(shipped_path()).about
    shop = _toy_model()
    shop.save(Path(get_settings().data_dir) / "sentiment.npz")
    sentiment.forget_models()
    assert load_model().about["data"] == "toy"


def test_a_missing_model_file_is_named() -> None:
    with pytest.raises(SentimentModelMissing) as error:
        SentimentModel.load(Path("/nowhere/sentiment.npz"))
    assert error.value.facts["path"] == "/nowhere/sentiment.npz"


def _toy_model() -> SentimentModel:
    texts, labels = shop_texts()
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    return train(texts, labels, recipe=Recipe(spec=spec), about={"data": "toy"})


def test_a_model_trained_on_a_shops_feedback_is_saved_and_read_back(tmp_path: Path) -> None:
    model = _toy_model()
    path = tmp_path / "mine.npz"
    model.save(path)
    again = SentimentModel.load(path)
    probe = ["店员很热情", "地面脏乱", "导购服务周到，收银很快"]
    assert np.allclose(again.margins(probe), model.margins(probe), atol=1e-2)
    assert list(again.predict(probe)) == [1, 0, 1]
    assert again.about["data"] == "toy"
    assert 0.0 <= again.about["validation_accuracy"] <= 1.0


def test_training_needs_both_kinds_of_text() -> None:
    with pytest.raises(InvalidFeedback) as error:
        train(["很好"] * 30, [1] * 30)
    assert error.value.field == "label"


def test_a_shops_texts_teach_the_shipped_model_its_own_words() -> None:
    base = load_model(shipped_path())
    # Praise in slang the public reviews never used: yyds (the best ever), 绝绝子 (superb)
    probe = ["这款yyds", "绝绝子"]
    assert list(base.predict(probe)) == [0, 0]  # read as complaints before
    texts, labels = [], []
    for i in range(20):
        texts += [f"第{i}款yyds", f"绝绝子，第{i}次买", f"第{i}次发货慢", f"客服第{i}次没回"]
        labels += [1, 1, 0, 0]
    adapted = adapt(base, texts, labels)
    assert list(adapted.predict(probe)) == [1, 1]
    # and what it knew stays known
    assert list(adapted.predict(POSITIVE + NEGATIVE)) == [1] * 6 + [0] * 6
    assert adapted.about["method"] == "adapted"
    assert adapted.about["base"]["data"] == base.about["data"]


def test_a_labelled_file_is_read_as_a_shop_exports_it(tmp_path: Path) -> None:
    path = tmp_path / "反馈.csv"
    rows = [
        "类别,评价,情感",
        "门店,店员很热情,正面",
        "门店,排队太久,负面",
        "",
        '网店,"物流快，包装好",好评',
        "网店,,正面",
        "网店,一般般,中性",
        "网店,发货慢,0",
    ]
    path.write_bytes("\r\n".join(rows).encode("gbk"))
    data = read_labelled(path)
    assert data.texts == ["店员很热情", "排队太久", "物流快，包装好", "发货慢"]
    assert data.labels == [1, 0, 1, 0]
    assert data.categories == ["门店", "门店", "网店", "网店"]
    assert [(r.row, r.column) for r in data.rejects] == [(6, "评价"), (7, "情感")]


def test_a_file_without_a_label_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("评价\n很好\n", encoding="utf-8")
    with pytest.raises(InvalidFeedback) as error:
        read_labelled(path)
    assert error.value.field == "label"


def test_the_training_command_writes_a_model_and_reports_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts, labels = shop_texts(4)
    path = tmp_path / "labelled.csv"
    lines = ["review,label", *(f"{t},{y}" for t, y in zip(texts, labels, strict=True))]
    path.write_text("\n".join([*lines, "很好,maybe"]) + "\n", encoding="utf-8-sig")
    out = tmp_path / "model.npz"
    assert main([str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"row {len(lines) + 1}, label" in printed
    assert SentimentModel.load(out).about["texts"] == len(texts)


def test_the_training_command_says_what_is_wrong_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one-sided.csv"
    path.write_text("review,label\n" + "很好,1\n" * 40, encoding="utf-8")
    assert main([str(path), "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: label: needs at least 10 positive and 10 negative")


# The figure on the whole set (5-fold cross-validation, about 0.94) is bench/sentiment.py's;
# here the recipe is trained on a stratified sample small enough for the suite and scored
# on other reviews of the same set, so that a regression of the recipe shows.
SAMPLE_TRAIN, SAMPLE_TEST = 6_000, 2_000


@pytest.fixture(scope="module")
def held_out_sample() -> tuple[SentimentModel, list[str], np.ndarray, list[str]]:
    """The recipe trained on a stratified sample of the shared reviews (category × label
    strata, seed 20), and other reviews of the set it never saw."""
    if not REVIEWS.is_file():
        pytest.skip(f"the shared reviews are not at {REVIEWS}")
    from sklearn.model_selection import train_test_split

    data = read_labelled(REVIEWS)
    strata = [f"{c}|{y}" for c, y in zip(data.categories, data.labels, strict=True)]
    fit_at, test_at = train_test_split(
        np.arange(len(data)),
        train_size=SAMPLE_TRAIN,
        test_size=SAMPLE_TEST,
        stratify=strata,
        random_state=20,
    )
    # Without the logistic-regression partner, which is slow to fit and not chosen on this
    # sample (the toy models above still go through it)
    model = train(
        [data.texts[i] for i in fit_at],
        [data.labels[i] for i in fit_at],
        categories=[data.categories[i] for i in fit_at],
        recipe=Recipe(partners=("none", "svm")),
    )
    labels = np.asarray(data.labels)[test_at]
    return model, [data.texts[i] for i in test_at], labels, [data.categories[i] for i in test_at]


def test_held_out_public_reviews_are_mostly_scored_right(
    held_out_sample: tuple[SentimentModel, list[str], np.ndarray, list[str]],
) -> None:
    """Trained on 6,000 reviews, scored on 2,000 others: 0.922, each category from 0.78
    (water heaters, 18 reviews) to 0.96 (clothes). On the whole set the recipe scores about
    0.94 by cross-validation (bench/sentiment.py). The floors are a little lower so that a
    regression shows, not a rounding."""
    model, texts, labels, categories = held_out_sample
    predicted = model.predict(texts)
    assert float((predicted == labels).mean()) >= 0.91
    cats = np.asarray(categories)
    for cat in set(categories):
        mask = cats == cat
        assert float((predicted[mask] == labels[mask]).mean()) >= 0.7, cat


def test_the_calibrated_probability_means_what_it_says(
    held_out_sample: tuple[SentimentModel, list[str], np.ndarray, list[str]],
) -> None:
    """Of the held-out reviews scored 0.9 or more, at least that share is positive (0.98 of
    670); of those scored 0.1 or less, at least that share is negative (0.98 of 717)."""
    model, texts, labels, _ = held_out_sample
    p = model.probabilities(texts)
    assert float(labels[p >= 0.9].mean()) >= 0.9
    assert float(labels[p <= 0.1].mean()) <= 0.1


def _with_hidden_layer(model: SentimentModel) -> SentimentModel:
    """``model`` with a small hand-made hidden layer over a few of its buckets."""
    rng = np.random.default_rng(3)
    columns = np.sort(rng.choice(model.weights.shape[0], 64, replace=False)).astype(np.int32)
    hidden = HiddenLayer(
        columns=columns,
        w1=rng.normal(0, 1, (64, 4)).astype(np.float32),
        b1=rng.normal(0, 0.1, 4).astype(np.float32),
        w2=rng.normal(0, 1, 4).astype(np.float32),
    )
    return replace(model, hidden=hidden, _featuriser=None)


def test_a_hidden_layer_adds_its_term_and_is_saved_and_read_back(tmp_path: Path) -> None:
    """Scoring a model with a hidden layer needs NumPy only (no PyTorch)."""
    linear = _toy_model()
    model = _with_hidden_layer(linear)
    texts = ["店员很热情", "地面脏乱", "导购服务周到，收银很快", "积分兑换不了"]
    x = sentiment.tfidf(model.featuriser.counts(texts), model.idf)
    assert model.hidden is not None
    hidden = np.maximum(x[:, model.hidden.columns].toarray() @ model.hidden.w1 + model.hidden.b1, 0)
    expected = linear.margins(texts) + hidden @ model.hidden.w2
    assert np.allclose(model.margins(texts), expected, atol=1e-5)
    path = tmp_path / "hidden.npz"
    model.save(path)
    again = SentimentModel.load(path)
    assert again.hidden is not None
    assert list(again.hidden.columns) == list(model.hidden.columns)
    assert np.allclose(again.margins(texts), model.margins(texts), atol=1e-2)
    linear.save(tmp_path / "linear.npz")  # a linear model keeps the first format
    assert SentimentModel.load(tmp_path / "linear.npz").hidden is None


def test_adapting_a_model_with_a_hidden_layer_keeps_it_trusted_as_the_rest() -> None:
    base = _with_hidden_layer(_toy_model())
    texts, labels = shop_texts(4)
    adapted = adapt(base, texts, labels)
    assert adapted.hidden is not None and base.hidden is not None
    trust = adapted.hidden.w2 / base.hidden.w2
    assert np.allclose(trust, trust[0])


def test_the_default_recipe_is_linear() -> None:
    model = _toy_model()
    assert model.hidden is None
    assert model.about["hidden_share"] == 0.0


def test_without_pytorch_a_hidden_layer_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "torch_available", lambda: False)
    texts, labels = shop_texts()
    said: list[str] = []
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    model = train(texts, labels, recipe=Recipe(spec=spec, hidden=True), progress=said.append)
    assert model.hidden is None
    assert any("PyTorch is not installed" in line for line in said)


def test_the_command_asks_for_pytorch_for_a_hidden_layer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(train_module, "torch_available", lambda: False)
    path = tmp_path / "r.csv"
    path.write_text("review,label\n" + "很好,1\n很差,0\n" * 20, encoding="utf-8")
    assert main([str(path), "--hidden", "--out", str(tmp_path / "m.npz")]) == 2
    assert "PyTorch" in capsys.readouterr().err


def test_a_hidden_layer_is_trained_and_chosen_on_the_split_when_pytorch_is_there() -> None:
    pytest.importorskip("torch")
    texts, labels = shop_texts()
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    # one share tried beside 0 (the linear model alone), two epochs: quick
    recipe = Recipe(spec=spec, hidden=True, hidden_shares=(0.5,), hidden_epochs=2)
    model = train(texts, labels, recipe=recipe)
    assert model.about["hidden_epochs"] in (0, 1, 2)
    if model.about["hidden_share"]:
        assert model.hidden is not None
        assert model.about["method"].endswith("hidden layer")
        assert len(model.hidden.columns) <= recipe.hidden_columns
    assert list(model.predict(["店员很热情", "地面脏乱"])) == [1, 0]


def test_the_networks_of_several_seeds_are_averaged_into_one_layer() -> None:
    """``hidden_seeds`` networks, each trained alone from its own seed, sit side by side in
    one layer whose term is the average of their logits (divided by its spread)."""
    pytest.importorskip("torch")
    texts, labels = shop_texts()
    spec = FeatureSpec(word_max=0, buckets_log2=12)
    recipe = Recipe(spec=spec, hidden=True, hidden_seeds=2, hidden_units=4)
    y = np.asarray(labels, dtype=np.int8)
    counts = sentiment.Featuriser(spec).counts(texts)
    x = sentiment.tfidf(counts, sentiment.fit_idf(counts))
    nothing = train_module._Fit(np.zeros(x.shape[1], dtype=np.float32), 0.0)
    # share 1: the hidden layer alone
    weights, bias, layer = train_module._with_hidden(counts, x, y, nothing, 1, 1.0, recipe)
    assert layer.w1.shape == (len(layer.columns), 8)
    assert not weights.any()
    h = train_module._HiddenInput.of(counts, y, recipe).rows(x)
    logits = []
    for seed in (0, 1):
        w1, b1, w2, b2 = train_module._hidden_layer(h, y, recipe, 1, seed=seed)
        logits.append(np.maximum(h @ w1 + b1, 0.0) @ w2 + b2)
    assert not np.allclose(logits[0], logits[1])
    average = (logits[0] + logits[1]) / 2
    # the layer is kept in int8, a step 1/127 of its row's largest weight: close, not equal
    assert np.allclose(layer.margins(x) + bias, average / np.std(average), atol=3e-2)


def test_the_command_refuses_a_number_of_networks_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("review,label\n" + "很好,1\n很差,0\n" * 20, encoding="utf-8")
    assert main([str(path), "--hidden-seeds", "0", "--out", str(tmp_path / "m.npz")]) == 2
    assert "--hidden-seeds must be from 1 to 16" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
