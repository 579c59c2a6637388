"""Log redaction: no phone number or e-mail address reaches a log line.

Personal data gets into logs by accident — a query string in an access log
(``/api/v1/customers/lookup?phone=13800138000``), an identifier in an error message. The
redaction here replaces phone numbers (mainland mobiles with or without +86, E.164 numbers
generally, spaced, dashed or URL-encoded) and e-mail addresses with ``[phone]`` and
``[email]``.

:func:`install_log_redaction` puts it in two places: the log-record factory, so every record
of every logger is redacted as it is made (a logger's own filters never see records that
propagate up from its children), and, as a :class:`RedactingFilter`, on the root and uvicorn
loggers and their handlers, for records made before it was installed or by a replaced
factory. ``patron serve`` and ``create_app`` call it; calling it again changes nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

PHONE_MARK = "[phone]"
EMAIL_MARK = "[email]"

# One separator between digits: space, dash, dot, a URL-encoded space or a '+' (a space in
# a query string).
_SEP = r"(?:[\s\-.]|%20|\+)?"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(
    # international: + (or %2B, or 00) and 7-15 digits, E.164 generally, +86 included
    rf"(?<![\w%])(?:\+|%2[Bb]|00)\s?[1-9](?:{_SEP}\d){{6,14}}(?!\d)"
    # a mainland mobile: 11 digits from 13-19, perhaps after 86, spaced or dashed
    rf"|(?<!\d)(?:86{_SEP})?1[3-9](?:{_SEP}\d){{9}}(?!\d)"
)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses replaced by markers."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(EMAIL_MARK, text)
    return _PHONE.sub(PHONE_MARK, text)


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact ``record`` in place: its message, arguments, traceback and stack."""
    if getattr(record, "_patron_redacted", False):
        return record
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    args = record.args
    if isinstance(args, tuple):
        # Arguments are redacted one by one, keeping their shape: uvicorn's access formatter
        # unpacks them (client, method, path, version, status).
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    try:
        message = record.getMessage()
    except Exception:
        message = None
    if message is not None and redact(message) != message:
        # An argument that is no string (a number, an object) formatted into a phone.
        record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._patron_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """Redacts every record it sees; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_FILTER = RedactingFilter()
_lock = threading.Lock()


def _redacting_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(base(*args, **kwargs))

    factory._patron_redacting = True  # type: ignore[attr-defined]
    return factory


def _add_filter(target: logging.Filterer) -> None:
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)


def install_log_redaction() -> None:
    """Redact phones and e-mail addresses from every log record from now on."""
    with _lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, "_patron_redacting", False):
            logging.setLogRecordFactory(_redacting_factory(current))
        for name in (None, *UVICORN_LOGGERS):
            logger = logging.getLogger(name)
            _add_filter(logger)
            for handler in logger.handlers:
                _add_filter(handler)


# ------------------------------------------------------------------------------ JSON lines


class JsonFormatter(logging.Formatter):
    """One JSON object a line (PATRON_LOG_FORMAT=json): time (UTC, ISO 8601), level, logger,
    message, and the traceback when there is one; redacted like every other line."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import UTC, datetime

        redact_record(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's ``log_config`` for ``log_format``: None keeps uvicorn's own (text); "json"
    sends the root, uvicorn and Patron loggers to stderr as JSON lines."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            name: {"handlers": [], "level": "INFO", "propagate": True} for name in UVICORN_LOGGERS
        },
    }
