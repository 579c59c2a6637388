"""What an import is asked to do, and what it reports back."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from patron.core.schemas import Schema, ShortCode

ImportKind = Literal["customers", "products", "orders"]
Lang = Literal["zh", "en"]

# UCI Online Retail and many tills mark a cancellation as the invoice number prefixed "C".
DEFAULT_CANCEL_PATTERN = r"^C(?=\d)"
STATUS_MEANINGS = ("completed", "refunded", "partly_refunded", "cancelled")

# A tab is a delimiter, not whitespace to strip.
Delimiter = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)]


class ImportOptions(Schema):
    """How to read one file. Everything has a default that suits a plain export."""

    source: ShortCode = Field(
        default="import",
        description="Names the system the file came from; orders are unique per (source, id)",
    )
    encoding: str | None = Field(default=None, description="Overrides the detected encoding")
    delimiter: Delimiter | None = None
    sheet: str | None = Field(
        default=None, description="Worksheet name; the sheet with the kind's columns if left out"
    )
    mapping: dict[str, str] = Field(
        default_factory=dict, description="Field → the file's column, over the alias table"
    )
    day_first: bool = Field(default=False, description="Read 05/01/2024 as 5 January")
    cancel_pattern: str = Field(
        default=DEFAULT_CANCEL_PATTERN,
        description="Regular expression an order id matches when the row cancels an order",
    )
    status_map: dict[str, str] = Field(
        default_factory=dict,
        description="Status words of the file → completed, refunded, partly_refunded or "
        "cancelled, over the built-in table",
    )
    store_code: str | None = Field(
        default=None, description="Store for rows that name none; the default store if left out"
    )
    create_stores: bool = Field(
        default=False, description="Make the stores the file names that Patron lacks"
    )
    currency: CurrencyCode | None = Field(
        default=None,
        description="The file's currency, when it is not the shop's (imported as it is)",
    )
    batch_rows: int | None = Field(
        default=None,
        ge=1,
        description="Rows per transaction; settings.import_batch_rows if left out",
    )
    report_path: Path | None = Field(
        default=None,
        description="Where rejected rows go; <file>.<kind>-run<N>.rejects.csv if left out",
    )
    force: bool = Field(
        default=False, description="Read a file again although it was imported completely"
    )
    lang: Lang = Field(default="zh", description="Language of the report and the summary")

    @field_validator("cancel_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("status_map")
    @classmethod
    def _meanings(cls, value: dict[str, str]) -> dict[str, str]:
        for word, meaning in value.items():
            if meaning not in STATUS_MEANINGS:
                raise ValueError(
                    f"{word}={meaning}: a status means one of {', '.join(STATUS_MEANINGS)}"
                )
        return value


class Figures(Schema):
    """Rows and money of one day or one store (or the whole file), in fen."""

    rows: int = 0
    orders: int = 0
    lines: int = 0
    returns: int = 0
    net_fen: int = 0


class ReconciliationLine(Schema):
    """One day's or one store's figures: the file's own, what was left out and why, and what
    Patron holds from the file. ``difference_fen`` is zero when everything is accounted for."""

    key: str
    label: str = ""
    file: Figures
    rejected: Figures
    already_imported: Figures
    no_sale_rows: int = 0
    patron: Figures
    difference_fen: int
    difference_rows: int = 0


class Reconciliation(Schema):
    """The file's own totals beside what Patron holds from it, to the fen."""

    balanced: bool
    currency: str
    total: ReconciliationLine
    by_day: list[ReconciliationLine] = Field(default_factory=list)
    by_store: list[ReconciliationLine] = Field(default_factory=list)
    totals_rows: list[dict[str, object]] = Field(
        default_factory=list, description="The file's own totals rows (合计) and what they say"
    )
    unreadable_amount_rows: int = Field(
        default=0, description="Rejected rows whose amount could not be read (not in the sums)"
    )
    first_day: date | None = None
    last_day: date | None = None


class StoreProblem(Schema):
    """Rows rejected for one store the file names and Patron lacks (one message per store)."""

    store: str
    rows: int


class ImportSummary(Schema):
    """The outcome of one ``patron import``; row counts cover the whole run, resumes included."""

    run_id: int
    kind: ImportKind
    file_name: str
    outcome: Literal["completed", "already_imported", "unbalanced"]
    resumed_after_row: int = Field(
        default=0, description="Where the run resumed (a checkpoint); 0 for a fresh run"
    )
    rows_read: int
    rows_accepted: int = Field(description="Rows that were written (new or changed)")
    rows_rejected: int
    warnings: int = Field(default=0, description="Rows imported with a warning (see the report)")
    duplicates: int = Field(description="Rows already in Patron from an earlier import")
    refunds: int = Field(description="Rows that became refunds (counted in accepted)")
    returns_without_sale: int = Field(
        default=0, description="Return lines kept without a known sale (counted in accepted)"
    )
    no_sale: int = Field(default=0, description="Rows of orders cancelled before any sale")
    anonymous: int = Field(description="Sale rows with no customer identity (counted in accepted)")
    created: int = Field(default=0, description="Orders, customers or products created now")
    updated: int = Field(default=0, description="Customers or products updated now")
    rows_this_session: int = Field(default=0, description="Rows read by this invocation")
    seconds: float = 0.0
    report_path: str | None = None
    encoding: str | None = None
    delimiter: Delimiter | None = None
    sheet: str | None = None
    header_row: int = 1
    currency: str = "CNY"
    columns: dict[str, str] = Field(default_factory=dict, description="Field → the file's column")
    ignored_columns: list[str] = Field(default_factory=list)
    unknown_stores: list[StoreProblem] = Field(default_factory=list)
    created_stores: list[str] = Field(default_factory=list)
    reconciliation: Reconciliation | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_this_session / self.seconds if self.seconds > 0 else 0.0
