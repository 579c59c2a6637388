"""Tills retry, networks duplicate: the same order arriving at once is stored exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from patron.core.db import Database
from patron.customers.models import Customer, Identity
from patron.orders.models import Order, OrderLine
from tests.helpers import post_order

THREADS = 8


def _at_once(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(n)`` on THREADS threads released together; their results, or errors."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as exc:  # the test inspects it
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _count(db: Database, column: Any) -> int:
    return db.read(lambda s: s.scalar(select(func.count(column))))


def test_the_same_order_posted_from_eight_threads_is_stored_once(db: Database) -> None:
    lines = [{"sku": "SKU-1", "quantity": 2, "unit_price_fen": 1000}]
    results = _at_once(
        lambda _: post_order(db, "SAME-1", customer={"phone": "+8613800138000"}, lines=lines)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.created for r in results) == [False] * (THREADS - 1) + [True]
    assert len({r.order.id for r in results}) == 1
    assert _count(db, Order.id) == 1
    assert _count(db, OrderLine.order_id) == 1
    assert _count(db, Customer.id) == 1


def test_different_orders_sharing_a_new_phone_make_one_customer(db: Database) -> None:
    results = _at_once(
        lambda n: post_order(db, f"SHARED-{n}", customer={"phone": "+8613900139000"})
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert _count(db, Order.id) == THREADS
    assert _count(db, Customer.id) == 1
    assert _count(db, Identity.id) == 1
    assert len({r.order.customer_id for r in results}) == 1


def test_one_key_with_two_bodies_at_once_keeps_one_and_refuses_the_other(db: Database) -> None:
    from patron.orders.exceptions import IdempotencyConflict

    def work(n: int) -> Any:
        price = 1000 if n % 2 else 2000
        lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": price}]
        return post_order(db, "RACE-1", lines=lines)

    results = _at_once(work)
    stored = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, IdempotencyConflict) for r in refused), refused
    assert len({r.order.total_fen for r in stored}) == 1
    assert len(refused) == THREADS // 2
    assert _count(db, Order.id) == 1


def test_an_order_stored_after_its_key_was_found_free_is_answered_by_the_retry(
    db: Database,
) -> None:
    # A single post checks its key outside the write, then writes without looking it up
    # again; another post that stored the key in between trips the unique constraint.
    from itertools import count

    from patron.orders import service
    from tests.helpers import order_in

    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1000}]
    first = post_order(db, "LATE-1", lines=lines)
    model = order_in("LATE-1", lines=lines)
    assert service.key_taken(db=db, source=model.source, external_id="LATE-1")
    assert not service.key_taken(db=db, source=model.source, external_id="LATE-2")
    attempts = count()
    result = db.write(
        lambda s: service.record_order(session=s, order_in=model, absent=next(attempts) == 0)
    )
    assert next(attempts) == 2  # the first attempt failed on the key; the retry found it
    assert result.created is False
    assert result.order == first.order
    assert _count(db, Order.id) == 1
    assert _count(db, OrderLine.order_id) == 1
