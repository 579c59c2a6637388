"""A campaign's results: delivery, opens, clicks and unsubscribes, and the uplift of its
treated group over its holdout within the conversion window (``measure.py``); store-bound
readers see their stores' customers only. Opens and clicks are recorded here too."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from patron import consent
from patron.campaigns.measure import GroupFigures, Interval, measure_uplift, newcombe
from patron.campaigns.models import Campaign, CampaignEvent, CampaignMember
from patron.campaigns.schemas import GroupRead, IntervalRead, ResultsRead
from patron.campaigns.service import SOURCE_KIND, get_campaign_or_raise
from patron.core.clock import utcnow
from patron.customers import service as customers
from patron.engagement import service as outbox
from patron.orders.sales import net_sales_by_customer, sku_sales_by_customer

EVENT_KINDS = ("open", "click")


def record_event(
    *,
    session: Session,
    message_id: int,
    kind: str,
    url: str | None = None,
    now: datetime | None = None,
) -> bool:
    """An open or a click of a campaign's message; False when the message is not a
    campaign's (a journey's, a receipt's) and nothing was recorded."""
    message = outbox.get_message(session=session, message_id=message_id)
    if message is None or message.source_kind != SOURCE_KIND or kind not in EVENT_KINDS:
        return False
    campaign_id = int(message.source_id)
    if session.get(Campaign, campaign_id) is None:
        return False
    session.execute(
        insert(CampaignEvent).values(
            campaign_id=campaign_id,
            customer_id=message.customer_id,
            message_id=message_id,
            kind=kind,
            url=url[:500] if url else None,
            at=now or utcnow(),
        )
    )
    return True


def _interval(value: Interval | None) -> IntervalRead | None:
    return IntervalRead(estimate=value.estimate, low=value.low, high=value.high) if value else None


def _group(g: GroupFigures) -> GroupRead:
    return GroupRead(
        customers=g.customers,
        converted=g.converted,
        rate=g.rate,
        net_sales_fen=g.net_sales_fen,
        sales_per_customer_fen=g.sales_per_customer_fen,
    )


def focus_figures(
    members: list[tuple[int, bool]], sku_sales: dict[int, int]
) -> tuple[GroupRead, GroupRead, IntervalRead | None]:
    """Treated and holdout against one SKU: a customer converted who bought it in the
    window; the uplift is the difference of the two shares with its Newcombe interval."""
    groups: dict[bool, list[int]] = {False: [], True: []}
    for customer_id, out in members:
        groups[out].append(sku_sales.get(customer_id, 0))
    t, h = (
        GroupFigures(len(v), sum(1 for x in v if x > 0), sum(v))
        for v in (groups[False], groups[True])
    )
    uplift = (
        newcombe(t.converted, t.customers, h.converted, h.customers)
        if t.customers and h.customers
        else None
    )
    return _group(t), _group(h), _interval(uplift)


def campaign_results(
    *,
    session: Session,
    campaign_id: int,
    store_ids: frozenset[int] | None = None,
    now: datetime | None = None,
) -> ResultsRead:
    campaign = get_campaign_or_raise(session=session, campaign_id=campaign_id)
    if campaign.sent_at is None:  # (a campaign paused after its send has results too)
        return ResultsRead(
            campaign_id=campaign_id,
            window_days=campaign.conversion_days,
            window_ends_at=None,
            delivery={},
            opened=0,
            clicked=0,
            unsubscribed=0,
            scoped=store_ids is not None,
        )
    query = select(
        CampaignMember.customer_id, CampaignMember.holdout, CampaignMember.channels
    ).where(CampaignMember.campaign_id == campaign_id)
    events = select(CampaignEvent.kind, func.count(func.distinct(CampaignEvent.customer_id))).where(
        CampaignEvent.campaign_id == campaign_id
    )
    if store_ids is not None:
        scope = customers.customer_ids_in_stores(store_ids)
        query = query.where(CampaignMember.customer_id.in_(scope))
        events = events.where(CampaignEvent.customer_id.in_(scope))
    members = session.execute(query).all()
    now = now or utcnow()
    ends_at = min(campaign.sent_at + timedelta(days=campaign.conversion_days), now)
    sales = net_sales_by_customer(session=session, start_at=campaign.sent_at, end_at=ends_at)
    treated = np.array([sales.get(c, 0) for c, out, _ in members if not out], dtype=np.int64)
    holdout = np.array([sales.get(c, 0) for c, out, _ in members if out], dtype=np.int64)
    written = sum(1 for _, out, channels in members if channels)
    uplift = measure_uplift(
        treated_sales_fen=treated,
        holdout_sales_fen=holdout,
        cost_fen=written * campaign.cost_per_message_fen,
    )
    if store_ids is None:
        delivery = outbox.count_by_status(
            session=session, source_kind=SOURCE_KIND, source_id=str(campaign_id)
        )
    else:
        delivery = {"written": written}
    opened = dict(session.execute(events.group_by(CampaignEvent.kind)).all())
    unsubscribed = consent.unsubscribed_since(
        session=session,
        customer_ids=[c for c, _, channels in members if channels],
        since=campaign.sent_at,
    )

    focus: tuple[GroupRead | None, GroupRead | None, IntervalRead | None] = (None, None, None)
    if campaign.focus_sku:
        sku_sales = sku_sales_by_customer(
            session=session, sku=campaign.focus_sku, start_at=campaign.sent_at, end_at=ends_at
        )
        focus = focus_figures([(c, out) for c, out, _ in members], sku_sales)
    return ResultsRead(
        campaign_id=campaign_id,
        window_days=campaign.conversion_days,
        window_ends_at=ends_at,
        delivery=delivery,
        opened=int(opened.get("open", 0)),
        clicked=int(opened.get("click", 0)),
        unsubscribed=unsubscribed,
        treated=_group(uplift.treated),
        holdout=_group(uplift.holdout),
        conversion_uplift=_interval(uplift.conversion),
        sales_uplift_per_customer_fen=_interval(uplift.sales_per_customer),
        incremental_sales_fen=_interval(uplift.incremental_sales),
        incremental_conversions=_interval(uplift.incremental_conversions),
        cost_fen=uplift.cost_fen,
        cost_per_incremental_sale_fen=uplift.cost_per_incremental_sale_fen,
        minimum_detectable_effect=uplift.minimum_detectable_effect,
        verdict=str(uplift.verdict),
        scoped=store_ids is not None,
        focus_sku=campaign.focus_sku,
        focus_treated=focus[0],
        focus_holdout=focus[1],
        focus_uplift=focus[2],
    )
