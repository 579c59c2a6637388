"""The console's languages: Chinese (zh_CN, the default) and English, through Babel.

Templates and page code carry English message ids (``{% trans %}``, ``_()``); the catalogues
live as plain ``.po`` files under ``web/translations/<locale>/LC_MESSAGES/messages.po`` and are
compiled in memory (babel.messages.pofile → mofile → :class:`gettext.GNUTranslations`) the
first time a language is used, so there is no build step.

Which language a request gets:

1. the ``patron_lang`` cookie, set by the language menu (``GET /language/{code}``);
2. otherwise Chinese. ``Accept-Language`` is deliberately ignored: the console runs on shared
   shop computers whose browsers are often set to English while the staff read Chinese, and
   Chinese is the console's default (docs/architecture.md, Translations). One click on the menu switches, and the cookie keeps
   the choice for a year.

The language of the current request sits in a context variable (set by
:class:`LocaleMiddleware`), so page code and templates translate without passing it around.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Receive, Scope, Send

TRANSLATIONS_DIR: Final = Path(__file__).parent / "translations"
DOMAIN: Final = "messages"
LANG_COOKIE: Final = "patron_lang"


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # what the cookie and the URL carry
    locale: str  # Babel's name, the folder under translations/
    html_lang: str  # the <html lang> attribute
    label: str  # how the language names itself in the menu


LANGUAGES: Final = (
    Language(code="zh", locale="zh_CN", html_lang="zh-CN", label="中文"),
    Language(code="en", locale="en", html_lang="en", label="English"),
)
DEFAULT: Final = LANGUAGES[0]
_BY_CODE: Final = {lang.code: lang for lang in LANGUAGES}

_current: ContextVar[Language] = ContextVar("patron_language", default=DEFAULT)
_catalogues: dict[str, _gettext.NullTranslations] = {}
_lock = threading.Lock()


def language_for(code: str | None) -> Language | None:
    """The language a code names (``zh``, ``en``; ``zh-CN`` and ``en_US`` too), or None."""
    if not code:
        return None
    return _BY_CODE.get(code.replace("_", "-").split("-")[0].strip().lower())


def choose_language(cookie: str | None) -> Language:
    """The cookie's language when it names one we have; Chinese otherwise (see above)."""
    return language_for(cookie) or DEFAULT


def load_catalogue(locale: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``locale``, read from its .po file once per process."""
    found = _catalogues.get(locale)
    if found is not None:
        return found
    with _lock:
        found = _catalogues.get(locale)
        if found is None:
            found = _catalogues[locale] = _compile(locale)
    return found


def _compile(locale: str) -> _gettext.NullTranslations:
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return _gettext.NullTranslations()  # msgids are English: English needs nothing more
    with path.open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def reload_catalogues() -> None:
    """Forget compiled catalogues (tests that edit a .po file)."""
    with _lock:
        _catalogues.clear()


def current_language() -> Language:
    return _current.get()


def use_language(language: Language) -> None:
    """Make ``language`` the current one in this context (a request, a test)."""
    _current.set(language)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the current language; ``%(name)s`` placeholders filled from ``variables``."""
    text = load_catalogue(_current.get().locale).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = load_catalogue(_current.get().locale).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it yet (it is shown later)."""
    return message


def title_of(titles: dict[str, str], code: str | None) -> str:
    """A code's title from ``titles`` (English msgids), in the current language; a code
    without one is shown as it is, and no code as nothing."""
    if not code:
        return ""
    title = titles.get(code)
    return gettext(title) if title else code


class LocaleMiddleware:
    """Sets the request's language from its cookie before any route or template runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _current.set(choose_language(_cookie(scope, LANG_COOKIE)))
        await self.app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _sep, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


# ------------------------------------------------------------------ keeping catalogues whole

# Where the console's messages are: its templates and the page modules that build text.
MESSAGE_SOURCES: Final = (
    "web/pages.py",
    "web/dashboard.py",
    "web/templating.py",
    "web/errors.py",
    "web/forms.py",
    "customers/pages.py",
    "catalog/pages.py",
    "audit/pages.py",
    "staff/pages.py",
    "web/messages.py",
    "web/titles.py",
    "loyalty/pages/*.py",
    "analytics/pages.py",
    "analytics/basket/pages.py",
    "analytics/recommend/pages.py",
    "imports/messages.py",
    "imports/cli.py",
    "cli.py",
    "imports/pages.py",
    "consent/pages.py",
    "campaigns/pages.py",
    "journeys/pages.py",
    "audiences/pages.py",
    "support/pages/*.py",
    "privacy/pages.py",
    "events/pages.py",
)


def extract_messages() -> dict[str, list[str]]:
    """Every msgid the console uses, with where (``file:line``), read with Babel's extractors.

    The tests compare this with the Chinese catalogue, so a new string without a translation
    fails the build instead of showing up in English.
    """
    from babel.messages.extract import extract_from_file

    package = Path(__file__).parent.parent
    found: dict[str, list[str]] = {}
    templates = sorted((Path(__file__).parent / "templates").rglob("*.html"))
    jinja = {"extensions": "jinja2.ext.i18n"}
    for path in templates:
        for line, message, _c, _x in extract_from_file(
            "jinja2.ext:babel_extract", str(path), options=jinja
        ):
            if isinstance(message, str):
                found.setdefault(message, []).append(f"{path.relative_to(package)}:{line}")
    modules = sorted({p for pattern in MESSAGE_SOURCES for p in package.glob(pattern)})
    for path in modules:
        name = path.relative_to(package).as_posix()
        for line, message, _c, _x in extract_from_file("python", str(path)):
            if isinstance(message, str):
                found.setdefault(message, []).append(f"{name}:{line}")
    return found


def write_catalogue(locale: str, translations: dict[str, str]) -> Path:
    """Write ``translations`` (msgid → text; '' for untranslated) as the .po file of ``locale``."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    sources = extract_messages()
    catalogue = Catalog(
        locale=locale, domain=DOMAIN, project="Patron", charset="utf-8", fuzzy=False
    )
    for message_id, places in sources.items():
        locations = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
        catalogue.add(message_id, translations.get(message_id, ""), locations=locations)
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalogue, width=100, sort_output=True, omit_header=False)
    return path
