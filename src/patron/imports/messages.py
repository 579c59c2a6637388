"""What an import says, in the user's language: reject reasons, warnings, file errors.

Every reason is kept as a code with its facts (``Note``) while the import runs, and put into
words only when shown: in the rejects report, the summary, the CLI and the console, in
Chinese by default or in English (``--lang en``). The words are English message ids
translated through the console's catalogues (``web/translations``), so one catalogue holds
every sentence Patron shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from patron.web import i18n
from patron.web.i18n import N_

LANGS = ("zh", "en")

# code → English message id; %(name)s placeholders are filled from a note's facts.
MESSAGES: dict[str, str] = {
    # a line
    "order_id_empty": N_("order id is empty"),
    "sku_empty": N_("SKU is empty"),
    "quantity_empty": N_("quantity is empty"),
    "quantity_zero": N_("quantity is 0"),
    "not_a_number": N_("%(value)s is not a number"),
    "quantity_decimals": N_("a quantity has at most 3 decimals"),
    "quantity_too_large": N_("quantity is too large"),
    "price_empty": N_("unit price is empty"),
    "price_negative": N_("a price or amount cannot be negative here"),
    "amount_too_large": N_("the amount is too large"),
    "discount_too_large": N_("the discount is larger than the line"),
    "refund_too_large": N_("the refund (%(refund)s) is larger than what was paid (%(paid)s)"),
    "after_sale_unknown": N_(
        "unknown after-sale status %(value)s: use 退款成功/refunded or 无/none"
    ),
    "partly_refunded_unknown": N_(
        "the order is partly refunded, but the row says neither how much (退款金额) "
        "nor whether this line was refunded (售后状态)"
    ),
    "line_too_long": N_("%(value)s is longer than %(max)s characters"),
    # an order
    "date_empty": N_("order time is empty"),
    "date_unreadable": N_("%(value)s is not a date"),
    "date_day_first": N_("%(value)s is not a date read month first; try --day-first"),
    "date_out_of_range": N_("%(value)s is outside the years 1900 to 2199"),
    "status_unknown": N_(
        "unknown order status %(value)s: say what it means with --status "
        '"%(value)s=completed" (or refunded, partly_refunded, cancelled)'
    ),
    "identity_invalid": N_("%(value)s: %(problem)s"),
    "gender_invalid": N_("gender must be 男/女 or M/F"),
    "store_unknown": N_(
        "no store coded or named %(value)s in Patron: add it (patron stores add) "
        "or import with --create-stores"
    ),
    "store_not_allowed": N_("store %(value)s is not one of yours"),
    "order_conflict": N_(
        "order %(key)s is already in Patron from source %(source)s with other lines or "
        "details; it was not changed"
    ),
    "total_mismatch": N_("the order total %(value)s does not match its lines (%(lines)s)"),
    "order_discount_too_large": N_("the order discount is larger than the order"),
    "too_many_lines": N_("an order has at most %(max)s lines; this one has %(lines)s"),
    "order_invalid": N_("the order is invalid: %(problem)s"),
    "currency_other": N_("amount in %(value)s, not in the shop's currency %(shop)s"),
    "return_invalid": N_("the return is invalid: %(problem)s"),
    # customers and products
    "no_identity": N_("no phone, member card, customer id, e-mail, openid or unionid in this row"),
    "home_store_unknown": N_("no store with code %(value)s; add it first (patron stores add)"),
    "name_empty": N_("name is empty"),
    "shelf_life_invalid": N_("%(value)s is not a shelf life (write days, or 12个月, 2年)"),
    "birthday_invalid": N_("birthday must be between 1900-01-01 and today"),
    "invalid": N_("invalid: %(problem)s"),
    # warnings: the row is imported
    "rounded": N_(
        "%(value)s has more decimals than the currency: the line total %(amount)s is "
        "rounded half up to the fen"
    ),
    "return_unmatched_original": N_(
        "original order %(value)s is not in Patron with this SKU to take back: kept as a "
        "return without a known sale"
    ),
    "return_other_customer": N_(
        "original order %(value)s belongs to another customer: kept as a return without a "
        "known sale"
    ),
}

# How pydantic and the services word a rule, as a message id (else shown as it is).
_PROBLEMS: dict[str, str] = {
    "is not a phone number": N_("is not a phone number"),
    "is not a valid phone number": N_("is not a valid phone number"),
    "is not an e-mail address": N_("is not an e-mail address"),
}

SEVERITY_REJECT, SEVERITY_WARNING = "rejected", "warning"
_SEVERITY_WORDS = {SEVERITY_REJECT: N_("rejected"), SEVERITY_WARNING: N_("warning")}

REPORT_HEADER = (
    N_("row (as the spreadsheet numbers it)"),
    N_("column"),
    N_("value"),
    N_("outcome"),
    N_("reason"),
)


@dataclass(frozen=True, slots=True)
class Note:
    """One line of the report: where (row, the file's column, the value), what, and why."""

    row: int
    code: str
    column: str = ""
    value: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    severity: str = SEVERITY_REJECT

    @property
    def rejects(self) -> bool:
        return self.severity == SEVERITY_REJECT


def language(lang: str | None) -> i18n.Language:
    found = i18n.language_for(lang or "zh")
    if found is None:
        raise ValueError(f"unknown language {lang!r}; use zh or en")
    return found


def translate(lang: str | None, message: str, **facts: Any) -> str:
    """An English message id in ``lang`` (zh, the default, or en), with its placeholders."""
    text = i18n.load_catalogue(language(lang).locale).gettext(message)
    if not facts:
        return text
    try:
        return text % facts
    except (KeyError, TypeError, ValueError):
        return text


def reason(note: Note, lang: str | None) -> str:
    """A note's reason in ``lang``."""
    facts = dict(note.facts)
    facts.setdefault("value", note.value)
    problem = facts.get("problem")
    if isinstance(problem, str) and problem in _PROBLEMS:
        facts["problem"] = translate(lang, _PROBLEMS[problem])
    message = MESSAGES.get(note.code)
    if message is None:
        return str(facts.get("problem") or note.code)
    return translate(lang, message, **facts)


def severity(note: Note, lang: str | None) -> str:
    return translate(lang, _SEVERITY_WORDS[note.severity])


# ------------------------------------------------------------------------ file-level errors

# (error code, its "reason" fact) → message id; placeholders come from the error's facts.
FILE_ERRORS: dict[tuple[str, str], str] = {
    ("unreadable_file", "missing"): N_("%(path)s: no such file"),
    ("unreadable_file", "folder"): N_("%(path)s is a folder, not a file"),
    ("unreadable_file", "xls"): N_(
        "old binary Excel (.xls) files cannot be read: open it in Excel or WPS and save it "
        "as .xlsx or CSV"
    ),
    ("unreadable_file", "not_xlsx"): N_("%(path)s is not a valid .xlsx workbook"),
    ("unreadable_file", "unknown_encoding"): N_("unknown encoding %(encoding)s"),
    ("unreadable_file", "not_encoding"): N_(
        "the file is not valid %(encoding)s (%(error)s); give its encoding with --encoding"
    ),
    ("unreadable_file", "undecodable"): N_(
        "the file is neither UTF-8 nor GBK/GB18030: give its encoding with --encoding"
    ),
    ("unreadable_file", "bad_csv"): N_("row %(row)s cannot be read as CSV: %(error)s"),
    ("unreadable_file", "not_encoding_row"): N_("row %(row)s is not valid %(encoding)s"),
    ("unreadable_file", "bad_workbook"): N_("the workbook cannot be opened: %(error)s"),
    ("unreadable_file", "no_sheet"): N_("no sheet named %(sheet)s; the sheets are: %(sheets)s"),
    ("empty_file", "zero_bytes"): N_("the file is empty (0 bytes)"),
    ("empty_file", "no_sheets"): N_("the workbook has no sheets"),
    ("empty_file", "no_header"): N_("the file has no header row (only blank lines)"),
    ("empty_file", "no_rows"): N_("the header has no data rows below it"),
    ("missing_columns", ""): N_(
        "the file has no column for: %(wanted)s. Columns found: %(headers)s. Name them with "
        "--map FIELD=COLUMN or a --mapping-file"
    ),
    ("bad_mapping", "unknown_kind"): N_(
        "unknown kind of import; use customers, products or orders"
    ),
    ("bad_mapping", "unknown_field"): N_("%(target)s is not a field; the fields are: %(fields)s"),
    ("bad_mapping", "unknown_column"): N_(
        "column %(column)s (for %(target)s) is not in the file; its columns are: %(headers)s"
    ),
    ("bad_mapping", "malformed"): N_("%(item)s: write --map FIELD=COLUMN"),
    ("bad_mapping", "mapping_file_unreadable"): N_("the mapping file %(path)s cannot be read"),
    ("bad_mapping", "mapping_file_invalid"): N_(
        "the mapping file %(path)s is not a TOML or JSON object of FIELD = COLUMN"
    ),
    ("bad_mapping", "mapping_file_empty"): N_("the mapping file %(path)s maps no columns"),
    ("currency_not_confirmed", ""): N_(
        "the file's amounts are in %(file_currency)s, the shop's currency is %(shop_currency)s: "
        "import it with --currency %(file_currency)s to confirm (amounts are kept as they are, "
        "not converted), or set PATRON_CURRENCY=%(file_currency)s if the shop sells in it"
    ),
}


def describe_error(exc: Exception, lang: str | None) -> str:
    """A file-level error in ``lang``; the error's own (English) words when not listed."""
    code = getattr(exc, "code", "")
    facts = dict(getattr(exc, "facts", {}) or {})
    message = FILE_ERRORS.get((code, str(facts.get("reason", ""))))
    if message is None:
        message = FILE_ERRORS.get((code, ""))
    if message is None:
        return str(getattr(exc, "message", exc))
    if code == "missing_columns":
        facts["headers"] = ", ".join(repr(h) for h in facts.get("headers", []) if h) or "-"
    return translate(lang, message, **{k: _plain(v) for k, v in facts.items()})


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, str)) else str(value)
