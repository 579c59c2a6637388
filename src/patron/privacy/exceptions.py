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


class ErasureHeld(Conflict):
    """Something the law or the shop must keep blocks the erasure: each reason is named."""

    def __init__(self, request_id: int, legal: list[str], tickets: list[int]) -> None:
        reasons = [f"legal hold: {r}" for r in legal] + [f"ticket {t} is open" for t in tickets]
        super().__init__(
            f"privacy request {request_id} cannot erase yet: {'; '.join(reasons)}",
            message_code="privacy_erasure_held",
            request_id=request_id,
            legal="; ".join(legal) or "-",
            tickets=", ".join(str(t) for t in tickets) or "-",
        )


class NotAnErasure(Conflict):
    def __init__(self, request_id: int, kind: str) -> None:
        super().__init__(
            f"privacy request {request_id} asks for {kind}, not erasure",
            message_code="privacy_not_erasure",
            request_id=request_id,
            kind=kind,
        )


class HoldNotFound(NotFound):
    def __init__(self, hold_id: int) -> None:
        super().__init__(
            f"no legal hold {hold_id} in force",
            message_code="legal_hold_not_found",
            hold_id=hold_id,
        )


class NotACorrection(Conflict):
    def __init__(self, request_id: int, kind: str) -> None:
        super().__init__(
            f"privacy request {request_id} asks for {kind}, not correction",
            message_code="privacy_not_correction",
            request_id=request_id,
            kind=kind,
        )
