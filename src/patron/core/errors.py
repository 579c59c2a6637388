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


class Unauthenticated(PatronError):
    """No valid session or API key: sign in first (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(PatronError):
    """Signed in, but this role or store scope may not do this (HTTP 403)."""

    code = "forbidden"


class TooManyRequests(PatronError):
    """Slow down (HTTP 429); ``retry_after`` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **facts: Any) -> None:
        super().__init__(message, retry_after=retry_after, **facts)
        self.retry_after = retry_after
