"""The inputs every definition shares: the tables, the parameters, the segment and stage names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any, Literal

import ibis

from patron.analytics.engine.schema import OPTIONAL_TABLES, TABLES

# code → (zh-CN name, English name), in the canonical order of the RFM value-segment grid.
SEGMENTS: dict[str, tuple[str, str]] = {
    "important_value": ("重要价值客户", "Important value"),
    "important_develop": ("重要发展客户", "Important to develop"),
    "important_keep": ("重要保持客户", "Important to keep"),
    "important_retain": ("重要挽留客户", "Important to win back"),
    "general_value": ("一般价值客户", "General value"),
    "general_develop": ("一般发展客户", "General to develop"),
    "general_keep": ("一般保持客户", "General to keep"),
    "general_retain": ("一般挽留客户", "General to win back"),
}

# code → (zh-CN name, English name), from first contact to gone.
STAGES: dict[str, tuple[str, str]] = {
    "prospect": ("潜在客户", "Prospect"),
    "new": ("新客户", "New"),
    "active": ("活跃客户", "Active"),
    "loyal": ("忠诚客户", "Loyal"),
    "won_back": ("回流客户", "Won back"),
    "at_risk": ("流失风险客户", "At risk"),
    "lapsed": ("已流失客户", "Lapsed"),
}

# What a customer without a purchase in the RFM window is called in place of a segment.
NO_SEGMENT: tuple[str, str] = ("窗口期内无购买", "No purchase in the window")


def group_name(names: dict[str, tuple[str, str]], code: str | None, *, english: bool) -> str:
    """A segment's or stage's name (``names`` is SEGMENTS or STAGES) in Chinese or English;
    None is a customer without a purchase in the window; an unknown code is shown as is."""
    pick = 1 if english else 0
    if code is None:
        return NO_SEGMENT[pick]
    label = names.get(code)
    return label[pick] if label is not None else code


class AnalyticsParamsError(ValueError):
    """A parameter of the definitions is out of range; ``field`` names it."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


class TablesError(ValueError):
    """An input table is missing a column the definitions need, or has the wrong type."""

    def __init__(self, table: str, column: str, reason: str) -> None:
        super().__init__(f"{table}.{column}: {reason}")
        self.table = table
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Tables:
    """The analytics store's tables (see ``schema.TABLES``) as Ibis tables on one backend."""

    customers: ibis.Table
    orders: ibis.Table
    order_lines: ibis.Table
    refunds: ibis.Table
    stores: ibis.Table
    returns: ibis.Table | None = None  # none: nothing went back line by line
    order_attributes: ibis.Table | None = None  # none: no order says more than its money

    def __post_init__(self) -> None:
        for name, expected in (TABLES | OPTIONAL_TABLES).items():
            table = getattr(self, name)
            if table is None:
                continue
            actual = table.schema()
            for column, dtype in expected.items():
                if column not in actual:
                    raise TablesError(name, column, "column missing")
                got = actual[column]
                # Nullability and timestamp precision differ between engines; the kind must not.
                if got.is_timestamp() and dtype.is_timestamp():
                    continue
                if got.copy(nullable=True) != dtype.copy(nullable=True):
                    raise TablesError(name, column, f"expected {dtype}, found {got}")

    @classmethod
    def from_backend(cls, con: ibis.BaseBackend) -> Tables:
        """The tables of an analytics store, by their names in ``schema.TABLES`` (and the
        optional ones it has)."""
        optional = {}
        for name in OPTIONAL_TABLES:
            try:  # (list_tables is not usable on every backend version)
                optional[name] = con.table(name)
            except Exception:  # any backend's "no such table"
                continue
        return cls(**{name: con.table(name) for name in TABLES}, **optional)

    def on_duckdb(self) -> bool:
        """Whether the tables live on DuckDB, where a table kept for a run's steps (a
        temporary table, Arrow in memory) joins them without a copy."""
        return bool(self.orders._find_backend(use_default=True).name == "duckdb")

    def attributes_or_empty(self) -> ibis.Table:
        """``order_attributes``, or an empty table of its schema on this backend."""
        if self.order_attributes is not None:
            return self.order_attributes
        empty = ibis.null("string")
        o = self.orders.limit(0)
        return o.select(
            order_id=o.order_id,
            country=empty,
            province=empty,
            city=empty,
            payment_method=empty,
            cashier=empty,
        )

    def returns_or_empty(self) -> ibis.Table:
        """``returns``, or an empty table of its schema on this backend."""
        if self.returns is not None:
            return self.returns
        return self.refunds.limit(0).select(
            return_id=self.refunds.refund_id,
            order_id=self.refunds.order_id,
            line_id=self.refunds.refund_id,
            customer_id=self.refunds.order_id,
            store_id=self.refunds.order_id,
            channel=ibis.literal("", type="string"),
            returned_at=self.refunds.refunded_at,
            return_date=self.refunds.refund_date,
            category=ibis.literal("", type="string"),
            amount_fen=self.refunds.amount_fen,
        )


_MONETARY = ("total", "average")
_SPLIT = ("mean", "fixed")


@dataclass(frozen=True)
class AnalyticsParams:
    """How the definitions read the data. Every "within the last N days" below means the N
    business days ending at ``as_of`` inclusive: ``as_of - N < order_date <= as_of``.

    RFM and value segments
      as_of: the business day the run describes (inclusive); later orders are ignored.
      window_days: the RFM window; None takes all history up to ``as_of``.
      monetary: "total" net fen in the window, or "average" net fen per counted order
        (rounded half up to the fen).
      split: segments split R, F and M at the mean of the window's buyers ("mean") or at the
        fixed values below ("fixed"). Near R is ``recency_days <= split``, high F is
        ``frequency >= split``, high M is ``monetary_fen >= split``, for both kinds.
      fixed_recency_days, fixed_frequency, fixed_monetary_fen: the fixed split values.

    Lifecycle (counted orders over all history up to ``as_of``; see ``customer_scores``)
      new_days: first purchase within this many days → new.
      loyal_orders, loyal_days: at least ``loyal_orders`` counted orders within the last
        ``loyal_days`` days → loyal.
      at_risk_factor, at_risk_min_days: silent for more than
        ``max(at_risk_factor × usual gap, at_risk_min_days)`` days → at risk; the usual gap is
        ``(last - first purchase day) / (counted orders - 1)``, and a one-order customer has
        only the floor.
      lapsed_days: silent for more than this many days → lapsed.
      won_back_days: a purchase that ended a silence of more than ``lapsed_days`` days, made
        within this many days → won back.

    KPIs
      kpi_days: the KPI period, within the last this many days.
    """

    as_of: date
    window_days: int | None = 365
    monetary: Literal["total", "average"] = "total"
    split: Literal["mean", "fixed"] = "mean"
    fixed_recency_days: int = 10
    fixed_frequency: int = 3
    fixed_monetary_fen: int = 20_000
    new_days: int = 30
    loyal_orders: int = 4
    loyal_days: int = 365
    at_risk_factor: float = 2.0
    at_risk_min_days: int = 60
    lapsed_days: int = 180
    won_back_days: int = 90
    kpi_days: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.as_of, date):
            raise AnalyticsParamsError("as_of", self.as_of, "must be a date")
        if self.monetary not in _MONETARY:
            raise AnalyticsParamsError("monetary", self.monetary, f"must be one of {_MONETARY}")
        if self.split not in _SPLIT:
            raise AnalyticsParamsError("split", self.split, f"must be one of {_SPLIT}")
        positive = [
            "new_days",
            "loyal_orders",
            "loyal_days",
            "at_risk_min_days",
            "lapsed_days",
            "won_back_days",
            "kpi_days",
            "fixed_frequency",
        ]
        if self.window_days is not None:
            positive.append("window_days")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AnalyticsParamsError(name, value, "must be a whole number ≥ 1")
        for name in ("fixed_recency_days", "fixed_monetary_fen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AnalyticsParamsError(name, value, "must be a whole number ≥ 0")
        factor = self.at_risk_factor
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
            raise AnalyticsParamsError("at_risk_factor", factor, "must be a number > 0")
        if self.new_days >= self.lapsed_days:
            raise AnalyticsParamsError("new_days", self.new_days, "must be below lapsed_days")
        if self.won_back_days > self.lapsed_days:
            raise AnalyticsParamsError(
                "won_back_days", self.won_back_days, "must not exceed lapsed_days"
            )
        if self.at_risk_min_days > self.lapsed_days:
            raise AnalyticsParamsError(
                "at_risk_min_days", self.at_risk_min_days, "must not exceed lapsed_days"
            )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (``as_of`` as an ISO date), as stored in ``analytics_run.params``."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["at_risk_factor"] = float(self.at_risk_factor)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnalyticsParams:
        """The inverse of ``to_json``; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AnalyticsParamsError(unknown[0], data[unknown[0]], "unknown parameter")
        values = dict(data)
        if "as_of" not in values:
            raise AnalyticsParamsError("as_of", None, "is required")
        if isinstance(values["as_of"], str):
            try:
                values["as_of"] = date.fromisoformat(values["as_of"])
            except ValueError as exc:
                raise AnalyticsParamsError("as_of", data["as_of"], "not an ISO date") from exc
        return cls(**values)
