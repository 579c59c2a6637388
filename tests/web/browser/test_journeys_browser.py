"""The birthday journey in a real browser, in Chinese: an administrator switches it on,
runs the due steps, sees the member whose birthday it is pass through (a coupon, an SMS)
and reads the journey's figures. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from typing import Any

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.journeys import JourneyIn, get_journey_by_code, update_journey
from patron.journeys.shipped import install_shipped_journeys
from patron.staff.roles import Role
from tests.consent.helpers import record
from tests.helpers import ACTOR, sign_up
from tests.journeys.helpers import SHANGHAI
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


def _seed(db: Database) -> tuple[int, int]:
    """A member born today (Shanghai), who agreed to SMS; the shipped journeys, off, the
    birthday one greeting from midnight so the test need not wait for ten o'clock."""
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate

    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="A01", name="上海一店", city="上海")
        )
    )
    today = utcnow().astimezone(SHANGHAI).date()
    born = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today
    member = sign_up(
        db, phone="13800138000", name="王小明", home_store_code="A01", birthday=born.isoformat()
    )
    record(db, [member], "sms")
    db.write(lambda s: install_shipped_journeys(session=s, actor=ACTOR))
    journey = db.read(lambda s: get_journey_by_code(session=s, code="birthday"))
    assert journey is not None
    journey_in = JourneyIn.model_validate(
        {
            "name": journey.name,
            "trigger": {**journey.trigger, "at": time(0, 0).isoformat()},
            "steps": journey.steps,
            "reentry_days": journey.reentry_days,
            "holdout_percent": 0,
        }
    )
    db.write(
        lambda s: update_journey(
            session=s, journey_id=journey.id, journey_in=journey_in, actor=ACTOR
        )
    )
    make_staff(db, "admin", Role.ADMIN)
    return journey.id, member


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[int, int]]]:
    with serve(tmp_path_factory.mktemp("journeys-console"), _seed) as found:
        yield found


def test_switch_on_the_birthday_journey_see_a_member_pass_and_read_its_figures(
    page: Any, site: tuple[str, tuple[int, int]]
) -> None:
    expect = playwright_api.expect
    url, (journey_id, member) = site
    sign_in(page, url, "admin")

    page.click("#nav a[href='/journeys']")  # the menu item 旅程
    page.wait_for_url("**/journeys")
    row = page.locator("#journey-birthday")
    expect(row).to_contain_text("生日祝福与生日券")
    expect(row.locator(".journey-state")).to_have_text("未启用")
    shot(page, "journeys-01-list")

    row.locator("a").click()
    page.wait_for_url(f"**/journeys/{journey_id}")
    expect(page.locator("#no-entries")).to_contain_text("还没有会员进入")
    page.click("#switch")  # 启用
    expect(page.locator("#journey-state")).to_have_text("已启用")

    page.click("#run-now")  # 立即运行到期步骤
    page.wait_for_selector(".entry-row", timeout=60_000)  # a tick on busy CI cores
    entry = page.locator(".entry-row").first
    expect(entry.locator("td").first).to_have_text(str(member))
    expect(entry.locator(".entry-status")).to_have_text("完成")
    expect(entry.locator(".entry-outcomes")).to_contain_text("sent:sms")
    expect(page.locator("#stat-entered")).to_have_text("1")
    expect(page.locator("#step-s2 .step-done")).to_have_text("1")
    expect(page.locator("#uplift")).to_contain_text("暂无法测量")
    shot(page, "journeys-02-passed")
