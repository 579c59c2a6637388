"""Profiles in bulk for the analytics store's audience facts: what a segment may select on,
read a batch at a time. Birthdays are decrypted here only to be turned into an age band by
the caller; nothing identifying leaves (see docs/audiences.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.crypto import prefetch_subject_keys
from patron.customers.models import Customer, CustomerStatus, CustomerTag, Tag

BATCH = 20_000

ProfileRow = tuple[int, str | None, date | None, str | None]


def profile_rows(*, session: Session, batch: int = BATCH) -> Iterator[list[ProfileRow]]:
    """(customer id, gender, birthday, city) of every active profile, in id order."""
    after = 0
    while True:
        rows = session.execute(
            select(Customer.id, Customer.gender, Customer.birthday, Customer.city)
            .where(Customer.status == CustomerStatus.ACTIVE, Customer.id > after)
            .order_by(Customer.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield [(r[0], r[1], r[2], r[3]) for r in rows]
        after = rows[-1][0]


def tag_rows(*, session: Session) -> list[tuple[int, str]]:
    """(customer id, tag name) of every tag given."""
    rows = session.execute(
        select(CustomerTag.customer_id, Tag.name).join(Tag, Tag.id == CustomerTag.tag_id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def active_ids(*, session: Session, batch: int = BATCH) -> list[int]:
    """The id of every active profile, ascending."""
    found: list[int] = []
    after = 0
    while True:
        ids = list(
            session.scalars(
                select(Customer.id)
                .where(Customer.status == CustomerStatus.ACTIVE, Customer.id > after)
                .order_by(Customer.id)
                .limit(batch)
            )
        )
        if not ids:
            return found
        found.extend(int(i) for i in ids)
        after = ids[-1]


def home_store_ids(*, session: Session, customer_ids: Sequence[int]) -> dict[int, int | None]:
    """Each customer's home store (None: none)."""
    ids = sorted(set(customer_ids))
    found: dict[int, int | None] = {}
    for start in range(0, len(ids), 1_000):
        rows = session.execute(
            select(Customer.id, Customer.home_store_id).where(
                Customer.id.in_(ids[start : start + 1_000])
            )
        )
        found.update({int(c): (int(s) if s is not None else None) for c, s in rows})
    return found


def birthdays_changed_since(
    *, session: Session, since: datetime | None, batch: int = BATCH
) -> Iterator[list[tuple[int, date | None, bool, datetime]]]:
    """(id, birthday, live, updated at) of every profile changed at or after ``since`` (all
    when None), a batch at a time in id order; birthdays are decrypted here, so a caller
    keeping its own index of birthdays decrypts only what changed."""
    after = 0
    while True:
        query = select(Customer.id, Customer.key_ref, Customer.status, Customer.updated_at).where(
            Customer.id > after
        )
        if since is not None:
            query = query.where(Customer.updated_at >= since)
        rows = session.execute(query.order_by(Customer.id).limit(batch)).all()
        if not rows:
            return
        # Each profile's data key unwrapped in one read for the batch, not one read per
        # profile as the birthdays are decrypted (docs/privacy.md, "Keys").
        prefetch_subject_keys(session, [r[1] for r in rows if r[1]])
        births = dict(
            session.execute(
                select(Customer.id, Customer.birthday).where(
                    Customer.id.between(rows[0][0], rows[-1][0]),
                    *([Customer.updated_at >= since] if since is not None else []),
                )
            ).all()
        )
        yield [(int(r[0]), births.get(r[0]), r[2] == CustomerStatus.ACTIVE, r[3]) for r in rows]
        after = rows[-1][0]
