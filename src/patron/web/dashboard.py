"""The console's dashboard: sales figures for a range of business days, shaped for the page.

The figures come from :func:`patron.orders.sales.summarise_sales` (SQL aggregates on the
date indexes): sales are net sales as ``orders.sales`` defines them, so a refund or a return
lowers the day it was made, as in an import's reconciliation and the analytics KPIs. They are kept for a minute per (database, store scope, range) and the
newest order and refund ids, so a busy dashboard costs two index look-ups per view while a
new sale shows at once.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core import caches
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.orders import sales
from patron.orders import service as orders
from patron.orders.sales import SalesFigures
from patron.web.i18n import N_
from patron.web.titles import CHANNEL_TITLES

DEFAULT_DAYS = 30
MAX_DAYS = 367
CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str  # store code or channel
    name: str
    orders: int
    sales_fen: int
    member_sales_fen: int

    @property
    def aov_fen(self) -> int:
        return _div(self.sales_fen, self.orders)

    @property
    def member_share(self) -> float:
        return self.member_sales_fen / self.sales_fen if self.sales_fen else 0.0


@dataclass(frozen=True, slots=True)
class Dashboard:
    start_on: date
    end_on: date
    orders: int
    sales_fen: int
    aov_fen: int
    member_sales_fen: int
    member_share: float  # of sales, 0..1
    buyers: int
    new_buyers: int
    repeat_buyers: int
    repeat_rate: float  # repeat buyers / buyers, 0..1
    refunded_fen: int
    days: list[date]
    sales_per_day_fen: list[int]
    orders_per_day: list[int]
    by_store: list[Breakdown]
    by_channel: list[Breakdown]


def _div(numerator: int, denominator: int) -> int:
    """Integer division rounded half up (fen stay integers)."""
    return (2 * numerator + denominator) // (2 * denominator) if denominator else 0


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last 30 business days, today included, in the shop's zone."""
    end = today or utcnow().astimezone(get_settings().zone).date()
    return end - timedelta(days=DEFAULT_DAYS - 1), end


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """A range from the page's two date boxes; empty boxes fall back to the last 30 days."""
    _start, default_end = default_range()

    def parse(value: str | None, field: str, fallback: date) -> date:
        if not value:
            return fallback
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(field, N_("is not a date like 2026-10-31")) from None

    end_on = parse(end, "to", default_end)
    start_on = parse(start, "from", end_on - timedelta(days=DEFAULT_DAYS - 1))
    if start_on > end_on:
        raise InvalidInput("from", N_("must not be after the end of the range"))
    if (end_on - start_on).days + 1 > MAX_DAYS:
        raise InvalidInput("from", N_("the range may span at most 367 days"))  # MAX_DAYS
    return start_on, end_on


def build_dashboard(figures: SalesFigures, store_names: dict[int, tuple[str, str]]) -> Dashboard:
    """Totals, the daily series (every day, zero when nothing sold) and the breakdowns."""
    days = [
        figures.start_on + timedelta(days=n)
        for n in range((figures.end_on - figures.start_on).days + 1)
    ]
    per_day_sales: dict[date, int] = defaultdict(int)
    per_day_orders: dict[date, int] = defaultdict(int)
    stores: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    channels: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for cell in figures.cells:
        per_day_sales[cell.day] += cell.net_fen
        per_day_orders[cell.day] += cell.orders
        for bucket in (stores[cell.store_id], channels[cell.channel]):
            bucket[0] += cell.orders
            bucket[1] += cell.net_fen
            bucket[2] += cell.member_net_fen
    order_count = sum(per_day_orders.values())
    sales = sum(per_day_sales.values())
    member_sales = sum(c.member_net_fen for c in figures.cells)
    by_store = sorted(
        (
            Breakdown(
                key=store_names.get(sid, (str(sid), ""))[0],
                name=store_names.get(sid, ("", str(sid)))[1],
                orders=o,
                sales_fen=s,
                member_sales_fen=m,
            )
            for sid, (o, s, m) in stores.items()
        ),
        key=lambda b: (-b.sales_fen, b.key),
    )
    by_channel = sorted(
        (
            Breakdown(
                key=ch, name=CHANNEL_TITLES.get(ch, ch), orders=o, sales_fen=s, member_sales_fen=m
            )
            for ch, (o, s, m) in channels.items()
        ),
        key=lambda b: (-b.sales_fen, b.key),
    )
    return Dashboard(
        start_on=figures.start_on,
        end_on=figures.end_on,
        orders=order_count,
        sales_fen=sales,
        aov_fen=_div(sales, order_count),
        member_sales_fen=member_sales,
        member_share=member_sales / sales if sales else 0.0,
        buyers=figures.buyers,
        new_buyers=figures.new_buyers,
        repeat_buyers=figures.repeat_buyers,
        repeat_rate=figures.repeat_buyers / figures.buyers if figures.buyers else 0.0,
        refunded_fen=figures.taken_back_fen,
        days=days,
        sales_per_day_fen=[per_day_sales[d] for d in days],
        orders_per_day=[per_day_orders[d] for d in days],
        by_store=by_store,
        by_channel=by_channel,
    )


_cache: dict[tuple[object, ...], tuple[float, Dashboard]] = {}
_cache_lock = threading.Lock()


def load_dashboard(
    *,
    session: Session,
    database_key: str,
    start_on: date,
    end_on: date,
    store_ids: frozenset[int] | None,
) -> Dashboard:
    """The dashboard for a range and a store scope, from the cache when nothing was sold since."""
    scope = None if store_ids is None else tuple(sorted(store_ids))
    key = (database_key, scope, start_on, end_on, orders.latest_order_ids(session=session))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    figures = sales.summarise_sales(
        session=session, start_on=start_on, end_on=end_on, store_ids=store_ids
    )
    names = {s.id: (s.code, s.name) for s in catalog.list_stores(session=session)}
    dashboard = build_dashboard(figures, names)
    with _cache_lock:
        if len(_cache) > 512:
            _cache.clear()
        _cache[key] = (now, dashboard)
    return dashboard


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


caches.register("web.dashboard", clear_cache, max_age_s=CACHE_SECONDS)
