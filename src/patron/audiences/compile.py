"""A definition compiled to ONE DuckDB query over the analytics store: pure, no database.

The query reads the extract's tables (``customers``: active profiles only, ``orders``,
``order_lines``) and the audience facts (``facts.py``: ``audience_profile``,
``audience_tags``, ``audience_fields``). Each condition becomes a predicate on the customer
row; purchase conditions each add one aggregate CTE, joined by customer. Values travel as
parameters, never spliced into the text. See docs/audiences.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from patron.audiences.exceptions import InvalidDefinition
from patron.audiences.schemas import (
    ChurnBandCondition,
    ClvCondition,
    ConsentCondition,
    CustomFieldCondition,
    Definition,
    FirstPurchaseCondition,
    Group,
    LastPurchaseCondition,
    PointsCondition,
    ProfileCondition,
    PurchasesCondition,
    SegmentCondition,
    SignedUpCondition,
    StageCondition,
    TagCondition,
    TierCondition,
)

# The analytics-store tables a query reads: all must exist for it to run.
TABLES = (
    "customers",
    "orders",
    "order_lines",
    "audience_profile",
    "audience_tags",
    "audience_fields",
    "audience_consent",
    "audience_purchases",
    "audience_customer_stores",
)
_NUMBER_OPS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_CUSTOMER_COLUMNS = {"home_store": "c.home_store_id", "signup_channel": "c.signup_channel"}


@dataclass(frozen=True)
class Compiled:
    """The member query (``customer_id``, unordered) and its positional parameters."""

    sql: str
    params: list[Any]

    @property
    def members_sql(self) -> str:
        return f"{self.sql} ORDER BY c.customer_id"

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM ({self.sql}) AS members"


@dataclass
class _Builder:
    today: date
    field_kinds: Mapping[str, str]
    ctes: list[str] = field(default_factory=list)
    cte_params: list[Any] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    uses_profile: bool = False
    # Purchase totals are only computed for the customers of the ``base`` CTE, when set
    restricted: bool = False

    # ------------------------------------------------------------------ small pieces

    def profile_column(self, name: str) -> str:
        """A column of the audience facts' profile (joined only when a condition reads it)."""
        self.uses_profile = True
        return f"p.{name}"

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def in_list(self, column: str, values: list[Any], *, numeric: bool = False) -> str:
        kind = "BIGINT[]" if numeric else "VARCHAR[]"
        return f"coalesce(list_contains({self.bind(values)}::{kind}, {column}), false)"

    def set_test(self, column: str, op: str, values: list[Any], *, numeric: bool = False) -> str:
        test = self.in_list(column, values, numeric=numeric)
        return test if op == "in" else f"NOT {test}"

    def number_test(self, column: str, op: str, value: Any, value_to: Any) -> str:
        if op == "between":
            return f"{column} BETWEEN {self.bind(value)} AND {self.bind(value_to)}"
        return f"{column} {_NUMBER_OPS[op]} {self.bind(value)}"

    def date_test(self, column: str, op: str, on: date | None, days: int | None) -> str:
        if op == "before":
            return f"{column} < {self.bind(on)}"
        if op == "after":
            return f"{column} > {self.bind(on)}"
        assert days is not None
        boundary = self.today - timedelta(days=days)
        if op == "within_last_days":
            return f"{column} BETWEEN {self.bind(boundary)} AND {self.bind(self.today)}"
        return f"{column} < {self.bind(boundary)}"

    # ------------------------------------------------------------------ conditions

    def group(self, group: Group, path: str) -> str:
        return self.joined(list(enumerate(group.conditions)), group.match, path)

    def joined(self, items: list[tuple[int, Any]], match: str, path: str) -> str:
        """The conditions ``items`` (each with its place in its group) joined by AND
        (``match="all"``) or OR."""
        parts = []
        for i, item in items:
            # As pydantic names it: the condition's kind follows its place.
            where = f"{path}.conditions.{i}.{item.kind}"
            if isinstance(item, Group):
                parts.append(self.group(item, where))
            else:
                parts.append(self.condition(item, where))
        if not parts:
            return "TRUE"
        joiner = " AND " if match == "all" else " OR "
        return "(" + joiner.join(parts) + ")"

    def condition(self, item: Any, path: str) -> str:  # noqa: PLR0911  (one return per kind)
        if isinstance(item, ProfileCondition):
            return self.profile(item)
        if isinstance(item, SignedUpCondition):
            return self.date_test("c.signup_date", item.op, item.date, item.days)
        if isinstance(item, CustomFieldCondition):
            return self.custom_field(item, path)
        if isinstance(item, TagCondition):
            return self.tag(item)
        if isinstance(item, SegmentCondition | StageCondition | ChurnBandCondition):
            column = self.profile_column(item.kind)
            return self.set_test(column, item.op, list(item.values))
        if isinstance(item, TierCondition):
            return self.set_test(self.profile_column("tier"), item.op, list(item.values))
        if isinstance(item, ClvCondition):
            column = self.profile_column("clv_fen")
            return self.number_test(column, item.op, item.value, item.value_to)
        if isinstance(item, PointsCondition):
            column = f"coalesce({self.profile_column('points')}, 0)"
            return self.number_test(column, item.op, item.value, item.value_to)
        if isinstance(item, PurchasesCondition):
            return self.purchases(item)
        if isinstance(item, ConsentCondition):
            return self.consent(item)
        if isinstance(item, FirstPurchaseCondition | LastPurchaseCondition):
            span = self.profile_column("first_on" if item.kind == "first_purchase" else "last_on")
            return self.date_test(span, item.op, item.date, item.days)
        raise InvalidDefinition(f"{path}.kind", "is not a kind of condition")  # pragma: no cover

    def profile(self, item: ProfileCondition) -> str:
        column = _CUSTOMER_COLUMNS.get(item.attribute) or self.profile_column(item.attribute)
        if item.op == "is_set":
            return f"({column} IS NOT NULL AND CAST({column} AS VARCHAR) <> '')"
        if item.op == "is_not_set":
            return f"({column} IS NULL OR CAST({column} AS VARCHAR) = '')"
        if item.attribute == "home_store":
            return self.set_test(column, item.op, [int(v) for v in item.values], numeric=True)
        return self.set_test(column, item.op, list(item.values))

    def consent(self, item: ConsentCondition) -> str:
        """The send rule of consent.allows, on the copied states: a service withdrawal of
        the channel stops everything; marketing needs a grant besides."""
        channel = self.bind(item.channel)
        withdrawn = (
            "c.customer_id IN (SELECT customer_id FROM audience_consent WHERE "
            f"channel = {channel} AND purpose = 'service' AND NOT granted)"
        )
        if item.purpose == "marketing":
            granted = (
                "c.customer_id IN (SELECT customer_id FROM audience_consent WHERE "
                f"channel = {self.bind(item.channel)} AND purpose = 'marketing' AND granted)"
            )
            allowed = f"({granted} AND NOT {withdrawn})"
        else:
            allowed = f"(NOT {withdrawn})"
        return allowed if item.op == "allowed" else f"(NOT {allowed})"

    def tag(self, item: TagCondition) -> str:
        tags = list(dict.fromkeys(item.tags))
        listed = self.in_list("tag", tags)
        if item.op == "has_all":
            return (
                f"c.customer_id IN (SELECT customer_id FROM audience_tags WHERE {listed} "
                f"GROUP BY customer_id HAVING count(DISTINCT tag) = {self.bind(len(tags))})"
            )
        test = f"c.customer_id IN (SELECT customer_id FROM audience_tags WHERE {listed})"
        return test if item.op == "has_any" else f"NOT {test}"

    def custom_field(self, item: CustomFieldCondition, path: str) -> str:
        kind = self.field_kinds.get(item.field)
        if kind is None:
            raise InvalidDefinition(
                f"{path}.field",
                f"no custom field {item.field!r} that audiences may read (personal fields "
                "are left out of the analytics store)",
                message_code="audience_field_unknown",
                code=item.field,
            )
        negative = {"ne": "eq", "not_in": "in", "is_not_set": "is_set"}
        op = negative.get(item.op, item.op)
        column = {"number": "number_value", "date": "date_value"}.get(kind, "text_value")
        code = self.bind(item.field)
        test = self.field_test(kind, op, column, item, path)
        inner = (
            f"c.customer_id IN (SELECT customer_id FROM audience_fields "
            f"WHERE field = {code} AND {column} IS NOT NULL AND {test})"
        )
        return f"NOT {inner}" if item.op in negative else inner

    def field_test(
        self, kind: str, op: str, column: str, item: CustomFieldCondition, path: str
    ) -> str:
        allowed = {
            "text": {"eq", "contains", "is_set", "in"},
            "choice": {"eq", "in", "is_set"},
            "number": {"eq", "gt", "gte", "lt", "lte", "between", "is_set"},
            "date": {"eq", "before", "after", "between", "is_set"},
        }[kind]
        if op not in allowed:
            raise InvalidDefinition(
                f"{path}.op",
                f"{item.op!r} does not apply to a {kind} field",
                message_code="audience_op_not_for_field",
                op=item.op,
                kind=kind,
            )
        if op == "is_set":
            return "TRUE"
        if op == "in":
            return self.in_list(column, list(item.values))
        if op == "contains":
            return f"contains(lower({column}), lower({self.bind(item.value)}))"
        value = _typed(kind, item.value, f"{path}.value")
        if op == "before":
            return f"{column} < {self.bind(value)}"
        if op == "after":
            return f"{column} > {self.bind(value)}"
        if op == "between":
            upper = _typed(kind, item.value_to, f"{path}.value_to")
            return f"{column} BETWEEN {self.bind(value)} AND {self.bind(upper)}"
        return f"{column} {_NUMBER_OPS[op]} {self.bind(value)}"

    def purchases(self, item: PurchasesCondition) -> str:
        name = f"purchases_{len(self.ctes)}"
        lines = item.category is not None or item.sku is not None
        where = [
            "o.customer_id IN (SELECT customer_id FROM base)"
            if self.restricted and not lines
            else "o.customer_id IS NOT NULL"
        ]
        params: list[Any] = []
        if item.within_last_days is not None:
            where.append("o.order_date BETWEEN ? AND ?")
            params.extend([self.today - timedelta(days=item.within_last_days), self.today])
        if item.since is not None:
            where.append("o.order_date >= ?")
            params.append(item.since)
        if item.until is not None:
            where.append("o.order_date <= ?")
            params.append(item.until)
        if item.store_id is not None:
            where.append("o.store_id = ?")
            params.append(item.store_id)
        if item.category is not None:
            where.append("o.category = ?")
            params.append(item.category)
        if item.sku is not None:
            where.append("o.sku = ?")
            params.append(item.sku)
        if lines:
            # the lines with their order's customer, day and store (audiences/facts.py)
            source = "audience_purchases o"
            measures = "count(DISTINCT o.order_id) AS n, sum(o.net_fen) AS amount"
        else:
            source = "orders o"
            measures = "count(*) AS n, sum(o.net_fen) AS amount"
        self.ctes.append(
            f"{name} AS (SELECT o.customer_id, {measures} FROM {source} "
            f"WHERE {' AND '.join(where)} GROUP BY o.customer_id)"
        )
        self.cte_params.extend(params)
        # A semi-join on the customers whose figure passes (or, when 0 passes too, an
        # anti-join on those whose figure fails): no join of every customer to every total.
        column = "n" if item.measure == "count" else "amount"
        test = self.number_test(column, item.op, item.value, item.value_to)
        if _passes_at_zero(item):
            return f"c.customer_id NOT IN (SELECT customer_id FROM {name} WHERE NOT ({test}))"
        return f"c.customer_id IN (SELECT customer_id FROM {name} WHERE {test})"


def _passes_at_zero(item: PurchasesCondition) -> bool:
    """Whether a customer without a matching order (0) meets the comparison."""
    value, upper = item.value, item.value_to
    return {
        "eq": value == 0,
        "ne": value != 0,
        "gt": value < 0,
        "gte": value <= 0,
        "lt": value > 0,
        "lte": value >= 0,
        "between": upper is not None and value <= 0 <= upper,
    }[item.op]


def _typed(kind: str, raw: str | None, where: str) -> Any:
    text = (raw or "").strip()
    try:
        if kind == "number":
            return float(text)
        if kind == "date":
            return date.fromisoformat(text)
    except ValueError:
        raise InvalidDefinition(
            where,
            f"{text!r} is not a {kind}",
            message_code="audience_value_not_typed",
            value=text,
            kind=kind,
        ) from None
    return text


def compile_definition(
    definition: Definition,
    *,
    today: date,
    store_ids: frozenset[int] | None = None,
    field_kinds: Mapping[str, str] | None = None,
) -> Compiled:
    """The member query of ``definition`` as of ``today`` (the shop's business day),
    limited to the customers of ``store_ids`` (home store there, or an order there) when
    given. ``field_kinds`` maps the custom fields audiences may read to their kind."""
    builder = _Builder(today=today, field_kinds=field_kinds or {})
    items = list(enumerate(definition.conditions))
    heavy = [(i, item) for i, item in items if _reads_purchases(item)]
    light = [(i, item) for i, item in items if not _reads_purchases(item)]
    broad = any(_reads_purchases(item, broad_only=True) for _, item in heavy)
    if definition.match == "all" and broad and (light or store_ids is not None):
        return _compile_in_two_steps(builder, light, heavy, store_ids)
    predicate = builder.group(definition, "definition") + _scope(builder, store_ids)
    if builder.uses_profile:
        builder.joins.append(_PROFILE_JOIN)
    with_clause = ("WITH " + ", ".join(builder.ctes) + " ") if builder.ctes else ""
    joins = "".join(f" {join}" for join in builder.joins)
    sql = f"{with_clause}SELECT c.customer_id FROM customers c{joins} WHERE {predicate}"
    return Compiled(sql=sql, params=[*builder.cte_params, *builder.params])


_PROFILE_JOIN = "LEFT JOIN audience_profile p ON p.customer_id = c.customer_id"


def _scope(builder: _Builder, store_ids: frozenset[int] | None) -> str:
    """The store-bound role's limit: home store among ``store_ids``, or an order there."""
    if store_ids is None:
        return ""
    stores = sorted(store_ids)
    return (
        f" AND ({builder.in_list('c.home_store_id', stores, numeric=True)} OR "
        "c.customer_id IN (SELECT customer_id FROM audience_customer_stores WHERE "
        f"{builder.in_list('store_id', stores, numeric=True)}))"
    )


def _reads_purchases(item: Any, *, broad_only: bool = False) -> bool:
    """Whether ``item`` holds a purchases condition; with ``broad_only``, one over whole
    orders (no category or SKU), whose totals cover most customers who bought in the period
    — the one worth computing for fewer customers (the lines of a category or a SKU are few
    already, and restricting them costs more than it saves)."""
    if isinstance(item, Group):
        return any(_reads_purchases(inner, broad_only=broad_only) for inner in item.conditions)
    if not isinstance(item, PurchasesCondition):
        return False
    return not broad_only or (item.category is None and item.sku is None)


def _compile_in_two_steps(
    builder: _Builder,
    light: list[tuple[int, Any]],
    heavy: list[tuple[int, Any]],
    store_ids: frozenset[int] | None,
) -> Compiled:
    """All of the root's conditions must hold and some read purchases: the others (cheap
    tests on the profile and the facts) pick a ``base`` of customers first, and the
    purchase totals are computed for those customers only rather than for everyone who
    bought in the period — the heaviest counts take a fraction of the time. The answer is
    the same: a customer outside ``base`` fails the root whatever they bought."""
    base_where = builder.joined(light, "all", "definition") + _scope(builder, store_ids)
    base_join = f" {_PROFILE_JOIN}" if builder.uses_profile else ""
    base_params = list(builder.params)
    builder.params.clear()
    builder.uses_profile = False
    builder.restricted = True
    predicate = builder.joined(heavy, "all", "definition")
    join = f" {_PROFILE_JOIN}" if builder.uses_profile else ""
    base = f"base AS (SELECT c.* FROM customers c{base_join} WHERE {base_where})"
    sql = (
        f"WITH {', '.join([base, *builder.ctes])} "
        f"SELECT c.customer_id FROM base c{join} WHERE {predicate}"
    )
    return Compiled(sql=sql, params=[*base_params, *builder.cte_params, *builder.params])
