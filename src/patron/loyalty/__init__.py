"""Loyalty: a points ledger in lots, earn rules, tiers, coupons and the till's calls that use
them.

What other domains, the jobs and the command line call is exported here; they import
``from patron.loyalty import ...`` and never the modules (or the tables) inside. Within the
domain, one module holds one idea: ``points``, ``birthdays``, ``tiers``, ``coupons``,
``till`` (look-up, quote, commit), ``refunds``, ``merges``, ``promotions``, ``referrals``,
``lottery``, ``programme`` (the terms in force), ``upkeep`` (the nightly part), the pure
``rules`` and the ``ledger`` of lots and entries; ``api`` and ``pages`` are its web edges.
See docs/architecture.md.
"""

from patron.loyalty.accounts import get_programme
from patron.loyalty.coupons import create_coupon_template, issue_coupon, issue_coupons
from patron.loyalty.exceptions import NotAMember
from patron.loyalty.merges import move_customer_records, restore_customer_records
from patron.loyalty.points import adjust_points, get_balance
from patron.loyalty.refunds import apply_refund
from patron.loyalty.rules import CouponKind
from patron.loyalty.schemas import (
    AdjustmentIn,
    CommitIn,
    CouponIssue,
    CouponScope,
    CouponTemplateCreate,
    LoyaltyRefundIn,
    MemberRef,
    QuoteIn,
)
from patron.loyalty.standings import member_standings
from patron.loyalty.tiers import review_tiers, tier_code_of
from patron.loyalty.till import commit_order, lookup_member, quote_basket
from patron.loyalty.upkeep import run_upkeep

__all__ = [
    "AdjustmentIn",
    "CommitIn",
    "CouponIssue",
    "CouponKind",
    "CouponScope",
    "CouponTemplateCreate",
    "LoyaltyRefundIn",
    "MemberRef",
    "NotAMember",
    "QuoteIn",
    "adjust_points",
    "apply_refund",
    "commit_order",
    "create_coupon_template",
    "get_balance",
    "get_programme",
    "issue_coupon",
    "issue_coupons",
    "lookup_member",
    "member_standings",
    "move_customer_records",
    "quote_basket",
    "restore_customer_records",
    "review_tiers",
    "run_upkeep",
    "tier_code_of",
]
