"""Privacy: data-subject requests, access and portability exports, retention, and the
records a privacy officer keeps (the processing register, reveals and exports per staff
member, the public privacy notice). See docs/privacy.md."""

from patron.privacy.erasure import erased_customer_ids
from patron.privacy.requests import requests_due_soon
from patron.privacy.retention import RetentionOutcome, run_retention

__all__ = ["RetentionOutcome", "erased_customer_ids", "requests_due_soon", "run_retention"]
