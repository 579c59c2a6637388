"""The till's calls: look a member up, price a basket, and commit a posted sale's points and
coupons once. Orders, customers and products are read through their domains' packages;
no commits here. A refund's reversal is :mod:`patron.loyalty.refunds`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.errors import InvalidInput
from patron.core.money import prorate_fen
from patron.customers import service as customers
from patron.customers.exceptions import OutOfScope
from patron.loyalty import early_access, gifts, ledger, offers, promotions, referrals, rules
from patron.loyalty.accounts import get_programme, no_points, now_or, open_account
from patron.loyalty.coupons import (
    list_customer_coupons,
    redeem_coupon,
    terms_of,
    usable_coupons,
)
from patron.loyalty.exceptions import (
    AlreadyCommitted,
    AnonymousOrder,
    CouponNotApplicable,
    NotAMember,
    PointsOverLimit,
)
from patron.loyalty.models import (
    Coupon,
    EntryKind,
    LotKind,
    LoyaltyAccount,
    LoyaltyOrder,
    PointsLot,
)
from patron.loyalty.reward_schemas import OfferLine
from patron.loyalty.schemas import (
    CommitIn,
    CommitRead,
    CouponQuote,
    LookupRead,
    MemberRef,
    QuoteIn,
    QuoteRead,
)
from patron.loyalty.tiers import review_account, tier_read, window_start
from patron.orders import service as orders
from patron.orders.schemas import OrderRead


def _categories(session: Session, skus: Sequence[str]) -> dict[str, str]:
    return catalog.category_paths(session=session, skus=skus)


def _order_basket(session: Session, order: OrderRead) -> rules.Basket:
    categories = _categories(session, [ln.sku for ln in order.lines])
    return rules.Basket(
        lines=tuple(
            rules.BasketLine(ln.sku, categories[ln.sku], ln.amount_fen) for ln in order.lines
        ),
        store_code=order.store_code,
        channel=order.channel,
    )


def _live_member_id(session: Session, customer_id: int) -> int:
    """A till's member id, followed through merges to the live profile."""
    if not customers.customer_exists(session=session, customer_id=customer_id):
        raise NotAMember(f"no customer {customer_id}")
    return customers.active_customer_id(session=session, customer_id=customer_id)


def _member_account(
    session: Session,
    member: MemberRef,
    now: datetime,
    programme: rules.Programme,
    store_ids: frozenset[int] | None,
) -> tuple[int, ledger.Snapshot | None]:
    """The member a till names and their account: one query by phone or card (the usual
    case), three by id (which may name a merged profile, followed to the live one)."""
    since = window_start(now, programme)
    if member.customer_id is not None:
        customer_id = _live_member_id(session, member.customer_id)
        found = ledger.member_account(
            session, now=now, since=since, customer_id=customer_id, store_ids=store_ids
        )
    else:
        # Identities move with merges, so the owner found here is a live profile.
        kind, value = _identifier(member)
        found = ledger.member_account(
            session,
            now=now,
            since=since,
            identity=customers.identity_params(kind, value),
            store_ids=store_ids,
        )
        if found.customer_id is None:
            raise NotAMember(f"no member with that {kind.replace('_', ' ')}")
        customer_id = found.customer_id
    if not found.in_scope:
        if member.customer_id is None:
            # found by phone or card: another store's member is answered like nobody, so
            # a till learns nothing of who shops elsewhere
            kind, _value = _identifier(member)
            raise NotAMember(f"no member with that {kind.replace('_', ' ')}")
        raise OutOfScope("this customer belongs to another store", customer_id=customer_id)
    return customer_id, found.account


def _identifier(member: MemberRef) -> tuple[str, str]:
    kind, value = (
        ("member_card", member.member_card) if member.member_card else ("phone", member.phone)
    )
    assert value is not None
    return kind, value


def lookup_member(
    *,
    session: Session,
    member: MemberRef,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> LookupRead:
    """What the till shows: tier, balance, coupons usable now. Two queries: the member with
    the till's scope check and their account (``ledger.member_account``), and the coupons."""
    now, programme = now_or(now), programme or get_programme(session)
    customer_id, account = _member_account(session, member, now, programme, store_ids)
    return LookupRead(
        customer_id=customer_id,
        tier=tier_read(account, now, programme),
        balance=account.balance if account else no_points(),
        coupons=list_customer_coupons(session=session, customer_id=customer_id, now=now),
    )


def quote_basket(
    *,
    session: Session,
    quote_in: QuoteIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> QuoteRead:
    """Price a basket for a member: tier discount, coupons and their best combination, the
    points usable (up to the programme's share of the order) and the points it will earn."""
    programme = programme or get_programme(session)
    at = quote_in.at or now_or(now)
    customer_id, account = _member_account(session, quote_in.member, at, programme, store_ids)
    tier = programme.tier(account.tier_code) if account else programme.base_tier
    available = account.balance.available if account else 0
    # Recently read categories will do for a quote; the commit reads them afresh.
    categories = catalog.till_category_paths(
        session=session, skus=[ln.sku for ln in quote_in.lines]
    )
    subtotal = sum(ln.gross_fen - ln.discount_fen for ln in quote_in.lines)
    offer_lines = _member_offers(session, quote_in, categories, tier, customer_id, at, programme)
    offer_off = [0] * len(quote_in.lines)
    for priced in offer_lines:
        offer_off[priced.line_no] = priced.discount_fen
    lines = tuple(
        rules.BasketLine(ln.sku, categories[ln.sku], ln.gross_fen - ln.discount_fen - off)
        for ln, off in zip(quote_in.lines, offer_off, strict=True)
    )
    basket = rules.Basket(
        lines=lines,
        store_code=quote_in.store_code or "",
        channel=quote_in.channel,
        delivery_fee_fen=quote_in.delivery_fee_fen,
    )
    tier_off = rules.tier_discount_fen(programme, tier, basket)

    held = {row.code: (row, terms_of(row)) for row in usable_coupons(session, customer_id, at)}
    quotes = []
    for row, terms in held.values():
        outcome = rules.coupon_outcome(programme, terms, basket)
        quotes.append(
            CouponQuote(
                code=row.code,
                name=row.name,
                kind=row.kind,
                applicable=outcome.applicable,
                discount_fen=outcome.discount_fen,
                gift_sku=outcome.gift_sku,
                reason=outcome.reason,
            )
        )
    best, _ = rules.best_combination(
        programme, [(code, terms) for code, (_, terms) in held.items()], basket
    )
    chosen = best if quote_in.coupon_codes is None else list(quote_in.coupon_codes)
    chosen_terms = []
    for i, code in enumerate(chosen):
        if code not in held:
            raise CouponNotApplicable(f"coupon_codes.{i}", "not a coupon this member can use now")
        chosen_terms.append(held[code][1])
    goods_off = rules.combined_discount_fen(programme, chosen_terms, basket)
    if goods_off is None:
        raise CouponNotApplicable(
            "coupon_codes", "these coupons cannot be used on this basket together"
        )
    goods_off = min(goods_off, max(rules.redeemable_fen(programme, basket) - tier_off, 0))
    delivery_off = rules.delivery_waived_fen(chosen_terms, basket)

    payable_goods = rules.redeemable_fen(programme, basket) - tier_off - goods_off
    max_points = rules.max_points_usable(programme, payable_goods, available)
    _check_points(programme, quote_in.redeem_points, max_points, available)
    points_value = rules.points_value_fen(programme, quote_in.redeem_points)

    shares = rules.discount_shares(
        programme,
        lines,
        _coupon_parts(programme, chosen_terms, basket),
        goods_off,
        tier_off + points_value,
    )
    paid = [ln.amount_fen - s for ln, s in zip(lines, shares, strict=True)]
    found = promotions.till_running(session, at=at, basket=basket, programme=programme)
    earn = rules.points_to_earn(
        programme, lines, paid, tier=tier, at=at, bonuses=promotions.bonuses(found)
    )
    return QuoteRead(
        customer_id=customer_id,
        tier_code=tier.code,
        subtotal_fen=subtotal,
        tier_discount_fen=tier_off,
        coupons=quotes,
        best_coupon_codes=best,
        chosen_coupon_codes=chosen,
        coupon_discount_fen=goods_off,
        delivery_waived_fen=delivery_off,
        available_points=available,
        max_points_usable=max_points,
        redeem_points=quote_in.redeem_points,
        points_value_fen=points_value,
        payable_fen=subtotal
        - sum(offer_off)
        - tier_off
        - goods_off
        - points_value
        + quote_in.delivery_fee_fen
        - delivery_off,
        points_to_earn=earn,
        member_day=rules.is_member_day(programme, at),
        promotions=promotions.quote(
            session,
            found=found,
            basket=basket,
            paid_fen=paid,
            customer_id=customer_id,
            programme=programme,
        ),
        offer_lines=offer_lines,
        offer_discount_fen=sum(offer_off),
        affordable_rewards=gifts.affordable_rewards(
            session, tier_code=tier.code, available=available, at=at
        ),
    )


def _coupon_parts(
    programme: rules.Programme, terms: Sequence[rules.CouponTerms], basket: rules.Basket
) -> list[tuple[rules.CouponTerms, int]]:
    """Each chosen coupon with what it takes off the goods (a scoped one falls on its lines)."""
    return [(t, rules.coupon_outcome(programme, t, basket).discount_fen) for t in terms]


def _member_offers(
    session: Session,
    quote_in: QuoteIn,
    categories: dict[str, str],
    tier: rules.TierRule,
    customer_id: int,
    at: datetime,
    programme: rules.Programme,
) -> list[OfferLine]:
    """Refuse goods this member may not buy yet (early access), then price the lines with
    the member's best offers (docs/loyalty-rewards.md states how they stack)."""
    access = early_access.till_rules(session)
    early_access.check_lines(
        access,
        [(ln.sku, categories[ln.sku]) for ln in quote_in.lines],
        tier=tier,
        programme=programme,
        at=at,
    )
    return offers.price_lines(
        session,
        lines=[
            offers.PricedLine(
                ln.sku, categories[ln.sku], int(ln.quantity * 1000), ln.gross_fen - ln.discount_fen
            )
            for ln in quote_in.lines
        ],
        tier_code=tier.code,
        store_code=quote_in.store_code or "",
        customer_id=customer_id,
        at=at,
        allowed=lambda code: early_access.offer_allowed(
            access, code, tier=tier, programme=programme, at=at
        ),
    )


def _check_points(programme: rules.Programme, points: int, max_points: int, available: int) -> None:
    step = rules.points_step(programme)
    if points % step:
        raise InvalidInput("redeem_points", f"must be a multiple of {step}")
    if points > available:
        raise PointsOverLimit(
            "redeem_points", f"only {available} points are available", available=available
        )
    if points > max_points:
        raise PointsOverLimit(
            "redeem_points", f"at most {max_points} points may pay for this order", limit=max_points
        )


def _commit_hash(commit_in: CommitIn) -> str:
    body: dict[str, object] = {
        "points": commit_in.redeem_points,
        "coupons": sorted(commit_in.coupon_codes),
    }
    if commit_in.offer_codes:  # absent otherwise, so earlier commits' hashes still match
        body["offers"] = sorted(set(commit_in.offer_codes))
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def _commit_read(
    session: Session, lo: LoyaltyOrder, account: LoyaltyAccount, *, created: bool, now: datetime
) -> CommitRead:
    lot = session.scalar(
        select(PointsLot).where(
            PointsLot.account_id == account.id, PointsLot.order_id == lo.order_id
        )
    )
    codes = list(
        session.scalars(
            select(Coupon.code).where(Coupon.order_id == lo.order_id).order_by(Coupon.id)
        )
    )
    return CommitRead(
        created=created,
        order_id=lo.order_id,
        customer_id=account.customer_id,
        points_earned=lo.points_earned,
        points_spent=lo.points_spent,
        points_value_fen=lo.points_value_fen,
        coupon_codes=codes,
        coupon_discount_fen=lo.coupon_discount_fen,
        available_at=lot.available_at if lot else None,
        tier_code=account.tier_code,
        balance=ledger.balance(ledger.lots(session, account.id), now),
        gifts=promotions.gifts_for_order(session, lo.order_id),
    )


def commit_order(
    *,
    session: Session,
    commit_in: CommitIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> CommitRead:
    """Loyalty for a posted order, once: redeem its coupons and points, earn on the money paid.

    The till posts the order with the coupon and points discounts inside
    ``order_discount_fen``; points are earned only on what is left, line by line, and never on
    wallet lines (stored value, gift cards), discount lines or excluded goods. Repeating the
    call with the same points and coupons returns the first result.
    """
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    order = orders.get_order_by_key(
        session=session,
        source=commit_in.source,
        external_id=commit_in.external_id,
        store_ids=store_ids,
    )
    if order is None:
        raise InvalidInput(
            "external_id", f"no order {commit_in.external_id!r} from {commit_in.source!r}"
        )
    if order.customer_id is None:
        raise AnonymousOrder("external_id", "the order has no customer; look the member up first")
    customer_id = customers.active_customer_id(session=session, customer_id=order.customer_id)
    digest = _commit_hash(commit_in)
    account = open_account(session, customer_id, now, programme)
    existing = session.scalar(select(LoyaltyOrder).where(LoyaltyOrder.order_id == order.id))
    if existing is not None:
        if existing.request_hash != digest:
            raise AlreadyCommitted(
                f"order {order.source}/{order.external_id} was committed with other points or coupons",
                order_id=order.id,
            )
        return _commit_read(session, existing, account, created=False, now=now)

    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    basket = _order_basket(session, order)

    # Coupons: the customer's own, valid when the order was placed, usable together.
    if len(set(commit_in.coupon_codes)) != len(commit_in.coupon_codes):
        raise CouponNotApplicable("coupon_codes", "a coupon is listed twice")
    held = {row.code: row for row in usable_coupons(session, customer_id, order.ordered_at)}
    terms = []
    for i, code in enumerate(commit_in.coupon_codes):
        if code not in held:
            raise CouponNotApplicable(f"coupon_codes.{i}", "not a coupon this member can use")
        terms.append(terms_of(held[code]))
    goods_off = rules.combined_discount_fen(programme, terms, basket) if terms else 0
    if goods_off is None:
        raise CouponNotApplicable(
            "coupon_codes", "these coupons cannot be used on this order together"
        )

    available = ledger.balance(states, now).available
    max_points = rules.max_points_usable(
        programme, rules.redeemable_fen(programme, basket) - goods_off, available
    )
    _check_points(programme, commit_in.redeem_points, max_points, available)
    points_value = rules.points_value_fen(programme, commit_in.redeem_points)
    if points_value + goods_off > order.order_discount_fen:
        raise InvalidInput(
            "redeem_points",
            f"the order's discount ({order.order_discount_fen} fen) does not include the points"
            f" ({points_value} fen) and coupons ({goods_off} fen)",
        )

    for code in commit_in.coupon_codes:
        redeem_coupon(session=session, code=code, order_id=order.id, now=now)
    if commit_in.offer_codes:
        offers.claim_for_order(
            session,
            codes=commit_in.offer_codes,
            lines=[
                offers.PricedLine(ln.sku, b.category, int(ln.quantity * 1000), ln.amount_fen)
                for ln, b in zip(order.lines, basket.lines, strict=True)
            ],
            customer_id=customer_id,
            order_id=order.id,
            ordered_at=order.ordered_at,
            now=now,
            programme=programme,
        )
    if commit_in.redeem_points:
        ledger.consume(
            session, states, commit_in.redeem_points, now, EntryKind.REDEEM, order_id=order.id
        )

    # Money paid per line: the loyalty discounts fall on the redeemable lines only; the
    # shop's own order discount (抹零 and the like) on every line, by what is left of it.
    loyalty_shares = rules.discount_shares(
        programme, basket.lines, _coupon_parts(programme, terms, basket), goods_off, points_value
    )
    other = order.order_discount_fen - points_value - goods_off
    other_shares = prorate_fen(
        other,
        [max(ln.amount_fen - a, 0) for ln, a in zip(basket.lines, loyalty_shares, strict=True)],
    )
    paid = [
        ln.amount_fen - a - b
        for ln, a, b in zip(basket.lines, loyalty_shares, other_shares, strict=True)
    ]
    # ... and refunds of some lines take back what was paid for those lines, to the fen
    orders.place_order_discount(
        session=session,
        order_id=order.id,
        shares=[a + b for a, b in zip(loyalty_shares, other_shares, strict=True)],
    )
    tier = programme.tier(account.tier_code)
    found = promotions.running(session, at=order.ordered_at, basket=basket, programme=programme)
    earned = rules.points_to_earn(
        programme,
        basket.lines,
        paid,
        tier=tier,
        at=order.ordered_at,
        bonuses=promotions.bonuses(found),
    )
    if earned > 0:
        available_at = order.ordered_at + timedelta(days=programme.return_window_days)
        ledger.new_lot(
            session,
            account,
            kind=LotKind.EARN,
            entry_kind=EntryKind.EARN,
            points=earned,
            earned_at=order.ordered_at,
            available_at=available_at,
            expires_at=order.ordered_at + timedelta(days=programme.expiry_days),
            order_id=order.id,
        )
    lo = LoyaltyOrder(
        account_id=account.id,
        order_id=order.id,
        request_hash=digest,
        paid_fen=order.total_fen,
        points_earned=earned,
        points_spent=commit_in.redeem_points,
        points_value_fen=points_value,
        coupon_discount_fen=goods_off,
        refunded_fen=0,
        ordered_at=order.ordered_at,
        committed_at=now,
    )
    session.add(lo)
    session.flush()
    referrals.reward_first_purchase(
        session, referee_account=account, order=lo, programme=programme, now=now
    )
    promotions.grant_gifts(
        session,
        found=found,
        basket=basket,
        paid_fen=paid,
        customer_id=customer_id,
        order_id=order.id,
        programme=programme,
        now=now,
    )
    review_account(session, account, max(now, order.ordered_at), programme, at_review=False)
    session.flush()
    return _commit_read(session, lo, account, created=True, now=now)
