"""Privacy's errors, each with its message code (web/messages.py)."""

from __future__ import annotations

from patron.core.errors import Conflict, NotFound


class PrivacyRequestNotFound(NotFound):
    def __init__(self, request_id: int) -> None:
        super().__init__(
            f"no privacy request {request_id}",
            message_code="privacy_request_not_found",
            request_id=request_id,
        )


class RequestClosed(Conflict):
    def __init__(self, request_id: int, status: str) -> None:
        super().__init__(
            f"privacy request {request_id} is {status} already",
            message_code="privacy_request_closed",
            request_id=request_id,
            status=status,
        )


class ActivityNotFound(NotFound):
    def __init__(self, activity_id: int) -> None:
        super().__init__(
            f"no register entry {activity_id}",
            message_code="processing_activity_not_found",
            activity_id=activity_id,
        )
