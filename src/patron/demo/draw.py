"""Drawing the demo chain's customers and their histories, a chunk of customers at a time:
profiles (and the few registered twice), orders with their lines, refunds, and what was
drawn for each customer (the truth the model fits are checked against).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from patron.catalog import StoreKind
from patron.demo import people
from patron.demo.btyd import (
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
)
from patron.demo.plan import (
    _CHANNEL_NAMES,
    _CITY_PEER,
    _ONLINE_HOURS,
    _PAYMENT_MIX,
    _REFUND_REASONS,
    _STORE_HOURS,
    ANONYMOUS_SHARE,
    CHUNK_CUSTOMERS,
    DUPLICATE_SHARE,
    PAYMENTS,
    PROSPECT_SHARE,
    REFUND_SHARE,
    SEGMENT_CHANNELS,
    SEGMENT_SHARE,
    SEGMENTS,
    TASTE_CONCENTRATION,
    DemoChunk,
    DemoPlan,
)
from patron.demo.truth import _truth_rows

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
