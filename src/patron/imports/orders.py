"""Writing the staged orders whole, newest first, batch by batch (see ``staging`` for why
they are staged, ``order_rows`` for how rows are read, ``returns`` for the returns).

A flaw in an order-level field (its time, the customer's identity, the store, the status)
rejects every row of the order, each with the reason; a line flawed on its own was already
left out when the file was read, and the order keeps its other lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.errors import PatronError
from patron.core.money import milli_to_quantity, prorate_fen
from patron.core.settings import get_settings
from patron.customers.schemas import ADDRESS_MAX_LENGTH, CustomerRef
from patron.imports import cells as values
from patron.imports.cells import CellError, ident
from patron.imports.columns import (
    CHANNELS,
    GENDERS,
    PAYMENT_METHODS,
    lookup_value,
)
from patron.imports.messages import Note
from patron.imports.order_rows import IDENTITY_TARGETS, OrderRows, built, from_micros
from patron.imports.schemas import ImportOptions
from patron.imports.staging import (
    ACCEPTED,
    BAD,
    DUPLICATE,
    NO_SALE_KIND,
    NOSALE,
    REJECTED,
    RETURN,
    SALE,
    STAGED_STATUS,
    unpack,
)
from patron.orders import Channel, PaymentMethod
from patron.orders import service as orders
from patron.orders.exceptions import IdempotencyConflict
from patron.orders.schemas import MAX_LINES, OrderIn, OrderLineIn, RefundIn

# ======================================================================== writing orders

_KEPT = 50_000  # distinct identities, and lines, kept checked (OrderWriter._customer, _line)


@dataclass(slots=True)
class _Head:
    """An order's order-level fields, read from its first row."""

    at: datetime
    store: StoreRead | None  # resolved when the order is written (it may be made then)
    store_text: str
    person: dict[str, Any]
    extra: dict[str, Any]
    original: str
    reason: str
    cells: dict[str, str]
    channel: Channel | None = None
    payment_method: PaymentMethod | None = None

    @property
    def shop(self) -> StoreRead:
        """The store, once resolved."""
        assert self.store is not None, "the store is resolved before the order is written"
        return self.store


@dataclass(slots=True)
class _Sale:
    """An order read and checked from its rows, waiting for its store and its writing."""

    key: str
    rows: list[Any]  # the staged sale rows, in line order
    others: list[Any]  # the order's other rows (returns, no-sale lines, flawed lines)
    order_in: OrderIn  # its store_code set when the store is resolved
    head: _Head
    refund_rows: list[tuple[int, Any]]  # (line number, row) of lines the file says refunded


@dataclass(slots=True)
class _Outcome:
    """A batch's effect on the staging area."""

    statuses: list[tuple[str, str | None, int, int]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    refunds: list[tuple[int, int]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def copy(self) -> _Outcome:
        return _Outcome(list(self.statuses), list(self.notes), list(self.refunds), list(self.rows))

    def set(self, row: Any, status: str, rstatus: str | None = None, anon: int = 0) -> None:
        # A row whose outcome is the one it was staged with is only listed: the staging
        # area sets the batch's rows back to that first (Staging.record).
        if anon or rstatus is not None or status != STAGED_STATUS[row["kind"]]:
            self.statuses.append((status, rstatus, anon, row["row"]))
        self.rows.append(row["row"])


@dataclass(slots=True)
class PreparedSales:
    """A batch of staged orders read and checked, not yet written."""

    groups: list[list[Any]]
    sales: list[_Sale]
    outcome: _Outcome  # what reading and checking found; copied for each writing


class _OrderLevelFlaw(Exception):
    def __init__(self, target: str, text: str, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.target, self.text, self.code, self.facts = target, text, code, facts


class OrderWriter:
    """Writes the staged orders, then the staged returns, batch by batch."""

    def __init__(
        self,
        reader: OrderRows,
        options: ImportOptions,
        source: str,
        run_id: int,
        store_scope: frozenset[int] | None = None,
    ) -> None:
        self.reader = reader
        self.cols = reader.cols
        self.options = options
        self.source = source
        self.run_id = run_id
        self.store_scope = store_scope
        self.stores: dict[str, StoreRead | None] = {}
        self._default: tuple[Session, StoreRead] | None = None
        self.currency = get_settings().currency
        # The identifiers the file has columns for (an order's cells hold no others).
        self._identity_columns = tuple(t for t in IDENTITY_TARGETS if t in reader.head_targets)
        self._present = frozenset(reader.head_targets)
        self._extra_targets = tuple(
            t for t in ("country", "province", "city", "cashier") if t in self._present
        )
        self._profile_targets = tuple(
            t for t in ("customer_name", "city", "address", "gender") if t in self._present
        )
        self._refs: dict[tuple[tuple[str, Any], ...], CustomerRef] = {}
        self._lines: dict[tuple[Any, ...], OrderLineIn] = {}
        # The JSON of those customers and lines, kept for the orders' request hashes.
        self._json_parts: dict[int, tuple[Any, bytes]] = {}

    # -- order-level fields ---------------------------------------------------------------

    def _cells(self, row: Any) -> dict[str, str]:
        return dict(zip(self.reader.head_targets, unpack(row["cells"]), strict=True))

    def _flaw(self, rows: Sequence[Any], flaw: _OrderLevelFlaw, outcome: _Outcome) -> None:
        """Every row of the order rejected, each with the reason (a flawed line keeps its own)."""
        column = self.cols.header(flaw.target) if flaw.target else ""
        for row in rows:
            if row["kind"] == BAD:
                outcome.set(row, REJECTED)
                continue
            if row["kind"] == NO_SALE_KIND:
                outcome.set(row, NOSALE)
                continue
            outcome.set(row, REJECTED, REJECTED if row["refund"] else None)
            outcome.notes.append(
                Note(row["row"], flaw.code, column, flaw.text, facts=dict(flaw.facts))
            )

    def _store(self, session: Session, text: str) -> StoreRead:
        """A store by the code or the name the file gives; made when the user asked."""
        if not text:
            if self.options.store_code:
                text = self.options.store_code
            else:
                return self._default_store(session)
        if text in self.stores:
            found = self.stores[text]
            if found is None:
                raise _OrderLevelFlaw(self._store_target(), text, "store_unknown")
            return found
        found = catalog.find_store(session=session, code_or_name=text)
        if found is None and self.options.create_stores:
            found = catalog.create_store_named(session=session, name=text)
        self.stores[text] = found
        if found is None:
            raise _OrderLevelFlaw(self._store_target(), text, "store_unknown")
        if self.store_scope is not None and found.id not in self.store_scope:
            raise _OrderLevelFlaw(self._store_target(), text, "store_not_allowed")
        return found

    def _default_store(self, session: Session) -> StoreRead:
        """The default store, looked up once per transaction: made in the first batch, it
        is kept out of the catalog's cache until that commits."""
        if self._default is None or self._default[0] is not session:
            self._default = (session, catalog.ensure_default_store(session=session))
        return self._default[1]

    def _store_target(self) -> str:
        return "store_code" if "store_code" in self.cols.index else "store_name"

    def _person(self, cells: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for target in self._identity_columns:
            text = ident(cells[target])
            if text:
                found[target] = text
        if not found:
            return found
        if "external_account" in found:
            found["external_system"] = self.source
        if "wechat_openid" in found and (appid := cells.get("wechat_appid", "").strip()):
            found["wechat_appid"] = appid
        if not self._profile_targets:
            return found
        if name := cells.get("customer_name", "").strip():
            found["name"] = name[:100]
        if city := cells.get("city", "").strip():
            found["city"] = city[:60]
        address = cells.get("address", "").strip()
        if address and len(address) <= ADDRESS_MAX_LENGTH:
            # A shipping address only fills a blank in the profile: one that would not fit
            # (a note to the courier run on) is left out rather than costing the sale.
            found["address"] = address
        if gender_text := cells.get("gender", "").strip():
            known, gender = lookup_value(GENDERS, gender_text)
            if not known:
                raise _OrderLevelFlaw("gender", gender_text, "gender_invalid")
            if gender:
                found["gender"] = gender
        return found

    def _customer(self, person: dict[str, Any]) -> CustomerRef | None:
        if not person:
            return None
        # A customer's orders repeat the same cells: each distinct identity is checked once
        # (bounded; the orders service only reads a ref, so orders may share one).
        key = tuple(person.items())
        found = self._refs.get(key)
        if found is not None:
            return found
        try:
            found = CustomerRef.model_validate(person)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = error.get("loc") or ("",)
            target = str(loc[0])
            target = "external_account" if target == "external_system" else target
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            text = person.get(target, "")
            raise _OrderLevelFlaw(
                target if target in self.cols.index else "",
                str(text),
                "identity_invalid",
                problem=message,
            ) from None
        if len(self._refs) >= _KEPT:
            self._refs.clear()
        self._refs[key] = found
        return found

    def _head(self, session: Session, rows: Sequence[Any]) -> _Head:
        """The order-level fields with the store resolved (a flaw raises)."""
        head = self._head_fields(rows)
        head.store = self._store(session, head.store_text)
        return head

    def _head_fields(self, rows: Sequence[Any]) -> _Head:
        """The order-level fields read from the order's first row, without the database."""
        head = rows[0]
        cells = self._cells(head)
        if head["at"] is None:
            text = cells.get("ordered_at", "").strip()
            try:
                self.reader.dates.instant(text)
                code = "date_unreadable"
            except CellError as exc:
                code = exc.code
            raise _OrderLevelFlaw("ordered_at", text, code)
        for row in rows:
            if row["state"] == "?":
                status = self._cells(row).get("status", "").strip()
                raise _OrderLevelFlaw("status", status, "status_unknown")
        present = self._present  # only the columns the file has: most files have few
        if "currency" in present and (currency := cells["currency"].strip().upper()):
            confirmed = (self.options.currency or "").upper()
            if currency not in (self.currency, confirmed):
                raise _OrderLevelFlaw("currency", currency, "currency_other", shop=self.currency)
        person = self._person(cells)
        store_text = head["store"] or ""
        extra: dict[str, Any] = {}
        payment = channel = None
        if "payment_method" in present and (text := cells["payment_method"].strip()):
            payment = PaymentMethod(lookup_value(PAYMENT_METHODS, text)[1] or "other")
        if "channel" in present and (text := cells["channel"].strip()):
            channel = Channel(lookup_value(CHANNELS, text)[1] or "other")
        for target in self._extra_targets:
            if text := cells[target].strip():
                extra[target] = text[:60]
        if head["odisc"]:
            extra["order_discount_fen"] = head["odisc"]
        elif "order_discount" in present and (text := cells["order_discount"].strip()):
            try:
                values.fen(text)
            except CellError as exc:
                raise _OrderLevelFlaw("order_discount", text, exc.code) from None
        reason = cells["status"].strip() if "status" in present else ""
        original = ident(cells["original_order_id"]) if "original_order_id" in present else ""
        return _Head(
            at=from_micros(head["at"]),
            store=None,
            store_text=store_text,
            person=person,
            extra=extra,
            original=original,
            reason=reason,
            cells=cells,
            channel=channel,
            payment_method=payment,
        )

    # -- sales ----------------------------------------------------------------------------

    def prepare_sale(self, rows: list[Any], outcome: _Outcome) -> _Sale | None:
        """An order from its staged rows, read and checked without the database, or None
        when its rows are rejected (into ``outcome``)."""
        key = rows[0]["key"]
        sale_rows = [r for r in rows if r["kind"] == SALE]
        others = [r for r in rows if r["kind"] != SALE]
        try:
            head = self._head_fields(rows)
            customer = self._customer(head.person)
            if len(sale_rows) > MAX_LINES:
                raise _OrderLevelFlaw(
                    "order_id", key, "too_many_lines", max=MAX_LINES, lines=len(sale_rows)
                )
            if len(key) > 128:
                raise _OrderLevelFlaw("order_id", key, "line_too_long", max=128)
            lines_total = sum(r["amount"] for r in sale_rows)
            if head.extra.get("order_discount_fen", 0) > lines_total:
                raise _OrderLevelFlaw(
                    "order_discount", str(head.extra["order_discount_fen"]),
                    "order_discount_too_large",
                )  # fmt: skip
            if lines_total > values.MAX_FEN:
                raise _OrderLevelFlaw("order_id", key, "amount_too_large")
            self._check_total(rows, sale_rows, head, lines_total)
            # Every rule OrderIn's validators apply was applied reading the rows (a line's
            # quantity, price, discount and amount; the order's size, discount and totals), so
            # the order is built as it stands: half the cost of a large import otherwise.
            order_in = built(
                OrderIn,
                source=self.source,
                external_id=key,
                store_code=None,
                channel=head.channel,
                ordered_at=head.at,
                customer=customer,
                payment_method=head.payment_method,
                order_discount_fen=head.extra.get("order_discount_fen", 0),
                total_fen=None,
                lines=[self._line(r) for r in sale_rows],
                country=head.extra.get("country"),
                province=head.extra.get("province"),
                city=head.extra.get("city"),
                cashier=head.extra.get("cashier"),
            )
        except _OrderLevelFlaw as flaw:
            self._flaw(rows, flaw, outcome)
            return None
        refund_rows = [(n, r) for n, r in enumerate(sale_rows, start=1) if r["refund"]]
        return _Sale(key, sale_rows, others, order_in, head, refund_rows)

    def _line(self, row: dict[str, Any]) -> OrderLineIn:
        """A sale row's line. Lines alike (an export repeats each SKU at a few prices and
        quantities) share one: the orders service only reads them (bounded)."""
        key = (row["sku"], row["name"], row["qty"], row["price"], row["discount"], row["amount"])
        line = self._lines.get(key)
        if line is None:
            line = built(
                OrderLineIn,
                sku=row["sku"],
                name=row["name"],
                quantity=milli_to_quantity(row["qty"]),
                unit_price_fen=row["price"],
                discount_fen=row["discount"],
                amount_fen=row["amount"],
            )
            if len(self._lines) >= _KEPT:
                self._lines.clear()
            self._lines[key] = line
        return line

    def _check_total(
        self, rows: Sequence[Any], sale_rows: Sequence[Any], head: _Head, lines_total: int
    ) -> None:
        """A total column is the file's own sum of the order: checked while no line of the
        order was dropped (a dropped line's money is in the report)."""
        text = head.cells.get("total", "").strip()
        if not text or any(r["kind"] in (BAD, RETURN, NO_SALE_KIND) for r in rows):
            return
        try:
            total = abs(values.fen(text))
        except CellError as exc:
            raise _OrderLevelFlaw("total", text, exc.code) from None
        computed = lines_total - head.extra.get("order_discount_fen", 0)
        if total != computed:
            raise _OrderLevelFlaw(
                "total", text, "total_mismatch", lines=values.format_fen(computed)
            )

    def prepare_sales(self, groups: list[list[Any]]) -> tuple[list[_Sale], _Outcome]:
        """A batch of orders read and checked (without the database)."""
        outcome = _Outcome()
        sales = []
        for rows in groups:
            sale = self.prepare_sale(rows, outcome)
            if sale is not None:
                sales.append(sale)
        return sales, outcome

    def prepare_batch(self, groups: list[list[Any]]) -> PreparedSales:
        """A batch of orders read and checked, ready for :meth:`write_prepared` (no database:
        this may run on another thread while the batch before is written)."""
        sales, outcome = self.prepare_sales(groups)
        return PreparedSales(groups, sales, outcome)

    def write_sales(self, session: Session, groups: list[list[Any]]) -> _Outcome:
        """One batch of orders: each written whole, with the refunds their rows ask for."""
        return self.write_prepared(session, self.prepare_batch(groups))

    def write_prepared(self, session: Session, prepared: PreparedSales) -> _Outcome:
        """A prepared batch written; it may be written again (a retried transaction)."""
        sales, outcome = prepared.sales, prepared.outcome.copy()
        ready: list[_Sale] = []
        for sale in sales:
            try:
                sale.head.store = self._store(session, sale.head.store_text)
            except _OrderLevelFlaw as flaw:
                self._flaw(sale.rows + sale.others, flaw, outcome)
                continue
            sale.order_in.__dict__["store_code"] = sale.head.shop.code
            ready.append(sale)
        sales = ready
        if not sales:
            return outcome
        results = orders.record_orders(
            session=session,
            orders_in=[s.order_in for s in sales],
            import_run_id=self.run_id,
            store_ids=self.store_scope,
            currency=self.options.currency,
            json_parts=self._json_parts,
        )
        for sale, result in zip(sales, results, strict=True):
            anon = 0 if sale.order_in.customer else 1
            if result.status in ("created", "duplicate"):
                status = ACCEPTED if result.status == "created" else DUPLICATE
                rstatus = self._refund_sale(session, sale, result.order_id, outcome)
                for row in sale.rows:
                    outcome.set(row, status, rstatus if row["refund"] else None, anon)
                for row in sale.others:
                    if row["kind"] == NO_SALE_KIND:
                        outcome.set(row, NOSALE)
                    elif row["kind"] == BAD:
                        outcome.set(row, REJECTED)
                continue
            self._flaw(sale.rows + sale.others, self._refusal(sale, result), outcome)
        return outcome

    def _refusal(self, sale: _Sale, result: Any) -> _OrderLevelFlaw:
        """Why the orders service did not take an order (a conflict, another store's)."""
        if result.status == "conflict":
            return _OrderLevelFlaw(
                "order_id", sale.key, "order_conflict", key=sale.key, source=self.source
            )
        error = result.error
        if error is not None and error.code == "store_out_of_scope":
            return _OrderLevelFlaw(self._store_target(), sale.head.store_text, "store_not_allowed")
        problem = error.message if error is not None else ""
        return _OrderLevelFlaw("order_id", sale.key, "order_invalid", problem=problem)

    def _refund_sale(
        self, session: Session, sale: _Sale, order_id: int | None, outcome: _Outcome
    ) -> str | None:
        """The refund a refunded (or partly refunded) order's rows ask for; its outcome."""
        if not sale.refund_rows or order_id is None:
            return None
        order = sale.order_in
        shares = prorate_fen(order.order_discount_fen, [ln.amount_fen or 0 for ln in order.lines])
        lines = []
        for line_no, row in sale.refund_rows:
            paid = row["amount"] - shares[line_no - 1]
            if row["refund"] < 0 or row["refund"] >= paid:
                lines.append({"line_no": line_no})  # all of the line: its quantity and money
                outcome.refunds.append((paid, row["row"]))
            else:  # money only: the goods stay with the customer
                lines.append({"line_no": line_no, "quantity": 0, "amount_fen": row["refund"]})
        refunded_at = sale.head.at
        if text := sale.head.cells.get("refunded_at", "").strip():
            try:
                refunded_at = max(self.reader.dates.instant(text), sale.head.at)
            except CellError:
                refunded_at = sale.head.at
        try:
            refund_in = RefundIn.model_validate(
                {
                    "source": self.source,
                    "external_id": f"{sale.key}/refund",
                    "order_id": order_id,
                    "refunded_at": refunded_at,
                    "reason": (sale.head.reason or "refund")[:255],
                    "lines": lines,
                }
            )
            with session.begin_nested():
                written = orders.record_refund(
                    session=session, refund_in=refund_in, import_run_id=self.run_id
                )
        except (PatronError, ValidationError) as exc:
            problem = exc.message if isinstance(exc, PatronError) else str(exc)
            column = self.cols.header("status") or self.cols.header("refund_amount")
            for _n, row in sale.refund_rows:
                outcome.notes.append(
                    Note(row["row"], "order_invalid", column, "", facts={"problem": problem})
                )
            if isinstance(exc, IdempotencyConflict):
                return REJECTED
            return REJECTED
        return ACCEPTED if written.created else DUPLICATE

    # -- returns (imports/returns.py) ---------------------------------------------------------

    def write_returns(self, session: Session, groups: list[list[Any]]) -> _Outcome:
        """One batch of return groups, oldest first (see ``imports.returns``)."""
        from patron.imports.returns import write_returns

        return write_returns(self, session, groups)
