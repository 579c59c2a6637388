from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from patron.audit import service as audit
from patron.core.db import Database
from patron.customers import service as customers
from patron.loyalty import reports
from patron.orders import sales
from patron.privacy import retention
from patron.privacy.schemas import PolicyIn
from tests.helpers import ACTOR, sign_up
from tests.loyalty.helpers import PLAIN, TUESDAY, sale
from tests.privacy.helpers import note

NOW = TUESDAY + timedelta(days=3 * 365)


def _policy(db: Database, kind: str, months: int) -> None:
    policy_in = PolicyIn(kind=kind, keep_months=months)  # type: ignore[arg-type]
    db.write(lambda s: retention.set_policy(session=s, policy_in=policy_in, actor=ACTOR))


def _apply(db: Database, *, dry_run: bool) -> retention.RetentionOutcome:
    return db.write(
        lambda s: retention.apply_retention(session=s, actor=ACTOR, dry_run=dry_run, now=NOW)
    )


def _figures(db: Database) -> tuple[int, int]:
    def read(s: object) -> tuple[int, int]:
        figures = sales.summarise_sales(
            session=s,  # type: ignore[arg-type]
            start_on=date(2026, 1, 1),
            end_on=date(2026, 12, 31),
        )
        net = sum(c.net_fen for c in figures.cells)
        owed = reports.liability(session=s, now=TUESDAY, programme=PLAIN).liability_fen  # type: ignore[arg-type]
        return net, owed

    return db.read(read)


def test_months_before_keeps_the_day_or_takes_the_months_last() -> None:
    at = datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    assert retention.months_before(at, 1) == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert retention.months_before(at, 24) == datetime(2024, 3, 31, 8, 0, tzinfo=UTC)


def test_a_dry_run_counts_what_the_run_then_does_and_totals_do_not_change(db: Database) -> None:
    gone = sign_up(db, phone="13800138000", email="old@example.com", name="王小明")
    sale(db, gone)
    note(db, gone, "地址：上海市某路1号", at=TUESDAY)
    kept = sign_up(db, phone="13900139000", name="李四")
    sale(db, kept, at=NOW - timedelta(days=30))
    _policy(db, "inactive_customers", 24)
    before = _figures(db)
    assert before[0] > 0 and before[1] > 0

    dry = _apply(db, dry_run=True)
    assert dry.counts["inactive_customers"] == {
        "customers": 1,
        "profiles": 1,
        "identities": 2,
        "interactions": 1,
        "tags": 0,
    }
    assert db.read(lambda s: customers.get_customer(session=s, customer_id=gone)).name == "王小明"  # type: ignore[union-attr]

    run = _apply(db, dry_run=False)
    assert run.counts == dry.counts
    anonymous = db.read(lambda s: customers.get_customer(session=s, customer_id=gone))
    assert anonymous is not None
    assert (anonymous.name, anonymous.status, anonymous.identities) == (None, "anonymised", [])
    assert db.read(lambda s: customers.list_interactions(session=s, customer_id=gone)) == []
    assert db.read(lambda s: customers.get_customer(session=s, customer_id=kept)).name == "李四"  # type: ignore[union-attr]
    assert _figures(db) == before  # net sales and points liability unchanged

    # Run again: nothing left to do.
    assert _apply(db, dry_run=True).counts["inactive_customers"]["customers"] == 0
    entry = db.read(lambda s: audit.list_audit(session=s, action="privacy.retention.run")).items
    assert entry[0].details["counts"] == run.counts


def test_old_interaction_notes_are_deleted_and_recent_ones_kept(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    note(db, customer, "旧记录", at=NOW - timedelta(days=400))
    note(db, customer, "新记录", at=NOW - timedelta(days=10))
    _policy(db, "interaction_notes", 6)
    assert _apply(db, dry_run=True).counts == {"interaction_notes": {"interactions": 1}}
    assert _apply(db, dry_run=False).counts == {"interaction_notes": {"interactions": 1}}
    left = db.read(lambda s: customers.list_interactions(session=s, customer_id=customer))
    assert [i.note for i in left] == ["新记录"]


def test_no_policy_does_nothing(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    note(db, customer, "旧记录", at=NOW - timedelta(days=4000))
    assert _apply(db, dry_run=False).counts == {}
