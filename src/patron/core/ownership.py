"""Rows that belong to a customer, moved to another profile by a merge and given back by an
unmerge (each domain's merge participant, docs/architecture.md). The ids moved are returned
so that an unmerge gives back exactly those rows, and only while they are still with the
profile they were moved to (a row moved again since stays where it is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

_CHUNK = 1_000


def move_owned_rows(
    session: Session,
    models: Mapping[str, Any],
    *,
    from_customer_id: int,
    to_customer_id: int,
) -> dict[str, list[int]]:
    """Every row of each model (name → a mapped class with ``id`` and ``customer_id``)
    held by ``from_customer_id`` now belongs to ``to_customer_id``; their ids by name."""
    moved: dict[str, list[int]] = {}
    for name, model in models.items():
        ids = list(session.scalars(select(model.id).where(model.customer_id == from_customer_id)))
        if ids:
            session.execute(
                update(model)
                .where(model.customer_id == from_customer_id)
                .values(customer_id=to_customer_id)
            )
        moved[name] = ids
    return moved


def restore_owned_rows(
    session: Session,
    models: Mapping[str, Any],
    moved: Mapping[str, list[int]],
    *,
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    """The rows :func:`move_owned_rows` moved (by name in ``moved``) go from
    ``from_customer_id`` (the survivor, in an unmerge) to ``to_customer_id``."""
    for name, model in models.items():
        ids = moved.get(name, [])
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(model)
                .where(
                    model.id.in_(ids[start : start + _CHUNK]),
                    model.customer_id == from_customer_id,
                )
                .values(customer_id=to_customer_id)
            )
