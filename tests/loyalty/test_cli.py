"""``patron loyalty`` on the command line."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from patron.cli import app

# The default database comes migrated (tests/conftest.py): ``patron init`` finds its schema
# up to date, as on any upgrade of a running shop, and does the rest of its work.
pytestmark = pytest.mark.usefixtures("migrated_data_dir")


def test_the_loyalty_upkeep_runs_from_the_command_line() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    done = runner.invoke(app, ["loyalty", "upkeep"])
    assert done.exit_code == 0, done.output
    assert re.search(r"birthday gifts\s*│\s*0", done.output)
    assert re.search(r"tiers changed\s*│\s*0", done.output)
