"""Pydantic pieces shared by every domain's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from patron.core.clock import as_utc
from patron.core.settings import get_settings

# Retail records from before 1900 or after 2199 are typing mistakes, not history.
MIN_YEAR, MAX_YEAR = 1900, 2199


def _aware_utc(value: datetime) -> datetime:
    # A time without a zone is wall-clock time in the shop's zone.
    instant = as_utc(value, get_settings().zone)
    if not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return instant


UtcInstant = Annotated[datetime, AfterValidator(_aware_utc)]
# Ids are 64-bit: anything larger is no id of ours, and is refused before it reaches the database.
MAX_ID = 2**63 - 1
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
# 10¹³ fen is a hundred billion yuan: far above any sale, far below a 64-bit column's limit even
# summed over every line of an order.
MAX_FEN = 10**13
FenAmount = Annotated[int, Field(ge=0, le=MAX_FEN, description="Amount in fen (1 yuan = 100 fen)")]
Text = Annotated[str, Field(min_length=1, max_length=255)]
ShortCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]


class Schema(BaseModel):
    """Base of every schema: unknown fields are errors, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of results with an opaque cursor for the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None = None
