"""A large export shaped like the UCI Online Retail file, and its net worked out on its own.

The rows are made with a fixed seed: invoices of one to twelve lines spread through the file
(sorted by time, then shuffled by till), cancellations ("C" invoices, negative quantities) of
sales in the file and of sales made before its first day, anonymous lines, free samples
(price 0), prices finer than a penny (0.001), the same SKU twice on one invoice.

:func:`file_net` adds the file up the plainest way, row by row with ``Decimal``: nothing of
Patron's is used, so the test compares Patron with the file and not Patron with itself.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

UCI_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
_PRICES = ["0.42", "0.85", "1.25", "1.65", "2.10", "2.55", "2.95", "3.75", "4.95", "7.95",
           "12.75", "0.19", "0.001", "0"]  # fmt: skip
_COUNTRIES = ["United Kingdom"] * 8 + ["France", "Germany", "EIRE", "Spain"]


def uci_like_rows(lines: int, *, seed: int = 2010) -> list[list[Any]]:
    """About ``lines`` rows of an online retailer's export, shuffled."""
    rng = random.Random(seed)
    skus = [f"{20000 + n}{rng.choice(['', 'A', 'B'])}" for n in range(800)]
    customers = [str(12000 + n) for n in range(600)]
    rows: list[list[Any]] = []
    sales: list[tuple[str, str, list[tuple[str, int, str]], datetime]] = []
    start = datetime(2010, 12, 1, 8, 0)
    invoice = 536365
    at = start
    while len(rows) < lines:
        at += timedelta(minutes=rng.randint(1, 9))
        invoice += 1
        anonymous = rng.random() < 0.12
        who = "" if anonymous else rng.choice(customers)
        country = rng.choice(_COUNTRIES)
        basket: list[tuple[str, int, str]] = []
        for _ in range(rng.randint(1, 12)):
            sku = rng.choice(skus)
            basket.append((sku, rng.choice([1, 2, 3, 6, 12, 24]), rng.choice(_PRICES)))
        if rng.random() < 0.05:
            basket.append(basket[0])  # the same SKU, quantity and price twice: two lines
        for sku, qty, price in basket:
            rows.append([str(invoice), sku, f"ITEM {sku}", qty, at, price, who, country])
        if who:
            sales.append((str(invoice), who, basket, at))
    # Cancellations: most of a sale in the file, some at another price than the sale's, some
    # of a sale made before the file's first day (a customer's earlier purchase).
    for n in range(len(rows) // 50):
        invoice += 1
        if rng.random() < 0.7 and sales:
            _inv, who, basket, sold_at = rng.choice(sales)
            sku, qty, price = rng.choice(basket)
            if rng.random() < 0.2:
                price = rng.choice(_PRICES[:10])  # refunded at another price than the sale's
            when = sold_at + timedelta(days=rng.randint(0, 20), minutes=5)
        else:
            who = rng.choice(customers) if rng.random() < 0.85 else ""
            sku, qty, price = rng.choice(skus), rng.choice([1, 2]), rng.choice(_PRICES[:10])
            when = start + timedelta(days=rng.randint(0, 20), hours=n % 9)
        qty = -rng.randint(1, qty)
        rows.append([f"C{invoice}", sku, f"ITEM {sku}", qty, when, price, who, "United Kingdom"])
    rng.shuffle(rows)
    return rows


def file_net(rows: list[list[Any]]) -> int:
    """The file's own net in pence: each row's quantity × unit price rounded half up to the
    penny (cancellations negative), added up."""
    total = Decimal(0)
    for row in rows:
        amount = (Decimal(str(row[3])) * Decimal(str(row[5])) * 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        total += amount
    return int(total)
