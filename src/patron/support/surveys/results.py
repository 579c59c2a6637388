"""Survey results: response rate, NPS with its 95% confidence interval, CSAT by store,
agent and ticket type, CES, NPS by month, and the comments with anything that looks like a
phone number, an e-mail address or an order number masked."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.settings import get_settings
from patron.support.surveys.models import SurveyInvitation, SurveyResponse
from patron.support.surveys.schemas import NpsRead, Score, SurveyResults
from patron.support.surveys.service import DETRACTOR_NPS, get_survey_row
from patron.support.tickets.models import Ticket

PROMOTER = 9
SATISFIED = 4
Z95 = 1.96
_DIGITS = re.compile(r"\d{4,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def mask_text(text: str) -> str:
    return _DIGITS.sub(lambda m: "*" * len(m[0]), _EMAIL.sub("***@***", text))


def nps_of(scores: list[int]) -> NpsRead:
    """NPS = % promoters (9-10) − % detractors (0-6), with the normal approximation's 95%
    interval: the score of one answer is +1, 0 or −1, so its variance is
    p₊ + p₋ − (p₊ − p₋)²."""
    n = len(scores)
    promoters = sum(s >= PROMOTER for s in scores)
    detractors = sum(s <= DETRACTOR_NPS for s in scores)
    if n == 0:
        return NpsRead(responses=0, promoters=0, passives=0, detractors=0, nps=None,
                       ci_low=None, ci_high=None)  # fmt: skip
    p_plus, p_minus = promoters / n, detractors / n
    nps = p_plus - p_minus
    half = Z95 * math.sqrt(max(p_plus + p_minus - nps**2, 0.0) / n)
    return NpsRead(
        responses=n,
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
        nps=round(100 * nps, 1),
        ci_low=round(100 * max(nps - half, -1.0), 1),
        ci_high=round(100 * min(nps + half, 1.0), 1),
    )


def _score(key: str, values: list[int]) -> Score:
    return Score(
        key=key,
        responses=len(values),
        csat_mean=round(sum(values) / len(values), 2) if values else None,
        csat_satisfied_percent=(
            round(100 * sum(v >= SATISFIED for v in values) / len(values), 1) if values else None
        ),
    )


def survey_results(
    *,
    session: Session,
    code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    store_ids: frozenset[int] | None = None,
    names: dict[int, str] | None = None,
    stores: dict[int, str] | None = None,
) -> SurveyResults:
    """Results of one survey over [since, until) (by invitation time for the rate, by answer
    time for the scores); ``store_ids`` keeps a store's staff to their stores' answers."""
    survey = get_survey_row(session, code)
    invited_q = (
        select(func.count())
        .select_from(SurveyInvitation)
        .where(SurveyInvitation.survey_id == survey.id)
    )
    q = select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
    if since is not None:
        invited_q = invited_q.where(SurveyInvitation.created_at >= since)
        q = q.where(SurveyResponse.submitted_at >= since)
    if until is not None:
        invited_q = invited_q.where(SurveyInvitation.created_at < until)
        q = q.where(SurveyResponse.submitted_at < until)
    if store_ids is not None:  # a store's own: invitations after its tickets, their answers
        q = q.where(SurveyResponse.store_id.in_(store_ids))
        invited_q = invited_q.join(Ticket, Ticket.id == SurveyInvitation.ticket_id).where(
            Ticket.store_id.in_(store_ids)
        )
    rows = list(session.scalars(q.order_by(SurveyResponse.submitted_at)))
    invited = int(session.scalar(invited_q) or 0)
    by: dict[str, dict[str, list[int]]] = {k: defaultdict(list) for k in ("store", "agent", "type")}
    months: dict[str, list[int]] = defaultdict(list)
    zone = get_settings().zone
    for r in rows:
        if r.csat is not None:
            by["store"][(stores or {}).get(r.store_id or 0, "—")].append(r.csat)
            by["agent"][(names or {}).get(r.agent_id or 0, "—")].append(r.csat)
            by["type"][r.ticket_type or "—"].append(r.csat)
        if r.nps is not None:
            months[r.submitted_at.astimezone(zone).strftime("%Y-%m")].append(r.nps)
    return SurveyResults(
        survey=survey.code,
        invited=invited,
        responded=len(rows),
        response_rate_percent=round(100 * len(rows) / invited, 1) if invited else None,
        nps=nps_of([r.nps for r in rows if r.nps is not None]),
        csat=_score("all", [r.csat for r in rows if r.csat is not None]),
        ces_mean=_mean([r.ces for r in rows if r.ces is not None]),
        csat_by_store=[_score(k, v) for k, v in sorted(by["store"].items())],
        csat_by_agent=[_score(k, v) for k, v in sorted(by["agent"].items())],
        csat_by_type=[_score(k, v) for k, v in sorted(by["type"].items())],
        by_month=[(m, len(v), nps_of(v).nps) for m, v in sorted(months.items())],
        comments=[(mask_text(r.comment), r.sentiment) for r in rows if r.comment][-50:],
        keywords=_keywords([r.comment for r in rows if r.comment]),
    )


def _keywords(texts: list[str]) -> list[tuple[str, int]]:
    """What the comments talk about (jieba words, rare in Chinese at large: support/feedback),
    digits left out so that no number from a comment is shown."""
    if not texts:
        return []
    from patron.support.feedback.keywords import keywords

    found = keywords([mask_text(t) for t in texts], top=15)
    return [(k.word, k.texts) for k in found if not any(ch.isdigit() for ch in k.word)]


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
