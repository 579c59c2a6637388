"""A coupon for a whole audience at once: limits hold, merged and out-of-store profiles are
left out, every code is unique, one audit entry."""

from __future__ import annotations

from patron.audit import service as audit
from patron.core.db import Database
from patron.customers import service as customers
from patron.loyalty.coupons import issue_coupons, list_customer_coupons
from patron.loyalty.schemas import BulkIssueRead
from tests.helpers import ACTOR
from tests.loyalty.helpers import TUESDAY, give_coupon, member, template


def _issue(db: Database, code: str, ids: list[int]) -> BulkIssueRead:
    return db.write(
        lambda s: issue_coupons(
            session=s,
            template_code=code,
            customer_ids=ids,
            actor=ACTOR,
            audience="list",
            now=TUESDAY,
        )
    )


def test_a_bulk_issue_respects_limits_and_skips_merged_profiles(db: Database) -> None:
    code = template(
        db,
        code="WINBACK",
        kind="amount_off",
        threshold_fen=5_000,
        amount_off_fen=1_000,
        per_customer_limit=1,
    )
    a, b, c, d = (member(db) for _ in range(4))
    give_coupon(db, code, b, at=TUESDAY)  # b already holds one
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=c, merged_id=d, reason="同一人"
        )
    )
    result = _issue(db, code, [a, b, c, d, a])
    assert (result.asked, result.issued, result.skipped_at_limit, result.not_found) == (4, 2, 1, 1)

    held = {
        who: db.read(
            lambda s, who=who: list_customer_coupons(session=s, customer_id=who, now=TUESDAY)
        )
        for who in (a, b, c)
    }
    assert [len(v) for v in held.values()] == [1, 1, 1]
    codes = [cp.code for v in held.values() for cp in v]
    assert len(set(codes)) == 3

    again = _issue(db, code, [a, b, c])
    assert (again.issued, again.skipped_at_limit) == (0, 3)
    entries = db.read(lambda s: audit.list_audit(session=s, action="coupon.bulk_issue"))
    assert len(entries.items) == 2
    assert entries.items[0].details["issued"] in (0, 2)
