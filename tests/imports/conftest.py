"""A second, separate database, for comparing an interrupted import with a clean one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from patron.core.db import Database


@pytest.fixture
def reference_db(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "reference" / "patron.db"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()
