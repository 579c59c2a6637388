"""Loyalty: a points ledger in lots, earn rules, tiers, coupons and the POS calls that use them."""
