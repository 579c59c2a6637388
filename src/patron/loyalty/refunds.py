"""A posted refund's loyalty, once: points its order earned taken back, points it spent given
back, coupons restored when the order is refunded in full. No commits here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput
from patron.loyalty import ledger, promotions, referrals, rules
from patron.loyalty.accounts import get_programme, now_or, open_account
from patron.loyalty.exceptions import NotAMember
from patron.loyalty.models import (
    Coupon,
    CouponEvent,
    CouponStatus,
    EntryKind,
    LoyaltyAccount,
    LoyaltyOrder,
    LoyaltyRefund,
)
from patron.loyalty.schemas import (
    LoyaltyRefundIn,
    LoyaltyRefundRead,
)
from patron.orders import service as orders


def apply_refund(
    *,
    session: Session,
    refund_in: LoyaltyRefundIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> LoyaltyRefundRead:
    """Reverse loyalty for a posted refund, once: take back the share of the points its order
    earned, give back the share it spent (to the lots they came from), and restore its
    coupons when the order is refunded in full. Points the customer has spent meanwhile and
    cannot be taken back are recorded as ``points_short``; the balance never goes negative."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    refund = orders.get_refund_by_key(
        session=session, source=refund_in.source, external_id=refund_in.external_id
    )
    if refund is None:
        raise InvalidInput(
            "external_id", f"no refund {refund_in.external_id!r} from {refund_in.source!r}"
        )
    if store_ids is not None:  # a till refunds only its own stores' orders
        orders.get_order_or_raise(session=session, order_id=refund.order_id, store_ids=store_ids)
    lo = session.scalar(select(LoyaltyOrder).where(LoyaltyOrder.order_id == refund.order_id))
    if lo is None:
        raise NotAMember(f"order {refund.order_id} was not committed to loyalty")
    account = session.get(LoyaltyAccount, lo.account_id)
    assert account is not None
    account = open_account(session, account.customer_id, now, programme)
    done = session.scalar(select(LoyaltyRefund).where(LoyaltyRefund.refund_id == refund.id))
    if done is not None:
        return _refund_read(session, done, lo, account, created=False, now=now)

    order = orders.get_order_or_raise(session=session, order_id=refund.order_id)
    full = all(ln.refunded_quantity >= ln.quantity for ln in order.lines) and (
        order.refunded_fen >= order.total_fen
    )
    lo.refunded_fen += refund.amount_fen
    before = session.execute(
        select(
            func.coalesce(
                func.sum(LoyaltyRefund.points_taken_back + LoyaltyRefund.points_short), 0
            ),
            func.coalesce(func.sum(LoyaltyRefund.points_returned), 0),
        ).where(LoyaltyRefund.loyalty_order_id == lo.id)
    ).one()
    take = rules.refunded_share(lo.points_earned, lo.refunded_fen, lo.paid_fen, full=full) - int(
        before[0]
    )
    give = rules.refunded_share(lo.points_spent, lo.refunded_fen, lo.paid_fen, full=full) - int(
        before[1]
    )

    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    short = 0
    if take > 0:
        earn_lot = next((s for s in states if s.lot.order_id == lo.order_id), None)
        _, short = ledger.consume(
            session,
            states,
            take,
            now,
            EntryKind.REVERSE_EARN,
            include_pending=True,
            first=earn_lot,
            allow_short=True,
            order_id=lo.order_id,
            refund_id=refund.id,
            reason="refund",
        )
    to_give = give
    if give > 0:
        spent = ledger.order_spent_by_lot(session, lo.order_id)
        by_id = {s.lot.id: s for s in states}
        # Latest-expiring first, so a partial refund gives back the longest-lived points.
        for lot_id in sorted(spent, key=lambda i: (by_id[i].lot.expires_at, i), reverse=True):
            back = min(give, spent[lot_id])
            if back <= 0:
                break
            ledger.entry(
                session,
                by_id[lot_id],
                EntryKind.RETURN_REDEEMED,
                back,
                now,
                order_id=lo.order_id,
                refund_id=refund.id,
                reason="refund",
            )
            give -= back
    restored = 0
    if full:
        referrals.reverse_for_refund(
            session, order=lo, refund_id=refund.id, programme=programme, now=now
        )
        promotions.reverse_gifts(session, order_id=lo.order_id, now=now)
        coupon_ids = list(
            session.scalars(
                select(Coupon.id).where(
                    Coupon.order_id == lo.order_id, Coupon.status == CouponStatus.REDEEMED
                )
            )
        )
        if coupon_ids:
            session.execute(
                update(Coupon)
                .where(Coupon.id.in_(coupon_ids))
                .values(status=CouponStatus.ISSUED, order_id=None)
                .execution_options(synchronize_session=False)
            )
            session.add_all(
                CouponEvent(
                    coupon_id=cid,
                    kind="restore",
                    order_id=lo.order_id,
                    refund_id=refund.id,
                    occurred_at=now,
                )
                for cid in coupon_ids
            )
            restored = len(coupon_ids)
    row = LoyaltyRefund(
        refund_id=refund.id,
        loyalty_order_id=lo.id,
        amount_fen=refund.amount_fen,
        points_taken_back=max(take, 0) - short,
        points_short=short,
        points_returned=max(to_give, 0) - max(give, 0),
        coupons_restored=restored,
        processed_at=now,
    )
    session.add(row)
    session.flush()
    return _refund_read(session, row, lo, account, created=True, now=now)


def _refund_read(
    session: Session,
    row: LoyaltyRefund,
    lo: LoyaltyOrder,
    account: LoyaltyAccount,
    *,
    created: bool,
    now: datetime,
) -> LoyaltyRefundRead:
    return LoyaltyRefundRead(
        created=created,
        refund_id=row.refund_id,
        order_id=lo.order_id,
        points_taken_back=row.points_taken_back,
        points_short=row.points_short,
        points_returned=row.points_returned,
        coupons_restored=row.coupons_restored,
        balance=ledger.balance(ledger.lots(session, account.id), now),
    )
