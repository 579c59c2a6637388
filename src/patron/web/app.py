"""The FastAPI application: JSON API under /api/v1, OpenAPI at /docs, a landing page at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

import patron
from patron.catalog import api as catalog_api
from patron.catalog import service as catalog
from patron.core.db import Database, get_database
from patron.customers import api as customers_api
from patron.customers import service as customers
from patron.orders import api as orders_api
from patron.orders import service as orders
from patron.web.errors import install_error_handlers

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def create_app(db: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="Patron",
        version=patron.__version__,
        description="Retail customer management: customers, orders and refunds from every channel.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.db = db or get_database()
    install_error_handlers(app)
    app.include_router(customers_api.router)
    app.include_router(orders_api.router)
    app.include_router(catalog_api.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request) -> HTMLResponse:
        figures = app.state.db.read(_landing_figures)
        return TEMPLATES.TemplateResponse(request, "landing.html", {"figures": figures})

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _landing_figures(session: Session) -> dict[str, object]:
    return {
        "stores": catalog.list_stores(session=session),
        "customers": customers.count_customers(session=session),
        "orders": orders.count_orders(session=session),
    }
