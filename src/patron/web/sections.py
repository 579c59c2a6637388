"""Sections of the customer 360 page that other domains add.

The 360 page shows the profile, identities, tags, orders and interactions itself; every later
domain (loyalty, engagement, support, analytics scores …) adds its own section here rather
than editing the page::

    from patron.web.sections import register_customer_section

    register_customer_section(
        "loyalty", N_("Loyalty"), render_loyalty, Permission.LOYALTY_READ, order=10
    )

``render_fn(ctx)`` gets a :class:`SectionContext` (the read session, the customer as the
viewer may see it — masked —, the actor) and returns HTML, usually from its own template
under ``web/templates/sections/``. It reads through its domain's services and must not
write. A section whose permission the actor lacks is left out; one that raises is shown as
"could not be shown" and logged, so one broken section never takes the page down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.customers.schemas import CustomerRead

log = logging.getLogger("patron.web")


@dataclass(frozen=True, slots=True)
class SectionContext:
    session: Session
    customer: CustomerRead  # masked: what this viewer may see
    actor: Actor


RenderFn = Callable[[SectionContext], str]


@dataclass(frozen=True, slots=True)
class CustomerSection:
    name: str  # unique, also the HTML id: section-<name>
    title: str  # English msgid, translated when shown
    render: RenderFn
    permission: str | None  # None: anyone who may open the 360 page
    order: int = 100


@dataclass(frozen=True, slots=True)
class RenderedSection:
    name: str
    title: str
    html: Markup
    failed: bool = False


_sections: dict[str, CustomerSection] = {}
_lock = threading.Lock()


def register_customer_section(
    name: str,
    title: str,
    render_fn: RenderFn,
    permission: str | None = None,
    *,
    order: int = 100,
) -> None:
    """Add (or replace, by ``name``) a section of the customer 360 page."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"section name {name!r}: use letters, digits, '-' and '_'")
    with _lock:
        _sections[name] = CustomerSection(name, title, render_fn, permission, order)


def unregister_customer_section(name: str) -> None:
    with _lock:
        _sections.pop(name, None)


def customer_sections() -> list[CustomerSection]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def render_customer_sections(ctx: SectionContext) -> list[RenderedSection]:
    """Every section the actor may see, rendered, in order."""
    from patron.web.i18n import gettext

    rendered = []
    for section in customer_sections():
        if section.permission is not None and not ctx.actor.can(section.permission):
            continue
        try:
            # a savepoint: a section whose query fails leaves the page's transaction usable
            with ctx.session.begin_nested():
                html = Markup(section.render(ctx))
            failed = False
        except Exception:
            log.exception(
                "customer section %s failed for customer %s", section.name, ctx.customer.id
            )
            html = Markup("")
            failed = True
        rendered.append(RenderedSection(section.name, gettext(section.title), html, failed))
    return rendered
