"""Reading customers in bulk, as lists of scored or at-risk customers do."""

from __future__ import annotations

from patron.core.db import Database
from patron.customers import service as customers
from tests.helpers import sign_up


def test_many_customers_read_at_once_match_one_by_one(db: Database) -> None:
    ids = [
        sign_up(db, phone="13800000001", name="王芳", email="wf@example.cn"),
        sign_up(db, phone="13800000002", member_card="M-2"),
        sign_up(db, wechat_openid="o-3"),
    ]
    db.write(lambda s: customers.add_tag(session=s, customer_id=ids[0], name="VIP"))
    wanted = [ids[2], ids[0], ids[2], 999_999]  # repeats and an unknown id
    found = db.read(lambda s: customers.get_customers(session=s, customer_ids=wanted))
    assert sorted(found) == sorted([ids[0], ids[2]])
    for customer_id, customer in found.items():
        one = db.read(lambda s, i=customer_id: customers.get_customer(session=s, customer_id=i))
        assert customer == one
    assert found[ids[0]].tags == ["VIP"]
    assert {i.kind for i in found[ids[0]].identities} == {"phone", "email"}
    assert db.read(lambda s: customers.get_customers(session=s, customer_ids=[])) == {}
