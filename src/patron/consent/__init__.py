"""Consent: the ledger of what each customer agreed to be sent, per channel and purpose, and
the send check every message passes (docs/consent.md). Importing this package registers the
check with the outbox's dispatcher."""

from patron.consent.service import (
    allows,
    consent_check,
    consent_states,
    get_consent,
    reachable_for_marketing,
    record_consent,
    record_consents_in_bulk,
    record_sms_reply,
    unsubscribe,
    unsubscribed_since,
)
from patron.engagement.checks import register_send_check

register_send_check("consent", consent_check)

__all__ = [
    "allows",
    "consent_check",
    "consent_states",
    "get_consent",
    "reachable_for_marketing",
    "record_consent",
    "record_consents_in_bulk",
    "record_sms_reply",
    "unsubscribe",
    "unsubscribed_since",
]
