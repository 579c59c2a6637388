"""What an import is asked to do, and what it reports back."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from patron.core.schemas import Schema, ShortCode

ImportKind = Literal["customers", "products", "orders"]

# UCI Online Retail and many tills mark a cancellation as the invoice number prefixed "C".
DEFAULT_CANCEL_PATTERN = r"^C(?=\d)"

# A tab is a delimiter, not whitespace to strip.
Delimiter = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1)]


class ImportOptions(Schema):
    """How to read one file. Everything has a default that suits a plain export."""

    source: ShortCode = Field(
        default="import",
        description="Names the system the file came from; orders are unique per (source, id)",
    )
    encoding: str | None = Field(default=None, description="Overrides the detected encoding")
    delimiter: Delimiter | None = None
    sheet: str | None = Field(default=None, description="Worksheet name; the first if left out")
    mapping: dict[str, str] = Field(
        default_factory=dict, description="Field → the file's column, over the alias table"
    )
    day_first: bool = Field(default=False, description="Read 05/01/2024 as 5 January")
    cancel_pattern: str = Field(
        default=DEFAULT_CANCEL_PATTERN,
        description="Regular expression an order id matches when the row cancels an order",
    )
    store_code: str | None = Field(
        default=None, description="Store for rows that name none; the default store if left out"
    )
    batch_rows: int | None = Field(
        default=None,
        ge=1,
        description="Rows per transaction; settings.import_batch_rows if left out",
    )
    report_path: Path | None = Field(
        default=None, description="Where rejected rows go; <file>.rejects.csv if left out"
    )
    force: bool = Field(
        default=False, description="Read a file again although it was imported completely"
    )

    @field_validator("cancel_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ImportSummary(Schema):
    """The outcome of one ``patron import``; row counts cover the whole run, resumes included."""

    run_id: int
    kind: ImportKind
    file_name: str
    outcome: Literal["completed", "already_imported"]
    resumed_after_row: int = Field(
        default=0, description="Spreadsheet row the run resumed after; 0 for a fresh run"
    )
    rows_read: int
    rows_accepted: int = Field(description="Rows that were written (new or changed)")
    rows_rejected: int
    duplicates: int = Field(description="Rows already in Patron from an earlier import")
    refunds: int = Field(description="Rows that became refunds (counted in accepted)")
    anonymous: int = Field(description="Sale rows with no customer identity (counted in accepted)")
    created: int = Field(default=0, description="Orders, customers or products created now")
    updated: int = Field(default=0, description="Customers or products updated now")
    rows_this_session: int = Field(default=0, description="Rows read by this invocation")
    seconds: float = 0.0
    report_path: str | None = None
    encoding: str | None = None
    delimiter: Delimiter | None = None
    columns: dict[str, str] = Field(default_factory=dict, description="Field → the file's column")
    ignored_columns: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_this_session / self.seconds if self.seconds > 0 else 0.0
