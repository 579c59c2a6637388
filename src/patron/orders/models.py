"""Orders, their lines, and refunds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class Channel(StrEnum):
    POS = "pos"
    ONLINE = "online"
    MINI_PROGRAM = "mini_program"
    PHONE = "phone"
    OTHER = "other"


class PaymentMethod(StrEnum):
    CASH = "cash"
    BANK_CARD = "bank_card"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"
    STORED_VALUE = "stored_value"
    MIXED = "mixed"
    OTHER = "other"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
        Index("ix_orders_store_id_ordered_at", "store_id", "ordered_at"),
        Index("ix_orders_ordered_at", "ordered_at"),
        Index("ix_orders_import_run_id", "import_run_id"),
    )

    id: Mapped[IdPk]
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"))
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # Sum of quantity × unit price over the lines, before any discount.
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    # Line discounts plus the order-level discount (抹零, 满减 applied to the whole order).
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    order_discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the customer paid: gross less every discount.
    total_fen: Mapped[int] = mapped_column(BigInteger)
    payment_method: Mapped[str | None] = mapped_column(String(20))
    line_count: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the normalised request: a repeat with the same key and another body is a 409.
    request_hash: Mapped[str] = mapped_column(String(64))
    import_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("import_run.id"))
    # Where the buyer was and who served them, as an export names them: attributes the
    # analytics can group sales by (not part of the customer's profile).
    country: Mapped[str | None] = mapped_column(String(60))
    province: Mapped[str | None] = mapped_column(String(60))
    city: Mapped[str | None] = mapped_column(String(60))
    cashier: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        Index("ix_orders_line_sku", "sku"),
    )

    id: Mapped[IdPk]
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    # Thousandths of a unit, so 0.455 kg of apples is exact: 455.
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The line's share of the order's ``order_discount_fen`` as loyalty placed it when the
    # order was committed (a coupon scoped to some SKUs falls on those lines only); None
    # until then, when a refund prorates the order discount by amount (docs/loyalty-rewards.md).
    order_discount_share_fen: Mapped[int | None] = mapped_column(BigInteger)


class Refund(Base):
    __tablename__ = "refund"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_refund_order_id", "order_id"),
        Index("ix_refund_refunded_at", "refunded_at"),
        Index("ix_refund_import_run_id", "import_run_id"),
    )

    id: Mapped[IdPk]
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    # The store that paid the money back; the order's own store when None.
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(255))
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_hash: Mapped[str] = mapped_column(String(64))
    import_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("import_run.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RefundLine(Base):
    __tablename__ = "refund_line"
    __table_args__ = (
        Index("ix_refund_line_refund_id", "refund_id"),
        Index("ix_refund_line_order_line_id", "order_line_id"),
    )

    id: Mapped[IdPk]
    refund_id: Mapped[int] = mapped_column(BigId, ForeignKey("refund.id"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_line.id"))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class SaleReturn(Base):
    """Goods or money taken back without a sale Patron knows: the sale was made before the
    first sale Patron holds (an export's first day, the till's first week), or in a system
    never imported. Kept line by line for the customer, the store, the day and the SKU, and
    counted in net sales, a customer's spend and their value; it never touches an order."""

    __tablename__ = "sale_return"
    __table_args__ = (
        UniqueConstraint("source", "external_id", "line_no"),
        Index("ix_sale_return_customer_id_returned_at", "customer_id", "returned_at"),
        Index("ix_sale_return_store_id_returned_at", "store_id", "returned_at"),
        Index("ix_sale_return_returned_at", "returned_at"),
        Index("ix_sale_return_import_run_id", "import_run_id"),
    )

    id: Mapped[IdPk]
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    line_no: Mapped[int] = mapped_column(Integer)
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"))
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"))
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    # What went back to the customer, a positive number of fen.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(255))
    import_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("import_run.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
