"""The service console: ticket inbox and page, the SLA report and policies, survey results
and builder, the public survey page, and the customer 360 page's section (one module per
screen)."""

from fastapi import APIRouter

from patron.support.pages import builder, policies, public, reports, tickets

router = APIRouter(include_in_schema=False)
for _module in (tickets, builder, policies, reports, public):
    router.routes.extend(_module.router.routes)

__all__ = ["router"]
