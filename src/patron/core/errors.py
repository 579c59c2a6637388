"""Domain errors carry a code and their facts; the web layer maps them to HTTP once
(web/errors.py), and pages and the command line say them in the reader's language from the
code, through one table (web/messages.py). The English ``message`` is for the API and logs.
See docs/architecture.md, "Errors and messages".
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError


class PatronError(Exception):
    """Base of every error Patron raises on purpose."""

    code = "error"  # the kind of error: the API's "error" field

    def __init__(self, message: str, *, message_code: str | None = None, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        # Which message people read (a key of web/messages.py's table); the kind's by default.
        self.message_code = message_code or self.code
        self.facts = facts


class NotFound(PatronError):
    code = "not_found"


class Conflict(PatronError):
    code = "conflict"


class InvalidInput(PatronError):
    """Input that parses but breaks a rule; ``field`` names where, as a dotted path."""

    code = "invalid"

    def __init__(
        self, field: str, message: str, *, message_code: str | None = None, **facts: Any
    ) -> None:
        super().__init__(f"{field}: {message}", message_code=message_code, field=field, **facts)
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


def rule_error(code: str, field: str, message: str, **facts: Any) -> PydanticCustomError:
    """A schema rule broken, for a pydantic validator to raise: ``code`` keys the message
    people read (web/messages.py) and is the error's ``type``; ``message`` is the API's
    English, shown at ``field`` (a dotted path below the model; "" for the model itself)."""
    text = f"{field}: {message}" if field else message
    return PydanticCustomError(code, text, {"field": field, **facts})
