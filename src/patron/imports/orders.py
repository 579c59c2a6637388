"""Importing order lines: read the file into the run's staging area, then write each order
whole (newest first), then each return (oldest first). See ``staging`` for why.

What a row is:

- a **sale line** (positive quantity) of the order its order id names;
- a **return line**: a negative quantity, or an order id a cancellation pattern marks
  (UCI's ``C536379``). It takes back its own amount (quantity × price, less its discount):
  from the sale it undoes when that is in Patron, else as a return without a known sale;
- a line of an order the status column says never sold (已取消, 交易关闭): nothing is kept;
- a line whose order is refunded (已退款) or partly refunded (部分退款, a 售后状态 or 退款金额
  column): its sale, and a refund of it (all of the line, or the amount the row gives);
- a totals row at the bottom (合计): kept aside, not a sale.

A flaw in a line (its quantity, its price, its SKU) rejects that line alone; the order keeps
its other lines. A flaw in an order-level field (its time, the customer's identity, the
store, the status) rejects every row of the order, each with the reason.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.errors import PatronError
from patron.core.money import milli_to_quantity, prorate_fen
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.schemas import ADDRESS_MAX_LENGTH, CustomerRef
from patron.imports import cells as values
from patron.imports.cells import CellError, Dates, ident
from patron.imports.columns import (
    AFTER_SALE_STATUSES,
    CHANNELS,
    GENDERS,
    NO_SALE,
    ORDER_STATUSES,
    PARTLY_REFUNDED,
    PAYMENT_METHODS,
    REFUNDED,
    TOTALS_WORDS,
    ColumnMap,
    lookup_value,
    normalise_header,
)
from patron.imports.messages import SEVERITY_WARNING, Note
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
    Staging,
    pack,
    unpack,
)
from patron.orders import returns
from patron.orders import service as orders
from patron.orders.exceptions import IdempotencyConflict
from patron.orders.models import Channel, PaymentMethod
from patron.orders.schemas import MAX_LINES, OrderIn, OrderLineIn, RefundIn, ReturnLineIn

# Order-level fields: read from an order's first row when the order is written.
HEAD_TARGETS = (
    "ordered_at",
    "store_code",
    "store_name",
    "payment_method",
    "channel",
    "status",
    "original_order_id",
    "phone",
    "member_card",
    "external_account",
    "email",
    "wechat_openid",
    "wechat_unionid",
    "wechat_appid",
    "customer_name",
    "gender",
    "city",
    "address",
    "country",
    "province",
    "cashier",
    "order_discount",
    "total",
    "currency",
    "refunded_at",
)
_IDENTITY_TARGETS = (
    "phone",
    "member_card",
    "external_account",
    "email",
    "wechat_openid",
    "wechat_unionid",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAGE_CHUNK = 5000

Tick = Callable[[str, int, int, int], None]  # (stage, done, total, rows)
_M = TypeVar("_M", bound=BaseModel)


def built(model: type[_M], **values: Any) -> _M:
    """An instance of ``model`` holding ``values`` (every field), as ``model_construct``
    makes it but without its per-field work: for data already checked field by field."""
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class _LineFlaw(Exception):
    def __init__(self, target: str, text: str, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.target, self.text, self.code, self.facts = target, text, code, facts


# ======================================================================== reading the file


class OrderRows:
    """Reads order rows into the staging area: each line parsed, order-level cells kept."""

    def __init__(self, cols: ColumnMap, options: ImportOptions) -> None:
        self.cols = cols
        self.options = options
        settings = get_settings()
        self.zone = settings.zone
        self.dates = Dates(day_first=options.day_first, zone=self.zone)
        self.cancel_re = re.compile(options.cancel_pattern)
        self.status_map = {normalise_header(k): v for k, v in options.status_map.items()}
        index = cols.index
        self.i_order = index["order_id"]
        self.i_sku = index["sku"]
        self.i_qty = index["quantity"]
        self.i_price = index.get("unit_price")
        self.i_amount = index.get("amount")
        self.i_discount = index.get("discount")
        self.i_name = index.get("product_name")
        self.i_date = index["ordered_at"]
        self.i_store = index.get("store_code")
        self.i_store_name = index.get("store_name")
        self.i_status = index.get("status")
        self.i_after = index.get("after_sale_status")
        self.i_refund = index.get("refund_amount")
        self.i_refunded_at = index.get("refunded_at")
        self.i_odisc = index.get("order_discount")
        self.i_total = index.get("total")
        self.head_targets = tuple(t for t in HEAD_TARGETS if t in index)
        self.head_index = [index[t] for t in self.head_targets]
        self.day_cache: dict[int, str] = {}

    def header(self, target: str) -> str:
        return self.cols.header(target)

    def _day(self, at: datetime) -> str:
        return at.astimezone(self.zone).date().isoformat()

    def _state(self, cells: Sequence[str]) -> str:
        if self.i_status is None:
            return ""
        text = cells[self.i_status].strip()
        if not text:
            return ""
        folded = normalise_header(text)
        meaning = self.status_map.get(folded) or ORDER_STATUSES.get(folded)
        return meaning or "?"

    def stage(
        self, table: Any, staging: Staging, tick: Tick, *, tick_every: int = 20_000
    ) -> dict[str, int]:
        """Read every data row of ``table`` into ``staging``; returns what was read."""
        pending: list[tuple[Any, ...]] = []
        notes: list[Note] = []
        counts = {"rows": 0, "totals_rows": 0}
        for number, cells in table.rows():
            counts["rows"] += 1
            staged = self.read(number, cells, notes, staging)
            if staged is not None:
                pending.append(staged)
            if len(pending) >= _STAGE_CHUNK:
                staging.add_rows(pending)
                pending.clear()
            if notes and len(notes) >= _STAGE_CHUNK:
                staging.add_notes(notes)
                notes.clear()
            if counts["rows"] % tick_every == 0:
                done, total = table.progress()
                tick("reading", done, total, counts["rows"])
        if pending:
            staging.add_rows(pending)
        if notes:
            staging.add_notes(notes)
        counts["totals_rows"] = int(staging.query("SELECT count(*) FROM totals")[0][0])
        counts["rows"] -= counts["totals_rows"]
        done, total = table.progress()
        tick("reading", total, total, counts["rows"])
        return counts

    def _totals_row(self, number: int, cells: Sequence[str], staging: Staging) -> bool:
        """A 合计 row at the bottom: its first non-blank cell says so."""
        first = next((c.strip() for c in cells if c.strip()), "")
        if normalise_header(first) not in TOTALS_WORDS:
            return False
        amount = None
        for i in (self.i_total, self.i_amount):
            if i is not None and cells[i].strip():
                try:
                    amount = values.fen(cells[i].strip())
                except CellError:
                    amount = None
                break
        staging.add_totals_row(number, amount, first)
        return True

    def read(
        self, number: int, cells: list[str], notes: list[Note], staging: Staging
    ) -> tuple[Any, ...] | None:
        """One row as a staged tuple (see ``staging.ROW_COLUMNS``), its notes into ``notes``."""
        key = cells[self.i_order].strip()
        if "." in key:
            key = ident(key)
        if (not key or normalise_header(key) in TOTALS_WORDS) and self._totals_row(
            number, cells, staging
        ):
            return None
        head = pack([cells[i] for i in self.head_index])
        store = ""
        if self.i_store is not None:
            store = cells[self.i_store].strip()
        if not store and self.i_store_name is not None:
            store = cells[self.i_store_name].strip()
        at_micros = day = None
        try:
            at = self.dates.instant(cells[self.i_date])
            at_micros, day = _micros(at), self._day(at)
        except CellError:
            pass  # an order-level field: judged on the order's first row
        state = self._state(cells)
        odisc = 0
        if self.i_odisc is not None and (text := cells[self.i_odisc].strip()):
            try:
                odisc = abs(values.fen(text))
            except CellError:
                odisc = 0  # judged on the order's first row
        if not key:
            notes.append(Note(number, "order_id_empty", self.header("order_id")))
            return (number, f"\x00{number}", BAD, at_micros, day, store, None, None, None,
                    None, None, None, 0, None, odisc, state, head, REJECTED, None, 0)  # fmt: skip
        try:
            line = self._line(number, cells, key, state, notes)
        except _LineFlaw as flaw:
            facts = dict(flaw.facts)
            notes.append(Note(number, flaw.code, self.header(flaw.target), flaw.text, facts=facts))
            return (number, key, BAD, at_micros, day, store, None, None, None, None, None,
                    None, 0, None, odisc, state, head, REJECTED, None, 0)  # fmt: skip
        kind, sku, name, qty, price, amount, discount, refund = line
        refund_day = day
        if refund and self.i_refunded_at is not None and cells[self.i_refunded_at].strip():
            try:
                refund_day = self._day(self.dates.instant(cells[self.i_refunded_at]))
            except CellError:
                refund_day = day  # judged when the refund is written
        status = NOSALE if kind == NO_SALE_KIND else ACCEPTED
        return (number, key, kind, at_micros, day, store, sku, name, qty, price, amount,
                discount, refund, refund_day, odisc, state, head, status, None, 0)  # fmt: skip

    def _line(
        self, number: int, cells: Sequence[str], key: str, state: str, notes: list[Note]
    ) -> tuple[str, str, str | None, int, int, int, int, int]:
        """(kind, sku, name, quantity, unit price, amount, discount, refund) of a line."""
        sku = cells[self.i_sku].strip()
        if "." in sku:
            sku = ident(sku)
        if not sku:
            raise _LineFlaw("sku", "", "sku_empty")
        if len(sku) > 64:
            raise _LineFlaw("sku", sku, "line_too_long", max=64)
        text = cells[self.i_qty].strip()
        if not text:
            raise _LineFlaw("quantity", "", "quantity_empty")
        try:
            qty = values.quantity_milli(text)
        except CellError as exc:
            raise _LineFlaw("quantity", text, exc.code) from None
        if qty == 0:
            raise _LineFlaw("quantity", text, "quantity_zero")
        price = amount = None
        price_text = amount_text = ""
        if self.i_price is not None and (price_text := cells[self.i_price].strip()):
            try:
                price = values.money(price_text)
            except CellError as exc:
                raise _LineFlaw("unit_price", price_text, exc.code) from None
        if self.i_amount is not None and (amount_text := cells[self.i_amount].strip()):
            try:
                amount = values.fen(amount_text)
            except CellError as exc:
                raise _LineFlaw("amount", amount_text, exc.code) from None
        discount = 0
        if self.i_discount is not None and (discount_text := cells[self.i_discount].strip()):
            try:
                discount = abs(values.fen(discount_text))
            except CellError as exc:
                raise _LineFlaw("discount", discount_text, exc.code) from None
        negative = qty < 0 or (amount is not None and amount < 0)
        qty = abs(qty)
        if price is None:
            if amount is None:
                target = "unit_price" if self.i_price is not None else "amount"
                raise _LineFlaw(target, "", "price_empty")
            amount = abs(amount)
            # Only the line's amount is known: the unit price is amount ÷ quantity (rounded
            # half up), and the amount is kept as given.
            unit = (2 * (amount + discount) * 1000 + qty) // (2 * qty)
        else:
            if price.units < 0:
                raise _LineFlaw("unit_price", price_text, "price_negative")
            unit = price.fen()
            gross = price.times(qty)
            if discount > gross:
                raise _LineFlaw("discount", values.format_fen(discount), "discount_too_large")
            amount = gross - discount if amount is None else abs(amount)
            if price.finer_than_fen:
                notes.append(
                    Note(
                        number,
                        "rounded",
                        self.header("unit_price"),
                        price_text,
                        facts={"amount": values.format_fen(amount)},
                        severity=SEVERITY_WARNING,
                    )
                )
        if amount > values.MAX_FEN:
            raise _LineFlaw("amount", amount_text or price_text, "amount_too_large")
        name = cells[self.i_name].strip()[:200] or None if self.i_name is not None else None
        if state == NO_SALE:
            return NO_SALE_KIND, sku, name, qty, unit, amount, discount, 0
        if negative or self.cancel_re.search(key):
            return RETURN, sku, name, qty, unit, amount, discount, 0
        return SALE, sku, name, qty, unit, amount, discount, self._refund(cells, state, amount)

    def _refund(self, cells: Sequence[str], state: str, amount: int) -> int:
        """The money a sale line's row says was refunded: 0, an amount, or -1 (all of it)."""
        given = None
        if self.i_refund is not None and (text := cells[self.i_refund].strip()):
            try:
                given = abs(values.fen(text))
            except CellError as exc:
                raise _LineFlaw("refund_amount", text, exc.code) from None
            if given > amount:
                raise _LineFlaw(
                    "refund_amount",
                    text,
                    "refund_too_large",
                    refund=values.format_fen(given),
                    paid=values.format_fen(amount),
                )
        after = None
        if self.i_after is not None and (text := cells[self.i_after].strip()):
            known, after = lookup_value(AFTER_SALE_STATUSES, text)
            if not known:
                raise _LineFlaw("after_sale_status", text, "after_sale_unknown")
        if after is True:
            return given if given is not None and given < amount else -1
        if after is False:
            return 0
        if given is not None:
            return given if given < amount else -1
        if state == REFUNDED:
            return -1
        if state == PARTLY_REFUNDED:
            raise _LineFlaw("status", cells[self.i_status or 0].strip(), "partly_refunded_unknown")
        return 0


# ======================================================================== writing orders


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

    def set(self, row: Any, status: str, rstatus: str | None = None, anon: int = 0) -> None:
        self.statuses.append((status, rstatus, anon, row["row"]))
        self.rows.append(row["row"])


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
        self.currency = get_settings().currency

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
                return catalog.ensure_default_store(session=session)
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

    def _store_target(self) -> str:
        return "store_code" if "store_code" in self.cols.index else "store_name"

    def _person(self, cells: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for target in _IDENTITY_TARGETS:
            text = ident(cells.get(target, ""))
            if text:
                found[target] = text
        if not found:
            return found
        if "external_account" in found:
            found["external_system"] = self.source
        if "wechat_openid" in found and (appid := cells.get("wechat_appid", "").strip()):
            found["wechat_appid"] = appid
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
        try:
            return CustomerRef.model_validate(person)
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
        currency = cells.get("currency", "").strip().upper()
        confirmed = (self.options.currency or "").upper()
        if currency and currency not in (self.currency, confirmed):
            raise _OrderLevelFlaw("currency", currency, "currency_other", shop=self.currency)
        person = self._person(cells)
        store_text = head["store"] or ""
        extra: dict[str, Any] = {}
        payment = channel = None
        if text := cells.get("payment_method", "").strip():
            payment = PaymentMethod(lookup_value(PAYMENT_METHODS, text)[1] or "other")
        if text := cells.get("channel", "").strip():
            channel = Channel(lookup_value(CHANNELS, text)[1] or "other")
        for target in ("country", "province", "city", "cashier"):
            if text := cells.get(target, "").strip():
                extra[target] = text[:60]
        if head["odisc"]:
            extra["order_discount_fen"] = head["odisc"]
        elif text := cells.get("order_discount", "").strip():
            try:
                values.fen(text)
            except CellError as exc:
                raise _OrderLevelFlaw("order_discount", text, exc.code) from None
        reason = cells.get("status", "").strip()
        return _Head(
            at=_instant(head["at"]),
            store=None,
            store_text=store_text,
            person=person,
            extra=extra,
            original=ident(cells.get("original_order_id", "")),
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
                lines=[
                    built(
                        OrderLineIn,
                        sku=r["sku"],
                        name=r["name"],
                        quantity=milli_to_quantity(r["qty"]),
                        unit_price_fen=r["price"],
                        discount_fen=r["discount"],
                        amount_fen=r["amount"],
                    )
                    for r in sale_rows
                ],
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

    def write_sales(self, session: Session, groups: list[list[Any]]) -> _Outcome:
        """One batch of orders: each written whole, with the refunds their rows ask for."""
        sales, outcome = self.prepare_sales(groups)
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

    # -- returns --------------------------------------------------------------------------

    def write_returns(self, session: Session, groups: list[list[Any]]) -> _Outcome:
        """One batch of return groups (each a return order's lines), oldest first."""
        outcome = _Outcome()
        ready: list[tuple[list[Any], _Head, CustomerRef | None]] = []
        for rows in groups:
            return_rows = [r for r in rows if r["kind"] == RETURN and r["status"] != REJECTED]
            if not return_rows:
                continue
            try:
                head = self._head(session, rows)
                customer = self._customer(head.person)
            except _OrderLevelFlaw as flaw:
                self._flaw(return_rows, flaw, outcome)
                continue
            ready.append((return_rows, head, customer))
        if not ready:
            return outcome
        resolution = customers.resolve_customers(
            session=session,
            refs=[customer for _rows, _head, customer in ready],
            contexts=[
                customers.ResolveContext(
                    source=self.source,
                    label=f"return {self.source}/{rows[0]['key']}",
                    at=head.at,
                    channel=catalog.channel_for_store_kind(head.shop.kind),
                    store_id=head.shop.id,
                )
                for rows, head, _customer in ready
            ],
        )
        for (rows, head, _customer), customer_id in zip(
            ready, resolution.customer_ids, strict=True
        ):
            try:
                with session.begin_nested():
                    status = self._return_group(session, rows, head, customer_id, outcome)
            except (PatronError, ValidationError) as exc:
                problem = exc.message if isinstance(exc, PatronError) else str(exc)
                for row in rows:
                    outcome.set(row, REJECTED)
                    outcome.notes.append(
                        Note(row["row"], "return_invalid", self.cols.header("order_id"),
                             row["key"], facts={"problem": problem})
                    )  # fmt: skip
                continue
            for row in rows:
                outcome.set(row, status, anon=0 if customer_id else 1)
        return outcome

    def _return_group(
        self,
        session: Session,
        rows: list[Any],
        head: _Head,
        customer_id: int | None,
        outcome: _Outcome,
    ) -> str:
        key = rows[0]["key"]
        if orders.get_refund_by_key(session=session, source=self.source, external_id=key) or (
            returns.list_returns(session=session, source=self.source, external_id=key, limit=1)
        ):
            return DUPLICATE
        taken = returns.Taken()
        planned: dict[int, list[dict[str, Any]]] = defaultdict(list)
        unmatched: list[ReturnLineIn] = []
        original = None
        if head.original:
            original = orders.get_order_by_key(
                session=session, source=self.source, external_id=head.original
            )
        for n, row in enumerate(rows, start=1):
            target = None
            if head.original:
                target = self._in_original(session, original, customer_id, row, head, taken)
                if target is None:
                    code = (
                        "return_other_customer"
                        if original is not None and original.customer_id != customer_id
                        else "return_unmatched_original"
                    )
                    outcome.notes.append(
                        Note(row["row"], code, self.cols.header("original_order_id"),
                             head.original, severity=SEVERITY_WARNING)
                    )  # fmt: skip
            else:
                target = returns.find_sale_for_return(
                    session=session,
                    customer_id=customer_id,
                    sku=row["sku"],
                    quantity_milli=row["qty"],
                    amount_fen=row["amount"],
                    at=head.at,
                    taken=taken,
                )
            if target is not None:
                taken.add(target.line_id, row["qty"], row["amount"])
                planned[target.order_id].append(
                    {
                        "line_no": target.line_no,
                        "quantity": milli_to_quantity(row["qty"]),
                        "amount_fen": row["amount"],
                    }
                )
                continue
            unmatched.append(
                ReturnLineIn.model_validate(
                    {
                        "source": self.source,
                        "external_id": key,
                        "line_no": n,
                        "store_code": head.shop.code,
                        "channel": head.channel,
                        "customer_id": customer_id,
                        "returned_at": head.at,
                        "sku": row["sku"],
                        "name": row["name"],
                        "quantity": milli_to_quantity(row["qty"]),
                        "amount_fen": row["amount"],
                        "reason": (head.reason or key)[:255],
                    }
                )
            )
        for k, (order_id, lines) in enumerate(planned.items(), start=1):
            refund_in = RefundIn.model_validate(
                {
                    "source": self.source,
                    "external_id": key if k == 1 else f"{key}/{k}",
                    "order_id": order_id,
                    "refunded_at": head.at,
                    "reason": (head.reason or key)[:255],
                    "store_code": head.shop.code,
                    "lines": _merge_lines(lines),
                }
            )
            orders.record_refund(session=session, refund_in=refund_in, import_run_id=self.run_id)
        returns.record_returns(session=session, returns_in=unmatched, import_run_id=self.run_id)
        return ACCEPTED

    def _in_original(
        self,
        session: Session,
        original: Any,
        customer_id: int | None,
        row: Any,
        head: _Head,
        taken: returns.Taken,
    ) -> returns.SaleLine | None:
        """The line of the order an original-order column names, if it is this customer's
        (or both are anonymous), no later than the return, with enough left."""
        if original is None or original.ordered_at > head.at:
            return None
        if customer_id is not None:
            owner = customers.active_customer_id(session=session, customer_id=customer_id)
            if original.customer_id != owner:
                return None
        elif original.customer_id is not None:
            return None
        line_ids = orders.line_ids(session=session, order_id=original.id)
        for line in original.lines:
            if line.sku != row["sku"]:
                continue
            line_id = line_ids[line.line_no]
            qty_claimed, amount_claimed = taken.by_line.get(line_id, (0, 0))
            qty_left = int(line.quantity * 1000) - int(line.refunded_quantity * 1000) - qty_claimed
            paid = line.amount_fen  # as a refund reckons it, less any order discount share
            amount_left = paid - line.refunded_fen - amount_claimed
            if qty_left >= row["qty"] and amount_left >= row["amount"]:
                return returns.SaleLine(original.id, line.line_no, line_id)
        return None


def _merge_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refund lines of one return against one order: repeated sale lines added together."""
    merged: dict[int, dict[str, Any]] = {}
    for line in lines:
        found = merged.get(line["line_no"])
        if found is None:
            merged[line["line_no"]] = dict(line)
        else:
            found["quantity"] += line["quantity"]
            found["amount_fen"] += line["amount_fen"]
    return list(merged.values())
