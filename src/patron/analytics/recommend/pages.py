"""The recommendations section of the customer 360 page: the member's next-basket list from
the latest nightly run, each item with its product name, score and reason."""

from __future__ import annotations

from patron.analytics import serving
from patron.staff.roles import Permission as P
from patron.web import i18n
from patron.web.i18n import N_
from patron.web.sections import SectionContext, register_customer_section
from patron.web.templating import TEMPLATES

SHOWN = 10
REASON_TITLES = {
    "due": N_("Due again"),
    "repeat": N_("Bought before"),
    "similar": N_("Similar members buy it"),
    "rule": N_("Goes with what they buy"),
    "popular": N_("Popular"),
}


def render_recommendations_section(ctx: SectionContext) -> str:
    """The list as the API serves it (the page checked the customer's store already)."""
    found = serving.customer_recommendations(
        session=ctx.session, customer_id=ctx.customer.id, store_ids=ctx.actor.store_ids,
        limit=SHOWN,
    )  # fmt: skip
    context = {
        "found": found,
        "reason_title": lambda code: i18n.title_of(REASON_TITLES, code),
    }
    return TEMPLATES.get_template("sections/recommendations.html").render(context)


def register_sections() -> None:
    """Add the section for every role that may read customers (as the API does)."""
    register_customer_section(
        "recommendations",
        N_("Recommendations"),
        render_recommendations_section,
        P.CUSTOMERS_READ,
        order=25,
    )
