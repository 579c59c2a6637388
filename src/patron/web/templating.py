"""The console's Jinja2 templates: translations, formatting filters and the navigation.

Every template gets, besides what its page passes:

- ``_``/``gettext``/``ngettext`` and ``{% trans %}`` in the request's language (web/i18n.py);
- ``lang`` (the current :class:`~patron.web.i18n.Language`) and ``languages`` for the menu;
- ``nav``: the console's sections the signed-in actor may use, and ``current_path``;
- ``role_label(role)``: a role's name in the current language;
- filters ``fen`` (¥1,234.50), ``local_dt``/``local_date`` (shown in the shop's zone),
  ``channel_name`` (a sign-up channel code in the page's language).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from patron.core.actor import Actor
from patron.core.money import format_fen
from patron.core.settings import get_settings
from patron.staff.roles import ROLE_LABELS, Role
from patron.staff.roles import Permission as P
from patron.web import i18n
from patron.web.i18n import N_
from patron.web.titles import CHANNEL_TITLES, SIGNUP_CHANNEL_TITLES


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    title: str  # English msgid, translated when shown
    permission: str | None  # None: every signed-in actor


# The console's sections, in menu order. A link shows only to roles that may open it, so the
# menu and the permission table (web/permissions.py) say the same thing.
NAV: tuple[NavItem, ...] = (
    NavItem("/", N_("Dashboard"), None),
    NavItem("/customers", N_("Customers"), P.CUSTOMERS_READ),
    NavItem("/merge-suggestions", N_("Merge suggestions"), P.CUSTOMERS_MERGE),
    NavItem("/loyalty", N_("Loyalty (menu)"), P.LOYALTY_READ),
    NavItem("/analytics", N_("Analytics"), P.ANALYTICS_READ),
    NavItem("/audiences", N_("Audiences"), P.AUDIENCES_READ),
    NavItem("/campaigns", N_("Campaigns"), P.CAMPAIGNS_READ),
    NavItem("/journeys", N_("Journeys"), P.CAMPAIGNS_READ),
    NavItem("/tasks", N_("Tasks"), P.CUSTOMERS_READ),
    NavItem("/tickets", N_("After-sales service"), P.TICKETS_READ),
    NavItem("/surveys", N_("Surveys"), P.SURVEYS_READ),
    NavItem("/stores", N_("Stores"), P.STORES_READ),
    NavItem("/imports", N_("Import data"), P.IMPORTS_RUN),
    NavItem("/staff", N_("Staff and roles"), P.STAFF_MANAGE),
    NavItem("/audit", N_("Audit log"), P.AUDIT_READ),
    NavItem("/privacy", N_("Privacy"), P.PRIVACY_MANAGE),
    NavItem("/events", N_("Events"), P.EVENTS_READ),
    NavItem("/webhooks", N_("Webhooks"), P.WEBHOOKS_MANAGE),
)


def nav_for(actor: Actor | None) -> list[NavItem]:
    if actor is None:
        return []
    return [item for item in NAV if item.permission is None or actor.can(item.permission)]


def role_label(role: str | None) -> str:
    """``cashier`` → 收银员 or Cashier, by the current language."""
    if not role:
        return ""
    try:
        zh, en = ROLE_LABELS[Role(role)]
    except ValueError:
        return role
    return en if i18n.current_language().code == "en" else zh


def fen(value: int | None) -> str:
    """Minor units with the shop's currency sign (PATRON_CURRENCY): 123450 → ¥1,234.50
    (negative: -¥12.00); £1,234.50 for a shop in pounds."""
    if value is None:
        return ""
    return format_fen(int(value), get_settings().currency)


def quantity(value: Decimal | int | None) -> str:
    """1.000 → 1, 0.455 → 0.455, 10 → 10."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def local_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(get_settings().zone).strftime(fmt)


def local_date(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_dt(value, "%Y-%m-%d")
    return value.isoformat()


def channel_name(code: str | None) -> str:
    return i18n.title_of(SIGNUP_CHANNEL_TITLES, code)


def _context(request: Request) -> dict[str, Any]:
    actor: Actor | None = getattr(request.state, "actor", None) or getattr(
        request.state, "known_actor", None
    )
    return {
        "lang": i18n.current_language(),
        "languages": i18n.LANGUAGES,
        "nav": nav_for(actor),
        "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "role_label": role_label,
    }


def _jinja_gettext(message: str) -> str:
    # Jinja's "newstyle" wrapper fills %(name)s itself; hand it the bare translation.
    return i18n.load_catalogue(i18n.current_language().locale).gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.load_catalogue(i18n.current_language().locale).ngettext(singular, plural, n)


TEMPLATES = Jinja2Templates(
    directory=str(Path(__file__).parent / "templates"), context_processors=[_context]
)
TEMPLATES.env.add_extension("jinja2.ext.i18n")
TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]
    _jinja_gettext, _jinja_ngettext, newstyle=True
)
TEMPLATES.env.filters["fen"] = fen
TEMPLATES.env.filters["local_dt"] = local_dt
TEMPLATES.env.filters["quantity"] = quantity
TEMPLATES.env.globals["channel_titles"] = CHANNEL_TITLES
TEMPLATES.env.filters["local_date"] = local_date
TEMPLATES.env.filters["channel_name"] = channel_name
TEMPLATES.env.globals["role_label"] = role_label
