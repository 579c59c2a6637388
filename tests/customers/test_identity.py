"""Identity resolution and merging, through the services."""

from __future__ import annotations

import pytest

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.exceptions import CannotMerge, CannotUnmerge
from patron.orders import service as orders
from tests.helpers import ACTOR, later, post_order, sign_up


def _customer(db: Database, customer_id: int):  # type: ignore[no-untyped-def]
    return db.read(lambda s: customers.get_customer_or_raise(session=s, customer_id=customer_id))


def _orders_of(db: Database, customer_id: int) -> set[str]:
    page = db.read(
        lambda s: orders.list_customer_orders(session=s, customer_id=customer_id, limit=200)
    )
    return {o.external_id for o in page.items}


def test_an_unknown_phone_creates_a_customer_and_a_known_one_attaches(db: Database) -> None:
    first = post_order(db, "A1", customer={"phone": "13800138000", "name": "王芳"})
    second = post_order(db, "A2", customer={"phone": "+86 138 0013 8000"}, at=later(3))
    assert first.order.customer_id == second.order.customer_id
    customer = _customer(db, first.order.customer_id)
    assert customer.name == "王芳"
    assert [i.value for i in customer.identities] == ["+8613800138000"]
    assert customer.signup_channel == "pos"


def test_an_order_without_identifiers_is_an_anonymous_sale(db: Database) -> None:
    assert post_order(db, "A1").order.customer_id is None
    assert post_order(db, "A2", customer={}).order.customer_id is None


def test_new_identifiers_on_a_known_customer_are_added_to_that_profile(db: Database) -> None:
    cid = sign_up(db, phone="13800138000", name="李雷")
    post_order(db, "A1", customer={"phone": "13800138000", "email": "LiLei@Example.com"})
    kinds = {i.kind: i.value for i in _customer(db, cid).identities}
    assert kinds == {"phone": "+8613800138000", "email": "lilei@example.com"}


def test_a_record_revealing_two_profiles_share_a_strong_identifier_merges_them(
    db: Database,
) -> None:
    by_phone = post_order(db, "A1", customer={"phone": "13800138000"}).order.customer_id
    by_card = post_order(db, "A2", customer={"member_card": "VIP-0001"}).order.customer_id
    assert by_phone != by_card
    post_order(db, "A3", customer={"phone": "13800138000", "member_card": "VIP-0001"}, at=later(1))
    survivor = _customer(db, by_phone)
    merged = _customer(db, by_card)
    assert merged.status == "merged" and merged.merged_into_id == by_phone
    assert {i.kind for i in survivor.identities} == {"phone", "member_card"}
    assert _orders_of(db, by_phone) == {"A1", "A2", "A3"}
    merges = db.read(lambda s: customers.list_merges(session=s, customer_id=by_phone))
    # the reason names the identifier masked: it is kept in plain text, unlike the identifier
    assert len(merges) == 1 and "member_card ****0001" in merges[0].reason
    assert "VIP-0001" not in merges[0].reason


def test_unmerge_gives_both_profiles_back_with_their_orders(db: Database) -> None:
    a = sign_up(db, phone="13800138000", name="张伟", city="上海")
    b = sign_up(db, member_card="VIP-0001", birthday="1990-05-01", tags=["老顾客"])
    post_order(db, "A1", customer={"phone": "13800138000"})
    post_order(db, "B1", customer={"member_card": "VIP-0001"})
    post_order(db, "AB", customer={"phone": "13800138000", "member_card": "VIP-0001"}, at=later(1))
    merged = _customer(db, a)
    assert merged.birthday is not None and "老顾客" in merged.tags  # blanks filled from b

    merge_id = db.read(lambda s: customers.list_merges(session=s, customer_id=a))[0].id
    db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge_id))
    restored_a, restored_b = _customer(db, a), _customer(db, b)
    assert restored_a.status == restored_b.status == "active"
    assert restored_a.birthday is None and restored_a.tags == []
    assert {i.kind for i in restored_a.identities} == {"phone"}
    assert {i.kind for i in restored_b.identities} == {"member_card"}
    assert restored_b.tags == ["老顾客"]
    # The order that revealed the link was placed on the survivor, and stays there.
    assert _orders_of(db, a) == {"A1", "AB"}
    assert _orders_of(db, b) == {"B1"}


def test_an_unmerged_pair_is_not_merged_again_automatically(db: Database) -> None:
    a = post_order(db, "A1", customer={"phone": "13800138000"}).order.customer_id
    b = post_order(db, "B1", customer={"member_card": "VIP-0001"}).order.customer_id
    post_order(db, "AB", customer={"phone": "13800138000", "member_card": "VIP-0001"})
    merge_id = db.read(lambda s: customers.list_merges(session=s, customer_id=a))[0].id
    db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge_id))

    again = post_order(
        db, "AB2", customer={"member_card": "VIP-0001", "phone": "13800138000"}, at=later(2)
    )
    # The member card ranks first, so the order lands on its owner; no new merge.
    assert again.order.customer_id == b
    assert _customer(db, a).status == "active"
    assert len(db.read(lambda s: customers.list_merges(session=s, customer_id=a))) == 1


def test_a_shared_email_never_merges_two_people(db: Database) -> None:
    mother = sign_up(db, phone="13800138000", email="family@example.com")
    son = post_order(db, "S1", customer={"phone": "13900139000", "email": "family@example.com"})
    assert son.order.customer_id != mother
    assert _customer(db, mother).status == "active"
    # An order with only the e-mail goes to the e-mail's owner.
    assert (
        post_order(db, "S2", customer={"email": "family@example.com"}).order.customer_id == mother
    )


def test_records_in_one_batch_sharing_a_new_identifier_make_one_customer(db: Database) -> None:
    from tests.helpers import order_in

    batch = [
        order_in("B1", customer={"phone": "13800138000"}),
        order_in("B2", customer={"phone": "13800138000", "member_card": "C-9"}),
        order_in("B3", customer={"member_card": "C-9", "name": "赵敏"}),
        order_in("B4"),
    ]
    outcomes = db.write(lambda s: orders.record_orders(session=s, orders_in=batch))
    ids = {o.customer_id for o in outcomes[:3]}
    assert len(ids) == 1 and outcomes[3].customer_id is None
    customer = _customer(db, ids.pop())
    assert customer.name == "赵敏"
    assert {i.kind for i in customer.identities} == {"phone", "member_card"}


def test_one_batch_can_merge_and_keep_using_the_survivor(db: Database) -> None:
    from tests.helpers import order_in

    a = sign_up(db, phone="13800138000")
    b = sign_up(db, member_card="C-9")
    batch = [
        order_in("B1", customer={"member_card": "C-9"}),
        order_in("B2", customer={"phone": "13800138000", "member_card": "C-9"}),
        order_in("B3", customer={"member_card": "C-9"}),
    ]
    outcomes = db.write(lambda s: orders.record_orders(session=s, orders_in=batch))
    assert [o.customer_id for o in outcomes] == [a, a, a]
    assert _customer(db, b).merged_into_id == a


def test_an_order_for_a_merged_customer_id_lands_on_the_survivor(db: Database) -> None:
    a = sign_up(db, phone="13800138000")
    b = sign_up(db, member_card="C-9")
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="same person"
        )
    )
    assert post_order(db, "X1", customer={"id": b}).order.customer_id == a


def test_sign_up_with_a_known_phone_fills_blanks_and_keeps_what_is_there(db: Database) -> None:
    from patron.customers.schemas import CustomerCreate

    first = sign_up(db, phone="13800138000", name="陈静")
    model = CustomerCreate.model_validate(
        {"identities": {"phone": "138-0013-8000"}, "name": "陈晶", "city": "杭州"}
    )
    result = db.write(
        lambda s: customers.register_customer(session=s, customer_in=model, source="app")
    )
    assert not result.created and result.customer.id == first
    assert result.customer.name == "陈静" and result.customer.city == "杭州"


def test_merge_refuses_self_and_merged_profiles(db: Database) -> None:
    a = sign_up(db, phone="13800138000")
    b = sign_up(db, phone="13900139000")
    with pytest.raises(CannotMerge):
        db.write(
            lambda s: customers.merge_customers(
                session=s, actor=ACTOR, survivor_id=a, merged_id=a, reason="x"
            )
        )
    merge = db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="x"
        )
    )
    with pytest.raises(CannotMerge):
        db.write(
            lambda s: customers.merge_customers(
                session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="x"
            )
        )
    db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge.id))
    with pytest.raises(CannotUnmerge):
        db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge.id))


def test_a_merge_into_a_profile_that_was_merged_since_must_be_undone_in_order(db: Database) -> None:
    a = sign_up(db, phone="13800138000")
    b = sign_up(db, phone="13900139000")
    c = sign_up(db, phone="13700137000")
    first = db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=b, merged_id=c, reason="x"
        )
    )
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="y"
        )
    )
    with pytest.raises(CannotUnmerge, match="undo that merge first"):
        db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=first.id))
