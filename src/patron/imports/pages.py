"""The console's import page (导入数据): upload, preview and map, run in the background with a
true progress bar, then the summary, the reconciliation and the rejects report.

Administrators and chain managers only (``imports.run``); every upload, start, saved mapping
and report download is audited. The file is streamed to disk as it arrives (``/static/
imports.js`` sends it as the request body), and refused past ``PATRON_IMPORT_MAX_MB``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.settings import get_settings
from patron.imports import files, runs
from patron.imports import service as imports
from patron.imports.cells import format_fen
from patron.imports.columns import ALIASES, KINDS, label
from patron.imports.messages import describe_error
from patron.imports.schemas import ImportOptions, ImportSummary
from patron.web.deps import Db, PathId
from patron.web.i18n import N_, _, current_language
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

# The request's own cap (the route's body limit); the setting is checked while streaming.
UPLOAD_CAP_BYTES = 4 * 1024**3
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,32}$")
_SAFE_NAME = re.compile(r"[^\w.\-]+")
_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")

KIND_TITLES = {
    "orders": N_("Orders (sales lines)"),
    "customers": N_("Customers (members)"),
    "products": N_("Products"),
}
STAGE_TITLES = {
    "reading": N_("Reading the file"),
    "sales": N_("Writing orders"),
    "returns": N_("Matching returns"),
    "rows": N_("Importing"),
    "done": N_("Done"),
}
STATUS_TITLES = {
    "running": N_("running"),
    "completed": N_("completed"),
    "failed": N_("stopped"),
}
FIELD_TITLES = {
    "order_id": N_("Order id"),
    "sku": N_("SKU"),
    "product_name": N_("Product name"),
    "quantity": N_("Quantity"),
    "unit_price": N_("Unit price"),
    "amount": N_("Line amount"),
    "discount": N_("Line discount"),
    "order_discount": N_("Order discount"),
    "total": N_("Order total"),
    "ordered_at": N_("Order time"),
    "store_code": N_("Store (code or name)"),
    "store_name": N_("Store name"),
    "payment_method": N_("Payment method"),
    "channel": N_("Channel"),
    "status": N_("Order status"),
    "after_sale_status": N_("After-sale status"),
    "refund_amount": N_("Refund amount"),
    "refunded_at": N_("Refund time"),
    "original_order_id": N_("Original order id"),
    "country": N_("Country"),
    "province": N_("Province"),
    "cashier": N_("Cashier"),
    "currency": N_("Currency"),
    "phone": N_("Phone"),
    "member_card": N_("Member card"),
    "external_account": N_("Customer id"),
    "email": N_("E-mail"),
    "wechat_openid": N_("WeChat openid"),
    "wechat_unionid": N_("WeChat unionid"),
    "wechat_appid": N_("WeChat appid"),
    "customer_name": N_("Customer name"),
    "name": N_("Name"),
    "gender": N_("Gender"),
    "city": N_("City"),
    "address": N_("Address"),
    "birthday": N_("Birthday"),
    "home_store_code": N_("Home store"),
    "signup_channel": N_("Sign-up channel"),
    "signed_up_at": N_("Signed up"),
    "tags": N_("Tags"),
    "category": N_("Category"),
    "category_1": N_("Category, level 1"),
    "category_2": N_("Category, level 2"),
    "category_3": N_("Category, level 3"),
    "brand": N_("Brand"),
    "list_price": N_("Price"),
    "shelf_life": N_("Shelf life"),
}


def _field_title(field: str) -> str:
    title = FIELD_TITLES.get(field)
    return _(title) if title else label(field)


# --------------------------------------------------------------------------- uploads


@dataclass(frozen=True, slots=True)
class Upload:
    token: str
    path: Path
    name: str
    kind: str
    size: int
    by: str


def _uploads() -> Path:
    return get_settings().data_dir / "imports" / "uploads"


def _upload(token: str) -> Upload:
    if not _TOKEN.fullmatch(token):
        raise NotFound("no such upload", token=token)
    folder = _uploads() / token
    meta = folder / "upload.json"
    if not meta.exists():
        raise NotFound("no such upload", token=token)
    data = json.loads(meta.read_text("utf-8"))
    return Upload(
        token=token,
        path=folder / data["file"],
        name=data["name"],
        kind=data["kind"],
        size=int(data["size"]),
        by=data.get("by", ""),
    )


class UploadTooLarge(InvalidInput):
    code = "upload_too_large"


@router.post("/imports/upload", max_body_size=UPLOAD_CAP_BYTES)
async def upload(request: Request, actor: CurrentActor, db: Db) -> Response:
    """The file as the request's body (``/static/imports.js`` sends it), written to disk as
    it arrives; answers where its preview is."""
    name = (request.query_params.get("name") or "upload.csv").strip()[:200]
    kind = request.query_params.get("kind") or "orders"
    if kind not in KINDS:
        return JSONResponse({"error": _("choose what the file holds")}, status_code=422)
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        return JSONResponse(
            {"error": _("only CSV and Excel (.xlsx) files can be imported")}, status_code=422
        )
    limit = int(get_settings().import_max_mb * 1024 * 1024)
    token = secrets.token_urlsafe(12)
    folder = _uploads() / token
    folder.mkdir(parents=True, exist_ok=True)
    stored = _SAFE_NAME.sub("_", Path(name).stem)[:80] + suffix
    target = folder / stored
    size = 0
    with target.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                out.close()
                for leftover in folder.iterdir():
                    leftover.unlink()
                folder.rmdir()
                message = _("the file is larger than %(mb)s MB", mb=f"{limit / 1024**2:g}")
                return JSONResponse({"error": message}, status_code=413)
            out.write(chunk)
    if size == 0:
        target.unlink()
        folder.rmdir()
        return JSONResponse({"error": _("the file is empty (0 bytes)")}, status_code=422)
    meta = {"name": name, "file": stored, "kind": kind, "size": size, "by": actor.name,
            "at": utcnow().isoformat()}  # fmt: skip
    (folder / "upload.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    await run_in_threadpool(
        db.write,
        lambda s: record_audit(
            session=s,
            actor=actor,
            action="import.upload",
            target_kind="import_upload",
            target_id=token,
            details={"file": name, "bytes": size, "kind": kind},
        ),
    )
    return JSONResponse({"next": f"/imports/uploads/{token}"}, status_code=201)


# ------------------------------------------------------------------------------ pages


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    recent = db.read(lambda s: runs.list_runs(session=s, limit=20))
    return TEMPLATES.TemplateResponse(
        request,
        "imports/index.html",
        {
            "actor": actor,
            "kinds": KIND_TITLES,
            "recent": recent,
            "max_mb": get_settings().import_max_mb,
            "stage_titles": STAGE_TITLES,
            "status_titles": STATUS_TITLES,
        },
    )


def _options(
    upload: Upload, form: dict[str, str], *, mapping: dict[str, str] | None = None
) -> ImportOptions:
    data: dict[str, Any] = {"lang": current_language().code}
    if mapping is not None:
        data["mapping"] = mapping
    if form.get("sheet"):
        data["sheet"] = form["sheet"]
    if form.get("store_code"):
        data["store_code"] = form["store_code"]
    if form.get("create_stores"):
        data["create_stores"] = True
    if form.get("currency") and form["currency"] != get_settings().currency:
        data["currency"] = form["currency"]
    if form.get("day_first"):
        data["day_first"] = True
    return ImportOptions.model_validate(data)


def _preview_page(
    request: Request,
    actor: Actor,
    db: Database,
    upload: Upload,
    *,
    kind: str,
    form: dict[str, str],
    mapping: dict[str, str] | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    saved = db.read(lambda s: runs.saved_mappings(session=s, kind=kind))
    context: dict[str, Any] = {
        "actor": actor,
        "upload": upload,
        "kind": kind,
        "kinds": KIND_TITLES,
        "form": form,
        "saved": saved,
        "error": error,
        "shop_currency": get_settings().currency,
        "stores": db.read(lambda s: catalog.list_stores(session=s)),
        "field_title": _field_title,
    }
    try:
        preview = files.preview(
            path=upload.path, kind=kind, options=_options(upload, form, mapping=mapping)
        )
    except (PatronError, ValidationError) as exc:
        message = describe_error(exc, current_language().code) if isinstance(
            exc, PatronError
        ) else str(exc)  # fmt: skip
        context["error"] = message
        context["preview"] = None
        return TEMPLATES.TemplateResponse(request, "imports/preview.html", context, status_code=422)
    context["preview"] = preview
    if preview.problem is not None and not context["error"]:
        context["error"] = describe_error(preview.problem, current_language().code)
    context["fields"] = list(ALIASES[kind])
    context["required"] = {t for req in files.required_fields(kind) for t in req}
    return TEMPLATES.TemplateResponse(request, "imports/preview.html", context, status_code=status)


@router.get("/imports/uploads/{token}", response_class=HTMLResponse)
def preview_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    token: str,
    kind: str | None = None,
    sheet: str | None = None,
    mapping: str | None = None,
) -> Response:
    """The top of the file, how each column would be used, and the choices to make."""
    found = _upload(token)
    kind = kind if kind in KINDS else found.kind
    chosen = None
    if mapping:
        chosen = db.read(lambda s: runs.saved_mappings(session=s, kind=kind)).get(mapping)
    form = {"sheet": sheet or "", "mapping_name": mapping or ""}
    return _preview_page(request, actor, db, found, kind=kind, form=form, mapping=chosen)


@router.post("/imports/uploads/{token}", response_class=HTMLResponse)
async def start_import(request: Request, actor: CurrentActor, db: Db, token: str) -> Response:
    """Start the import in the background with the mapping and choices of the form."""
    found = _upload(token)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    kind = form.get("kind") if form.get("kind") in KINDS else found.kind
    mapping = {
        field.removeprefix("map_"): column
        for field, column in form.items()
        if field.startswith("map_") and column
    }
    assert kind is not None
    try:
        options = _options(found, form, mapping=mapping)
    except ValidationError as exc:
        error = str(exc.errors()[0].get("msg", exc)).removeprefix("Value error, ")
        return _preview_page(
            request, actor, db, found, kind=kind, form=form, mapping=mapping, error=error,
            status=422,
        )  # fmt: skip
    name = form.get("mapping_name", "").strip()[:80]
    if form.get("save_mapping") and name and mapping:
        await run_in_threadpool(
            db.write, lambda s: _save_mapping(s, actor, kind=kind, name=name, columns=mapping)
        )
    started = await run_in_threadpool(_start_in_background, db, actor, found, kind, options)
    if isinstance(started, str):
        return _preview_page(
            request, actor, db, found, kind=kind, form=form, mapping=mapping, error=started,
            status=422,
        )  # fmt: skip
    return RedirectResponse(f"/imports/runs/{started}", status_code=303)


def _save_mapping(
    session: Any, actor: Actor, *, kind: str, name: str, columns: dict[str, str]
) -> None:
    runs.save_mapping(session=session, kind=kind, name=name, columns=columns, saved_by=actor.name)
    record_audit(
        session=session,
        actor=actor,
        action="import.mapping_saved",
        target_kind="import_mapping",
        target_id=name,
        details={"kind": kind, "columns": columns},
    )


def _start_in_background(
    db: Database, actor: Actor, upload: Upload, kind: str, options: ImportOptions
) -> int | str:
    """The import's run id once it has started (a thread carries it on), or why it cannot
    start (missing columns, another currency, an unreadable file) in the page's language."""
    started = threading.Event()
    outcome: dict[str, Any] = {}
    lang = current_language().code

    def on_start(run_id: int) -> None:
        outcome["run_id"] = run_id
        db.write(
            lambda s: record_audit(
                session=s,
                actor=actor,
                action="import.start",
                target_kind="import_run",
                target_id=run_id,
                details={
                    "file": upload.name,
                    "kind": kind,
                    "options": options.model_dump(mode="json"),
                },
            )
        )
        started.set()

    def work() -> None:
        try:
            imports.run_import(
                db=db,
                kind=kind,
                path=upload.path,
                options=options,
                started_by=actor.name,
                report_folder=upload.path.parent,
                store_scope=actor.store_ids,
                on_start=on_start,
            )
        except PatronError as exc:
            outcome["error"] = describe_error(exc, lang)
        except Exception as exc:  # recorded on the run; the page shows it
            log.exception("import of upload %s failed", upload.token)
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            started.set()

    thread = threading.Thread(target=work, name=f"import-{upload.token}", daemon=True)
    thread.start()
    started.wait(timeout=120)
    if "run_id" in outcome:
        return int(outcome["run_id"])
    return str(outcome.get("error") or _("the import did not start; try again"))


# ------------------------------------------------------------------------------ a run


def _run_context(db: Database, actor: Actor, run_id: int) -> dict[str, Any]:
    run = db.read(lambda s: runs.get_run_or_raise(session=s, run_id=run_id))
    summary = None
    if run.status == "completed" and run.outcome and "run_id" in run.outcome:
        summary = ImportSummary.model_validate(run.outcome)
    done, total = run.units_done or 0, run.units_total or 0
    percent = int(100 * done / total) if total else 0
    return {
        "actor": actor,
        "run": run,
        "summary": summary,
        "percent": min(percent, 100),
        "stage_title": _(STAGE_TITLES.get(run.stage or "rows", "Importing")),
        "yuan": format_fen,
    }


@router.get("/imports/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, actor: CurrentActor, db: Db, run_id: PathId) -> Response:
    return TEMPLATES.TemplateResponse(request, "imports/run.html", _run_context(db, actor, run_id))


@router.get("/imports/runs/{run_id}/progress", response_class=HTMLResponse)
def run_progress(request: Request, actor: CurrentActor, db: Db, run_id: PathId) -> Response:
    """The progress bar (polled while the run goes), then its outcome."""
    return TEMPLATES.TemplateResponse(
        request, "imports/_progress.html", _run_context(db, actor, run_id)
    )


@router.get("/imports/runs/{run_id}/report")
def run_report(request: Request, actor: CurrentActor, db: Db, run_id: PathId) -> Response:
    run = db.read(lambda s: runs.get_run_or_raise(session=s, run_id=run_id))
    if not run.report_path or not Path(run.report_path).exists():
        raise NotFound("this run has no rejects report", run_id=run_id)
    db.write(
        lambda s: record_audit(
            session=s,
            actor=actor,
            action="import.report_downloaded",
            target_kind="import_run",
            target_id=run_id,
        )
    )
    path = Path(run.report_path)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name)
