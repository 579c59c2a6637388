"""Console loyalty pages: the programme and its report, coupon templates and issuing,
promotions, lotteries, points adjustments and referral codes on the 360 page, by role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.customers.exceptions import CustomerNotFound
from patron.loyalty import lottery
from patron.loyalty.coupons import (
    create_coupon_template,
    issue_coupon,
    list_coupon_templates,
    list_customer_coupons,
)
from patron.loyalty.pages.coupons import issue_to_member
from patron.loyalty.points import adjust_points, list_entries
from patron.loyalty.referrals import find_referral_code
from patron.loyalty.schemas import (
    AdjustmentIn,
    CouponIssue,
    CouponTemplateCreate,
    DrawIn,
    LotteryCreate,
)
from patron.staff.roles import ROLE_PERMISSIONS, Permission, Role
from tests.helpers import ACTOR
from tests.web.helpers.console import Shop, console, make_shop, text_of


@pytest.fixture
def shop(db: Database) -> Shop:
    return make_shop(db)


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.DOTALL)
    assert match, f"no element #{element_id}"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def _local(days: int) -> str:
    """A datetime-local box's value, ``days`` from now (shop time, minutes)."""
    from patron.core.settings import get_settings

    return (
        (utcnow() + timedelta(days=days)).astimezone(get_settings().zone).strftime("%Y-%m-%dT%H:%M")
    )


def _template(db: Database, code: str = "C20", *, limit: int | None = None) -> None:
    template_in = CouponTemplateCreate(
        code=code,
        name="满100减20",
        kind="amount_off",
        threshold_fen=10_000,
        amount_off_fen=2_000,
        valid_days=30,
        per_customer_limit=limit,
    )
    db.write(lambda s: create_coupon_template(session=s, template_in=template_in))


MANAGE_TEMPLATE = {
    "code": "M100-20", "name": "满100减20", "kind": "amount_off", "threshold": "100",
    "amount_off": "20", "validity": "relative", "valid_days": "30",
}  # fmt: skip


# ------------------------------------------------------------------------ who may open what

READ_PAGES = ("/loyalty", "/loyalty/coupon-templates", "/loyalty/promotions", "/loyalty/lotteries")
STORE_BOUND = {Role.CASHIER: ["A01"], Role.STORE_MANAGER: ["A01"]}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_opens_the_loyalty_pages_and_sees_the_menu_item_as_the_table_says(
    shop: Shop, role: Role
) -> None:
    may_read = Permission.LOYALTY_READ in ROLE_PERMISSIONS[role]
    with console(shop.db, "someone", role, STORE_BOUND.get(role)) as (client, _csrf):
        for path in READ_PAGES:
            response = client.get(path)
            assert response.status_code == (200 if may_read else 403), path
        home = client.get("/")
    assert ('href="/loyalty"' in home.text) is may_read
    if may_read:
        assert 'href="/loyalty"' in home.text


@pytest.mark.parametrize("role", list(Role))
def test_only_loyalty_managers_may_post_the_programme_forms(shop: Shop, role: Role) -> None:
    may_manage = Permission.LOYALTY_MANAGE in ROLE_PERMISSIONS[role]
    with console(shop.db, "someone", role, STORE_BOUND.get(role)) as (client, csrf):
        for path in ("/loyalty/coupon-templates", "/loyalty/coupons", "/loyalty/coupons/bulk",
                     "/loyalty/promotions", "/loyalty/lotteries", "/loyalty/programme",
                     f"/loyalty/members/{shop.a_customer}/adjustments"):  # fmt: skip
            response = client.post(path, data={"csrf_token": csrf})
            if may_manage:  # an empty form: refused by the form, not by the role
                assert response.status_code == 422, path
            else:
                assert response.status_code == 403, path


def test_every_form_refuses_a_missing_or_wrong_csrf_token(shop: Shop) -> None:
    _template(shop.db)
    with console(shop.db) as (client, csrf):
        posts = {
            "/loyalty/coupon-templates": MANAGE_TEMPLATE,
            "/loyalty/coupons": {"template_code": "C20", "customer_id": str(shop.a_customer)},
            "/loyalty/coupons/bulk": {"template_code": "C20", "customer_ids": "1"},
            "/loyalty/promotions": {"code": "X"},
            "/loyalty/promotions/X/end": {},
            "/loyalty/lotteries": {"code": "X"},
            "/loyalty/programme": {"reason": "x"},
            f"/loyalty/members/{shop.a_customer}/adjustments": {"points": "5", "reason": "x"},
            f"/loyalty/members/{shop.a_customer}/referral-code": {},
        }
        for path, data in posts.items():
            assert client.post(path, data=data).status_code == 403, path
            wrong = client.post(path, data={**data, "csrf_token": csrf[::-1]})
            assert wrong.status_code == 403, path
    held = shop.db.read(lambda s: list_customer_coupons(session=s, customer_id=shop.a_customer))
    assert held == []  # nothing was issued by the refused posts
    assert shop.db.read(lambda s: list_coupon_templates(session=s))[0].code == "C20"


# ------------------------------------------------------------------------ the programme


def test_the_programme_page_shows_the_terms_tiers_and_the_report(shop: Shop) -> None:
    shop.db.write(
        lambda s: adjust_points(
            session=s,
            customer_id=shop.a_customer,
            adjustment_in=AdjustmentIn(points=1_000, reason="开业回馈", staff="店长"),
            actor=ACTOR,
        )
    )
    with console(shop.db) as (client, _csrf):
        page = client.get("/loyalty")
    html = page.text
    assert page.status_code == 200
    assert "每实付 1 元得 1 积分" in _text(html, "earn-rate")
    assert "7" in _text(html, "return-window") and "365" in _text(html, "expiry")
    assert "100 积分 = ¥1" in _text(html, "redeem-rate")
    assert "50%" in _text(html, "redeem-cap")
    assert "星期三" in _text(html, "member-days") and "×2" in _text(html, "member-days")
    assert "tobacco" in html and "GIFT-CARD" in html
    gold = re.search(r'id="tier-gold">(.*?)</tr>', html, re.DOTALL)
    assert gold and "金卡" in gold.group(1) and "¥10,000.00" in gold.group(1)
    assert "5%" in gold.group(1) and "×1.5" in gold.group(1)
    # 1,000 points at 100 a yuan: ¥10.00 owed to members
    assert _text(html, "liability") == "¥10.00"
    assert _text(html, "members") == "1"
    assert _text(html, "expiring") == "0" and _text(html, "expiring-value") == "¥0.00"
    chart = re.search(r'id="members-per-tier">([^<]*)<', html)
    assert chart and '"values": [1, 0, 0, 0]' in chart.group(1)
    assert 'data-kind="bar"' in html and 'src="/static/loyalty.js"' in html


def test_the_report_is_hidden_from_roles_without_analytics(shop: Shop) -> None:
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        page = client.get("/loyalty")
    assert page.status_code == 200 and 'id="tiers"' in page.text
    assert 'id="no-report"' in page.text
    assert 'id="liability"' not in page.text and "members-per-tier" not in page.text


def test_loyalty_pages_carry_no_inline_script_and_speak_english_on_request(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        client.get("/language/en")
        english = [client.get(p) for p in READ_PAGES]
    for page in english:
        assert page.status_code == 200 and '<html lang="en">' in page.text
        for tag in re.findall(r"<script[^>]*>", page.text):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert "Coupon templates" in english[1].text and "Loyalty programme" in english[0].text
    with console(shop.db, "boss2") as (client, _csrf):
        assert client.get("/static/loyalty.js").status_code == 200


# ------------------------------------------------------------------------ coupon templates


def test_a_template_is_created_issued_to_one_member_and_shows_up_everywhere(
    shop: Shop,
) -> None:
    with console(shop.db) as (client, csrf):
        created = client.post(
            "/loyalty/coupon-templates",
            data={**MANAGE_TEMPLATE, "per_customer_limit": "2", "store_codes": "A01",
                  "stackable": "on", "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert created.status_code == 303, created.text
        listed = client.get(created.headers["location"])
        assert 'id="created"' in listed.text
        row = re.search(r'id="template-M100-20">(.*?)</tr>', listed.text, re.DOTALL)
        assert row and "满¥100.00减¥20.00" in text_of(row.group(1)).replace(" ", "")
        assert "A01" in row.group(1) and "可叠加" in row.group(1)
        issued = client.post(
            "/loyalty/coupons",
            data={"template_code": "M100-20", "customer_id": str(shop.a_customer),
                  "csrf_token": csrf},
        )  # fmt: skip
        assert issued.status_code == 200 and 'id="issued"' in issued.text
        row = re.search(r'id="template-M100-20">(.*?)</tr>', issued.text, re.DOTALL)
        assert row and re.search(r'class="num template-issued">1<', row.group(1))
        member = client.get(f"/customers/{shop.a_customer}")
    coupons = re.search(r'id="coupons">(.*?)</table>', member.text, re.DOTALL)
    assert coupons and "满100减20" in coupons.group(1)
    stored = shop.db.read(lambda s: list_coupon_templates(session=s))
    assert [(t.code, t.threshold_fen, t.amount_off_fen, t.per_customer_limit, t.stackable)
            for t in stored] == [("M100-20", 10_000, 2_000, 2, True)]  # fmt: skip
    assert stored[0].scope.store_codes == ["A01"]


def test_percent_gift_and_free_delivery_templates_with_fixed_validity(shop: Shop) -> None:
    forms = [
        {"code": "P12", "name": "88折", "kind": "percent_off", "percent_off": "12",
         "cap": "50", "validity": "relative", "valid_days": "7"},
        {"code": "G1", "name": "满200送杯子", "kind": "gift_item", "threshold": "200",
         "gift_sku": "CUP-1", "validity": "fixed", "valid_to": _local(30)},
        {"code": "FD", "name": "免运费", "kind": "free_delivery", "validity": "fixed",
         "valid_from": _local(-1), "valid_to": _local(10), "channels": "online"},
        {"code": "MILK5", "name": "牛奶立减5元", "kind": "amount_off", "amount_off": "5",
         "validity": "relative", "valid_days": "14", "skus": "MILK-1L, MILK-2L"},
    ]  # fmt: skip
    with console(shop.db) as (client, csrf):
        for form in forms:
            response = client.post(
                "/loyalty/coupon-templates", data={**form, "csrf_token": csrf},
                follow_redirects=False,
            )  # fmt: skip
            assert response.status_code == 303, text_of(response.text)
    stored = {t.code: t for t in shop.db.read(lambda s: list_coupon_templates(session=s))}
    assert (stored["P12"].percent_off_bp, stored["P12"].cap_fen) == (1_200, 5_000)
    assert stored["G1"].gift_sku == "CUP-1" and stored["G1"].valid_to is not None
    assert stored["G1"].valid_days is None
    assert stored["FD"].scope.channels == ["online"] and stored["FD"].valid_from is not None
    assert stored["MILK5"].scope.skus == ["MILK-1L", "MILK-2L"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_off": ""}, "amount_off"),
        ({"threshold": "一百"}, "threshold"),
        ({"amount_off": "20.001"}, "amount_off"),
        ({"code": ""}, "code"),
        ({"kind": "percent_off"}, "percent_off"),
        ({"kind": "gift_item"}, "gift_sku"),
        ({"validity": "fixed"}, "valid_days"),
        ({"valid_days": "0"}, "valid_days"),
        ({"per_customer_limit": "two"}, "per_customer_limit"),
        ({"kind": "bogus"}, "kind"),
        ({"store_codes": "A01 " + "X" * 65}, "store_codes"),
        ({"skus": "MILK " + "X" * 65}, "skus"),
    ],
)
def test_a_bad_template_form_shows_the_error_next_to_its_field(
    shop: Shop, change: dict[str, str], field: str
) -> None:
    with console(shop.db) as (client, csrf):
        response = client.post(
            "/loyalty/coupon-templates", data={**MANAGE_TEMPLATE, **change, "csrf_token": csrf}
        )
    assert response.status_code == 422
    assert re.findall(r'id="([a-z_]+)-error"', response.text) == [field]
    assert 'value="满100减20"' in response.text  # what was typed is kept
    assert shop.db.read(lambda s: list_coupon_templates(session=s)) == []


def test_a_taken_template_code_is_refused_at_the_code(shop: Shop) -> None:
    _template(shop.db, "M100-20")
    with console(shop.db) as (client, csrf):
        response = client.post(
            "/loyalty/coupon-templates", data={**MANAGE_TEMPLATE, "csrf_token": csrf}
        )
    assert response.status_code == 422 and "code-error" in response.text


def test_issuing_to_one_member_names_the_problem(shop: Shop) -> None:
    _template(shop.db, "C20", limit=1)
    with console(shop.db) as (client, csrf):

        def issue(template: str, customer: str) -> str:
            response = client.post(
                "/loyalty/coupons",
                data={"template_code": template, "customer_id": customer, "csrf_token": csrf},
            )
            assert response.status_code in (200, 422)
            return response.text

        assert 'id="issued"' in issue("C20", str(shop.a_customer))
        again = issue("C20", str(shop.a_customer))
        assert "已达此模板的限领数量（1）" in _text(again, "issue-customer_id-error")
        assert "issue-customer_id-error" in issue("C20", "999999")
        assert "issue-customer_id-error" in issue("C20", "abc")
        assert "issue-template_code-error" in issue("NOPE", str(shop.b_customer))
    held = shop.db.read(lambda s: list_customer_coupons(session=s, customer_id=shop.a_customer))
    assert len(held) == 1


def test_issuing_to_a_pasted_list_reports_the_counts_and_is_audited(shop: Shop) -> None:
    _template(shop.db, "C20", limit=1)
    shop.db.write(
        lambda s: issue_coupon(
            session=s, issue_in=CouponIssue(template_code="C20", customer_id=shop.a_customer)
        )
    )
    pasted = f"{shop.a_customer}\n{shop.b_customer}, 999999\n{shop.b_customer}\n"
    with console(shop.db) as (client, csrf):
        response = client.post(
            "/loyalty/coupons/bulk",
            data={"template_code": "C20", "customer_ids": pasted, "csrf_token": csrf},
        )
        assert response.status_code == 200
        # 3 distinct ids: b gets one, a is at the limit, 999999 is unknown
        assert _text(response.text, "bulk-result").startswith("共 3 位顾客：已发放 1 张，1 位")
        bad = client.post(
            "/loyalty/coupons/bulk",
            data={"template_code": "C20", "customer_ids": "12\n13800138000x", "csrf_token": csrf},
        )
        assert bad.status_code == 422 and "第 2 项" in _text(bad.text, "bulk-customer_ids-error")
        empty = client.post(
            "/loyalty/coupons/bulk", data={"template_code": "C20", "csrf_token": csrf}
        )
        assert empty.status_code == 422 and "bulk-customer_ids-error" in empty.text
    entries = shop.db.read(lambda s: audit.list_audit(session=s, action="coupon.bulk_issue")).items
    assert len(entries) == 1 and entries[0].actor_name == "boss"
    assert entries[0].details["issued"] == 1 and entries[0].details["not_found"] == 1


def test_issuing_by_customer_id_keeps_a_store_bound_actor_to_its_stores(shop: Shop) -> None:
    _template(shop.db, "C20")
    store_b = next(
        st for st in shop.db.read(lambda s: catalog.list_stores(session=s)) if st.code == "B01"
    )
    bound = Actor(
        kind="staff", id=1, name="b-manager", role="store_manager",
        permissions=frozenset({Permission.LOYALTY_MANAGE}), store_ids=frozenset({store_b.id}),
    )  # fmt: skip
    with pytest.raises(CustomerNotFound):
        shop.db.write(
            lambda s: issue_to_member(
                session=s,
                actor=bound,
                issue_in=CouponIssue(template_code="C20", customer_id=shop.a_customer),
            )
        )
    own = shop.db.write(
        lambda s: issue_to_member(
            session=s,
            actor=bound,
            issue_in=CouponIssue(template_code="C20", customer_id=shop.b_customer),
        )
    )
    assert own.customer_id == shop.b_customer


# ------------------------------------------------------------------------ promotions


def test_promotions_are_created_listed_and_ended_each_audited(shop: Shop) -> None:
    with console(shop.db, "marketer", Role.MARKETER) as (client, csrf):
        bonus = client.post(
            "/loyalty/promotions",
            data={"code": "WED2X", "name": "会员日双倍积分", "kind": "bonus_points",
                  "starts_at": _local(-1), "ends_at": _local(30), "weekdays": ["2"],
                  "multiplier": "2", "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert bonus.status_code == 303, text_of(bonus.text)
        gift = client.post(
            "/loyalty/promotions",
            data={"code": "GIFT200", "name": "满200送杯", "kind": "threshold_gift",
                  "starts_at": _local(1), "ends_at": _local(30), "threshold": "200",
                  "gift_sku": "CUP-1", "gift_name": "保温杯", "stock": "50",
                  "per_customer_limit": "1", "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert gift.status_code == 303, text_of(gift.text)
        page = client.get("/loyalty/promotions?done=created")
        current = re.search(r'id="current-promotions">(.*?)</table>', page.text, re.DOTALL)
        assert current and "WED2X" in current.group(1) and "GIFT200" in current.group(1)
        assert "promotion-running" in current.group(1) and "promotion-scheduled" in current.group(1)
        assert "星期三" in current.group(1) and "×2" in current.group(1)
        assert "0 / 50" in current.group(1)
        ended = client.post("/loyalty/promotions/WED2X/end", data={"csrf_token": csrf},
                            follow_redirects=False)  # fmt: skip
        assert ended.status_code == 303
        after = client.get(ended.headers["location"])
        ended_table = re.search(r'id="ended-promotions">(.*?)</table>', after.text, re.DOTALL)
        assert ended_table and "WED2X" in ended_table.group(1)
        assert client.post("/loyalty/promotions/NOPE/end", data={"csrf_token": csrf}
                           ).status_code == 404  # fmt: skip
    actions = [
        e.action for e in shop.db.read(lambda s: audit.list_audit(session=s)).items
        if e.target_kind == "promotion"
    ]  # fmt: skip
    assert sorted(actions) == ["promotion.create", "promotion.create", "promotion.end"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "threshold_gift", "gift_sku": "CUP"}, "threshold"),
        ({"kind": "threshold_gift", "threshold": "100"}, "gift_sku"),
        ({"multiplier": "1"}, "multiplier"),
        ({"multiplier": "double"}, "multiplier"),
        ({"ends_at": ""}, "ends_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"weekdays": ["2", "9"]}, "weekdays"),
    ],
)
def test_a_bad_promotion_form_shows_the_error_next_to_its_field(
    shop: Shop, change: dict[str, str], field: str
) -> None:
    form = {"code": "P1", "name": "双倍", "kind": "bonus_points", "starts_at": _local(0),
            "ends_at": _local(5), "multiplier": "2"}  # fmt: skip
    with console(shop.db) as (client, csrf):
        response = client.post("/loyalty/promotions", data={**form, **change, "csrf_token": csrf})
    assert response.status_code == 422
    assert re.findall(r'id="([a-z_]+)-error"', response.text) == [field]


# ------------------------------------------------------------------------ lotteries


def _lottery_form(**change: object) -> dict[str, object]:
    form: dict[str, object] = {
        "code": "SPRING", "name": "春季抽奖", "starts_at": _local(-1), "ends_at": _local(10),
        "cost_points": "10", "daily_draws": "3",
        "prize_code": ["P100", "C20", ""], "prize_name": ["100积分", "满减券", ""],
        "prize_kind": ["points", "coupon", "points"], "prize_points": ["100", "", ""],
        "prize_coupon": ["", "C20", ""], "prize_gift": ["", "", ""],
        "prize_chance": ["50", "25", ""], "prize_stock": ["", "10", ""],
    }  # fmt: skip
    form.update(change)
    return form


def test_a_lottery_is_created_drawn_and_every_draw_checks_out(shop: Shop) -> None:
    _template(shop.db, "C20")
    shop.db.write(
        lambda s: adjust_points(
            session=s, customer_id=shop.a_customer, actor=ACTOR,
            adjustment_in=AdjustmentIn(points=100, reason="抽奖", staff="t"),
        )
    )  # fmt: skip
    with console(shop.db) as (client, csrf):
        created = client.post(
            "/loyalty/lotteries", data={**_lottery_form(), "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert created.status_code == 303, text_of(created.text)
        assert created.headers["location"] == "/loyalty/lotteries/SPRING"
        for n in range(3):
            shop.db.write(
                lambda s, n=n: lottery.draw(
                    session=s, lottery_code="SPRING", now=utcnow(),
                    draw_in=DrawIn(customer_id=shop.a_customer, idempotency_key=f"k{n}"),
                )
            )  # fmt: skip
        page = client.get("/loyalty/lotteries/SPRING")
        listed = client.get("/loyalty/lotteries")
        check = client.get("/loyalty/lotteries/SPRING/check", headers={"hx-request": "true"})
        full_check = client.get("/loyalty/lotteries/SPRING/check")
    assert page.status_code == 200
    assert len(re.findall(r'class="prize-row"', page.text)) == 2
    assert len(re.findall(r'class="draw-row"', page.text)) == 3
    assert len(_text(page.text, "seed-hash")) == 64 and 'id="seed-hidden"' in page.text
    assert 'id="seed"' not in page.text
    assert (
        'id="check-button"' in page.text and 'hx-get="/loyalty/lotteries/SPRING/check"' in page.text
    )
    assert "SPRING" in listed.text and "进行中" in listed.text
    assert check.status_code == 200 and "<html" not in check.text
    assert _text(check.text, "check-outcome") == "已核对 3 次抽奖：全部与种子相符。"
    assert "<html" in full_check.text and "check-outcome" in full_check.text


def test_an_ended_lottery_publishes_its_seed(shop: Shop) -> None:
    lottery_in = LotteryCreate.model_validate(
        {"code": "OLD", "name": "旧抽奖", "starts_at": utcnow() - timedelta(days=9),
         "ends_at": utcnow() - timedelta(days=1),
         "prizes": [{"code": "P", "name": "积分", "kind": "points", "points": 5,
                     "chance_ppm": 500_000}]},
    )  # fmt: skip
    made = shop.db.write(
        lambda s: lottery.create_lottery(
            session=s, lottery_in=lottery_in, actor=ACTOR, now=utcnow() - timedelta(days=10)
        )
    )
    with console(shop.db) as (client, _csrf):
        page = client.get("/loyalty/lotteries/OLD")
        missing = client.get("/loyalty/lotteries/NOPE")
    seed = _text(page.text, "seed")
    assert len(seed) == 64 and 'id="seed-hidden"' not in page.text
    import hashlib

    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == made.seed_sha256
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "error_id"),
    [
        ({"prize_chance": ["80", "30", ""]}, "prizes-error"),
        ({"prize_points": ["", "", ""]}, "prize-0-error"),
        ({"prize_coupon": ["", "", ""]}, "prize-1-error"),
        ({"prize_coupon": ["", "NOPE", ""]}, "prize-1-error"),
        ({"prize_chance": ["50", "abc", ""]}, "prize-1-error"),
        ({"ends_at": _local(-2)}, "ends_at-error"),
        ({"cost_points": "-5"}, "cost_points-error"),
        ({"prize_code": ["", "", ""], "prize_name": ["", "", ""], "prize_points": ["", "", ""],
          "prize_coupon": ["", "", ""], "prize_chance": ["", "", ""],
          "prize_stock": ["", "", ""]}, "prizes-error"),
    ],
)  # fmt: skip
def test_a_bad_lottery_form_shows_the_error_next_to_its_field_or_prize(
    shop: Shop, change: dict[str, object], error_id: str
) -> None:
    _template(shop.db, "C20")
    with console(shop.db) as (client, csrf):
        response = client.post(
            "/loyalty/lotteries", data={**_lottery_form(**change), "csrf_token": csrf}
        )
    assert response.status_code == 422
    assert re.findall(r'id="([a-z_0-9-]+-error)"', response.text) == [error_id]
    said = re.findall(r'id="[a-z_0-9-]+-error"[^>]*>([^<]*)<', response.text)
    assert said and not any(re.search(r"[a-z]+_[a-z]+", text) for text in said), said
    assert 'value="春季抽奖"' in response.text
    assert shop.db.read(lambda s: lottery.list_lotteries(session=s, now=utcnow())) == []


def test_a_store_bound_role_sees_only_its_own_members_draws(shop: Shop) -> None:
    lottery_in = LotteryCreate.model_validate(
        {"code": "FREE", "name": "免费抽", "starts_at": utcnow() - timedelta(days=1),
         "ends_at": utcnow() + timedelta(days=1),
         "prizes": [{"code": "P", "name": "积分", "kind": "points", "points": 5,
                     "chance_ppm": 1_000_000}]},
    )  # fmt: skip
    shop.db.write(
        lambda s: lottery.create_lottery(session=s, lottery_in=lottery_in, actor=ACTOR,
                                         now=utcnow())
    )  # fmt: skip
    for key, customer in (("a", shop.a_customer), ("b", shop.b_customer)):
        shop.db.write(
            lambda s, k=key, c=customer: lottery.draw(
                session=s, lottery_code="FREE", now=utcnow(),
                draw_in=DrawIn(customer_id=c, idempotency_key=k),
            )
        )  # fmt: skip
    with console(shop.db, "till-b", Role.CASHIER, ["B01"]) as (client, _csrf):
        page = client.get("/loyalty/lotteries/FREE")
        refused = client.get("/loyalty/lotteries/FREE/check")
    assert page.status_code == 200
    assert f'href="/customers/{shop.b_customer}"' in page.text
    assert f'href="/customers/{shop.a_customer}"' not in page.text
    assert 'id="check-button"' not in page.text and refused.status_code == 403


# ------------------------------------------------------------------------ the 360 section


def test_points_are_adjusted_with_a_reason_on_the_360_page_and_audited(shop: Shop) -> None:
    path = f"/loyalty/members/{shop.a_customer}/adjustments"
    with console(shop.db) as (client, csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        assert 'id="adjust-form"' in page.text and 'value="boss"' in page.text
        added = client.post(
            path, data={"points": "500", "reason": "投诉补偿", "staff": "", "csrf_token": csrf},
            headers={"hx-request": "true"},
        )  # fmt: skip
        assert added.status_code == 200 and "<html" not in added.text
        assert added.text.lstrip().startswith('<div id="loyalty-member">')
        assert _text(added.text, "points-available") == "500"
        assert 'id="adjust-done"' in added.text
        taken = client.post(
            path, data={"points": "-120", "reason": "误加扣回", "staff": "王店长", "csrf_token": csrf}
        )  # fmt: skip
        assert _text(taken.text, "points-available") == "380"
        reasons = re.findall(r'class="muted entry-reason">([^<]*)<', taken.text)
        assert reasons == ["误加扣回 · 王店长", "投诉补偿 · boss"]
        page = client.get(f"/customers/{shop.a_customer}")
    assert _text(page.text, "points-available") == "380" and "投诉补偿" in page.text
    entries = shop.db.read(lambda s: audit.list_audit(session=s, action="loyalty.adjust")).items
    assert [(e.reason, e.details["points"], e.actor_name) for e in entries] == [
        ("误加扣回", -120, "boss"),
        ("投诉补偿", 500, "boss"),
    ]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"points": "100", "reason": ""}, "reason"),
        ({"points": "0", "reason": "x"}, "points"),
        ({"points": "lots", "reason": "x"}, "points"),
        ({"points": "-50", "reason": "扣减"}, "points"),  # nothing to take away
        ({"points": "", "reason": "x"}, "points"),
    ],
)
def test_a_bad_adjustment_shows_the_error_at_its_field_and_changes_nothing(
    shop: Shop, form: dict[str, str], field: str
) -> None:
    with console(shop.db) as (client, csrf):
        response = client.post(
            f"/loyalty/members/{shop.a_customer}/adjustments", data={**form, "csrf_token": csrf}
        )
    assert response.status_code == 422
    assert re.findall(r'id="adjust-([a-z]+)-error"', response.text) == [field]
    assert shop.db.read(lambda s: list_entries(session=s, customer_id=shop.a_customer)) == []
    assert shop.db.read(lambda s: audit.list_audit(session=s, action="loyalty.adjust")).items == []


def test_adjusting_a_customer_who_does_not_exist_is_not_found(shop: Shop) -> None:
    with console(shop.db) as (client, csrf):
        response = client.post(
            "/loyalty/members/999999/adjustments",
            data={"points": "5", "reason": "x", "csrf_token": csrf},
        )
    assert response.status_code == 404


def test_roles_without_loyalty_manage_get_no_adjust_form(shop: Shop) -> None:
    with console(shop.db, "till-a", Role.CASHIER, ["A01"]) as (client, csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        refused = client.post(
            f"/loyalty/members/{shop.a_customer}/adjustments",
            data={"points": "5", "reason": "x", "csrf_token": csrf},
        )
    assert page.status_code == 200 and 'id="section-loyalty"' in page.text
    assert 'id="adjust-form"' not in page.text and refused.status_code == 403
    assert 'id="referral-form"' in page.text  # cashiers record referrals (loyalty.write)


def test_the_referral_code_is_made_on_the_button_not_on_viewing(shop: Shop) -> None:
    with console(shop.db) as (client, csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        assert 'id="referral-form"' in page.text
        assert shop.db.read(
            lambda s: find_referral_code(session=s, customer_id=shop.a_customer)
        ) is None  # fmt: skip
        made = client.post(
            f"/loyalty/members/{shop.a_customer}/referral-code", data={"csrf_token": csrf},
            headers={"hx-request": "true"},
        )  # fmt: skip
        again = client.post(
            f"/loyalty/members/{shop.a_customer}/referral-code", data={"csrf_token": csrf}
        )
    code = shop.db.read(lambda s: find_referral_code(session=s, customer_id=shop.a_customer))
    assert made.status_code == 200 and code and f"<b>{code}</b>" in made.text
    assert f"<b>{code}</b>" in again.text and 'id="referral-form"' not in again.text


def test_a_store_bound_role_cannot_touch_another_stores_member(shop: Shop) -> None:
    with console(shop.db, "till-b", Role.CASHIER, ["B01"]) as (client, csrf):
        other = client.post(
            f"/loyalty/members/{shop.a_customer}/referral-code", data={"csrf_token": csrf}
        )
        own = client.post(
            f"/loyalty/members/{shop.b_customer}/referral-code", data={"csrf_token": csrf}
        )
    assert other.status_code == 404 and 'id="error-page"' in other.text
    assert "王" not in other.text
    assert own.status_code == 200
    assert shop.db.read(
        lambda s: find_referral_code(session=s, customer_id=shop.a_customer)
    ) is None  # fmt: skip


def test_the_section_is_still_registered_and_rendered_for_loyalty_readers(shop: Shop) -> None:
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
    section = re.search(r'id="section-loyalty">(.*?)</section>', page.text, re.DOTALL)
    assert section and 'id="points-available"' in section.group(1)
    assert "普通会员" in _text(section.group(1), "tier")
    assert 'id="adjust-form"' not in section.group(1) and 'id="referral-form"' not in section.group(
        1
    )
