"""The demo's plan: its size, window, parameters and shares, drawn once from the seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from patron.demo.btyd import (
    DEFAULT_SHAPES,
    BtydParameters,
    calibrate_alpha,
    daily_seasonality,
)
from patron.demo.catalogue import (
    PHYSICAL_STORES,
    Catalogue,
    build_catalogue,
)

# The last day when none is given here: fixed, so a demo built next year is the demo built
# today (tests and model checks rely on it). `patron demo` passes yesterday instead.
DEFAULT_END = date(2026, 10, 31)
ZONE = ZoneInfo("Asia/Shanghai")
SOURCE = "demo"

CHUNK_CUSTOMERS = 5000
ORDER_BATCH = 1000
CUSTOMER_BATCH = 1000
LOYALTY_BATCH = 100

# The loyalty programme started three months before the demo's last day: members' sales
# since then earn points through the tills' own call, refunds take them back, tiers follow.
# (A longer programme costs build time: each sale is committed as a till commits it.)
LOYALTY_DAYS = 90

PROSPECT_SHARE = 0.10  # signed up and never bought
ANONYMOUS_SHARE = 0.30  # of physical-store orders, no member identified
DUPLICATE_SHARE = 0.012  # of buyers: registered twice, joined later by an order
REFUND_SHARE = 0.025
MEAN_LINES = 4.0
TASTE_CONCENTRATION = 6.0  # Dirichlet: lower means more specialised shoppers

# How each kind of member splits their orders: (physical, online shop, mini-program).
SEGMENTS = ("store", "online", "mini_program")
SEGMENT_SHARE = np.array([0.70, 0.15, 0.15])
SEGMENT_CHANNELS = np.array([[0.90, 0.10, 0.00], [0.15, 0.85, 0.00], [0.25, 0.10, 0.65]])

# Hour-of-day weights (local time). Stores: morning fresh-food run, lunch, after work.
_STORE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 7, 9, 8, 6, 5, 5, 6, 9, 11, 10, 7, 4, 2, 0], dtype=float
)
_ONLINE_HOURS = np.array(
    [3, 2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 7, 8, 7, 6, 6, 6, 7, 8, 10, 12, 13, 11, 6], dtype=float
)
PAYMENTS = ("wechat_pay", "alipay", "cash", "bank_card", "unionpay", "stored_value")
_PAYMENT_MIX = {
    "pos": np.array([0.45, 0.30, 0.10, 0.08, 0.04, 0.03]),
    "online": np.array([0.45, 0.50, 0.0, 0.0, 0.05, 0.0]),
    "mini_program": np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
}
_REFUND_REASONS = ("质量问题", "商品过期", "不想要了", "发错货", "包装破损", "少发漏发", "价格保护")
_CHANNEL_NAMES = ("pos", "online", "mini_program")
# Another store in the same city, for members who do not always shop at their home store.
_CITY_PEER = np.array(
    [
        next((i for i, t in enumerate(PHYSICAL_STORES) if t.city == s.city and i != k), k)
        for k, s in enumerate(PHYSICAL_STORES)
    ]
)

Progress = Callable[[int, int, int], None]  # (customers done, customers planned, lines written)


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """Everything fixed before the first customer is drawn."""

    seed: int
    customers: int
    lines: int
    start: date
    end: date
    seasonality: np.ndarray
    day_start_utc: np.ndarray  # epoch seconds of local midnight, per day
    params: BtydParameters
    mean_lines: float
    lines_scale: float  # normalises the spend → basket-size link
    catalogue: Catalogue

    @property
    def days(self) -> int:
        return len(self.seasonality)


@dataclass(slots=True)
class DemoChunk:
    """One chunk of customers with their histories, ready for the services."""

    number: int
    customers: list[dict[str, Any]]  # CustomerCreate payloads, profile A before B
    customer_nos: list[int]  # demo customer number of each payload
    orders: list[dict[str, Any]]  # OrderIn payloads in time order
    refunds: list[dict[str, Any]]  # RefundIn payloads in time order
    truth: list[dict[str, Any]]  # one row per demo customer
    lines: int
    anonymous_orders: int
    merges: int


@dataclass(frozen=True, slots=True)
class DemoSummary:
    stores: int
    products: int
    customers: int
    orders: int
    lines: int
    refunds: int
    anonymous_orders: int
    merges: int
    elapsed_seconds: float
    truth_json: Path | None
    truth_csv: Path | None
    already_present: bool = False


def window(end: date) -> tuple[date, date]:
    """Two years up to and including ``end``."""
    try:
        start = end.replace(year=end.year - 2)
    except ValueError:  # 29 February
        start = end.replace(year=end.year - 2, day=28)
    return start + timedelta(days=1), end


def plan_demo(*, seed: int, customers: int, lines: int, end: date | None = None) -> DemoPlan:
    """Fix the window, seasonality, catalogue and the BG/NBD scale that hits ``lines``.

    Lines ≈ buyers × orders per buyer × (1 + anonymous orders per member order) × lines per
    order; orders per buyer is 1 + E[repeat purchases], and α is solved to match it.
    """
    if customers < 1 or lines < 1:
        raise ValueError("customers and lines must be positive")
    start, end = window(end or DEFAULT_END)
    days = (end - start).days + 1
    seasonality = daily_seasonality(start=start, days=days)
    midnights = np.array(
        [
            datetime.combine(
                start + timedelta(days=d), datetime.min.time(), tzinfo=ZONE
            ).timestamp()
            for d in range(days + 1)
        ],
        dtype=np.int64,
    )
    rng = np.random.default_rng([seed, 0])
    cat = build_catalogue(rng=rng)
    # E[(z / mean z)^0.5] over the population, so basket size averages MEAN_LINES.
    nu = rng.gamma(DEFAULT_SHAPES["q"], 1 / DEFAULT_SHAPES["gamma"], 200_000)
    z = rng.gamma(DEFAULT_SHAPES["p"], 1 / nu)
    lines_scale = float(np.mean(np.sqrt(z / z.mean())))

    buyers = customers * (1 - PROSPECT_SHARE)
    physical_share = float(SEGMENT_SHARE @ SEGMENT_CHANNELS[:, 0])
    orders_per_member_order = 1 + physical_share * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE)
    mean_lines = MEAN_LINES
    per_buyer = lines / (buyers * orders_per_member_order * mean_lines)
    if per_buyer < 1.2:
        # Too few lines for the customers: smaller baskets rather than fewer than one order.
        mean_lines = max(1.2, lines / (buyers * orders_per_member_order * 1.2))
        per_buyer = lines / (buyers * orders_per_member_order * mean_lines)
    params = calibrate_alpha(
        shapes=DEFAULT_SHAPES, seasonality=seasonality, repeat_purchases=max(per_buyer - 1, 0.01)
    )
    return DemoPlan(
        seed=seed,
        customers=customers,
        lines=lines,
        start=start,
        end=end,
        seasonality=seasonality,
        day_start_utc=midnights,
        params=params,
        mean_lines=mean_lines,
        lines_scale=lines_scale,
        catalogue=cat,
    )
