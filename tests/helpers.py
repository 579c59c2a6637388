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
    "wechat_unionid",
    "external_account",
}


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)
