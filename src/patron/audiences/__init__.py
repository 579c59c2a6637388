"""Audiences: saved, named segments built from rules (AND/OR groups of conditions over
profile, custom fields, demographics, tags, scores, loyalty and purchases), evaluated as one
query on the analytics store. What other domains call is exported here; see
docs/audiences.md.
"""

from patron.audiences.facts import refresh_audience_store, refresh_facts
from patron.audiences.schemas import AudienceRead, Definition
from patron.audiences.service import (
    count_members,
    get_audience,
    get_audience_or_raise,
    member_ids,
)

__all__ = [
    "AudienceRead",
    "Definition",
    "count_members",
    "get_audience",
    "get_audience_or_raise",
    "member_ids",
    "refresh_audience_store",
    "refresh_facts",
]
