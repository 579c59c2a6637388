"""Rules → offers → measured: a bundle offer made from a rule builds an audience of exactly
the antecedent's buyers, a coupon template and a draft campaign measured on the consequent;
the consequent's uplift counts who bought it in each group after the send."""

from __future__ import annotations

from datetime import timedelta

from patron import audiences
from patron.campaigns import make_bundle_offer, results
from patron.campaigns import service as campaigns
from patron.campaigns.measure import newcombe
from patron.core.db import Database
from patron.loyalty.coupons import list_coupon_templates
from tests.campaigns.helpers import SMS, approved, make_template
from tests.helpers import ACTOR, T0, add_store, post_order, sign_up

SENT_AT = T0 + timedelta(days=10)


def _line(sku: str) -> dict[str, object]:
    return {"sku": sku, "quantity": 1, "unit_price_fen": 800}


def _shop(db: Database) -> tuple[list[int], list[int]]:
    """24 members at SH01: 20 bought bread and jam together, 2 bread only, 1 jam only, 1
    milk only, all before the offer."""
    add_store(db, "SH01", "上海南京路店")
    people = [
        sign_up(db, phone=f"1390021{n:04d}", home_store_code="SH01", signed_up_at=T0)
        for n in range(24)
    ]
    for n, cid in enumerate(people):
        lines = (
            [_line("BREAD"), _line("JAM")]
            if n < 20
            else [_line("BREAD")]
            if n < 22
            else [_line("JAM")]
            if n == 22
            else [_line("MILK")]
        )
        post_order(db, f"B{n}", store_code="SH01", customer={"id": cid}, at=T0, lines=lines)
    audiences.refresh_audience_store(db=db)
    return people[:20], people[20:]


def _offer(db: Database) -> tuple[int, str, int]:
    template = make_template(db, SMS)
    made = db.write(
        lambda s: make_bundle_offer(
            session=s,
            actor=ACTOR,
            antecedent=["BREAD", "JAM"],
            consequent="MILK",
            template_id=template.id,
            channel="sms",
            amount_off_fen=500,
            title="Bundle: BREAD + JAM ⇒ MILK",
            description="Buyers of BREAD + JAM, for a bundle offer on MILK",
            coupon_name="Bundle: MILK",
            holdout_percent=50,
        )
    )
    return made.audience_id, made.coupon_template_code, made.campaign_id


def test_a_bundle_offer_builds_the_audience_the_coupon_and_a_draft_campaign(db: Database) -> None:
    buyers, others = _shop(db)
    audience_id, code, campaign_id = _offer(db)

    members = db.read(lambda s: audiences.member_ids(session=s, audience_id=audience_id))
    assert members == sorted(buyers)
    assert not set(members) & set(others)

    coupon = next(t for t in db.read(lambda s: list_coupon_templates(session=s)) if t.code == code)
    assert (coupon.kind, coupon.amount_off_fen, coupon.valid_days) == ("amount_off", 500, 14)
    assert "MILK" in coupon.name
    assert coupon.scope.skus == ["MILK"]  # it takes money off the consequent's lines only

    campaign = db.read(
        lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign_id)
    )
    assert campaign.status == "draft"
    assert campaign.audience_id == audience_id
    assert (campaign.offer, campaign.coupon_template_code) == ("coupon", code)
    assert campaign.holdout_bp == 5000
    assert campaign.focus_sku == "MILK"
    assert "BREAD + JAM ⇒ MILK" in campaign.name


def test_the_consequent_uplift_counts_who_bought_it_in_each_group_after_the_send(
    db: Database,
) -> None:
    _shop(db)
    _, _, campaign_id = _offer(db)
    approved(db, campaign_id)
    db.write(
        lambda s: campaigns.send_campaign(
            session=s, campaign_id=campaign_id, actor=ACTOR, now=SENT_AT
        )
    )
    drawn = db.read(lambda s: campaigns.campaign_members(session=s, campaign_id=campaign_id))
    treated = [c for c, out, _, _ in drawn if not out]
    holdout = [c for c, out, _, _ in drawn if out]
    assert len(treated) >= 2 and holdout  # 20 drawn at 50 %: both groups have members
    buying = [*treated[:2], holdout[0]]
    for n, cid in enumerate(buying):
        at = SENT_AT + timedelta(days=2)
        post_order(
            db, f"M{n}", store_code="SH01", customer={"id": cid}, at=at, lines=[_line("MILK")]
        )
    # Bread after the send, and milk after the window: neither counts for the consequent.
    post_order(
        db,
        "X1",
        store_code="SH01",
        customer={"id": treated[-1]},
        at=SENT_AT,
        lines=[_line("BREAD")],
    )
    late = SENT_AT + timedelta(days=20)
    post_order(
        db, "X2", store_code="SH01", customer={"id": holdout[-1]}, at=late, lines=[_line("MILK")]
    )

    found = db.read(
        lambda s: results.campaign_results(
            session=s, campaign_id=campaign_id, now=SENT_AT + timedelta(days=30)
        )
    )
    assert found.focus_sku == "MILK"
    assert found.focus_treated is not None and found.focus_holdout is not None
    assert (found.focus_treated.customers, found.focus_treated.converted) == (len(treated), 2)
    assert (found.focus_holdout.customers, found.focus_holdout.converted) == (len(holdout), 1)
    assert found.focus_treated.net_sales_fen == 1600
    expected = newcombe(2, len(treated), 1, len(holdout))
    assert found.focus_uplift is not None
    assert abs(found.focus_uplift.estimate - (2 / len(treated) - 1 / len(holdout))) < 1e-12
    assert (found.focus_uplift.low, found.focus_uplift.high) == (expected.low, expected.high)
    # The overall uplift is still there, over every purchase in the window.
    assert found.treated is not None and found.treated.converted >= 2


def test_focus_figures_on_hand_counts() -> None:
    members = [(n, n >= 10) for n in range(15)]  # 10 treated, 5 held out
    sales = {0: 800, 1: 800, 2: 1600, 10: 800}
    treated, holdout, uplift = results.focus_figures(members, sales)
    assert (treated.customers, treated.converted, treated.net_sales_fen) == (10, 3, 3200)
    assert (holdout.customers, holdout.converted, holdout.net_sales_fen) == (5, 1, 800)
    assert uplift is not None
    assert abs(uplift.estimate - 0.1) < 1e-12
    expected = newcombe(3, 10, 1, 5)
    assert (uplift.low, uplift.high) == (expected.low, expected.high)
    assert results.focus_figures([(1, False)], {})[2] is None  # no holdout: no interval
