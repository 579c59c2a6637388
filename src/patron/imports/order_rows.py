"""Reading an orders file into the run's staging area: each row parsed once.

What a row is:

- a **sale line** (positive quantity) of the order its order id names;
- a **return line**: a negative quantity, or an order id a cancellation pattern marks
  (UCI's ``C536379``). It takes back its own amount (quantity × price, less its discount);
- a line of an order the status column says never sold (已取消, 交易关闭): nothing is kept;
- a line whose order is refunded (已退款) or partly refunded (部分退款, a 售后状态 or 退款金额
  column): its sale, and a refund of it (all of the line, or the amount the row gives);
- a totals row at the bottom (合计): kept aside, not a sale.

A flaw in a line (its quantity, its price, its SKU) is noted against that line alone; the
order-level fields (time, identity, store, status) are judged when the order is written
(``imports.orders``), on the order's first row.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from patron.core.settings import get_settings
from patron.imports import cells as values
from patron.imports.cells import CellError, Dates, ident
from patron.imports.columns import (
    AFTER_SALE_STATUSES,
    NO_SALE,
    ORDER_STATUSES,
    PARTLY_REFUNDED,
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
    NO_SALE_KIND,
    NOSALE,
    REJECTED,
    RETURN,
    SALE,
    Staging,
    pack,
)

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
IDENTITY_TARGETS = (
    "phone",
    "member_card",
    "external_account",
    "email",
    "wechat_openid",
    "wechat_unionid",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGIT = re.compile(r"[0-9]")
_STAGE_CHUNK = 5000
_CACHED = 50_000  # distinct prices or quantities kept read

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
    delta = at - _EPOCH  # exact: a timedelta's parts are integers
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _totals_word(text: str) -> bool:
    """Whether ``text`` says 合计 (or total …); a plain ASCII order id folds by lowering alone."""
    if text.isascii() and text.isalnum():
        return text.lower() in TOTALS_WORDS
    if _DIGIT.search(text):  # no totals word holds a digit, and folding keeps every digit
        return False
    return normalise_header(text) in TOTALS_WORDS


class _LineFlaw(Exception):
    def __init__(self, target: str, text: str, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.target, self.text, self.code, self.facts = target, text, code, facts


# ======================================================================== reading the file


_V = TypeVar("_V")


def _read_once(cache: dict[str, _V], text: str, read: Callable[[str], _V], target: str) -> _V:
    """A cell's value, read once however many lines repeat its text (the cache is bounded:
    cleared when full). A flawed cell is never kept, so each of its lines is rejected."""
    found = cache.get(text)
    if found is None:
        try:
            found = read(text)
        except CellError as exc:
            raise _LineFlaw(target, text, exc.code) from None
        if len(cache) >= _CACHED:
            cache.clear()
        cache[text] = found
    return found


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
        # Whether a sale line's own cells may say it was refunded (else only its status).
        self._refund_cells = self.i_refund is not None or self.i_after is not None
        self.i_odisc = index.get("order_discount")
        self.i_total = index.get("total")
        self.head_targets = tuple(t for t in HEAD_TARGETS if t in index)
        self.head_index = [index[t] for t in self.head_targets]
        # The order-level cells of a row, as one C call (a tuple, even of one or none).
        self._head_cells: Callable[[Sequence[str]], Sequence[str]]
        if len(self.head_index) > 1:
            self._head_cells = operator.itemgetter(*self.head_index)
        else:
            self._head_cells = lambda cells: [cells[i] for i in self.head_index]
        self._states: dict[str, str] = {}
        self._afters: dict[str, tuple[bool, Any]] = {}
        self._whens: dict[str, tuple[int, str]] = {}
        # An export repeats a few hundred prices, quantities and amounts over and over: each
        # distinct cell is read once (bounded, so a file of all-different values costs no
        # memory).
        self._prices: dict[str, values.Money] = {}
        self._quantities: dict[str, int] = {}
        self._fens: dict[str, int] = {}  # amounts, discounts and refunds, in fen
        self._pairs: dict[tuple[str, str], tuple[int, values.Money | None, int, int]] = {}
        # The last row's order id (None: none yet), and whether the cancellation pattern
        # marks it (see ``read``).
        self._last_key: str | None = None
        self._last_cancel = False
        # The last row's order-level cells and what they said (see ``read``).
        self._last_cells: Sequence[str] | None = None
        self._last_head: tuple[bytes, str, int | None, str | None, str, int] = (
            b"",
            "",
            None,
            None,
            "",
            0,
        )

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
        meaning = self._states.get(text)
        if meaning is None:
            folded = normalise_header(text)
            meaning = self.status_map.get(folded) or ORDER_STATUSES.get(folded) or "?"
            if len(self._states) < 10_000:  # a file has a handful of statuses
                self._states[text] = meaning
        return meaning

    def _when(self, text: str) -> tuple[int, str] | tuple[None, None]:
        """(UTC microseconds, business day) of a time cell, or Nones when it cannot be read;
        an order's lines repeat its time."""
        found = self._whens.get(text)
        if found is None:
            try:
                at = self.dates.instant(text)
            except CellError:
                return None, None
            found = (_micros(at), self._day(at))
            if len(self._whens) > 200_000:
                self._whens.clear()
            self._whens[text] = found
        return found

    def stage(
        self, table: Any, staging: Staging, tick: Tick, *, tick_every: int = 20_000
    ) -> dict[str, int]:
        """Read every data row of ``table`` into ``staging``; returns what was read."""
        pending: list[tuple[Any, ...]] = []
        notes: list[Note] = []
        read, add = self.read, pending.append
        rows = 0
        for number, cells in table.rows():
            rows += 1
            staged = read(number, cells, notes, staging)
            if staged is not None:
                add(staged)
                if len(pending) >= _STAGE_CHUNK:
                    staging.add_rows(pending)
                    pending.clear()
            if notes and len(notes) >= _STAGE_CHUNK:
                staging.add_notes(notes)
                notes.clear()
            if rows % tick_every == 0:
                done, total = table.progress()
                tick("reading", done, total, rows)
        if pending:
            staging.add_rows(pending)
        if notes:
            staging.add_notes(notes)
        totals_rows = int(staging.query("SELECT count(*) FROM totals")[0][0])
        counts = {"rows": rows - totals_rows, "totals_rows": totals_rows}
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
        if key != self._last_key:
            # An order's lines repeat its id: whether it is a totals word (合计), and whether
            # the cancellation pattern marks it, are asked once per run of them. A blank id
            # or a totals word is asked again on every row (the row's other cells decide).
            if not key or _totals_word(key):
                if self._totals_row(number, cells, staging):
                    return None
                self._last_key = None
            else:
                self._last_key = key
            self._last_cancel = self.cancel_re.search(key) is not None
        head_cells = self._head_cells(cells)
        if head_cells == self._last_cells:
            # The order-level cells of the row before, as an order's lines repeat them: what
            # they say was read already.
            head, store, at_micros, day, state, odisc = self._last_head
        else:
            head, store, at_micros, day, state, odisc = self._last_head = self._head(
                head_cells, cells
            )
            self._last_cells = head_cells
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

    def _head(
        self, head_cells: Sequence[str], cells: Sequence[str]
    ) -> tuple[bytes, str, int | None, str | None, str, int]:
        """(packed order-level cells, store, UTC microseconds, day, state, order discount)
        of a row: what its order-level cells say."""
        store = ""
        if self.i_store is not None:
            store = cells[self.i_store].strip()
        if not store and self.i_store_name is not None:
            store = cells[self.i_store_name].strip()
        at_micros, day = self._when(cells[self.i_date])  # None: judged on the order's first row
        state = self._state(cells)
        odisc = 0
        if self.i_odisc is not None and (text := cells[self.i_odisc].strip()):
            try:
                odisc = abs(values.fen(text))
            except CellError:
                odisc = 0  # judged on the order's first row
        return pack(head_cells), store, at_micros, day, state, odisc

    def _line(  # noqa: C901, PLR0912 - every cell of a line, read in one pass in column order
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
        price_text = cells[self.i_price].strip() if self.i_price is not None else ""
        pair = self._pairs.get((text, price_text))
        if pair is not None:
            qty, price, unit, gross = pair
        else:
            qty, price, unit, gross = self._pair(text, price_text)
        amount = None
        amount_text = ""
        if self.i_amount is not None and (amount_text := cells[self.i_amount].strip()):
            amount = _read_once(self._fens, amount_text, values.fen, "amount")
        discount = 0
        if self.i_discount is not None and (discount_text := cells[self.i_discount].strip()):
            discount = _read_once(self._fens, discount_text, values.fen, "discount")
            discount = abs(discount)
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
        if negative or self._last_cancel:
            return RETURN, sku, name, qty, unit, amount, discount, 0
        if self._refund_cells or state in (REFUNDED, PARTLY_REFUNDED):
            return SALE, sku, name, qty, unit, amount, discount, self._refund(cells, state, amount)
        return SALE, sku, name, qty, unit, amount, discount, 0

    def _pair(self, text: str, price_text: str) -> tuple[int, values.Money | None, int, int]:
        """(quantity, unit price, unit price in fen, quantity × price in fen) of a line's
        quantity and price cells, each read once however many lines repeat the pair."""
        if not text:
            raise _LineFlaw("quantity", "", "quantity_empty")
        qty = _read_once(self._quantities, text, values.quantity_milli, "quantity")
        if qty == 0:
            raise _LineFlaw("quantity", text, "quantity_zero")
        price = None
        unit = gross = 0
        if price_text:
            price = _read_once(self._prices, price_text, values.money, "unit_price")
            unit, gross = price.fen(), price.times(abs(qty))
        if len(self._pairs) >= _CACHED:
            self._pairs.clear()
        self._pairs[(text, price_text)] = (qty, price, unit, gross)
        return qty, price, unit, gross

    def _refund(self, cells: Sequence[str], state: str, amount: int) -> int:
        """The money a sale line's row says was refunded: 0, an amount, or -1 (all of it)."""
        given = None
        if self.i_refund is not None and (text := cells[self.i_refund].strip()):
            given = _read_once(self._fens, text, values.fen, "refund_amount")
            given = abs(given)
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
            found = self._afters.get(text)
            if found is None:
                found = lookup_value(AFTER_SALE_STATUSES, text)
                if len(self._afters) < 10_000:  # a file has a handful of after-sale statuses
                    self._afters[text] = found
            known, after = found
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
