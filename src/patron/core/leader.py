"""A leader lock: of several server processes, the one holding it runs a scheduled job.

On PostgreSQL it is a session advisory lock (``pg_try_advisory_lock``) taken on a dedicated
connection held for the whole run: the server releases it when that connection ends, so a
killed process never leaves it behind. On SQLite it is an exclusive ``flock`` on a file
beside the database (``patron.db.<name>.lock``), which the kernel drops with the process.

Neither waits: a process that does not get the lock skips the job. See docs/operations.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from patron.core.db import Database

log = logging.getLogger(__name__)


def lock_key(db: Database, name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` on ``db`` (its URL without password,
    so two schemas of one PostgreSQL database do not share a leader)."""
    where = db.engine.url.render_as_string(hide_password=True)
    digest = hashlib.sha256(f"{where}\n{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(db: Database, name: str) -> Path:
    """The file whose lock makes the leader on SQLite (beside the database file)."""
    database = db.engine.url.database
    if not database or database == ":memory:":
        from patron.core.settings import get_settings

        return get_settings().data_dir / f"patron.{name}.lock"
    path = Path(database)
    return path.with_name(f"{path.name}.{name}.lock")


@contextmanager
def leader_lock(db: Database, name: str) -> Iterator[bool]:
    """Try to become the leader for ``name``; yields whether this process is, and holds the
    lock until the block ends."""
    if db.is_sqlite:
        with _file_lock(lock_file(db, name)) as held:
            yield held
        return
    with _advisory_lock(db, lock_key(db, name)) as held:
        yield held


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _advisory_lock(db: Database, key: int) -> Iterator[bool]:
    # A connection of its own, outside any transaction: the lock lives as long as it does.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                except Exception:  # the connection is gone, and the lock with it
                    log.warning("could not release leader lock %s", key, exc_info=True)
