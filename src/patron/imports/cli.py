"""``patron import customers|products|orders FILE``: parse options, run the import, print.

The lead's ``patron/cli.py`` mounts :data:`app` as ``patron import``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from patron.core.errors import PatronError
from patron.imports.columns import load_mapping_file, parse_map_options
from patron.imports.schemas import DEFAULT_CANCEL_PATTERN, ImportOptions, ImportSummary

app = typer.Typer(
    help="Import customers, products or orders from CSV or Excel (.xlsx) files.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

FileArg = Annotated[
    Path, typer.Argument(help="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or .xlsx file")
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="FIELD=COLUMN for a column the alias table does not know (repeatable)",
    ),
]
MappingFileOpt = Annotated[
    Path | None, typer.Option(help="TOML or JSON file of FIELD = COLUMN", exists=True)
]
SourceOpt = Annotated[
    str, typer.Option(help="Name of the system the file came from (part of each order's key)")
]
EncodingOpt = Annotated[
    str | None, typer.Option(help="File encoding, e.g. gbk; detected if left out")
]
DelimiterOpt = Annotated[str | None, typer.Option(help="CSV delimiter; sniffed if left out")]
SheetOpt = Annotated[str | None, typer.Option(help="Worksheet of an .xlsx; the first if left out")]
DayFirstOpt = Annotated[bool, typer.Option("--day-first", help="Read 05/01/2024 as 5 January")]
BatchOpt = Annotated[
    int | None, typer.Option(min=1, help="Rows per transaction (settings.import_batch_rows)")
]
ReportOpt = Annotated[
    Path | None, typer.Option(help="Where rejected rows go; <file>.rejects.csv if left out")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Read a completely imported file again")]


def _run(kind: str, path: Path, options: dict[str, object]) -> None:
    """Build the options, run the import with a progress bar, print the summary."""
    from patron.core.db import get_database
    from patron.imports.service import run_import

    try:
        mapping: dict[str, str] = {}
        mapping_file = options.pop("mapping_file")
        if isinstance(mapping_file, Path):
            mapping.update(load_mapping_file(mapping_file, kind=kind))
        mapping.update(parse_map_options(options.pop("map") or []))  # type: ignore[arg-type]
        import_options = ImportOptions.model_validate({**options, "mapping": mapping})
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            err_console.print(f"[red]Error:[/red] --{where.replace('_', '-')}: {error['msg']}")
        raise typer.Exit(2) from None
    except PatronError as exc:
        err_console.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(2) from None

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(*, stage: str, done: int, total: int, unit: str, rows: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage.capitalize(), total=total or None, detail="")
            detail = f"{rows:,} rows"
            if unit == "bytes":
                detail += f", {done / 1e6:,.1f}/{total / 1e6:,.1f} MB"
            bar.update(tasks[stage], completed=done, total=total or None, detail=detail)

        try:
            summary = run_import(
                db=get_database(), kind=kind, path=path, options=import_options, progress=progress
            )
        except PatronError as exc:
            bar.stop()
            err_console.print(f"[red]Import failed:[/red] {exc.message}")
            err_console.print(
                "Nothing more was written; fix the file or the options and run again."
            )
            raise typer.Exit(1) from None
    _print_summary(summary)


def _print_summary(summary: ImportSummary) -> None:
    if summary.outcome == "already_imported":
        console.print(
            f"[yellow]Already imported[/yellow]: {summary.file_name} was imported completely "
            f"by run {summary.run_id}"
            + (f" at {summary.finished_at:%Y-%m-%d %H:%M} UTC" if summary.finished_at else "")
            + "; nothing was written. Use --force to read it again."
        )
    elif summary.resumed_after_row:
        console.print(
            f"Resumed run {summary.run_id} after row {summary.resumed_after_row} "
            "(the rows before it were imported earlier)."
        )
    table = Table(title=f"Import {summary.kind}: {summary.file_name}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("Read", f"{summary.rows_read:,}")
    table.add_row("Accepted", f"[green]{summary.rows_accepted:,}[/green]")
    table.add_row(
        "Rejected",
        f"[red]{summary.rows_rejected:,}[/red]" if summary.rows_rejected else "0",
    )
    table.add_row("Duplicates", f"{summary.duplicates:,}")
    if summary.kind == "orders":
        table.add_row("Refunds", f"{summary.refunds:,}")
        table.add_row("Anonymous", f"{summary.anonymous:,}")
    if summary.outcome == "completed":
        table.add_row("Created", f"{summary.created:,}")
        if summary.kind != "orders":
            table.add_row("Updated", f"{summary.updated:,}")
    table.add_row("Time", f"{summary.seconds:,.2f} s")
    if summary.rows_this_session:
        table.add_row("Lines/s", f"{summary.rows_per_second:,.0f}")
    console.print(table)
    if summary.ignored_columns:
        console.print(f"Columns not used: {', '.join(summary.ignored_columns)}")
    if summary.rows_rejected and summary.report_path:
        console.print(f"Rejected rows and why: [bold]{summary.report_path}[/bold]")


def _options(**kwargs: object) -> dict[str, object]:
    return {k: v for k, v in kwargs.items() if v is not None}


@app.command("customers")
def import_customers(
    path: FileArg,
    map_: MapOpt = None,
    mapping_file: MappingFileOpt = None,
    source: SourceOpt = "import",
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    sheet: SheetOpt = None,
    day_first: DayFirstOpt = False,
    batch_rows: BatchOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Customers: identities (phone, card, e-mail, openid…), profile and tags."""
    _run(
        "customers",
        path,
        {
            "map": map_,
            "mapping_file": mapping_file,
            **_options(
                source=source,
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                day_first=day_first,
                batch_rows=batch_rows,
                report_path=report,
                force=force,
            ),
        },
    )


@app.command("products")
def import_products(
    path: FileArg,
    map_: MapOpt = None,
    mapping_file: MappingFileOpt = None,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    sheet: SheetOpt = None,
    batch_rows: BatchOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Products by SKU: name, category path (生鲜/水果/苹果), brand, price in yuan, shelf life."""
    _run(
        "products",
        path,
        {
            "map": map_,
            "mapping_file": mapping_file,
            **_options(
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                batch_rows=batch_rows,
                report_path=report,
                force=force,
            ),
        },
    )


@app.command("orders")
def import_orders(
    path: FileArg,
    map_: MapOpt = None,
    mapping_file: MappingFileOpt = None,
    source: SourceOpt = "import",
    store: Annotated[
        str | None, typer.Option(help="Store code for rows that name none (default store)")
    ] = None,
    cancel_pattern: Annotated[
        str, typer.Option(help="Regex an order id matches when it cancels an order")
    ] = DEFAULT_CANCEL_PATTERN,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    sheet: SheetOpt = None,
    day_first: DayFirstOpt = False,
    batch_rows: BatchOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Orders, one row per line item; cancellation rows become refunds."""
    _run(
        "orders",
        path,
        {
            "map": map_,
            "mapping_file": mapping_file,
            **_options(
                source=source,
                store_code=store,
                cancel_pattern=cancel_pattern,
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                day_first=day_first,
                batch_rows=batch_rows,
                report_path=report,
                force=force,
            ),
        },
    )
