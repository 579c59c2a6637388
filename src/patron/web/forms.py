"""Reading a console form, and what it says about bad input: the field by its label, the
reason in the page's language, from the error's code (web/messages.py).

The parsers read boxes as people type them (yuan with "¥" and thousands commas, "×1.5",
"12.5%", codes separated by commas or 、) and raise :class:`FormError`, which carries a
message code like every other error; the pages catch it with the services' errors.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from patron.core.errors import InvalidInput, PatronError
from patron.web.errors import validation_items
from patron.web.i18n import N_, _
from patron.web.messages import message_for, message_text

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

# A text box's pattern that only forbids spaces around the text (core.schemas.ShortCode).
_TRIMMED = r"^\S(.*\S)?$"


class FormError(InvalidInput):
    """One form box that cannot be read: its field, the message's code and its facts."""

    code = "invalid"

    def __init__(self, field: str, message_code: str, **facts: Any) -> None:
        super().__init__(field, message_code, message_code=message_code, **facts)


# ------------------------------------------------------------------------------- parsers


def split_codes(text: str) -> list[str]:
    """Codes typed as "A01, A02" (commas, spaces, 、 or new lines between them)."""
    return [c for c in re.split(r"[\s,，、;；]+", text.strip()) if c]


def split_names(text: str) -> list[str]:
    """Categories or SKUs typed as "生鲜/水果, Fresh Food" (commas, 、, semicolons or new
    lines between them; a name may hold spaces)."""
    return [n.strip() for n in re.split(r"[,，、;；\n]+", text) if n.strip()]


def parse_fen(text: str, field: str, *, required: bool = False) -> int | None:
    """Yuan as typed ("20", "12.50", "¥1,000") → fen; empty → None."""
    clean = text.strip().replace(",", "").replace("，", "").lstrip("¥￥")
    if not clean:
        if required:
            raise FormError(field, "required")
        return None
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise FormError(field, "not_yuan") from None
    if not value.is_finite() or value < 0 or value * 100 % 1:
        raise FormError(field, "not_yuan")
    return int(value * 100)


def parse_int(text: str, field: str) -> int | None:
    """A whole number as typed ("1,000"); empty → None."""
    clean = text.strip().replace(",", "")
    if not clean:
        return None
    if not re.fullmatch(r"[+-]?\d{1,15}", clean):
        raise FormError(field, "not_whole_number")
    return int(clean)


def parse_required_int(text: str, field: str) -> int:
    value = parse_int(text, field)
    if value is None:
        raise FormError(field, "required")
    return value


def parse_decimal(text: str, field: str) -> Decimal | None:
    clean = text.strip()
    if not clean:
        return None
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise FormError(field, "not_number") from None
    if not value.is_finite():
        raise FormError(field, "not_number")
    return value


_DECIMALS = {100: "decimals_2", 10_000: "decimals_4"}


def parse_scaled(text: str, field: str, per_unit: int) -> int | None:
    """A number as typed ("1.5", "×2", "12.5%") in whole ``per_unit``ths: basis points of a
    multiplier (10,000) or of a percentage (100), millionths of a chance typed in percent
    (10,000); empty → None."""
    value = parse_decimal(text.strip().lstrip("×xX").rstrip("%"), field)
    if value is None:
        return None
    scaled = value * per_unit
    if scaled % 1:
        raise FormError(field, _DECIMALS[per_unit])
    return int(scaled)


def local_time(text: str) -> str | None:
    """A datetime-local box's value (shop time); the schema reads it in the shop's zone."""
    return text.strip() or None


# ------------------------------------------------------------------------------ messages


def label(field: str, labels: dict[str, str] | None = None) -> str:
    """A field's label in the page's language; ``labels`` names the page's own fields."""
    title = (labels or {}).get(field) or FIELD_LABELS.get(field)
    return _(title) if title else field


def _type_text(kind: str, ctx: dict[str, Any]) -> str | None:
    """What a form says for one of pydantic's error kinds or a schema rule's code, using
    its limits and facts; None for a kind the table does not hold."""
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return _("required") if least <= 1 else message_text("too_short", n=least)
    if kind == "too_short":  # a list with too few items: pydantic's kind for strings differs
        least = int(ctx.get("min_length", 1))
        return _("required") if least <= 1 else message_text("too_few", n=least)
    if kind == "string_pattern_mismatch":
        return message_text("untrimmed" if ctx.get("pattern") == _TRIMMED else "bad_characters")
    return message_text(kind, **ctx)


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
        # pydantic's own words for a kind the table lacks (a library's message, not ours)
        errors.setdefault(field, text if text is not None else _(str(item["msg"])))
    return errors


def error_field(exc: PatronError, default: str = "form") -> str:
    """The form field an error is about: the one it names, else ``default``."""
    field = exc.facts.get("field")
    return str(field) if field else default


def form_error(field: str, reason: str, labels: dict[str, str] | None = None) -> str:
    """One line for the top of a form: "Label: reason" (``reason`` already translated)."""
    return f"{label(field, labels)}: {reason}" if field else reason


def error_line(exc: PatronError, labels: dict[str, str] | None = None) -> str:
    """A service's or form's error as one line for the top of a form."""
    return form_error(error_field(exc, ""), message_for(exc), labels)


def first_error(exc: ValidationError, labels: dict[str, str] | None = None) -> str:
    """A schema's first error as one line for the top of a form."""
    field, message = next(iter(field_errors(exc).items()), ("", _("invalid")))
    return form_error("" if field == "form" else field, message, labels)


def rows_errors(
    errors: dict[str, str],
    rows: list[dict[str, Any]],
    *,
    items: str,
    key: str,
    labels: dict[str, str] | None = None,
) -> dict[str, str]:
    """Errors named ``<items>.<n>.<field>`` (n counting the filled rows, those given an
    ``index``) moved to their form row, as ``<key>-<row>``: "<field's label>: <message>"."""
    filled = [i for i, r in enumerate(rows) if "index" in r]
    out: dict[str, str] = {}
    for field, message in errors.items():
        match = re.match(rf"^{items}\.(\d+)\.(\w+)", field)
        if match and int(match.group(1)) < len(filled):
            name = match.group(2)
            title = _(labels[name]) if labels and name in labels else name
            out.setdefault(f"{key}-{filled[int(match.group(1))]}", f"{title}: {message}")
        else:
            out.setdefault(field, message)
    return out
