"""Contact identifiers: phones to E.164 (+86 by default), e-mail lower-cased."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_SEPARATORS = re.compile(r"[\s\-().·]")
# A mainland mobile in any of the usual spellings: 13800138000, +86 138-0013-8000, 0086…
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=65536)
def normalise_phone(text: str, region: str = "CN") -> str:
    """E.164 form of a phone number, e.g. ``+8613800138000``.

    Raises ValueError when the text is not a valid number for ``region`` (or, with a
    leading +, for its own country). The message never repeats the text: it is personal data.
    """
    raw = text.strip()
    compact = _SEPARATORS.sub("", raw)
    if region == "CN":
        m = _CN_MOBILE.match(compact)
        if m:
            return "+86" + m.group(1)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str:
    value = text.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("is not an e-mail address")
    return value


def mask_phone(e164: str) -> str:
    """``+8613800138000`` → ``138****8000``: what a cashier may see."""
    digits = e164[3:] if e164.startswith("+86") else e164.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"
