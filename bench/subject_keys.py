"""What customers' own data keys cost (docs/privacy.md, "Erasure"): the till's member
look-up and signing customers up in a batch, with the values sealed under each customer's
key and, for comparison in the same process, under the keyring alone (as before data keys).

The two variants alternate round by round, so a machine busy with other work slows both
alike; the figures are medians of the rounds. Printed, never asserted.

Run:  .venv/bin/python bench/subject_keys.py [--members 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PATRON_ENV", "test")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=500, help="customers per variant and round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    from patron.core import crypto
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate

    tmp = Path(tempfile.mkdtemp(prefix="patron-bench-keys-"))
    db = Database(f"sqlite:///{tmp / 'patron.db'}")
    upgrade(db)
    ring = crypto.Keyring.generate()
    variants = {"keyring only": ring.with_wrap_keys({}, None), "own keys": ring}
    phones: dict[str, list[str]] = {name: [] for name in variants}
    sign_up: dict[str, list[float]] = {name: [] for name in variants}
    look_up: dict[str, list[float]] = {name: [] for name in variants}
    serial = 0
    for _round in range(args.rounds):
        for name, keyring in variants.items():
            with crypto.using_keyring(keyring):
                batch = []
                for _ in range(args.members):
                    serial += 1
                    phone = f"139{serial:08d}"
                    phones[name].append(phone)
                    batch.append(
                        CustomerCreate.model_validate(
                            {
                                "name": f"会员{serial}",
                                "address": "上海市静安区南京西路1号",
                                "identities": {"phone": phone, "email": f"m{serial}@example.cn"},
                            }
                        )
                    )
                started = time.perf_counter()
                db.write(
                    lambda s, b=batch: customers.register_customers(
                        session=s, customers_in=b, source="bench"
                    )
                )
                sign_up[name].append(args.members / (time.perf_counter() - started))
                sample = phones[name][-args.members :]
                started = time.perf_counter()
                for phone in sample:
                    found = db.quick_read(
                        lambda s, v=phone: customers.lookup_customer(
                            session=s, kind="phone", value=v
                        )
                    )
                    assert found is not None and found.name
                look_up[name].append((time.perf_counter() - started) / len(sample) * 1000)
    load = os.getloadavg()[0]
    print(
        f"{args.members} customers per variant and round, {args.rounds} rounds, SQLite; "
        f"load average {load:.1f}"
    )
    for name in variants:
        print(
            f"  {name:13} sign-ups {statistics.median(sign_up[name]):8,.0f}/s   "
            f"member look-up {statistics.median(look_up[name]):6.2f} ms (median of rounds)"
        )
    db.dispose()


if __name__ == "__main__":
    main()
