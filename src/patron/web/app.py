"""The FastAPI application: JSON API under /api/v1, OpenAPI at /docs, the console at /."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import configure_mappers

import patron
from patron.analytics import api as analytics_api
from patron.analytics import pages as analytics_pages
from patron.analytics.basket import pages as basket_pages
from patron.analytics.churn import api as churn_api
from patron.analytics.recommend import pages as recommend_pages
from patron.audiences import api as audiences_api
from patron.audiences import pages as audiences_pages
from patron.audit import api as audit_api
from patron.audit import pages as audit_pages
from patron.campaigns import api as campaigns_api
from patron.campaigns import pages as campaigns_pages
from patron.catalog import api as catalog_api
from patron.catalog import pages as catalog_pages
from patron.consent import api as consent_api
from patron.consent import pages as consent_pages
from patron.core.collector import settle_process
from patron.core.db import Database, get_database
from patron.core.logs import install_log_redaction
from patron.core.settings import get_settings
from patron.customers import api as customers_api
from patron.customers import pages as customers_pages
from patron.events import api as events_api
from patron.events import pages as events_pages
from patron.imports import pages as imports_pages
from patron.journeys import pages as journeys_pages
from patron.loyalty import api as loyalty_api
from patron.loyalty import pages as loyalty_pages
from patron.orders import api as orders_api
from patron.privacy import api as privacy_api
from patron.privacy import pages as privacy_pages
from patron.staff import api as staff_api
from patron.staff import pages as staff_pages
from patron.support import api as support_api
from patron.support import pages as support_pages
from patron.web import operations
from patron.web import pages as console_pages
from patron.web.errors import install_error_handlers
from patron.web.i18n import LocaleMiddleware
from patron.web.security import SecurityHeaders, authorize

STATIC_DIR = Path(__file__).parent / "static"

# Every router the application serves, each carrying its full paths (no prefix is added here).
# A request is matched against the routes one by one, a few microseconds each, so the
# busiest go first: the tills' order posts (four routes, no path shared with another
# router), then their look-up, quote, commit and refund, which lead the loyalty router.
ROUTERS: tuple[APIRouter, ...] = (
    orders_api.router,
    loyalty_api.router,
    customers_api.router,
    catalog_api.router,
    staff_api.router,
    audit_api.router,
    analytics_api.router,
    staff_pages.router,
    # the staff console (the dashboard at "/" replaces the old landing page)
    console_pages.router,
    customers_pages.router,
    catalog_pages.router,
    audit_pages.router,
    loyalty_pages.router,  # the loyalty console pages
    churn_api.router,  # churn risk: at-risk list, model report, a customer's risk
    analytics_pages.router,  # the analytics console pages (and the 360 page's section)
    imports_pages.router,  # the import page (导入数据)
    consent_api.router,  # consent: the API, one-click unsubscribe, SMS reply callbacks
    consent_pages.router,  # consent on the customer 360 page
    campaigns_api.router,  # templates, campaigns, their results; the open pixel and clicks
    campaigns_pages.router,  # the campaigns console
    journeys_pages.router,  # journeys, their figures and editor; the staff task inbox
    audiences_api.router,  # saved segments, live counts, member exports
    audiences_pages.router,  # the audience list and builder (人群)
    basket_pages.router,  # the basket page (购物篮规则)
    support_api.router,  # service tickets, SLA and surveys
    support_pages.router,  # the service console and the public survey page
    operations.router,  # /metrics (behind PATRON_METRICS_TOKEN) and /readyz
    privacy_api.router,  # privacy: requests, access exports, register, retention
    privacy_pages.router,  # the privacy officer's pages and the public privacy notice
    events_api.router,  # behaviour events in, the stream, webhook subscriptions
    events_pages.router,  # the events and webhooks console (admins)
)


class _FlatRouter(APIRouter):
    """A router holding routes only, never an included router.

    FastAPI (0.165) checks on every request whether an included router's routes changed
    by walking all of them, twice per request (matching, then handling): some 700
    ``isinstance`` checks, a tenth of an order post's CPU. With no router inside, this
    router's own change counter is the whole answer (``add_api_route`` and the like still
    advance it).
    """

    def _get_routes_version(self, seen: set[int] | None = None) -> int:
        return self._routes_version

    def include_router(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a flat router takes routes, not routers")


def settle_heap() -> None:
    """Set everything built so far (modules, routes, the ORM's mappers) aside from the
    garbage collector, so a full collection walks only what requests made since.

    A full collection over the whole application took 40-80 ms, and a till's call waiting
    behind it showed it; after this one takes a few milliseconds. Objects set aside are still
    freed when nothing refers to them; only reference cycles among them stay until exit.
    """
    configure_mappers()
    settle_process()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the nightly analytics run with the server; stop it with the server. A serving
    process settles its heap first (not under tests, which start an app per test and would
    pay a full collection each time and keep every earlier test's cycles)."""
    from patron.campaigns.scheduler import start_scheduler
    from patron.engagement.embedded import start_dispatch
    from patron.jobs import start_nightly
    from patron.journeys.embedded import start_journeys

    if get_settings().env != "test":
        settle_heap()
    scheduler = start_nightly(app.state.db)
    dispatch = start_dispatch(app.state.db)  # customer messages, unless PATRON_DISPATCH says not
    journeys = start_journeys(app.state.db)  # unless PATRON_JOURNEYS says not
    campaigns = start_scheduler(app.state.db)  # due campaigns, unless PATRON_CAMPAIGN_SCHEDULER
    try:
        yield
    finally:
        if campaigns is not None:
            campaigns.stop()
        if journeys is not None:
            journeys.stop()
        if dispatch is not None:
            dispatch.stop()
        if scheduler is not None:
            scheduler.stop()


def create_app(db: Database | None = None) -> FastAPI:
    install_log_redaction()  # no phone or e-mail in any log line, access log included
    app = FastAPI(
        lifespan=_lifespan,
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
    app.add_middleware(LocaleMiddleware)  # the console's language, from its cookie
    if get_settings().metrics_token is not None:  # outermost: it times the whole answer
        app.add_middleware(operations.RequestMetrics)
    # Static files carry no data: mounted outside the permission table, like /healthz's kind.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    loyalty_pages.register_sections()  # the loyalty section of the customer 360 page
    recommend_pages.register_sections()  # recommendations on the customer 360 page
    install_error_handlers(app)

    # First, as load balancers call it often: matching walks the routes in order.
    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # One router holding every domain's routes (their paths, tags and dependencies are fixed
    # when each route is declared): FastAPI matches a request router by router, so one
    # included router instead of twenty keeps the per-request cost low.
    combined = _FlatRouter()
    for router in ROUTERS:
        combined.routes.extend(router.routes)
    app.include_router(combined)
    return app


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the application answers, HEAD left out."""
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    routes += [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    return sorted({(m, r.path) for r in routes for m in (r.methods or set()) - {"HEAD"}})
