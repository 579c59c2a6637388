"""The consent ledger (append-only events, current state) and the send check that holds
every message to it, through the real dispatcher and SMTP stand-in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from patron.consent import allows, get_consent, reachable_for_marketing
from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import checks
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import MessageStatus
from patron.engagement.schemas import MessagesIn
from tests.consent.helpers import record
from tests.engagement.builders import CONTENT, MORNING, message_of
from tests.engagement.stand_ins import StandIns
from tests.helpers import reachable_customer


def _enqueue_without_consent(db: Database, ids: list[int], purpose: str) -> None:
    def work(session: object) -> None:
        content_id = outbox.create_content(session=session, content_in=CONTENT["email"])  # type: ignore[arg-type]
        outbox.enqueue_messages(
            session=session,  # type: ignore[arg-type]
            messages_in=MessagesIn.model_validate(
                {
                    "source_kind": "campaign",
                    "source_id": "1",
                    "channel": "email",
                    "purpose": purpose,
                    "content_id": content_id,
                    "recipients": [
                        {"customer_id": c, "variables": {"coupon_code": "X1"}} for c in ids
                    ],
                    "send_at": MORNING,
                }
            ),
        )

    db.write(work)


def test_the_rule_needs_a_grant_for_marketing_and_honours_a_channel_opt_out() -> None:
    assert allows({}, channel="sms", purpose="marketing") == (False, "no_consent")
    assert allows({}, channel="sms", purpose="service") == (True, None)
    granted = {("sms", "marketing"): True}
    assert allows(granted, channel="sms", purpose="marketing") == (True, None)
    assert allows(granted, channel="email", purpose="marketing") == (False, "no_consent")
    opted_out = {("sms", "marketing"): True, ("sms", "service"): False}
    assert allows(opted_out, channel="sms", purpose="marketing") == (False, "opted_out")
    assert allows(opted_out, channel="sms", purpose="service") == (False, "opted_out")


def test_the_ledger_keeps_every_change_and_an_old_import_never_undoes_a_newer_withdrawal(
    db: Database,
) -> None:
    cid = reachable_customer(db)
    record(db, [cid], "sms", granted=True, source="till")
    record(db, [cid], "sms", granted=False, source="web_form")
    record(db, [cid], "sms", granted=True, source="import", at=MORNING - timedelta(days=300))

    consent = db.read(lambda s: get_consent(session=s, customer_id=cid))

    sms = next(s for s in consent.states if s.channel == "sms" and s.purpose == "marketing")
    assert (sms.granted, sms.allowed, sms.source) == (False, False, "web_form")
    assert [(e.granted, e.source) for e in consent.history] == [
        (False, "web_form"),
        (True, "till"),
        (True, "import"),
    ]
    assert all(e.notice_version == "2026-01" for e in consent.history)
    phone = next(s for s in consent.states if s.channel == "phone" and s.purpose == "service")
    assert (phone.granted, phone.allowed) == (None, True)
    assert (
        db.read(lambda s: reachable_for_marketing(session=s, customer_ids=[cid], channel="sms"))
        == set()
    )


def test_marketing_without_consent_and_any_message_on_an_opted_out_channel_are_skipped(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    assert "consent" in checks._checks  # registered on import of patron.consent
    silent, agreed, opted_out = (reachable_customer(db) for _ in range(3))
    record(db, [agreed, opted_out], "email")
    record(db, [opted_out], "email", purpose="service", granted=False)
    _enqueue_without_consent(db, [silent, agreed, opted_out], "marketing")
    dispatcher = Dispatcher(db, settings=configure(), clock=lambda: MORNING + timedelta(minutes=1))
    try:
        report = dispatcher.dispatch_due()
    finally:
        dispatcher.close_thread()

    assert (report.sent, report.skipped) == (1, 2)
    assert (message_of(db, silent).status, message_of(db, silent).reason) == (
        MessageStatus.SKIPPED,
        "no_consent",
    )
    assert message_of(db, agreed).status == MessageStatus.SENT
    assert message_of(db, opted_out).reason == "opted_out"
    assert len(servers.smtp.delivered) == 1


def test_service_messages_need_no_marketing_consent_but_honour_the_opt_out(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    silent, opted_out = reachable_customer(db), reachable_customer(db)
    record(db, [opted_out], "email", purpose="service", granted=False)
    _enqueue_without_consent(db, [silent, opted_out], "transactional")
    dispatcher = Dispatcher(db, settings=configure(), clock=lambda: MORNING + timedelta(minutes=1))
    try:
        dispatcher.dispatch_due()
    finally:
        dispatcher.close_thread()

    assert message_of(db, silent).status == MessageStatus.SENT
    assert message_of(db, opted_out).reason == "opted_out"
    assert len(servers.smtp.delivered) == 1


def test_consents_imported_in_bulk_join_the_ledger_without_undoing_a_later_withdrawal(
    db: Database,
) -> None:
    from patron.consent import record_consents_in_bulk

    fresh, withdrawn = reachable_customer(db), reachable_customer(db)
    record(db, [withdrawn], "sms", granted=False)
    written = db.write(
        lambda s: record_consents_in_bulk(
            session=s,
            customer_ids=[fresh, withdrawn],
            channel="sms",
            purpose="marketing",
            granted=True,
            source="import",
            notice_version="2025-06",
            at=MORNING - timedelta(days=100),
        )
    )
    assert written == 2
    assert db.read(
        lambda s: reachable_for_marketing(session=s, customer_ids=[fresh, withdrawn], channel="sms")
    ) == {fresh}
    history = db.read(lambda s: get_consent(session=s, customer_id=withdrawn)).history
    assert [(e.source, e.granted) for e in history] == [("till", False), ("import", True)]


def test_a_whole_audience_is_read_in_one_pass_with_the_same_answer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.consent import service

    agreed, withdrawn, silent = (reachable_customer(db) for _ in range(3))
    record(db, [agreed, withdrawn], "sms")
    record(db, [withdrawn], "sms", purpose="service", granted=False)
    ids = [agreed, withdrawn, silent]
    one_by_one = db.read(
        lambda s: reachable_for_marketing(session=s, customer_ids=ids, channel="sms")
    )
    monkeypatch.setattr(service, "SCAN_ABOVE", 0)
    scanned = db.read(lambda s: reachable_for_marketing(session=s, customer_ids=ids, channel="sms"))
    assert one_by_one == scanned == {agreed}
