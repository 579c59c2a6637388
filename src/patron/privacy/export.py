"""Everything Patron holds about one person, for an access or portability request: a zip
of JSON and XLSX with a readme in Chinese and English, audited like a reveal.

The export reads every domain's tables through ``patron.metadata`` in one snapshot, the way
``analytics/extract/`` reads the sales tables: it only reads, and what it must cover is
defined against that same metadata. :data:`COVERAGE` says how each table's rows about a
person are found; :data:`EXCLUDED` names the tables holding a customer id that the export
leaves out, with the reason. ``tests/privacy/test_export.py`` walks the metadata and fails
when a table holding a customer id is in neither (docs/privacy.md).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session

from patron import analytics
from patron import metadata as all_tables
from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.spreadsheets import safe_row, safe_sheet_title
from patron.customers import service as customers


@dataclass(frozen=True)
class Direct:
    """Rows whose ``columns`` (any of them) hold one of the person's customer ids."""

    columns: tuple[str, ...] = ("customer_id",)


@dataclass(frozen=True)
class Via:
    """Rows whose ``column`` points at the ``parent`` rows already exported."""

    column: str
    parent: str
    parent_column: str = "id"


@dataclass(frozen=True)
class Referenced:
    """Rows that ``child``'s exported rows point at through ``child_column``."""

    child: str
    child_column: str


@dataclass(frozen=True)
class AuditAbout:
    """Audit entries whose target is the person."""


Rule = Direct | Via | Referenced | AuditAbout

# In dependency order: a Via or Referenced rule names a table listed before it.
COVERAGE: dict[str, Rule] = {
    "customer": Direct(("id",)),
    "identity": Direct(),
    "customer_tag": Direct(),
    "tag": Referenced("customer_tag", "tag_id"),
    "interaction": Direct(),
    "customer_merge": Direct(("survivor_id", "merged_id")),
    "customer_merge_suggestion": Direct(("first_id", "second_id")),
    "orders": Direct(),
    "order_line": Via("order_id", "orders"),
    "refund": Via("order_id", "orders"),
    "refund_line": Via("refund_id", "refund"),
    "sale_return": Direct(),
    "loyalty_account": Direct(),
    "points_lot": Via("account_id", "loyalty_account"),
    "points_entry": Via("account_id", "loyalty_account"),
    "loyalty_order": Via("account_id", "loyalty_account"),
    "loyalty_refund": Via("loyalty_order_id", "loyalty_order"),
    "coupon": Direct(),
    "coupon_event": Via("coupon_id", "coupon"),
    "birthday_coupon_issue": Direct(),
    "promotion_grant": Direct(),
    "referral": Direct(("referrer_id", "referee_id")),
    "referral_code": Direct(),
    "lottery_draw": Direct(),
    "reward_redemption": Direct(),
    "offer_claim": Direct(),
    "outbox_message": Direct(),
    "outbox_attempt": Via("message_id", "outbox_message"),
    "message_content": Referenced("outbox_message", "content_id"),
    "customer_score": Direct(),
    "customer_risk": Direct(),
    "risk_alert": Direct(),
    "customer_recommendation": Direct(),
    "customer_field_value": Direct(),
    "custom_field": Referenced("customer_field_value", "field_id"),
    "consent_event": Direct(),
    "consent_state": Direct(),
    "campaign_member": Direct(),
    "campaign_event": Direct(),
    "journey_state": Direct(),
    "journey_birthday": Direct(),
    "journey_step_run": Via("state_id", "journey_state"),
    "journey_segment_member": Direct(),
    "staff_task": Direct(),
    "ticket": Direct(),
    "ticket_entry": Via("ticket_id", "ticket"),
    "ticket_attachment": Via("ticket_id", "ticket"),
    "ticket_repair": Via("ticket_id", "ticket"),
    "sla_event": Via("ticket_id", "ticket"),
    "survey_invitation": Direct(),
    "survey_response": Direct(),
    "privacy_request": Direct(),
    "legal_hold": Direct(),
    "identity_correction": Direct(),
    "event": Direct(),
    "event_visitor": Direct(),
    "webhook_delivery": Direct(),
    "audit_entry": AuditAbout(),
}

# The event archive: not a table of the database (the analytics store's), exported too.
ARCHIVE = "event_archive"

# Tables holding a customer id that the export leaves out, and why.
EXCLUDED: dict[str, str] = {}

# Columns never written out: keyed fingerprints and request hashes say nothing about the
# person that the export does not already say in clear, and would help match them elsewhere;
# the ref of a person's data key is a key's name, not their data.
_HIDDEN = frozenset(
    {"name_index", "value_index", "request_hash", "claim_token", "key_ref", "anonymous_key"}
)


def _person_ids(session: Session, customer_id: int) -> list[int]:
    """The customer and every profile merged into them, however deep."""
    customer = all_tables.metadata.tables["customer"]
    ids, frontier = [customer_id], [customer_id]
    while frontier:
        found = session.execute(
            select(customer.c.id).where(customer.c.merged_into_id.in_(frontier))
        ).scalars()
        frontier = [i for i in found if i not in ids]
        ids += frontier
    return ids


def _condition(
    table: Table, rule: Rule, ids: list[int], done: dict[str, list[dict[str, Any]]]
) -> Any:
    if isinstance(rule, Direct):
        return or_(*(table.c[col].in_(ids) for col in rule.columns))
    if isinstance(rule, Via):
        keys = {r[rule.parent_column] for r in done[rule.parent]}
        return table.c[rule.column].in_(keys)
    if isinstance(rule, Referenced):
        keys = {r[rule.child_column] for r in done[rule.child]} - {None}
        return table.c.id.in_(keys)
    return and_(table.c.target_kind == "customer", table.c.target_id.in_([str(i) for i in ids]))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def collect(*, session: Session, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about the person, by table, decrypted (the column types decrypt)."""
    customers.get_customer_or_raise(session=session, customer_id=customer_id)
    ids = _person_ids(session, customer_id)
    done: dict[str, list[dict[str, Any]]] = {}
    for name, rule in COVERAGE.items():
        table = all_tables.metadata.tables[name]
        cols = [c for c in table.columns if c.name not in _HIDDEN]
        order = [table.c.id] if "id" in table.c else []
        rows = session.execute(
            select(*cols).where(_condition(table, rule, ids, done)).order_by(*order)
        ).mappings()
        done[name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    # Events older than the stream's retention live in the analytics store's archive
    # (docs/events.md, "Retention"), outside the database: read there.
    done[ARCHIVE] = [
        {k: _plain(v) for k, v in row.items()}
        for row in analytics.archived_events_of(customer_ids=ids)
    ]
    return done


README = """# 个人信息副本 / Copy of personal information

生成时间 / Made at: {made_at}
顾客编号 / Customer id: {customer_id}

## 中文

本文件包含本店系统中与您有关的全部个人信息：档案（姓名、生日、地址）、联系方式与会员卡、
订单与商品明细、退款与退货、积分流水、优惠券、礼品兑换、客服记录、发送给您的消息、
合并记录、与您有关的操作日志、分析得分及其原因、您提出的个人信息请求，以及您在网店或
小程序中的浏览、搜索和购物车记录（event；较早的在 event_archive）。

- data.json：全部数据，按数据表分组，机器可读，可转交其他服务商（可携带权）。
- data.xlsx：相同数据，每张数据表一个工作表，便于阅读。
- 金额以“分”为单位（*_fen），时间为协调世界时（UTC）。

如发现信息有误，可要求更正；也可要求删除或撤回同意。

## English

This file holds all the personal information this shop's system keeps about you: your
profile (name, birthday, address), contact details and member cards, orders and their
lines, refunds and returns, points entries, coupons, gift redemptions, service notes,
messages sent to you, merge history, audit entries about you, analytics scores with their
reasons, the privacy requests you made, and what you browsed, searched and put in a cart
in the web shop or mini-program (event; older ones in event_archive).

- data.json: all of it, grouped by table, machine-readable, to take to another provider
  (portability).
- data.xlsx: the same, one sheet per table, to read.
- Money is in fen (1/100 yuan, columns ending _fen); times are UTC.

If something is wrong you may ask for it to be corrected; you may also ask for it to be
deleted, or withdraw your consent.

## 表 / Tables

{tables}
"""


def _workbook(data: dict[str, list[dict[str, Any]]]) -> bytes:
    book = Workbook(write_only=True)
    for name, rows in data.items():
        sheet = book.create_sheet(safe_sheet_title(name))
        if not rows:
            continue
        header = list(rows[0])
        sheet.append(header)
        for row in rows:
            sheet.append(safe_row(_cell(row[k]) for k in header))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def build_zip(data: dict[str, list[dict[str, Any]]], customer_id: int) -> bytes:
    tables = "\n".join(f"- {name}: {len(rows)}" for name, rows in data.items())
    readme = README.format(made_at=utcnow().isoformat(), customer_id=customer_id, tables=tables)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", readme)
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=1, default=str))
        archive.writestr("data.xlsx", _workbook(data))
    return out.getvalue()


def export_customer(
    *,
    session: Session,
    customer_id: int,
    reason: str,
    actor: Actor,
    request_id: int | None = None,
) -> bytes:
    """The zip for an access or portability request; the export is audited like a reveal
    (who, why, which tables and how many rows — never the data)."""
    data = collect(session=session, customer_id=customer_id)
    record_audit(
        session=session,
        actor=actor,
        action="privacy.export",
        target_kind="customer",
        target_id=customer_id,
        reason=reason,
        details={
            "request_id": request_id,
            "rows": {name: len(rows) for name, rows in data.items() if rows},
        },
    )
    return build_zip(data, customer_id)


def tables_holding_customer_ids(tables: Sequence[Table]) -> list[str]:
    """Tables with a column that is a foreign key to the customer table, or is named like
    a customer id: what the export must cover or name in :data:`EXCLUDED`."""
    found = []
    for table in tables:
        for col in table.columns:
            points_at_customer = any(fk.column.table.name == "customer" for fk in col.foreign_keys)
            if points_at_customer or col.name == "customer_id" or col.name.endswith("_customer_id"):
                found.append(table.name)
                break
    return sorted(found)
