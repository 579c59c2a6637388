"""Withdrawal reaches every send at once: a message already queued (by a campaign, or by a
journey's step — both go out through the engagement outbox and its send-time checks) is
skipped when its customer withdrew marketing consent or was erased meanwhile, and the next
campaign send leaves them out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import MessageStatus
from patron.engagement.schemas import MessagesIn
from patron.privacy import erasure
from tests.consent.helpers import record
from tests.engagement.builders import CONTENT, MORNING, message_of
from tests.engagement.stand_ins import StandIns
from tests.helpers import ACTOR, reachable_customer
from tests.privacy.helpers import file_request


def _queue_marketing(db: Database, ids: list[int]) -> None:
    def work(session: object) -> None:
        content_id = outbox.create_content(session=session, content_in=CONTENT["email"])  # type: ignore[arg-type]
        outbox.enqueue_messages(
            session=session,  # type: ignore[arg-type]
            messages_in=MessagesIn.model_validate(
                {
                    "source_kind": "journey",
                    "source_id": "1",
                    "channel": "email",
                    "purpose": "marketing",
                    "content_id": content_id,
                    "recipients": [
                        {"customer_id": c, "variables": {"coupon_code": "X1"}} for c in ids
                    ],
                    "send_at": MORNING,
                }
            ),
        )

    db.write(work)


def test_a_withdrawal_or_an_erasure_stops_messages_already_queued(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    stays, withdraws, erased = (reachable_customer(db) for _ in range(3))
    record(db, [stays, withdraws, erased], "email")
    _queue_marketing(db, [stays, withdraws, erased])

    record(db, [withdraws], "email", granted=False)  # e.g. from the unsubscribe link
    request = file_request(db, erased, kind="erasure")
    erasure.erase_and_roll(db=db, request_id=request.id, actor=ACTOR)

    dispatcher = Dispatcher(db, settings=configure(), clock=lambda: MORNING + timedelta(minutes=1))
    try:
        report = dispatcher.dispatch_due()
    finally:
        dispatcher.close_thread()

    assert (report.sent, report.skipped) == (1, 2)
    journey = ("journey", "1")
    assert message_of(db, stays, source=journey).status == MessageStatus.SENT
    for gone, why in ((withdraws, "no_consent"), (erased, "customer_gone")):
        skipped = message_of(db, gone, source=journey)
        assert (skipped.status, skipped.reason) == (MessageStatus.SKIPPED, why)
    assert len(servers.smtp.delivered) == 1
