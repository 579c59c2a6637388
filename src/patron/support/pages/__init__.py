"""The service console: ticket inbox and page, the SLA report, survey results, the public
survey page, and the customer 360 page's section (one module per screen)."""

from fastapi import APIRouter

from patron.support.pages import public, reports, tickets

router = APIRouter(include_in_schema=False)
for _module in (tickets, reports, public):
    router.routes.extend(_module.router.routes)

__all__ = ["router"]
