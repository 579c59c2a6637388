"""A run's recommendation rows carry no foreign keys (a chain writes ten million a night):
the write-back checks the run and the customers they name once each, and a row naming an
unknown customer undoes the whole write (docs/operations.md)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from patron.analytics.recommend.models import CustomerRecommendation
from patron.analytics.recommend.service import (
    ROW_SCHEMA,
    RecommendationResult,
    record_recommendations,
)
from patron.core.db import Database
from patron.core.errors import InvalidInput
from tests.analytics.helpers import build_basket_shop

_AS_OF = date(2025, 9, 30)


def _result(customer_ids: list[int]) -> RecommendationResult:
    n = len(customer_ids)
    rows = pa.Table.from_pydict(
        {
            "customer_id": customer_ids,
            "rank": [99] * n,  # past every rank the run wrote
            "sku": ["MILK"] * n,
            "score": [0.5] * n,
            "source": ["popular"] * n,
            "due_on": [None] * n,
        },
        schema=ROW_SCHEMA,
    )
    return RecommendationResult(as_of=_AS_OF, rows=rows)


def _rows_of(db: Database, run_id: int) -> int:
    t = CustomerRecommendation.__table__
    query = select(func.count()).select_from(t).where(t.c.run_id == run_id)
    return int(db.read(lambda s: s.execute(query).scalar_one()))


def test_known_customers_are_written_and_an_unknown_one_undoes_the_write(db: Database) -> None:
    shop = build_basket_shop(db)
    before = _rows_of(db, shop.run_id)
    with pytest.raises(RuntimeError, match=r"customer 987654, unknown"):
        db.write(
            lambda s: record_recommendations(
                session=s, run_id=shop.run_id, result=_result([shop.members[0], 987654])
            )
        )
    assert _rows_of(db, shop.run_id) == before  # nothing of the refused write is kept

    with pytest.raises(InvalidInput, match="no analytics run"):
        db.write(
            lambda s: record_recommendations(
                session=s, run_id=shop.run_id + 1000, result=_result([shop.members[0]])
            )
        )
