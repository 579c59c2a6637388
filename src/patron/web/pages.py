"""The console's own pages: the dashboard at ``/`` (sales, and the latest run's sales
forecast) and the language menu."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.staff.roles import Permission as P
from patron.web import dashboard as dash
from patron.web import i18n
from patron.web.deps import Db
from patron.web.forms import error_line
from patron.web.i18n import N_, _
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

LANG_COOKIE_SECONDS = 365 * 24 * 3600
_RANGE_LABELS = {"from": N_("From"), "to": N_("To")}  # the dashboard's date boxes


def local_path(next_url: str | None) -> str:
    """Only a path on this site: a link must not send anyone elsewhere."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/"


@router.get("/language/{code}")
def choose_language(
    code: str, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    """Switch the console's language (a cookie) and go back to the page."""
    language = i18n.language_for(code)
    if language is None:
        raise InvalidInput("code", f"choose one of {', '.join(x.code for x in i18n.LANGUAGES)}")
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(
        i18n.LANG_COOKIE, language.code, max_age=LANG_COOKIE_SECONDS, samesite="lax", path="/"
    )
    return response


def _chart_json(board: dash.Dashboard) -> str:
    data: dict[str, Any] = {
        "days": [d.strftime("%m-%d") for d in board.days],
        "sales_fen": board.sales_per_day_fen,
        "orders": board.orders_per_day,
        "labels": {
            "sales": _("Sales"),
            "sales_axis": _("Net sales (%(currency)s)", currency=get_settings().currency),
            "orders": _("Orders"),
        },
    }
    return _safe_json(data)


def _channel_json(board: dash.Dashboard) -> str:
    return _safe_json(
        {"items": [{"name": _(b.name), "sales_fen": b.sales_fen} for b in board.by_channel]}
    )


@dataclass(frozen=True, slots=True)
class ForecastView:
    """The latest run's sales forecast summed over the stores in scope, by day and by week,
    with the backtest's mean MASE and sMAPE beside seasonal naive's."""

    run_id: int
    days: list[Any]
    weeks: list[tuple[date, int]]  # (first day, forecast net sales in fen)
    backtest: dict[str, Any]


def load_forecast(*, session: Session, store_ids: frozenset[int] | None) -> ForecastView | None:
    """None before any run has recorded a forecast (or none for these stores)."""
    from patron.analytics.forecast import service as forecast

    try:
        run_id, days = forecast.forecast_totals(session=session, store_ids=store_ids)
    except forecast.NoForecast:
        return None
    if not days:
        return None
    _run, rows = forecast.backtest_rows(session=session, run_id=run_id, store_ids=store_ids)
    weeks = [
        (days[i].day, sum(d.forecast_fen for d in days[i : i + 7])) for i in range(0, len(days), 7)
    ]
    return ForecastView(run_id, days, weeks, forecast.summarise_backtests(rows))


def _forecast_json(view: ForecastView) -> str:
    return _safe_json(
        {
            "days": [d.day.isoformat() for d in view.days],
            "forecast_fen": [d.forecast_fen for d in view.days],
            "lower_fen": [d.lower_80_fen for d in view.days],
            "upper_fen": [d.upper_80_fen for d in view.days],
            "labels": {
                "forecast": _("Forecast"),
                "band": _("80% prediction interval"),
                "axis": _("Net sales (%(currency)s)", currency=get_settings().currency),
            },
        }
    )


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "</script>" can close the block early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


@router.get("/", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    """Sales for a range of business days; store-bound roles see their own stores only."""
    allowed = actor.can(P.ANALYTICS_READ) or actor.can(P.ORDERS_READ)
    context: dict[str, Any] = {"actor": actor, "allowed": allowed, "error": None, "board": None}
    status = 200
    try:
        start_on, end_on = dash.parse_range(start, end)
    except InvalidInput as exc:
        context["error"] = error_line(exc, _RANGE_LABELS)
        start_on, end_on = dash.default_range()
        status = 422
    context.update(start_on=start_on, end_on=end_on)
    if allowed:
        board = db.read(
            lambda s: dash.load_dashboard(
                session=s,
                database_key=db.url,
                start_on=start_on,
                end_on=end_on,
                store_ids=actor.store_ids,
            )
        )
        context.update(
            board=board, chart_json=_chart_json(board), channel_json=_channel_json(board)
        )
    if actor.can(P.ANALYTICS_READ):
        found = db.read(lambda s: load_forecast(session=s, store_ids=actor.store_ids))
        context["forecast"] = found
        if found is not None:
            context["forecast_json"] = _forecast_json(found)
    return TEMPLATES.TemplateResponse(request, "dashboard.html", context, status_code=status)
