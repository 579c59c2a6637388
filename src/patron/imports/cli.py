"""``patron import customers|products|orders FILE``: parse options, run the import, print.

Everything it prints is in the user's language (Chinese by default, ``--lang en``), bad
input included: a clear message and a non-zero exit, never a traceback.
``patron/cli.py`` mounts :data:`app` as ``patron import``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

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
from patron.imports.cells import format_fen
from patron.imports.columns import load_mapping_file, parse_map_options
from patron.imports.messages import describe_error, translate
from patron.imports.schemas import (
    DEFAULT_CANCEL_PATTERN,
    ImportOptions,
    ImportSummary,
    Reconciliation,
)
from patron.web.i18n import N_

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Import customers, products or orders from CSV or Excel (.xlsx) files.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

EXIT_FAILED, EXIT_USAGE, EXIT_UNBALANCED = 1, 2, 3

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
MappingFileOpt = Annotated[Path | None, typer.Option(help="TOML or JSON file of FIELD = COLUMN")]
SourceOpt = Annotated[
    str, typer.Option(help="Name of the system the file came from (part of each order's key)")
]
EncodingOpt = Annotated[
    str | None, typer.Option(help="File encoding, e.g. gbk; detected if left out")
]
DelimiterOpt = Annotated[str | None, typer.Option(help="CSV delimiter; sniffed if left out")]
SheetOpt = Annotated[
    str | None,
    typer.Option(help="Worksheet of an .xlsx; the one with the right columns if left out"),
]
DayFirstOpt = Annotated[bool, typer.Option("--day-first", help="Read 05/01/2024 as 5 January")]
BatchOpt = Annotated[
    int | None, typer.Option(min=1, help="Rows per transaction (settings.import_batch_rows)")
]
ReportOpt = Annotated[
    Path | None,
    typer.Option(help="Where rejected rows go; <file>.<kind>-run<N>.rejects.csv if left out"),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Read a completely imported file again")]
LangOpt = Annotated[
    str, typer.Option("--lang", help="Language of the messages and the report: zh or en")
]


def _t(lang: str, message: str, **facts: Any) -> str:
    return translate(lang, message, **facts)


def _fail(lang: str, message: str, code: int) -> typer.Exit:
    err_console.print(f"[red]{_t(lang, N_('Error'))}:[/red] {message}")
    return typer.Exit(code)


def _run(kind: str, path: Path, options: dict[str, object]) -> None:
    """Build the options, run the import with a progress bar, print the summary."""
    from patron.core.db import get_database
    from patron.imports.service import run_import

    lang = str(options.get("lang") or "zh")
    if lang not in ("zh", "en"):
        raise _fail("zh", f"--lang {lang}: zh / en", EXIT_USAGE)
    try:
        mapping: dict[str, str] = {}
        mapping_file = options.pop("mapping_file")
        if isinstance(mapping_file, Path):
            mapping.update(load_mapping_file(mapping_file, kind=kind))
        mapping.update(parse_map_options(options.pop("map") or []))  # type: ignore[arg-type]
        statuses = parse_map_options(options.pop("status", None) or [])  # type: ignore[arg-type]
        import_options = ImportOptions.model_validate(
            {**options, "mapping": mapping, "status_map": statuses}
        )
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]).replace("_", "-")
            message = str(error["msg"]).removeprefix("Value error, ")
            err_console.print(f"[red]{_t(lang, N_('Error'))}:[/red] --{where}: {message}")
        raise typer.Exit(EXIT_USAGE) from None
    except PatronError as exc:
        raise _fail(lang, describe_error(exc, lang), EXIT_USAGE) from None

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
        titles = {
            "reading": N_("Reading the file"),
            "sales": N_("Writing orders"),
            "returns": N_("Matching returns"),
            "rows": N_("Importing"),
        }

        def progress(*, stage: str, done: int, total: int, unit: str, rows: int) -> None:
            if stage not in tasks:
                title = _t(lang, titles.get(stage, stage))
                tasks[stage] = bar.add_task(title, total=total or None, detail="")
            if unit == "bytes":
                detail = _t(lang, N_("%(rows)s rows, %(done)s of %(total)s MB"), rows=f"{rows:,}",
                            done=f"{done / 1e6:,.1f}", total=f"{total / 1e6:,.1f}")  # fmt: skip
            else:
                detail = f"{done:,} / {total:,}"
            bar.update(tasks[stage], completed=done, total=total or None, detail=detail)

        try:
            summary = run_import(
                db=get_database(), kind=kind, path=path, options=import_options, progress=progress
            )
        except PatronError as exc:
            bar.stop()
            err_console.print(
                f"[red]{_t(lang, N_('Import failed'))}:[/red] {describe_error(exc, lang)}"
            )
            err_console.print(
                _t(lang, N_("Nothing more was written; fix the file or the options and run again."))
            )
            raise typer.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            bar.stop()
            err_console.print(
                _t(
                    lang,
                    N_("Interrupted. Run the same command again to carry on where it stopped."),
                )
            )
            raise typer.Exit(130) from None
        except OSError as exc:
            bar.stop()
            raise _fail(lang, f"{exc.strerror or exc}: {exc.filename or ''}", EXIT_FAILED) from None
        except Exception as exc:  # never a traceback on the user's screen
            bar.stop()
            log.exception("import of %s failed", path)
            err_console.print(
                f"[red]{_t(lang, N_('Import failed'))}:[/red] {type(exc).__name__}: {exc}"
            )
            err_console.print(
                _t(lang, N_("Run the same command again to carry on where it stopped."))
            )
            raise typer.Exit(EXIT_FAILED) from None
    print_summary(summary, lang)
    if summary.outcome == "unbalanced":
        raise typer.Exit(EXIT_UNBALANCED)


def print_summary(summary: ImportSummary, lang: str) -> None:
    if summary.outcome == "already_imported":
        console.print(
            _t(
                lang,
                N_(
                    "Already imported: %(file)s was imported completely by run %(run)s; "
                    "nothing was written. Use --force to read it again."
                ),
                file=summary.file_name,
                run=summary.run_id,
            )
        )
    elif summary.resumed_after_row:
        console.print(
            _t(
                lang,
                N_("Resumed run %(run)s; what it wrote before was kept."),
                run=summary.run_id,
            )
        )
    table = Table(
        title=_t(lang, N_("Import %(kind)s: %(file)s"), kind=summary.kind, file=summary.file_name),
        show_header=False,
    )
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row(_t(lang, N_("Read")), f"{summary.rows_read:,}")
    table.add_row(_t(lang, N_("Accepted")), f"[green]{summary.rows_accepted:,}[/green]")
    rejected = f"[red]{summary.rows_rejected:,}[/red]" if summary.rows_rejected else "0"
    table.add_row(_t(lang, N_("Rejected")), rejected)
    if summary.warnings:
        table.add_row(_t(lang, N_("With a warning")), f"{summary.warnings:,}")
    table.add_row(_t(lang, N_("Duplicates")), f"{summary.duplicates:,}")
    if summary.kind == "orders":
        table.add_row(_t(lang, N_("Refunds")), f"{summary.refunds:,}")
        table.add_row(
            _t(lang, N_("Returns without a known sale")), f"{summary.returns_without_sale:,}"
        )
        table.add_row(_t(lang, N_("No sale (cancelled)")), f"{summary.no_sale:,}")
        table.add_row(_t(lang, N_("Anonymous")), f"{summary.anonymous:,}")
    if summary.outcome != "already_imported":
        table.add_row(_t(lang, N_("Created")), f"{summary.created:,}")
        if summary.kind != "orders":
            table.add_row(_t(lang, N_("Updated")), f"{summary.updated:,}")
    table.add_row(_t(lang, N_("Time")), f"{summary.seconds:,.2f} s")
    if summary.rows_this_session:
        table.add_row(_t(lang, N_("Lines/s")), f"{summary.rows_per_second:,.0f}")
    console.print(table)
    if summary.header_row > 1:
        console.print(_t(lang, N_("The header is row %(row)s."), row=summary.header_row))
    if summary.ignored_columns:
        console.print(
            _t(
                lang,
                N_("Columns not used: %(columns)s"),
                columns=", ".join(summary.ignored_columns),
            )
        )
    for created in summary.created_stores:
        console.print(_t(lang, N_("Store created: %(store)s"), store=created))
    for problem in summary.unknown_stores:
        console.print(
            "[red]"
            + _t(
                lang,
                N_(
                    "No store %(store)s in Patron: its %(rows)s rows were rejected. Add it "
                    "(patron stores add) or import again with --create-stores."
                ),
                store=problem.store,
                rows=f"{problem.rows:,}",
            )
            + "[/red]"
        )
    if summary.reconciliation is not None:
        print_reconciliation(summary.reconciliation, lang)
    if summary.report_path:
        console.print(
            _t(lang, N_("Rejected rows and warnings, with why: %(path)s"), path=summary.report_path)
        )


def print_reconciliation(rec: Reconciliation, lang: str, *, days: int = 31) -> None:
    table = Table(title=_t(lang, N_("Reconciliation (%(currency)s)"), currency=rec.currency))
    for title in (
        N_("Day / store"),
        N_("File: rows"),
        N_("File: net"),
        N_("Rejected"),
        N_("Already in Patron"),
        N_("Patron holds"),
        N_("Difference"),
    ):
        table.add_column(_t(lang, title), justify="right")
    lines = [rec.total, *rec.by_store, *rec.by_day[:days]]
    for n, line in enumerate(lines):
        label = line.label if line.label != line.key else ""
        name = _t(lang, N_("Whole file")) if n == 0 else f"{line.key} {label}".strip()
        diff = format_fen(line.difference_fen)
        if line.difference_fen or line.difference_rows:
            diff = f"[red]{diff}[/red]"
        table.add_row(
            name,
            f"{line.file.rows:,}",
            format_fen(line.file.net_fen),
            format_fen(line.rejected.net_fen),
            format_fen(line.already_imported.net_fen),
            format_fen(line.patron.net_fen),
            diff,
        )
        if n in (0, len(rec.by_store)):
            table.add_section()
    console.print(table)
    if len(rec.by_day) > days:
        console.print(
            _t(
                lang,
                N_("… and %(n)s more days (all of them on the console)."),
                n=len(rec.by_day) - days,
            )
        )
    for totals in rec.totals_rows:
        said = totals.get("says_fen")
        console.print(
            _t(
                lang,
                N_("The file's totals row %(row)s says %(says)s; its lines add up to %(lines)s."),
                row=totals["row"],
                says=format_fen(int(said)) if isinstance(said, int) else "-",
                lines=format_fen(int(totals["lines_add_up_to_fen"])),  # type: ignore[call-overload]
            )
        )
    if rec.balanced:
        console.print(
            "[green]"
            + _t(
                lang,
                N_("Balanced: every fen of the file is in Patron or in the rejects report."),
            )
            + "[/green]"
        )
    else:
        err_console.print(
            "[bold red]"
            + _t(
                lang,
                N_(
                    "NOT BALANCED: Patron holds a different amount from the file than the "
                    "rejected rows explain. Some rows were lost without a reason; keep the file "
                    "and the report and tell the developers."
                ),
            )
            + "[/bold red]"
        )


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
    lang: LangOpt = "zh",
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
                lang=lang,
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
    lang: LangOpt = "zh",
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
                lang=lang,
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
        str | None, typer.Option(help="Store (code or name) for rows that name none")
    ] = None,
    create_stores: Annotated[
        bool,
        typer.Option("--create-stores", help="Make the stores the file names that Patron lacks"),
    ] = False,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="WORD=MEANING for a status the table does not know: completed, refunded, "
            "partly_refunded or cancelled (repeatable)",
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(help="The file's currency (e.g. GBP) when it is not the shop's: confirms it"),
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
    lang: LangOpt = "zh",
) -> None:
    """Orders, one row per line item, in any order; returns become refunds."""
    _run(
        "orders",
        path,
        {
            "map": map_,
            "mapping_file": mapping_file,
            "status": status,
            **_options(
                source=source,
                store_code=store,
                create_stores=create_stores,
                currency=currency,
                cancel_pattern=cancel_pattern,
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                day_first=day_first,
                batch_rows=batch_rows,
                report_path=report,
                force=force,
                lang=lang,
            ),
        },
    )
