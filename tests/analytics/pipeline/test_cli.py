"""``patron analytics run`` and ``patron analytics runs`` on the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from patron.analytics import service
from patron.analytics import store as analytics_store
from patron.cli import app
from patron.core.db import get_database
from tests.analytics.pipeline.helpers import build_chain


def test_analytics_run_scores_customers_and_prints_the_time_of_each_step() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    chain = build_chain(get_database())

    done = runner.invoke(app, ["analytics", "run", "--as-of", "2026-03-20"])
    assert done.exit_code == 0, done.output
    for step in service.STEPS:
        assert step in done.output
    assert "3 customers scored" in done.output
    history = get_database().read(
        lambda s: service.scores_for_customer(session=s, customer_id=chain.alice)
    )
    assert len(history) == 1 and history[0].as_of.isoformat() == "2026-03-20"

    again = runner.invoke(app, ["analytics", "run", "--as-of", "2026-03-21", "--full"])
    assert again.exit_code == 0, again.output
    listed = runner.invoke(app, ["analytics", "runs"])
    assert listed.exit_code == 0
    assert "2026-03-21" in listed.output and "2026-03-20" in listed.output
    assert listed.output.count("succeeded") == 2

    # 20 and 21 March are March's runs: the 21st is its last (and the latest) and stays.
    pruned = runner.invoke(app, ["analytics", "prune", "--keep-days", "1"])
    assert pruned.exit_code == 0, pruned.output
    assert "1 runs' customer rows deleted" in pruned.output
    assert "pruned" in runner.invoke(app, ["analytics", "runs"]).output


def test_analytics_run_refuses_bad_input_and_a_busy_store() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    bad_day = runner.invoke(app, ["analytics", "run", "--as-of", "31/03/2026"])
    assert bad_day.exit_code == 2 and "is not a date" in bad_day.output
    bad_engine = runner.invoke(app, ["analytics", "run", "--engine", "pandas"])
    assert bad_engine.exit_code == 1 and "engine" in bad_engine.output
    with analytics_store.run_lock(service.store_path()):
        busy = runner.invoke(app, ["analytics", "run"])
    assert busy.exit_code == 1 and "another analytics run is going" in busy.output


def test_the_demo_ends_with_an_analytics_run() -> None:
    runner = CliRunner()
    built = runner.invoke(
        app, ["demo", "--seed", "3", "--customers", "150", "--lines", "1500", "--end", "2026-10-31"]
    )
    assert built.exit_code == 0, built.output
    run = get_database().read(lambda s: service.latest_run(session=s))
    assert run is not None and run.trigger == "demo" and run.as_of.isoformat() == "2026-10-31"
    assert run.customers_scored > 0
    assert "customers scored" in built.output

    again = runner.invoke(app, ["demo", "--seed", "3", "--customers", "150", "--lines", "1500"])
    assert again.exit_code == 0, again.output
    runs = get_database().read(lambda s: service.list_runs(session=s))
    assert len(runs) == 1, "a demo already built and scored is not scored again"
