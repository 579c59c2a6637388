"""Reading what customers write: segmentation, keywords, what sets one set of texts apart
from another, and topics."""

from __future__ import annotations

import multiprocessing

import pytest

from patron.support.feedback import segment
from patron.support.feedback.keywords import distinctive_keywords, keywords
from patron.support.feedback.topics import suggested_topics, topics

DELIVERY = [
    "快递太慢了，等了一个星期才到",
    "物流太慢，快递一周才送到",
    "快递员送货太慢，打电话也不接",
    "物流速度慢，快递三天没动",
    "发货太慢，物流信息一直不更新",
    "快递很慢，包装还破了",
]
SERVICE = [
    "客服态度很差，问了半天没人理",
    "客服不回复消息，态度恶劣",
    "客服态度差还挂电话",
    "售后客服态度敷衍，推来推去",
    "找客服退货，客服一直拖着",
]
QUALITY = [
    "衣服质量差，洗一次就掉色",
    "质量太差，穿两天就开线",
    "面料质量差，起球严重",
    "质量不好，掉色严重，不会再买",
]
PRAISE = [
    "质量很好，穿着舒服",
    "物流很快，第二天就到了",
    "客服很耐心，推荐购买",
    "性价比高，会回购",
    "包装精美，送人很有面子",
    "颜色正，尺码合适",
    "很满意的一次购物",
    "面料舒服，做工精细",
    "发货快，东西不错",
    "五星好评，下次还来",
]


def test_segmentation_keeps_service_words_whole() -> None:
    tokens = segment.cut("物流太慢了，客服态度也很差！")
    assert {"物流", "客服", "态度"} <= set(tokens)


def test_full_width_letters_and_digits_are_read_as_ascii() -> None:
    assert segment.normalise("ＯＫ，ｉＰｈｏｎｅ　１３  很好用") == "ok,iphone 13 很好用"


def test_content_words_leave_out_punctuation_numbers_and_stop_words() -> None:
    words = segment.content_words("我们等了3天，快递还是没有到！！")
    assert "快递" in words
    assert not {"我们", "还是", "没有", "3", "，", "！"} & set(words)


def test_a_shops_own_words_stay_whole() -> None:
    assert "雪域牦牛奶" not in segment.cut("雪域牦牛奶很好喝")
    segment.add_words(["雪域牦牛奶"])
    assert "雪域牦牛奶" in segment.cut("雪域牦牛奶很好喝")


def _cut_in_child(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put(segment.cut("客服态度很差"))


def test_the_dictionary_loaded_before_forking_serves_the_children() -> None:
    segment.initialise()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = context.Queue()
    child = context.Process(target=_cut_in_child, args=(queue,))
    child.start()
    child.join(30)
    assert queue.get(timeout=5) == segment.cut("客服态度很差")
    assert child.exitcode == 0


def test_the_keywords_of_complaints_are_what_they_complain_about() -> None:
    words = [k.word for k in keywords(DELIVERY + SERVICE + QUALITY, top=6)]
    assert {"快递", "客服", "质量", "物流"} <= set(words)
    # the two words five texts each use lead; a common word like 质量 comes after 太慢
    first, second = keywords(DELIVERY + SERVICE + QUALITY, top=2)
    assert {first.word, second.word} == {"快递", "客服"}
    assert first.texts == second.texts == 5
    assert first.share == pytest.approx(5 / 15)


def test_keywords_do_not_depend_on_the_order_of_the_texts() -> None:
    texts = DELIVERY + SERVICE + QUALITY
    assert keywords(texts) == keywords(list(reversed(texts)))


def test_a_word_said_many_times_in_one_text_counts_once() -> None:
    rant = ["快递快递快递快递快递快递快递快递快递快递", "客服态度差", "客服不理人"]
    best = keywords(rant, top=1, min_texts=1)[0]
    assert best.word == "客服"


def test_no_texts_no_keywords() -> None:
    assert keywords([]) == []
    assert distinctive_keywords([], PRAISE) == []
    assert topics([]) == []


def test_what_sets_complaints_apart_from_praise() -> None:
    complaints = DELIVERY * 3 + SERVICE * 3
    contrast = distinctive_keywords(complaints, PRAISE * 3)
    words = [c.word for c in contrast]
    assert {"快递", "太慢", "客服"} <= set(words[:4])
    assert "质量" not in words  # praised, not complained about
    assert all(c.z >= 1.96 for c in contrast)


def test_a_word_both_sets_use_alike_is_not_distinctive() -> None:
    both = ["物流很快", "物流一般", "物流还行", "物流不错"] * 4
    assert "物流" not in [c.word for c in distinctive_keywords(both, both)]


def test_topics_find_delivery_service_and_quality_apart() -> None:
    texts = DELIVERY + SERVICE + QUALITY
    found = topics(texts, n_topics=3)
    assert len(found) == 3
    groups = [set(range(0, 6)), set(range(6, 11)), set(range(11, 15))]
    for topic in found:
        # each topic gathers the texts of one complaint, nearly all of them
        best = max(groups, key=lambda g: len(g & set(topic.texts)))
        assert len(best & set(topic.texts)) >= len(topic.texts) - 1
    heads = {t.words[0] for t in found} | {t.words[1] for t in found}
    assert {"客服", "质量"} & heads
    assert {"快递", "物流", "太慢"} & heads


def test_topics_are_the_same_on_every_run() -> None:
    texts = DELIVERY + SERVICE + QUALITY + PRAISE
    assert topics(texts) == topics(texts)


def test_a_handful_of_texts_has_no_topics() -> None:
    assert topics(DELIVERY[:3]) == []


def test_the_number_of_topics_grows_slowly_with_the_texts() -> None:
    assert suggested_topics(10) == 2
    assert suggested_topics(500) == 10
    assert suggested_topics(100_000) == 12
