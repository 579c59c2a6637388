"""Surveys: sent when a ticket closes, answered through a signed one-time link (single use,
expiring, tamper-proof), a detractor's answer opens a follow-up ticket; NPS with its
interval, CSAT by store, agent and type, response rate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patron.catalog import service as catalog
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.engagement import service as engagement
from patron.engagement.schemas import OutboxMessageRead
from patron.staff.roles import Role
from patron.support.exceptions import SurveyLinkInvalid
from patron.support.surveys import results, tokens
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import AnswersIn, SurveyCreate
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import AssignIn, TicketFilter
from tests.helpers import ACTOR, T0, add_store, sign_up
from tests.support.helpers import move, open_ticket
from tests.web.helpers.console import make_staff

QUESTIONS = [
    {"key": "csat", "kind": "csat", "text_zh": "满意吗？", "text_en": "Satisfied?"},
    {"key": "nps", "kind": "nps", "text_zh": "会推荐吗？", "text_en": "Recommend?"},
    {"key": "effort", "kind": "ces", "text_zh": "省心吗？", "text_en": "Easy?",
     "required": False},
    {"key": "why", "kind": "text", "text_zh": "还有什么想说的？", "text_en": "Anything else?",
     "required": False},
]  # fmt: skip


def _survey(db: Database) -> None:
    survey_in = SurveyCreate.model_validate(
        {"code": "after-service", "name": "售后回访", "questions": QUESTIONS}
    )
    db.write(lambda s: surveys.create_survey(session=s, survey_in=survey_in, actor=ACTOR))


def _closed_ticket_link(db: Database, phone: str = "13900000001", store: str = "SH01") -> str:
    """Close a ticket and return the link's token (read off the outbox message)."""
    ticket = open_ticket(db, store_code=store, customer={"phone": phone}, opened_at=T0)
    move(db, ticket.id, "resolved", at=T0 + timedelta(hours=1))
    move(db, ticket.id, "closed", at=T0 + timedelta(hours=2))
    return _token_of(db, ticket.customer_id)


def _token_of(db: Database, customer_id: int) -> str:
    """The link's token as the sender finds it in the queued message."""
    invitations = db.read(lambda s: surveys.invitations_of(session=s, customer_id=customer_id))
    message_id = db.read(
        lambda s: engagement.find_message_id(
            session=s, source_kind="survey", source_id=str(invitations[-1]),
            customer_id=customer_id, channel="sms",
        )
    )  # fmt: skip
    assert message_id is not None
    claim = db.write(
        lambda s: engagement.claim_messages(
            session=s, message_ids=[message_id], now=utcnow() + timedelta(days=1), lease_s=60
        )
    )
    variables = claim.messages[0].variables or {}
    return str(variables["survey_url"]).rsplit("/s/", 1)[1]


def _answer(db: Database, token: str, minutes: int = 180, **answers: object) -> object:
    body = AnswersIn.model_validate({"answers": answers or {"csat": 5, "nps": 10}})
    return db.write(
        lambda s: surveys.submit(
            session=s, token=token, answers_in=body, now=T0 + timedelta(minutes=minutes)
        )
    )


@pytest.fixture
def shop(db: Database) -> Database:
    add_store(db, "SH01", "人民广场店")
    sign_up(db, name="王小明", phone="13900000001")
    _survey(db)
    return db


def test_closing_a_ticket_sends_the_survey_and_the_page_shows_only_a_first_name(
    shop: Database,
) -> None:
    token = _closed_ticket_link(shop)
    page = shop.read(
        lambda s: surveys.open_survey(session=s, token=token, now=T0 + timedelta(hours=3))
    )
    assert page.first_name == "小明" and page.name == "售后回访"
    assert [q.key for q in page.questions] == ["csat", "nps", "effort", "why"]
    assert "1390" not in page.model_dump_json()


def test_a_link_is_single_use(shop: Database) -> None:
    token = _closed_ticket_link(shop)
    _answer(shop, token)
    with pytest.raises(SurveyLinkInvalid) as refused:
        _answer(shop, token, csat=1, nps=0)
    assert refused.value.facts == {"reason": "used"}


def test_an_invitation_answered_before_its_message_went_is_not_sent(shop: Database) -> None:
    """The link reached the customer some other way (the demo answers its invitations in
    its made-up past): the SMS still waiting is settled as skipped, with why, never sent."""
    invited = shop.write(
        lambda s: surveys.invite(
            session=s, code="after-service", customer_ids=[1], actor=ACTOR, now=T0
        )
    )
    assert [i.channel for i in invited] == ["sms"]

    def message() -> OutboxMessageRead:
        found = shop.read(
            lambda s: engagement.find_message_id(
                session=s, source_kind="survey", source_id=str(invited[0].invitation_id),
                customer_id=1, channel="sms",
            )
        )  # fmt: skip
        assert found is not None
        read = shop.read(lambda s: engagement.get_message(session=s, message_id=found))
        assert read is not None
        return read

    assert message().status == "queued"
    _answer(shop, invited[0].token)
    skipped = message()
    assert (skipped.status, skipped.reason) == ("skipped", "survey_answered")
    assert skipped.finished_at == T0 + timedelta(minutes=180)
    assert shop.read(lambda s: engagement.count_by_status(session=s)) == {"skipped": 1}


def test_a_link_expires(shop: Database) -> None:
    token = _closed_ticket_link(shop)
    with pytest.raises(SurveyLinkInvalid) as refused:
        _answer(shop, token, minutes=15 * 24 * 60)
    assert refused.value.facts == {"reason": "expired"}


@pytest.mark.parametrize("part", [0, 1, 2, 3])
def test_a_tampered_link_is_refused(shop: Database, part: int) -> None:
    token = _closed_ticket_link(shop)
    pieces = token.split(".")
    if part == 0:
        pieces[0] = str(int(pieces[0]) + 1)  # another invitation
    elif part == 1:
        pieces[1] = str(int(pieces[1]) + 30 * 86400)  # a later expiry
    elif part == 2:
        pieces[2] = ("A" if pieces[2][0] != "A" else "B") + pieces[2][1:]
    else:
        pieces[3] = "0" * 32
    with pytest.raises(SurveyLinkInvalid) as refused:
        _answer(shop, ".".join(pieces))
    assert refused.value.facts == {"reason": "forged"}


def test_a_signed_link_whose_nonce_is_not_the_stored_one_is_refused(shop: Database) -> None:
    token = _closed_ticket_link(shop)
    invitation_id = int(token.split(".")[0])
    forged = tokens.make_token(invitation_id, T0 + timedelta(days=3), tokens.nonce())
    with pytest.raises(SurveyLinkInvalid):
        _answer(shop, forged)


def test_a_detractor_opens_a_follow_up_ticket_in_the_same_store(shop: Database) -> None:
    token = _closed_ticket_link(shop)
    response = _answer(shop, token, csat=2, nps=3, why="等了三天都没人回复，太失望了")
    follow_up = response.follow_up_ticket_id  # type: ignore[attr-defined]
    found = shop.read(lambda s: results.survey_results(session=s, code="after-service"))
    assert found.comments == [("等了三天都没人回复，太失望了", "negative")]
    assert "失望" in [word for word, _n in found.keywords]
    assert follow_up is not None and response.sentiment == "negative"  # type: ignore[attr-defined]
    opened = shop.read(lambda s: tickets.get_ticket(session=s, ticket_id=follow_up, actor=ACTOR))
    assert (opened.channel, opened.priority, opened.store_code) == ("survey", "high", "SH01")
    assert "失望" in opened.description
    move(shop, follow_up, "resolved")
    move(shop, follow_up, "closed")  # a follow-up is not surveyed again
    found = shop.read(
        lambda s: tickets.list_tickets(session=s, filters=TicketFilter(), actor=ACTOR)
    )
    assert len(found) == 2


def test_a_promoter_opens_no_ticket_and_bad_answers_name_their_question(shop: Database) -> None:
    token = _closed_ticket_link(shop)
    with pytest.raises(InvalidInput) as refused:
        _answer(shop, token, csat=6, nps=9)
    assert refused.value.field == "csat"
    with pytest.raises(InvalidInput) as refused:
        _answer(shop, token, csat=5)
    assert refused.value.field == "nps"
    assert _answer(shop, token, csat=5, nps=9).follow_up_ticket_id is None  # type: ignore[attr-defined]


def test_results_give_nps_with_its_interval_csat_by_agent_and_the_response_rate(
    shop: Database,
) -> None:
    agent = make_staff(shop, "agent", Role.SERVICE_AGENT)
    scores = [(5, 10), (4, 9), (3, 7), (1, 2)]
    for n, (csat, nps) in enumerate(scores):
        phone = f"1390000010{n}"
        ticket = open_ticket(shop, store_code="SH01", customer={"phone": phone}, opened_at=T0)
        shop.write(
            lambda s, t=ticket.id: tickets.assign(
                session=s, ticket_id=t, assign_in=AssignIn(staff_id=agent), actor=ACTOR
            )
        )
        move(shop, ticket.id, "resolved", at=T0 + timedelta(hours=1))
        move(shop, ticket.id, "closed", at=T0 + timedelta(hours=2))
        _answer(shop, _token_of(shop, ticket.customer_id), csat=csat, nps=nps)
    _closed_ticket_link(shop)  # invited, never answered
    found = shop.read(
        lambda s: results.survey_results(session=s, code="after-service", names={agent: "Agent"})
    )
    assert (found.invited, found.responded, found.response_rate_percent) == (5, 4, 80.0)
    assert (found.nps.promoters, found.nps.passives, found.nps.detractors) == (2, 1, 1)
    assert found.nps.nps == 25.0
    assert found.nps.ci_low is not None and found.nps.ci_low < 25.0 < found.nps.ci_high  # type: ignore[operator]
    assert [(s.key, s.csat_mean) for s in found.csat_by_agent] == [("Agent", 3.25)]
    store = shop.read(lambda s: catalog.get_store_by_code(session=s, code="SH01"))
    assert store is not None
    theirs = shop.read(
        lambda s: results.survey_results(
            session=s, code="after-service", store_ids=frozenset({store.id})
        )
    )
    assert (theirs.invited, theirs.responded) == (5, 4)
    elsewhere = shop.read(
        lambda s: results.survey_results(
            session=s, code="after-service", store_ids=frozenset({store.id + 99})
        )
    )
    assert (elsewhere.invited, elsewhere.responded, elsewhere.nps.nps) == (0, 0, None)
    assert found.csat.csat_satisfied_percent == 50.0
    assert found.keywords == []  # nobody wrote anything


def test_nps_interval_narrows_with_more_answers() -> None:
    few, many = results.nps_of([10, 0, 8]), results.nps_of([10, 0, 8] * 100)
    assert few.nps == many.nps == 0.0
    assert (many.ci_high - many.ci_low) < (few.ci_high - few.ci_low)  # type: ignore[operator]
    assert results.mask_text("电话13912345678，邮箱a.b@qq.com") == "电话***********，邮箱***@***"
