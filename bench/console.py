"""Console response times: customer search and the customer 360 page on the demo retailer.

Target (docs/contributing.md, Benchmarks): search and the 360 page answer in under 100 ms at the 95th
percentile on the demo data. Figures are printed, never asserted.

How it runs:

1. The demo retailer (`patron demo`: 8 stores, ~20,000 customers, ~74,000 orders) is built
   in a temporary data directory, or reused from ``--data-dir`` (built there if empty).
2. A bench administrator is made through the staff service; a few hundred customers are
   drawn at random and their phone, member card and name read through the customers
   service (the bench is the data's owner; the server never shows them unmasked).
3. A real server (``uvicorn patron.web.app:create_app --factory``, bench/_common.py) is
   started, the bench signs in through the sign-in form like a browser and then, one request
   at a time over a keep-alive connection, times: search by phone, by member card and by
   full name, the 360 page, the 360 page's "older orders" fragment, and the dashboard.
4. p50/p95/p99 per page are printed; the ``GET /healthz`` floor on the same server is printed
   beside them.

Run:  .venv/bin/python bench/console.py                       (build the demo, ~1-5 min)
      .venv/bin/python bench/console.py --data-dir /tmp/demo   (reuse / keep the demo)
      .venv/bin/python bench/console.py --customers 100         (fewer customers)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from _common import patron_server
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
TARGET_MS = 100.0
BENCH_USER = "bench-console"
BENCH_PASSWORD = "bench-console-pass-1"


@dataclass(frozen=True)
class Sample:
    customer_id: int
    phone: str | None
    card: str | None
    name: str | None


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATRON_DATA_DIR": str(data_dir),
        "PATRON_ENV": "development",
        "PATRON_KEY_FILE": str(data_dir / "keys.json"),
    }


def build_demo(data_dir: Path) -> None:
    """`patron init` + `patron demo` in ``data_dir``, unless it already holds the demo."""
    if (data_dir / "patron.db").exists():
        console.print(f"Reusing the database in {data_dir}")
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _env(data_dir)
    patron = [sys.executable, "-m", "patron.cli"]
    # The encryption keys first: a database without its key file is refused.
    subprocess.run(
        [sys.executable, "-c", "from patron.core.crypto import get_keyring; get_keyring()"],
        env=env, check=True, cwd=data_dir,
    )  # fmt: skip
    subprocess.run([*patron, "init"], env=env, check=True, cwd=data_dir, capture_output=True)
    console.print("Building the demo retailer (patron demo) …")
    started = time.perf_counter()
    subprocess.run([*patron, "demo"], env=env, check=True, cwd=data_dir, capture_output=True)
    console.print(f"  built in {time.perf_counter() - started:.0f} s")


def prepare(data_dir: Path, how_many: int, seed: int) -> tuple[list[Sample], int]:
    """The bench user, and ``how_many`` random customers' identifiers (read in this process)."""
    from patron.core.actor import system_actor
    from patron.core.db import Database
    from patron.core.settings import get_settings
    from patron.customers import service as customers
    from patron.staff import service as staff
    from patron.staff.exceptions import UsernameTaken
    from patron.staff.roles import Role
    from patron.staff.schemas import StaffCreate

    os.environ.update({k: v for k, v in _env(data_dir).items() if k.startswith("PATRON_")})
    get_settings.cache_clear()
    db = Database(get_settings().resolved_database_url)
    try:
        staff_in = StaffCreate.model_validate(
            {
                "username": BENCH_USER,
                "display_name": "Bench",
                "password": BENCH_PASSWORD,
                "role": Role.ADMIN,
            }
        )
        with contextlib.suppress(UsernameTaken):
            db.write(
                lambda s: staff.create_staff(session=s, staff_in=staff_in, actor=system_actor())
            )
        total = db.read(lambda s: customers.count_customers(session=s, status=None))
        rng = random.Random(seed)
        samples: list[Sample] = []
        tried: set[int] = set()
        while len(samples) < how_many and len(tried) < total:
            cid = rng.randint(1, total)
            if cid in tried:
                continue
            tried.add(cid)
            found = db.read(lambda s, cid=cid: customers.get_customer(session=s, customer_id=cid))
            if found is None or found.status != "active":
                continue
            kinds = {i.kind: i.value for i in found.identities}
            samples.append(Sample(cid, kinds.get("phone"), kinds.get("member_card"), found.name))
        return samples, total
    finally:
        db.dispose()


def sign_in(client: httpx.Client) -> None:
    response = client.post("/sign-in", data={"username": BENCH_USER, "password": BENCH_PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")


def timed(
    client: httpx.Client, urls: list[str], check: Callable[[httpx.Response], bool]
) -> list[float]:
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if not check(response):
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
        times.append(elapsed)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run(data_dir: Path, how_many: int, seed: int) -> None:
    build_demo(data_dir)
    samples, total = prepare(data_dir, how_many, seed)
    console.print(f"{total:,} customers in the database; {len(samples)} drawn at random")
    os.environ["PATRON_KEY_FILE"] = str(data_dir / "keys.json")
    url = f"sqlite:///{data_dir / 'patron.db'}"
    rows: list[tuple[str, list[float], str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="patron-console-") as tmp,
        patron_server(url, Path(tmp), "console") as port,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"accept": "text/html"},
            timeout=30,
        ) as client,
    ):
        sign_in(client)
        ok = lambda r: r.status_code == 200  # noqa: E731
        found = lambda r: r.status_code == 200 and 'class="customer-row"' in r.text  # noqa: E731
        # warm up: templates compiled, caches and connections filled
        timed(client, [f"/customers/{s.customer_id}" for s in samples[:20]], ok)
        timed(client, ["/customers", "/healthz"] * 5, ok)
        phones = [s for s in samples if s.phone]
        cards = [s for s in samples if s.card]
        names = [s for s in samples if s.name]
        rng = random.Random(seed + 1)
        rng.shuffle(samples)
        rows.append(("GET /healthz (floor)", timed(client, ["/healthz"] * 200, ok), ""))
        rows.append(
            (
                "search by phone",
                timed(client, [f"/customers?q={s.phone}" for s in phones], found),
                f"{len(phones)} customers",
            )
        )
        rows.append(
            (
                "search by member card",
                timed(client, [f"/customers?q={s.card}" for s in cards], found),
                f"{len(cards)} customers",
            )
        )
        rows.append(
            (
                "search by full name",
                timed(client, [f"/customers?q={s.name}" for s in names], found),
                f"{len(names)} customers; exact name, paginated",
            )
        )
        rows.append(
            (
                "search, empty box (newest)",
                timed(client, ["/customers"] * 50, ok),
                "first page of 20",
            )
        )
        rows.append(
            (
                "customer 360 page",
                timed(client, [f"/customers/{s.customer_id}" for s in samples], ok),
                f"{len(samples)} customers; profile, orders, interactions, loyalty",
            )
        )
        cursors = []
        for s in samples[:100]:
            page = client.get(f"/customers/{s.customer_id}").text
            match = re.search(r'hx-get="(/customers/\d+/orders\?cursor=\d+)"', page)
            if match:
                cursors.append(match.group(1))
        if cursors:
            rows.append(
                (
                    "360: older orders fragment",
                    timed(client, cursors, ok),
                    f"{len(cursors)} customers",
                )
            )
        rows.append(("dashboard, last 30 days", timed(client, ["/"] * 30, ok), "cached a minute"))
        year = "/?from=2025-11-01&to=2026-10-31"
        from_scratch = []
        for n in range(5):  # a new range each time: computed, not cached
            from_scratch += timed(client, [f"/?from=2025-11-{n + 1:02d}&to=2026-10-31"], ok)
        rows.append(("dashboard, a year, uncached", from_scratch, "5 distinct ranges"))
        rows.append(("dashboard, a year, cached", timed(client, [year] * 30, ok), ""))

    table = Table(title=f"Console response times (ms), demo retailer, SQLite, seed {seed}")
    for column in ("page", "n", "p50", "p95", "p99", "max", f"p95 < {TARGET_MS:.0f} ms", "note"):
        table.add_column(column, justify="left" if column in ("page", "note") else "right")
    for name, values, note in rows:
        p95 = percentile(values, 95)
        target = ""
        if name.startswith(("search by", "customer 360")):
            target = "[green]yes[/green]" if p95 < TARGET_MS else "[red]no[/red]"
        table.add_row(
            name,
            str(len(values)),
            f"{statistics.median(values):.1f}",
            f"{p95:.1f}",
            f"{percentile(values, 99):.1f}",
            f"{max(values):.1f}",
            target,
            note,
        )
    console.print(table)
    console.print(
        "One client, one request at a time, keep-alive, the server pinned to one core "
        "(bench/_common.py). Times include the session check and rendering the HTML."
    )
    one, five, _fifteen = os.getloadavg()
    console.print(
        f"Load average during the run: {one:.1f} (1 min), {five:.1f} (5 min) on "
        f"{os.cpu_count()} cores; compare the /healthz floor when figures look high."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="reuse (or build and keep) the demo here")
    parser.add_argument("--customers", type=int, default=300, help="customers to time (300)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.data_dir:
        run(args.data_dir.resolve(), args.customers, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="patron-demo-") as tmp:
        run(Path(tmp) / "data", args.customers, args.seed)


if __name__ == "__main__":
    main()
