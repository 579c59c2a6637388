"""Order and refund schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from patron.core.money import line_amount_fen, milli_to_quantity, parse_quantity
from patron.core.schemas import MAX_FEN, FenAmount, RecordId, Schema, ShortCode, UtcInstant
from patron.customers.schemas import CustomerRef
from patron.orders.models import Channel, PaymentMethod

MAX_LINES = 500


class OrderLineIn(Schema):
    sku: ShortCode
    name: Annotated[str, Field(max_length=200)] | None = None
    quantity: Decimal = Field(
        description="Pieces, or kilograms for weighed goods; up to 3 decimals"
    )
    unit_price_fen: FenAmount
    discount_fen: FenAmount = 0
    amount_fen: FenAmount | None = Field(
        default=None,
        description="Paid for this line; computed as quantity × price − discount if left out",
    )

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError("quantity must be a number")
        if type(value) is int and 0 < value <= 10**6:
            return Decimal(value)  # the common case: whole pieces
        milli = parse_quantity(value)
        if milli <= 0:
            raise ValueError("quantity must be greater than 0 (post a refund to take goods back)")
        if milli > 10**9:
            raise ValueError("quantity is too large")
        return milli_to_quantity(milli)

    @property
    def quantity_milli(self) -> int:
        # exact: the validator allows at most 3 decimals
        return int(self.quantity * 1000)

    @property
    def gross_fen(self) -> int:
        """quantity × unit price, before the discount.

        A line whose unit price is finer than a fen (an export's 0.001) comes with its amount
        worked out on the exact price; its unit price is then shown rounded, and its gross is
        what was paid plus the discount, so the order's figures still add up."""
        quantity = self.quantity
        if quantity == quantity.to_integral_value():  # whole pieces: exact, no rounding
            gross = int(quantity) * self.unit_price_fen
        else:
            gross = line_amount_fen(int(quantity * 1000), self.unit_price_fen)
        if self.amount_fen is not None and self.amount_fen + self.discount_fen > gross:
            return self.amount_fen + self.discount_fen
        return gross

    @model_validator(mode="after")
    def _amount(self) -> OrderLineIn:
        gross = self.gross_fen
        if gross > MAX_FEN:
            raise ValueError(f"unit_price_fen: quantity × unit_price_fen is above {MAX_FEN} fen")
        expected = gross - self.discount_fen
        if expected < 0:
            raise ValueError("discount_fen: is larger than quantity × unit_price_fen")
        if self.amount_fen is None:
            # straight into the instance: the value is derived, not set by the sender
            self.__dict__["amount_fen"] = expected
        return self


class OrderIn(Schema):
    """A sale from a till, a web shop or a file. ``(source, external_id)`` is its key."""

    source: ShortCode = Field(examples=["pos-sh01"], description="The system that sent the order")
    external_id: Annotated[str, Field(min_length=1, max_length=128)]
    store_code: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None, description="Store where it was sold; the default store if left out"
    )
    channel: Channel | None = Field(
        default=None, description="Taken from the store's kind if left out"
    )
    ordered_at: UtcInstant
    customer: CustomerRef | None = Field(default=None, description="Left out for an anonymous sale")
    payment_method: PaymentMethod | None = None
    order_discount_fen: FenAmount = Field(
        default=0, description="Discount on the whole order (抹零, 满减)"
    )
    total_fen: FenAmount | None = Field(
        default=None, description="Checked against the lines if given"
    )
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    # Attributes analytics can group sales by; left out of the request hash while unset, so
    # an order posted before they existed is still the same order when posted again.
    country: Annotated[str, Field(max_length=60)] | None = None
    province: Annotated[str, Field(max_length=60)] | None = None
    city: Annotated[str, Field(max_length=60)] | None = None
    cashier: Annotated[str, Field(max_length=60)] | None = None

    @model_validator(mode="after")
    def _totals(self) -> OrderIn:
        lines_total = sum(line.amount_fen or 0 for line in self.lines)
        if lines_total > MAX_FEN:
            raise ValueError(f"lines: the order adds up to more than {MAX_FEN} fen")
        if self.order_discount_fen > lines_total:
            raise ValueError("order_discount_fen: is larger than the sum of the lines")
        computed = lines_total - self.order_discount_fen
        if self.total_fen is not None and self.total_fen != computed:
            raise ValueError(
                f"total_fen: {self.total_fen} does not match the lines less order_discount_fen"
                f" ({computed})"
            )
        return self

    @property
    def gross_fen(self) -> int:
        return sum(line.gross_fen for line in self.lines)

    @property
    def paid_fen(self) -> int:
        return sum(line.amount_fen or 0 for line in self.lines) - self.order_discount_fen


class OrderLineRead(Schema):
    line_no: int
    sku: str
    name: str | None
    quantity: Decimal
    unit_price_fen: int
    discount_fen: int
    amount_fen: int
    refunded_quantity: Decimal = Decimal(0)
    refunded_fen: int = 0


ORDER_ATTRIBUTES = ("country", "province", "city", "cashier")


class OrderRead(Schema):
    id: int
    source: str
    external_id: str
    store_code: str
    channel: str
    customer_id: int | None
    ordered_at: datetime
    currency: str
    gross_fen: int
    discount_fen: int
    order_discount_fen: int
    total_fen: int
    refunded_fen: int
    payment_method: str | None
    lines: list[OrderLineRead]
    created_at: datetime
    country: str | None = None
    province: str | None = None
    city: str | None = None
    cashier: str | None = None


class OrderWrite(Schema):
    """The answer to a posted order: the order, and whether this call created it."""

    created: bool
    order: OrderRead


class RefundLineIn(Schema):
    line_no: int = Field(ge=1, description="Line number on the order, from 1")
    quantity: Decimal | None = Field(
        default=None,
        description="All of what is left if left out; 0 with an amount for money alone "
        "(the goods stay with the customer)",
    )
    amount_fen: FenAmount | None = Field(
        default=None, description="Pro rata of the line if left out"
    )

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError("quantity must be a number")
        milli = parse_quantity(value)
        if milli < 0:
            raise ValueError("quantity must be greater than 0")
        return milli_to_quantity(milli)

    @model_validator(mode="after")
    def _money_alone(self) -> RefundLineIn:
        if self.quantity is not None and self.quantity == 0 and not self.amount_fen:
            raise ValueError("quantity: must be greater than 0 (or 0 with an amount_fen)")
        return self


class RefundIn(Schema):
    """Money or goods going back, against one order. Lines left out refund the whole order."""

    source: ShortCode
    external_id: Annotated[str, Field(min_length=1, max_length=128)]
    order_source: ShortCode | None = Field(
        default=None, description="The order's source; same as source if left out"
    )
    order_external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    order_id: RecordId | None = None
    refunded_at: UtcInstant
    reason: Annotated[str, Field(max_length=255)] | None = None
    lines: list[RefundLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    store_code: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None, description="The store that paid the money back; the order's if left out"
    )

    @model_validator(mode="after")
    def _order_named(self) -> RefundIn:
        if self.order_id is None and self.order_external_id is None:
            raise ValueError("give order_id or order_external_id")
        return self


class RefundLineRead(Schema):
    order_line_id: int
    line_no: int
    quantity: Decimal
    amount_fen: int


class RefundRead(Schema):
    id: int
    order_id: int
    source: str
    external_id: str
    amount_fen: int
    reason: str | None
    refunded_at: datetime
    lines: list[RefundLineRead]


class RefundWrite(Schema):
    created: bool
    refund: RefundRead


class BulkItemResult(Schema):
    index: int
    status: str = Field(description="created, duplicate, conflict or invalid")
    order_id: int | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)


class BulkResult(Schema):
    created: int
    duplicates: int
    conflicts: int
    invalid: int
    results: list[BulkItemResult]


class ReturnLineIn(Schema):
    """One line of goods or money taken back without a sale Patron knows.

    ``(source, external_id, line_no)`` is its key: the return's own number and its line."""

    source: ShortCode
    external_id: Annotated[str, Field(min_length=1, max_length=128)]
    line_no: int = Field(ge=1)
    store_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    channel: Channel | None = None
    customer_id: RecordId | None = Field(default=None, description="None: an anonymous return")
    returned_at: UtcInstant
    sku: ShortCode
    name: Annotated[str, Field(max_length=200)] | None = None
    quantity: Decimal = Field(description="What came back, a positive quantity")
    amount_fen: FenAmount = Field(description="What went back to the customer, positive")
    reason: Annotated[str, Field(max_length=255)] | None = None

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError("quantity must be a number")
        milli = parse_quantity(value)
        if milli <= 0:
            raise ValueError("quantity must be greater than 0")
        return milli_to_quantity(milli)

    @property
    def quantity_milli(self) -> int:
        return int(self.quantity * 1000)


class ReturnRead(Schema):
    id: int
    source: str
    external_id: str
    line_no: int
    store_code: str
    channel: str
    customer_id: int | None
    returned_at: datetime
    sku: str
    name: str | None
    quantity: Decimal
    amount_fen: int
    reason: str | None
