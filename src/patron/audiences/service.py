"""Saved audiences and their evaluation on the analytics store.

An audience is a name and a definition (``schemas.Definition``); counting or listing its
members compiles the definition to one DuckDB query (``compile.py``) over the extract's
tables and the audience facts (``facts.py``), evaluated as of ``now`` (send time, by
default the present). Services take ``session`` keyword-only and never commit. See
docs/audiences.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron import analytics
from patron.audiences.compile import TABLES, Compiled, compile_definition
from patron.audiences.exceptions import AudienceNameTaken, AudienceNotFound
from patron.audiences.facts import ensure_tables
from patron.audiences.models import Audience
from patron.audiences.schemas import (
    AudienceCount,
    AudienceCreate,
    AudienceRead,
    AudienceUpdate,
    Definition,
)
from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.settings import get_settings


def _read(audience: Audience) -> AudienceRead:
    return AudienceRead.model_validate(audience)


def _today(now: datetime | None) -> date:
    return (now or utcnow()).astimezone(get_settings().zone).date()


def _field_kinds(session: Session) -> Mapping[str, str]:
    """The custom fields audiences may read (non-personal), by code: their kind."""
    from patron.customers import fields as custom_fields

    return custom_fields.audience_field_kinds(session=session)


# ------------------------------------------------------------------------------ saved


def list_audiences(*, session: Session) -> list[AudienceRead]:
    return [_read(a) for a in session.scalars(select(Audience).order_by(Audience.name))]


def get_audience(*, session: Session, audience_id: int) -> AudienceRead | None:
    """The audience (id, name, definition …), or None when there is none with that id."""
    audience = session.get(Audience, audience_id)
    return _read(audience) if audience else None


def get_audience_or_raise(*, session: Session, audience_id: int) -> AudienceRead:
    found = get_audience(session=session, audience_id=audience_id)
    if found is None:
        raise AudienceNotFound(f"no audience {audience_id}", audience_id=audience_id)
    return found


def _check(session: Session, definition: Definition) -> None:
    """Names in the definition that exist only in the database (custom fields) are checked
    by compiling it once: an error names the condition's field."""
    compile_definition(definition, today=_today(None), field_kinds=_field_kinds(session))


def _name_free(session: Session, name: str, except_id: int | None = None) -> None:
    other = session.scalar(select(Audience.id).where(Audience.name == name))
    if other is not None and other != except_id:
        raise AudienceNameTaken(
            f"an audience named {name!r} exists already",
            message_code="audience_name_taken",
            name=name,
        )


def create_audience(*, session: Session, audience_in: AudienceCreate, actor: Actor) -> AudienceRead:
    _check(session, audience_in.definition)
    name = audience_in.name.strip()
    _name_free(session, name)
    audience = Audience(
        name=name,
        description=audience_in.description,
        definition=audience_in.definition.model_dump(mode="json"),
        created_by=actor.label[:140],
    )
    session.add(audience)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AudienceNameTaken(f"an audience named {name!r} exists already", name=name) from None
    record_audit(
        session=session,
        actor=actor,
        action="audience.create",
        target_kind="audience",
        target_id=audience.id,
        details={"name": name},
    )
    return _read(audience)


def update_audience(
    *, session: Session, audience_id: int, audience_in: AudienceUpdate, actor: Actor
) -> AudienceRead:
    audience = session.get(Audience, audience_id)
    if audience is None:
        raise AudienceNotFound(f"no audience {audience_id}", audience_id=audience_id)
    if audience_in.name is not None:
        name = audience_in.name.strip()
        _name_free(session, name, except_id=audience_id)
        audience.name = name
    if audience_in.description is not None:
        audience.description = audience_in.description
    if audience_in.definition is not None:
        _check(session, audience_in.definition)
        audience.definition = audience_in.definition.model_dump(mode="json")
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="audience.update",
        target_kind="audience",
        target_id=audience_id,
        details={"fields": sorted(audience_in.model_dump(exclude_unset=True))},
    )
    return _read(audience)


def delete_audience(*, session: Session, audience_id: int, actor: Actor) -> None:
    audience = session.get(Audience, audience_id)
    if audience is None:
        raise AudienceNotFound(f"no audience {audience_id}", audience_id=audience_id)
    session.delete(audience)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="audience.delete",
        target_kind="audience",
        target_id=audience_id,
        details={"name": audience.name},
    )


# ------------------------------------------------------------------------------ evaluation


def compile_for(
    *,
    session: Session,
    definition: Definition,
    now: datetime | None = None,
    store_ids: frozenset[int] | None = None,
) -> Compiled:
    return compile_definition(
        definition, today=_today(now), store_ids=store_ids, field_kinds=_field_kinds(session)
    )


def _run(compiled: Compiled, *, count: bool, path: Path | None = None) -> tuple[Any, Any]:
    """Run the query on the store: (the count or the ids, when the facts were refreshed)."""
    with analytics.reading_store(path) as duck:
        present = {
            row[0]
            for row in duck.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
        if not {"customers", "orders", "order_lines"} <= present:
            return (0 if count else []), None  # nothing extracted yet: nobody to select
        if not set(TABLES) <= present or "audience_state" not in present:
            ensure_tables(duck)
        state = duck.execute("SELECT max(refreshed_at) FROM audience_state").fetchall()
        refreshed = state[0][0] if state else None
        if count:
            rows = duck.execute(compiled.count_sql(), compiled.params).fetchall()
            return int(rows[0][0]), refreshed
        # one column fetched as an array: no Python tuple per member
        found = duck.execute(compiled.members_sql, compiled.params).fetchnumpy()
        ids = found["customer_id"].tolist() if "customer_id" in found else []
        return ids, refreshed


def count_definition(
    *,
    session: Session,
    definition: Definition,
    now: datetime | None = None,
    store_ids: frozenset[int] | None = None,
    path: Path | None = None,
) -> AudienceCount:
    """How many customers ``definition`` selects (the builder's live count), limited to the
    customers of ``store_ids`` when given."""
    compiled = compile_for(session=session, definition=definition, now=now, store_ids=store_ids)
    count, refreshed = _run(compiled, count=True, path=path)
    return AudienceCount(
        count=count,
        facts_as_of=refreshed.replace(tzinfo=utcnow().tzinfo) if refreshed else None,
        scoped_to_stores=sorted(store_ids) if store_ids is not None else None,
    )


def _definition_of(session: Session, audience_id: int) -> Definition:
    return get_audience_or_raise(session=session, audience_id=audience_id).definition


def count_members(
    *,
    session: Session,
    audience_id: int,
    now: datetime | None = None,
    store_ids: frozenset[int] | None = None,
    path: Path | None = None,
) -> int:
    """How many customers the saved audience selects as of ``now``."""
    definition = _definition_of(session, audience_id)
    return count_definition(
        session=session, definition=definition, now=now, store_ids=store_ids, path=path
    ).count


def member_ids(
    *,
    session: Session,
    audience_id: int,
    now: datetime | None = None,
    store_ids: frozenset[int] | None = None,
    path: Path | None = None,
) -> list[int]:
    """The ids of the customers the saved audience selects as of ``now``, ascending: what a
    campaign sends to, evaluated at send time."""
    definition = _definition_of(session, audience_id)
    compiled = compile_for(session=session, definition=definition, now=now, store_ids=store_ids)
    ids, _ = _run(compiled, count=False, path=path)
    return list(ids)
