"""``patron privacy`` on the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from patron.cli import app

# The default database comes migrated (tests/conftest.py): ``patron init`` finds its schema
# up to date, as on any upgrade of a running shop, and does the rest of its work.
pytestmark = pytest.mark.usefixtures("migrated_data_dir")


def test_a_policy_is_set_and_the_dry_run_counts_from_the_command_line() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    done = runner.invoke(app, ["privacy", "policy", "interaction_notes", "6"])
    assert done.exit_code == 0, done.output
    assert "interaction_notes: kept 6 months (active)" in done.output
    dry = runner.invoke(app, ["privacy", "retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "interactions 0" in dry.output


def test_an_unknown_policy_kind_is_refused_by_name() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    done = runner.invoke(app, ["privacy", "policy", "photos", "6"])
    assert done.exit_code != 0
    assert "inactive_customers" in done.output
