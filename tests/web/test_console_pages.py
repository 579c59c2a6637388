"""Console pages: dashboard figures, stores, staff and roles, audit log, errors, languages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.orders import sales
from patron.staff import service as staff
from patron.staff.roles import Role
from patron.web import i18n
from tests.helpers import post_order
from tests.web.helpers.console import Shop, console, make_shop, make_staff, text_of


@pytest.fixture
def shop(db: Database) -> Shop:
    return make_shop(db)


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def _figure(html: str, name: str) -> str:
    match = re.search(rf'id="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


# ------------------------------------------------------------------------------ dashboard


def test_the_dashboard_shows_figures_computed_from_the_orders(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/", params=MARCH)
    assert page.status_code == 200
    html = page.text
    # A-1 30.00, A-2 10.00, A-3 (walk-in) 10.00, B-1 10.00
    assert _figure(html, "sales") == "¥60.00"
    assert _figure(html, "orders") == "4"
    assert _figure(html, "aov") == "¥15.00"
    assert _figure(html, "new-members") == "2"
    assert _figure(html, "repeat-rate") == "50.0%"  # 王小明 twice, 李华 once
    assert _figure(html, "member-share") == "83.3%"  # 50 of 60
    assert 'type="application/json" id="sales-per-day"' in html
    chart = re.search(r'id="sales-per-day">([^<]*)<', html)
    assert chart and '"sales_fen": [4000, 2000, 0' in chart.group(1)
    assert "A01" in html and "B01" in html


def test_a_store_bound_role_sees_its_own_stores_figures_only(shop: Shop) -> None:
    with console(shop.db, "till-b", Role.CASHIER, ["B01"]) as (client, _csrf):
        page = client.get("/", params=MARCH)
    assert page.status_code == 200 and 'id="scope"' in page.text
    assert _figure(page.text, "sales") == "¥10.00" and _figure(page.text, "orders") == "1"
    by_store = re.search(r'id="by-store">(.*?)</table>', page.text, re.DOTALL)
    assert by_store and "B01" in by_store.group(1) and "A01" not in by_store.group(1)


def test_members_who_bought_before_the_range_are_not_new(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/", params={"from": "2026-03-02", "to": "2026-03-31"})
    assert _figure(page.text, "orders") == "2"
    assert _figure(page.text, "new-members") == "0"  # 王小明 first bought on 1 March


def test_a_bad_date_range_names_the_field(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        bad = client.get("/", params={"from": "yesterday"})
        backwards = client.get("/", params={"from": "2026-03-10", "to": "2026-03-01"})
        too_long = client.get("/", params={"from": "2024-01-01", "to": "2026-03-01"})
    for response in (bad, backwards, too_long):
        assert response.status_code == 422
        assert _figure(response.text, "error").startswith("起: ")


def test_days_are_the_stores_business_days_across_a_summer_time_change(db: Database) -> None:
    """Berlin moves its clocks on 29 March 2026: a day is 23 hours, buckets still match."""
    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="BER", name="Berlin", timezone="Europe/Berlin")
        )
    )
    for n, at in enumerate(
        (
            datetime(2026, 3, 28, 22, 30, tzinfo=UTC),  # 23:30 on the 28th in Berlin (UTC+1)
            datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 00:30 on the 29th
            datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # 23:30 on the 29th (UTC+2 now)
            datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # 00:30 on the 30th
        )
    ):
        post_order(db, f"BER-{n}", store_code="BER", at=at)
    figures = db.read(
        lambda s: sales.summarise_sales(
            session=s, start_on=date(2026, 3, 28), end_on=date(2026, 3, 30)
        )
    )
    per_day = {c.day: c.orders for c in figures.cells}
    assert per_day == {date(2026, 3, 28): 1, date(2026, 3, 29): 2, date(2026, 3, 30): 1}


def test_a_new_sale_shows_on_the_dashboard_at_once(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        before = _figure(client.get("/", params=MARCH).text, "orders")
        post_order(shop.db, "A-9", store_code="A01", at=datetime(2026, 3, 5, 2, tzinfo=UTC))
        after = _figure(client.get("/", params=MARCH).text, "orders")
    assert (before, after) == ("4", "5")


# ------------------------------------------------------------------------------ navigation


@pytest.mark.parametrize(
    ("role", "stores", "links"),
    [
        (
            Role.ADMIN,
            None,
            [
                "/",
                "/customers",
                "/merge-suggestions",
                "/loyalty",
                "/analytics",
                "/audiences",
                "/campaigns",
                "/journeys",
                "/tasks",
                "/tickets",
                "/surveys",
                "/stores",
                "/imports",
                "/staff",
                "/audit",
                "/privacy",
                "/events",
                "/webhooks",
            ],
        ),
        (Role.CASHIER, ["A01"], ["/", "/customers", "/loyalty", "/tasks", "/tickets", "/stores"]),
        (
            Role.PRIVACY_OFFICER,
            None,
            ["/", "/customers", "/merge-suggestions", "/tasks", "/audit", "/privacy"],
        ),
        (
            Role.MARKETER,
            None,
            [
                "/",
                "/customers",
                "/loyalty",
                "/analytics",
                "/audiences",
                "/campaigns",
                "/journeys",
                "/tasks",
                "/surveys",
                "/stores",
            ],
        ),
    ],
)
def test_the_menu_shows_only_what_the_role_may_open(
    shop: Shop, role: Role, stores: list[str] | None, links: list[str]
) -> None:
    with console(shop.db, "someone", role, stores) as (client, _csrf):
        page = client.get("/")
        nav = re.search(r'<nav id="nav">(.*?)</nav>', page.text, re.DOTALL)
        assert nav
        assert re.findall(r'href="([^"]+)"', nav.group(1)) == links
        for path in ("/customers", "/merge-suggestions", "/stores", "/staff", "/audit"):
            expected = 200 if path in links else 403
            assert client.get(path).status_code == expected, path


# ------------------------------------------------------------------------------ stores


def test_stores_are_listed_and_opened_by_roles_that_may(shop: Shop) -> None:
    with console(shop.db) as (client, csrf):
        created = client.post(
            "/stores",
            data={"code": "C01", "name": "苏州一店", "city": "苏州", "kind": "physical",
                  "timezone": "Asia/Shanghai", "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert created.status_code == 303
        listed = client.get(created.headers["location"])
        assert "苏州一店" in listed.text and 'id="created"' in listed.text
        bad = client.post("/stores", data={"code": "no spaces", "name": "x", "csrf_token": csrf})
        assert bad.status_code == 422 and _figure(bad.text, "error").startswith("编码: ")
        taken = client.post("/stores", data={"code": "C01", "name": "x", "csrf_token": csrf})
        assert taken.status_code == 409 and _figure(taken.text, "error").startswith("编码: ")
        zone = client.post(
            "/stores",
            data={"code": "D01", "name": "x", "timezone": "Mars/Base", "csrf_token": csrf},
        )
        assert zone.status_code == 422 and _figure(zone.text, "error") == "时区: 未知时区 Mars/Base"
    with console(shop.db, "till", Role.CASHIER, ["A01"]) as (client, csrf):
        page = client.get("/stores")
        assert "A01" in page.text and "B01" not in page.text and 'id="store-form"' not in page.text
        refused = client.post("/stores", data={"code": "E01", "name": "x", "csrf_token": csrf})
        assert refused.status_code == 403


# ------------------------------------------------------------------------------ staff


def test_staff_are_created_changed_and_deactivated_each_audited(shop: Shop) -> None:
    with console(shop.db) as (client, csrf):
        made = client.post(
            "/staff",
            data={"username": "lisi", "display_name": "李四", "password": "till-pass-123",
                  "role": "cashier", "store_codes": "A01", "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert made.status_code == 303
        lisi = next(
            u for u in shop.db.read(lambda s: staff.list_staff(session=s)) if u.username == "lisi"
        )
        assert (lisi.role, lisi.store_codes) == (Role.CASHIER, ["A01"])
        changed = client.post(
            f"/staff/{lisi.id}",
            data={"role": "store_manager", "store_codes": "A01, B01", "is_active": "on",
                  "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert changed.status_code == 303
        off = client.post(
            f"/staff/{lisi.id}",
            data={"role": "store_manager", "store_codes": "A01", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert off.status_code == 303
        page = client.get("/staff")
        assert "lisi" in page.text and "收银员" in page.text  # role labels in Chinese
    after = shop.db.read(lambda s: staff.get_staff_or_raise(session=s, staff_id=lisi.id))
    assert (after.role, after.store_codes, after.is_active) == (Role.STORE_MANAGER, ["A01"], False)
    entries = shop.db.read(lambda s: audit.list_audit(session=s, target_kind="staff")).items
    assert [e.action for e in entries if e.target_id == str(lisi.id)] == [
        "staff.update",
        "staff.update",
        "staff.create",
    ]


def test_staff_form_errors_name_the_field(shop: Shop) -> None:
    with console(shop.db) as (client, csrf):
        weak = client.post(
            "/staff",
            data={"username": "wangwu", "display_name": "王五", "password": "short",
                  "role": "analyst", "csrf_token": csrf},
        )  # fmt: skip
        no_store = client.post(
            "/staff",
            data={"username": "zhao", "display_name": "赵", "password": "till-pass-123",
                  "role": "cashier", "csrf_token": csrf},
        )  # fmt: skip
        bad_role = client.post(
            "/staff",
            data={"username": "qian", "display_name": "钱", "password": "till-pass-123",
                  "role": "king", "csrf_token": csrf},
        )  # fmt: skip
        me = next(
            u for u in shop.db.read(lambda s: staff.list_staff(session=s)) if u.username == "boss"
        )
        self_off = client.post(f"/staff/{me.id}", data={"role": "admin", "csrf_token": csrf})
    assert weak.status_code == 422 and _figure(weak.text, "error") == "密码: 至少 10 个字符"
    assert no_store.status_code == 422 and _figure(no_store.text, "error").startswith("门店: ")
    assert bad_role.status_code == 422 and _figure(bad_role.text, "error").startswith("岗位: ")
    assert self_off.status_code == 422 and "启用: " in self_off.text


def test_the_staff_page_needs_staff_manage_and_the_csrf_token(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        assert client.post("/staff", data={"username": "x"}).status_code == 403
    with console(shop.db, "boss-a", Role.STORE_MANAGER, ["A01"]) as (client, csrf):
        assert client.get("/staff").status_code == 403
        assert client.post("/staff", data={"username": "x", "csrf_token": csrf}).status_code == 403


# ------------------------------------------------------------------------------ audit


def test_the_audit_log_filters_and_pages(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.audit import pages

    with console(shop.db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        for reason in ("核对一", "核对二", "核对三"):
            response = client.post(
                f"/customers/{shop.a_customer}/reveal", data={"reason": reason, "csrf_token": csrf}
            )
            assert response.status_code == 200
        monkeypatch.setattr(pages, "PAGE", 2)
        first = client.get("/audit", params={"action": "customer.reveal"})
        assert first.status_code == 200
        # Said in words, the code beside it; details as a person reads them.
        assert "查看个人信息明文" in first.text and "员工" in first.text
        assert "fields: name, birthday, address, identities" in first.text
        table = re.search(r'id="audit">(.*?)</table>', first.text, re.S)
        assert table and "[&#39;" not in table.group(1) and "None" not in table.group(1)
        assert re.findall(r'class="audit-reason">([^<]*)<', first.text) == ["核对三", "核对二"]
        link = re.search(r'id="next-page" href="([^"]+)"', first.text)
        assert link
        second = client.get(link.group(1).replace("&amp;", "&"))
        assert re.findall(r'class="audit-reason">([^<]*)<', second.text) == ["核对一"]
        by_target = client.get(
            "/audit", params={"target_kind": "customer", "target_id": str(shop.a_customer),
                              "actor_name": "officer"},
        )  # fmt: skip
        assert len(re.findall(r'class="audit-entry', by_target.text)) == 2
        # The page reads days in the shop's zone (Asia/Shanghai), eight hours ahead of UTC.
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        dated = client.get("/audit", params={"since": today, "until": today, "action": "sign_in"})
        assert len(re.findall(r'class="audit-entry', dated.text)) >= 1
        old = client.get("/audit", params={"until": "2020-01-01"})
        assert 'id="no-entries"' in old.text
        bad = client.get("/audit", params={"since": "soon"})
        assert bad.status_code == 422 and _figure(bad.text, "error").startswith("起: ")
        backwards = client.get("/audit", params={"since": today, "until": "2020-01-01"})
        assert backwards.status_code == 422
        assert _figure(backwards.text, "error") == "止: 早于开始日期"


# ------------------------------------------------------------------------------ errors


def test_console_errors_are_html_pages_and_api_errors_stay_json(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.catalog import pages

    def broken(**_: object) -> None:
        raise RuntimeError("secret internals")

    with console(shop.db, "till", Role.CASHIER, ["A01"]) as (client, _csrf):
        missing = client.get("/no-such-page")
        assert missing.status_code == 404 and 'id="error-page"' in missing.text
        refused = client.get("/audit")
        assert refused.status_code == 403 and 'id="error-page"' in refused.text
        assert 'id="nav"' in refused.text  # the layout, with the menu
        api = client.get("/api/v1/audit", headers={"accept": "application/json"})
        assert api.status_code == 403 and api.json()["error"] == "forbidden"
        monkeypatch.setattr(pages.service, "list_stores", broken)
        crash = client.get("/stores")
    assert crash.status_code == 500 and 'id="error-page"' in crash.text
    assert "secret internals" not in crash.text and "Traceback" not in crash.text


def test_a_stranger_is_sent_to_sign_in_from_every_page(shop: Shop) -> None:
    from fastapi.testclient import TestClient

    from patron.web.app import create_app

    with TestClient(create_app(shop.db)) as client:
        for path in ("/", "/customers", f"/customers/{shop.a_customer}", "/stores", "/audit"):
            response = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/sign-in?next=")


# ------------------------------------------------------------------------------ languages


def test_chinese_by_default_whatever_the_browser_asks_and_english_on_request(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        chinese = client.get("/", params=MARCH, headers={"accept-language": "en-US,en;q=0.9"})
        assert '<html lang="zh-CN">' in chinese.text and "销售额" in chinese.text
        switch = client.get("/language/en", params={"next": "/stores"}, follow_redirects=False)
        assert switch.status_code == 303 and switch.headers["location"] == "/stores"
        assert "patron_lang=en" in switch.headers["set-cookie"]
        english = client.get("/", params=MARCH)
        assert '<html lang="en">' in english.text and "Average order value" in english.text
        assert "Administrator" in english.text  # the role label follows the language
        elsewhere = client.get("/language/zh", params={"next": "https://evil.example/"},
                               follow_redirects=False)  # fmt: skip
        assert elsewhere.headers["location"] == "/"
        assert client.get("/language/fr").status_code == 422


def test_every_console_message_has_a_chinese_translation() -> None:
    used = i18n.extract_messages()
    catalogue = i18n.load_catalogue("zh_CN")
    missing = [
        f"{message!r} ({places[0]})"
        for message, places in used.items()
        if catalogue.gettext(message) == message
    ]
    assert len(used) > 100
    assert not missing, (
        "add these to web/translations/zh_CN/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )


def test_the_sign_in_page_is_translated_before_anyone_signs_in(db: Database) -> None:
    from fastapi.testclient import TestClient

    from patron.web.app import create_app

    with TestClient(create_app(db)) as client:
        assert "用户名" in client.get("/sign-in").text
        client.cookies.set(i18n.LANG_COOKIE, "en")
        assert "Username" in client.get("/sign-in").text


# ------------------------------------------------------------------------------ assets, CSP


def test_static_assets_are_served_and_pages_carry_no_inline_script(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        for asset in ("/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js",
                      "/static/console.js", "/static/console.css"):  # fmt: skip
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
        pages = [client.get(p, params=MARCH) for p in ("/", "/customers", "/stores", "/audit")]
        pages.append(client.get(f"/customers/{shop.a_customer}"))
    for page in pages:
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for tag in re.findall(r"<script[^>]*>", page.text):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert "hx-headers" in page.text and "X-CSRF-Token" in page.text


def test_a_staff_member_made_later_can_use_the_console(shop: Shop) -> None:
    make_staff(shop.db, "late", Role.ANALYST)
    with console(shop.db, "later", Role.ANALYST) as (client, _csrf):
        page = client.get("/", params=MARCH)
    assert page.status_code == 200 and _figure(page.text, "orders") == "4"
    assert "Traceback" not in text_of(page.text)
