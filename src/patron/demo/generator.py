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
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from patron import loyalty
from patron.catalog import service as catalog
from patron.catalog.models import StoreKind
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from patron.customers import service as customer_service
from patron.customers.models import CustomerStatus
from patron.customers.schemas import CustomerCreate
from patron.demo import people
from patron.demo.btyd import (
    DEFAULT_SHAPES,
    SPRING_FESTIVAL,
    WEEKDAY_FACTOR,
    BtydParameters,
    SimulatedPurchases,
    calibrate_alpha,
    daily_seasonality,
    simulate_customers,
)
from patron.demo.catalogue import (
    DEPARTMENT_SHARE,
    DEPARTMENTS,
    MINI_STORE,
    ONLINE_STORE,
    PHYSICAL_STORES,
    STORES,
    WECHAT_APPID,
    Catalogue,
    build_catalogue,
)
from patron.demo.service_desk import build_service_desk
from patron.orders import service as orders
from patron.orders.schemas import OrderIn, RefundIn

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


# ------------------------------------------------------------------------------ customers


@dataclass(slots=True)
class _Members:
    numbers: np.ndarray
    buyer: np.ndarray  # bool
    segment: np.ndarray
    home_store: np.ndarray  # index into PHYSICAL_STORES
    names: list[str]
    female: np.ndarray
    has_gender: np.ndarray
    birthday: list[date | None]
    phone: list[str | None]
    card: list[str | None]
    email: list[str | None]
    openid: list[str | None]
    unionid: list[str | None]
    duplicate: np.ndarray  # bool: registered twice (card profile + phone profile)
    taste: np.ndarray  # (n, departments) cumulative


def _members(plan: DemoPlan, rng: np.random.Generator, first: int, n: int) -> _Members:
    numbers = np.arange(first, first + n)
    buyer = rng.random(n) >= PROSPECT_SHARE
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    traffic = np.array([s.traffic for s in PHYSICAL_STORES])
    home = rng.choice(len(PHYSICAL_STORES), size=n, p=traffic / traffic.sum())
    names = people.chinese_names(rng=rng, n=n)
    has_gender = rng.random(n) < 0.9
    has_birthday = rng.random(n) < 0.7
    age_days = (np.clip(rng.normal(38, 12, n), 18, 80) * 365.25).astype(int)
    birthdays = [
        plan.end - timedelta(days=a) if has else None
        for a, has in zip(age_days.tolist(), has_birthday.tolist(), strict=True)
    ]
    # Identifiers: everyone online has a phone; some old in-store members only a card.
    has_card = np.where(segment == 0, rng.random(n) < 0.9, rng.random(n) < 0.55)
    has_phone = ~(has_card & (segment == 0) & (rng.random(n) < 0.04))
    has_email = rng.random(n) < np.where(segment == 1, 0.5, 0.15)
    is_mini = segment == 2
    phones = people.phone_numbers(numbers=numbers, salt=plan.seed * 7_777_777 + 13)
    cards = people.member_cards(numbers=numbers, salt=plan.seed * 1_234_567 + 89)
    mails = people.emails(rng=rng, numbers=numbers, salt=plan.seed * 97 + 5)
    mini_numbers = numbers[is_mini]
    openids = dict(
        zip(
            mini_numbers.tolist(),
            people.wechat_ids(numbers=mini_numbers, seed=plan.seed, kind="open"),
            strict=True,
        )
    )
    unionids = dict(
        zip(
            mini_numbers.tolist(),
            people.wechat_ids(numbers=mini_numbers, seed=plan.seed, kind="union"),
            strict=True,
        )
    )
    duplicate = buyer & has_card & has_phone & (rng.random(n) < DUPLICATE_SHARE)
    taste = rng.dirichlet(DEPARTMENT_SHARE * TASTE_CONCENTRATION, n).cumsum(axis=1)
    return _Members(
        numbers=numbers,
        buyer=buyer,
        segment=segment,
        home_store=home,
        names=names.name,
        female=names.female,
        has_gender=has_gender,
        birthday=birthdays,
        phone=[p if h else None for p, h in zip(phones, has_phone.tolist(), strict=True)],
        card=[c if h else None for c, h in zip(cards, has_card.tolist(), strict=True)],
        email=[m if h else None for m, h in zip(mails, has_email.tolist(), strict=True)],
        openid=[openids.get(k) for k in numbers.tolist()],
        unionid=[unionids.get(k) for k in numbers.tolist()],
        duplicate=duplicate,
        taste=taste,
    )


# --------------------------------------------------------------------------------- orders


def _draw_products(
    cat: Catalogue, rng: np.random.Generator, cumulative_taste: np.ndarray
) -> np.ndarray:
    """One product per row of ``cumulative_taste``: department by taste, item by popularity."""
    u = rng.random(len(cumulative_taste))
    dept = np.minimum((cumulative_taste < u[:, None]).sum(axis=1), len(DEPARTMENTS) - 1)
    return _draw_in_departments(cat, rng, dept)


def _draw_in_departments(cat: Catalogue, rng: np.random.Generator, dept: np.ndarray) -> np.ndarray:
    product = np.empty(len(dept), dtype=np.int64)
    v = rng.random(len(dept))
    for d in range(len(DEPARTMENTS)):
        rows = np.flatnonzero(dept == d)
        if rows.size:
            k = np.searchsorted(cat.department_cumulative[d], v[rows], side="right")
            k = np.minimum(k, len(cat.department_products[d]) - 1)
            product[rows] = cat.department_products[d][k]
    return product


def _fit(cat: Catalogue, product: np.ndarray, budget_fen: np.ndarray) -> np.ndarray:
    """How far from its budget a line with this product can get: |log(achievable / budget)|."""
    price = cat.price_fen[product]
    pieces = np.clip(np.round(budget_fen / price), 1, cat.max_quantity[product]) * price
    weighed = np.clip(budget_fen / price, 0.1, 5.0) * price
    achieved = np.where(cat.weighed[product], weighed, pieces)
    return np.abs(np.log(achieved / budget_fen))


def _local_seconds(rng: np.random.Generator, store_idx: np.ndarray) -> np.ndarray:
    """Seconds after local midnight, within each store's opening hours."""
    out = np.empty(store_idx.size, dtype=np.int64)
    for s, store in enumerate(STORES):
        rows = np.flatnonzero(store_idx == s)
        if not rows.size:
            continue
        base = _STORE_HOURS if store.kind == StoreKind.PHYSICAL else _ONLINE_HOURS
        weights = base.copy()
        weights[: store.open_hour] = 0
        weights[store.close_hour :] = 0
        hour = rng.choice(24, size=rows.size, p=weights / weights.sum())
        out[rows] = hour * 3600 + rng.integers(0, 3600, rows.size)
    return out


def generate_chunks(
    *, plan: DemoPlan, chunk_customers: int = CHUNK_CUSTOMERS
) -> Iterator[DemoChunk]:
    """The whole demo as a stream of chunks; nothing is kept between them."""
    counter = 0
    for number, first in enumerate(range(0, plan.customers, chunk_customers), start=1):
        n = min(chunk_customers, plan.customers - first)
        chunk = _chunk(plan, number, first, n, counter)
        counter += len(chunk.orders)
        yield chunk


# One batch of members' whole history, vectorised step by step over shared arrays; split,
# each step would pass a dozen arrays on to the next.
def _chunk(  # noqa: PLR0915
    plan: DemoPlan, number: int, first: int, n: int, order_counter: int
) -> DemoChunk:
    rng = np.random.default_rng([plan.seed, number])
    cat = plan.catalogue
    m = _members(plan, rng, first, n)
    buyers = np.flatnonzero(m.buyer)
    sim = simulate_customers(
        rng=rng, params=plan.params, seasonality=plan.seasonality, n=buyers.size
    )

    # Member orders: the first purchase at birth, then the repeats.
    owner = np.concatenate([buyers, buyers[sim.repeat_owner]])
    day = np.concatenate([sim.birth_day, sim.repeat_day]).astype(np.int64)
    day = np.minimum(day, plan.days - 1)
    n_member = owner.size
    u = rng.random(n_member)
    cum_channels = SEGMENT_CHANNELS.cumsum(axis=1)[m.segment[owner]]
    channel = np.minimum((cum_channels < u[:, None]).sum(axis=1), 2)
    # No phone means no online account: those orders happen at the till.
    no_phone = np.array([p is None for p in m.phone])[owner]
    channel[no_phone] = 0
    # Stores: mostly the home store, sometimes another one in the city or elsewhere.
    n_phys = len(PHYSICAL_STORES)
    home = m.home_store[owner]
    other = rng.integers(0, n_phys, n_member)
    roam = rng.random(n_member)
    city_peer = _CITY_PEER[home]
    store = np.where(roam < 0.80, home, np.where(roam < 0.92, city_peer, other))
    store = np.where(channel == 1, STORES.index(ONLINE_STORE), store)
    store = np.where(channel == 2, STORES.index(MINI_STORE), store)
    spend = rng.gamma(plan.params.p, 1.0 / sim.spend_rate[np.searchsorted(buyers, owner)])

    # Walk-ins: a share of the physical traffic, on the same days and in the same stores.
    physical = np.flatnonzero(channel == 0)
    n_anon = int(rng.binomial(physical.size, ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE)))
    copy_of = physical[rng.integers(0, physical.size, n_anon)] if n_anon else np.zeros(0, np.int64)
    anon_nu = rng.gamma(plan.params.q, 1.0 / plan.params.gamma, n_anon)
    all_owner = np.concatenate([owner, np.full(n_anon, -1)])
    all_day = np.concatenate([day, day[copy_of]])
    all_channel = np.concatenate([channel, np.zeros(n_anon, dtype=np.int64)])
    all_store = np.concatenate([store, store[copy_of]])
    all_spend = np.concatenate([spend, rng.gamma(plan.params.p, 1.0 / anon_nu)])
    seconds = plan.day_start_utc[all_day] + _local_seconds(rng, all_store)
    # Time order, so sign-ups precede purchases and refunds follow them.
    order = np.argsort(seconds, kind="stable")
    all_owner, all_day, all_channel = all_owner[order], all_day[order], all_channel[order]
    all_store, all_spend, seconds = all_store[order], all_spend[order], seconds[order]
    total_orders = all_owner.size

    # Baskets: size grows with the spend aimed at; departments follow the shopper's taste.
    mean_spend = plan.params.p * plan.params.gamma / (plan.params.q - 1)
    # 14% more drawn than wanted: repeated products are folded into one line and small
    # budgets cap the basket below.
    size_mean = 1.14 * (plan.mean_lines - 1) * np.sqrt(all_spend / mean_spend) / plan.lines_scale
    # A ¥20 basket holds two or three things, not six: about ¥8 a line at least.
    n_lines = np.clip(1 + rng.poisson(size_mean), 1, np.maximum(all_spend // 8, 1)).astype(np.int64)
    n_lines = np.minimum(n_lines, 60)
    line_order = np.repeat(np.arange(total_orders), n_lines)
    line_owner = all_owner[line_order]
    anon_taste = rng.dirichlet(DEPARTMENT_SHARE * TASTE_CONCENTRATION, total_orders).cumsum(axis=1)
    taste = np.where(
        (line_owner >= 0)[:, None], m.taste[np.maximum(line_owner, 0)], anon_taste[line_order]
    )
    shares = rng.gamma(2.0, 1.0, line_order.size)
    budget_fen = all_spend[line_order] * 100 * shares / np.bincount(line_order, shares)[line_order]
    product = _draw_products(cat, rng, taste)
    min_cost = np.where(cat.weighed[product], cat.price_fen[product] * 0.2, cat.price_fen[product])
    for _ in range(4):
        # An order aimed at ¥60 does not contain a ¥3,000 phone: redraw what is far too dear.
        dear = np.flatnonzero(min_cost > 1.5 * budget_fen)
        if not dear.size:
            break
        product[dear] = _draw_products(cat, rng, taste[dear])
        min_cost[dear] = np.where(
            cat.weighed[product[dear]],
            cat.price_fen[product[dear]] * 0.2,
            cat.price_fen[product[dear]],
        )
    # A shopper with ¥15 left for a line takes the small pack: when the item drawn cannot get
    # near its share of the budget, two more from the same department are tried, best kept.
    fit = _fit(cat, product, budget_fen)
    for _ in range(2):
        poor = np.flatnonzero(fit > np.log(1.5))
        if not poor.size:
            break
        alternative = _draw_in_departments(cat, rng, cat.department[product[poor]])
        alt_fit = _fit(cat, alternative, budget_fen[poor])
        better = alt_fit < fit[poor]
        product[poor[better]] = alternative[better]
        fit[poor[better]] = alt_fit[better]
    # One line per product in an order (the till adds up repeat scans).
    _, keep = np.unique(line_order * len(cat) + product, return_index=True)
    keep.sort()
    line_order, product, budget_fen = line_order[keep], product[keep], budget_fen[keep]
    price = cat.price_fen[product]
    weighed = cat.weighed[product]
    kg = np.clip(budget_fen / price * rng.uniform(0.8, 1.2, price.size), 0.1, 5.0)
    pieces = np.clip(np.round(budget_fen / price), 1, cat.max_quantity[product])
    quantity_milli = np.where(weighed, np.round(kg * 1000), pieces * 1000).astype(np.int64)
    gross = (quantity_milli * price + 500) // 1000
    promo = (rng.random(price.size) < 0.08) & (gross >= 200)
    pct = rng.choice(np.array([0.1, 0.15, 0.2, 0.3]), price.size)
    line_discount = np.where(promo, np.floor(gross * pct), 0).astype(np.int64)
    amount = gross - line_discount
    lines_total = np.bincount(line_order, amount, minlength=total_orders).astype(np.int64)

    # Payment and order-level discounts: 抹零 at cash tills, 满减 online.
    payment = np.empty(total_orders, dtype=np.int64)
    for c, name in enumerate(_CHANNEL_NAMES):
        rows = np.flatnonzero(all_channel == c)
        payment[rows] = rng.choice(len(PAYMENTS), size=rows.size, p=_PAYMENT_MIX[name])
    v = rng.random(total_orders)
    order_discount = np.zeros(total_orders, dtype=np.int64)
    cash = (payment == PAYMENTS.index("cash")) & (v < 0.7)
    order_discount[cash] = lines_total[cash] % 100
    online_deal = (all_channel == 1) & (lines_total >= 19900) & (v < 0.5)
    order_discount[online_deal] = 2000
    mini_deal = (all_channel == 2) & (lines_total >= 9900) & (v < 0.5)
    order_discount[mini_deal] = 1000
    store_deal = (all_channel == 0) & (lines_total >= 29900) & (v > 0.97)
    order_discount[store_deal] = 3000

    # Who the till names: card or phone; the mini-program knows the WeChat ids.
    member_index = all_owner
    dup_merge_at = _merge_orders(m, all_owner)
    ids = np.arange(order_counter + 1, order_counter + total_orders + 1)
    line_starts = np.searchsorted(line_order, np.arange(total_orders + 1))
    by_card = rng.random(total_orders) < 0.75

    qty_list = quantity_milli.tolist()
    price_list = price.tolist()
    product_list = product.tolist()
    disc_list = line_discount.tolist()
    amount_list = amount.tolist()
    weighed_list = weighed.tolist()
    first_order_at: dict[int, int] = {}
    b_profile_first: dict[int, int] = {}
    out_orders: list[dict[str, Any]] = []
    for i in range(total_orders):
        s = STORES[int(all_store[i])]
        ts = int(seconds[i])
        lines = []
        for k in range(int(line_starts[i]), int(line_starts[i + 1])):
            q = qty_list[k]
            lines.append(
                {
                    "sku": cat.sku[product_list[k]],
                    "name": cat.name[product_list[k]],
                    "quantity": f"{q // 1000}.{q % 1000:03d}" if weighed_list[k] else q // 1000,
                    "unit_price_fen": price_list[k],
                    "discount_fen": disc_list[k],
                    "amount_fen": amount_list[k],
                }
            )
        who = int(member_index[i])
        customer: dict[str, Any] | None = None
        if who >= 0:
            first_order_at.setdefault(who, ts)
            customer = _reference(m, who, int(all_channel[i]), bool(by_card[i]))
            merge_at = dup_merge_at.get(who)
            if merge_at is not None:
                if i == merge_at:
                    customer = {"member_card": m.card[who], "phone": m.phone[who]}
                elif i < merge_at:
                    if all_channel[i] == 0:
                        customer = {"member_card": m.card[who]}
                    else:
                        customer = {"phone": m.phone[who]}
                        b_profile_first.setdefault(who, ts)
        local_day = plan.start + timedelta(days=int(all_day[i]))
        out_orders.append(
            {
                "source": s.source,
                "external_id": f"{local_day:%Y%m%d}-{int(ids[i]):09d}",
                "store_code": s.code,
                "ordered_at": datetime.fromtimestamp(ts, UTC),
                "customer": customer,
                "payment_method": PAYMENTS[int(payment[i])],
                "order_discount_fen": int(order_discount[i]),
                "total_fen": int(lines_total[i] - order_discount[i]),
                "lines": lines,
            }
        )
    refunds = _refunds(plan, rng, out_orders, seconds)
    profiles, profile_nos = _profiles(plan, rng, m, first_order_at, b_profile_first, dup_merge_at)
    truth = _truth_rows(plan, m, buyers, sim)
    return DemoChunk(
        number=number,
        customers=profiles,
        customer_nos=profile_nos,
        orders=out_orders,
        refunds=refunds,
        truth=truth,
        lines=int(line_order.size),
        anonymous_orders=n_anon,
        merges=len(dup_merge_at),
    )


def _reference(m: _Members, who: int, channel: int, by_card: bool) -> dict[str, Any]:
    if channel == 2 and m.openid[who]:
        return {
            "wechat_openid": m.openid[who],
            "wechat_appid": WECHAT_APPID,
            "wechat_unionid": m.unionid[who],
        }
    card, phone = m.card[who], m.phone[who]
    if channel == 0 and card and (by_card or phone is None):
        return {"member_card": card}
    if phone:
        return {"phone": phone}
    return {"member_card": card}


def _merge_orders(m: _Members, all_owner: np.ndarray) -> dict[int, int]:
    """For each person registered twice, the order that shows both identifiers at once."""
    dups = np.flatnonzero(m.duplicate)
    result: dict[int, int] = {}
    for who in dups.tolist():
        own = np.flatnonzero(all_owner == who)
        if own.size >= 2:
            result[who] = int(own[max(1, own.size // 2)] if own.size > 2 else own[1])
    return result


def _refunds(
    plan: DemoPlan, rng: np.random.Generator, out_orders: list[dict[str, Any]], seconds: np.ndarray
) -> list[dict[str, Any]]:
    """About 2.5% of orders come back, whole or in part, within ten days (before the end)."""
    end_ts = int(plan.day_start_utc[-1])
    picked = np.flatnonzero(rng.random(len(out_orders)) < REFUND_SHARE)
    delay = (rng.exponential(2.0, picked.size) * 86400 + 1800).astype(np.int64)
    partial = rng.random(picked.size) < 0.45
    reason = rng.integers(0, len(_REFUND_REASONS), picked.size)
    pick_line = rng.random(picked.size)
    refunds = []
    for j, i in enumerate(picked.tolist()):
        at = int(seconds[i]) + int(delay[j])
        if at >= end_ts:
            continue
        o = out_orders[i]
        lines: list[dict[str, Any]] = []
        if partial[j]:
            k = int(pick_line[j] * len(o["lines"]))
            line = o["lines"][k]
            q = line["quantity"]
            if isinstance(q, int) and q >= 2:
                lines = [{"line_no": k + 1, "quantity": 1}]
            elif len(o["lines"]) > 1:
                lines = [{"line_no": k + 1}]
        refunds.append(
            {
                "source": o["source"],
                "external_id": "R" + o["external_id"],
                "order_external_id": o["external_id"],
                "refunded_at": datetime.fromtimestamp(at, UTC),
                "reason": _REFUND_REASONS[int(reason[j])],
                "lines": lines,
            }
        )
    refunds.sort(key=lambda r: r["refunded_at"])
    return refunds


def _profiles(
    plan: DemoPlan,
    rng: np.random.Generator,
    m: _Members,
    first_order_at: dict[int, int],
    b_profile_first: dict[int, int],
    dup_merge_at: dict[int, int],
) -> tuple[list[dict[str, Any]], list[int]]:
    """Sign-up payloads: a till sign-up minutes before the first purchase, online ones earlier."""
    n = m.numbers.size
    start_ts = int(plan.day_start_utc[0])
    end_ts = int(plan.day_start_utc[-1])
    store_lead = rng.integers(60, 1800, n)
    online_lead = rng.integers(600, 3 * 86400, n)
    prospect_day = rng.choice(plan.days, size=n, p=plan.seasonality / plan.seasonality.sum())
    prospect_ts = plan.day_start_utc[prospect_day] + rng.integers(9 * 3600, 21 * 3600, n)
    prospect_channel = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    profiles: list[dict[str, Any]] = []
    nos: list[int] = []
    for who in range(n):
        seg = int(m.segment[who])
        if who in first_order_at:
            lead = store_lead[who] if seg == 0 else online_lead[who]
            signed = max(first_order_at[who] - int(lead), start_ts)
            channel = SEGMENTS[seg]
        else:
            signed = min(int(prospect_ts[who]), end_ts - 1)
            seg = int(prospect_channel[who])
            channel = SEGMENTS[seg]
        home = PHYSICAL_STORES[int(m.home_store[who])]
        profile: dict[str, Any] = {
            "name": m.names[who],
            "gender": ("female" if m.female[who] else "male") if m.has_gender[who] else None,
            "birthday": m.birthday[who],
            "city": home.city,
            "home_store_code": home.code,
            "signup_channel": channel,
            "signed_up_at": datetime.fromtimestamp(signed, UTC),
        }
        identities = {
            "phone": m.phone[who],
            "email": m.email[who],
            "member_card": m.card[who],
        }
        if m.openid[who]:
            identities |= {
                "wechat_openid": m.openid[who],
                "wechat_appid": WECHAT_APPID,
                "wechat_unionid": m.unionid[who],
            }
        if who in dup_merge_at:
            # The same person twice: a card at the till, later a phone-based online account.
            profiles.append(
                {**profile, "signup_channel": "store", "identities": {"member_card": m.card[who]}}
            )
            nos.append(int(m.numbers[who]))
            b_at = b_profile_first.get(who, signed + 86400)
            identities.pop("member_card")
            profiles.append(
                {
                    **profile,
                    "signup_channel": "online" if seg != 2 else "mini_program",
                    "signed_up_at": datetime.fromtimestamp(max(b_at - 3600, start_ts), UTC),
                    "identities": {k: v for k, v in identities.items() if v},
                }
            )
            nos.append(int(m.numbers[who]))
            continue
        profile["identities"] = {k: v for k, v in identities.items() if v}
        profiles.append(profile)
        nos.append(int(m.numbers[who]))
    return profiles, nos


def _truth_rows(
    plan: DemoPlan, m: _Members, buyers: np.ndarray, sim: SimulatedPurchases
) -> list[dict[str, Any]]:
    repeats = np.bincount(sim.repeat_owner, minlength=buyers.size)
    pos = {int(b): k for k, b in enumerate(buyers.tolist())}
    rows = []
    for who in range(m.numbers.size):
        row: dict[str, Any] = {
            "customer_no": int(m.numbers[who]),
            "customer_id": None,
            "duplicate_customer_id": None,
            "segment": SEGMENTS[int(m.segment[who])],
            "prospect": int(not m.buyer[who]),
        }
        k = pos.get(who)
        if k is None:
            row |= dict.fromkeys(_BTYD_COLUMNS, "")
        else:
            row |= {
                "birth_at": _day_to_iso(plan, float(sim.birth_day[k])),
                "lambda_per_week": f"{sim.purchase_rate[k]:.6g}",
                "p_dropout": f"{sim.dropout[k]:.6g}",
                "nu": f"{sim.spend_rate[k]:.6g}",
                "mean_spend_yuan": f"{plan.params.p / sim.spend_rate[k]:.2f}",
                "alive_at_end": int(sim.alive_at_end[k]),
                "death_at": ""
                if np.isnan(sim.death_day[k])
                else _day_to_iso(plan, float(sim.death_day[k])),
                "exposure_weeks": f"{(plan.days - sim.birth_day[k]) / 7:.4f}",
                "operational_exposure_weeks": f"{sim.operational_exposure[k]:.4f}",
                "repeat_purchases": int(repeats[k]),
            }
        rows.append(row)
    return rows


_BTYD_COLUMNS = (
    "birth_at",
    "lambda_per_week",
    "p_dropout",
    "nu",
    "mean_spend_yuan",
    "alive_at_end",
    "death_at",
    "exposure_weeks",
    "operational_exposure_weeks",
    "repeat_purchases",
)
TRUTH_COLUMNS = (
    "customer_no",
    "customer_id",
    "duplicate_customer_id",
    "segment",
    "prospect",
    *_BTYD_COLUMNS,
)


def _day_to_iso(plan: DemoPlan, day: float) -> str:
    """A fractional day of the window as a local-time ISO instant (BG/NBD's clock)."""
    whole = min(int(day), plan.days - 1)
    ts = plan.day_start_utc[whole] + (day - whole) * 86400
    return datetime.fromtimestamp(float(ts), ZONE).isoformat(timespec="seconds")


def built_end(data_dir: Path) -> date | None:
    """The last day of the demo built before in ``data_dir``, from its ground truth (None
    when there is none to read)."""
    truth = data_dir / "demo" / "truth.json"
    try:
        return date.fromisoformat(json.loads(truth.read_text(encoding="utf-8"))["calibration_end"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def truth_document(plan: DemoPlan, *, chunk_customers: int = CHUNK_CUSTOMERS) -> dict[str, Any]:
    festivals = [d.isoformat() for y, d in SPRING_FESTIVAL.items() if plan.start <= d <= plan.end]
    return {
        "seed": plan.seed,
        "customers": plan.customers,
        "lines_target": plan.lines,
        # The stream depends on the chunk size too: each chunk has its own random generator.
        "chunk_customers": chunk_customers,
        "calibration_start": plan.start.isoformat(),
        "calibration_end": plan.end.isoformat(),
        "timezone": str(ZONE),
        "time_unit": "week",
        "money_unit": "yuan",
        "bgnbd": {k: plan.params.as_dict()[k] for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: plan.params.as_dict()[k] for k in ("p", "q", "gamma")},
        "model": (
            "BG/NBD: λ ~ Gamma(r, rate α) per week; after each repeat purchase the customer "
            "drops out with p ~ Beta(a, b). Gamma-Gamma: ν ~ Gamma(q, rate γ); each order aims "
            "at z ~ Gamma(p, rate ν) yuan, filled with a basket to roughly that value."
        ),
        "seasonality": (
            "Purchases are thinned by a daily factor s(d) (weekday × Spring Festival), scaled "
            "to average 1 over the window, so the process is BG/NBD in operational time "
            "τ = ∫ s; operational_exposure_weeks is each buyer's exposure in τ. The first "
            "purchase (birth) is drawn with probability ∝ s(d)."
        ),
        "weekday_factor_mon_to_sun": WEEKDAY_FACTOR.tolist(),
        "spring_festivals_in_window": festivals,
        "prospect_share": PROSPECT_SHARE,
        "anonymous_share_of_store_orders": ANONYMOUS_SHARE,
        "duplicate_share_of_buyers": DUPLICATE_SHARE,
        "refund_share": REFUND_SHARE,
        "mean_lines_per_order": plan.mean_lines,
        "products": len(plan.catalogue),
    }


# ---------------------------------------------------------------------------------- build


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
    document["service"] = build_service_desk(db=db, truth_csv=truth_csv, end=plan.end, seed=seed)
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
