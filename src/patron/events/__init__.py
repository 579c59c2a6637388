"""The event stream and outgoing webhooks (docs/events.md).

Other domains publish into the stream in their own transaction and read it after a cursor:

    from patron import events
    events.publish(session, "order.created", customer_id=..., store_id=..., properties=...,
                   event_id=f"order.created:{order.id}")
    for record in events.read_after(session, cursor, types={"cart_add"}):
        ...
"""

from patron.events.schemas import EventRecord
from patron.events.service import (
    DomainEvent,
    delete_archived_events,
    erase_customer_events,
    events_to_archive,
    move_customer_records,
    plain_publishable,
    publish,
    publish_many,
    publish_plain,
    read_after,
    restore_customer_records,
)
from patron.events.webhooks import delivery_counts, get_subscription

__all__ = [
    "DomainEvent",
    "EventRecord",
    "delete_archived_events",
    "delivery_counts",
    "erase_customer_events",
    "events_to_archive",
    "get_subscription",
    "move_customer_records",
    "plain_publishable",
    "publish",
    "publish_many",
    "publish_plain",
    "read_after",
    "restore_customer_records",
]
