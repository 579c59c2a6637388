"""``patron analytics``: run the pipeline and show what it found."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from patron.analytics.schemas import AnalyticsRunRead
from patron.core.settings import get_settings

app = typer.Typer(help="Analytics: RFM segments, lifecycle stages, cohorts, KPIs.")
console = Console()


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-10-31") from None


def print_run(run: AnalyticsRunRead) -> None:
    """The run's steps and their time, then the segment counts."""
    table = Table(
        title=f"Analytics run {run.id}", caption=f"as of {run.as_of} on {run.engine}", min_width=40
    )
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("rows", justify="right")
    for step in run.steps:
        table.add_row(
            step.step, f"{step.seconds:.2f}", "" if step.rows is None else f"{step.rows:,}"
        )
    table.add_row("total", f"{sum(s.seconds for s in run.steps):.2f}", "", style="bold")
    console.print(table)
    console.print(f"{run.customers_scored:,} customers scored.")


def run_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business day to describe (YYYY-MM-DD)")
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb or spark")] = "duckdb",
    full: Annotated[bool, typer.Option("--full", help="Rebuild the analytics store")] = False,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="With --engine spark: spark://host:7077 for a cluster (default "
            "PATRON_SPARK_MASTER, local[2])",
        ),
    ] = None,
) -> None:
    """Extract, score every customer, keep cohorts, KPIs and migration; write scores back."""
    from patron.analytics import service
    from patron.analytics.store import AnalyticsBusy
    from patron.core.db import get_database
    from patron.core.errors import InvalidInput
    from patron.web.messages import message_line

    day = _parse_day(as_of)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]Analytics[/bold] {task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting")

        def on_step(name: str) -> None:
            bar.update(task, description=name)

        try:
            run = service.run_analytics(
                db=get_database(),
                as_of=day,
                engine=engine,
                full=full,
                on_step=on_step,
                spark_master=spark_master,
            )
        except (AnalyticsBusy, InvalidInput) as exc:
            console.print(f"[red]{message_line(exc)}[/red]")
            raise typer.Exit(1) from None
        except Exception as exc:
            console.print(f"[red]The analytics run failed:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None
    print_run(run)
    if day is None and run.as_of < run.started_at.astimezone(get_settings().zone).date():
        console.print(
            f"Your data ends on {run.as_of}: the run describes your customers as they were "
            f"that day (您的数据截止于 {run.as_of}，分析按这一天计算). Give --as-of for another day."
        )


app.command("run")(run_command)


@app.command("runs")
def runs_command(
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many")] = 10,
) -> None:
    """The latest runs, newest first."""
    from patron.analytics import service
    from patron.core.db import get_database

    table = Table("id", "as of", "engine", "trigger", "status", "customers", "seconds", "error")
    for run in get_database().read(lambda s: service.list_runs(session=s, limit=limit)):
        table.add_row(
            str(run.id),
            run.as_of.isoformat(),
            run.engine,
            run.trigger,
            run.status,
            f"{run.customers_scored:,}",
            f"{sum(s.seconds for s in run.steps):.1f}",
            (run.error or "")[:60] or ("rows pruned" if run.scores_pruned_at else ""),
        )
    console.print(table)


@app.command("prune")
def prune_command(
    keep_days: Annotated[
        int, typer.Option(min=1, help="Days of every run's customer rows to keep")
    ] = 90,
) -> None:
    """Delete the customer rows (scores, churn risk) of runs older than --keep-days, except
    each month's last run and the latest run. Set PATRON_ANALYTICS_KEEP_DAYS to do this
    after every run."""
    from patron.analytics import service
    from patron.core.db import get_database

    pruned = get_database().write(
        lambda s: service.prune_score_history(session=s, keep_days=keep_days)
    )
    console.print(f"{pruned} runs' customer rows deleted; each month's last run kept")
