"""The reconciliation of an orders import: the file's own totals beside what Patron holds.

For the whole file, each business day and each store:

    the file's net  =  rows rejected  +  rows already in Patron  +  what Patron now holds

to the fen. The file's side is read from the staging area (each row as the file states it:
a sale line's amount, less the order's discount, less what its status or refund amount
says was refunded, less every return line); what was left out is the rows the run rejected
(each in the report with its reason) or found already imported; what Patron holds is read
back from the database (the orders, refunds and returns without a sale this run wrote, as
``orders.sales`` counts net sales). Any other difference means a row went missing without a
reason: the run is then "unbalanced", and says so loudly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.settings import get_settings
from patron.imports.schemas import Figures, Reconciliation, ReconciliationLine
from patron.imports.staging import DUPLICATE, REJECTED, Staging
from patron.orders import sales

_UNKNOWN_DAY = "?"
_SIDES = ("file", "rejected", "already_imported")


class _Book:
    """Figures per key (a day or a store) for each side."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Figures]] = defaultdict(
            lambda: {side: Figures() for side in (*_SIDES, "patron")}
        )
        self.no_sale: dict[str, int] = defaultdict(int)

    def add(self, key: str, status: str | None, **amounts: int) -> None:
        """Into the file's side, and into the side ``status`` puts the rows on."""
        sides = ["file"]
        if status == REJECTED:
            sides.append("rejected")
        elif status == DUPLICATE:
            sides.append("already_imported")
        for side in sides:
            figures = self.figures[key][side]
            for name, value in amounts.items():
                setattr(figures, name, getattr(figures, name) + int(value or 0))

    def patron(self, key: str, **amounts: int) -> None:
        figures = self.figures[key]["patron"]
        for name, value in amounts.items():
            setattr(figures, name, getattr(figures, name) + int(value or 0))

    def lines(self, labels: Callable[[str], str]) -> list[ReconciliationLine]:
        return [self.line(key, labels(key)) for key in sorted(self.figures)]

    def line(self, key: str, label: str = "") -> ReconciliationLine:
        f = self.figures[key]
        accounted = f["rejected"].net_fen + f["already_imported"].net_fen + f["patron"].net_fen
        accepted_lines = f["file"].lines - f["rejected"].lines - f["already_imported"].lines
        return ReconciliationLine(
            key=key,
            label=label,
            file=f["file"],
            rejected=f["rejected"],
            already_imported=f["already_imported"],
            no_sale_rows=self.no_sale[key],
            patron=f["patron"],
            difference_fen=f["file"].net_fen - accounted,
            difference_rows=accepted_lines - f["patron"].lines,
        )

    def total(self) -> ReconciliationLine:
        whole = _Book()
        for key, sides in self.figures.items():
            for side, figures in sides.items():
                target = whole.figures["*"][side]
                for name in Figures.model_fields:
                    setattr(target, name, getattr(target, name) + getattr(figures, name))
            whole.no_sale["*"] += self.no_sale[key]
        return whole.line("*")


def reconcile(*, session: Session, staging: Staging, run_id: int) -> Reconciliation:
    """The reconciliation of orders run ``run_id`` (see the module docstring)."""
    settings = get_settings()
    default_code = catalog.ensure_default_store(session=session).code
    mapped = dict(staging.query("SELECT text, code FROM stores"))

    def store_key(text: str | None) -> str:
        text = text or ""
        if mapped.get(text):
            return str(mapped[text])
        return text or default_code

    by_day, by_store = _Book(), _Book()

    def add(day: str | None, store: str | None, status: str | None, **amounts: int) -> None:
        by_day.add(day or _UNKNOWN_DAY, status, **amounts)
        by_store.add(store_key(store), status, **amounts)

    # Lines: a sale line adds its amount, a return line takes its amount away.
    for day, store, kind, status, rows, amount in staging.query(
        "SELECT h.day, h.store, r.kind, r.status, count(*), sum(coalesce(r.amount, 0)) "
        "FROM rows r JOIN heads h ON h.key = r.key GROUP BY 1, 2, 3, 4"
    ):
        if kind == "C":
            by_day.no_sale[day or _UNKNOWN_DAY] += rows
            by_store.no_sale[store_key(store)] += rows
            by_day.add(day or _UNKNOWN_DAY, None, rows=rows)
            by_store.add(store_key(store), None, rows=rows)
        elif kind == "S":
            add(day, store, status, rows=rows, lines=rows, net_fen=amount)
        elif kind == "R":
            add(day, store, status, rows=rows, returns=rows, net_fen=-amount)
        else:  # a row that could not be read: rejected, its money unknown
            add(day, store, REJECTED, rows=rows)
    # Orders and their order-level discount, once per order.
    for day, store, status, n, discount in staging.query(
        "SELECT h.day, h.store, (SELECT s.status FROM rows s WHERE s.key = h.key "
        "AND s.kind = 'S' ORDER BY s.row LIMIT 1), count(*), sum(coalesce(h.odisc, 0)) "
        "FROM heads h WHERE h.sales > 0 GROUP BY 1, 2, 3"
    ):
        add(day, store, status, orders=n, net_fen=-discount)
    # Refunds a status or a refund amount asks for, on the day they were made.
    for day, store, rstatus, refund in staging.query(
        "SELECT coalesce(r.refund_day, h.day), h.store, coalesce(r.rstatus, r.status), "
        "sum(CASE WHEN r.refund < 0 THEN r.amount ELSE r.refund END) FROM rows r "
        "JOIN heads h ON h.key = r.key WHERE r.kind = 'S' AND r.refund <> 0 GROUP BY 1, 2, 3"
    ):
        add(day, store, rstatus, net_fen=-refund)

    # What Patron holds from this run, read back from the database.
    stores = {s.id: s for s in catalog.list_stores(session=session)}
    span = sales.import_run_span(session=session, import_run_ids=[run_id])
    if span is not None:
        for cell in sales.net_sales_cells(
            session=session, start_on=span[0], end_on=span[1], import_run_ids=[run_id]
        ):
            amounts = {
                "orders": cell.orders,
                "lines": cell.lines,
                "returns": cell.returns,
                "net_fen": cell.net_fen,
            }
            by_day.patron(cell.day.isoformat(), **amounts)
            by_store.patron(
                stores[cell.store_id].code if cell.store_id in stores else "?", **amounts
            )

    names = {s.code: s.name for s in stores.values()}
    total = by_day.total()
    days = by_day.lines(lambda key: "")
    store_lines = by_store.lines(lambda key: names.get(key, ""))
    balanced = all(
        line.difference_fen == 0 and line.difference_rows == 0
        for line in (total, *days, *store_lines)
    )
    known_days = [date.fromisoformat(d.key) for d in days if d.key != _UNKNOWN_DAY]
    unreadable = staging.query("SELECT count(*) FROM rows WHERE kind = 'X'")[0][0]
    return Reconciliation(
        balanced=balanced,
        currency=settings.currency,
        total=total,
        by_day=days,
        by_store=store_lines,
        totals_rows=_totals_rows(staging),
        unreadable_amount_rows=int(unreadable),
        first_day=min(known_days) if known_days else None,
        last_day=max(known_days) if known_days else None,
    )


def _totals_rows(staging: Staging) -> list[dict[str, Any]]:
    """The file's own totals rows (合计), beside what its lines add up to."""
    found = staging.query("SELECT row, amount, text FROM totals ORDER BY row")
    if not found:
        return []
    lines = staging.query(
        "SELECT coalesce(sum(CASE WHEN kind = 'S' THEN amount WHEN kind = 'R' THEN -amount "
        "ELSE 0 END), 0) FROM rows"
    )[0][0]
    return [
        {"row": row, "text": text, "says_fen": amount, "lines_add_up_to_fen": int(lines)}
        for row, amount, text in found
    ]
