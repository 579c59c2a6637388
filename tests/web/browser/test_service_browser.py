"""After-sales service in a real browser, in Chinese: a cashier opens a return ticket for a
sale in her store; an agent replies, approves the refund, resolves and closes it; the
customer answers the survey on the public page at a phone's size; the store manager reads
the SLA report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.engagement import service as engagement
from patron.staff.roles import Role
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import SurveyCreate
from tests.helpers import ACTOR, add_store, post_order, sign_up
from tests.support.helpers import policy, seed_holidays
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser

PHONE = "13900000001"
QUESTIONS = [
    {"key": "csat", "kind": "csat", "text_zh": "您对这次服务满意吗？", "text_en": "Satisfied?"},
    {"key": "nps", "kind": "nps", "text_zh": "您会向朋友推荐我们吗？", "text_en": "Recommend us?"},
    {"key": "why", "kind": "text", "text_zh": "还有什么想告诉我们的？", "text_en": "Anything else?",
     "required": False},
]  # fmt: skip


@dataclass(frozen=True)
class Site:
    url: str
    db_url: str
    order_id: int
    customer_id: int


def _seed(db: Database) -> tuple[str, int, int]:
    add_store(db, "SH01", "人民广场店")
    seed_holidays(db)
    policy(db, first_reply_minutes=60 * 24, resolve_minutes=60 * 24 * 5)
    customer = sign_up(db, name="王小明", phone=PHONE)
    order = post_order(db, "S-1", store_code="SH01", customer={"phone": PHONE},
                       lines=[{"sku": "SHOE-39", "name": "跑鞋", "quantity": 1,
                               "unit_price_fen": 39_900}])  # fmt: skip
    survey_in = SurveyCreate.model_validate(
        {"code": "after-service", "name": "售后回访", "questions": QUESTIONS}
    )
    db.write(lambda s: surveys.create_survey(session=s, survey_in=survey_in, actor=ACTOR))
    make_staff(db, "li", Role.CASHIER, ["SH01"])
    make_staff(db, "chen", Role.SERVICE_AGENT)
    make_staff(db, "zhou", Role.STORE_MANAGER, ["SH01"])
    return db.url, order.order.id, customer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("service"), _seed) as (url, (db_url, order, customer)):
        yield Site(url, db_url, order, customer)


def _survey_path(site: Site) -> str:
    """The link in the survey invitation the outbox holds for the customer."""
    db = Database(site.db_url)
    try:
        invitation = db.read(
            lambda s: surveys.invitations_of(session=s, customer_id=site.customer_id)
        )[-1]
        message_id = db.read(
            lambda s: engagement.find_message_id(
                session=s, source_kind="survey", source_id=str(invitation),
                customer_id=site.customer_id, channel="sms",
            )
        )  # fmt: skip
        assert message_id is not None
        claim = db.write(
            lambda s: engagement.claim_messages(
                session=s, message_ids=[message_id], now=utcnow() + timedelta(days=1), lease_s=60
            )
        )
        url = str((claim.messages[0].variables or {})["survey_url"])
        return "/s/" + url.rsplit("/s/", 1)[1]
    finally:
        db.dispose()


def test_a_return_from_the_till_to_the_survey_and_the_sla_report(
    browser: Any, page: Any, site: Site
) -> None:
    expect = playwright_api.expect
    # The cashier opens a return ticket for the sale in her store.
    sign_in(page, site.url, "li")
    page.goto(f"{site.url}/tickets/new?order_id={site.order_id}&ticket_type=return")
    expect(page.locator("h1")).to_have_text("开工单")
    page.fill("#phone", PHONE)
    page.fill("#lines", "1")
    page.fill("#subject", "鞋码不合适，要求退货")
    page.click("#open-ticket")
    expect(page.locator("#status")).to_have_text("新建")
    expect(page.locator("#clock")).to_have_text("正常")
    shot(page, "service-ticket-opened")
    ticket_url = page.url.split("?")[0]
    page.goto(f"{site.url}/tickets")
    expect(page.locator("#tickets")).to_contain_text("鞋码不合适")
    page.context.clear_cookies()

    # The agent takes it, replies, refunds, resolves and closes it.
    sign_in(page, site.url, "chen")
    page.goto(ticket_url)
    page.select_option("#assign-to", label="Chen")
    page.click("#assign")
    expect(page.locator("#assignee")).to_have_text("Chen")
    page.fill("#entry-body", "您好，已收到您的退货申请，马上为您办理。")
    page.click("#add-entry")
    expect(page.locator("#status")).to_have_text("处理中")
    page.click("#approve-return")
    expect(page.locator("#refund")).to_contain_text("已退款")
    for status, title in (("resolved", "已解决"), ("closed", "已关闭")):
        page.select_option("#next-status", status)
        page.click("#move")
        expect(page.locator("#status")).to_have_text(title)
    shot(page, "service-ticket-closed")
    page.context.clear_cookies()

    # The customer answers the survey on her phone.
    phone = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        mobile = phone.new_page()
        mobile.goto(site.url + _survey_path(site))
        expect(mobile.locator("#greeting")).to_contain_text("小明")
        expect(mobile.locator("body")).not_to_contain_text("王小明")
        expect(mobile.locator("body")).not_to_contain_text(PHONE)
        mobile.click("#send")  # nothing chosen: the page says what is missing
        expect(mobile.locator("#error")).to_be_visible()
        mobile.click("label:has(#csat-5)")
        mobile.click("label:has(#nps-10)")
        mobile.fill("#why", "店员态度很好，退款也很快")
        shot(mobile, "service-survey-phone")
        mobile.click("#send")
        expect(mobile.locator("#thanks")).to_have_text("谢谢您！")
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone
    finally:
        phone.close()

    # The store manager reads the SLA report.
    sign_in(page, site.url, "zhou")
    page.goto(f"{site.url}/service/sla")
    expect(page.locator("h1")).to_have_text("SLA 报表")
    expect(page.locator("#met")).to_have_text("100.0%")
    expect(page.locator("#by-store")).to_contain_text("SH01")
    shot(page, "service-sla-report")
    assert not page.errors, page.errors
