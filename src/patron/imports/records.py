"""Importing customers (sign-ups) and products: one row, one record, written in batches of
rows in file order (a batch's checkpoint is its last row)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.clock import parse_date
from patron.core.errors import PatronError
from patron.customers import service as customers
from patron.customers.schemas import CustomerCreate
from patron.imports import cells as values
from patron.imports.cells import CellError, Dates, ident
from patron.imports.columns import GENDERS, ColumnMap, lookup_value
from patron.imports.messages import SEVERITY_WARNING, Note
from patron.imports.schemas import ImportOptions

_TAG_SPLIT = re.compile(r"[,，;；|、/]+")
_IDENTITY_TARGETS = (
    "phone",
    "member_card",
    "external_account",
    "email",
    "wechat_openid",
    "wechat_unionid",
)
_PROFILE_TARGETS = ("name", "gender", "city", "address")
# Schema field → the importer's target, to put an error on the file's column.
_CUSTOMER_FIELDS = {
    **{t: t for t in _IDENTITY_TARGETS},
    "external_system": "external_account",
    "wechat_appid": "wechat_appid",
    "name": "name",
    "gender": "gender",
    "city": "city",
    "address": "address",
    "birthday": "birthday",
    "home_store_code": "home_store_code",
    "signup_channel": "signup_channel",
    "signed_up_at": "signed_up_at",
    "tags": "tags",
}
_PRODUCT_FIELDS = {
    "sku": "sku",
    "name": "name",
    "category_path": "category",
    "brand": "brand",
    "list_price_fen": "list_price",
    "shelf_life_days": "shelf_life",
}


class _Problem(Exception):
    def __init__(self, note: Note) -> None:
        super().__init__(note.code)
        self.note = note


@dataclass(slots=True)
class Batch:
    """Rows read for one transaction: their records, and the rows already refused."""

    last_row: int = 0
    rows: int = 0
    items: list[tuple[int, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass(slots=True)
class Written:
    accepted: int = 0
    duplicates: int = 0
    created: int = 0
    updated: int = 0
    notes: list[Note] = field(default_factory=list)


class RecordRows:
    """One row, one record: batches are simply every ``batch_rows`` rows."""

    fields: ClassVar[dict[str, str]] = {}

    def __init__(self, cols: ColumnMap, options: ImportOptions, source: str) -> None:
        self.cols = cols
        self.options = options
        self.source = source
        from patron.core.settings import get_settings

        self.dates = Dates(day_first=options.day_first, zone=get_settings().zone)
        self.warnings: list[Note] = []  # of the row being read

    def get(self, cells: Sequence[str], target: str) -> str:
        position = self.cols.index.get(target)
        return cells[position].strip() if position is not None else ""

    def problem(self, row: int, target: str, value: str, code: str, **facts: Any) -> _Problem:
        return _Problem(Note(row, code, self.cols.header(target), value, facts=facts))

    def batches(self, table: Any, *, resume_after: int, batch_rows: int) -> Iterator[Batch]:
        batch = Batch()
        for number, cells in table.rows(after_row=resume_after):
            batch.rows += 1
            batch.last_row = number
            self.warnings = []
            try:
                batch.items.append((number, self.record(number, cells)))
                batch.notes.extend(self.warnings)
            except _Problem as exc:
                batch.notes.append(exc.note)
            except ValidationError as exc:
                batch.notes.extend(self.rejected(exc, number, cells))
            if batch.rows >= batch_rows:
                yield batch
                batch = Batch()
        if batch.rows:
            yield batch

    def record(self, row: int, cells: list[str]) -> Any:
        raise NotImplementedError

    def write(self, session: Session, batch: Batch) -> Written:
        raise NotImplementedError

    def rejected(self, exc: ValidationError, row: int, cells: list[str]) -> list[Note]:
        """Pydantic's errors as notes on the file's cells."""
        notes = []
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            if loc and loc[0] == "identities" and len(loc) > 1:
                loc = loc[1:]
            target = self.fields.get(loc[0], "") if loc else ""
            message = str(error.get("msg", "invalid"))
            for prefix in ("Value error, ", "Assertion failed, "):
                message = message.removeprefix(prefix)
            value = self.get(cells, target) if target else ""
            notes.append(
                Note(
                    row,
                    "identity_invalid" if target in _IDENTITY_TARGETS else "invalid",
                    self.cols.header(target) if target else "",
                    value,
                    facts={"problem": message},
                )
            )
        return notes

    def write_each(
        self, session: Session, items: list[tuple[int, Any]], call: Callable[[list[Any]], Any]
    ) -> tuple[list[Any], list[Note]]:
        """Call the bulk service; if it refuses the batch, find the rows it refuses."""
        try:
            with session.begin_nested():
                return [call([record for _, record in items])], []
        except PatronError:
            pass
        results: list[Any] = []
        notes: list[Note] = []
        for row, record in items:
            try:
                with session.begin_nested():
                    results.append(call([record]))
            except PatronError as exc:
                name = getattr(exc, "field", "").rsplit(".", 1)[-1]
                target = self.fields.get(name, "")
                notes.append(
                    Note(
                        row,
                        "invalid",
                        self.cols.header(target) if target else "",
                        "",
                        facts={"problem": exc.message},
                    )
                )
        return results, notes


class CustomerRows(RecordRows):
    """Sign-ups: one customer per row, found by any identity it carries. A customer is known
    since their earliest evidence: an older sign-up date moves theirs back."""

    fields = _CUSTOMER_FIELDS

    def person(self, cells: Sequence[str], row: int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for target in _IDENTITY_TARGETS:
            position = self.cols.index.get(target)
            if position is not None and (value := ident(cells[position])):
                found[target] = value
        if not found:
            return found
        if "external_account" in found:
            found["external_system"] = self.source
        if "wechat_openid" in found and (appid := self.get(cells, "wechat_appid")):
            found["wechat_appid"] = appid
        for target in ("name", "city", "address"):
            if text := self.get(cells, target):
                found[target] = text
        if gender_text := self.get(cells, "gender"):
            known, gender = lookup_value(GENDERS, gender_text)
            if not known:
                raise self.problem(row, "gender", gender_text, "gender_invalid")
            if gender:
                found["gender"] = gender
        return found

    def _date(self, cells: Sequence[str], row: int, target: str) -> datetime | None:
        text = self.get(cells, target)
        if not text:
            return None
        try:
            return self.dates.instant(text)
        except CellError as exc:
            raise self.problem(row, target, text, exc.code) from None

    def record(self, row: int, cells: list[str]) -> CustomerCreate:
        person = self.person(cells, row)
        if not person:
            raise _Problem(Note(row, "no_identity"))
        identities = {k: person.pop(k) for k in list(person) if k not in _PROFILE_TARGETS}
        data: dict[str, Any] = {"identities": identities, **person}
        birthday_text = self.get(cells, "birthday")
        if birthday_text:
            try:  # a date, not an instant: no zone moves it
                data["birthday"] = parse_date(birthday_text, day_first=self.options.day_first)
            except ValueError:
                raise self.problem(row, "birthday", birthday_text, "date_unreadable") from None
        signed_up = self._date(cells, row, "signed_up_at")
        if signed_up is not None:
            data["signed_up_at"] = signed_up
        for target in ("home_store_code", "signup_channel"):
            if text := self.get(cells, target):
                data[target] = text
        if text := self.get(cells, "tags"):
            data["tags"] = list(
                dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(text) if t.strip())
            )
        return CustomerCreate.model_validate(data)

    def write(self, session: Session, batch: Batch) -> Written:
        written = Written()
        stores = catalog.stores_by_code(session=session)
        items = []
        for row, read in batch.items:
            customer_in = read
            code = customer_in.home_store_code
            if code and code not in stores:
                found = catalog.find_store(session=session, code_or_name=code)
                if found is None:
                    written.notes.append(
                        Note(row, "home_store_unknown", self.cols.header("home_store_code"), code)
                    )
                    continue
                customer_in = customer_in.model_copy(update={"home_store_code": found.code})
            items.append((row, customer_in))
        if items:
            results, refused = self.write_each(
                session,
                items,
                lambda records: customers.register_customers(
                    session=session, customers_in=records, source=self.source
                ),
            )
            written.notes.extend(refused)
            for outcome in (o for outcomes in results for o in outcomes):
                if outcome.created:
                    written.accepted += 1
                    written.created += 1
                else:
                    # Known by one of its identities: blanks filled, nothing duplicated.
                    written.duplicates += 1
        return written


class ProductRows(RecordRows):
    """Products by SKU; a later row of the same SKU wins, as in the catalogue service."""

    fields = _PRODUCT_FIELDS

    def record(self, row: int, cells: list[str]) -> ProductIn:
        data: dict[str, Any] = {
            "sku": ident(self.get(cells, "sku")),
            "name": self.get(cells, "name"),
        }
        if not data["sku"]:
            raise self.problem(row, "sku", "", "sku_empty")
        if not data["name"]:
            raise self.problem(row, "name", "", "name_empty")
        path = self.get(cells, "category")
        levels = [self.get(cells, t) for t in ("category_1", "category_2", "category_3")]
        if any(levels):
            path = "/".join([path, *levels] if path else levels)
        if path:
            data["category_path"] = path
        if brand := self.get(cells, "brand"):
            data["brand"] = brand
        if text := self.get(cells, "list_price"):
            try:
                price = values.money(text)
            except CellError as exc:
                raise self.problem(row, "list_price", text, exc.code) from None
            data["list_price_fen"] = price.fen()
            if price.finer_than_fen:
                self.warnings.append(
                    Note(
                        row,
                        "rounded",
                        self.cols.header("list_price"),
                        text,
                        facts={"amount": values.format_fen(price.fen())},
                        severity=SEVERITY_WARNING,
                    )
                )
        if text := self.get(cells, "shelf_life"):
            try:
                data["shelf_life_days"] = values.shelf_life_days(text)
            except CellError as exc:
                raise self.problem(row, "shelf_life", text, exc.code) from None
        return ProductIn.model_validate(data)

    def write(self, session: Session, batch: Batch) -> Written:
        written = Written()
        results, notes = self.write_each(
            session,
            batch.items,
            lambda records: catalog.upsert_products(session=session, products_in=records),
        )
        written.notes = notes
        ok = len(batch.items) - len(notes)
        written.created = sum(r.created for r in results)
        written.updated = sum(r.updated for r in results)
        written.accepted = written.created + written.updated
        # Unchanged products, and earlier rows of a SKU repeated in the batch.
        written.duplicates = ok - written.accepted
        return written
