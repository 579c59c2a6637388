"""Campaigns: message templates, campaigns to an audience with a holdout group, their sending
through the outbox, and their measurement against the holdout (docs/campaigns.md)."""
