"""The analytics console pages: the overview of the latest run, customers by segment or stage
(masked, exported), the churn-risk page, and the analytics section of the 360 page — per
role, in each store scope, before any run and after two."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import openpyxl
import pytest

from patron.analytics import pages
from patron.analytics import service as analytics
from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import ROLE_PERMISSIONS, STORE_BOUND_ROLES, Role
from patron.staff.roles import Permission as P
from patron.web import i18n
from tests.helpers import post_order, sign_up
from tests.web.helpers.console import console, text_of

FIRST_RUN = date(2025, 9, 10)
SECOND_RUN = date(2026, 2, 20)
START = datetime(2025, 1, 5, 3, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RiskShop:
    """Stores A01 and B01, twelve members buying every two weeks from January 2025 (even
    ones at A01, odd ones at B01); the first six stop in September 2025. Two analytics runs:
    on 10 September 2025 nobody has been gone long, on 20 February 2026 the six who stopped
    have crossed into high risk."""

    db: Database
    members: list[int]  # in order 0..11
    home: dict[int, str]  # customer id → home store code
    stopped: list[int]  # the six who stopped buying
    first_run: int
    second_run: int


def member_name(n: int) -> str:
    return f"测试{n:02d}"


def member_phone(n: int) -> str:
    return f"1380013{8000 + n}"


def build_members(db: Database) -> tuple[list[int], dict[int, str]]:
    for code in ("A01", "B01"):
        db.write(
            lambda s, c=code: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=f"{c} 店")
            )
        )
    members, home = [], {}
    for n in range(12):
        store = "A01" if n % 2 == 0 else "B01"
        cid = sign_up(
            db,
            phone=member_phone(n),
            name=member_name(n),
            home_store_code=store,
            signed_up_at=START,
        )
        members.append(cid)
        home[cid] = store
        stop = datetime(2025, 9, 1, tzinfo=UTC) if n < 6 else datetime(2026, 2, 15, tzinfo=UTC)
        at, k = START + timedelta(days=n), 0
        while at < stop:
            line = {"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1000 * (n + 1)}
            post_order(db, f"O{n}-{k}", store_code=store, customer={"id": cid}, at=at, lines=[line])
            at, k = at + timedelta(days=14), k + 1
    return members, home


def build_risk_shop(db: Database) -> RiskShop:
    """The shop above with both runs made by the pipeline (the churn step included)."""
    members, home = build_members(db)
    first = analytics.run_analytics(db=db, as_of=FIRST_RUN)
    second = analytics.run_analytics(db=db, as_of=SECOND_RUN)
    assert (first.status, second.status) == ("succeeded", "succeeded")
    return RiskShop(db, members, home, members[:6], first.id, second.id)


@pytest.fixture
def shop(db: Database) -> RiskShop:
    return build_risk_shop(db)


def _json_block(html: str, block: str) -> str:
    match = re.search(rf'id="{block}">([^<]*)</script>', html)
    assert match, block
    return match.group(1)


def _table(html: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.DOTALL)
    assert match, table_id
    return match.group(1)


# ------------------------------------------------------------------------------ roles


ANALYTICS_PAGES = ("/analytics", "/analytics/risk", "/analytics/customers?segment=general_value")


@pytest.mark.parametrize("role", list(Role))
def test_each_role_opens_the_analytics_pages_exactly_when_it_has_analytics_read(
    sqlite_db: Database, role: Role
) -> None:
    sqlite_db.write(
        lambda s: catalog.create_store(session=s, store_in=StoreCreate(code="A01", name="一店"))
    )
    allowed = P.ANALYTICS_READ in ROLE_PERMISSIONS[role]
    stores = ["A01"] if role in STORE_BOUND_ROLES else None
    with console(sqlite_db, "someone", role, stores) as (client, _csrf):
        menu = client.get("/").text
        answers = [client.get(path) for path in ANALYTICS_PAGES]
    assert ('href="/analytics"' in menu) is allowed
    for path, response in zip(ANALYTICS_PAGES, answers, strict=True):
        assert response.status_code == (200 if allowed else 403), path
        if allowed:
            assert 'id="no-run"' in response.text, path
        else:
            assert 'id="error-page"' in response.text


def test_before_any_run_the_pages_say_how_to_make_one(db: Database) -> None:
    members, _home = build_members(db)
    with console(db) as (client, _csrf):
        overview = client.get("/analytics")
        risk = client.get("/analytics/risk")
        listed = client.get("/analytics/customers", params={"stage": "new"})
        profile = client.get(f"/customers/{members[0]}")
    for page in (overview, risk, listed):
        assert page.status_code == 200
        assert "patron analytics run" in text_of(page.text)
        assert "echarts" not in page.text  # nothing to draw
    assert 'id="section-analytics"' in profile.text
    assert 'id="analytics-not-scored"' in profile.text


def test_a_list_needs_one_known_segment_or_stage(sqlite_db: Database) -> None:
    with console(sqlite_db) as (client, _csrf):
        neither = client.get("/analytics/customers")
        both = client.get(
            "/analytics/customers", params={"segment": "general_value", "stage": "new"}
        )
        unknown = client.get("/analytics/customers", params={"segment": "vip"})
    for response in (neither, both, unknown):
        assert response.status_code == 422 and 'id="error"' in response.text
    assert "segment: " in unknown.text


# ------------------------------------------------------------------------------ with data


def test_the_overview_shows_the_run_segments_funnel_cohorts_and_migration(shop: RiskShop) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/analytics")
        client.cookies.set(i18n.LANG_COOKIE, "en")
        english = client.get("/analytics")
    assert page.status_code == 200, page.text
    html = page.text
    assert SECOND_RUN.isoformat() in text_of(html)
    steps = _table(html, "run-steps")
    assert steps.count('class="run-step"') == len(analytics.STEPS)
    assert "流失风险" in steps  # the churn step, named in Chinese
    segments = _json_block(html, "segment-data")
    for zh, _en in pages.SEGMENTS.values():
        assert zh in segments
    counted = [int(n) for n in re.findall(r'class="num">([\d,]+)</td>', _table(html, "segments"))]
    assert sum(counted) == 12  # every member once (the window's spend is in yuan)
    assert "重要价值客户" in _table(html, "segments")
    assert 'data-kind="a-funnel"' in html and "已流失客户" in _json_block(html, "funnel-data")
    cohorts = _json_block(html, "cohort-data")
    assert '"2025-01"' in cohorts and '"cells": [[' in cohorts
    matrix = _table(html, "migration")
    assert matrix.count('class="migration-row"') == 9  # eight segments and "no purchase"
    assert "background: rgba(37, 99, 235" in matrix
    assert '<script src="/static/analytics.js" defer></script>' in html
    # English mode: the segments' English names, the page in English
    assert "Important value" in _json_block(english.text, "segment-data")
    assert "重要价值客户" not in english.text and "Lifecycle funnel" in english.text


def test_a_segment_list_is_masked_links_to_the_360_page_and_exports(shop: RiskShop) -> None:
    with console(shop.db) as (client, _csrf):
        overview = client.get("/analytics").text
        links = re.findall(r'href="(/analytics/customers\?stage=[a-z_]+)"', overview)
        assert "/analytics/customers?stage=at_risk" in links
        page = client.get("/analytics/customers", params={"stage": "lapsed"})
        from_form = client.get("/analytics/customers", params={"group": "stage:lapsed"})
        by_stage = [
            re.findall(
                r'class="open-customer"',
                client.get("/analytics/customers", params={"stage": code}).text,
            )
            for code in pages.STAGES
        ]
        export_url = re.search(r'id="export" href="([^"]+)"', page.text)
        assert export_url
        export = client.get(export_url.group(1).replace("&amp;", "&"))
    assert page.status_code == 200
    rows = _table(page.text, "scored-customers")
    lapsed = re.findall(r'href="/customers/(\d+)" class="open-customer"', rows)
    assert lapsed and set(map(int, lapsed)) <= set(shop.stopped)
    assert "已流失客户" in rows
    for n in range(len(shop.members)):
        assert member_name(n) not in page.text  # names are masked: 测**
        assert member_phone(n) not in page.text
    assert "测**" in rows and "138****80" in rows
    assert _table(from_form.text, "scored-customers") == rows  # the page's own form
    assert 'value="stage:lapsed" selected' in from_form.text
    assert sum(len(found) for found in by_stage) == 12  # each member in exactly one stage
    assert export.status_code == 200
    book = openpyxl.load_workbook(BytesIO(export.content))
    exported = list(book.active.iter_rows(values_only=True))
    assert {r[0] for r in exported[1:]} == set(map(int, lapsed))
    entries = shop.db.read(lambda s: audit.list_audit(session=s, target_kind="analytics_run"))
    assert len(entries.items) == 1
    assert entries.items[0].action.endswith(".export")
    assert entries.items[0].details["stage"] == "lapsed"


def test_the_risk_page_lists_who_crossed_with_reasons_value_and_the_model_report(
    shop: RiskShop,
) -> None:
    with console(shop.db) as (client, _csrf):
        page = client.get("/analytics/risk")
        client.cookies.set(i18n.LANG_COOKIE, "en")
        english = client.get("/analytics/risk")
    assert page.status_code == 200, page.text
    rows = _table(page.text, "at-risk")
    listed = [int(c) for c in re.findall(r'href="/customers/(\d+)" class="open-customer"', rows)]
    assert sorted(listed) == sorted(shop.stopped)
    stakes = [
        int(v.replace("¥", "").replace(",", "").replace(".", ""))
        for v in re.findall(r'class="num value-at-stake">([^<]+)<', rows)
    ]
    assert stakes == sorted(stakes, reverse=True) and stakes[0] > 0
    assert "天未购买" in rows  # the reasons, in Chinese
    assert 'class="action"' in rows
    assert "测**" in rows and member_name(0) not in page.text
    english_rows = _table(english.text, "at-risk")
    assert "No purchase for" in english_rows or "usual gap" in english_rows
    # CLV distribution: every customer scored in the run falls in one bucket
    buckets = _table(page.text, "clv-buckets")
    counts = [int(n.replace(",", "")) for n in re.findall(r'class="num">([\d,]+)</td>', buckets)]
    assert sum(counts) == 12
    assert '"values": [' in _json_block(page.text, "clv-data")
    top = _table(page.text, "top-customers")
    assert top.count('class="top-customer"') == 12
    # the model report: too few customers to train, so the fallback is said and shown
    assert 'id="model-mode"' in page.text and 'id="no-holdout"' in page.text
    assert "P(alive)" in text_of(page.text)


def test_a_store_manager_sees_their_stores_customers_and_no_chain_wide_figures(
    shop: RiskShop,
) -> None:
    a_members = {cid for cid, code in shop.home.items() if code == "A01"}
    with console(shop.db, "manager-a", Role.STORE_MANAGER, ["A01"]) as (client, _csrf):
        overview = client.get("/analytics")
        risk = client.get("/analytics/risk")
        listed = client.get("/analytics/customers", params={"stage": "lapsed"})
        other = next(cid for cid, code in shop.home.items() if code == "B01")
        refused = client.get(f"/customers/{other}")
        own = client.get(f"/customers/{min(a_members)}")
    assert overview.status_code == 200 and 'id="scope"' in overview.text
    counted = [
        int(n) for n in re.findall(r'class="num">([\d,]+)</td>', _table(overview.text, "segments"))
    ]
    assert sum(counted) == 6
    assert 'id="cohort-chart"' not in overview.text and 'id="migration"' not in overview.text
    assert 'id="model-mode"' not in risk.text
    at_risk = re.findall(
        r'href="/customers/(\d+)" class="open-customer"', _table(risk.text, "at-risk")
    )
    assert at_risk and set(map(int, at_risk)) <= a_members
    top = re.findall(r'<tr class="top-customer">\s*<td><a href="/customers/(\d+)"', risk.text)
    assert set(map(int, top)) == a_members
    in_list = re.findall(r'href="/customers/(\d+)" class="open-customer"', listed.text)
    assert set(map(int, in_list)) <= a_members
    assert refused.status_code == 404
    assert own.status_code == 200 and 'id="analytics-segment"' in own.text


def test_a_store_manager_sees_the_band_sizes_of_their_stores_customers(shop: RiskShop) -> None:
    with console(shop.db, "manager-a", Role.STORE_MANAGER, ["A01"]) as (client, _csrf):
        risk = client.get("/analytics/risk")
    with console(shop.db) as (client, _csrf):
        chain = client.get("/analytics/risk")
    bands = dict(
        (text_of(band).strip(), int(n.replace(",", "")))
        for band, n in re.findall(
            r'<tr class="store-band"><td>(.*?)</td><td class="num">([\d,]+)</td>', risk.text
        )
    )
    assert sum(bands.values()) == 6 and bands.get("高", 0) >= 1  # A01's six, three stopped
    assert 'id="store-bands"' not in chain.text  # the chain's roles read the model report


def test_after_the_first_run_the_risk_page_says_it_set_the_baseline(db: Database) -> None:
    build_members(db)
    assert analytics.run_analytics(db=db, as_of=SECOND_RUN).status == "succeeded"
    with console(db) as (client, _csrf):
        page = client.get("/analytics/risk")
        client.cookies.set(i18n.LANG_COOKIE, "en")
        english = client.get("/analytics/risk")
    assert 'id="risk-baseline"' in page.text and "基线" in page.text
    assert "位顾客进入高流失风险" not in page.text  # not "0 customers crossed into high risk"
    assert "sets the baseline" in english.text and "The list starts with the next run" in (
        english.text
    )
    # A store's manager sees no chain-wide figures, but is told the same.
    with console(db, "manager", Role.STORE_MANAGER, ["A01"]) as (client, _csrf):
        store_page = client.get("/analytics/risk")
    assert 'id="risk-baseline"' in store_page.text and "基线" in store_page.text
    assert "位顾客处于高风险" not in store_page.text


def test_the_360_section_shows_scores_risk_reasons_and_clv_to_analytics_roles(
    shop: RiskShop,
) -> None:
    lapsed = shop.stopped[0]
    with console(shop.db) as (client, _csrf):
        page = client.get(f"/customers/{lapsed}")
    with console(shop.db, "till", Role.CASHIER, ["A01"]) as (client, _csrf):
        cashier = client.get(f"/customers/{lapsed}")
    assert page.status_code == 200
    section = re.search(r'id="section-analytics">(.*?)</section>', page.text, re.DOTALL)
    assert section
    html = section.group(1)
    assert "分析" in html  # the section's title
    assert re.search(r'id="analytics-stage">[^<]*(已流失客户|流失风险客户)<', html)
    assert re.search(r'id="analytics-risk">高 · \d+%<', html)
    assert re.search(r'id="analytics-clv">¥[\d,]+\.\d\d<', html)
    assert html.count('class="analytics-reason"') >= 1 and "天未购买" in html
    assert cashier.status_code == 200 and 'id="section-analytics"' not in cashier.text


# ------------------------------------------------------------------------------ pure helpers


def test_the_cohort_grid_places_retention_by_cohort_and_month() -> None:
    rows = [
        {"cohort_month": date(2025, 1, 1), "months_since": 0, "cohort_size": 4,
         "customers": 4, "retention": 1.0},
        {"cohort_month": date(2025, 1, 1), "months_since": 2, "cohort_size": 4,
         "customers": 1, "retention": 0.25},
        {"cohort_month": date(2025, 2, 1), "months_since": 0, "cohort_size": 2,
         "customers": 2, "retention": 1.0},
    ]  # fmt: skip
    grid = pages.cohort_grid(rows)
    assert grid["months"] == ["2025-01", "2025-02"]
    assert grid["since"] == [0, 1, 2] and grid["sizes"] == [4, 2]
    assert [0, 0, 100.0] in grid["cells"] and [2, 0, 25.0] in grid["cells"]
    assert [0, 1, 100.0] in grid["cells"]


def test_the_migration_matrix_shades_by_share_of_the_row() -> None:
    rows = [
        {"from_segment": "important_value", "to_segment": "important_value", "customers": 3},
        {"from_segment": "important_value", "to_segment": "important_retain", "customers": 1},
        {"from_segment": None, "to_segment": "general_develop", "customers": 5},
    ]
    matrix = pages.migration_matrix(rows)
    assert matrix.codes[-1] is None and len(matrix.codes) == 9
    assert matrix.row_totals["important_value"] == 4 and matrix.row_totals[None] == 5
    assert matrix.cells[("important_value", "important_value")].share == 0.75
    assert matrix.cells[("important_value", "important_retain")].share == 0.25
    assert matrix.cells[(None, "general_develop")].share == 1.0
