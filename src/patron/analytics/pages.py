"""Console pages for analytics: the latest run's overview, customers by segment or stage, the
churn-risk page (at-risk list, model report, CLV distribution, top customers by value), and
the analytics section of the customer 360 page.

Figures that the services can scope to a store-bound role's stores are scoped; the ones
they cannot (cohorts, migration and the churn model report are chain-wide) are not shown to
such a role. Customers are shown masked, as on the customers pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from patron.analytics import service
from patron.analytics.churn import service as churn
from patron.analytics.churn.schemas import AtRiskPage, ChurnModelReportRead, ReasonRead
from patron.analytics.engine import SEGMENTS, STAGES
from patron.analytics.engine import group_name as engine_group_name
from patron.analytics.schemas import AnalyticsRunRead, ResultRows, RunSummary
from patron.analytics.store import AnalyticsStoreUnavailable
from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.core.money import currency_symbol
from patron.core.settings import get_settings
from patron.customers.masking import mask_customer
from patron.staff.roles import Permission as P
from patron.web import i18n
from patron.web.deps import Db
from patron.web.i18n import N_, _
from patron.web.sections import SectionContext, register_customer_section
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

LIST_PAGE = 50
RISK_PAGE = 25
TOP_CUSTOMERS = 50
EXPORT_URL = "/api/v1/analytics/customers/export"

# The lifecycle funnel, from first contact to gone (STAGES' own order).
FUNNEL = tuple(STAGES)
STEP_TITLES = {
    "extract": N_("Extract"),
    "scores": N_("Scores"),
    "cohorts": N_("Cohorts"),
    "kpis": N_("KPIs"),
    "migration": N_("Migration"),
    "churn": N_("Churn risk"),
    "baskets": N_("Basket rules"),
    "recommend": N_("Recommendations"),
    "forecast": N_("Sales forecast"),
    "write-back": N_("Write-back"),
}
BAND_TITLES = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "lapsed": N_("Lapsed"),
}
# Model warnings by code (churn report), with the numbers each carries as %(name)s.
WARNING_TEXTS = {
    "no_repeat_customers": N_(
        "No customer made a repeat purchase in the calibration period: P(alive) and expected "
        "purchases are not informative."
    ),
    "few_repeat_customers": N_(
        "Only %(customers)s customers made a repeat purchase (fewer than %(minimum)s): the "
        "purchase model's parameters are poorly determined; read predictions as rough."
    ),
    "young_population": N_(
        "The oldest customer has been observed for only %(days)s days (less than "
        "%(minimum)s): slow buyers and customers who left cannot be told apart yet."
    ),
    "fit_not_converged": N_(
        "The %(model)s fit did not converge after %(iterations)s iterations: its parameters "
        "may be off."
    ),
    "parameter_at_bound": N_(
        "%(model)s parameter %(parameter)s ran to its bound (%(value)s): the data do not "
        "determine it."
    ),
    "non_positive_spend_left_out": N_(
        "%(customers)s repeat customers with zero or negative mean spend (refunds) were left "
        "out of the spend model; they get the population mean spend."
    ),
    "no_spend_model": N_(
        "Only %(customers)s customers have a positive repeat spend (fewer than %(minimum)s): "
        "no spend model was fitted; everyone gets a mean spend of %(mean)s."
    ),
    "few_spend_customers": N_(
        "Only %(customers)s customers have a positive repeat spend (fewer than %(minimum)s): "
        "the spend model's parameters are poorly determined."
    ),
    "extreme_spenders": N_(
        "%(customers)s customers spend more than %(ratio)s times the median per purchase (up "
        "to %(largest)s against a median of %(median)s); they are kept and shrunk towards "
        "the population mean."
    ),
    "frequency_spend_correlated": N_(
        "Purchase frequency and mean spend are correlated (r = %(r)s); the spend model "
        "assumes they are not, so values may be biased."
    ),
    "spend_mean_infinite": N_(
        "The fitted spend distribution has no finite mean (q = %(q)s): customers without "
        "their own spend history get the sample mean of %(mean)s."
    ),
    "no_purchase_covariance": N_(
        "%(model)s has no parameter covariance: CLV intervals leave out its uncertainty."
    ),
    "no_spend_covariance": N_(
        "The spend model has no parameter covariance: CLV intervals leave out its uncertainty."
    ),
    "wide_clv_intervals": N_(
        "%(customers)s customers' CLV intervals span more than a factor of %(factor)s: too "
        "uncertain to value them."
    ),
    "no_customers": N_("No customer has a purchase: nothing to fit."),
    "no_second_purchase": N_(
        "No customer has come back for a second purchase yet: the purchase model was not fitted."
    ),
    "purchase_fit_failed": N_("The purchase model could not be fitted: %(reason)s"),
    "no_lifetime_value": N_("No purchase model, so no lifetime value: CLV is 0 for everyone."),
    "horizon_unmeasured": N_(
        "Too few repeat customers to measure the shop's purchase rhythm: churn is no purchase "
        "in %(days)s days."
    ),
}


# ------------------------------------------------------------------------------ helpers


def warning_text(warning: Any) -> str:
    """A model warning in the page's language: by its code and numbers, or (a report
    written before warnings had codes, or a code without a text) as it was stored."""
    if isinstance(warning, str):
        return warning
    template = WARNING_TEXTS.get(str(warning.get("code")))
    numbers = warning.get("numbers") or {}
    if template is None:
        return str(warning.get("text", ""))
    try:
        return i18n.gettext(template) % {k: _shown(v) for k, v in numbers.items()}
    except (KeyError, TypeError, ValueError):
        return str(warning.get("text", ""))


def _shown(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return value


def _english() -> bool:
    return i18n.current_language().code == "en"


def group_name(names: dict[str, tuple[str, str]], code: str | None) -> str:
    """A segment's or stage's name in the page language (None: no purchase in the window)."""
    return engine_group_name(names, code, english=_english())


def reason_texts(reason: ReasonRead) -> tuple[str, str]:
    """(reason, suggested action) in the page language."""
    key = "en" if _english() else "zh-CN"
    return reason.text.get(key, reason.code), reason.action_text.get(key, "")


def action_texts(reasons: list[ReasonRead]) -> list[str]:
    """The suggested actions of these reasons in the page language, each once, in order."""
    found: list[str] = []
    for reason in reasons:
        action = reason_texts(reason)[1]
        if action and action not in found:
            found.append(action)
    return found


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "</script>" can close the block early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _store_bound(actor: Actor) -> bool:
    return actor.store_ids is not None


# ------------------------------------------------------------------------------ overview


@dataclass(frozen=True, slots=True)
class Overview:
    run: AnalyticsRunRead
    segments: RunSummary
    stages: RunSummary
    cohorts: ResultRows | None  # None: not shown to a store-bound role, or the store is busy
    migration: ResultRows | None
    store_busy: bool = False  # another process holds the analytics store (a run in progress)


def load_overview(*, session: Session, actor: Actor) -> Overview | None:
    """The latest successful run's figures as this actor may see them, or None before any."""
    run = service.latest_run(session=session)
    if run is None:
        return None
    scope = actor.store_ids
    segments = service.segment_summary(session=session, run_id=run.id, store_ids=scope)
    stages = service.stage_summary(session=session, run_id=run.id, store_ids=scope)
    if _store_bound(actor):
        return Overview(run=run, segments=segments, stages=stages, cohorts=None, migration=None)
    try:
        # cohorts and migration are kept in the analytics store, not the operational database
        cohorts = service.read_cohorts(session=session, run_id=run.id)
        migration = service.read_migration(session=session, run_id=run.id)
    except AnalyticsStoreUnavailable:
        return Overview(
            run=run, segments=segments, stages=stages, cohorts=None, migration=None,
            store_busy=True,
        )  # fmt: skip
    return Overview(run=run, segments=segments, stages=stages, cohorts=cohorts, migration=migration)


def _segments_json(summary: RunSummary) -> str:
    groups = [g for g in summary.groups if g.code is not None]
    return _safe_json(
        {
            "names": [group_name(SEGMENTS, g.code) for g in groups],
            "codes": [g.code for g in groups],
            "customers": [g.customers for g in groups],
            "monetary_fen": [g.monetary_fen for g in groups],
            "labels": {"customers": _("Customers"), "value": _("Spend in the window (yuan)")},
        }
    )


def _funnel_json(summary: RunSummary) -> str:
    by_code = {g.code: g for g in summary.groups}
    return _safe_json(
        {
            "items": [
                {
                    "name": group_name(STAGES, code),
                    "code": code,
                    "value": by_code[code].customers if code in by_code else 0,
                }
                for code in FUNNEL
            ],
            "label": _("Customers"),
        }
    )


def cohort_grid(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cohort months × months since the first purchase, retention in per cent."""
    months = sorted({str(r["cohort_month"])[:7] for r in rows})
    width = max((int(r["months_since"]) for r in rows), default=-1) + 1
    sizes: dict[str, int] = {}
    cells = []
    for r in rows:
        month = str(r["cohort_month"])[:7]
        sizes[month] = int(r["cohort_size"])
        retention = float(r["retention"] or 0.0)
        cells.append([int(r["months_since"]), months.index(month), round(retention * 100, 1)])
    return {
        "months": months,
        "since": list(range(width)),
        "sizes": [sizes.get(m, 0) for m in months],
        "cells": cells,
    }


def _cohorts_json(result: ResultRows) -> str:
    grid = cohort_grid(result.rows)
    grid["labels"] = {
        "since": _("Months since first purchase"),
        "cohort": _("Cohort (month of first purchase)"),
        "retention": _("Retention (%)"),
    }
    return _safe_json(grid)


@dataclass(frozen=True, slots=True)
class MigrationCell:
    customers: int
    share: float  # of the row's customers, 0..1


@dataclass(frozen=True, slots=True)
class MigrationMatrix:
    codes: list[str | None]  # rows and columns: the eight segments, then "no purchase"
    cells: dict[tuple[str | None, str | None], MigrationCell]
    row_totals: dict[str | None, int]


def migration_matrix(rows: list[dict[str, Any]]) -> MigrationMatrix:
    codes: list[str | None] = [*SEGMENTS, None]
    counts: dict[tuple[str | None, str | None], int] = {}
    for r in rows:
        key = (r.get("from_segment"), r.get("to_segment"))
        counts[key] = counts.get(key, 0) + int(r["customers"])
    totals = {c: sum(n for (f, _t), n in counts.items() if f == c) for c in codes}
    cells = {
        key: MigrationCell(n, n / totals[key[0]] if totals.get(key[0]) else 0.0)
        for key, n in counts.items()
    }
    return MigrationMatrix(codes=codes, cells=cells, row_totals=totals)


def _step_title(name: str) -> str:
    return _(STEP_TITLES[name]) if name in STEP_TITLES else name


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    """The latest run: steps, segments, funnel, cohorts and migration (or how to get one)."""
    overview = db.read(lambda s: load_overview(session=s, actor=actor))
    context: dict[str, Any] = {
        "actor": actor,
        "overview": overview,
        "segment_name": lambda code: group_name(SEGMENTS, code),
        "stage_name": lambda code: group_name(STAGES, code),
        "step_title": _step_title,
    }
    if overview is not None:
        run = overview.run
        ran_on = run.started_at.astimezone(get_settings().zone).date()
        ends = db.read(lambda s: service.data_ends_on(session=s))
        if ends is not None and run.as_of == ends and ends < ran_on:
            # The run took the day the data ends on (older than the window), not today.
            context["data_ends_on"] = ends
        context["segments_json"] = _segments_json(overview.segments)
        context["funnel_json"] = _funnel_json(overview.stages)
        context["funnel"] = sorted(
            (g for g in overview.stages.groups if g.code is not None),
            key=lambda g: FUNNEL.index(g.code) if g.code in FUNNEL else len(FUNNEL),
        )
        if overview.cohorts is not None and overview.cohorts.rows:
            context["cohorts_json"] = _cohorts_json(overview.cohorts)
        if overview.migration is not None and overview.migration.rows:
            context["matrix"] = migration_matrix(overview.migration.rows)
    return TEMPLATES.TemplateResponse(request, "analytics/overview.html", context)


# ------------------------------------------------------------------------------ customer lists


@router.get("/analytics/customers", response_class=HTMLResponse)
def analytics_customers_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    segment: Annotated[str, Query(max_length=32)] = "",
    stage: Annotated[str, Query(max_length=16)] = "",
    group: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """One segment's or stage's customers in the latest run, masked, a page at a time.

    The page's own form sends ``group=segment:<code>`` or ``group=stage:<code>``; links send
    ``segment=`` or ``stage=``."""
    kind, _sep, code = group.strip().partition(":")
    if kind == "segment" and not segment:
        segment = code
    elif kind == "stage" and not stage:
        stage = code
    segment, stage = segment.strip(), stage.strip()
    context: dict[str, Any] = {
        "actor": actor,
        "segment": segment,
        "stage": stage,
        "segments": [(code, group_name(SEGMENTS, code)) for code in SEGMENTS],
        "stages": [(code, group_name(STAGES, code)) for code in STAGES],
        "segment_name": lambda code: group_name(SEGMENTS, code),
        "stage_name": lambda code: group_name(STAGES, code),
        "error": None,
        "page": None,
        "no_run": False,
    }
    if bool(segment) == bool(stage):
        context["error"] = _("Choose one value segment or one lifecycle stage.")
    elif segment and segment not in SEGMENTS:
        context["error"] = "segment: " + _("no such value segment")
    elif stage and stage not in STAGES:
        context["error"] = "stage: " + _("no such lifecycle stage")
    if context["error"]:
        return TEMPLATES.TemplateResponse(
            request, "analytics/customers.html", context, status_code=422
        )
    run = db.read(lambda s: service.latest_run(session=s))
    if run is None:
        context["no_run"] = True
        return TEMPLATES.TemplateResponse(request, "analytics/customers.html", context)
    try:
        page = db.read(
            lambda s: service.list_customers_by(
                session=s,
                segment=segment or None,
                stage=stage or None,
                run_id=run.id,
                limit=LIST_PAGE,
                cursor=cursor,
                store_ids=actor.store_ids,
            )
        )
    except InvalidInput as exc:
        context["error"] = exc.message
        return TEMPLATES.TemplateResponse(
            request, "analytics/customers.html", context, status_code=422
        )
    filters = {"segment": segment} if segment else {"stage": stage}
    context.update(
        run=run,
        page=page,
        items=[(item.score, mask_customer(item.customer)) for item in page.items],
        title=group_name(SEGMENTS, segment) if segment else group_name(STAGES, stage),
        export_url=EXPORT_URL
        + "?"
        + urlencode({**filters, "run_id": run.id, "lang": "en" if _english() else "zh"}),
        next_url=(
            "/analytics/customers?" + urlencode({**filters, "cursor": page.next_cursor})
            if page.next_cursor
            else None
        ),
    )
    return TEMPLATES.TemplateResponse(request, "analytics/customers.html", context)


# ------------------------------------------------------------------------------ churn and CLV


@dataclass(frozen=True, slots=True)
class RiskView:
    at_risk: AtRiskPage
    report: ChurnModelReportRead | None  # None: chain-wide, not shown to a store-bound role
    clv: list[churn.ClvBucket]
    top: list[churn.ValuedCustomer]
    baseline: bool  # the first run with churn risk: nobody can have crossed into high risk
    bands: dict[str, int]  # customers per band, in the actor's stores


def load_risk(*, session: Session, actor: Actor, page: int) -> RiskView | None:
    """The latest run's churn figures as this actor may see them, or None before any."""
    try:
        report = churn.get_model_report(session=session)
    except churn.NoRiskScores:
        return None
    scope = actor.store_ids
    at_risk = churn.at_risk_list(
        session=session, run_id=report.run_id, page=page, page_size=RISK_PAGE, store_ids=scope
    )
    return RiskView(
        at_risk=at_risk.model_copy(
            update={
                "items": [
                    i.model_copy(update={"customer": mask_customer(i.customer)})
                    for i in at_risk.items
                ]
            }
        ),
        report=None if _store_bound(actor) else report,
        baseline=report.report.get("previous_run_id") is None,
        bands=churn.band_sizes(session=session, run_id=report.run_id, store_ids=scope),
        clv=churn.clv_distribution(session=session, run_id=report.run_id, store_ids=scope),
        top=[
            replace(v, customer=mask_customer(v.customer))
            for v in churn.top_customers_by_value(
                session=session, run_id=report.run_id, limit=TOP_CUSTOMERS, store_ids=scope
            )
        ],
    )


def _yuan(fen: int) -> str:
    return f"{currency_symbol(get_settings().currency)}{fen // 100:,}"


def _clv_json(buckets: list[churn.ClvBucket]) -> str:
    names = []
    for b in buckets:
        if b.low_fen == 0:
            names.append(_("none"))
        elif b.high_fen is None:
            names.append(_yuan(b.low_fen) + "+")
        else:
            names.append(f"{_yuan(b.low_fen)}–{_yuan(b.high_fen)}")
    return _safe_json(
        {
            "names": names,
            "values": [b.customers for b in buckets],
            "label": _("Customers"),
            "axis": _("Predicted 12-month value"),
        }
    )


def _calibration_json(report: ChurnModelReportRead) -> str | None:
    evaluation = report.report.get("evaluation") or {}
    table = [r for r in evaluation.get("calibration") or [] if r.get("customers")]
    if not evaluation.get("available") or not table:
        return None
    return _safe_json(
        {
            "points": [
                [round(float(r["mean_risk"]), 4), round(float(r["churn_rate"]), 4)] for r in table
            ],
            "sizes": [int(r["customers"]) for r in table],
            "labels": {
                "predicted": _("Predicted risk"),
                "observed": _("Observed churn rate"),
                "ideal": _("Perfect calibration"),
            },
        }
    )


@router.get("/analytics/risk", response_class=HTMLResponse)
def risk_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Who crossed into high risk in the latest run (most value at stake first), with reasons
    and actions; the model report, the CLV distribution and the most valuable customers."""
    view = db.read(lambda s: load_risk(session=s, actor=actor, page=page))
    context: dict[str, Any] = {
        "actor": actor,
        "view": view,
        "reason_texts": reason_texts,
        "action_texts": action_texts,
        "band_title": lambda band: i18n.title_of(BAND_TITLES, band),
        "warning_text": warning_text,
    }
    if view is not None:
        context["clv_json"] = _clv_json(view.clv)
        if view.report is not None:
            context["evaluation"] = view.report.report.get("evaluation") or {}
            context["calibration_json"] = _calibration_json(view.report)
        at_risk = view.at_risk
        if at_risk.page * at_risk.page_size < at_risk.total:
            context["next_url"] = f"/analytics/risk?page={at_risk.page + 1}"
        if at_risk.page > 1:
            context["previous_url"] = f"/analytics/risk?page={at_risk.page - 1}"
    return TEMPLATES.TemplateResponse(request, "analytics/risk.html", context)


# ------------------------------------------------------------------------------ 360 section


def render_analytics_section(ctx: SectionContext) -> str:
    """Latest scores, segment, stage, churn risk with its reasons, and CLV, or "not scored"."""
    scope = ctx.actor.store_ids
    scores = service.scores_for_customer(
        session=ctx.session, customer_id=ctx.customer.id, store_ids=scope
    )
    risks = churn.risk_for_customer(
        session=ctx.session, customer_id=ctx.customer.id, store_ids=scope
    )
    risk = risks[0] if risks else None
    context = {
        "score": scores[0] if scores else None,
        "risk": risk,
        "reasons": [reason_texts(r) for r in risk.reasons] if risk else [],
        "segment_name": group_name(SEGMENTS, scores[0].segment) if scores else "",
        "stage_name": group_name(STAGES, scores[0].stage) if scores else "",
        "band_title": i18n.title_of(BAND_TITLES, risk.band if risk else None),
    }
    return TEMPLATES.get_template("sections/analytics.html").render(context)


def register_sections() -> None:
    """Add the analytics section to the customer 360 page (for roles with analytics.read)."""
    register_customer_section(
        "analytics", N_("Analytics"), render_analytics_section, P.ANALYTICS_READ, order=20
    )


register_sections()
