"""Building one outgoing message for an adapter's test, and hand-overs that record calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from patron.engagement.channels.base import Body, Outgoing


def outgoing(
    to: str, body: Body, *, message_id: int = 7, marketing: bool = True, channel: str = "sms"
) -> Outgoing:
    return Outgoing(
        message_id=message_id,
        channel=channel,
        marketing=marketing,
        to=to,
        body=body,
        key=f"patron-{message_id}",
    )


@dataclass
class Handovers:
    """A hand-over that says yes (or no) and counts how often it was asked."""

    allow: bool = True
    calls: list[int] = field(default_factory=list)

    def __call__(self) -> bool:
        self.calls.append(1)
        return self.allow
