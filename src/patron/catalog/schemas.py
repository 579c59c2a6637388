"""Store and product schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from patron.catalog.models import StoreKind
from patron.core.errors import rule_error
from patron.core.schemas import FenAmount, Schema, ShortCode

# Letters of any script (上海一店), digits, "_" and "-": a code is typed at the till and on
# the command line, and shown in links, so it holds no spaces or punctuation.
StoreCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\w\-]+$")]


class StoreCreate(Schema):
    code: StoreCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    city: Annotated[str, Field(max_length=60)] | None = None
    kind: StoreKind = StoreKind.PHYSICAL
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise rule_error(
                "time_zone_unknown", "", f"unknown time zone {value!r}", zone=value
            ) from None
        return value


class StoreRead(Schema):
    id: int
    code: str
    name: str
    city: str | None
    kind: StoreKind
    timezone: str
    created_at: datetime


def _clean_path(value: str) -> str:
    parts = [p.strip() for p in value.replace(">", "/").replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p)


class ProductIn(Schema):
    """A product, created or updated by SKU."""

    sku: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    category_path: Annotated[str, Field(max_length=255)] = Field(
        default="", examples=["生鲜/水果/苹果"]
    )
    brand: Annotated[str, Field(max_length=120)] | None = None
    list_price_fen: FenAmount | None = None
    shelf_life_days: int | None = Field(default=None, ge=0, le=36500)
    warranty_months: int | None = Field(default=None, ge=0, le=1200)

    @field_validator("category_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _clean_path(value)


class ProductRead(Schema):
    id: int
    sku: str
    name: str
    category_path: str
    brand: str | None
    list_price_fen: int | None
    shelf_life_days: int | None
    warranty_months: int | None = None
    created_at: datetime
    updated_at: datetime
