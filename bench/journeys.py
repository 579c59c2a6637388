"""A day of the daily journeys at chain scale: the birthday journey (a coupon and an SMS)
and the replenishment journey (an SMS when a consumable's shelf life or the customer's own
gap runs out) switched on over N members; timed, the scheduler's daily wake-up (who enters
today) and the steps of those due, as ``patron serve`` runs them.

Target (docs/journeys.md): for 1,000,000 customers, the daily wake-up and the due steps in
≤ 60 s on 2 cores. Figures are printed, never asserted; the load average beside them says how
busy the shared machine was.

How it runs, per size:

1. A fresh SQLite file, migrated; N members signed up through ``register_customers``, their
   birthdays spread over the year, all granted SMS marketing; one member in five bought milk
   (shelf life 7 days) on one of the last seven days, through ``record_orders`` (set-up,
   timed apart).
2. The shipped journeys installed, the birthday and replenishment ones switched on.
3. Timed apart: the first fill of the birthday index (every profile's birthday decrypted
   once; later days read only the profiles changed since).
4. Timed: ``run_journeys`` at 10:00 Shanghai time on the day (the wake-up lets the day's
   customers in; the due steps issue coupons and write outbox rows), then a second run the
   same hour, which must find nothing left to do.

Run:  .venv/bin/python bench/journeys.py                 (100,000 members)
      .venv/bin/python bench/journeys.py --sizes 100000 1000000
      .venv/bin/python bench/journeys.py --quick         (smoke run, 5,000)
      .venv/bin/python bench/journeys.py --sizes 1000000 --keep /tmp/jb --profile
                  (keeps the set-up and its keyring in /tmp/jb for the next run; prints
                  the day's profile)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import share_keyring

BATCH = 5_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2027, 3, 15)


def _sign_up(db: Any, n: int) -> list[int]:
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate, IdentitiesIn

    ids: list[int] = []
    first = date(1980, 1, 1)
    for start in range(0, n, BATCH):
        batch = [
            CustomerCreate(
                name="会员",
                birthday=(first + timedelta(days=(i * 7919) % 14_600)),
                identities=IdentitiesIn(phone=f"139{i:08d}"),
            )
            for i in range(start, min(n, start + BATCH))
        ]
        done = db.write(
            lambda s, batch=batch: customers.register_customers(
                session=s, customers_in=batch, source="bench"
            )
        )
        ids.extend(o.customer_id for o in done)
    return ids


def _consent(db: Any, ids: list[int]) -> None:
    from patron.consent import record_consents_in_bulk

    for start in range(0, len(ids), 100_000):
        chunk = ids[start : start + 100_000]
        db.write(
            lambda s, chunk=chunk: record_consents_in_bulk(
                session=s,
                customer_ids=chunk,
                channel="sms",
                purpose="marketing",
                granted=True,
                source="import",
                notice_version="bench",
            )
        )


def _milk(db: Any, ids: list[int]) -> int:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import ProductIn
    from patron.orders import service as orders
    from patron.orders.schemas import OrderIn

    db.write(lambda s: catalog.ensure_default_store(session=s))
    store = db.read(lambda s: catalog.list_stores(session=s))[0].code
    db.write(
        lambda s: catalog.upsert_products(
            session=s, products_in=[ProductIn(sku="MILK", name="牛奶", shelf_life_days=7)]
        )
    )
    buyers = ids[::5]
    for start in range(0, len(buyers), BATCH):
        batch = [
            OrderIn.model_validate(
                {
                    "source": "bench",
                    "external_id": f"M{cid}",
                    "store_code": store,
                    "ordered_at": datetime.combine(
                        DAY - timedelta(days=7 + n % 7), datetime.min.time(), SHANGHAI
                    )
                    + timedelta(hours=12),
                    "customer": {"id": cid},
                    "lines": [{"sku": "MILK", "quantity": 1, "unit_price_fen": 1500}],
                }
            )
            for n, cid in enumerate(buyers[start : start + BATCH], start=start)
        ]
        db.write(lambda s, batch=batch: orders.record_orders(session=s, orders_in=batch))
    return len(buyers)


def run(
    size: int, folder: Path, keep: Path | None = None, profile: bool = False
) -> dict[str, float]:
    os.environ["PATRON_DATA_DIR"] = str(folder / "data")
    os.environ["PATRON_ANALYTICS_NIGHTLY"] = "false"
    from patron.core.settings import get_settings

    get_settings.cache_clear()
    from patron.core.actor import system_actor
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.journeys import get_journey_by_code, run_journeys, set_enabled
    from patron.journeys.shipped import install_shipped_journeys

    actor = system_actor("bench")
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    upgrade(db)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    kept = keep / f"setup-{size}.db" if keep else None
    if kept is not None and kept.exists():
        # A set-up kept by an earlier run (with its keyring): a 1,000,000-member set-up
        # takes far longer than the day it prepares.
        db.engine.dispose()
        shutil.copyfile(kept, folder / "bench.db")
        figures["buyers"] = len(range(0, size, 5))
    else:
        ids = _sign_up(db, size)
        _consent(db, ids)
        figures["buyers"] = _milk(db, ids)
        if kept is not None:
            db.engine.dispose()
            with sqlite3.connect(folder / "bench.db") as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(folder / "bench.db", kept)
    figures["set_up_s"] = time.perf_counter() - started
    db.write(lambda s: install_shipped_journeys(session=s, actor=actor))
    for code in ("birthday", "replenishment"):
        journey = db.read(lambda s, c=code: get_journey_by_code(session=s, code=c))
        db.write(
            lambda s, j=journey.id: set_enabled(session=s, journey_id=j, enabled=True, actor=actor)
        )
    # The scheduler has run before (its order cursor starts at the orders already placed),
    # and the birthday index was filled once (timed apart: it reads every profile).
    run_journeys(db=db, now=datetime.combine(DAY, datetime.min.time(), SHANGHAI).astimezone(UTC))
    from patron.journeys.triggers import refresh_birthdays

    started = time.perf_counter()
    db.write(refresh_birthdays)
    figures["first_fill_s"] = time.perf_counter() - started
    at = datetime.combine(DAY, datetime.min.time(), SHANGHAI).astimezone(UTC) + timedelta(hours=10)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    outcome = run_journeys(db=db, now=at)
    figures["day_s"] = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    figures["entered"] = outcome.entered
    figures["held_out"] = outcome.held_out
    figures["steps"] = outcome.steps_run
    started = time.perf_counter()
    again = run_journeys(db=db, now=at + timedelta(minutes=1))
    figures["again_s"] = time.perf_counter() - started
    figures["again_steps"] = again.steps_run + again.entered
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="keep each size's set-up (and the keyring) here, and reuse it"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the day's run")
    args = parser.parse_args()
    sizes = [5_000] if args.quick else args.sizes
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        keys = args.keep / "keyring.json"
        if keys.exists():
            os.environ["PATRON_ENCRYPTION_KEYS"] = keys.read_text()
    share_keyring()
    if args.keep is not None:
        (args.keep / "keyring.json").write_text(os.environ["PATRON_ENCRYPTION_KEYS"])
    print(
        f"journeys bench (SQLite): Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            f = run(size, Path(folder), args.keep, args.profile)
        print(
            f"  {size:>9,} members: the day's wake-up and due steps in {f['day_s']:6.1f} s "
            f"({f['entered']:,.0f} entered, {f['held_out']:,.0f} held out, {f['steps']:,.0f} "
            f"steps run; target 1,000,000 members in ≤ 60 s)"
        )
        print(
            f"  {'':>9}  run again the same hour: {f['again_s']:.1f} s, "
            f"{f['again_steps']:,.0f} entries or steps (must be 0); the birthday index's "
            f"first fill {f['first_fill_s']:.1f} s (once); set-up {f['set_up_s']:.0f} s "
            f"({f['buyers']:,.0f} milk buyers)"
        )
    print(f"  load average after: {os.getloadavg()[0]:.1f} (the machine is shared)")


if __name__ == "__main__":
    main()
