"""The basket page's "make a bundle offer": shown only to roles that may write campaigns and
manage audiences; a click makes the draft campaign and opens it; a bad rule or template is a
clear error and makes nothing."""

from __future__ import annotations

import json
import re

import pytest

from patron import audiences
from patron.campaigns import service as campaigns
from patron.core.db import Database
from patron.staff.roles import ROLE_PERMISSIONS, STORE_BOUND_ROLES, Role
from patron.staff.roles import Permission as P
from tests.analytics.helpers import build_basket_shop
from tests.campaigns.helpers import SMS, make_template
from tests.web.helpers.console import console

RULE = json.dumps({"antecedent": ["BREAD"], "consequent": "JAM"})


def _ready(db: Database) -> int:
    build_basket_shop(db)
    audiences.refresh_audience_store(db=db)
    return make_template(db, SMS).id


@pytest.mark.parametrize("role", [Role.MARKETER, Role.CHAIN_MANAGER, Role.ANALYST, Role.ADMIN])
def test_the_button_shows_only_to_roles_that_write_campaigns_and_manage_audiences(
    sqlite_db: Database, role: Role
) -> None:
    _ready(sqlite_db)
    may = {P.CAMPAIGNS_WRITE, P.AUDIENCES_MANAGE} <= ROLE_PERMISSIONS[role]
    stores = ["A01"] if role in STORE_BOUND_ROLES else None
    with console(sqlite_db, "someone", role, stores) as (client, csrf):
        page = client.get("/analytics/baskets")
        made = client.post(
            "/analytics/baskets/offer",
            data={"csrf_token": csrf, "rule": RULE, "template_id": "1", "amount_off": "5"},
            follow_redirects=False,
        )
    assert page.status_code == 200
    assert ("生成组合优惠" in page.text) is may
    assert made.status_code == (303 if may else 403)
    listed = sqlite_db.read(lambda s: campaigns.list_campaigns(session=s))
    assert len(listed) == (1 if may else 0)


def test_a_click_makes_the_draft_campaign_and_bad_input_makes_nothing(sqlite_db: Database) -> None:
    template_id = _ready(sqlite_db)
    with console(sqlite_db, "mia", Role.MARKETER) as (client, csrf):
        base = {"csrf_token": csrf, "rule": RULE, "template_id": str(template_id)}
        no_amount = client.post("/analytics/baskets/offer", data=base | {"amount_off": ""})
        bad_rule = client.post(
            "/analytics/baskets/offer", data=base | {"rule": "{", "amount_off": "5"}
        )
        no_template = client.post(
            "/analytics/baskets/offer", data=base | {"template_id": "999", "amount_off": "5"}
        )
        made = client.post(
            "/analytics/baskets/offer", data=base | {"amount_off": "5"}, follow_redirects=False
        )
        opened = client.get(made.headers["location"])
    for bad in (no_amount, bad_rule, no_template):
        assert bad.status_code == 422
        assert 'id="bundle-error"' in bad.text
    assert re.fullmatch(r"/campaigns/\d+", made.headers["location"])
    assert opened.status_code == 200
    assert "BREAD ⇒ JAM" in opened.text and 'id="campaign-focus-sku">JAM<' in opened.text
    [campaign] = sqlite_db.read(lambda s: campaigns.list_campaigns(session=s))
    assert (campaign.status, campaign.offer, campaign.focus_sku) == ("draft", "coupon", "JAM")
