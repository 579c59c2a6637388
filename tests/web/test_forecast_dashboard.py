"""The dashboard's sales forecast: the next 8 weeks from the latest run, with the
prediction-interval band drawn from a JSON block, and the backtest's MASE beside seasonal
naive's; for roles with analytics.read, summed over a store-bound role's own stores."""

from __future__ import annotations

import json
import re

from patron.analytics.forecast.service import backtest_rows, forecast_totals, summarise_backtests
from patron.core.db import Database
from patron.staff.roles import Role
from tests.analytics.helpers import build_basket_shop
from tests.web.helpers.console import console, text_of


def _block(html: str, block: str) -> dict[str, list[int]]:
    match = re.search(rf'id="{block}">([^<]*)</script>', html)
    assert match, block
    found: dict[str, list[int]] = json.loads(match.group(1))
    return found


def test_the_dashboard_shows_the_forecast_band_and_the_backtest(db: Database) -> None:
    build_basket_shop(db)
    _run, days = db.read(lambda s: forecast_totals(session=s))
    _run, a01_days = db.read(lambda s: forecast_totals(session=s, store_ids=frozenset({1})))
    _run, rows = db.read(lambda s: backtest_rows(session=s))
    summary = summarise_backtests(rows)
    with console(db) as (client, _csrf):
        page = client.get("/")
    with console(db, "manager", Role.STORE_MANAGER, ["A01"]) as (client, _csrf):
        manager = client.get("/")
    with console(db, "till", Role.CASHIER, ["A01"]) as (client, _csrf):
        cashier = client.get("/")
    assert page.status_code == 200
    data = _block(page.text, "forecast-data")
    assert len(data["days"]) == 56
    assert data["forecast_fen"] == [d.forecast_fen for d in days]
    assert data["lower_fen"] == [d.lower_80_fen for d in days]
    assert data["upper_fen"] == [d.upper_80_fen for d in days]
    assert 'data-kind="a-forecast"' in page.text and "/static/analytics.js" in page.text
    assert "销售预测：未来 8 周" in page.text
    assert len(re.findall(r'class="forecast-week"', page.text)) == 8
    mase = text_of(re.search(r'<tr id="backtest-mase">(.*?)</tr>', page.text).group(1))  # type: ignore[union-attr]
    assert f"{summary['mase']:.3f}" in mase and f"{summary['mase_naive']:.3f}" in mase

    assert manager.status_code == 200
    assert _block(manager.text, "forecast-data")["forecast_fen"] == [
        d.forecast_fen for d in a01_days
    ]
    assert cashier.status_code == 200 and 'id="forecast-data"' not in cashier.text


def test_before_any_forecast_the_dashboard_shows_none(sqlite_db: Database) -> None:
    with console(sqlite_db) as (client, _csrf):
        page = client.get("/")
    assert page.status_code == 200 and 'id="forecast-title"' not in page.text
