"""The FastAPI application: JSON API under /api/v1, OpenAPI at /docs, the console at /."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

import patron
from patron.audit import api as audit_api
from patron.catalog import api as catalog_api
from patron.catalog import service as catalog
from patron.core.db import Database, get_database
from patron.core.settings import get_settings
from patron.customers import api as customers_api
from patron.customers import service as customers
from patron.loyalty import api as loyalty_api
from patron.orders import api as orders_api
from patron.orders import service as orders
from patron.staff import api as staff_api
from patron.staff import pages as staff_pages
from patron.web.errors import install_error_handlers
from patron.web.security import CurrentActor, SecurityHeaders, authorize
from patron.web.templating import TEMPLATES

# Every router the application serves, each carrying its full paths (no prefix is added here).
ROUTERS: tuple[APIRouter, ...] = (
    customers_api.router,
    orders_api.router,
    catalog_api.router,
    loyalty_api.router,
    staff_api.router,
    audit_api.router,
    staff_pages.router,
)


def create_app(db: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="Patron",
        version=patron.__version__,
        description="Retail customer management: customers, orders and refunds from every channel.",
        docs_url="/docs",
        redoc_url=None,
        # Every route passes the permission table (patron.web.permissions) first.
        dependencies=[Depends(authorize)],
        max_body_size=int(get_settings().max_request_mb * 1024 * 1024),
    )
    app.state.db = db or get_database()
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, actor: CurrentActor) -> HTMLResponse:
        figures = app.state.db.read(_landing_figures)
        return TEMPLATES.TemplateResponse(
            request, "home.html", {"figures": figures, "actor": actor}
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the application answers, HEAD left out."""
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    routes += [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    return sorted({(m, r.path) for r in routes for m in (r.methods or set()) - {"HEAD"}})


def _landing_figures(session: Session) -> dict[str, object]:
    return {
        "stores": catalog.list_stores(session=session),
        "customers": customers.count_customers(session=session),
        "orders": orders.count_orders(session=session),
    }
