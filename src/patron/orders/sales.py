"""Net sales: the one definition every figure of money taken uses.

**Net sales** of some stores over some business days is what customers paid for the orders
placed on those days, less every refund made on those days (of an order placed whenever,
paid back by the store that made it, the order's own when the refund names none), less
every return without a known sale made on those days. Each amount falls on the business
day of its own moment in its store's time zone, and in its order's channel (a return
without a sale: its own). That is how a till's day closes and how an export adds up: an
order refunded in full nets to nothing when both fall in the range, and a refund of last
month's sale lowers the day it was paid back.

The console's dashboard (:func:`summarise_sales`), an import's reconciliation
(:func:`net_sales_cells` with ``import_run_ids``) and the analytics KPIs all read it so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, case, func, or_, select
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session, aliased

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.errors import InvalidInput
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn


@dataclass(frozen=True, slots=True)
class NetSalesCell:
    """Money of one business day, store and channel: sales, refunds, returns without a sale."""

    day: date
    store_id: int
    channel: str
    orders: int = 0  # orders placed
    lines: int = 0  # their lines
    sales_fen: int = 0  # what those orders were paid
    member_orders: int = 0
    member_sales_fen: int = 0
    refunds: int = 0  # refunds made
    refund_lines: int = 0
    refunds_fen: int = 0
    member_refunds_fen: int = 0
    returns: int = 0  # lines of returns without a known sale
    returns_fen: int = 0
    member_returns_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.sales_fen - self.refunds_fen - self.returns_fen

    @property
    def member_net_fen(self) -> int:
        return self.member_sales_fen - self.member_refunds_fen - self.member_returns_fen

    @property
    def taken_back_fen(self) -> int:
        return self.refunds_fen + self.returns_fen


def _zone_windows(
    stores: Sequence[StoreRead], start_on: date, end_on: date
) -> dict[str, tuple[list[int], list[datetime]]]:
    """Per time zone: its stores, and the UTC instants where each local day starts (one more
    than the days, the last closing the range)."""
    by_zone: dict[str, list[int]] = defaultdict(list)
    for store in stores:
        by_zone[store.timezone].append(store.id)
    days = (end_on - start_on).days + 1
    windows = {}
    for zone_name, ids in by_zone.items():
        zone = ZoneInfo(zone_name)
        edges = [
            datetime.combine(start_on + timedelta(days=n), time(0), zone).astimezone(UTC)
            for n in range(days + 1)
        ]
        windows[zone_name] = (ids, edges)
    return windows


def _local_day(
    session: Session, column: Any, zone_name: str, edges: list[datetime]
) -> ColumnElement[Any]:
    """The store-local business day of the instant ``column`` as SQL, for one zone.

    PostgreSQL converts exactly with AT TIME ZONE. SQLite has no zones: a zone whose offset
    is the same all through the range (Asia/Shanghai always) shifts by that offset; one that
    changes (summer time) compares against each day's first instant.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast_(func.timezone(zone_name, column), Date)
    zone = ZoneInfo(zone_name)
    offsets = {edge.astimezone(zone).utcoffset() for edge in edges}
    if len(offsets) == 1:
        minutes = int(next(iter(offsets)).total_seconds() // 60)  # type: ignore[union-attr]
        return func.date(column, f"{minutes:+d} minutes")
    return case(
        *[
            (column < edges[n + 1], (edges[n].astimezone(zone).date()).isoformat())
            for n in range(len(edges) - 1)
        ],
        else_=None,
    )


class _Scope:
    """The stores, days and (for a reconciliation) import runs a figure covers, as SQL."""

    def __init__(
        self,
        session: Session,
        stores: Sequence[StoreRead],
        start_on: date,
        end_on: date,
    ) -> None:
        self.session = session
        self.windows = _zone_windows(stores, start_on, end_on)
        self.store_ids = [s.id for s in stores]

    def within(self, instant: Any, store_id: Any) -> ColumnElement[bool]:
        return or_(
            *[
                store_id.in_(ids) & (instant >= edges[0]) & (instant < edges[-1])
                for ids, edges in self.windows.values()
            ]
        )

    def day(self, instant: Any, store_id: Any) -> ColumnElement[Any]:
        if len(self.windows) == 1:
            ((zone_name, (_ids, edges)),) = self.windows.items()
            return _local_day(self.session, instant, zone_name, edges)
        return case(
            *[
                (store_id.in_(ids), _local_day(self.session, instant, name, edges))
                for name, (ids, edges) in self.windows.items()
            ],
            else_=None,
        )

    @property
    def first_instant(self) -> datetime:
        return min(e[0] for _ids, e in self.windows.values())

    @property
    def last_instant(self) -> datetime:
        return max(e[-1] for _ids, e in self.windows.values())


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def net_sales_cells(
    *,
    session: Session,
    start_on: date,
    end_on: date,
    store_ids: frozenset[int] | None = None,
    import_run_ids: Sequence[int] | None = None,
) -> list[NetSalesCell]:
    """Net sales (see the module docstring) by business day × store × channel.

    ``store_ids`` limits them to those stores; ``import_run_ids`` to what those file imports
    wrote (an import's reconciliation). Three grouped queries on the date indexes.
    """
    if end_on < start_on:
        raise InvalidInput("end_on", "must not be before start_on")
    stores = [
        s for s in catalog.list_stores(session=session) if store_ids is None or s.id in store_ids
    ]
    if not stores:
        return []
    scope = _Scope(session, stores, start_on, end_on)
    cells: dict[tuple[date, int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(day: Any, store_id: Any, channel: Any, **values: Any) -> None:
        if day is None:
            return
        cell = cells[(_as_date(day), int(store_id), str(channel))]
        for name, value in values.items():
            cell[name] += int(value or 0)

    runs = list(import_run_ids) if import_run_ids is not None else None

    # Orders placed: what was paid, on the day they were placed.
    member = Order.customer_id.is_not(None)
    day = scope.day(Order.ordered_at, Order.store_id).label("day")
    lines = select(func.count()).where(OrderLine.order_id == Order.id).scalar_subquery()
    statement = (
        select(
            day,
            Order.store_id,
            Order.channel,
            func.count(),
            func.coalesce(func.sum(Order.line_count if runs is None else lines), 0),
            func.coalesce(func.sum(Order.total_fen), 0),
            func.count(Order.customer_id),
            func.coalesce(func.sum(case((member, Order.total_fen), else_=0)), 0),
        )
        .where(scope.within(Order.ordered_at, Order.store_id))
        .group_by(day, Order.store_id, Order.channel)
    )
    if runs is not None:
        statement = statement.where(Order.import_run_id.in_(runs))
    for d, store_id, channel, n, n_lines, paid, member_n, member_paid in session.execute(statement):
        add(
            d,
            store_id,
            channel,
            orders=n,
            lines=n_lines,
            sales_fen=paid,
            member_orders=member_n,
            member_sales_fen=member_paid,
        )

    # Refunds made: on the day they were made, at the store that paid them back.
    refund_store = func.coalesce(Refund.store_id, Order.store_id)
    day = scope.day(Refund.refunded_at, refund_store).label("day")
    refund_lines = select(func.count()).where(RefundLine.refund_id == Refund.id).scalar_subquery()
    statement = (
        select(
            day,
            refund_store,
            Order.channel,
            func.count(),
            func.coalesce(func.sum(refund_lines), 0),
            func.coalesce(func.sum(Refund.amount_fen), 0),
            func.coalesce(func.sum(case((member, Refund.amount_fen), else_=0)), 0),
        )
        .join(Order, Order.id == Refund.order_id)
        .where(scope.within(Refund.refunded_at, refund_store))
        .group_by(day, refund_store, Order.channel)
    )
    if runs is not None:
        statement = statement.where(Refund.import_run_id.in_(runs))
    for d, store_id, channel, n, n_lines, amount, member_amount in session.execute(statement):
        add(
            d,
            store_id,
            channel,
            refunds=n,
            refund_lines=n_lines,
            refunds_fen=amount,
            member_refunds_fen=member_amount,
        )

    # Returns without a known sale: on their own day, store and channel.
    r = SaleReturn
    day = scope.day(r.returned_at, r.store_id).label("day")
    statement = (
        select(
            day,
            r.store_id,
            r.channel,
            func.count(),
            func.coalesce(func.sum(r.amount_fen), 0),
            func.coalesce(func.sum(case((r.customer_id.is_not(None), r.amount_fen), else_=0)), 0),
        )
        .where(scope.within(r.returned_at, r.store_id))
        .group_by(day, r.store_id, r.channel)
    )
    if runs is not None:
        statement = statement.where(r.import_run_id.in_(runs))
    for d, store_id, channel, n, amount, member_amount in session.execute(statement):
        add(d, store_id, channel, returns=n, returns_fen=amount, member_returns_fen=member_amount)

    return [
        NetSalesCell(day=d, store_id=store_id, channel=channel, **values)
        for (d, store_id, channel), values in sorted(cells.items())
    ]


def import_run_span(*, session: Session, import_run_ids: Sequence[int]) -> tuple[date, date] | None:
    """The first and last UTC day anything written by these import runs is dated, widened by
    a day each side (so every store's local day is inside); None when they wrote nothing."""
    runs = list(import_run_ids)
    lows, highs = [], []
    for column, run_column in (
        (Order.ordered_at, Order.import_run_id),
        (Refund.refunded_at, Refund.import_run_id),
        (SaleReturn.returned_at, SaleReturn.import_run_id),
    ):
        low, high = session.execute(
            select(func.min(column), func.max(column)).where(run_column.in_(runs))
        ).one()
        if low is not None:
            lows.append(_instant(low))
            highs.append(_instant(high))
    if not lows:
        return None
    return min(lows).date() - timedelta(days=1), max(highs).date() + timedelta(days=1)


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------- the console's dashboard


@dataclass(frozen=True, slots=True)
class SalesFigures:
    """What was sold between two business days (both included), in some stores.

    ``cells`` are net sales by local day × store × channel (see the module docstring);
    ``buyers`` are the distinct identified customers who ordered, ``repeat_buyers`` those
    with two orders or more in the range, ``new_buyers`` those whose first order (in these
    stores) falls in the range.
    """

    start_on: date
    end_on: date
    cells: list[NetSalesCell]
    buyers: int
    repeat_buyers: int
    new_buyers: int

    @property
    def taken_back_fen(self) -> int:
        """Refunds and returns without a sale made in the range, whenever the sale was."""
        return sum(c.taken_back_fen for c in self.cells)


def summarise_sales(
    *,
    session: Session,
    start_on: date,
    end_on: date,
    store_ids: frozenset[int] | None = None,
) -> SalesFigures:
    """Sales figures for the console's dashboard, aggregated in SQL on the date indexes.

    Days are business days in each store's own time zone; ``store_ids`` limits the figures to
    those stores (None: every store).
    """
    if end_on < start_on:
        raise InvalidInput("end_on", "must not be before start_on")
    if (end_on - start_on).days > 366:
        raise InvalidInput("end_on", "the range may span at most 367 days")
    stores = [
        s for s in catalog.list_stores(session=session) if store_ids is None or s.id in store_ids
    ]
    if not stores:
        return SalesFigures(start_on, end_on, [], 0, 0, 0)
    cells = net_sales_cells(session=session, start_on=start_on, end_on=end_on, store_ids=store_ids)
    scope = _Scope(session, stores, start_on, end_on)
    in_range = scope.within(Order.ordered_at, Order.store_id)
    member = Order.customer_id.is_not(None)
    per_buyer = (
        select(Order.customer_id.label("customer_id"), func.count().label("n"))
        .where(in_range, member)
        .group_by(Order.customer_id)
        .subquery()
    )
    earlier = aliased(Order)
    bought_before = (
        select(earlier.id)
        .where(
            earlier.customer_id == per_buyer.c.customer_id,
            earlier.ordered_at < scope.first_instant,
            # "+ 0" keeps the planner on the (customer_id, ordered_at) index: one short
            # probe per buyer instead of a walk through the store's whole history
            (earlier.store_id + 0).in_(scope.store_ids),
        )
        .exists()
    )
    buyers, repeat, new = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_buyer.c.n >= 2, 1), else_=0)), 0),
            func.coalesce(func.sum(case((bought_before, 0), else_=1)), 0),
        ).select_from(per_buyer)
    ).one()
    return SalesFigures(
        start_on=start_on,
        end_on=end_on,
        cells=cells,
        buyers=int(buyers),
        repeat_buyers=int(repeat),
        new_buyers=int(new),
    )


def net_sales_by_customer(
    *, session: Session, start_at: datetime, end_at: datetime
) -> dict[int, int]:
    """Each customer's net sales (the module's definition, per customer) for orders placed in
    [``start_at``, ``end_at``): what they paid, less what was refunded of those orders by
    ``end_at``, less their returns without a sale in the window. Customers with no order or
    return in the window are left out. For a campaign's conversions: a customer whose net
    sales are above zero bought."""
    found: dict[int, int] = defaultdict(int)
    in_window = (Order.ordered_at >= start_at) & (Order.ordered_at < end_at)
    paid = select(Order.customer_id, func.sum(Order.total_fen)).where(
        in_window, Order.customer_id.is_not(None)
    )
    for customer_id, amount in session.execute(paid.group_by(Order.customer_id)):
        found[int(customer_id or 0)] += int(amount or 0)
    refunded = (
        select(Order.customer_id, func.sum(Refund.amount_fen))
        .join(Order, Order.id == Refund.order_id)
        .where(in_window, Order.customer_id.is_not(None), Refund.refunded_at < end_at)
        .group_by(Order.customer_id)
    )
    for customer_id, amount in session.execute(refunded):
        found[int(customer_id or 0)] -= int(amount or 0)
    returned = (
        select(SaleReturn.customer_id, func.sum(SaleReturn.amount_fen))
        .where(
            SaleReturn.customer_id.is_not(None),
            SaleReturn.returned_at >= start_at,
            SaleReturn.returned_at < end_at,
        )
        .group_by(SaleReturn.customer_id)
    )
    for customer_id, amount in session.execute(returned):
        found[int(customer_id or 0)] -= int(amount or 0)
    return dict(found)


def sku_sales_by_customer(
    *, session: Session, sku: str, start_at: datetime, end_at: datetime
) -> dict[int, int]:
    """What each customer paid for lines of ``sku`` on orders placed in [``start_at``,
    ``end_at``) (gross of refunds: a campaign's focus SKU asks who bought it). Customers with
    no such line are left out."""
    query = (
        select(Order.customer_id, func.sum(OrderLine.amount_fen))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.sku == sku,
            Order.customer_id.is_not(None),
            Order.ordered_at >= start_at,
            Order.ordered_at < end_at,
        )
        .group_by(Order.customer_id)
    )
    return {int(c or 0): int(a or 0) for c, a in session.execute(query)}
