"""Request dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from patron.core.db import Database
from patron.core.schemas import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db
