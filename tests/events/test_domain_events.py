"""Domain events the other services publish into the stream (docs/events.md)."""

from __future__ import annotations

from datetime import timedelta

from patron import events
from patron.core.db import Database
from patron.loyalty.tiers import review_tiers
from tests.helpers import post_order, sign_up
from tests.loyalty.helpers import PLAIN, TUESDAY, member, sale


def _of(db: Database, type_: str) -> list[events.EventRecord]:
    return db.read(lambda s: events.read_after(s, 0, types={type_}))


def test_an_order_publishes_order_created_once_with_its_customer(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    first = post_order(db, "O-1", customer={"phone": "13800138000"})
    post_order(db, "O-1", customer={"phone": "13800138000"})  # the repeat adds nothing
    (created,) = _of(db, "order.created")
    assert created.customer_id == customer
    assert created.properties["order_id"] == first.order.id
    assert created.properties["total_fen"] == 1000
    assert created.occurred_at == first.order.ordered_at


def test_a_tier_upgrade_and_the_reviews_downgrade_publish_tier_changed(db: Database) -> None:
    me = member(db)
    sale(db, me, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000_000}])
    up = _of(db, "tier.changed")
    assert [(e.customer_id, e.properties["to_tier"]) for e in up] == [(me, "gold")]
    done = TUESDAY + timedelta(days=430)
    db.write(lambda s: review_tiers(session=s, now=TUESDAY + timedelta(days=400), programme=PLAIN))
    db.write(lambda s: review_tiers(session=s, now=done, programme=PLAIN))
    changes = [
        (e.properties["from_tier"], e.properties["to_tier"]) for e in _of(db, "tier.changed")
    ]
    assert changes == [("member", "gold"), ("gold", "member")]


def test_points_expiring_within_30_days_are_noticed_once_per_member_and_day(
    db: Database,
) -> None:
    from patron.loyalty.expiring import publish_points_expiring
    from patron.loyalty.points import list_lots

    me = member(db)
    sale(db, me, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 50_000}])
    (lot,) = db.read(lambda s: list_lots(session=s, customer_id=me))
    soon = lot.expires_at - timedelta(days=10)
    assert (
        db.write(lambda s: publish_points_expiring(session=s, now=soon - timedelta(days=40))) == 0
    )
    assert db.write(lambda s: publish_points_expiring(session=s, now=soon)) == 1
    db.write(lambda s: publish_points_expiring(session=s, now=soon + timedelta(days=1)))
    (notice,) = _of(db, "points.expiring")
    assert notice.customer_id == me and notice.properties["points"] == lot.remaining
