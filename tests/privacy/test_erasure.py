"""Erasure by crypto-shredding (docs/privacy.md): after a person is erased, neither the
database (SQLite file and WAL, or a PostgreSQL dump), nor the analytics store, nor a backup
taken before the erasure holds a readable trace of their name, phone or e-mail — scanned as
raw bytes and by decrypting every token found with the keys that still exist — while net
sales and the points liability do not change. Holds block it with their reasons."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from patron.analytics.service import run_analytics
from patron.cli import app
from patron.core import crypto
from patron.core.backup import backup, libpq_url
from patron.core.db import Database, get_database
from patron.core.errors import PatronError
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.encryption import ENCRYPTED_COLUMNS
from patron.customers.schemas import CustomerUpdate
from patron.loyalty import reports
from patron.orders import sales
from patron.privacy import erasure
from patron.privacy.exceptions import ErasureHeld
from patron.privacy.schemas import HoldIn
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import TicketCreate
from tests.helpers import ACTOR, sign_up
from tests.loyalty.helpers import PLAIN, TUESDAY, sale
from tests.privacy.helpers import file_request, note

runner = CliRunner()

GONE = {"name": "欧阳娜娜", "phone": "13912345678", "email": "nana.ouyang@example.com"}
KEPT = {"name": "司马光", "phone": "13787654321", "email": "guang.sima@example.com"}
# a token under a keyring data key, a customer's own key, or a wrapping key
TOKEN = re.compile(rb"(?:k\d+|@[0-9a-f]{16}|w\d+):[A-Za-z0-9_-]{20,}")
AADS = [f"{t}.{c}".encode() for t, c in ENCRYPTED_COLUMNS]


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """``db`` with a key file made by ``patron init``: the wrapping key can be rolled."""
    monkeypatch.setenv("PATRON_DATABASE_URL", db.url)
    get_settings.cache_clear()
    crypto.install_keyring(None)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return get_database()


def _figures(db: Database) -> tuple[int, int]:
    def read(s: Any) -> tuple[int, int]:
        cells = sales.summarise_sales(
            session=s, start_on=date(2026, 1, 1), end_on=date(2026, 12, 31)
        ).cells
        owed = reports.liability(session=s, now=TUESDAY, programme=PLAIN).liability_fen
        return sum(c.net_fen for c in cells), owed

    return db.read(read)


def _person(db: Database, who: dict[str, str]) -> int:
    cid = sign_up(db, **who, birthday="1990-05-01", address="上海市静安区南京西路1号")
    # a profile change leaves a before-image in the audit log; a note repeats the details
    db.write(
        lambda s: customers.update_customer(
            session=s, customer_id=cid, customer_in=CustomerUpdate(address="北京市朝阳区1号")
        )
    )
    note(db, cid, f"{who['name']}来电，回拨{who['phone']}，邮箱{who['email']}")
    sale(db, cid)
    return cid


def _secrets(who: dict[str, str]) -> list[bytes]:
    found = [v.encode() for v in who.values()]
    found += [who["name"].encode("utf-16-le"), who["name"].encode("gb18030")]
    return found


def _readable(db: Database, blob: bytes, who: dict[str, str], erased_ref: str) -> list[str]:
    """What of ``who`` can be read in ``blob``: in clear, or by decrypting any token in it
    with the keys that exist now (the keyring, and the customers' data keys still stored)."""
    found = [s.decode("utf-8", "replace") for s in _secrets(who) if s in blob]
    keyring = crypto.get_keyring()
    texts: list[str] = []

    def open_all(session: Any) -> None:
        for match in TOKEN.finditer(blob):
            token = match.group(0).decode()
            if token.startswith("w"):  # a wrapped data key: the erased one must not unwrap
                try:
                    keyring.unwrap(token, erased_ref)
                except crypto.EncryptionError:
                    continue
                texts.append(f"the erased data key unwraps from {token[:12]}…")
                continue
            for aad in AADS:
                try:
                    if token.startswith("@"):
                        text = crypto.open_sealed(token, aad, session=session)
                    else:
                        text = keyring.decrypt(token, aad)
                except crypto.EncryptionError:
                    continue
                if text is not None:
                    texts.append(text)

    db.read(open_all)
    found += [t for t in texts if any(v in t for v in who.values()) or "unwraps" in t]
    return found


def _database_bytes(db: Database, tmp_path: Path) -> bytes:
    if db.is_sqlite:
        path = Path(db.engine.url.database or "")
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    dump = tmp_path / "live.sql"
    subprocess.run(["pg_dump", "--file", str(dump), libpq_url(db)], check=True)
    return dump.read_bytes()


def _backup_bytes(directory: Path, tmp_path: Path) -> bytes:
    blob = b""
    for path in sorted(directory.iterdir()):
        if path.name == "keys.json":
            continue  # the keys of that day, which are kept apart (docs/operations.md)
        if path.name.endswith(".dump"):  # pg_dump's custom format is compressed: read it out
            plain = tmp_path / "backup.sql"
            subprocess.run(["pg_restore", "--file", str(plain), str(path)], check=True)
            blob += plain.read_bytes()
        else:
            blob += path.read_bytes()
    return blob


def _key_ref(db: Database, customer_id: int) -> str:
    with db.engine.connect() as conn:
        ref = conn.exec_driver_sql(
            f"SELECT key_ref FROM customer WHERE id = {int(customer_id)}"
        ).scalar_one()
    assert isinstance(ref, str)
    return ref


def test_an_erased_person_is_unreadable_everywhere_and_the_totals_stay(
    cli_db: Database, tmp_path: Path
) -> None:
    db = cli_db
    gone, kept = _person(db, GONE), _person(db, KEPT)
    run_analytics(db=db)
    store = get_settings().resolved_analytics_store
    before = _figures(db)
    assert before[0] > 0 and before[1] > 0
    erased_ref = _key_ref(db, gone)
    old_backup = tmp_path / "before"
    backup(db, old_backup, analytics_store=store)
    # the control: before the erasure, the scan does find the person
    assert _readable(
        db, _database_bytes(db, tmp_path) + _backup_bytes(old_backup, tmp_path), GONE, erased_ref
    )

    request = file_request(db, gone, kind="erasure")
    result = erasure.erase_and_roll(db=db, request_id=request.id, actor=ACTOR)

    assert result.request.status == "done" and result.keys_destroyed == 1
    assert result.wrapping_key_rolled and result.identities == 2
    run_analytics(db=db)
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for where, blob in (
        ("the database", _database_bytes(db, tmp_path)),
        ("the analytics store", store.read_bytes()),
        ("the backup taken before", _backup_bytes(old_backup, tmp_path)),
    ):
        assert _readable(db, blob, GONE, erased_ref) == [], where
    assert _figures(db) == before  # net sales and points liability unchanged

    # the profile stays as an anonymous record; the other customer reads as before
    anonymous = db.read(lambda s: customers.get_customer(session=s, customer_id=gone))
    assert anonymous is not None
    assert (anonymous.name, anonymous.address, anonymous.identities) == (None, None, [])
    assert anonymous.status == "anonymised"
    other = db.read(
        lambda s: customers.lookup_customer(session=s, kind="phone", value=KEPT["phone"])
    )
    assert other is not None and other.id == kept and other.name == KEPT["name"]
    assert other.address == "北京市朝阳区1号"
    assert (
        db.read(lambda s: customers.lookup_customer(session=s, kind="phone", value=GONE["phone"]))
        is None
    )


def test_holds_block_the_erasure_with_their_reasons_until_lifted(cli_db: Database) -> None:
    db = cli_db
    gone = _person(db, GONE)
    request = file_request(db, gone, kind="erasure")
    hold = db.write(
        lambda s: erasure.place_hold(
            session=s, customer_id=gone, hold_in=HoldIn(reason="消费纠纷待仲裁"), actor=ACTOR
        )
    )
    ticket = db.write(
        lambda s: tickets.open_ticket(
            session=s,
            ticket_in=TicketCreate.model_validate(
                {"ticket_type": "complaint", "subject": "退货", "customer": {"id": gone}}
            ),
            actor=ACTOR,
        )
    )

    with pytest.raises(ErasureHeld) as held:
        erasure.erase_and_roll(db=db, request_id=request.id, actor=ACTOR)
    assert (
        "消费纠纷待仲裁" in held.value.message
        and f"ticket {ticket.id} is open" in held.value.message
    )
    assert isinstance(held.value, PatronError) and held.value.message_code == "privacy_erasure_held"
    # nothing was changed
    assert (
        db.read(lambda s: customers.get_customer(session=s, customer_id=gone)).name == GONE["name"]
    )  # type: ignore[union-attr]

    db.write(lambda s: erasure.lift_hold(session=s, hold_id=hold.id, actor=ACTOR))
    tickets_left = db.read(lambda s: erasure.erasure_holds(session=s, customer_id=gone))
    assert [h.kind for h in tickets_left] == ["ticket"]


def test_customers_from_before_data_keys_are_given_theirs_and_can_then_be_erased(
    cli_db: Database, tmp_path: Path
) -> None:
    db = cli_db
    path = crypto.key_file_path()
    legacy = crypto.get_keyring().with_wrap_keys({}, None)  # a key file from before
    crypto.adopt_keyring(crypto.write_key_file(legacy, path, replace=True))
    gone, kept = _person(db, GONE), _person(db, KEPT)
    with db.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM customer")]
        values = [r[0] for r in conn.exec_driver_sql("SELECT value FROM identity")]
    assert all(v.startswith("k1:") for v in names + values)  # under the ring, as before

    result = runner.invoke(app, ["privacy", "customer-keys", "--batch-size", "1"])

    assert result.exit_code == 0, result.output
    assert "2 customers" in result.output
    assert crypto.read_key_file(path).wrap_active == "w1"
    with db.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM customer")]
        values = [r[0] for r in conn.exec_driver_sql("SELECT value FROM identity")]
        notes = [r[0] for r in conn.exec_driver_sql("SELECT note FROM interaction")]
        images = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT before_image FROM audit_entry WHERE before_image IS NOT NULL"
            )
        ]
    assert all(v.startswith("@") for v in names + values + notes + images)
    found = db.read(
        lambda s: customers.lookup_customer(session=s, kind="email", value=GONE["email"])
    )
    assert found is not None and found.id == gone and found.name == GONE["name"]
    again = runner.invoke(app, ["privacy", "customer-keys"])
    assert again.exit_code == 0 and "0 customers" in again.output  # nothing left to do

    request = file_request(db, gone, kind="erasure")
    erased = runner.invoke(app, ["privacy", "erase", str(request.id)])
    assert erased.exit_code == 0, erased.output
    assert "1 data key(s) destroyed" in " ".join(erased.output.split())
    assert _readable(db, _database_bytes(db, tmp_path), GONE, _key_ref(db, gone)) == []
    other = db.read(lambda s: customers.get_customer(session=s, customer_id=kept))
    assert other is not None and other.name == KEPT["name"]
