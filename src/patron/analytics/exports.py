"""Exports of a run's customers: an Excel workbook of one segment or stage, masked as the
API shows them, in the reader's language, and recorded in the audit log.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from patron.analytics.engine import (
    SEGMENTS,
    STAGES,
    group_name,
)
from patron.analytics.reads import check_group, list_customers_by
from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.core.money import currency_symbol
from patron.core.settings import get_settings
from patron.core.spreadsheets import safe_row, safe_sheet_title

EXPORT_MAX_ROWS = 100_000
ExportLanguage = Literal["zh", "en"]
# The workbook's columns: (Chinese header, English header). Written for people: names of
# segments and stages, money in yuan; the codes follow at the end for other programs.
_EXPORT_COLUMNS = (
    ("客户编号", "Customer ID"),
    ("姓名", "Name"),
    ("所属门店", "Home store"),
    ("价值分群", "Value segment"),
    ("生命周期阶段", "Lifecycle stage"),
    ("距最近购买（天）", "Days since last purchase"),
    ("购买次数", "Purchases"),
    ("消费金额（{symbol}）", "Spend ({code})"),
    ("R 分", "R score"),
    ("F 分", "F score"),
    ("M 分", "M score"),
    ("首次购买", "First purchase"),
    ("最近购买", "Last purchase"),
    ("分群代码", "Segment code"),
    ("阶段代码", "Stage code"),
)


def export_customers_by(
    *,
    session: Session,
    actor: Actor,
    segment: str | None = None,
    stage: str | None = None,
    run_id: int | None = None,
    max_rows: int = EXPORT_MAX_ROWS,
    store_ids: frozenset[int] | None = None,
    language: ExportLanguage = "zh",
) -> bytes:
    """An Excel workbook of one segment's or stage's customers, masked as the API shows
    them, headed and named in ``language``; the export is recorded in the audit log with
    its size."""
    from io import BytesIO

    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    from patron.audit.service import record_audit
    from patron.customers.masking import mask_customer

    if not 1 <= max_rows <= EXPORT_MAX_ROWS:
        raise InvalidInput("max_rows", f"must be between 1 and {EXPORT_MAX_ROWS}")
    if language not in ("zh", "en"):
        raise InvalidInput("language", "must be zh or en")
    check_group(segment, stage)  # before the name becomes a sheet title
    english = language == "en"
    pick = 1 if english else 0
    book = openpyxl.Workbook(write_only=True)
    if segment:
        title = group_name(SEGMENTS, segment, english=english)
    else:
        title = group_name(STAGES, stage, english=english) if stage else "customers"
    sheet = book.create_sheet(title=safe_sheet_title(title, "customers"))
    currency = get_settings().currency
    symbol = "元" if currency == "CNY" else currency_symbol(currency).strip()
    sheet.append([column[pick].format(symbol=symbol, code=currency) for column in _EXPORT_COLUMNS])
    cursor: str | None = None
    written = 0
    run_used: int | None = run_id
    while written < max_rows:
        page = list_customers_by(
            session=session,
            segment=segment,
            stage=stage,
            run_id=run_id,
            limit=min(500, max_rows - written),
            cursor=cursor,
            store_ids=store_ids,
        )
        run_used = page.run_id
        for item in page.items:
            shown = mask_customer(item.customer)
            s = item.score
            spend = WriteOnlyCell(sheet, value=Decimal(s.monetary_fen) / 100)
            spend.number_format = "#,##0.00"
            # Names and codes are written as text even when they look like a formula.
            row: list[Any] = safe_row([
                s.customer_id,
                shown.name or "",
                shown.home_store_code or "",
                group_name(SEGMENTS, s.segment, english=english),
                group_name(STAGES, s.stage, english=english),
                s.recency_days,
                s.frequency,
                spend,
                s.r_score,
                s.f_score,
                s.m_score,
                s.first_order_date,
                s.last_order_date,
                s.segment or "",
                s.stage,
            ])  # fmt: skip
            sheet.append(row)
            written += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    record_audit(
        session=session,
        actor=actor,
        action="customer.export",
        target_kind="analytics_run",
        target_id=run_used,
        details={
            "segment": segment,
            "stage": stage,
            "rows": written,
            "format": "xlsx",
            "stores": sorted(store_ids) if store_ids is not None else None,
        },
    )
    out = BytesIO()
    book.save(out)
    return out.getvalue()
