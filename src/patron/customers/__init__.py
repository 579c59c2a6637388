"""Customers. Other domains call ``patron.customers.service``; the codes beside the tables
(a profile's status, the kinds of identifier) are exported here, so no other domain imports
customers' tables."""

from __future__ import annotations

# Sealing hooks every session's flush; importing the domain installs it.
from patron.customers import sealing as _sealing  # noqa: F401
from patron.customers.models import CustomerStatus, IdentityKind

__all__ = ["CustomerStatus", "IdentityKind"]
