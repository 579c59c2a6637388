"""Migration 0005 encrypts what an older database holds, and walking it back decrypts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from patron.core.db import Database
from patron.core.migrate import downgrade, upgrade
from patron.core.models import UTCDateTime
from patron.customers import service as customers
from patron.customers.schemas import CustomerFilter
from tests.security.helpers import CIPHERTEXT

AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
_CUSTOMER = sa.table(
    "customer",
    sa.column("id"),
    sa.column("name"),
    sa.column("gender"),
    sa.column("birthday", sa.Date()),
    sa.column("city"),
    sa.column("status"),
    sa.column("signed_up_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
_IDENTITY = sa.table(
    "identity",
    *(sa.column(c) for c in ("id", "customer_id", "kind", "namespace", "value", "source")),
    sa.column("created_at", UTCDateTime()),
)
_MERGE = sa.table(
    "customer_merge",
    *(sa.column(c) for c in ("id", "survivor_id", "merged_id", "reason")),
    sa.column("survivor_before", sa.JSON()),
    sa.column("moved", sa.JSON()),
    sa.column("merged_at", UTCDateTime()),
)


@pytest.fixture
def old_db(db: Database) -> Iterator[Database]:
    """``db`` walked back to the schema before encryption (0004), put back at head after."""
    downgrade(db, "0004")
    try:
        yield db
    finally:
        with db.engine.begin() as conn:
            for table in ("customer_merge", "identity", "customer"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
        upgrade(db)


def _fill_old_schema(db: Database) -> None:
    # Raw rows: no service writes the old schema any more.
    stamp = {"signed_up_at": AT, "created_at": AT, "updated_at": AT}
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(_CUSTOMER),
            [
                {"id": 1, "name": "张伟", "gender": "male", "birthday": date(1990, 5, 17),
                 "city": "上海", "status": "active", **stamp},
                {"id": 2, "name": None, "gender": None, "birthday": None, "city": None,
                 "status": "merged", **stamp},
            ] + [
                {"id": n, "name": f"顾客{n}", "gender": None, "birthday": None, "city": None,
                 "status": "active", **stamp}
                for n in range(3, 2503)  # more than one batch
            ],
        )  # fmt: skip
        conn.execute(
            sa.insert(_IDENTITY),
            [
                {"id": 1, "customer_id": 1, "kind": "phone", "namespace": "",
                 "value": "+8613800138000", "source": "pos", "created_at": AT},
                {"id": 2, "customer_id": 1, "kind": "email", "namespace": "",
                 "value": "zw@example.com", "source": "pos", "created_at": AT},
                {"id": 3, "customer_id": 1, "kind": "member_card", "namespace": "",
                 "value": "VIP0001", "source": "pos", "created_at": AT},
            ],
        )  # fmt: skip
        conn.execute(
            sa.insert(_MERGE),
            [
                {"id": 1, "survivor_id": 1, "merged_id": 2, "reason": "同一人",
                 "survivor_before": {"name": "张伟", "birthday": "1990-05-17", "city": None},
                 "moved": {"identity": []}, "merged_at": AT},
            ],
        )  # fmt: skip


def test_upgrade_encrypts_existing_rows_and_downgrade_gives_them_back(old_db: Database) -> None:
    _fill_old_schema(old_db)

    upgrade(old_db)

    with old_db.engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM customer WHERE id < 5"))]
        values = [r[0] for r in conn.execute(sa.text("SELECT value FROM identity"))]
        snapshot = conn.execute(sa.text("SELECT survivor_before FROM customer_merge")).scalar()
        birthday = conn.execute(sa.text("SELECT birthday FROM customer WHERE id = 1")).scalar()
    for stored in [*[n for n in names if n], *values, snapshot, birthday]:
        assert CIPHERTEXT.match(stored), stored
    found = old_db.read(
        lambda s: customers.lookup_customer(session=s, kind="phone", value="138 0013 8000")
    )
    assert found is not None and found.name == "张伟" and found.birthday == date(1990, 5, 17)
    assert {i.value for i in found.identities} == {"+8613800138000", "zw@example.com", "VIP0001"}
    assert (
        old_db.read(
            lambda s: customers.lookup_customer(session=s, kind="email", value="ZW@example.com")
        )
        is not None
    )
    page = old_db.read(
        lambda s: customers.list_customers(session=s, filters=CustomerFilter(q="顾客2502"))
    )
    assert [c.id for c in page.items] == [2502]
    merge = old_db.read(lambda s: customers.list_merges(session=s, customer_id=1))
    assert merge and merge[0].reason == "同一人"
    if old_db.is_sqlite:
        # nothing of the plain values is left in the file's free space either
        with old_db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        old_db.dispose()
        blob = Path(old_db.engine.url.database or "").read_bytes()
        for plain in ("+8613800138000", "zw@example.com", "VIP0001", "张伟", "顾客2502"):
            assert plain.encode() not in blob, plain

    downgrade(old_db, "0004")

    with old_db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, birthday FROM customer WHERE id = 1")).one()
        values = sorted(r[0] for r in conn.execute(sa.text("SELECT value FROM identity")))
        snapshot = conn.execute(sa.text("SELECT survivor_before FROM customer_merge")).scalar()
    assert row[0] == "张伟" and str(row[1]) == "1990-05-17"
    assert values == ["+8613800138000", "VIP0001", "zw@example.com"]
    doc = json.loads(snapshot) if isinstance(snapshot, str) else snapshot
    assert doc == {"name": "张伟", "birthday": "1990-05-17", "city": None}


def test_upgrade_encrypts_existing_notes_and_downgrade_gives_them_back(db: Database) -> None:
    from tests.helpers import sign_up

    customer = sign_up(db, phone="13800138000", name="张伟")
    downgrade(db, "0012")
    plain = "客户来电：请回拨 13800138000，改寄到上海市黄浦区南京东路 299 号"
    try:
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO interaction (customer_id, channel, direction, staff, note, "
                    "occurred_at, created_at) VALUES (:c, 'phone', 'inbound', '小王', :n, :at, :at)"
                ),
                {"c": customer, "n": plain, "at": AT.replace(tzinfo=None)},
            )
    finally:
        upgrade(db)
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT note FROM interaction")).scalar()
    assert CIPHERTEXT.match(stored) and "13800138000" not in stored
    notes = db.read(lambda s: customers.list_interactions(session=s, customer_id=customer))
    assert [n.note for n in notes] == [plain]

    downgrade(db, "0012")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT note FROM interaction")).scalar() == plain
    finally:
        upgrade(db)
