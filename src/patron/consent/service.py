"""The consent ledger: grants and withdrawals per customer, channel and purpose, the send
check that holds every message to them, one-click unsubscribe and SMS replies (docs/consent.md).

The rule, as :func:`allows` says it: a marketing message needs a marketing grant on its
channel; any message, service or marketing, is refused on a channel whose service consent
was withdrawn (the customer opted out of the channel). Services take ``session`` keyword-only
and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.consent.models import (
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    ConsentState,
)
from patron.consent.schemas import (
    ConsentChange,
    ConsentEventRead,
    ConsentIn,
    ConsentRead,
    ConsentStateRead,
    SmsReplyIn,
    SmsReplyResult,
)
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.customers import service as customers
from patron.engagement import checks
from patron.engagement import service as outbox
from patron.engagement.tokens import read_message_token

# Replies that mean "stop sending me marketing SMS" (the carriers' conventions: 退订, TD, T, N).
STOP_WORDS = frozenset(
    {"TD", "T", "N", "退订", "取消", "退订短信", "取消订阅", "UNSUBSCRIBE", "STOP"}
)
_CHUNK = 5_000
SCAN_ABOVE = 50_000  # customers asked about at once, past which a channel's states are scanned

# ------------------------------------------------------------------------------ the rule


def allows(
    states: Mapping[tuple[str, str], bool], *, channel: str, purpose: str
) -> tuple[bool, str | None]:
    """Whether a message of ``purpose`` may go on ``channel`` given a customer's recorded
    states ((channel, purpose) → granted), and the reason code when not."""
    if states.get((channel, ConsentPurpose.SERVICE)) is False:
        return False, "opted_out"
    if purpose == ConsentPurpose.MARKETING and states.get((channel, purpose)) is not True:
        return False, "no_consent"
    return True, None


def _states_of(
    session: Session, customer_ids: Iterable[int]
) -> dict[int, dict[tuple[str, str], bool]]:
    ids = sorted(set(customer_ids))
    found: dict[int, dict[tuple[str, str], bool]] = {cid: {} for cid in ids}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(
                ConsentState.customer_id,
                ConsentState.channel,
                ConsentState.purpose,
                ConsentState.granted,
            ).where(ConsentState.customer_id.in_(ids[start : start + _CHUNK]))
        )
        for cid, on, purpose, granted in rows:
            found[cid][(on, purpose)] = bool(granted)
    return found


def consent_states(*, session: Session) -> list[tuple[int, str, str, bool]]:
    """(customer, channel, purpose, granted) of every current state: what the audiences'
    consent condition reads, copied into the analytics store."""
    rows = session.execute(
        select(
            ConsentState.customer_id,
            ConsentState.channel,
            ConsentState.purpose,
            ConsentState.granted,
        )
    )
    return [(int(c), ch, p, bool(g)) for c, ch, p, g in rows]


def consent_check(session: Session, candidates: Sequence[checks.Candidate]) -> dict[int, str]:
    """The send check (engagement.checks): which of a batch may not go, and why."""
    states = _states_of(session, (c.customer_id for c in candidates))
    refused: dict[int, str] = {}
    for c in candidates:
        purpose = ConsentPurpose.MARKETING if c.marketing else ConsentPurpose.SERVICE
        ok, reason = allows(states.get(c.customer_id, {}), channel=c.channel, purpose=purpose)
        if not ok:
            refused[c.message_id] = reason or "no_consent"
    return refused


def reachable_for_marketing(
    *, session: Session, customer_ids: Sequence[int], channel: str
) -> set[int]:
    """Those of ``customer_ids`` who may be sent marketing on ``channel`` (a campaign leaves
    the others out before it writes a row; the send check asks again at send time)."""
    if len(customer_ids) > SCAN_ABOVE:
        # A campaign's whole audience: the rule of :func:`allows` as one query over the
        # channel's states, intersected with the audience (no dictionary per customer).
        # On the table, not the mapped class: a million ids come back as plain rows, without
        # the ORM's work per row.
        state = cast(Table, ConsentState.__table__)
        service = state.alias("service")
        withdrawn = (
            select(service.c.id)
            .where(
                service.c.customer_id == state.c.customer_id,
                service.c.channel == channel,
                service.c.purpose == ConsentPurpose.SERVICE,
                service.c.granted.is_(False),
            )
            .exists()
        )
        granted = session.execute(
            select(state.c.customer_id).where(
                state.c.channel == channel,
                state.c.purpose == ConsentPurpose.MARKETING,
                state.c.granted.is_(True),
                ~withdrawn,
            )
        ).all()
        return {cid for (cid,) in granted}.intersection(customer_ids)
    states = _states_of(session, customer_ids)
    return {
        cid
        for cid, mine in states.items()
        if allows(mine, channel=channel, purpose=ConsentPurpose.MARKETING)[0]
    }


# ------------------------------------------------------------------------------ the ledger


def record_consent(
    *,
    session: Session,
    customer_id: int,
    consent_in: ConsentIn,
    actor: Actor | None = None,
    recorded_by: str | None = None,
    reference: str | None = None,
    store_ids: frozenset[int] | None = None,
) -> ConsentRead:
    """Append the changes to the ledger and move the current state (unless a later event is
    already recorded: an import of old grants never undoes a newer withdrawal). A change
    made by staff or an API key (``actor``) is audited."""
    customers.get_customer_or_raise(session=session, customer_id=customer_id, store_ids=store_ids)
    at = consent_in.at or utcnow()
    if at > utcnow():
        raise InvalidInput("at", "must not be in the future", message_code="consent_in_future")
    by = recorded_by or (actor.label if actor else None)
    current = {
        (s.channel, s.purpose): s
        for s in session.scalars(
            select(ConsentState).where(ConsentState.customer_id == customer_id)
        )
    }
    changed = []
    for change in _unique(consent_in.changes):
        event = ConsentEvent(
            customer_id=customer_id,
            channel=change.channel,
            purpose=change.purpose,
            granted=change.granted,
            at=at,
            source=consent_in.source,
            notice_version=consent_in.notice_version,
            recorded_by=by[:120] if by else None,
            reference=reference,
        )
        session.add(event)
        session.flush()
        changed.append(
            f"{change.channel}.{change.purpose}={'granted' if change.granted else 'withdrawn'}"
        )
        state = current.get((change.channel, change.purpose))
        if state is None:
            session.add(
                ConsentState(
                    customer_id=customer_id,
                    channel=change.channel,
                    purpose=change.purpose,
                    granted=change.granted,
                    at=at,
                    source=consent_in.source,
                    notice_version=consent_in.notice_version,
                    event_id=event.id,
                )
            )
        elif state.at <= at:
            state.granted = change.granted
            state.at = at
            state.source = consent_in.source
            state.notice_version = consent_in.notice_version
            state.event_id = event.id
    session.flush()
    if actor is not None:
        record_audit(
            session=session,
            actor=actor,
            action="consent.change",
            target_kind="customer",
            target_id=customer_id,
            details={"changes": changed, "source": str(consent_in.source)},
        )
    return get_consent(session=session, customer_id=customer_id)


def _unique(changes: Sequence[ConsentChange]) -> list[ConsentChange]:
    """The last change per channel and purpose (a form sending one twice says it once)."""
    last = {(c.channel, c.purpose): c for c in changes}
    return list(last.values())


def get_consent(
    *,
    session: Session,
    customer_id: int,
    history_limit: int = 50,
    store_ids: frozenset[int] | None = None,
    check: bool = False,
) -> ConsentRead:
    """Every channel × purpose (recorded or not) and the latest events, newest first.
    ``check``: the customer must exist (and be in ``store_ids``, when given)."""
    if check:
        customers.get_customer_or_raise(
            session=session, customer_id=customer_id, store_ids=store_ids
        )
    recorded = {
        (s.channel, s.purpose): s
        for s in session.scalars(
            select(ConsentState).where(ConsentState.customer_id == customer_id)
        )
    }
    flags = {key: s.granted for key, s in recorded.items()}
    states = []
    for channel in ConsentChannel:
        for purpose in ConsentPurpose:
            s = recorded.get((channel, purpose))
            states.append(
                ConsentStateRead(
                    channel=channel,
                    purpose=purpose,
                    granted=s.granted if s else None,
                    allowed=allows(flags, channel=channel, purpose=purpose)[0],
                    at=s.at if s else None,
                    source=s.source if s else None,
                    notice_version=s.notice_version if s else None,
                )
            )
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.customer_id == customer_id)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(history_limit)
    )
    return ConsentRead(
        customer_id=customer_id,
        states=states,
        history=[ConsentEventRead.model_validate(e) for e in events],
    )


def _withdraw(
    session: Session,
    customer_id: int,
    channel: str,
    *,
    at: datetime,
    recorded_by: str,
    reference: str | None,
) -> bool:
    """Withdraw marketing on ``channel`` unless it is already withdrawn (an unsubscribe link
    followed twice, a mail scanner's POST): True when something changed."""
    state = session.scalar(
        select(ConsentState).where(
            ConsentState.customer_id == customer_id,
            ConsentState.channel == channel,
            ConsentState.purpose == ConsentPurpose.MARKETING,
        )
    )
    if state is not None and not state.granted:
        return False
    record_consent(
        session=session,
        customer_id=customer_id,
        consent_in=ConsentIn(
            changes=[
                ConsentChange(channel=channel, purpose=ConsentPurpose.MARKETING, granted=False)
            ],
            source=ConsentSource.UNSUBSCRIBE,
            at=at,
        ),
        recorded_by=recorded_by,
        reference=reference,
    )
    return True


# ------------------------------------------------------------------------------ unsubscribe


def message_of_token(*, session: Session, token: str) -> tuple[int, int, str] | None:
    """(message id, customer id, channel) an unsubscribe token names, or None."""
    message_id = read_message_token(token)
    if message_id is None:
        return None
    message = outbox.get_message(session=session, message_id=message_id)
    if message is None:
        return None
    return message.id, message.customer_id, str(message.channel)


def unsubscribe(*, session: Session, token: str) -> bool | None:
    """The one-click unsubscribe of a message's link: withdraw marketing on the message's
    channel. None for a token that names no message; else whether anything changed."""
    found = message_of_token(session=session, token=token)
    if found is None:
        return None
    message_id, customer_id, channel = found
    live = customers.active_customer_id(session=session, customer_id=customer_id)
    return _withdraw(
        session,
        live,
        channel,
        at=utcnow(),
        recorded_by="unsubscribe link",
        reference=f"message:{message_id}",
    )


def is_stop_word(text: str) -> bool:
    words = text.strip().upper().replace("　", " ").strip("。.!！ ")
    return words in STOP_WORDS


def record_sms_reply(*, session: Session, reply_in: SmsReplyIn) -> SmsReplyResult:
    """An SMS reply: "TD" (or 退订 …) withdraws SMS marketing from the phone's owner; any other
    text is ignored. A phone nobody owns changes nothing."""
    if not is_stop_word(reply_in.text):
        return SmsReplyResult(unsubscribed=False)
    try:
        owner = customers.find_customer_id(session=session, kind="phone", value=reply_in.phone)
    except InvalidInput:
        raise InvalidInput("phone", "not a phone number", message_code="invalid_phone") from None
    if owner is None:
        return SmsReplyResult(unsubscribed=False)
    # Recorded when received: the latest word of the customer, whatever the provider's clock
    # says (the reply's own time is kept as the reference).
    sent_at = reply_in.at.isoformat(timespec="seconds") if reply_in.at else None
    _withdraw(
        session,
        owner,
        ConsentChannel.SMS,
        at=utcnow(),
        recorded_by="sms reply",
        reference=f"reply:{sent_at}" if sent_at else None,
    )
    return SmsReplyResult(unsubscribed=True, customer_ids=[owner])


def unsubscribed_since(*, session: Session, customer_ids: Sequence[int], since: datetime) -> int:
    """How many of ``customer_ids`` withdrew marketing through an unsubscribe since ``since``."""
    wanted = set(customer_ids)
    rows = session.scalars(
        select(ConsentEvent.customer_id)
        .where(
            ConsentEvent.source == ConsentSource.UNSUBSCRIBE,
            ConsentEvent.granted.is_(False),
            ConsentEvent.at >= since,
        )
        .distinct()
    )
    return sum(1 for cid in rows if cid in wanted)


def record_consents_in_bulk(
    *,
    session: Session,
    customer_ids: Sequence[int],
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    notice_version: str | None,
    at: datetime | None = None,
) -> int:
    """One change for many customers (an import of the consents a till or a mini-program
    collected), in bulk: the events, then the states of those without a later one. Returns
    how many events were written. Customers are not checked one by one: the ids come from
    the caller's own read of live customers."""
    at = at or utcnow()
    ids = sorted(set(customer_ids))
    event = cast(Table, ConsentEvent.__table__)
    state = cast(Table, ConsentState.__table__)
    written = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            insert(event).returning(event.c.id, event.c.customer_id),
            [
                {
                    "customer_id": cid,
                    "channel": channel,
                    "purpose": purpose,
                    "granted": granted,
                    "at": at,
                    "source": source,
                    "notice_version": notice_version,
                    "recorded_by": "bulk",
                    "created_at": at,
                }
                for cid in chunk
            ],
        ).all()
        by_customer = {int(cid): int(eid) for eid, cid in rows}
        current = {
            int(cid): s_at
            for cid, s_at in session.execute(
                select(state.c.customer_id, state.c.at).where(
                    state.c.customer_id.in_(chunk),
                    state.c.channel == channel,
                    state.c.purpose == purpose,
                )
            )
        }
        fresh = [
            {
                "customer_id": cid,
                "channel": channel,
                "purpose": purpose,
                "granted": granted,
                "at": at,
                "source": source,
                "notice_version": notice_version,
                "event_id": by_customer[cid],
            }
            for cid in chunk
            if cid not in current
        ]
        if fresh:
            session.execute(insert(state), fresh)
        for cid, s_at in current.items():
            if s_at <= at:
                session.execute(
                    update(state)
                    .where(
                        state.c.customer_id == cid,
                        state.c.channel == channel,
                        state.c.purpose == purpose,
                    )
                    .values(
                        granted=granted,
                        at=at,
                        source=source,
                        notice_version=notice_version,
                        event_id=by_customer[cid],
                    )
                )
        written += len(chunk)
    return written
