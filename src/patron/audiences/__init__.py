"""Audiences: saved, named segments built from rules (AND/OR groups of conditions over
profile, custom fields, demographics, tags, scores, loyalty and purchases), evaluated as one
query on the analytics store. What other domains call is exported here; see
docs/audiences.md.
"""

from patron.audiences.facts import refresh_audience_store, refresh_facts
from patron.audiences.schemas import AudienceCreate, AudienceRead, Definition, PurchasesCondition
from patron.audiences.service import (
    count_members,
    create_audience,
    get_audience,
    get_audience_or_raise,
    member_ids,
)

__all__ = [
    "AudienceCreate",
    "AudienceRead",
    "Definition",
    "PurchasesCondition",
    "count_members",
    "create_audience",
    "get_audience",
    "get_audience_or_raise",
    "member_ids",
    "refresh_audience_store",
    "refresh_facts",
]
