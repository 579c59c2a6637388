"""Domain errors carry their facts; the web layer maps them to HTTP once (web/errors.py)."""

from __future__ import annotations

from typing import Any


class PatronError(Exception):
    """Base of every error Patron raises on purpose."""

    code = "error"

    def __init__(self, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.facts = facts


class NotFound(PatronError):
    code = "not_found"


class Conflict(PatronError):
    code = "conflict"


class InvalidInput(PatronError):
    """Input that parses but breaks a rule; ``field`` names where, as a dotted path."""

    code = "invalid"

    def __init__(self, field: str, message: str, **facts: Any) -> None:
        super().__init__(f"{field}: {message}", field=field, **facts)
        self.field = field
