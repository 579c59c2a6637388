"""``patron keys rotate``: every value re-encrypted under a new key, old ciphertext gone, and
look-ups by phone, e-mail, card and name, merges and unmerges working afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from patron.audit import service as audit
from patron.cli import app
from patron.core import crypto
from patron.core.db import Database, get_database
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.schemas import CustomerFilter
from tests.helpers import ACTOR, post_order
from tests.security.helpers import CIPHERTEXT, PEOPLE, populate, raw_encrypted_values

runner = CliRunner()


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """``db``, as the ``patron`` command sees it, with a key file made by ``patron init``."""
    monkeypatch.setenv("PATRON_DATABASE_URL", db.url)
    get_settings.cache_clear()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert crypto.key_file_path().exists()
    yield get_database()


def _wrapped(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT wrapped FROM customer_key")}


def _all_values(db: Database) -> set[str]:
    return {v for values in raw_encrypted_values(db).values() for v in values}


def _lookups(db: Database) -> None:
    for person in PEOPLE:
        for kind, value in (
            ("phone", person.phone),
            ("phone", f"+86 {person.phone[:3]} {person.phone[3:7]} {person.phone[7:]}"),
            ("email", person.email.upper()),
            ("member_card", person.member_card),
        ):
            found = db.read(
                lambda s, k=kind, v=value: customers.lookup_customer(session=s, kind=k, value=v)
            )
            assert found is not None and found.name == person.name, (kind, value)
            assert found.address == person.address and str(found.birthday) == person.birthday
        page = db.read(
            lambda s, p=person: customers.list_customers(
                session=s, filters=CustomerFilter(q=p.name)
            )
        )
        assert [c.name for c in page.items] == [person.name]


def test_look_ups_work_after_rotation_and_old_ciphertext_is_gone(cli_db: Database) -> None:
    # written as before customers had data keys of their own: every value under the ring
    with crypto.using_keyring(crypto.get_keyring().with_wrap_keys({}, None)):
        made = populate(cli_db)
    before = _all_values(cli_db)
    assert before and all(v.startswith("k1:") for v in before)

    result = runner.invoke(app, ["keys", "rotate"])

    assert result.exit_code == 0, result.output
    assert "k1 → k2" in result.output and "Every stored value is under k2" in result.output
    after = _all_values(cli_db)
    assert len(after) == len(before) and not after & before  # every value rewritten
    assert all(CIPHERTEXT.match(v) and v.startswith("k2:") for v in after)
    key_file = json.loads(crypto.key_file_path().read_text(encoding="utf-8"))
    assert key_file["active"] == "k2" and set(key_file["data_keys"]) == {"k1", "k2"}

    # a process starting now reads the rotated key file: nothing else carries over
    crypto.install_keyring(None)
    crypto.reload_keyring()
    _lookups(cli_db)
    # what the identity rules do with known identifiers still works: an order finds its member
    first = PEOPLE[0]
    order = post_order(cli_db, "AFTER-1", customer={"phone": first.phone})
    assert order.order.customer_id == made["customers"][first.phone]

    # the audit entry says what happened, with no key material
    entry = cli_db.read(lambda s: audit.list_audit(session=s, action="keys.rotated")).items[0]
    assert entry.details["previous_key"] == "k1" and entry.details["active_key"] == "k2"
    assert sum(entry.details["values_rewritten"].values()) == len(before)
    text = json.dumps(entry.model_dump(mode="json"))
    for key in (*key_file["data_keys"].values(), key_file["index_key"]):
        assert key not in text


def test_merges_and_unmerges_work_across_a_rotation(cli_db: Database) -> None:
    made = populate(cli_db)
    second, third = PEOPLE[1], PEOPLE[2]
    survivor, other = made["customers"][second.phone], made["customers"][third.phone]
    merge = cli_db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor, merged_id=other, reason="同一人", actor=ACTOR
        )
    )
    wrapped = _wrapped(cli_db)
    assert wrapped and all(w.startswith("w1:") for w in wrapped)
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    # the customers' data keys are rewrapped under a new wrapping key; the old one is gone
    key_file = json.loads(crypto.key_file_path().read_text(encoding="utf-8"))
    assert key_file["wrap_active"] == "w2" and set(key_file["wrap_keys"]) == {"w2"}
    rewrapped = _wrapped(cli_db)
    assert all(w.startswith("w2:") for w in rewrapped) and not rewrapped & wrapped

    # the snapshot taken under k1 and re-encrypted under k2 gives the profile back
    cli_db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge.id, actor=ACTOR))
    back = cli_db.read(lambda s: customers.get_customer_or_raise(session=s, customer_id=survivor))
    assert (back.name, back.address, str(back.birthday)) == (
        second.name,
        second.address,
        second.birthday,
    )
    again = cli_db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor, merged_id=other, reason="确认同一人", actor=ACTOR
        )
    )
    cli_db.write(lambda s: customers.unmerge_customers(session=s, merge_id=again.id, actor=ACTOR))
    assert all(v.startswith(("k2:", "@")) for v in _all_values(cli_db))


def test_status_counts_values_per_key_and_a_second_rotation_continues(cli_db: Database) -> None:
    populate(cli_db)
    values = _all_values(cli_db)
    ring = len([v for v in values if v.startswith("k1:")])
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0, status.output
    lines = {line.split()[1]: line for line in status.output.splitlines() if line[:1] in "│┃"}
    assert "active" in lines["k1"] and f"{ring:,}" in lines["k1"]
    assert f"{len(values) - ring:,}" in lines["@"]  # under the customers' own keys

    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    assert all(v.startswith(("k3:", "@")) for v in _all_values(cli_db))
    status = runner.invoke(app, ["keys", "status"])
    lines = {line.split()[1]: line for line in status.output.splitlines() if line[:1] in "│┃"}
    assert "active" in lines["k3"] and "retired" in lines["k1"] and "retired" in lines["k2"]
    _lookups(cli_db)


def test_an_interrupted_rotation_is_finished_with_resume(cli_db: Database) -> None:
    populate(cli_db)
    keyring = crypto.get_keyring()
    path = crypto.key_file_path()
    # the new key is on disk, and the run stopped before rewriting anything
    crypto.adopt_keyring(crypto.write_key_file(keyring.rotated(), path, replace=True))
    assert all(v.startswith(("k1:", "@")) for v in _all_values(cli_db))
    _lookups(cli_db)  # readable meanwhile: the old key is still in the file

    result = runner.invoke(app, ["keys", "rotate", "--resume"])

    assert result.exit_code == 0, result.output
    assert "Finished the rotation to key k2" in result.output
    assert all(v.startswith(("k2:", "@")) for v in _all_values(cli_db))
    assert json.loads(path.read_text(encoding="utf-8"))["active"] == "k2"  # no third key


def test_rotation_refuses_keys_from_the_environment(
    cli_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.ENV_VAR, crypto.Keyring.generate().to_json())
    get_settings.cache_clear()
    result = runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 1
    assert crypto.ENV_VAR in result.output and "key file" in result.output


def test_init_refuses_to_make_new_keys_for_data_encrypted_under_lost_ones(
    cli_db: Database,
) -> None:
    populate(cli_db)
    path = crypto.key_file_path()
    path.unlink()
    crypto.install_keyring(None)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "holds encrypted personal data" in result.output and str(path) in "".join(
        result.output.split()
    )
    assert not path.exists()
