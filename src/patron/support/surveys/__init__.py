"""Surveys: CSAT, NPS, CES, choice and free-text questions, sent after a ticket closes or
to a list, answered on a public page through a signed one-time link (docs/support.md)."""
