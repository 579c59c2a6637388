"""Console customer pages: search, the 360 page, its forms, reveal, store scoping."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from patron.audit import service as audit
from patron.core.db import Database
from patron.staff.roles import Permission, Role
from patron.web import sections
from patron.web.sections import SectionContext, register_customer_section
from tests.helpers import sign_up
from tests.web.helpers.console import Shop, console, make_shop, text_of


@pytest.fixture
def shop(db: Database) -> Shop:
    return make_shop(db)


# ------------------------------------------------------------------------------ search


@pytest.mark.parametrize("q", ["13800138000", "+86 138-0013-8000", "VIP-A-0001", "王小明"])
def test_search_finds_by_phone_card_or_full_name_and_shows_it_masked(shop: Shop, q: str) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/customers", params={"q": q})
    assert page.status_code == 200
    assert f'href="/customers/{shop.a_customer}"' in page.text
    assert f'href="/customers/{shop.b_customer}"' not in page.text
    assert "138****8000" in page.text and "王*" in page.text
    assert "13800138000" not in page.text.replace(q, "") and "王小明" not in page.text.replace(
        q, ""
    )


def test_a_part_of_a_name_or_an_unknown_phone_finds_nobody(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        for q in ("小明", "13700000000"):
            page = client.get("/customers", params={"q": q})
            assert page.status_code == 200 and 'id="no-results"' in page.text, q


def test_an_empty_search_lists_the_newest_customers_a_page_at_a_time(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.customers import pages

    monkeypatch.setattr(pages, "SEARCH_PAGE", 1)
    with console(shop.db) as (client, _csrf):
        first = client.get("/customers")
        assert f'href="/customers/{shop.b_customer}"' in first.text
        link = re.search(r'id="next-page" href="([^"]+)"', first.text)
        assert link
        second = client.get(link.group(1).replace("&amp;", "&"))
    assert f'href="/customers/{shop.a_customer}"' in second.text
    assert f'href="/customers/{shop.b_customer}"' not in second.text


def test_an_htmx_search_answers_with_the_results_only(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/customers", params={"q": "13800138000"}, headers={"hx-request": "true"})
    assert page.status_code == 200 and "<html" not in page.text
    assert 'id="customer-list"' in page.text


# ------------------------------------------------------------------------------ 360 page


def test_the_360_page_shows_profile_identities_orders_with_lines_masked(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
    assert page.status_code == 200
    html = page.text
    assert "138****8000" in html and "****0001" in html and "王*" in html
    assert "13800138000" not in html and "VIP-A-0001" not in html and "王小明" not in html
    assert 'id="order-' in html and "A-1" in html and "A-2" in html and "苹果" in html
    assert html.index("A-2") < html.index("A-1")  # newest first
    assert 'id="section-loyalty"' in html  # the loyalty section, through the registry


def test_the_orders_timeline_pages_with_older_orders_on_demand(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.customers import pages

    monkeypatch.setattr(pages, "ORDERS_PAGE", 1)
    with console(shop.db) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        assert "A-2" in page.text and "A-1" not in page.text
        more = re.search(r'hx-get="(/customers/\d+/orders\?cursor=\d+)"', page.text)
        assert more
        older = client.get(more.group(1), headers={"hx-request": "true"})
    assert older.status_code == 200 and "A-1" in older.text and "A-2" not in older.text


def test_an_unknown_customer_is_a_404_page_without_a_trace(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/customers/999999")
    assert page.status_code == 404
    assert 'id="error-page"' in page.text and "Traceback" not in page.text


def test_an_address_the_console_cannot_read_is_an_error_page_not_json(shop: Shop) -> None:
    with console(shop.db) as (client, _csrf):
        for path in ("/customers/abc", "/customers/-1"):
            page = client.get(path, headers={"accept": "text/html"})
            assert page.status_code == 404, path
            assert 'id="error-page"' in page.text and "这里什么也没有" in page.text
        api = client.get("/api/v1/customers/abc")
        nowhere = client.get("/no/such/page", headers={"accept": "text/html"})
    assert api.status_code == 422 and api.json()["error"] == "invalid"  # the API answers JSON
    assert nowhere.status_code == 404 and 'id="nav"' in nowhere.text  # with the menu


# ------------------------------------------------------------------------------ forms


def test_tags_are_added_and_removed_with_the_csrf_token_only(shop: Shop) -> None:
    url = f"/customers/{shop.a_customer}/tags"
    with console(shop.db) as (client, csrf):
        refused = client.post(url, data={"name": "VIP"})
        assert refused.status_code == 403
        added = client.post(url, data={"name": "VIP", "csrf_token": csrf})
        assert added.status_code == 200 and "VIP" in added.text
        by_header = client.post(
            url, data={"name": "常客"}, headers={"x-csrf-token": csrf, "hx-request": "true"}
        )
        assert "常客" in by_header.text and "VIP" in by_header.text
        empty = client.post(url, data={"name": " ", "csrf_token": csrf})
        assert empty.status_code == 422 and 'id="tag-error"' in empty.text
        assert "标签: 必填" in text_of(empty.text)
        removed = client.post(f"{url}/remove", data={"name": "VIP", "csrf_token": csrf})
        assert removed.status_code == 200 and "VIP" not in text_of(removed.text)
        page = client.get(f"/customers/{shop.a_customer}")
    assert "常客" in page.text and "VIP" not in text_of(page.text)


def test_an_interaction_is_recorded_with_who_recorded_it(shop: Shop) -> None:
    url = f"/customers/{shop.a_customer}/interactions"
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, csrf):
        bad = client.post(url, data={"channel": "fax", "note": "hi", "csrf_token": csrf})
        assert bad.status_code == 422 and "渠道: 请从列出的渠道中选择" in text_of(bad.text)
        empty = client.post(url, data={"channel": "phone", "note": " ", "csrf_token": csrf})
        assert empty.status_code == 422 and "备注: " in text_of(empty.text)
        ok = client.post(url, data={"channel": "phone", "note": "问会员日活动", "csrf_token": csrf})
        assert ok.status_code == 200
        page = client.get(f"/customers/{shop.a_customer}")
    assert "问会员日活动" in page.text and "agent" in page.text


def test_a_cashier_has_no_interaction_form_and_may_not_post_one(shop: Shop) -> None:
    with console(shop.db, "till", Role.CASHIER, ["A01"]) as (client, csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        assert page.status_code == 200 and 'id="interaction-form"' not in page.text
        assert 'id="reveal-form"' not in page.text
        post = client.post(
            f"/customers/{shop.a_customer}/interactions",
            data={"channel": "phone", "note": "x", "csrf_token": csrf},
        )
    assert post.status_code == 403


# ------------------------------------------------------------------------------ reveal


def test_reveal_needs_a_reason_shows_the_phone_and_is_audited(shop: Shop) -> None:
    url = f"/customers/{shop.a_customer}/reveal"
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, csrf):
        no_reason = client.post(url, data={"reason": "", "csrf_token": csrf})
        assert no_reason.status_code == 422 and "事由: " in text_of(no_reason.text)
        assert "13800138000" not in no_reason.text
        no_token = client.post(url, data={"reason": "顾客来电核对手机号"})
        assert no_token.status_code == 403
        shown = client.post(url, data={"reason": "顾客来电核对手机号", "csrf_token": csrf})
    assert shown.status_code == 200 and "+8613800138000" in shown.text and "王小明" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    entries = shop.db.read(lambda s: audit.list_audit(session=s, action="customer.reveal")).items
    assert [(e.actor_name, e.target_id, e.reason) for e in entries] == [
        ("agent", str(shop.a_customer), "顾客来电核对手机号")
    ]


def test_a_role_without_reveal_is_refused(shop: Shop) -> None:
    with console(shop.db, "numbers", Role.ANALYST) as (client, csrf):
        response = client.post(
            f"/customers/{shop.a_customer}/reveal", data={"reason": "curious", "csrf_token": csrf}
        )
    assert response.status_code == 403 and "13800138000" not in response.text


# ------------------------------------------------------------------------------ scoping


def test_a_store_b_cashier_is_refused_a_store_a_customer_like_an_unknown_one(
    shop: Shop,
) -> None:
    with console(shop.db, "till-b", Role.CASHIER, ["B01"]) as (client, csrf):
        other = client.get(f"/customers/{shop.a_customer}")
        unknown = client.get("/customers/999999")
        own = client.get(f"/customers/{shop.b_customer}")
        search = client.get("/customers", params={"q": "13800138000"})
        listed = client.get("/customers")
        tag = client.post(
            f"/customers/{shop.a_customer}/tags", data={"name": "x", "csrf_token": csrf}
        )
        orders = client.get(f"/customers/{shop.a_customer}/orders")
    assert other.status_code == unknown.status_code == 404
    message = re.search(r'id="error-message">([^<]*)<', other.text)
    assert message and message.group(1) in unknown.text
    assert own.status_code == 200
    assert 'id="no-results"' in search.text
    assert f'href="/customers/{shop.a_customer}"' not in listed.text
    assert f'href="/customers/{shop.b_customer}"' in listed.text
    assert tag.status_code == 404 and orders.status_code == 404


def test_a_store_a_manager_reveals_their_own_customer_but_not_store_bs(shop: Shop) -> None:
    with console(shop.db, "boss-a", Role.STORE_MANAGER, ["A01"]) as (client, csrf):
        own = client.post(
            f"/customers/{shop.a_customer}/reveal", data={"reason": "核对", "csrf_token": csrf}
        )
        other = client.post(
            f"/customers/{shop.b_customer}/reveal", data={"reason": "核对", "csrf_token": csrf}
        )
    assert own.status_code == 200 and other.status_code == 404
    assert "13900139000" not in other.text


# ------------------------------------------------------------------------------ sections


@pytest.fixture
def extra_sections() -> object:
    def scores(ctx: SectionContext) -> str:
        return f"<p id='score-{ctx.customer.id}'>churn risk low</p>"

    def broken(ctx: SectionContext) -> str:
        raise RuntimeError("boom")

    register_customer_section("scores", "Scores", scores, Permission.ANALYTICS_READ)
    register_customer_section("broken", "Broken", broken)
    yield
    sections.unregister_customer_section("scores")
    sections.unregister_customer_section("broken")


@pytest.mark.usefixtures("extra_sections")
def test_a_registered_section_shows_to_roles_with_its_permission_and_a_broken_one_is_contained(
    shop: Shop,
) -> None:
    with console(shop.db, "numbers", Role.ANALYST) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
    assert page.status_code == 200
    assert f"id='score-{shop.a_customer}'" in page.text
    assert 'id="section-broken"' in page.text and "Traceback" not in page.text
    assert 'id="section-loyalty"' not in page.text  # analysts have no loyalty.read
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
    assert "score-" not in page.text and 'id="section-loyalty"' in page.text


def test_a_section_name_must_be_usable_as_an_html_id() -> None:
    with pytest.raises(ValueError, match="section name"):
        register_customer_section("bad name!", "Bad", lambda ctx: "")


def test_customers_signed_up_later_are_found_too(shop: Shop) -> None:
    new = sign_up(shop.db, member_card="VIP-NEW-9", name="赵六")
    with console(shop.db) as (client, _csrf):
        page = client.get("/customers", params={"q": "VIP-NEW-9"})
    assert isinstance(client, TestClient)
    assert f'href="/customers/{new}"' in page.text and 'id="found-by"' in page.text


def test_the_timeline_shows_refunds_and_matches_the_orders_service(shop: Shop) -> None:
    from patron.orders import service as orders
    from patron.orders.schemas import RefundIn

    refund_in = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": "R-1",
            "order_external_id": "A-1",
            "order_source": "pos-test",
            "refunded_at": "2026-03-03T10:00:00+08:00",
            "lines": [{"line_no": 1, "quantity": 1}],
        }
    )
    shop.db.write(lambda s: orders.record_refund(session=s, refund_in=refund_in))
    for limit in (1, 2, 10):
        pages = []
        for read in (orders.list_customer_orders, orders.list_customer_timeline):
            cursor, seen = None, []
            while True:
                page = shop.db.read(
                    lambda s, read=read, cursor=cursor, limit=limit: read(
                        session=s, customer_id=shop.a_customer, limit=limit, cursor=cursor
                    )
                )
                seen.append(page)
                cursor = page.next_cursor
                if cursor is None:
                    break
            pages.append(seen)
        assert pages[0] == pages[1], limit
    with console(shop.db) as (client, _csrf):
        html = client.get(f"/customers/{shop.a_customer}").text
        bad_cursor = client.get(f"/customers/{shop.a_customer}/orders", params={"cursor": "x"})
    assert "¥15.00" in html and "已退款" in html  # one apple of two came back
    assert bad_cursor.status_code == 422


def test_a_store_bound_user_sees_only_their_stores_orders_on_the_360_page(shop: Shop) -> None:
    from tests.helpers import post_order

    # 李华 of store B buys once in store A too: store A now sees them, and that sale only
    post_order(shop.db, "A-9", store_code="A01", customer={"id": shop.b_customer})
    with console(shop.db, "till-a", Role.CASHIER, ["A01"]) as (client, _csrf):
        page = client.get(f"/customers/{shop.b_customer}")
        more = client.get(f"/customers/{shop.b_customer}/orders", headers={"hx-request": "true"})
    assert page.status_code == 200
    assert "A-9" in page.text and "B-1" not in page.text
    assert "A-9" in more.text and "B-1" not in more.text
    with console(shop.db, "boss") as (client, _csrf):
        every = client.get(f"/customers/{shop.b_customer}")
    assert "A-9" in every.text and "B-1" in every.text


# ------------------------------------------------------------------------------ merge suggestions


def _suggest(shop: Shop) -> None:
    """A store-A till's sale naming 王小明's phone and 李华's (store B) new card."""
    from tests.web.helpers.api import api_client, order_body
    from tests.web.helpers.api import sign_up as api_sign_up

    with api_client(shop.db) as admin:
        api_sign_up(admin, phone=shop.b_phone, member_card="VIP-B-0002")
    with api_client(shop.db, role=Role.CASHIER, stores=["A01"]) as till:
        sale = till.post(
            "/api/v1/orders",
            json=order_body("A-7", source="pos-a01", store_code="A01",
                            customer={"phone": shop.a_phone, "member_card": "VIP-B-0002"}),
        )  # fmt: skip
        assert sale.status_code == 201, sale.text


def test_a_privacy_officer_reviews_a_suggestion_masked_and_dismisses_it(shop: Shop) -> None:
    _suggest(shop)
    with console(shop.db, "po", Role.PRIVACY_OFFICER) as (client, csrf):
        page = client.get("/merge-suggestions")
        assert page.status_code == 200
        html = page.text
        assert "138****8000" in html and "139****9000" in html and "王*" in html
        assert "13800138000" not in html and "李华" not in html and "VIP-B-0002" not in html
        (sid,) = re.findall(r'id="suggestion-(\d+)"', html)
        no_reason = client.post(
            f"/merge-suggestions/{sid}/dismiss", data={"reason": "", "csrf_token": csrf}
        )
        assert no_reason.status_code == 422 and 'id="decision-error"' in no_reason.text
        done = client.post(
            f"/merge-suggestions/{sid}/dismiss",
            data={"reason": "夫妻共用会员卡", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303
        after = client.get(done.headers["location"])
        assert 'id="done"' in after.text and 'id="no-suggestions"' in after.text
        decided = client.get("/merge-suggestions", params={"status": "dismissed"})
        assert "夫妻共用会员卡" in decided.text
        again = client.post(
            f"/merge-suggestions/{sid}/accept", data={"reason": "改主意", "csrf_token": csrf}
        )
        assert again.status_code == 409
    (entry,) = shop.db.read(
        lambda s: audit.list_audit(session=s, action="merge_suggestion.dismiss")
    ).items
    assert entry.actor_name == "po" and entry.reason == "夫妻共用会员卡"


def test_a_store_manager_may_not_open_the_suggestions(shop: Shop) -> None:
    _suggest(shop)
    with console(shop.db, "mgr", Role.STORE_MANAGER, ["A01"]) as (client, csrf):
        assert client.get("/merge-suggestions").status_code == 403
        assert (
            client.post(
                "/merge-suggestions/1/accept", data={"reason": "同一人", "csrf_token": csrf}
            ).status_code
            == 403
        )
