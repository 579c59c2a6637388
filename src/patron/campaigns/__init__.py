"""Campaigns: message templates, campaigns to an audience with a holdout group, their sending
through the outbox, and their measurement against the holdout (docs/campaigns.md). What other
domains' edges call is exported here."""

from patron.campaigns.bundles import BundleOffer, make_bundle_offer
from patron.campaigns.schemas import CampaignIn, CampaignRead
from patron.campaigns.service import create_campaign
from patron.campaigns.templates import list_templates

__all__ = [
    "BundleOffer",
    "CampaignIn",
    "CampaignRead",
    "create_campaign",
    "list_templates",
    "make_bundle_offer",
]
