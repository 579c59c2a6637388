"""Request dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from patron.core.db import Database
from patron.core.schemas import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def get_db(request: Request) -> Database:
    """The application's database. ``async`` because it does no I/O: FastAPI runs a plain
    ``def`` dependency on the thread pool, a hop that costs more than this whole function."""
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(get_db)]


T = TypeVar("T")


def read_on_loop(db: Database, work: Callable[[Session], T]) -> T:
    """Run a short read on the event loop's own thread, for an ``async def`` route.

    Only for the till's look-up and quote: two to four indexed reads, about a millisecond
    of work that never waits on a lock (MVCC reads on PostgreSQL, WAL reads on SQLite). A
    plain ``def`` route would run on the thread pool, and under load the pool's threads and
    the loop trade the GIL back and forth: the server then spends more CPU per request
    (bench/pos.py: 6–7.5 ms per look-up through the pool against 4.2–4.7 ms on the loop at
    200 requests/s on one core) and falls behind. Anything that writes, or may wait, stays
    in a plain ``def`` route. No transaction is opened on PostgreSQL (``quick_read``).
    """
    return db.quick_read(work)
