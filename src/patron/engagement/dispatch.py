"""The dispatcher: claims due messages, checks them at send time, renders them, hands them to
their channel's adapter and records what came of it.

The life of a message
---------------------
1. **queued**, written with its source's decision (:func:`service.enqueue_messages`).
2. **sending**: claimed atomically with a lease (a claimed row no longer matches "due").
   In the same transaction the send-time checks run: the customer still there and reachable
   on the channel, the registered checks (consent, do-not-contact: ``checks.py``), the
   maximum lateness, quiet hours and frequency caps (``rules.py``, marketing only; the caps
   serialised per customer). A message that fails one is **skipped** with its reason; one in
   quiet hours goes back to the queue until they end.
3. The adapter writes the request and, just before its last byte, the hand-over is recorded
   (``channels/base.py``). Each outcome is recorded at once, on its own attempt row:
   **sent**, back to **queued** with a back-off (a network error, a busy or throttling
   provider), or **failed** (an invalid number, a template not approved, an account problem —
   the last also logged as an alarm and pausing that provider for a while).
4. A claim whose worker died is taken back when its lease ends (:meth:`Dispatcher.sweep`).

Delivery reports (delivered, bounced) come later from the providers' callbacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import Settings, get_settings
from patron.customers import CustomerStatus, IdentityKind
from patron.customers import service as customers
from patron.customers.schemas import CustomerRead
from patron.engagement import checks, rules
from patron.engagement import service as outbox
from patron.engagement.channels import adapter_for
from patron.engagement.channels.base import (
    RETRYABLE,
    Adapter,
    ClaimLost,
    Outcome,
    Outgoing,
    SendResult,
    clip,
)
from patron.engagement.models import MessageStatus
from patron.engagement.ratelimit import take_tokens
from patron.engagement.render import RenderError, render
from patron.engagement.schemas import DispatchReport
from patron.engagement.service import Claim, ClaimedMessage
from patron.engagement.tokens import message_token

log = logging.getLogger(__name__)

# A provider that answered with an account problem is left alone this long.
PROVIDER_PAUSE_S = 300.0
# Stop taking a provider's budget this close to the end of the lease: release the rest.
_LEASE_MARGIN_S = 5.0

T = TypeVar("T")
AdapterFactory = Callable[[str, Settings], Adapter]
Clock = Callable[[], datetime]


def message_key(message_id: int) -> str:
    """The message's idempotency key, the same on every attempt."""
    return f"patron-{message_id}"


@dataclass
class _Ready:
    message: ClaimedMessage
    address: str
    context: dict[str, Any]


@dataclass
class _Decided:
    claim: Claim
    ready: list[_Ready] = field(default_factory=list)
    report: DispatchReport = field(default_factory=DispatchReport)
    contents: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # Successful outcomes not yet written: they ride with the next hand-over's transaction
    # (one commit per message instead of two). A process killed meanwhile loses nothing:
    # those messages were handed over, and the sweep records them as sent.
    unrecorded: list[dict[str, Any]] = field(default_factory=list)


def next_step(
    result: SendResult,
    *,
    attempts_done: int,
    max_attempts: int,
    idempotent: bool,
    now: datetime,
    not_after: datetime | None,
    retry_base_s: float,
    retry_max_s: float,
) -> tuple[MessageStatus, str | None, datetime | None]:
    """What an attempt's outcome makes of the message: (status, reason, next attempt)."""
    outcome = result.outcome
    if outcome is Outcome.SENT:
        return MessageStatus.SENT, None, None
    if outcome is Outcome.UNCONFIRMED:
        if idempotent:  # the provider drops a repeat of the key: ask again
            return MessageStatus.QUEUED, "unconfirmed", now
        return MessageStatus.SENT, "unconfirmed", None
    if outcome in RETRYABLE:
        if attempts_done >= max_attempts:
            return MessageStatus.FAILED, "gave_up", None
        delay = rules.retry_delay(
            attempts_done,
            base_s=retry_base_s,
            max_s=retry_max_s,
            retry_after_s=result.retry_after_s,
        )
        at = now + timedelta(seconds=delay)
        if not_after is not None and at > not_after:
            return MessageStatus.FAILED, "too_late", None
        return MessageStatus.QUEUED, str(outcome), at
    return MessageStatus.FAILED, str(outcome), None


class Dispatcher:
    """Delivers outbox messages from one process; any number may run at once, in threads
    of one process or in many processes: claims keep them apart."""

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings | None = None,
        clock: Clock = utcnow,
        adapters: AdapterFactory = adapter_for,
    ) -> None:
        self.db = db
        self.settings = settings or get_settings()
        self.clock = clock
        self._make_adapter = adapters
        self._local = threading.local()
        self._paused: dict[str, float] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- adapters

    def _adapter(self, channel: str) -> Adapter:
        held: dict[str, Adapter] = getattr(self._local, "adapters", None) or {}
        self._local.adapters = held
        adapter = held.get(channel)
        if adapter is None:
            adapter = held[channel] = self._make_adapter(channel, self.settings)
        return adapter

    def close_thread(self) -> None:
        """Close this thread's connections to the providers."""
        for adapter in (getattr(self._local, "adapters", None) or {}).values():
            adapter.close()
        self._local.adapters = {}

    def idempotent_providers(self) -> set[str]:
        found = set()
        for channel in ("email", "sms", "wechat"):
            try:
                adapter = self._adapter(channel)
            except ValueError:
                continue
            if adapter.idempotent:
                found.add(adapter.provider)
        return found

    # ---------------------------------------------------------------- entry points

    def dispatch_due(self, *, limit: int | None = None) -> DispatchReport:
        """Claim a batch of due messages and deliver it."""
        size = limit or self.settings.dispatch_batch
        lease = self.settings.dispatch_lease_s
        return self._run(
            lambda s, now: outbox.claim_due(session=s, now=now, limit=size, lease_s=lease)
        )

    def dispatch_messages(self, message_ids: Sequence[int]) -> DispatchReport:
        """Deliver those of ``message_ids`` still queued and due (a job from the queue)."""
        lease = self.settings.dispatch_lease_s
        return self._run(
            lambda s, now: outbox.claim_messages(
                session=s, message_ids=message_ids, now=now, lease_s=lease
            )
        )

    def sweep(self) -> dict[str, int]:
        """Take back the claims of workers that stopped (see :func:`service.sweep_stalled`)."""
        resend = self.idempotent_providers()
        swept = self.db.write(
            lambda s: outbox.sweep_stalled(session=s, now=self.clock(), idempotent_providers=resend)
        )
        if any(swept.values()):
            log.warning("took back stalled message claims: %s", swept)
        return swept

    # ---------------------------------------------------------------- one batch

    def _run(self, claim: Callable[[Session, datetime], Claim]) -> DispatchReport:
        decided = self.db.write(lambda s: self._claim_and_decide(s, claim(s, self.clock())))
        report = decided.report
        if decided.ready:
            try:
                self._send_all(decided)
            finally:
                if decided.unrecorded:
                    self._write(decided, lambda s: None)
        return report

    def _write(self, decided: _Decided, work: Callable[[Session], T]) -> T:
        """One transaction doing ``work`` after writing the outcomes still held back."""
        held = list(decided.unrecorded)

        def run(session: Session) -> T:
            for sent in held:
                outbox.record_attempt(session=session, **sent)
            return work(session)

        result = self.db.write(run)
        del decided.unrecorded[: len(held)]
        return result

    def _hand_over(self, decided: _Decided, message_id: int, provider: str) -> bool:
        """Record the hand-over, with the outcomes held back (the last in the same statement
        where the database allows)."""
        held = list(decided.unrecorded)
        last = held.pop() if held else None

        def run(session: Session) -> bool:
            for sent in held:
                outbox.record_attempt(session=session, **sent)
            return outbox.mark_handed_over(
                session=session,
                message_id=message_id,
                token=decided.claim.token,
                provider=provider,
                now=self.clock(),
                sent=last,
            )

        result = self.db.write(run)
        del decided.unrecorded[: len(held) + (last is not None)]
        return result

    def _claim_and_decide(self, session: Session, claim: Claim) -> _Decided:
        decided = _Decided(claim)
        report = decided.report
        messages = claim.messages
        report.claimed = len(messages)
        if not messages:
            return decided
        now = self.clock()
        people = customers.get_customers(
            session=session, customer_ids=[m.customer_id for m in messages]
        )
        zones = self._zones(session, people.values())
        candidates: list[checks.Candidate] = []
        reachable: dict[int, tuple[ClaimedMessage, str, CustomerRead]] = {}
        for message in messages:
            person = people.get(message.customer_id)
            if person is None or person.status != CustomerStatus.ACTIVE:
                self._skip(session, claim, message, "customer_gone", now, report)
                continue
            address = self._address(person, message.channel)
            if address is None:
                self._skip(session, claim, message, "no_address", now, report)
                continue
            reachable[message.id] = (message, address, person)
            candidates.append(
                checks.Candidate(
                    message.id, message.customer_id, message.channel, message.marketing, address
                )
            )
        refused = checks.refusals(session, candidates) if candidates else {}
        marketing = [m for m, _, _ in reachable.values() if m.marketing]
        history: dict[int, list[rules.Sent]] = {}
        if marketing:
            outbox.lock_customers(session=session, customer_ids=[m.customer_id for m in marketing])
            days = max((cap.days for cap in self.settings.message_caps), default=1)
            since = now - timedelta(days=days + 1)
            for cid, sent in outbox.marketing_history(
                session=session, customer_ids=[m.customer_id for m in marketing], since=since
            ).items():
                history[cid] = [rules.Sent(at, channel) for at, channel in sent]
        for message, address, person in reachable.values():
            reason = refused.get(message.id)
            if reason is not None:
                self._skip(session, claim, message, reason, now, report)
                continue
            zone = zones.get(person.home_store_code or "", self.settings.zone)
            mine = history.setdefault(message.customer_id, [])
            decision = rules.decide(
                now,
                channel=message.channel,
                marketing=message.marketing,
                zone=zone,
                history=mine,
                caps=self.settings.message_caps,
                quiet=self.settings.quiet_hours,
                not_after=message.not_after,
            )
            if decision.verdict == rules.Verdict.SKIP:
                self._skip(session, claim, message, decision.reason or "skipped", now, report)
            elif decision.verdict == rules.Verdict.DEFER:
                assert decision.until is not None
                outbox.defer(
                    session=session,
                    message_id=message.id,
                    token=claim.token,
                    until=decision.until,
                    reason=decision.reason or "deferred",
                )
                report.deferred += 1
            else:
                if message.marketing:
                    mine.append(rules.Sent(now, message.channel))
                decided.ready.append(_Ready(message, address, _context(person, message)))
        outbox.approve(
            session=session,
            message_ids=[r.message.id for r in decided.ready],
            token=claim.token,
            now=now,
        )
        decided.contents = outbox.get_contents(
            session=session, content_ids=[r.message.content_id for r in decided.ready]
        )
        stores = catalog.stores_by_code(
            session=session,
            codes={r.context["store"]["code"] for r in decided.ready if r.context["store"]["code"]},
        )
        for ready in decided.ready:
            store = stores.get(ready.context["store"]["code"] or "")
            ready.context["store"]["name"] = store.name if store else None
        return decided

    def _zones(self, session: Session, people: Any) -> dict[str, ZoneInfo]:
        codes = {p.home_store_code for p in people if p.home_store_code}
        zones: dict[str, ZoneInfo] = {}
        for code, store in catalog.stores_by_code(session=session, codes=codes).items():
            try:
                zones[code] = ZoneInfo(store.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                zones[code] = self.settings.zone  # the stated fallback: the shop's zone
        return zones

    def _address(self, person: CustomerRead, channel: str) -> str | None:
        if channel == "email":
            kinds = {IdentityKind.EMAIL}
        elif channel == "sms":
            kinds = {IdentityKind.PHONE}
        else:
            kinds = {IdentityKind.WECHAT_OPENID}
        app = self.settings.wechat_app_id
        found = [
            i
            for i in person.identities
            if i.kind in kinds and (channel != "wechat" or not app or i.namespace in (app, ""))
        ]
        if not found:
            return None
        return max(found, key=lambda i: i.created_at).value  # the latest one they gave

    @staticmethod
    def _skip(
        session: Session,
        claim: Claim,
        message: ClaimedMessage,
        reason: str,
        now: datetime,
        report: DispatchReport,
    ) -> None:
        outbox.skip(
            session=session, message_id=message.id, token=claim.token, reason=reason, now=now
        )
        report.skipped += 1

    # ---------------------------------------------------------------- sending

    def _send_all(self, decided: _Decided) -> None:
        by_channel: dict[str, list[_Ready]] = {}
        for ready in decided.ready:
            by_channel.setdefault(ready.message.channel, []).append(ready)
        for channel, batch in by_channel.items():
            try:
                adapter = self._adapter(channel)
            except ValueError as exc:  # a channel set up without what it needs
                log.error("cannot send %s messages: %s", channel, exc)
                self._release(decided, batch, PROVIDER_PAUSE_S, "channel_not_configured")
                continue
            self._send_batch(decided, adapter, batch)

    def _release(
        self, decided: _Decided, batch: Sequence[_Ready], wait_s: float, reason: str
    ) -> None:
        until = self.clock() + timedelta(seconds=wait_s)

        def work(session: Session) -> None:
            for ready in batch:
                outbox.defer(
                    session=session,
                    message_id=ready.message.id,
                    token=decided.claim.token,
                    until=until,
                    reason=reason,
                )

        self._write(decided, work)
        decided.report.deferred += len(batch)

    def _send_batch(self, decided: _Decided, adapter: Adapter, batch: list[_Ready]) -> None:
        rate = self.settings.provider_rates.get(adapter.provider)
        pending = list(batch)
        while pending:
            paused = self._paused_for(adapter.provider)
            if paused > 0:
                self._release(decided, pending, paused, "provider_paused")
                return
            allowed = len(pending)
            if rate is not None:
                want = len(pending)
                allowed, wait = self.db.write(
                    lambda s, want=want, rate=rate: take_tokens(  # type: ignore[misc]
                        session=s, provider=adapter.provider, want=want, rate=rate, now=self.clock()
                    )
                )
                if allowed == 0:
                    left = (decided.claim.until - self.clock()).total_seconds()
                    if left - wait < _LEASE_MARGIN_S:
                        self._release(decided, pending, wait, "rate_limited")
                        return
                    time.sleep(min(wait, 1.0))
                    continue
            for ready in pending[:allowed]:
                paused = self._paused_for(adapter.provider)
                if paused > 0:  # an account problem stopped this provider meanwhile
                    break
                self._send_one(decided, adapter, ready)
                pending = pending[1:]

    def _paused_for(self, provider: str) -> float:
        with self._lock:
            until = self._paused.get(provider, 0.0)
        return max(0.0, until - time.monotonic())

    def _send_one(self, decided: _Decided, adapter: Adapter, ready: _Ready) -> None:
        message = ready.message
        report = decided.report
        started = self.clock()
        channel, body = decided.contents[message.content_id]
        try:
            rendered = render(channel, body, ready.context)
        except RenderError as exc:
            result = SendResult(Outcome.REJECTED, "template_error", clip(str(exc)))
            self._record(decided, adapter, message, started, result)
            return
        outgoing = Outgoing(
            message_id=message.id,
            channel=message.channel,
            marketing=message.marketing,
            to=ready.address,
            body=rendered,
            key=message_key(message.id),
        )
        handed = False

        def handover() -> bool:
            nonlocal handed
            handed = self._hand_over(decided, message.id, adapter.provider)
            return handed

        try:
            result = adapter.send(outgoing, handover)
        except ClaimLost:
            report.lost += 1
            return
        except Exception as exc:  # an adapter's own fault: never lose the message over it
            log.exception("the %s adapter failed on message %s", adapter.provider, message.id)
            outcome = Outcome.UNCONFIRMED if handed else Outcome.RETRY
            result = SendResult(outcome, "adapter_error", clip(f"{type(exc).__name__}: {exc}"))
        self._record(decided, adapter, message, started, result)

    def _record(
        self,
        decided: _Decided,
        adapter: Adapter,
        message: ClaimedMessage,
        started: datetime,
        result: SendResult,
    ) -> None:
        now = self.clock()
        status, reason, next_at = next_step(
            result,
            attempts_done=message.attempts + 1,
            max_attempts=self.settings.dispatch_max_attempts,
            idempotent=adapter.idempotent,
            now=now,
            not_after=message.not_after,
            retry_base_s=self.settings.dispatch_retry_base_s,
            retry_max_s=self.settings.dispatch_retry_max_s,
        )
        if result.outcome is Outcome.ACCOUNT:
            log.error(
                "ALARM: %s refused the account (%s: %s); pausing it for %.0f s",
                adapter.provider,
                result.code,
                result.detail,
                PROVIDER_PAUSE_S,
            )
            with self._lock:
                self._paused[adapter.provider] = time.monotonic() + PROVIDER_PAUSE_S

        attempt: dict[str, Any] = {
            "message_id": message.id,
            "token": decided.claim.token,
            "provider": adapter.provider,
            "started_at": started,
            "now": now,
            "outcome": str(result.outcome),
            "code": result.code,
            "detail": result.detail,
            "provider_message_id": result.provider_message_id,
            "status": status,
            "reason": reason,
            "next_attempt_at": next_at,
        }
        if result.outcome is Outcome.SENT:
            decided.unrecorded.append(attempt)
        else:  # anything that may be tried again is written at once
            self._write(decided, lambda s: outbox.record_attempt(session=s, **attempt))
        report = decided.report
        if status == MessageStatus.SENT:
            report.sent += 1
        elif status == MessageStatus.QUEUED:
            report.retried += 1
        else:
            report.failed += 1


def _context(person: CustomerRead, message: ClaimedMessage) -> dict[str, Any]:
    """What a message's placeholders may name: the customer, their store, and the values the
    sender gave (which cannot override the first two)."""
    return {
        **(message.variables or {}),
        "customer": {"id": person.id, "name": person.name, "city": person.city},
        "store": {"code": person.home_store_code, "name": None},
        # the message's signed token, for the open pixel and click links (patron.campaigns)
        "message_token": message_token(message.id),
    }
