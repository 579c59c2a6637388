"""What a console form says about bad input: the field by its label, the reason in the
page's language. Schemas and services speak English with field names (the API's words);
the pages put them in the shop's words here.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from patron.web.errors import validation_items
from patron.web.i18n import N_, _

# What a form says for the usual kinds of bad input (pydantic's own words otherwise).
ERROR_TYPES = {
    "missing": N_("required"),
    "string_too_long": N_("too long"),
    "greater_than": N_("too small"),
    "greater_than_equal": N_("too small"),
    "less_than": N_("too large"),
    "less_than_equal": N_("too large"),
    "int_parsing": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "decimal_parsing": N_("not a number"),
    "enum": N_("choose one of the options"),
    "literal_error": N_("choose one of the options"),
    "datetime_parsing": N_("not a date and time"),
    "datetime_from_date_parsing": N_("not a date and time"),
    "too_long": N_("too many"),
}

# Form fields by the label the page shows them under.
FIELD_LABELS = {
    "username": N_("Username"),
    "display_name": N_("Name"),
    "password": N_("Password"),
    "new_password": N_("New password"),
    "current_password": N_("Current password"),
    "role": N_("Role"),
    "store_codes": N_("Stores"),
    "is_active": N_("Active"),
    "code": N_("Code"),
    "city": N_("City"),
    "kind": N_("Kind"),
    "timezone": N_("Time zone"),
    "channel": N_("Channel"),
    "note": N_("Note"),
    "reason": N_("Reason"),
}

# Service messages that carry a value, as (pattern, translatable message with the value).
_WITH_VALUES = (
    (
        re.compile(r"must be at least (?P<n>\d+) characters"),
        N_("must be at least %(n)s characters"),
    ),
    (re.compile(r"no store with code '(?P<code>[^']*)'"), N_("no store with code %(code)s")),
    (re.compile(r"unknown time zone '(?P<zone>[^']*)'"), N_("unknown time zone %(zone)s")),
    (re.compile(r"username '(?P<name>[^']*)' is taken"), N_("%(name)s is taken")),
)
# Service messages without values, so that they are translated.
RULE_MESSAGES = (
    N_("must mix letters with digits or symbols"),
    N_("is not the current password"),
    N_("is before the first day"),
)


# A text box's pattern that only forbids spaces around the text (core.schemas.ShortCode).
_TRIMMED = r"^\S(.*\S)?$"


def _type_text(kind: str, ctx: dict[str, Any]) -> str | None:
    """What a form says for one of pydantic's error kinds, using its limits; None: the
    schema's own words (a rule's message) are shown instead."""
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return _("required") if least <= 1 else _("at least %(n)s characters", n=least)
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == _TRIMMED:
            return _("no spaces at the start or the end")
        return _("holds characters that are not allowed here")
    return _(ERROR_TYPES[kind]) if kind in ERROR_TYPES else None


def reason_text(message: str) -> str:
    """A schema's or service's reason in the page's language (as given when unknown)."""
    message = message.removeprefix("Value error, ")
    for pattern, template in _WITH_VALUES:
        found = pattern.fullmatch(message)
        if found:
            return _(template, **found.groupdict())
    return _(message)


def label(field: str, labels: dict[str, str] | None = None) -> str:
    """A field's label in the page's language; ``labels`` names the page's own fields."""
    title = (labels or {}).get(field) or FIELD_LABELS.get(field)
    return _(title) if title else field


def field_errors(
    exc: ValidationError, rename: dict[str, str] | None = None, *, keep_index: bool = False
) -> dict[str, str]:
    """A schema's errors as {form field: translated message}, the first per field.

    An error in one item of a list typed into one box (``store_codes.2``) is shown at the
    box; ``keep_index`` keeps the item's number (a lottery's prize rows).
    """
    rename = rename or {}
    errors: dict[str, str] = {}
    raw = exc.errors()
    for item, error in zip(validation_items(raw), raw, strict=True):
        field = str(item["field"]) or "form"
        for schema_name, form_name in rename.items():
            if field == schema_name or field.startswith(schema_name + "."):
                field = form_name + field[len(schema_name) :]
                break
        if not keep_index:
            field = re.sub(r"\.\d+(\..*)?$", "", field)
        text = _type_text(str(item["type"]), dict(error.get("ctx") or {}))
        errors.setdefault(field, text if text is not None else reason_text(str(item["msg"])))
    return errors


def form_error(field: str, message: str, labels: dict[str, str] | None = None) -> str:
    """One line for the top of a form: "Label: reason", in the page's language."""
    reason = reason_text(message.split(": ", 1)[-1] if message.startswith(field + ":") else message)
    return f"{label(field, labels)}: {reason}" if field else reason


def first_error(exc: ValidationError, labels: dict[str, str] | None = None) -> str:
    """A schema's first error as one line for the top of a form."""
    field, message = next(iter(field_errors(exc).items()), ("", _("invalid")))
    return form_error("" if field == "form" else field, message, labels)
