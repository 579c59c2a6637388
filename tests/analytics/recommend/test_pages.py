"""The recommendations section of the customer 360 page: the member's list as the nightly
run stored it, with product names and reasons in the page's language, for roles that read
customers, within a store-bound role's stores."""

from __future__ import annotations

import re

from patron.analytics.recommend.service import recommendations_for
from patron.core.db import Database
from patron.staff.roles import Role
from tests.analytics.helpers import PRODUCTS, build_basket_shop
from tests.web.helpers.console import console, text_of


def _section(html: str) -> str:
    found = re.search(r'id="section-recommendations">(.*?)</section>', html, re.DOTALL)
    assert found, "no recommendations section"
    return found.group(1)


def test_the_360_page_shows_the_members_recommendations(db: Database) -> None:
    shop = build_basket_shop(db)
    member = shop.members[1]  # a B01 member
    stored = db.read(lambda s: recommendations_for(session=s, customer_id=member, limit=10))
    with console(db) as (client, _csrf):
        page = client.get(f"/customers/{member}")
        english = client.get(f"/customers/{member}", cookies={"patron_lang": "en"})
    assert page.status_code == 200
    html = _section(page.text)
    assert "商品推荐" in html  # the section's title
    skus = [text_of(s).strip() for s in re.findall(r'<td class="rec-sku">(.*?)</td>', html)]
    assert skus == [r.sku for r in stored]
    assert skus[0] == "MILK" and PRODUCTS["MILK"][0] in html
    reasons = {text_of(r).strip() for r in re.findall(r'<td class="rec-reason">(.*?)</td>', html)}
    assert reasons and reasons <= {
        "该回购了",
        "曾经购买",
        "相似会员常买",
        "与其常购商品搭配",
        "热销",
    }
    assert "2025-09-30" in html
    in_english = _section(english.text)
    assert "<h2>Recommendations</h2>" in english.text
    assert any(w in in_english for w in ("Due again", "Bought before", "Popular"))

    with console(db, "till", Role.CASHIER, ["B01"]) as (client, _csrf):
        own = client.get(f"/customers/{member}")
        other = client.get(f"/customers/{shop.members[0]}")  # an A01 member
    assert own.status_code == 200 and 'class="rec-sku"' in _section(own.text)
    # the 360 page refuses another store's customer as a missing one (web/errors.py)
    assert other.status_code == 404 and 'id="section-recommendations"' not in other.text


def test_a_customer_no_run_has_reached_has_no_recommendations_yet(sqlite_db: Database) -> None:
    from tests.helpers import sign_up

    customer = sign_up(sqlite_db, phone="13900139000")
    with console(sqlite_db) as (client, _csrf):
        page = client.get(f"/customers/{customer}")
    assert page.status_code == 200
    assert 'id="no-recommendations"' in _section(page.text)
