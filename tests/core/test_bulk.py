"""Plain tuples written straight to the driver come back as they went, awkward characters
and all (core/bulk.py)."""

from __future__ import annotations

from sqlalchemy import text

from patron.core import bulk
from patron.core.db import Database

ROWS = [
    (1, "plain", True, None),
    (2, "tab\there, new\nline, back\\slash, cr\r", False, '{"a": "x\\ty"}'),
    (3, "", None, "王小明"),
]


def test_tuples_round_trip_through_a_temporary_table(db: Database) -> None:
    def work(session: object) -> list[tuple[object, ...]]:
        name = bulk.temporary_table(
            session,  # type: ignore[arg-type]
            "tmp_bulk",
            {
                "n": ("bigint", "INTEGER"),
                "words": ("text", "TEXT"),
                "flag": ("boolean", "BOOLEAN"),
                "doc": ("text", "TEXT"),
            },
        )
        bulk.insert_tuples(session, name, ("n", "words", "flag", "doc"), ROWS)  # type: ignore[arg-type]
        found = session.execute(text(f"SELECT n, words, flag, doc FROM {name} ORDER BY n")).all()  # type: ignore[attr-defined]
        bulk.drop_table(session, name)  # type: ignore[arg-type]
        return [tuple(r) for r in found]

    got = db.write(work)
    assert [(n, w, None if f is None else bool(f), d) for n, w, f, d in got] == ROWS
