"""The basket page: the latest run's rules with filters by store, level, category and
minimum support, confidence and lift, a chart from a JSON block, "bought together" for one
SKU; a store-bound role sees its own stores' rules only; bad filters are clear errors."""

from __future__ import annotations

import json
import re

import pytest

from patron.analytics.basket.service import RuleFilters, top_rules
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import ROLE_PERMISSIONS, STORE_BOUND_ROLES, Role
from patron.staff.roles import Permission as P
from tests.analytics.helpers import build_basket_shop
from tests.web.helpers.console import console, text_of


def _block(html: str, block: str) -> dict[str, object]:
    match = re.search(rf'id="{block}">([^<]*)</script>', html)
    assert match, block
    found: dict[str, object] = json.loads(match.group(1))
    return found


def _rules(html: str) -> list[str]:
    return [
        " ".join(text_of(a).split()) + " ⇒ " + text_of(c).strip()
        for a, c in re.findall(
            r'<td class="antecedent">(.*?)</td>\s*<td class="consequent">(.*?)</td>', html
        )
    ]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_opens_the_basket_page_exactly_when_it_has_analytics_read(
    sqlite_db: Database, role: Role
) -> None:
    sqlite_db.write(
        lambda s: catalog.create_store(session=s, store_in=StoreCreate(code="A01", name="一店"))
    )
    allowed = P.ANALYTICS_READ in ROLE_PERMISSIONS[role]
    stores = ["A01"] if role in STORE_BOUND_ROLES else None
    with console(sqlite_db, "someone", role, stores) as (client, _csrf):
        page = client.get("/analytics/baskets")
    assert page.status_code == (200 if allowed else 403)
    if allowed:
        assert 'id="no-run"' in page.text and "购物篮规则" in page.text


def test_the_page_lists_filters_and_charts_the_rules_the_run_kept(db: Database) -> None:
    shop = build_basket_shop(db)
    stored = db.read(lambda s: top_rules(session=s, filters=RuleFilters(limit=500)))
    assert stored.total > 0
    with console(db) as (client, _csrf):
        page = client.get("/analytics/baskets")
        strict = client.get("/analytics/baskets", params={"min_confidence": "100", "min_lift": "1"})
        bakery = client.get("/analytics/baskets", params={"category": "食品/烘焙"})
        in_b01 = client.get("/analytics/baskets", params={"store": "B01"})
        levels = client.get("/analytics/baskets", params={"level": "category"})
        together = client.get("/analytics/baskets", params={"sku": "BREAD"})
        unknown = client.get("/analytics/baskets", params={"sku": "NOPE"})
        bad = client.get("/analytics/baskets", params={"min_support": "120"})
        not_number = client.get("/analytics/baskets", params={"min_lift": "abc"})
        no_store = client.get("/analytics/baskets", params={"store": "Z99"})
    assert page.status_code == 200
    listed = _rules(page.text)
    assert listed == [" + ".join(r.antecedent) + " ⇒ " + r.consequent for r in stored.rules[:50]]
    assert "BREAD ⇒ JAM" in listed
    chart = _block(page.text, "rules-data")
    assert len(chart["points"]) == min(stored.total, 200)  # type: ignore[arg-type]
    assert 'data-kind="a-rules"' in page.text and "/static/analytics.js" in page.text
    assert "<script>" not in page.text  # the CSP forbids inline scripts
    scope = text_of(re.search(r'id="rule-scope">(.*?)</p>', page.text).group(1))  # type: ignore[union-attr]
    assert "2025-09-30" in scope and f"共 {stored.total}" not in scope

    assert strict.status_code == 200
    strict_rules = _rules(strict.text)
    assert strict_rules and all(
        r.confidence >= 1.0
        for r in stored.rules
        if " + ".join(r.antecedent) + " ⇒ " + r.consequent in strict_rules
    )
    assert len(strict_rules) < len(listed)
    assert {r.split(" ⇒ ")[1] for r in _rules(bakery.text)} <= {"BREAD", "JAM"}
    assert _rules(bakery.text)
    assert in_b01.status_code == 200 and _rules(in_b01.text)
    assert 'value="B01" selected' in in_b01.text
    assert levels.status_code == 200  # one top-level category: no rule between categories
    assert 'id="no-rules"' in levels.text

    table = re.search(r'<table id="bought-together">(.*?)</table>', together.text, re.DOTALL)
    assert table and "JAM" in table.group(1) and "草莓果酱" in table.group(1)
    assert unknown.status_code == 200
    assert "没有 SKU 为 NOPE 的商品" in text_of(unknown.text)
    assert bad.status_code == 422 and "最小支持度: 0 到 100 之间的百分数" in text_of(bad.text)
    assert not_number.status_code == 422 and "最小提升度" in text_of(not_number.text)
    assert no_store.status_code == 422 and "Z99" in text_of(no_store.text)
    assert shop.run_id == stored.run_id


def test_a_store_manager_sees_only_their_stores_rules(db: Database) -> None:
    build_basket_shop(db)
    with console(db, "manager", Role.STORE_MANAGER, ["A01"]) as (client, _csrf):
        own = client.get("/analytics/baskets")
        other = client.get("/analytics/baskets", params={"store": "B01"})
        together = client.get("/analytics/baskets", params={"sku": "BREAD"})
    assert own.status_code == 200 and _rules(own.text)
    assert 'value="A01" selected' in own.text
    assert 'value="B01"' not in own.text and "全部门店" not in own.text
    assert other.status_code == 422  # not a store they may pick
    assert together.status_code == 200 and 'id="bought-together"' in together.text
    with console(db, "chain", Role.CHAIN_MANAGER) as (client, _csrf):
        chain = client.get("/analytics/baskets")
    assert "全部门店" in chain.text and 'value="B01"' in chain.text
