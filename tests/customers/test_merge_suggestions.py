"""Merge suggestions: raised where the sender of a record may not merge, merged or dismissed
by staff who may, audited, and a dismissed pair never suggested or merged again."""

from __future__ import annotations

import pytest

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.actor import Actor
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.exceptions import CannotMerge, SuggestionDecided
from patron.orders import service as orders
from patron.staff.roles import Role, permissions_of
from tests.helpers import ACTOR, later, order_in, post_order, sign_up


def _till(db: Database) -> Actor:
    store = db.read(lambda s: catalog.get_store_by_code(session=s, code="SH01"))
    assert store is not None
    return Actor(
        kind="api_key",
        id=7,
        name="上海收银",
        role=Role.CASHIER.value,
        permissions=frozenset(p.value for p in permissions_of(Role.CASHIER)),
        store_ids=frozenset({store.id}),
        ip="10.1.2.3",
    )


@pytest.fixture
def pair(db: Database) -> tuple[int, int]:
    """A Shanghai member by phone, a Beijing member by card."""
    for code in ("SH01", "BJ01"):
        db.write(
            lambda s, c=code: catalog.create_store(session=s, store_in=StoreCreate(code=c, name=c))
        )
    sh = post_order(db, "S1", store_code="SH01", customer={"phone": "13800138000"})
    bj = post_order(db, "B1", store_code="BJ01", customer={"member_card": "BJ-1"})
    assert sh.order.customer_id and bj.order.customer_id
    return sh.order.customer_id, bj.order.customer_id


def _till_sale(db: Database, external_id: str, customer: dict[str, str]) -> int | None:
    till = _till(db)
    model = order_in(external_id, store_code="SH01", customer=customer, at=later(2))
    written = db.write(
        lambda s: orders.record_order(
            session=s, order_in=model, store_ids=till.store_ids, actor=till
        )
    )
    return written.order.customer_id


def test_a_till_sale_naming_two_profiles_raises_one_suggestion(
    db: Database, pair: tuple[int, int]
) -> None:
    sh, bj = pair
    both = {"phone": "13800138000", "member_card": "BJ-1"}
    assert _till_sale(db, "T1", both) == sh  # the till's own customer gets the sale
    assert _till_sale(db, "T2", both) == sh  # again: still one suggestion
    page = db.read(lambda s: customers.list_merge_suggestions(session=s))
    (item,) = page.items
    assert {item.first.id, item.second.id} == {sh, bj}
    assert item.first.identities[0].value == "138****8000"  # masked side by side
    assert (item.first_orders, item.second_orders) == (3, 1)
    assert item.store_code == "SH01" and item.raised_by == "api_key:上海收银"
    assert "order pos-test/T1" in item.reason and "BJ-1" not in item.reason
    raised = db.read(lambda s: audit.list_audit(session=s, action="merge_suggestion.raise"))
    assert [(e.actor_kind, e.ip) for e in raised.items] == [("api_key", "10.1.2.3")]


def test_accepting_merges_the_newer_into_the_older_and_can_be_undone(
    db: Database, pair: tuple[int, int]
) -> None:
    sh, bj = pair
    _till_sale(db, "T1", {"phone": "13800138000", "member_card": "BJ-1"})
    (item,) = db.read(lambda s: customers.list_merge_suggestions(session=s)).items
    merge = db.write(
        lambda s: customers.accept_merge_suggestion(
            session=s, suggestion_id=item.id, reason="电话核实为同一人", actor=ACTOR
        )
    )
    assert (merge.survivor_id, merge.merged_id) == (sh, bj)
    (entry,) = db.read(lambda s: audit.list_audit(session=s, action="customer.merge")).items
    assert entry.details["suggestion_id"] == item.id and entry.reason == "电话核实为同一人"
    accepted = db.read(
        lambda s: customers.list_merge_suggestions(session=s, status="accepted")
    ).items
    assert [(a.id, a.merge_id, a.decided_by) for a in accepted] == [
        (item.id, merge.id, ACTOR.label)
    ]
    assert db.read(lambda s: customers.list_merge_suggestions(session=s)).items == []
    with pytest.raises(SuggestionDecided):
        db.write(
            lambda s: customers.accept_merge_suggestion(
                session=s, suggestion_id=item.id, reason="再来一次", actor=ACTOR
            )
        )
    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge.id, actor=ACTOR))
    restored = db.read(lambda s: customers.get_customer_or_raise(session=s, customer_id=bj))
    assert restored.status == "active"


def test_a_dismissed_pair_is_never_suggested_nor_merged_again(
    db: Database, pair: tuple[int, int]
) -> None:
    sh, bj = pair
    both = {"phone": "13800138000", "member_card": "BJ-1"}
    _till_sale(db, "T1", both)
    (item,) = db.read(lambda s: customers.list_merge_suggestions(session=s)).items
    db.write(
        lambda s: customers.dismiss_merge_suggestion(
            session=s, suggestion_id=item.id, reason="父子共用一张卡", actor=ACTOR
        )
    )
    _till_sale(db, "T2", both)
    assert db.read(lambda s: customers.list_merge_suggestions(session=s)).items == []
    # a chain-wide sale does not merge them either: staff said they are two people
    post_order(db, "C1", store_code="SH01", customer=both, at=later(3))
    for cid in (sh, bj):
        found = db.read(lambda s, c=cid: customers.get_customer_or_raise(session=s, customer_id=c))
        assert found.status == "active"
    (entry,) = db.read(
        lambda s: audit.list_audit(session=s, action="merge_suggestion.dismiss")
    ).items
    assert entry.reason == "父子共用一张卡" and entry.details["suggestion_id"] == item.id


def test_a_suggestion_whose_profile_was_merged_since_cannot_be_accepted(
    db: Database, pair: tuple[int, int]
) -> None:
    _sh, bj = pair
    _till_sale(db, "T1", {"phone": "13800138000", "member_card": "BJ-1"})
    (item,) = db.read(lambda s: customers.list_merge_suggestions(session=s)).items
    third = sign_up(db, wechat_unionid="U-3")
    db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=third, merged_id=bj, reason="另案核实", actor=ACTOR
        )
    )
    with pytest.raises(CannotMerge):
        db.write(
            lambda s: customers.accept_merge_suggestion(
                session=s, suggestion_id=item.id, reason="同一人", actor=ACTOR
            )
        )


def test_a_till_batch_folds_a_profile_it_creates_into_its_own_customer_without_a_suggestion(
    db: Database, pair: tuple[int, int]
) -> None:
    sh, _bj = pair
    till = _till(db)
    batch = [
        order_in("T1", store_code="SH01", customer={"member_card": "SH-NEW"}, at=later(2)),
        order_in(
            "T2",
            store_code="SH01",
            customer={"member_card": "SH-NEW", "phone": "13800138000"},
            at=later(2),
        ),
    ]
    outcomes = db.write(
        lambda s: orders.record_orders(
            session=s, orders_in=batch, store_ids=till.store_ids, actor=till
        )
    )
    assert [o.customer_id for o in outcomes] == [sh, sh]
    found = db.read(lambda s: customers.get_customer_or_raise(session=s, customer_id=sh))
    assert {i.kind for i in found.identities} == {"phone", "member_card"}
    assert db.read(lambda s: customers.list_merge_suggestions(session=s)).items == []
