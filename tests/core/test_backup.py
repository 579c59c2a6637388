"""``patron backup`` and ``patron restore``: a round trip gives back every row, the analytics
store and the keys that decrypt the customers' personal data (core/backup.py)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from patron.analytics.service import list_runs, run_analytics
from patron.cli import app
from patron.core import crypto
from patron.core.db import Database, get_database, reset_databases
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.metadata import metadata
from tests.helpers import post_order, sign_up

runner = CliRunner()


def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """``db`` as the ``patron`` command sees it, with a key file made by ``patron init``."""
    monkeypatch.setenv("PATRON_DATABASE_URL", db.url)
    get_settings.cache_clear()
    crypto.install_keyring(None)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return get_database()


def _shop(db: Database) -> list[int]:
    ids = [
        sign_up(db, phone="13800138001", email="li@example.com", name="李雷"),
        sign_up(db, phone="13800138002", name="韩梅梅", address="上海市徐汇区"),
    ]
    for n, phone in enumerate(["13800138001", "13800138002"]):
        post_order(db, f"B-{n}", customer={"phone": phone})
    run_analytics(db=db)
    return ids


def _counts(db: Database) -> dict[str, int]:
    return db.read(
        lambda s: {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in metadata.sorted_tables
        }
    )


def _people(db: Database, ids: list[int]) -> list[dict[str, object]]:
    reads = db.read(lambda s: customers.get_customers(session=s, customer_ids=ids))
    return [
        reads[i].model_dump(mode="json", include={"name", "address", "identities"}) for i in ids
    ]


def test_a_backup_restored_elsewhere_gives_back_every_row_and_the_decrypted_customers(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = cli_db(sqlite_db, monkeypatch)
    ids = _shop(db)
    counts, people = _counts(db), _people(db, ids)
    assert counts["customer"] == 2 and counts["orders"] == 2

    backup_dir = tmp_path / "backup"
    result = runner.invoke(app, ["backup", str(backup_dir)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((backup_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"database", "analytics", "keys"}
    assert manifest["migration"] and manifest["versions"]["patron"]
    assert stat.S_IMODE((backup_dir / "keys.json").stat().st_mode) == 0o600

    # another machine: its own data directory, database and key file, nothing in them yet
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("PATRON_DATA_DIR", str(elsewhere))
    monkeypatch.setenv("PATRON_DATABASE_URL", f"sqlite:///{elsewhere / 'patron.db'}")
    get_settings.cache_clear()
    reset_databases()
    crypto.install_keyring(crypto.Keyring.generate())  # not the backup's keys
    crypto.install_keyring(None)

    result = runner.invoke(app, ["restore", str(backup_dir)])
    assert result.exit_code == 0, result.output
    restored = get_database()
    assert restored.url != db.url
    assert _counts(restored) == counts
    assert _people(restored, ids) == people  # decrypted with the restored keys
    runs = restored.read(lambda s: list_runs(session=s))
    assert [r.status for r in runs] == ["succeeded"]
    assert (elsewhere / "analytics.duckdb").exists()

    # a second restore would overwrite: refused without --force, done with it
    result = runner.invoke(app, ["restore", str(backup_dir)])
    assert result.exit_code == 1 and "--force" in result.output
    result = runner.invoke(app, ["restore", str(backup_dir), "--force"])
    assert result.exit_code == 0, result.output
    assert _counts(get_database()) == counts


def test_a_restore_refuses_a_backup_whose_checksum_or_migration_is_wrong(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_db(sqlite_db, monkeypatch)
    backup_dir = tmp_path / "backup"
    assert runner.invoke(app, ["backup", str(backup_dir)]).exit_code == 0
    assert runner.invoke(app, ["backup", str(backup_dir)]).exit_code == 1  # not empty

    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    with (damaged / "patron.db").open("ab") as f:
        f.write(b"\0")
    result = runner.invoke(app, ["restore", str(damaged), "--force"])
    assert result.exit_code == 1 and "checksum" in result.output

    future = tmp_path / "future"
    shutil.copytree(backup_dir, future)
    manifest = json.loads((future / "manifest.json").read_text(encoding="utf-8"))
    manifest["migration"] = "9999"
    (future / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = runner.invoke(app, ["restore", str(future), "--force"])
    assert result.exit_code == 1 and "9999" in result.output


@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="needs the PostgreSQL client")
def test_on_postgresql_the_backup_is_a_pg_dump_and_the_restore_says_how(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = cli_db(pg_db, monkeypatch)
    _shop(db)
    backup_dir = tmp_path / "backup"
    result = runner.invoke(app, ["backup", str(backup_dir)])
    assert result.exit_code == 0, result.output
    listed = subprocess.run(
        ["pg_restore", "--list", str(backup_dir / "patron.dump")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0 and "TABLE DATA" in listed.stdout and "customer" in listed.stdout

    result = runner.invoke(app, ["restore", str(backup_dir)])
    assert result.exit_code == 1 and "--force" in result.output  # the key file is there
    result = runner.invoke(app, ["restore", str(backup_dir), "--force"])
    assert result.exit_code == 0, result.output
    assert "pg_restore" in result.output


def test_without_pg_dump_a_postgresql_backup_says_what_to_do(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_db(pg_db, monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    result = runner.invoke(app, ["backup", str(tmp_path / "backup")], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "pg_dump" in result.output and "docs/operations.md" in result.output
