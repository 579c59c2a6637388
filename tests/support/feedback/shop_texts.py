"""A toy shop's labelled feedback for the sentiment tests: five kind and five unkind
remarks, repeated with a visit number so that a model has something to learn."""

from __future__ import annotations

SHOP_GOOD = ["店员很热情", "导购服务周到", "收银很快", "会员积分好用", "环境干净整洁"]
SHOP_BAD = ["店员爱答不理", "导购一直推销", "排队结账太久", "积分兑换不了", "地面脏乱"]


def shop_texts(n: int = 12) -> tuple[list[str], list[int]]:
    """``n`` rounds of every remark, labelled 1 (kind) or 0 (unkind)."""
    texts, labels = [], []
    for i in range(n):
        for good, bad in zip(SHOP_GOOD, SHOP_BAD, strict=True):
            texts += [f"{good}，第{i}次来", f"{bad}，第{i}次来"]
            labels += [1, 0]
    return texts, labels
