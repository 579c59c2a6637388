"""Every merge, automatic or by staff, and every change to a profile is in the audit log
with its cause; what a change overwrote is kept there encrypted."""

from __future__ import annotations

from sqlalchemy import text

from patron.audit import service as audit
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerUpdate
from tests.helpers import ACTOR, later, post_order, sign_up
from tests.security.helpers import CIPHERTEXT


def _entries(db: Database, action: str) -> list:  # type: ignore[type-arg]
    return db.read(lambda s: audit.list_audit(session=s, action=action)).items


def test_an_automatic_merge_by_a_sale_is_audited_with_the_sale_as_its_cause(db: Database) -> None:
    by_phone = post_order(db, "A1", customer={"phone": "13800138000"}).order.customer_id
    by_card = post_order(db, "A2", customer={"member_card": "VIP-0001"}).order.customer_id
    post_order(db, "A3", customer={"phone": "13800138000", "member_card": "VIP-0001"}, at=later(1))
    (entry,) = _entries(db, "customer.merge")
    assert entry.target_id == str(by_phone)
    assert entry.details["merged_id"] == by_card and entry.details["automatic"] is True
    assert "order pos-test/A3" in (entry.reason or "")
    assert "13800138000" not in (entry.reason or "")  # the identifier is masked
    merge = db.read(lambda s: customers.list_merges(session=s, customer_id=by_phone))[0]
    assert entry.details["merge_id"] == merge.id


def test_a_sign_up_that_merges_two_profiles_is_audited(db: Database) -> None:
    first = sign_up(db, phone="13800138000")
    second = sign_up(db, member_card="VIP-0002")
    sign_up(db, phone="13800138000", member_card="VIP-0002")
    (entry,) = _entries(db, "customer.merge")
    assert (entry.target_id, entry.details["merged_id"]) == (str(first), second)
    assert "sign-up via test" in (entry.reason or "")


def test_a_staff_edit_is_audited_with_the_fields_and_an_encrypted_before_image(
    db: Database,
) -> None:
    cid = sign_up(db, phone="13800138000", name="王芳", city="上海")
    db.write(
        lambda s: customers.update_customer(
            session=s,
            customer_id=cid,
            customer_in=CustomerUpdate(name="王芳芳", city="上海", gender="female"),
            actor=ACTOR,
        )
    )
    (entry,) = _entries(db, "customer.update")
    assert entry.target_id == str(cid) and entry.actor_name == ACTOR.name
    assert entry.details == {"fields": ["gender", "name"]}  # city did not change
    assert "王芳" not in str(entry.details)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT before_image FROM audit_entry WHERE id = :i"),
                              {"i": entry.id}).scalar()  # fmt: skip
    assert CIPHERTEXT.match(stored) and "王芳" not in stored
    # read back through the model, it is what the profile held
    from patron.audit.models import AuditEntry

    before = db.read(lambda s: s.get(AuditEntry, entry.id).before_image)  # type: ignore[union-attr]
    assert before == {"name": "王芳", "gender": None}


def test_a_sale_that_fills_a_blank_or_adds_an_identifier_is_audited(db: Database) -> None:
    cid = sign_up(db, phone="13800138000")
    post_order(db, "F1", customer={"phone": "13800138000", "name": "李雷", "email": "l@x.cn"})
    post_order(db, "F2", customer={"phone": "13800138000", "name": "李雷"})  # nothing new
    (entry,) = _entries(db, "customer.fill")
    assert entry.target_id == str(cid) and entry.reason == "order pos-test/F1"
    assert entry.details["fields"] == ["name"]
    assert entry.details["identities_added"] == ["email"]


def test_tags_given_and_taken_are_audited(db: Database) -> None:
    cid = sign_up(db, phone="13800138000", tags=["VIP"])  # part of signing up: no entry
    db.write(lambda s: customers.add_tag(session=s, customer_id=cid, name="孕婴", actor=ACTOR))
    db.write(lambda s: customers.add_tag(session=s, customer_id=cid, name="孕婴", actor=ACTOR))
    db.write(lambda s: customers.remove_tag(session=s, customer_id=cid, name="VIP", actor=ACTOR))
    sign_up(db, phone="13800138000", tags=["门店会员"])  # on a known profile: a change
    added = _entries(db, "customer.tag_add")
    removed = _entries(db, "customer.tag_remove")
    assert [e.reason for e in added] == ["sign-up via test", None]
    assert len(removed) == 1 and removed[0].target_id == str(cid)
