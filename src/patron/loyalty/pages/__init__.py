"""Console pages for loyalty, one module per screen: the customer 360 page's section
(``member``), the programme (``programme``), coupon templates and issuing (``coupons``),
promotions (``promotions``) and lucky draws (``lotteries``). The application mounts
:data:`router` and calls :func:`register_sections` at start-up.
"""

from __future__ import annotations

from fastapi import APIRouter

from patron.loyalty.pages import coupons, lotteries, member, programme, promotions
from patron.loyalty.pages.member import register_sections

router = APIRouter(include_in_schema=False)
for _screen in (member, programme, coupons, promotions, lotteries):
    router.routes.extend(_screen.router.routes)

__all__ = ["register_sections", "router"]
