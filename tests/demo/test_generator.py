"""The demo chain: deterministic, realistic in shape, and true to the process it records."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import resource
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from patron.core.db import Database
from patron.customers import CustomerStatus
from patron.customers import service as customer_service
from patron.demo import people
from patron.demo.btyd import (
    SPRING_FESTIVAL,
    BtydParameters,
    expected_repeat_purchases,
    mean_repeat_purchases,
    simulate_customers,
)
from patron.demo.catalogue import STORES
from patron.demo.generator import (
    DEFAULT_END,
    LOYALTY_DAYS,
    DemoChunk,
    DemoPlan,
    build_demo,
    generate_chunks,
    plan_demo,
)
from patron.loyalty.models import LoyaltyAccount, LoyaltyOrder, LoyaltyRefund, PointsEntry
from patron.orders import service as order_service
from patron.orders.models import Order, Refund

ZONE = ZoneInfo("Asia/Shanghai")
STORE_BY_SOURCE = {s.source: s for s in STORES}


def _stream_hash(plan: DemoPlan, orders: int = 500) -> str:
    digest = hashlib.sha256()
    seen = 0
    for chunk in generate_chunks(plan=plan, chunk_customers=200):
        for payload in (chunk.customers, chunk.orders, chunk.refunds):
            digest.update(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
        seen += len(chunk.orders)
        if seen >= orders:
            break
    return digest.hexdigest()


@pytest.fixture(scope="module")
def plan() -> DemoPlan:
    return plan_demo(seed=7, customers=3000, lines=45000)


@pytest.fixture(scope="module")
def chunks(plan: DemoPlan) -> list[DemoChunk]:
    return list(generate_chunks(plan=plan, chunk_customers=1000))


def test_same_seed_generates_the_same_stream() -> None:
    first = _stream_hash(plan_demo(seed=42, customers=600, lines=9000))
    again = _stream_hash(plan_demo(seed=42, customers=600, lines=9000))
    other = _stream_hash(plan_demo(seed=43, customers=600, lines=9000))
    assert first == again
    assert first != other


def test_phones_and_cards_are_unique_and_valid() -> None:
    numbers = np.arange(0, 300_000)
    phones = people.phone_numbers(numbers=numbers, salt=12345)
    cards = people.member_cards(numbers=numbers, salt=678)
    mails = people.emails(rng=np.random.default_rng(1), numbers=numbers, salt=9)
    assert len(set(phones)) == len(phones)
    assert len(set(cards)) == len(cards)
    assert len(set(mails)) == len(mails)
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)


def test_totals_land_near_the_requested_volume(plan: DemoPlan, chunks: list[DemoChunk]) -> None:
    lines = sum(c.lines for c in chunks)
    truth = [row for c in chunks for row in c.truth]
    assert len(truth) == 3000
    assert abs(lines - 45000) / 45000 < 0.10
    prospects = sum(row["prospect"] for row in truth) / len(truth)
    assert 0.07 < prospects < 0.13
    orders = [o for c in chunks for o in c.orders]
    physical = [o for o in orders if o["source"].startswith("pos-")]
    anonymous = sum(o["customer"] is None for o in physical) / len(physical)
    assert 0.25 <= anonymous <= 0.35
    refunds = sum(len(c.refunds) for c in chunks) / len(orders)
    assert 0.015 < refunds < 0.035
    assert any(r["lines"] for c in chunks for r in c.refunds), "some refunds are partial"
    assert any(not r["lines"] for c in chunks for r in c.refunds), "some refunds are whole"
    weighed = [
        ln["quantity"] for o in orders for ln in o["lines"] if isinstance(ln["quantity"], str)
    ]
    assert weighed and all(re.fullmatch(r"\d+\.\d{3}", q) for q in weighed)
    assert {o["payment_method"] for o in orders} >= {"wechat_pay", "alipay", "cash", "bank_card"}
    assert any(o["order_discount_fen"] for o in orders)
    assert any(ln["discount_fen"] for o in orders for ln in o["lines"])


def test_orders_fall_in_the_window_and_opening_hours(
    plan: DemoPlan, chunks: list[DemoChunk]
) -> None:
    for chunk in chunks:
        for o in chunk.orders:
            local = o["ordered_at"].astimezone(ZONE)
            assert plan.start <= local.date() <= plan.end
            store = STORE_BY_SOURCE[o["source"]]
            assert store.open_hour <= local.hour < store.close_hour


def test_weekends_are_busier_than_weekdays(chunks: list[DemoChunk]) -> None:
    per_weekday = Counter(
        o["ordered_at"].astimezone(ZONE).weekday() for c in chunks for o in c.orders
    )
    weekday_mean = sum(per_weekday[d] for d in range(5)) / 5
    weekend_mean = (per_weekday[5] + per_weekday[6]) / 2
    assert weekend_mean > 1.2 * weekday_mean


def test_the_weeks_before_spring_festival_are_busier_than_the_weeks_after(
    plan: DemoPlan, chunks: list[DemoChunk]
) -> None:
    days = Counter(o["ordered_at"].astimezone(ZONE).date() for c in chunks for o in c.orders)
    festivals = [
        d
        for d in SPRING_FESTIVAL.values()
        if plan.start + timedelta(28) < d < plan.end - timedelta(28)
    ]
    assert festivals
    for festival in festivals:
        before = sum(days[festival - timedelta(days=k)] for k in range(1, 22))
        after = sum(days[festival + timedelta(days=k)] for k in range(0, 21))
        assert before > 1.5 * after


def test_truth_matches_the_orders_generated(chunks: list[DemoChunk]) -> None:
    """Each buyer has 1 + repeat_purchases orders; prospects none."""
    owner: dict[str, int] = {}
    for chunk in chunks:
        for payload, number in zip(chunk.customers, chunk.customer_nos, strict=True):
            for key, value in payload["identities"].items():
                if key != "wechat_appid":
                    owner[value] = number
    counts: Counter[int] = Counter()
    for chunk in chunks:
        for o in chunk.orders:
            if o["customer"] is not None:
                numbers = {owner[v] for k, v in o["customer"].items() if k != "wechat_appid"}
                assert len(numbers) == 1
                counts[numbers.pop()] += 1
    for row in (r for c in chunks for r in c.truth):
        expected = 0 if row["prospect"] else 1 + row["repeat_purchases"]
        assert counts[row["customer_no"]] == expected


def test_repeat_purchases_match_the_bgnbd_expectation(plan: DemoPlan) -> None:
    """Simulated histories agree with the closed-form E[X(t)] for the recorded parameters."""
    rng = np.random.default_rng(2024)
    sim = simulate_customers(rng=rng, params=plan.params, seasonality=plan.seasonality, n=100_000)
    repeats = np.bincount(sim.repeat_owner, minlength=100_000)
    expected = expected_repeat_purchases(params=plan.params, t=sim.operational_exposure)
    assert repeats.mean() == pytest.approx(expected.mean(), rel=0.03)
    assert repeats.mean() == pytest.approx(
        mean_repeat_purchases(params=plan.params, seasonality=plan.seasonality), rel=0.03
    )
    # Long-exposure customers: the dropout share at the end is what Beta(a, b) implies.
    assert 0 < (~sim.alive_at_end).mean() < 1
    assert np.all(np.isnan(sim.death_day[sim.alive_at_end]))


def test_expected_repeat_purchases_without_dropout_is_r_t_over_alpha() -> None:
    """With dropout vanishingly rare (b huge) BG/NBD reduces to the NBD: E[X(t)] = r t / α."""
    params = BtydParameters(r=0.8, alpha=10.0, a=2.0, b=1e7, p=4, q=2.5, gamma=30)
    t = np.array([1.0, 10.0, 52.0])
    assert expected_repeat_purchases(params=params, t=t) == pytest.approx(0.8 * t / 10.0, rel=1e-3)


def test_order_values_follow_each_customers_spend(plan: DemoPlan, chunks: list[DemoChunk]) -> None:
    """Baskets roughly hit the Gamma-Gamma value: realised means track p/ν."""
    owner: dict[str, int] = {}
    for chunk in chunks:
        for payload, number in zip(chunk.customers, chunk.customer_nos, strict=True):
            for key, value in payload["identities"].items():
                if key != "wechat_appid":
                    owner[value] = number
    spent: defaultdict[int, list[int]] = defaultdict(list)
    for chunk in chunks:
        for o in chunk.orders:
            if o["customer"] is not None:
                number = owner[next(v for k, v in o["customer"].items() if k != "wechat_appid")]
                spent[number].append(o["total_fen"] + o["order_discount_fen"])
    truth = {
        r["customer_no"]: float(r["mean_spend_yuan"])
        for c in chunks
        for r in c.truth
        if not r["prospect"]
    }
    frequent = [n for n, values in spent.items() if len(values) >= 3]
    realised = np.array([np.mean(spent[n]) / 100 for n in frequent])
    target = np.array([truth[n] for n in frequent])
    assert np.corrcoef(np.log(realised), np.log(target))[0, 1] > 0.6
    assert np.median(realised / target) == pytest.approx(1.0, abs=0.3)


def test_generating_a_large_demo_keeps_memory_bounded() -> None:
    big = plan_demo(seed=1, customers=50_000, lines=500_000)
    peaks = []
    for chunk in generate_chunks(plan=big):
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        assert chunk.orders
    growth_mb = (peaks[-1] - peaks[1]) / 1024
    assert growth_mb < 40, f"peak RSS grew {growth_mb:.0f} MB while streaming"


def test_build_writes_the_chain_through_the_services(sqlite_db: Database, tmp_path: Path) -> None:
    summary = build_demo(
        db=sqlite_db, seed=11, customers=600, lines=8000, data_dir=tmp_path, chunk_customers=250
    )
    assert summary.stores == 8
    assert summary.products > 1800
    assert sqlite_db.read(lambda s: order_service.count_orders(session=s)) == summary.orders
    assert abs(summary.lines - 8000) / 8000 < 0.15
    assert summary.refunds > 0
    assert summary.anonymous_orders > 0
    anonymous = sqlite_db.read(
        lambda s: s.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id.is_(None))
        )
    )
    assert anonymous == summary.anonymous_orders
    assert summary.merges >= 1
    merged = sqlite_db.read(
        lambda s: customer_service.count_customers(session=s, status=CustomerStatus.MERGED)
    )
    assert merged == summary.merges
    active = sqlite_db.read(lambda s: customer_service.count_customers(session=s))
    assert active == summary.customers - summary.merges

    assert summary.truth_json is not None and summary.truth_csv is not None
    truth = json.loads(summary.truth_json.read_text(encoding="utf-8"))
    assert truth["seed"] == 11
    assert set(truth["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(truth["gamma_gamma"]) == {"p", "q", "gamma"}
    assert truth["time_unit"] == "week"
    with summary.truth_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 600
    assert all(row["customer_id"] for row in rows)
    assert any(row["duplicate_customer_id"] for row in rows)
    _truth_holds_no_contact_details(summary.truth_csv)

    # The loyalty programme's months: every member's sale in them committed as a till
    # commits it, every refund of such a sale taken back; none before.
    started = datetime.combine(DEFAULT_END - timedelta(days=LOYALTY_DAYS - 1), time(), ZONE)
    in_programme = (Order.customer_id.is_not(None)) & (Order.ordered_at >= started)
    loyalty = _loyalty_counts(sqlite_db)
    member_sales = sqlite_db.read(
        lambda s: s.execute(
            select(func.count()).select_from(Order).where(in_programme)
        ).scalar_one()
    )
    refunded = sqlite_db.read(
        lambda s: s.execute(
            select(func.count()).select_from(Refund).join(Order).where(in_programme)
        ).scalar_one()
    )
    assert member_sales > 0 and loyalty["orders"] == member_sales
    assert loyalty["refunds"] == refunded
    assert loyalty["points"] > 0 and loyalty["accounts"] > 0

    again = build_demo(db=sqlite_db, seed=11, customers=600, lines=8000, data_dir=tmp_path)
    assert again.already_present
    forced = build_demo(
        db=sqlite_db,
        seed=11,
        customers=600,
        lines=8000,
        data_dir=tmp_path,
        chunk_customers=250,
        force=True,
    )
    assert forced.orders == 0, "a forced re-run adds nothing that is already there"
    assert sqlite_db.read(lambda s: order_service.count_orders(session=s)) == summary.orders
    assert _loyalty_counts(sqlite_db) == loyalty


def _truth_holds_no_contact_details(path: Path) -> None:
    """The ground truth links to profiles by id: no phone number or member card in it, and
    readable by its owner only."""
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?!\d)", text), "a phone number in the truth"
    header = text.splitlines()[0].split(",")
    assert "phone" not in header and "member_card" not in header
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_truth_file_holds_no_phone_numbers(sqlite_db: Database, tmp_path: Path) -> None:
    summary = build_demo(
        db=sqlite_db, seed=5, customers=80, lines=600, data_dir=tmp_path, chunk_customers=40
    )
    assert summary.truth_csv is not None
    _truth_holds_no_contact_details(summary.truth_csv)


def _loyalty_counts(db: Database) -> dict[str, int]:
    def count(s: Session, what: Any) -> int:
        return int(s.scalar(what) or 0)

    return db.read(
        lambda s: {
            "orders": count(s, select(func.count()).select_from(LoyaltyOrder)),
            "refunds": count(s, select(func.count()).select_from(LoyaltyRefund)),
            "accounts": count(s, select(func.count()).select_from(LoyaltyAccount)),
            "points": count(s, select(func.sum(PointsEntry.points))),
        }
    )


def test_cli_builds_once_and_then_says_the_demo_is_there() -> None:
    from patron.cli import app

    runner = CliRunner()
    first = runner.invoke(
        app, ["demo", "--customers", "150", "--lines", "1500", "--end", "2025-12-31"]
    )
    assert first.exit_code == 0, first.output
    assert "order lines" in first.output
    second = runner.invoke(app, ["demo", "--customers", "150", "--lines", "1500"])
    assert second.exit_code == 0
    assert "already holds" in second.output

    # each run prints the demo administrator with a new password, and that password works
    import re

    from patron.core.db import get_database
    from patron.staff import service as staff

    passwords = [re.search(r"with password (\S+)", r.output) for r in (first, second)]
    assert all(passwords)
    first_pw, second_pw = (m.group(1) for m in passwords if m)
    assert first_pw != second_pw
    signed = get_database().write(
        lambda s: staff.sign_in(session=s, username="admin", password=second_pw)
    )
    assert signed.signed_in is not None and signed.signed_in.staff.role == "admin"


def test_default_end_is_fixed_not_today() -> None:
    assert plan_demo(seed=1, customers=10, lines=100).end == date(2026, 10, 31)


def test_a_forced_rerun_completes_the_chain_built_before_not_a_second_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from patron.cli import app
    from patron.core import clock
    from patron.core.db import get_database

    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--customers", "120", "--lines", "1200"])
    assert first.exit_code == 0, first.output
    built = get_database().read(lambda s: order_service.count_orders(session=s))
    # Without --end the demo ends yesterday; a forced re-run another day must reuse the
    # days it was built with, or every order would land again under a new key.
    three_days_on = clock.utcnow() + timedelta(days=3)
    monkeypatch.setattr(clock, "utcnow", lambda: three_days_on)
    again = runner.invoke(app, ["demo", "--customers", "120", "--lines", "1200", "--force"])
    assert again.exit_code == 0, again.output
    assert get_database().read(lambda s: order_service.count_orders(session=s)) == built
