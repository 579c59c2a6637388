"""The loyalty programme's upkeep: the day's birthday gifts and coupons, writing off
expired points and the tier review. The server's nightly job runs it after the analytics run, and
``patron loyalty upkeep`` runs it by hand or from cron.

Each part commits on its own (expiry every EXPIRY_BATCH accounts, so a till waits for at most
one batch's locks); a part that fails is logged and the others still run. Several server
processes may run it the same night: every part locks what it changes and finds nothing left
to do the second time (a gift once a year, a lot written off once, a review with nothing
more to change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy.orm import Session

from patron.core.db import Database
from patron.loyalty.birthdays import give_birthday_coupons, give_birthday_gifts
from patron.loyalty.expiring import publish_points_expiring
from patron.loyalty.points import accounts_due_for_expiry, expire_points
from patron.loyalty.tiers import review_tiers

log = logging.getLogger(__name__)

EXPIRY_BATCH = 200  # accounts written off per transaction


def run_upkeep(*, db: Database) -> dict[str, int | None]:
    """Birthday gifts, expiry and the tier review; what each did (the members given a
    gift, the points written off, the accounts whose tier changed), None for a part that
    failed."""
    parts: dict[str, Callable[[Database], int]] = {
        "birthday gifts": _birthday_gifts,
        "birthday coupons": _birthday_coupons,
        "points expired": _expire,
        "tiers changed": _review_tiers,
        "points expiring notices": _expiring,
    }
    done: dict[str, int | None] = {}
    for name, part in parts.items():
        try:
            done[name] = part(db)
        except Exception:
            log.exception("loyalty upkeep: %s failed", name)
            done[name] = None
        else:
            log.info("loyalty upkeep: %s %s", name, done[name])
    return done


def _birthday_gifts(db: Database) -> int:
    return db.write(lambda s: give_birthday_gifts(session=s)).given


def _birthday_coupons(db: Database) -> int:
    return db.write(lambda s: give_birthday_coupons(session=s)).issued


def _expire(db: Database) -> int:
    ids = db.read(lambda s: accounts_due_for_expiry(session=s))
    return sum(
        db.write(partial(_expire_batch, ids[start : start + EXPIRY_BATCH]))
        for start in range(0, len(ids), EXPIRY_BATCH)
    )


def _expire_batch(account_ids: list[int], session: Session) -> int:
    return expire_points(session=session, account_ids=account_ids)


def _expiring(db: Database) -> int:
    return db.write(lambda s: publish_points_expiring(session=s))


def _review_tiers(db: Database) -> int:
    return db.write(lambda s: review_tiers(session=s))
