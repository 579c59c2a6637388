"""The audience facts: what the analytics store lacks for segments, copied into it beside the
extract's tables (``audience_profile``, ``audience_tags``, ``audience_fields``,
``audience_consent``, ``audience_state``).

Demographics are non-identifying: gender, an age band computed from the birthday (the
birthday itself never leaves the operational database), city. Tier and points come from
loyalty, segment, stage, lifetime value and churn band from the latest analytics run, tags
and the non-personal custom fields from customers. Each refresh replaces the tables whole,
in one DuckDB transaction; the nightly job runs it after the analytics run, and
:func:`refresh_audience_store` runs the extract and it together (send time, the builder's
"refresh" button, the tests). See docs/audiences.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from patron import analytics, consent, loyalty
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.customers import facts as customer_facts
from patron.customers import fields as custom_fields

DDL = (
    "CREATE TABLE IF NOT EXISTS audience_profile (customer_id BIGINT, gender VARCHAR, "
    "age_band VARCHAR, city VARCHAR, tier VARCHAR, points BIGINT, segment VARCHAR, "
    "stage VARCHAR, clv_fen BIGINT, churn_band VARCHAR, first_on DATE, last_on DATE)",
    "CREATE TABLE IF NOT EXISTS audience_tags (customer_id BIGINT, tag VARCHAR)",
    "CREATE TABLE IF NOT EXISTS audience_fields (customer_id BIGINT, field VARCHAR, "
    "text_value VARCHAR, number_value DOUBLE, date_value DATE)",
    "CREATE TABLE IF NOT EXISTS audience_consent (customer_id BIGINT, channel VARCHAR, "
    "purpose VARCHAR, granted BOOLEAN)",
    "CREATE TABLE IF NOT EXISTS audience_state (refreshed_at TIMESTAMP, scores_at TIMESTAMP)",
)
# Purchase facts, kept from the extract's orders at each refresh so a count reads one table:
# every order line with its order's customer, day and store (no join of lines to orders per
# count), and each customer's stores (home store aside) for a store-bound role's scope.
PURCHASE_DDL = (
    "CREATE TABLE IF NOT EXISTS audience_purchases (customer_id BIGINT, order_id BIGINT, "
    "order_date DATE, store_id BIGINT, category VARCHAR, sku VARCHAR, net_fen BIGINT)",
    "CREATE TABLE IF NOT EXISTS audience_customer_stores (customer_id BIGINT, store_id BIGINT)",
)
_AGE_BANDS = ((18, "under_18"), (25, "18_24"), (35, "25_34"), (45, "35_44"), (55, "45_54"))


def age_band(birthday: date | None, today: date) -> str | None:
    """The age band on ``today`` of someone born on ``birthday`` (None when unknown)."""
    if birthday is None or birthday > today:
        return None
    age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
    for upper, band in _AGE_BANDS:
        if age < upper:
            return band
    return "55_64" if age < 65 else "65_plus"


@dataclass(frozen=True)
class FactsResult:
    customers: int
    tags: int
    field_values: int
    seconds: float


@dataclass
class _Facts:
    profile: pa.Table
    tags: pa.Table
    fields: pa.Table
    consent: pa.Table
    scores_at: datetime | None


def _read_facts(session: Session, today: date) -> _Facts:
    ids: list[int] = []
    genders: list[str | None] = []
    bands: list[str | None] = []
    cities: list[str | None] = []
    for batch in customer_facts.profile_rows(session=session):
        for cid, gender, birthday, city in batch:
            ids.append(cid)
            genders.append(gender)
            bands.append(age_band(birthday, today))
            cities.append(city)
    standings = {
        cid: (tier, points) for cid, tier, points in loyalty.member_standings(session=session)
    }
    scores_at, scored = analytics.customer_standings(session=session)
    scores = {row[0]: row[1:] for row in scored}
    none4: tuple[Any, ...] = (None, None, None, None)
    profile = pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "gender": pa.array(genders, pa.string()),
            "age_band": pa.array(bands, pa.string()),
            "city": pa.array(cities, pa.string()),
            "tier": pa.array([standings.get(c, (None, None))[0] for c in ids], pa.string()),
            "points": pa.array([standings.get(c, (None, None))[1] for c in ids], pa.int64()),
            "segment": pa.array([scores.get(c, none4)[0] for c in ids], pa.string()),
            "stage": pa.array([scores.get(c, none4)[1] for c in ids], pa.string()),
            "clv_fen": pa.array([scores.get(c, none4)[2] for c in ids], pa.int64()),
            "churn_band": pa.array([scores.get(c, none4)[3] for c in ids], pa.string()),
        }
    )
    tag_rows = customer_facts.tag_rows(session=session)
    tags = pa.table(
        {
            "customer_id": pa.array([r[0] for r in tag_rows], pa.int64()),
            "tag": pa.array([r[1] for r in tag_rows], pa.string()),
        }
    )
    values = custom_fields.audience_field_values(session=session)
    fields = pa.table(
        {
            "customer_id": pa.array([v[0] for v in values], pa.int64()),
            "field": pa.array([v[1] for v in values], pa.string()),
            "text_value": pa.array([v[2] for v in values], pa.string()),
            "number_value": pa.array([v[3] for v in values], pa.float64()),
            "date_value": pa.array([v[4] for v in values], pa.date32()),
        }
    )
    states = consent.consent_states(session=session)
    consents = pa.table(
        {
            "customer_id": pa.array([r[0] for r in states], pa.int64()),
            "channel": pa.array([r[1] for r in states], pa.string()),
            "purpose": pa.array([r[2] for r in states], pa.string()),
            "granted": pa.array([r[3] for r in states], pa.bool_()),
        }
    )
    return _Facts(profile=profile, tags=tags, fields=fields, consent=consents, scores_at=scores_at)


def ensure_tables(duck: Any) -> None:
    """The facts tables, made if missing (or made again when their columns changed)."""
    columns = {
        row[0]
        for row in duck.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'audience_profile'"
        ).fetchall()
    }
    if columns and "last_on" not in columns:
        duck.execute("DROP TABLE audience_profile")
    for ddl in DDL:
        duck.execute(ddl)
    present = {
        row[0]
        for row in duck.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name IN ('audience_purchases', 'audience_customer_stores')"
        ).fetchall()
    }
    if len(present) < 2:  # a store refreshed before these facts existed: made from its orders
        write_purchase_facts(duck)


def write_purchase_facts(duck: Any) -> None:
    """Replace the purchase facts from the store's orders and order lines (empty when none
    were extracted yet), ordered by day so a period's count skips the rest."""
    for ddl in PURCHASE_DDL:
        duck.execute(ddl)
    duck.execute("DELETE FROM audience_purchases")
    duck.execute("DELETE FROM audience_customer_stores")
    has_orders = duck.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name IN ('orders', 'order_lines')"
    ).fetchall()[0][0]
    if has_orders < 2:
        return
    duck.execute(
        "INSERT INTO audience_purchases SELECT o.customer_id, o.order_id, o.order_date, "
        "o.store_id, l.category, l.sku, l.net_fen FROM orders o "
        "JOIN order_lines l ON l.order_id = o.order_id "
        "WHERE o.customer_id IS NOT NULL ORDER BY o.order_date"
    )
    duck.execute(
        "INSERT INTO audience_customer_stores SELECT DISTINCT customer_id, store_id "
        "FROM orders WHERE customer_id IS NOT NULL AND store_id IS NOT NULL"
    )


def write_facts(duck: Any, facts: _Facts, *, refreshed_at: datetime) -> None:
    """Replace the facts tables with ``facts``, in one transaction."""
    ensure_tables(duck)
    duck.execute("BEGIN TRANSACTION")
    try:
        for name, table in (
            ("audience_tags", facts.tags),
            ("audience_fields", facts.fields),
            ("audience_consent", facts.consent),
        ):
            duck.register("_incoming", table)
            try:
                duck.execute(f"DELETE FROM {name}")
                duck.execute(f"INSERT INTO {name} SELECT * FROM _incoming")
            finally:
                duck.unregister("_incoming")
        # First and last purchase days come from the store's own orders, kept here so a
        # count reads them without aggregating every order.
        has_orders = duck.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'"
        ).fetchall()[0][0]
        spans = (
            "SELECT customer_id, min(order_date) AS first_on, max(order_date) AS last_on "
            "FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id"
            if has_orders
            else "SELECT NULL::BIGINT AS customer_id, NULL::DATE AS first_on, "
            "NULL::DATE AS last_on LIMIT 0"
        )
        duck.register("_incoming", facts.profile)
        try:
            duck.execute("DELETE FROM audience_profile")
            duck.execute(
                "INSERT INTO audience_profile SELECT i.*, s.first_on, s.last_on FROM _incoming i "
                f"LEFT JOIN ({spans}) s ON s.customer_id = i.customer_id"
            )
        finally:
            duck.unregister("_incoming")
        write_purchase_facts(duck)
        duck.execute("DELETE FROM audience_state")
        naive = refreshed_at.replace(tzinfo=None)
        scores = facts.scores_at.replace(tzinfo=None) if facts.scores_at else None
        duck.execute("INSERT INTO audience_state VALUES (?, ?)", [naive, scores])
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise


def refresh_facts(*, db: Database, path: Path | None = None) -> FactsResult:
    """Copy the audience facts into the analytics store (AnalyticsBusy during a run)."""
    started = time.perf_counter()
    now = utcnow()
    today = now.astimezone(get_settings().zone).date()
    facts = db.read(lambda s: _read_facts(s, today))
    with analytics.writing_store(path) as duck:
        write_facts(duck, facts, refreshed_at=now)
    return FactsResult(
        customers=facts.profile.num_rows,
        tags=facts.tags.num_rows,
        field_values=facts.fields.num_rows,
        seconds=time.perf_counter() - started,
    )


def refresh_audience_store(*, db: Database, path: Path | None = None) -> FactsResult:
    """The extract brought up to date (by watermark), then the facts: what an audience is
    evaluated on, as of now."""
    started = time.perf_counter()
    now = utcnow()
    today = now.astimezone(get_settings().zone).date()
    facts = db.read(lambda s: _read_facts(s, today))
    with analytics.writing_store(path) as duck:
        analytics.refresh_extract(db=db, duck=duck)
        write_facts(duck, facts, refreshed_at=now)
    return FactsResult(
        customers=facts.profile.num_rows,
        tags=facts.tags.num_rows,
        field_values=facts.fields.num_rows,
        seconds=time.perf_counter() - started,
    )
