"""``patron backup DIR`` and ``patron restore DIR``: the database, the analytics store and the
encryption keys, with a manifest of versions, the migration head and checksums.

- SQLite: a copy made with SQLite's online backup API (``sqlite3.Connection.backup``),
  consistent while the server keeps writing.
- PostgreSQL: ``pg_dump --format=custom`` when it is on the PATH; otherwise the backup
  says so and stops (docs/operations.md: pg_dump, pg_basebackup). Restore leaves the
  database to ``pg_restore`` and restores the rest.
- The DuckDB analytics store: ``COPY FROM DATABASE`` from a read-only attachment, one
  consistent snapshot (a nightly run writing it is waited for).
- The keys: ``keys.json``, mode 0600, in its own file. Whoever has the keys and a backup has
  every customer's personal data: keep the keys somewhere else (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.core.migrate import code_head, current_revision, known_revisions

MANIFEST = "manifest.json"
SQLITE_FILE = "patron.db"
PG_DUMP_FILE = "patron.dump"
ANALYTICS_FILE = "analytics.duckdb"
KEYS_FILE = "keys.json"
FORMAT = 1
_STORE_WAIT_S = 120.0


@dataclass
class BackupResult:
    directory: Path
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- backup


def backup(db: Database, directory: Path, *, analytics_store: Path) -> BackupResult:
    """Write a backup of ``db``, the analytics store and the keys into ``directory`` (new or
    empty)."""
    from patron.core.crypto import get_keyring, write_key_file

    if directory.exists() and any(directory.iterdir()):
        raise Conflict(f"{directory} is not empty: give a new directory for each backup")
    directory.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    files: dict[str, str] = {}
    if db.is_sqlite:
        _sqlite_copy(_sqlite_path(db), directory / SQLITE_FILE)
        files["database"] = SQLITE_FILE
    else:
        _pg_dump(db, directory / PG_DUMP_FILE)
        files["database"] = PG_DUMP_FILE
    if analytics_store.exists():
        _duckdb_copy(analytics_store, directory / ANALYTICS_FILE)
        files["analytics"] = ANALYTICS_FILE
    else:
        notes.append(f"no analytics store at {analytics_store} (no run yet): none backed up")
    write_key_file(get_keyring(), directory / KEYS_FILE, replace=True)
    files["keys"] = KEYS_FILE
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "versions": _versions(),
        "backend": db.engine.dialect.name,
        "migration": current_revision(db),
        "files": {
            role: {"name": name, "sha256": _sha256(directory / name)}
            for role, name in files.items()
        },
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    notes.append(f"keep {directory / KEYS_FILE} apart from the rest (see docs/operations.md)")
    return BackupResult(directory, manifest, notes)


def _sqlite_path(db: Database) -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("database_url", "an in-memory database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: pages copied while writers carry on, consistent at the end."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def libpq_url(db: Database) -> str:
    """The database's URL as libpq reads it (no SQLAlchemy driver name)."""
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_dump(db: Database, target: Path) -> None:
    tool = shutil.which("pg_dump")
    if tool is None:
        raise Conflict(
            "this is a PostgreSQL database and pg_dump is not on the PATH: install the "
            "PostgreSQL client tools, or back the database up with pg_dump or pg_basebackup "
            "yourself (docs/operations.md); patron backup then copies the analytics store "
            "and the keys"
        )
    done = subprocess.run(
        [tool, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={libpq_url(db)}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise Conflict(f"pg_dump failed: {done.stderr.strip()[:500]}")


def _duckdb_copy(source: Path, target: Path) -> None:
    """One consistent copy of the store, waiting while a nightly run writes it."""
    import duckdb

    deadline = time.monotonic() + _STORE_WAIT_S
    while True:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH '{_quoted(source)}' AS src (READ_ONLY)")
            con.execute(f"ATTACH '{_quoted(target)}' AS dst")
            con.execute("COPY FROM DATABASE src TO dst")
            con.execute("DETACH dst")
            return
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise Conflict(f"the analytics store could not be copied: {exc}") from None
            target.unlink(missing_ok=True)
        finally:
            con.close()
        time.sleep(1.0)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import duckdb

    import patron

    return {
        "patron": patron.__version__,
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duckdb.__version__,
    }


# ------------------------------------------------------------------------------ restore


def read_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file against its checksum and the
    migration against this version's."""
    path = directory / MANIFEST
    if not path.is_file():
        raise InvalidInput("directory", f"{directory} holds no {MANIFEST}: not a Patron backup")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InvalidInput("directory", f"{path} is not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput("directory", f"{path}: format {manifest.get('format')!r} unknown")
    for role, entry in manifest.get("files", {}).items():
        file = directory / entry["name"]
        if not file.is_file():
            raise InvalidInput("directory", f"the backup's {role} file {file} is missing")
        if _sha256(file) != entry["sha256"]:
            raise InvalidInput(
                "directory", f"the backup's {role} file {file} does not match its checksum"
            )
    revision = manifest.get("migration")
    if revision is not None and revision not in known_revisions():
        raise Conflict(
            f"the backup's database is at migration {revision}, which this version of Patron "
            "does not know: restore it with the version that made it (or a newer one)"
        )
    return manifest


@dataclass
class Targets:
    """Where a restore writes: the configured database, analytics store and key file."""

    database: Path | None  # the SQLite file; None on PostgreSQL
    analytics_store: Path
    key_file: Path | None  # None when the keys come from PATRON_ENCRYPTION_KEYS


def restore(
    db: Database, directory: Path, *, targets: Targets, force: bool = False
) -> BackupResult:
    """Put a backup back: refuses to overwrite anything without ``force``."""
    manifest = read_manifest(directory)
    files = manifest["files"]
    if (manifest["backend"] == "sqlite") != db.is_sqlite:
        raise Conflict(
            f"the backup is of a {manifest['backend']} database; this Patron is configured "
            f"for {db.engine.dialect.name}"
        )
    existing = _existing(db, targets, restoring_analytics="analytics" in files)
    if existing and not force:
        raise Conflict(f"{', '.join(existing)} already exist: restore with --force to replace them")
    notes = _restore_keys(directory / files["keys"]["name"], targets.key_file)
    if db.is_sqlite and targets.database is not None:
        db.dispose()
        _sqlite_restore(directory / files["database"]["name"], targets.database)
    else:
        dump = directory / files["database"]["name"]
        notes.append(
            f"PostgreSQL: restore the database with `pg_restore --clean --if-exists --no-owner "
            f"--dbname=<url> {dump}` (docs/operations.md)"
        )
    if "analytics" in files:
        _replace_file(directory / files["analytics"]["name"], targets.analytics_store)
    if manifest.get("migration") != code_head():
        notes.append("the backup is from an older version: run `patron init` to upgrade it")
    from patron.core import caches

    caches.clear_all()  # what this process kept described the data just replaced
    return BackupResult(directory, manifest, notes)


def _existing(db: Database, targets: Targets, *, restoring_analytics: bool) -> list[str]:
    found = []
    if targets.database is not None and current_revision(db) is not None:
        found.append(f"the database {targets.database}")
    if restoring_analytics and targets.analytics_store.exists():
        found.append(f"the analytics store {targets.analytics_store}")
    if targets.key_file is not None and targets.key_file.exists():
        found.append(f"the key file {targets.key_file}")
    return found


def _restore_keys(source: Path, target: Path | None) -> list[str]:
    from patron.core.crypto import get_keyring, read_key_file, reload_keyring, write_key_file

    backed_up = read_key_file(source)
    if target is None:  # the keys come from the environment: they must be the backup's
        if get_keyring().to_json() != backed_up.to_json():
            raise Conflict(
                f"PATRON_ENCRYPTION_KEYS differs from the backup's keys: set it to the "
                f"contents of {source} first"
            )
        return ["the keys come from PATRON_ENCRYPTION_KEYS and match the backup's"]
    write_key_file(backed_up, target, replace=True)
    reload_keyring()
    return []


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (
        target.with_name(target.name + "-wal"),
        target.with_name(target.name + "-shm"),
    ):
        leftover.unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    _sqlite_copy(source, target)


def _replace_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.restoring")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def sqlite_target(db: Database) -> Path | None:
    """The SQLite file a restore writes, None on PostgreSQL."""
    if not db.is_sqlite:
        return None
    return _sqlite_path(db)


__all__ = [
    "BackupResult",
    "Targets",
    "backup",
    "libpq_url",
    "read_manifest",
    "restore",
    "sqlite_target",
]
