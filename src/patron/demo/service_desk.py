"""The demo retailer's after-sales desk: complaints, returns, repairs and enquiries, their
service levels, and CSAT/NPS answers — made through the support services (tickets, the SLA
sweep, surveys) once the demo's customers and orders exist (docs/support.md).

Who turns up at the desk is drawn from the generator's recorded truth, and the draw is
part of that truth (``truth.json``, ``service``): a customer who stops buying complained in
the ``lead_days`` after their last purchase (``death_at``, the day of the purchase they left
after) with probability ``complain_dying``, and answered the survey after it as a detractor
more often; every other buyer complained with probability
``complain_alive`` on a day the desk was open (its last ``desk_days``). Returns, repairs and enquiries come at the same rate for everyone and carry no
signal. So the churn model's service features (analytics/churn/features.py) have a known
signal to find: ``bench/service_churn.py`` reports the holdout AUC with and without them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from patron.core.actor import Actor, system_actor
from patron.core.db import Database
from patron.customers import service as customers
from patron.support import sla
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import AnswersIn, SurveyCreate
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import CategoryIn, SlaPolicyIn, TicketCreate

ZONE = ZoneInfo("Asia/Shanghai")
SURVEY_CODE = "DEMO-AFTER-SERVICE"
BATCH = 200  # tickets per transaction

# (code, parent, 中文, English)
CATEGORIES = (
    ("quality", None, "商品质量", "Product quality"),
    ("quality-fresh", "quality", "生鲜不新鲜", "Fresh food not fresh"),
    ("quality-broken", "quality", "商品破损", "Damaged goods"),
    ("attitude", None, "服务态度", "Service attitude"),
    ("delivery", None, "配送", "Delivery"),
    ("price", None, "价格", "Price"),
)
_COMPLAINTS = (
    ("quality-fresh", "买的水果不新鲜，回家就发现烂了", "草莓买回家第二天就坏了，很失望。"),
    ("quality-broken", "商品包装破损", "牛奶盒子是破的，漏了一袋子。"),
    ("attitude", "收银员态度不好", "结账时收银员很不耐烦，说话很冲。"),
    ("delivery", "配送太慢", "下单后等了三个小时才送到，冰淇淋都化了。"),
    ("price", "价格标签与结账不符", "货架上标的特价，结账却按原价收。"),
)
_OTHERS: tuple[tuple[str, str | None, str, str], ...] = (
    ("return", "quality", "申请退货", "买错了型号，想退货。"),
    ("repair", "quality-broken", "电器报修", "豆浆机用了两个月不转了，申请保修。"),
    ("enquiry", None, "咨询会员积分", "积分什么时候到账？"),
)
_PRAISE = ("处理得很快，谢谢！", "店员很耐心，问题解决了。", "")
_GRUMBLE = ("等了太久才有人回复。", "问题没有真正解决，很失望。", "以后不会再来了。")


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """The desk's rates: the recorded truth of how service relates to churn."""

    # the desk's first day, this many days before the demo's last: the churn model's
    # evaluation trains two label windows (of up to 180 days) before its last day, on the
    # 90 days before that, so the desk is open for the whole two years
    desk_days: int = 730
    complain_dying: float = 0.15  # of customers who stop buying, after their last purchase
    lead_days: int = 90  # ... within this many days of it
    complain_alive: float = 0.008  # of the others, on a day the desk was open
    other_tickets: float = 0.004  # returns, repairs, enquiries: anyone, no signal
    breach_share: float = 0.30  # of complaints: resolved after the service level
    answer_share: float = 0.5  # of closed tickets: the survey answered
    detractor_dying: float = 0.7  # of a dying customer's answers
    detractor_alive: float = 0.15
    open_at_end_days: int = 10  # tickets opened in the last days are still open


@dataclass(frozen=True, slots=True)
class _Visit:
    customer_id: int
    kind: str  # a ticket type
    category: str | None
    subject: str
    description: str
    opened_at: datetime
    breach: bool
    dying: bool


def _opened(day: date, rng: np.random.Generator) -> datetime:
    """A moment of shop hours (10:00-19:59) on ``day``, in UTC."""
    local = datetime.combine(day, time(int(rng.integers(10, 20)), int(rng.integers(0, 60))))
    return local.replace(tzinfo=ZONE).astimezone(UTC)


def draw_visits(
    truth_csv: Path, *, end: date, seed: int, plan: ServicePlan
) -> tuple[list[tuple[int, str, date]], list[tuple[int, str, date, bool]]]:
    """Who comes to the desk, from the generator's truth: (customer, kind, day) for the
    signal-bearing complaints and (customer, kind, day, dying) for the others; in the
    order of the truth file, reproducible from ``seed``."""
    rng = np.random.default_rng([seed, 20])
    opened = end - timedelta(days=plan.desk_days)
    complaints: list[tuple[int, str, date]] = []
    others: list[tuple[int, str, date, bool]] = []
    with truth_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not row["customer_id"] or row["prospect"] == "1":
                continue
            customer = int(row["customer_id"])
            dying = bool(row["death_at"])
            if dying:
                death = datetime.fromisoformat(row["death_at"]).date()
                if rng.random() < plan.complain_dying:
                    # about their last purchase (``death_at`` is the day of the purchase
                    # they left after), in the days after it: then they never come back
                    day = death + timedelta(days=int(rng.integers(0, plan.lead_days)))
                    if opened < day <= end:
                        complaints.append((customer, "dying", day))
            elif rng.random() < plan.complain_alive:
                day = end - timedelta(days=int(rng.integers(0, plan.desk_days)))
                complaints.append((customer, "alive", day))
            if rng.random() < plan.other_tickets:
                day = end - timedelta(days=int(rng.integers(0, plan.desk_days)))
                others.append((customer, "other", day, dying))
    return complaints, others


def _set_up(session: Session, actor: Actor) -> None:
    for code, parent, zh, en in CATEGORIES:
        tickets.create_category(
            session=session,
            category_in=CategoryIn(code=code, parent_code=parent, name_zh=zh, name_en=en),
            actor=actor,
        )
    sla.save_policy(
        session=session,
        policy_in=SlaPolicyIn.model_validate(
            {"name": "投诉 Complaints", "ticket_type": "complaint",
             "first_reply_minutes": 120, "resolve_minutes": 8 * 60}
        ),
        actor=actor,
    )  # fmt: skip
    sla.save_policy(
        session=session,
        policy_in=SlaPolicyIn(name="售后 After-sales", first_reply_minutes=240,
                              resolve_minutes=3 * 8 * 60),
        actor=actor,
    )  # fmt: skip
    surveys.create_survey(
        session=session,
        survey_in=SurveyCreate.model_validate(
            {
                "code": SURVEY_CODE,
                "name": "售后满意度 After-service satisfaction",
                "trigger": "list",  # sent by this module, not on every close
                "questions": [
                    {
                        "key": "csat",
                        "kind": "csat",
                        "text_zh": "您对这次服务满意吗？",
                        "text_en": "How satisfied are you with our service?",
                    },
                    {
                        "key": "nps",
                        "kind": "nps",
                        "text_zh": "您有多大可能向朋友推荐我们？",
                        "text_en": "How likely are you to recommend us to a friend?",
                    },
                    {
                        "key": "comment",
                        "kind": "text",
                        "text_zh": "还有什么想告诉我们的？",
                        "text_en": "Anything else to tell us?",
                        "required": False,
                    },
                ],
            }
        ),
        actor=actor,
    )


def _serve(
    session: Session,
    visit: _Visit,
    actor: Actor,
    rng: np.random.Generator,
    plan: ServicePlan,
    end_at: datetime,
    counts: dict[str, int],
) -> None:
    """One ticket from opening to close (or left open near the end), then perhaps its
    survey answered."""
    customer = customers.get_customer(session=session, customer_id=visit.customer_id)
    opened = tickets.open_ticket(
        session=session,
        ticket_in=TicketCreate.model_validate(
            {
                "ticket_type": visit.kind,
                "channel": str(rng.choice(["store", "phone", "wechat"])),
                "priority": "high" if visit.kind == "complaint" else "normal",
                "subject": visit.subject,
                "description": visit.description,
                "customer": {"id": visit.customer_id},
                "category_code": visit.category,
                "store_code": customer.home_store_code if customer else None,
                "opened_at": visit.opened_at,
            }
        ),
        actor=actor,
        now=visit.opened_at,
    )
    counts[str(visit.kind)] += 1
    if visit.opened_at > end_at - timedelta(days=plan.open_at_end_days):
        counts["open_at_end"] += 1
        return
    due = opened.resolve_due_at
    if visit.breach and due is not None:
        # nobody got to it in time: the sweep records the breach and escalates
        swept = sla.sweep(session=session, now=due + timedelta(minutes=5))
        counts["breached"] += int(swept.breaches > 0)
        resolved_at = due + timedelta(hours=int(rng.integers(1, 48)))
    else:
        resolved_at = visit.opened_at + timedelta(minutes=int(rng.integers(20, 6 * 60)))
    closed_at = resolved_at + timedelta(days=1)
    _close(
        session, opened.id, actor, visit.opened_at + timedelta(minutes=10), resolved_at, closed_at
    )
    if rng.random() >= plan.answer_share or closed_at > end_at:
        return
    invited = surveys.invite(
        session=session, code=SURVEY_CODE, customer_ids=[visit.customer_id], actor=actor,
        now=closed_at,
    )  # fmt: skip
    if not invited:
        return
    unhappy = visit.breach or rng.random() < (
        plan.detractor_dying if visit.dying else plan.detractor_alive
    )
    if unhappy:
        answers = {"csat": int(rng.integers(1, 3)), "nps": int(rng.integers(0, 7)),
                   "comment": str(rng.choice(_GRUMBLE))}  # fmt: skip
    else:
        answers = {"csat": int(rng.integers(4, 6)), "nps": int(rng.integers(8, 11)),
                   "comment": str(rng.choice(_PRAISE))}  # fmt: skip
    answered_at = closed_at + timedelta(hours=int(rng.integers(1, 30)))
    answered_at = min(answered_at, end_at)
    response = surveys.submit(
        session=session, token=invited[0].token, answers_in=AnswersIn(answers=answers),
        now=answered_at,
    )  # fmt: skip
    counts["answers"] += 1
    counts["detractors"] += int(unhappy)
    if response.follow_up_ticket_id is not None:
        # the detractor's follow-up: a call back the next day, then closed
        counts["follow_ups"] += 1
        call = answered_at + timedelta(hours=20)
        _close(session, response.follow_up_ticket_id, actor, call, call + timedelta(hours=1),
               call + timedelta(days=1))  # fmt: skip


def _close(
    session: Session,
    ticket_id: int,
    actor: Actor,
    started: datetime,
    resolved: datetime,
    closed: datetime,
) -> None:
    ticket = tickets.load_ticket(session, ticket_id, actor)
    for status, at in (
        ("in_progress", started),
        ("resolved", resolved),
        ("closed", closed),
    ):
        tickets.move(session, ticket, status, actor, at)


Progress = Callable[[int, int], None]


def build_service_desk(
    *,
    db: Database,
    truth_csv: Path,
    end: date,
    seed: int,
    plan: ServicePlan | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Tickets and survey answers for the demo's customers, through the support services;
    returns what was drawn and made, for ``truth.json``."""
    plan = plan or ServicePlan()
    actor = system_actor("demo")
    complaints, others = draw_visits(truth_csv, end=end, seed=seed, plan=plan)
    rng = np.random.default_rng([seed, 21])
    dying_ids = {c for c, kind, _ in complaints if kind == "dying"}
    visits: list[_Visit] = []
    for customer, kind, day in complaints:
        category: str | None
        category, subject, text = _COMPLAINTS[int(rng.integers(len(_COMPLAINTS)))]
        visits.append(_Visit(customer, "complaint", category, subject, text,
                             _opened(day, rng), bool(rng.random() < plan.breach_share),
                             kind == "dying"))  # fmt: skip
    for customer, _, day, dying in others:
        kind_, category, subject, text = _OTHERS[int(rng.integers(len(_OTHERS)))]
        visits.append(_Visit(customer, kind_, category, subject, text, _opened(day, rng),
                             False, dying))  # fmt: skip
    # In time order, so that an SLA sweep finds only the ticket it is run for open.
    visits.sort(key=lambda v: (v.opened_at, v.customer_id))
    if db.read(lambda s: any(x.code == SURVEY_CODE for x in surveys.list_surveys(session=s))):
        return {"already_present": True}  # a re-run over the same database
    db.write(lambda s: _set_up(s, actor))
    end_at = datetime.combine(end + timedelta(days=1), time()).replace(tzinfo=ZONE)
    counts = {k: 0 for k in ("complaint", "return", "repair", "enquiry", "breached",
                             "open_at_end", "answers", "detractors", "follow_ups")}  # fmt: skip
    # visits in time order: the last days' tickets, left open, come last (no sweep after them)
    for start in range(0, len(visits), BATCH):
        batch = visits[start : start + BATCH]

        def serve(session: Session, batch: list[_Visit] = batch) -> None:
            for visit in batch:
                _serve(session, visit, actor, rng, plan, end_at, counts)

        db.write(serve)
        if progress is not None:
            progress(min(start + BATCH, len(visits)), len(visits))
    return {
        "plan": asdict(plan),
        "drawn": {
            "complaints_of_customers_who_stop_buying": len(dying_ids),
            "complaints_of_the_others": sum(1 for _, kind, _ in complaints if kind == "alive"),
            "other_tickets": len(others),
        },
        "made": counts,
    }
