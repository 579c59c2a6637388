"""``patron users`` and ``patron api-keys`` on the command line."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import get_database
from patron.staff import service as staff

# The default database comes migrated (tests/conftest.py): ``patron init`` finds its schema
# up to date, as on any upgrade of a running shop, and does the rest of its work.
pytestmark = pytest.mark.usefixtures("migrated_data_dir")


def test_users_and_api_keys_are_made_listed_and_revoked_from_the_command_line() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    made = runner.invoke(
        app,
        ["users", "create", "boss", "--role", "admin", "--password-stdin"],
        input="s3cret-pass\n",
    )
    assert made.exit_code == 0, made.output
    signed = get_database().write(
        lambda s: staff.sign_in(session=s, username="boss", password="s3cret-pass")
    )
    assert signed.signed_in is not None

    no_store = runner.invoke(
        app,
        ["users", "create", "till", "--role", "cashier", "--password-stdin"],
        input="s3cret-pass\n",
    )
    assert no_store.exit_code == 1 and "at least one store" in no_store.output

    key_out = runner.invoke(app, ["api-keys", "create", "web shop", "--role", "marketer"])
    assert key_out.exit_code == 0, key_out.output
    key = re.search(r"pk_\S+", key_out.output)
    assert key is not None
    actor = get_database().read(lambda s: staff.actor_for_api_key(session=s, key=key.group(0)))
    assert actor is not None and actor.role == "marketer"
    assert "web shop" in runner.invoke(app, ["api-keys", "list"]).output

    assert runner.invoke(app, ["api-keys", "revoke", str(actor.id)]).exit_code == 0
    assert (
        get_database().read(lambda s: staff.actor_for_api_key(session=s, key=key.group(0))) is None
    )
    assert runner.invoke(app, ["api-keys", "revoke", "999"]).exit_code == 1


def test_keys_is_the_encryption_keyring_not_api_keys() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    old_spelling = runner.invoke(app, ["keys", "create", "web shop", "--role", "marketer"])
    assert old_spelling.exit_code != 0
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0 and "k1" in status.output and "active" in status.output
