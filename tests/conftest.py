"""Test fixtures: a migrated database per test, on SQLite and (when configured) PostgreSQL.

Set PATRON_TEST_DATABASE_URL (``.ci/run`` does) to run every database test on PostgreSQL
as well; each pytest worker gets its own schema there, and two pytest sessions on one
database claim different schemas.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text

from patron.core import collector
from patron.core.db import Database, reset_databases
from patron.core.settings import get_settings, normalise_database_url

PG_URL = os.environ.get("PATRON_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATRON_ENV", "test")
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PATRON_DATABASE_URL", raising=False)
    monkeypatch.delenv("PATRON_CONFIG", raising=False)
    # argon2 at the least cost the settings take (1 MiB, one pass: under a millisecond a
    # hash, where 8 MiB took eight); the production default is tested in tests/staff
    monkeypatch.setenv("PATRON_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("PATRON_ARGON2_TIME_COST", "1")
    # ``patron nightly``/``import`` run in-process here: the test process keeps its priority
    monkeypatch.setenv("PATRON_BATCH_NICE", "0")
    # A test that starts a serving app outside the test environment sets the process's
    # heap aside for good (core/collector.py); the next test's process is not a server.
    monkeypatch.setitem(collector._PROCESS, "settled_for_good", False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    reset_databases()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file."""
    from patron.core.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "patron.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture
def migrated_data_dir(_sqlite_template: Path) -> Path:
    """The data directory (PATRON_DATA_DIR) with its default database already migrated: a
    copy of the session's template, as ``patron init`` would leave the schema. For the
    command-line tests whose subject is not the migrations: ``patron init`` on it still
    makes the key file, the default store and the shipped journeys, and finds the upgrade
    done instead of running every migration again (about a CPU second each time)."""
    data_dir = get_settings().data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(_sqlite_template, data_dir / "patron.db")
    return data_dir


def _claim_pg_schema(worker: str) -> tuple[str, Connection]:
    """A schema of this test session's own: ``patron_test_<worker>``, or with a suffix when
    another pytest session on the same database holds that one. The claim is a session-level
    advisory lock on the returned connection, kept open for the whole test session, so a
    crashed session's claim goes with its connection and its schema is dropped and reused."""
    assert PG_URL is not None
    engine = create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    holder = engine.connect()
    for attempt in range(1, 100):
        schema = f"patron_test_{worker}" if attempt == 1 else f"patron_test_{worker}_{attempt}"
        claimed = holder.execute(
            text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": f"pytest:{schema}"}
        ).scalar_one()
        if claimed:
            holder.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            holder.execute(text(f'CREATE SCHEMA "{schema}"'))
            return schema, holder
    raise RuntimeError("no free test schema: 99 pytest sessions hold this database")


@pytest.fixture(scope="session")
def _pg_database(worker_id: str) -> Iterator[Database]:
    from patron.core.migrate import upgrade

    assert PG_URL is not None
    schema, holder = _claim_pg_schema(worker_id)
    base = normalise_database_url(PG_URL)
    sep = "&" if "?" in base else "?"
    db = Database(f"{base}{sep}options=-csearch_path%3D{schema}")
    upgrade(db)
    yield db
    db.dispose()
    holder.close()
    holder.engine.dispose()


def forget_caches() -> None:
    """What this process remembers of the last test's data goes with it: every cache that
    registered itself (core/caches.py), in one call."""
    import patron.web.app  # noqa: F401  (every domain imported: every cache registered)
    from patron.core import caches

    caches.clear_all()


# The sequences the last test drew from (a sequence never drawn from, or restarted, shows
# no last value).
_DRAWN_SEQUENCES = text(
    "SELECT sequencename FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)
# The partitions the last test's runs made (a run's recommendations, core/bulk.py): dropped,
# so that the next test's run 1 gets a partition of its own, as on a fresh database.
_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')"
)


def _truncate(db: Database) -> None:
    """Empty the tables the last test filled and restart the sequences it drew from.

    Found with one probe query each rather than truncating every table: a TRUNCATE of all
    hundred-odd tables takes seconds on a busy machine even when they are empty (and one of
    ``customer`` cascades to nearly all of them), while most tests fill a handful with a
    few rows. Those are deleted with the foreign-key triggers off for the transaction
    (``session_replication_role``, a superuser's setting; otherwise TRUNCATE … CASCADE)."""
    from patron.metadata import metadata

    forget_caches()
    probe = " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
        for t in metadata.sorted_tables
    )
    with db.engine.begin() as conn:
        filled = list(conn.scalars(text(probe)))
        drawn = list(conn.scalars(_DRAWN_SEQUENCES))
        if filled and conn.scalar(text("SELECT current_setting('is_superuser') = 'on'")):
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name in filled:
                conn.execute(text(f'DELETE FROM "{name}"'))
        elif filled:
            names = ", ".join(f'"{name}"' for name in filled)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        for sequence in drawn:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        for partition in list(conn.scalars(_PARTITIONS)):
            conn.execute(text(f'DROP TABLE "{partition}"'))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "patron.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        forget_caches()
        yield database
        database.dispose()
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need PATRON_TEST_DATABASE_URL (.ci/run sets it)")
    database = request.getfixturevalue("_pg_database")
    _truncate(database)
    yield database


@pytest.fixture
def api(db: Database) -> Iterator[TestClient]:
    """A JSON API client on ``db``; a server error comes back as a 500 response."""
    from tests.web.helpers.api import api_client

    with api_client(db) as client:
        yield client


@pytest.fixture
def sqlite_db(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "patron.db"
    shutil.copy(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    forget_caches()
    yield database
    database.dispose()


@pytest.fixture
def pg_db(request: pytest.FixtureRequest) -> Database:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need PATRON_TEST_DATABASE_URL (.ci/run sets it)")
    database: Database = request.getfixturevalue("_pg_database")
    _truncate(database)
    return database


@pytest.fixture
def queue_schema(pg_db: Database) -> Iterator[str]:
    """A PostgreSQL schema of its own for a test's job queue, dropped afterwards."""
    schema = f"patron_queue_{uuid.uuid4().hex[:10]}"
    yield schema
    engine = create_engine(pg_db.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``) a test file runs on one worker,
    so its module-scoped set-up (a seeded shop, a served console) is built once, not on
    each; and the Spark tests share one worker (its cluster starts once), as do the browser
    tests.

    Two tests of one id are refused: xdist hands tests out by id, so it would run one of
    them and drop the others without a word (a schemathesis test with no pytest parameter
    gives each operation's test the test's bare id)."""
    ids = Counter(item.nodeid for item in items)
    twice = sorted(nodeid for nodeid, count in ids.items() if count > 1)
    if twice:
        raise pytest.UsageError(f"{len(twice)} test ids name more than one test: {twice[:5]}")
    for item in items:
        if item.get_closest_marker("spark"):
            group = "spark"
        elif item.get_closest_marker("browser"):
            group = "browser"
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """The xdist worker name ('master' without xdist)."""
    config = request.config
    return getattr(config, "workerinput", {}).get("workerid", "master")
