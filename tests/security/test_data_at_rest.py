"""Personal data is not readable where it is stored: not in the SQLite file (or its WAL),
not in the PostgreSQL columns, not in the merge history or the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from patron.audit import service as audit
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerFilter
from tests.helpers import ACTOR
from tests.security.helpers import CIPHERTEXT, PEOPLE, populate, raw_encrypted_values


def _assert_unreadable(blob: bytes, where: str) -> None:
    for person in PEOPLE:
        for secret in person.secrets():
            assert secret.encode("utf-8") not in blob, f"{secret!r} readable in {where}"
        # the name's characters one by one would still give it away in UTF-16 or GB18030
        for encoding in ("utf-16-le", "gb18030"):
            try:
                encoded = person.name.encode(encoding)
            except UnicodeEncodeError:
                continue
            assert encoded not in blob, f"{person.name!r} readable in {where} as {encoding}"


def test_personal_data_is_not_readable_in_the_sqlite_file(sqlite_db: Database) -> None:
    populate(sqlite_db)
    path = Path(sqlite_db.engine.url.database or "")
    wal = path.with_name(path.name + "-wal")
    # first as the pages sit in the write-ahead log, then checkpointed into the file itself
    assert wal.exists() and wal.stat().st_size > 0
    blob = path.read_bytes() + wal.read_bytes()
    assert "昆山".encode() in blob  # the control: a city is stored plain, and is found so
    _assert_unreadable(blob, "the database and its WAL")
    with sqlite_db.engine.connect() as conn:
        busy, _log, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0
    sqlite_db.dispose()
    _assert_unreadable(path.read_bytes(), "the checkpointed database file")
    if wal.exists():
        _assert_unreadable(wal.read_bytes(), "the WAL after the checkpoint")


def test_encrypted_columns_hold_ciphertext_on_every_backend(db: Database) -> None:
    made = populate(db)
    stored = raw_encrypted_values(db)
    assert all(stored.values()), stored  # every column has something to check
    for column, values in stored.items():
        for value in values:
            assert CIPHERTEXT.match(value), f"{column} holds {value[:20]!r}…, not ciphertext"
            for person in PEOPLE:
                for secret in person.secrets():
                    assert secret not in value
    with db.engine.connect() as conn:
        indexes = [r[0] for r in conn.execute(text("SELECT value_index FROM identity"))]
        names = [r[0] for r in conn.execute(text("SELECT name_index FROM customer"))]
        reasons = [r[0] for r in conn.execute(text("SELECT reason FROM customer_merge"))]
    assert len(set(indexes)) == len(indexes) and all(len(i) == 32 for i in indexes)
    assert {n for n in names if n} and all(n is None or len(n) == 32 for n in names)
    # the automatic merge's reason names the shared identifier, masked
    assert any("****" in r for r in reasons)
    for blob in (" ".join(indexes + [n or "" for n in names] + reasons),):
        for person in PEOPLE:
            for secret in person.secrets():
                assert secret not in blob

    # …and through the services everything reads back as it was given
    first = PEOPLE[0]
    found = db.read(lambda s: customers.lookup_customer(session=s, kind="phone", value=first.phone))
    assert found is not None and found.name == first.name
    assert str(found.birthday) == first.birthday and found.address == first.address
    assert {i.value for i in found.identities} >= {first.e164, first.email, first.member_card}
    assert found.id == made["customers"][first.phone]


def test_the_audit_log_of_a_reveal_holds_no_personal_data(db: Database) -> None:
    made = populate(db)
    first = PEOPLE[0]
    revealed = db.write(
        lambda s: customers.reveal_customer(
            session=s,
            customer_id=made["customers"][first.phone],
            reason="客户来电核对",
            actor=ACTOR,
        )
    )
    assert revealed.name == first.name and revealed.address == first.address
    entries = db.read(lambda s: audit.list_audit(session=s)).items
    assert {"customer.reveal", "customer.merge", "customer.unmerge"} <= {e.action for e in entries}
    blob = json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False)
    for person in PEOPLE:
        for secret in person.secrets():
            assert secret not in blob


def test_name_search_is_exact_and_reads_no_ciphertext(db: Database) -> None:
    populate(db)
    first = PEOPLE[0]

    def search(q: str) -> list[str | None]:
        page = db.read(lambda s: customers.list_customers(session=s, filters=CustomerFilter(q=q)))
        return [c.name for c in page.items]

    assert search(first.name) == [first.name]
    assert search("zoë  kowalczyk") == ["Zoë Kowalczyk"]
    assert search(first.name[:2]) == []  # part of a name finds nothing, by design
