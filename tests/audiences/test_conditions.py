"""Every kind of condition against the hand-checked shop of helpers.py, on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from patron.analytics.churn.service import risk_for_customer
from patron.analytics.service import scores_for_customer
from patron.core.db import Database
from tests.audiences.helpers import AS_OF, Shop, build_shop, members

# (definition, who matches): each checked by hand against the table in helpers.py.
CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"conditions": []}, ["alice", "bob", "carol", "dave"]),
    # demographics
    ({"conditions": [{"kind": "profile", "attribute": "gender", "values": ["female"]}]}, ["alice"]),
    (
        {
            "conditions": [
                {"kind": "profile", "attribute": "gender", "op": "not_in", "values": ["female"]}
            ]
        },
        ["bob", "carol", "dave"],
    ),
    ({"conditions": [{"kind": "profile", "attribute": "gender", "op": "is_not_set"}]}, ["carol"]),
    (
        {"conditions": [{"kind": "profile", "attribute": "age_band", "values": ["35_44"]}]},
        ["alice"],
    ),
    (
        {
            "conditions": [
                {"kind": "profile", "attribute": "age_band", "values": ["25_34", "65_plus"]}
            ]
        },
        ["bob", "dave"],
    ),
    (
        {"conditions": [{"kind": "profile", "attribute": "city", "values": ["上海"]}]},
        ["alice", "dave"],
    ),
    (
        {"conditions": [{"kind": "profile", "attribute": "city", "op": "is_set"}]},
        ["alice", "bob", "dave"],
    ),
    (
        {"conditions": [{"kind": "signed_up", "op": "before", "date": "2026-03-01"}]},
        ["alice", "bob"],
    ),
    ({"conditions": [{"kind": "signed_up", "op": "within_last_days", "days": 10}]}, ["dave"]),
    ({"conditions": [{"kind": "signed_up", "op": "more_than_days_ago", "days": 100}]}, ["alice"]),
    # tags
    ({"conditions": [{"kind": "tag", "tags": ["vip"]}]}, ["alice", "bob"]),
    ({"conditions": [{"kind": "tag", "op": "has_all", "tags": ["vip", "student"]}]}, ["bob"]),
    (
        {"conditions": [{"kind": "tag", "op": "has_none", "tags": ["student"]}]},
        ["alice", "carol", "dave"],
    ),
    # loyalty
    ({"conditions": [{"kind": "tier", "values": ["silver"]}]}, ["alice"]),
    (
        {"conditions": [{"kind": "tier", "op": "not_in", "values": ["silver"]}]},
        ["bob", "carol", "dave"],
    ),
    ({"conditions": [{"kind": "points", "op": "gte", "value": 300}]}, ["alice", "bob"]),
    ({"conditions": [{"kind": "points", "op": "between", "value": 1, "value_to": 1000}]}, ["bob"]),
    ({"conditions": [{"kind": "points", "op": "eq", "value": 0}]}, ["carol", "dave"]),
    # purchases
    ({"conditions": [{"kind": "purchases", "op": "gte", "value": 1}]}, ["alice", "bob", "carol"]),
    ({"conditions": [{"kind": "purchases", "op": "eq", "value": 0}]}, ["dave"]),
    ({"conditions": [{"kind": "purchases", "op": "gte", "value": 2}]}, ["alice"]),
    (
        {"conditions": [{"kind": "purchases", "op": "gte", "value": 1, "within_last_days": 30}]},
        ["alice", "carol"],
    ),
    (
        {
            "conditions": [
                {
                    "kind": "purchases",
                    "op": "gte",
                    "value": 1,
                    "since": "2026-03-10",
                    "until": "2026-04-15",
                }
            ]
        },
        ["alice", "bob"],
    ),
    (
        {"conditions": [{"kind": "purchases", "measure": "net_fen", "op": "eq", "value": 1000}]},
        ["bob"],
    ),
    (
        {"conditions": [{"kind": "purchases", "measure": "net_fen", "op": "gt", "value": 100_000}]},
        ["alice"],
    ),
    (
        {"conditions": [{"kind": "purchases", "op": "gte", "value": 1, "category": "生鲜"}]},
        ["alice", "bob"],
    ),
    (
        {
            "conditions": [
                {
                    "kind": "purchases",
                    "measure": "net_fen",
                    "op": "gte",
                    "value": 3000,
                    "category": "生鲜",
                }
            ]
        },
        ["alice"],
    ),
    ({"conditions": [{"kind": "purchases", "op": "gte", "value": 1, "sku": "TISSUE"}]}, ["carol"]),
    (
        {"conditions": [{"kind": "purchases", "op": "eq", "value": 0, "sku": "TV"}]},
        ["bob", "carol", "dave"],
    ),
    (
        {"conditions": [{"kind": "purchases", "op": "gte", "value": 1, "store_id": "BJ01"}]},
        ["bob", "carol"],
    ),
    ({"conditions": [{"kind": "first_purchase", "op": "before", "date": "2026-03-08"}]}, ["alice"]),
    ({"conditions": [{"kind": "first_purchase", "op": "within_last_days", "days": 15}]}, ["carol"]),
    ({"conditions": [{"kind": "last_purchase", "op": "more_than_days_ago", "days": 30}]}, ["bob"]),
    (
        {"conditions": [{"kind": "last_purchase", "op": "after", "date": "2026-04-05"}]},
        ["alice", "carol"],
    ),
    # all of: cheap conditions first, then purchase totals of those customers only
    (
        {
            "conditions": [
                {"kind": "profile", "attribute": "city", "values": ["上海"]},
                {"kind": "purchases", "op": "eq", "value": 0},
            ]
        },
        ["dave"],
    ),
    (
        {
            "conditions": [
                {"kind": "tag", "tags": ["vip"]},
                {"kind": "purchases", "op": "gte", "value": 2},
            ]
        },
        ["alice"],
    ),
    # AND / OR, nested
    (
        {
            "match": "any",
            "conditions": [
                {"kind": "tag", "tags": ["student"]},
                {
                    "kind": "group",
                    "match": "all",
                    "conditions": [
                        {"kind": "profile", "attribute": "city", "values": ["上海"]},
                        {"kind": "purchases", "op": "eq", "value": 0},
                    ],
                },
            ],
        },
        ["bob", "dave"],
    ),
    (
        {
            "conditions": [
                {"kind": "tag", "tags": ["vip"]},
                {
                    "kind": "group",
                    "match": "any",
                    "conditions": [
                        {"kind": "tier", "values": ["silver"]},
                        {"kind": "purchases", "op": "gte", "value": 1, "store_id": "BJ01"},
                    ],
                },
            ],
        },
        ["alice", "bob"],
    ),
    (
        {
            "conditions": [
                {"kind": "tag", "tags": ["vip"]},
                {
                    "kind": "group",
                    "match": "any",
                    "conditions": [
                        {"kind": "profile", "attribute": "gender", "values": ["male"]},
                        {"kind": "purchases", "op": "gte", "value": 5},
                    ],
                },
            ],
        },
        ["bob"],
    ),
]


def _resolve_stores(definition: dict[str, Any], shop: Shop) -> dict[str, Any]:
    """Store codes in the table stand for the shop's store ids."""
    ids = {"SH01": shop.sh01, "BJ01": shop.bj01}

    def walk(item: dict[str, Any]) -> dict[str, Any]:
        out = dict(item)
        if out.get("store_id") in ids:
            out["store_id"] = ids[out["store_id"]]
        if "conditions" in out:
            out["conditions"] = [walk(c) for c in out["conditions"]]
        return out

    return walk(definition)


def test_every_condition_kind_selects_the_customers_checked_by_hand(db: Database) -> None:
    shop = build_shop(db)
    wrong = {}
    for definition, expected in CASES:
        got = shop.names(members(db, _resolve_stores(definition, shop)))
        if got != expected:
            wrong[str(definition)] = (got, expected)
    assert wrong == {}


def test_scores_conditions_select_what_the_analytics_run_wrote(db: Database) -> None:
    shop = build_shop(db)
    everyone = [shop.alice, shop.bob, shop.carol, shop.dave]
    scores = {
        c: db.read(lambda s, c=c: scores_for_customer(session=s, customer_id=c))[0]
        for c in everyone
    }
    assert all(score.as_of == AS_OF for score in scores.values())
    for stage in {score.stage for score in scores.values()}:
        expected = [c for c in everyone if scores[c].stage == stage]
        assert members(db, {"conditions": [{"kind": "stage", "values": [stage]}]}) == expected
    segments = {score.segment for score in scores.values() if score.segment}
    assert segments  # the buyers in the window have a segment
    for segment in segments:
        expected = [c for c in everyone if scores[c].segment == segment]
        got = members(db, {"conditions": [{"kind": "segment", "values": [segment]}]})
        assert got == expected
    risks = {
        c: db.read(lambda s, c=c: risk_for_customer(session=s, customer_id=c)) for c in everyone
    }
    banded = {c: r[0] for c, r in risks.items() if r}
    assert banded
    for band in {r.band for r in banded.values()}:
        expected = [c for c in everyone if c in banded and banded[c].band == band]
        assert members(db, {"conditions": [{"kind": "churn_band", "values": [band]}]}) == expected
    top = max(r.clv_fen for r in banded.values())
    expected = [c for c in everyone if c in banded and banded[c].clv_fen >= top]
    assert members(db, {"conditions": [{"kind": "clv", "op": "gte", "value": top}]}) == expected


@pytest.mark.parametrize(
    ("stores", "expected"),
    [
        ("SH01", ["alice", "dave"]),  # home store SH01
        ("BJ01", ["bob", "carol"]),  # bob's home; carol bought there
    ],
)
def test_store_bound_counts_see_only_their_stores_customers(
    db: Database, stores: str, expected: list[str]
) -> None:
    shop = build_shop(db, analytics_run=False)
    store_ids = frozenset({shop.sh01 if stores == "SH01" else shop.bj01})
    assert shop.names(members(db, {"conditions": []}, store_ids=store_ids)) == expected
    vip = {"conditions": [{"kind": "tag", "tags": ["vip"]}]}
    assert shop.names(members(db, vip, store_ids=store_ids)) == [
        n for n in expected if n in ("alice", "bob")
    ]
    buyers = {"conditions": [{"kind": "purchases", "op": "gte", "value": 1}]}
    assert shop.names(members(db, buyers, store_ids=store_ids)) == [
        n for n in expected if n in ("alice", "bob", "carol")
    ]
