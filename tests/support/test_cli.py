"""``patron support sla-sweep`` on the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from patron.cli import app

# The default database comes migrated (tests/conftest.py): ``patron init`` finds its schema
# up to date, as on any upgrade of a running shop, and does the rest of its work.
pytestmark = pytest.mark.usefixtures("migrated_data_dir")


def test_the_sla_sweep_runs_from_the_command_line_and_finds_nothing_twice() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for _ in range(2):
        done = runner.invoke(app, ["support", "sla-sweep"])
        assert done.exit_code == 0, done.output
        assert "breaches 0" in done.output
