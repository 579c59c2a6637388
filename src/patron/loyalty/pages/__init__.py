"""Console pages for loyalty, one module per screen: the customer 360 page's section
(``member``), the programme (``programme``), coupon templates and issuing (``coupons``),
promotions (``promotions``), lucky draws (``lotteries``), gifts for points (``gifts``),
member offers (``offers``), early access and birthday coupons (``early_access``) and the
till check (``till``). The application mounts
:data:`router` and calls :func:`register_sections` at start-up.
"""

from __future__ import annotations

from fastapi import APIRouter

from patron.loyalty.pages import (
    coupons,
    early_access,
    gifts,
    lotteries,
    member,
    offers,
    programme,
    promotions,
    till,
)
from patron.loyalty.pages.member import register_sections

router = APIRouter(include_in_schema=False)
for _screen in (
    member,
    programme,
    coupons,
    promotions,
    lotteries,
    gifts,
    offers,
    early_access,
    till,
):
    router.routes.extend(_screen.router.routes)

__all__ = ["register_sections", "router"]
