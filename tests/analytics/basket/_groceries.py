"""The shared Groceries baskets and the arules reference rules for the basket tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

GROCERIES = Path(__file__).parents[3] / ".." / "shared" / "data" / "groceries" / "groceries.csv"
REFERENCE = Path(__file__).parent / "arules"


def groceries() -> list[list[str]]:
    """One list of items per line, as arules reads the file (items trimmed: two labels carry
    a trailing space where they end a line, and only there)."""
    if not GROCERIES.exists():
        pytest.skip(f"the Groceries data set is not at {GROCERIES}")
    with GROCERIES.open(encoding="utf-8") as handle:
        return [[item.strip() for item in line.rstrip("\r\n").split(",")] for line in handle]


def reference(name: str) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    """arules' rules keyed by (sorted antecedent, consequent), labels trimmed."""
    out = {}
    with (REFERENCE / name).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            lhs = tuple(sorted(s.strip() for s in row["lhs"].split("|") if s.strip()))
            out[(lhs, row["rhs"].strip())] = {
                "count": int(row["count"]),
                "support": float(row["support"]),
                "confidence": float(row["confidence"]),
                "lift": float(row["lift"]),
            }
    return out


def keyed(rows: list[dict[str, Any]]) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    return {(tuple(sorted(r["antecedent"])), r["consequent"]): r for r in rows}
