"""`patron demo`: a realistic synthetic retail chain, written through the services.

The chain: six stores in 上海, 杭州 and 苏州, an online shop and a WeChat mini-program;
about two thousand SKUs; members whose purchase timing and spend follow a known
buy-till-you-die process (see btyd.py), plus walk-in customers who never identify
themselves, refunds, discounts and a few people registered twice whose profiles an order
later joins.

Everything is generated in chunks of customers with their whole two-year histories, written,
and dropped, so a ten-million-line benchmark streams in bounded memory. The same seed and
parameters give the same data, byte for byte: randomness comes from one numpy generator per
chunk, seeded from (seed, chunk number), and ids are counters, never clocks.

What was drawn — parameters and each customer's λ, p, ν, death — is written next to the data
(``<data_dir>/demo/truth.json`` and ``customers_truth.csv``) so model fits can be checked.

This module builds the demo (:func:`build_demo`); the plan is :mod:`~patron.demo.plan`, the
drawing :mod:`~patron.demo.draw`, the truth files :mod:`~patron.demo.truth`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from patron import loyalty
from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from patron.customers import CustomerStatus
from patron.customers import service as customer_service
from patron.customers.schemas import CustomerCreate
from patron.demo.catalogue import (
    STORES,
    Catalogue,
)
from patron.demo.draw import generate_chunks
from patron.demo.plan import (
    CHUNK_CUSTOMERS,
    CUSTOMER_BATCH,
    DEFAULT_END,
    LOYALTY_BATCH,
    LOYALTY_DAYS,
    ORDER_BATCH,
    SOURCE,
    ZONE,
    DemoChunk,
    DemoPlan,
    DemoSummary,
    Progress,
    plan_demo,
)
from patron.demo.service_desk import ServicePlan, build_service_desk
from patron.demo.truth import TRUTH_COLUMNS, built_end, truth_document
from patron.orders import service as orders
from patron.orders.schemas import OrderIn, RefundIn

__all__ = [
    "DEFAULT_END",
    "LOYALTY_DAYS",
    "ZONE",
    "DemoChunk",
    "DemoPlan",
    "DemoSummary",
    "build_demo",
    "built_end",
    "generate_chunks",
    "plan_demo",
    "truth_document",
]


def build_demo(
    *,
    db: Database,
    seed: int = 42,
    customers: int = 20000,
    lines: int = 300000,
    end: date | None = None,
    data_dir: Path,
    progress: Progress | None = None,
    force: bool = False,
    chunk_customers: int = CHUNK_CUSTOMERS,
    service_plan: ServicePlan | None = None,
) -> DemoSummary:
    """Build the demo chain into ``db`` through the services, chunk by chunk.

    A database that already holds orders is left alone unless ``force``; with ``force``
    the idempotent order and refund keys make a re-run add only what is missing.
    """
    started = time.perf_counter()
    existing = db.read(lambda s: orders.count_orders(session=s))
    if existing and not force:
        return DemoSummary(
            stores=0,
            products=0,
            customers=0,
            orders=existing,
            lines=0,
            refunds=0,
            anonymous_orders=0,
            merges=0,
            elapsed_seconds=time.perf_counter() - started,
            truth_json=None,
            truth_csv=None,
            already_present=True,
        )
    plan = plan_demo(seed=seed, customers=customers, lines=lines, end=end)
    _write_catalogue(db, plan.catalogue)

    truth_dir = data_dir / "demo"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth_json = truth_dir / "truth.json"
    truth_csv = truth_dir / "customers_truth.csv"
    totals = {"customers": 0, "orders": 0, "lines": 0, "refunds": 0, "anonymous": 0, "merges": 0}
    loyalty_from = _local_midnight(plan.end - timedelta(days=LOYALTY_DAYS - 1))
    # Who is who links by customer id (no phone numbers or cards here); readable by the
    # owner only all the same, like the key file.
    truth_csv.unlink(missing_ok=True)
    descriptor = os.open(truth_csv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS)
        writer.writeheader()
        done = 0
        for chunk in generate_chunks(plan=plan, chunk_customers=chunk_customers):
            ids = _write_customers(db, chunk.customers)
            primary: dict[int, int] = {}
            second: dict[int, int] = {}
            for no, cid in zip(chunk.customer_nos, ids, strict=True):
                if no in primary:
                    second[no] = cid
                else:
                    primary[no] = cid
            for row in chunk.truth:
                row["customer_id"] = primary[row["customer_no"]]
                row["duplicate_customer_id"] = second.get(row["customer_no"], "")
            created_orders = _write_orders(db, chunk.orders)
            created_refunds = _write_refunds(db, chunk.refunds)
            _run_loyalty(db, chunk.orders, chunk.refunds, since=loyalty_from)
            writer.writerows(chunk.truth)
            totals["customers"] += len(chunk.customers)
            totals["orders"] += created_orders
            totals["lines"] += chunk.lines
            totals["refunds"] += created_refunds
            totals["anonymous"] += chunk.anonymous_orders
            totals["merges"] += chunk.merges
            done += len(chunk.truth)
            if progress is not None:
                progress(done, plan.customers, totals["lines"])
    # The nightly review as of the demo's last evening: tiers held without the spend move down.
    closing = _local_midnight(plan.end + timedelta(days=1)) - timedelta(seconds=1)
    db.write(lambda s: loyalty.review_tiers(session=s, now=closing))
    document = truth_document(plan, chunk_customers=chunk_customers)
    merged = db.read(
        lambda s: customer_service.count_customers(session=s, status=CustomerStatus.MERGED)
    )
    document["outcome"] = {**totals, "merged_profiles_in_database": merged}
    # After-sales tickets and survey answers, drawn from the truth just written
    document["service"] = build_service_desk(
        db=db, truth_csv=truth_csv, end=plan.end, seed=seed, plan=service_plan
    )
    truth_json.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return DemoSummary(
        stores=len(STORES),
        products=len(plan.catalogue),
        customers=totals["customers"],
        orders=totals["orders"],
        lines=totals["lines"],
        refunds=totals["refunds"],
        anonymous_orders=totals["anonymous"],
        merges=merged,
        elapsed_seconds=time.perf_counter() - started,
        truth_json=truth_json,
        truth_csv=truth_csv,
    )


def _write_catalogue(db: Database, cat: Catalogue) -> None:
    stores = [
        StoreCreate(code=s.code, name=s.name, city=s.city, kind=s.kind, timezone=str(ZONE))
        for s in STORES
    ]
    products = [
        ProductIn(
            sku=cat.sku[i],
            name=cat.name[i],
            category_path=cat.category_path[i],
            brand=cat.brand[i],
            list_price_fen=int(cat.price_fen[i]),
            shelf_life_days=cat.shelf_life_days[i],
        )
        for i in range(len(cat))
    ]

    def work(session: Session) -> None:
        for store_in in stores:
            catalog.upsert_store(session=session, store_in=store_in)
        for start in range(0, len(products), 500):
            catalog.upsert_products(session=session, products_in=products[start : start + 500])

    db.write(work)


def _register(session: Session, batch: list[CustomerCreate]) -> list[int]:
    outcomes = customer_service.register_customers(
        session=session, customers_in=batch, source=SOURCE
    )
    return [o.customer_id for o in outcomes]


def _write_customers(db: Database, payloads: list[dict[str, Any]]) -> list[int]:
    """Sign-ups, a batch per transaction; returns the customer id of each payload."""
    ids: list[int] = []
    for start in range(0, len(payloads), CUSTOMER_BATCH):
        batch = [CustomerCreate.model_validate(p) for p in payloads[start : start + CUSTOMER_BATCH]]
        ids.extend(db.write(partial(_register, batch=batch)))
    return ids


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, clock_time(), ZONE).astimezone(UTC)


def _record(session: Session, batch: list[OrderIn]) -> list[orders.OrderOutcome]:
    return orders.record_orders(session=session, orders_in=batch)


def _write_orders(db: Database, payloads: list[dict[str, Any]]) -> int:
    """Orders in time order, a batch per transaction; returns how many were new."""
    created = 0
    for start in range(0, len(payloads), ORDER_BATCH):
        # Validated outside the transaction, so a retried write does not validate again.
        batch = [OrderIn.model_validate(p) for p in payloads[start : start + ORDER_BATCH]]
        outcomes = db.write(partial(_record, batch=batch))
        bad = [o for o in outcomes if o.status in ("invalid", "conflict")]
        if bad:
            raise RuntimeError(f"demo order rejected: {bad[0]}")
        created += sum(o.status == "created" for o in outcomes)
    return created


def _write_refunds(db: Database, payloads: list[dict[str, Any]]) -> int:
    refunds_in = [RefundIn.model_validate(p) for p in payloads]

    def work(session: Session) -> int:
        return sum(orders.record_refund(session=session, refund_in=r).created for r in refunds_in)

    return db.write(work) if refunds_in else 0


def _run_loyalty(
    db: Database,
    order_payloads: list[dict[str, Any]],
    refund_payloads: list[dict[str, Any]],
    *,
    since: datetime,
) -> None:
    """The programme's months as the tills lived them: each member's sale committed and each
    refund of such a sale applied, in time order (a refund before a later sale's tier), a
    small transaction at a time. Repeating it changes nothing: both calls are idempotent."""
    events: list[tuple[datetime, int, loyalty.CommitIn | loyalty.LoyaltyRefundIn]] = []
    for o in order_payloads:
        if o["customer"] is not None and o["ordered_at"] >= since:
            commit = loyalty.CommitIn(source=o["source"], external_id=o["external_id"])
            events.append((o["ordered_at"], 0, commit))
    for r in refund_payloads:
        if r["refunded_at"] >= since:
            keys = loyalty.LoyaltyRefundIn(source=r["source"], external_id=r["external_id"])
            events.append((r["refunded_at"], 1, keys))
    events.sort(key=lambda e: (e[0], e[1]))

    def work(session: Session, batch: list[tuple[datetime, int, Any]]) -> None:
        programme = loyalty.get_programme(session)
        for at, _kind, call in batch:
            if isinstance(call, loyalty.CommitIn):
                loyalty.commit_order(session=session, commit_in=call, now=at, programme=programme)
            else:
                # A refund of an anonymous sale or of one from before the programme: no points.
                with contextlib.suppress(loyalty.NotAMember):
                    loyalty.apply_refund(
                        session=session, refund_in=call, now=at, programme=programme
                    )

    for start in range(0, len(events), LOYALTY_BATCH):
        db.write(partial(work, batch=events[start : start + LOYALTY_BATCH]))
