"""Test data built through the services, the way a till or a sign-up form would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from patron.core.actor import system_actor
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerCreate
from patron.orders import service as orders
from patron.orders.schemas import OrderIn, OrderWrite

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ACTOR = system_actor("tests")  # who the tests act as where a service records who acted


def order_in(
    external_id: str,
    *,
    customer: dict[str, Any] | None = None,
    lines: list[dict[str, Any]] | None = None,
    at: datetime | None = None,
    source: str = "pos-test",
    **extra: Any,
) -> OrderIn:
    return OrderIn.model_validate(
        {
            "source": source,
            "external_id": external_id,
            "ordered_at": at or T0,
            "customer": customer,
            "lines": lines or [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1000}],
            **extra,
        }
    )


def post_order(db: Database, external_id: str, **kwargs: Any) -> OrderWrite:
    model = order_in(external_id, **kwargs)
    return db.write(lambda s: orders.record_order(session=s, order_in=model))


def sign_up(db: Database, **fields: Any) -> int:
    identities = {k: fields.pop(k) for k in list(fields) if k in IDENTITY_FIELDS}
    model = CustomerCreate.model_validate({"identities": identities, **fields})
    result = db.write(
        lambda s: customers.register_customer(session=s, customer_in=model, source="test")
    )
    return result.customer.id


IDENTITY_FIELDS = {
    "phone",
    "email",
    "member_card",
    "wechat_openid",
    "wechat_appid",
    "wechat_unionid",
    "external_account",
}


def add_store(db: Database, code: str, name: str, *, timezone: str = "Asia/Shanghai") -> str:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate

    store_in = StoreCreate(code=code, name=name, timezone=timezone)
    return db.write(lambda s: catalog.create_store(session=s, store_in=store_in)).code


_contacts = iter(range(1, 10**9))


def reachable_customer(
    db: Database,
    *,
    store: str | None = None,
    name: str = "王小明",
    wechat_appid: str = "",
    **contacts: Any,
) -> int:
    """A member who signed up with a phone, an e-mail address and a WeChat openid (each
    unique unless given), at ``store``."""
    n = next(_contacts)
    contacts.setdefault("phone", f"139{n:08d}")
    contacts.setdefault("email", f"member{n}@example.cn")
    contacts.setdefault("wechat_openid", f"oPatron{n:020d}")
    fields = {k: v for k, v in contacts.items() if v is not None}
    if wechat_appid:
        fields["wechat_appid"] = wechat_appid
    return sign_up(db, name=name, home_store_code=store, **fields)


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)
