"""The pipeline's steps after churn: basket rules, next-basket recommendations and the sales
forecast, each computed on the analytics store's DuckDB (whichever engine ran the
definitions) and recorded in the run's write-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from patron.core.db import Database

if TYPE_CHECKING:
    from patron.analytics.basket.service import BasketResult
    from patron.analytics.engine import Tables
    from patron.analytics.forecast.service import ForecastResult
    from patron.analytics.recommend.service import RecommendationResult

NIGHTLY_STEPS = ("baskets", "recommend", "forecast")
_PRODUCT_PAGE = 5000


@dataclass
class NightlyResults:
    baskets: BasketResult | None = None
    recommendations: RecommendationResult | None = None
    forecast: ForecastResult | None = None


def store_tables(duck: Any) -> Tables:
    import ibis

    from patron.analytics.engine import Tables

    return Tables.from_backend(ibis.duckdb.from_connection(duck))


def shelf_lives(db: Database) -> dict[str, int | None]:
    """Every product's shelf life in days (None unknown), read a page at a time."""
    from patron.catalog import service as catalog

    found: dict[str, int | None] = {}
    after = 0
    while True:

        def read(session: Session, after: int = after) -> list[Any]:
            return catalog.list_products(session=session, limit=_PRODUCT_PAGE, after_id=after)

        page = db.read(read)
        for product in page:
            found[product.sku] = product.shelf_life_days
        if len(page) < _PRODUCT_PAGE:
            return found
        after = page[-1].id


def baskets(tables: Tables, *, as_of: date) -> BasketResult:
    from patron.analytics.basket.service import mine_shop_rules

    stores = tables.stores.select("store_id").to_pyarrow().column("store_id").to_pylist()
    return mine_shop_rules(tables, as_of=as_of, store_ids=sorted(int(s) for s in stores))


def recommendations(
    tables: Tables, *, as_of: date, shelf_life_days: dict[str, int | None]
) -> RecommendationResult:
    from patron.analytics.recommend.service import recommend_members

    return recommend_members(tables, as_of=as_of, shelf_life_days=shelf_life_days)


def forecast(tables: Tables, *, as_of: date) -> ForecastResult:
    from patron.analytics.forecast.service import forecast_sales

    return forecast_sales(tables, as_of=as_of)


def record_nightly(session: Session, *, run_id: int, results: NightlyResults) -> None:
    """Write what the steps computed, in the caller's transaction."""
    if results.baskets is not None:
        from patron.analytics.basket.service import record_rules

        record_rules(session=session, run_id=run_id, result=results.baskets)
    if results.recommendations is not None:
        from patron.analytics.recommend.service import record_recommendations

        record_recommendations(session=session, run_id=run_id, result=results.recommendations)
    if results.forecast is not None:
        from patron.analytics.forecast.service import record_forecast

        record_forecast(session=session, run_id=run_id, result=results.forecast)
