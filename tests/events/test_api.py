from __future__ import annotations

from patron import events
from patron.core.db import Database
from patron.staff.roles import Role
from tests.events.helpers import behaviour
from tests.helpers import add_store, sign_up
from tests.web.helpers.api import api_client


def test_a_shop_posts_a_batch_and_a_visitor_is_stitched_when_they_sign_in(db: Database) -> None:
    add_store(db, "SH01", "上海一店")
    customer = sign_up(db, phone="13800138000")
    device = "web-device-7f3a"
    browsing = [
        behaviour("page_view", anonymous_id=device),
        behaviour("product_view", anonymous_id=device, store_code="SH01"),
        behaviour("cart_add", anonymous_id=device),
    ]
    stranger = behaviour("page_view", anonymous_id="another-device")
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as client:
        first = client.post("/api/v1/events", json={"events": [*browsing, stranger]})
        assert first.status_code == 200, first.text
        assert first.json() == {"accepted": 4, "duplicates": 0, "stitched": 0}
        signed_in = behaviour("identify", anonymous_id=device, customer={"phone": "138 0013 8000"})
        second = client.post("/api/v1/events", json={"events": [signed_in]})
        assert second.json() == {"accepted": 1, "duplicates": 0, "stitched": 3}
        # later anonymous events of the same device carry the customer at once
        client.post("/api/v1/events", json={"events": [behaviour("search", anonymous_id=device)]})

    stream = db.read(lambda s: events.read_after(s, 0))
    by_type = {(e.type, e.customer_id) for e in stream}
    assert ("product_view", customer) in by_type
    assert ("cart_add", customer) in by_type
    assert ("search", customer) in by_type
    assert ("page_view", None) in by_type  # the stranger stays anonymous
    viewed = next(e for e in stream if e.type == "product_view")
    assert viewed.store_id is not None


def test_a_bad_event_refuses_the_batch_naming_index_and_field(db: Database) -> None:
    add_store(db, "SH01", "上海一店")
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as client:
        response = client.post(
            "/api/v1/events",
            json={"events": [behaviour("page_view"), behaviour("cart_add", properties={})]},
        )
        assert response.status_code == 422
        assert "events.1" in response.text and "sku" in response.text
        unknown_store = client.post(
            "/api/v1/events", json={"events": [behaviour("page_view", store_code="NOPE")]}
        )
        assert unknown_store.status_code == 422
        assert "events.0.store_code" in unknown_store.text
        bad_phone = client.post(
            "/api/v1/events",
            json={"events": [behaviour("identify", anonymous_id="d", customer={"phone": "12"})]},
        )
        assert bad_phone.status_code == 422, bad_phone.text
        assert "events.0.customer.phone" in bad_phone.text
    assert db.read(lambda s: events.read_after(s, 0)) == []


def test_a_store_bound_sender_cannot_file_events_under_another_store(db: Database) -> None:
    add_store(db, "SH01", "上海一店")
    add_store(db, "BJ01", "北京一店")
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as client:
        other = client.post(
            "/api/v1/events",
            json={"events": [behaviour("page_view"), behaviour("search", store_code="BJ01")]},
        )
        assert other.status_code == 422
        assert "events.1.store_code" in other.text
        own = client.post(
            "/api/v1/events", json={"events": [behaviour("search", store_code="SH01")]}
        )
        assert own.status_code == 200, own.text
    assert [e.type for e in db.read(lambda s: events.read_after(s, 0))] == ["search"]


def test_admins_read_the_stream_and_cashiers_may_only_post(db: Database) -> None:
    add_store(db, "SH01", "上海一店")
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as client:
        client.post("/api/v1/events", json={"events": [behaviour("search")]})
        assert client.get("/api/v1/events").status_code == 403
    with api_client(db, role=Role.ADMIN) as client:
        listed = client.get("/api/v1/events", params={"type": "search"})
        assert listed.status_code == 200
        assert [e["type"] for e in listed.json()] == ["search"]
