"""Identity resolution of a single order post in a plain write (core/db.plain_write).

The cases where :func:`patron.customers.identity.resolve` needs no session and writes
little: a record naming no customer id and no profile field, whose identifiers are all one
customer's already (nothing is written: whoever the actor, the record is theirs), or all
nobody's (a new profile with them, as ``resolve`` creates it). Any other record is resolved
in full by the caller (docs/architecture.md, "Order intake over HTTP").
"""

from __future__ import annotations

from datetime import UTC, datetime

from patron import events
from patron.core.clock import utcnow
from patron.core.crypto import can_make_subject_keys, name_index
from patron.core.db import PlainWriter
from patron.customers.identity import (
    _CUSTOMER,
    _IDENTITY,
    _OWNERS_OF_INDEX,
    Key,
    ResolveContext,
    _customer_created,
    _Pending,
    _profile_of,
    index_keys,
)
from patron.customers.models import CustomerStatus
from patron.customers.schemas import CustomerRef
from patron.customers.sealing import plain_new_key, seal_plain_row

# The events a new profile's resolution publishes: no webhook may take them on this path.
PLAIN_EVENTS = ("customer.created",)


def plain_resolve(
    writer: PlainWriter, ref: CustomerRef, context: ResolveContext
) -> tuple[int, datetime] | None:
    """The customer a sale of ``ref`` goes to and their sign-up (as read, or as made), when
    resolving it changes no existing profile; None otherwise, before anything is written.
    ``context`` is the sale's (a new profile's store, channel, source and sign-up)."""
    if ref.id is not None or _profile_of(ref):
        return None
    keys = ref.identity_keys()
    if not keys:
        return None
    indexes = index_keys(keys)
    owners: list[tuple[int, datetime] | None] = []
    for key in keys:
        owner = None
        for kind, namespace, _, customer_id, signed_up_at in writer.rows(
            _OWNERS_OF_INDEX, {"value_index": indexes[key]}
        ):
            if kind == key[0] and namespace == key[1]:
                owner = (customer_id, signed_up_at)
        owners.append(owner)
    if all(owner is None for owner in owners):
        return _create(writer, keys, indexes, context), context.at
    first = owners[0]
    if first is None or any(owner is None or owner[0] != first[0] for owner in owners):
        return None
    return first


def _create(
    writer: PlainWriter, keys: list[Key], indexes: dict[Key, str], context: ResolveContext
) -> int:
    """A new profile holding ``keys``: the rows, in the order, ``identity._write`` writes
    for one created profile (its key, the customer, its event, its identities)."""
    now = utcnow()
    row = {
        "name": None,
        "gender": None,
        "birthday": None,
        "city": None,
        "address": None,
        "name_index": name_index(None),
        "signup_channel": context.channel,
        "signed_up_at": context.at,
        "home_store_id": context.store_id,
        "status": CustomerStatus.ACTIVE.value,
        "merged_into_id": None,
        "created_at": now,
        "updated_at": now,
    }
    sealed_by = plain_new_key(writer) if can_make_subject_keys() else None
    if sealed_by is not None:
        row["key_ref"] = sealed_by  # nothing of the row itself to seal: no profile field
    customer_id = writer.insert_one(_CUSTOMER, row)
    if customer_id is None:  # never for the customer table, whose columns all go to the driver
        raise RuntimeError("a customer row that needs SQLAlchemy")
    events.publish_plain(writer, _customer_created(_Pending({}, context), customer_id))
    rows = []
    for key in keys:
        identity = {
            "customer_id": customer_id,
            "kind": key[0],
            "namespace": key[1],
            "value": key[2],
            "value_index": indexes[key],
            "source": context.source,
            "created_at": now,
        }
        if sealed_by is not None:
            seal_plain_row(writer, _IDENTITY, identity, sealed_by)
        rows.append(identity)
    if not writer.insert_many(_IDENTITY, rows):
        raise RuntimeError("identity rows that need SQLAlchemy")
    return customer_id


def plain_move_signup_back(writer: PlainWriter, customer_id: int, at: datetime) -> None:
    """``note_earliest_evidence`` of one customer in a plain write: the sign-up moves back
    to ``at`` when that is older."""
    if writer.dialect_name == "sqlite":  # instants as UTC text in this one format
        stamp = f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
        sql = "UPDATE customer SET signed_up_at = ? WHERE id = ? AND signed_up_at > ?"
        writer.execute(sql, (stamp, customer_id, stamp))
        return
    sql = "UPDATE customer SET signed_up_at = %s WHERE id = %s AND signed_up_at > %s"
    at = at.astimezone(UTC)
    writer.execute(sql, (at, customer_id, at))
