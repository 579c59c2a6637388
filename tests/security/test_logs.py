"""No log line carries an unmasked phone number or an e-mail address.

The flow runs against a real uvicorn server (so its access log, query strings and all, is
part of it) with every logger at DEBUG, SQL included.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from uvicorn.logging import AccessFormatter

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.core.logs import EMAIL_MARK, PHONE_MARK, install_log_redaction, redact
from patron.imports.schemas import ImportOptions
from patron.imports.service import run_import
from patron.web.app import create_app
from tests.imports.helpers import write_csv
from tests.web.helpers.api import make_api_key, order_body

PHONE = "13912345678"
OTHER_PHONE = "15887654321"
EMAIL = "nana.ouyang@example.com"
# The spellings a phone takes in the wild, and in URLs.
SPELLINGS = [
    PHONE,
    "+86" + PHONE,
    "86" + PHONE,
    "139 1234 5678",
    "139-1234-5678",
    "+86 139 1234 5678",
    "%2B8613912345678",
    "%2B86%20139%201234%205678",
    "139+1234+5678",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_phone_is_redacted(spelling: str) -> None:
    line = f"GET /api/v1/customers/lookup?phone={spelling} HTTP/1.1"
    assert redact(line) == f"GET /api/v1/customers/lookup?phone={PHONE_MARK} HTTP/1.1"


@pytest.mark.parametrize(
    "text",
    [
        "call +1 212 555 0100 now",
        "uk +44 20 7946 0958",
        "0044 20 7946 0958",
        "fixed +862150505050",
    ],
)
def test_international_numbers_are_redacted(text: str) -> None:
    assert not re.search(r"\d{4}", redact(text).replace("[phone]", ""))


@pytest.mark.parametrize(
    "text", [EMAIL, "NANA.Ouyang@Example.COM", "nana.ouyang%40example.com", "13912345678@qq.com"]
)
def test_email_addresses_are_redacted(text: str) -> None:
    assert redact(f"to <{text}>") == f"to <{EMAIL_MARK}>"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23 13:05:15,843 took 0.0123s",
        "order W0000123 of 2026-03-01T10:00:00+08:00, total 12345 fen",
        "GET /api/v1/customers/123456/orders 200",
        "request id 1f3a9c0d2b4e, pid 12345, 127.0.0.1:54321",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_records_of_any_logger_are_redacted_message_arguments_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library.deep.inside")
    log.info("customer %s wrote from %s", PHONE, EMAIL)
    log.info("numbers as numbers: %d", int(PHONE))
    log.info("as a mapping: %(phone)s", {"phone": "+86" + PHONE})
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        log.exception("failed for %s", PHONE)
    text = "\n".join(caplog.text.splitlines())
    assert PHONE not in text and EMAIL not in text
    assert text.count(PHONE_MARK) >= 5 and EMAIL_MARK in text


# ------------------------------------------------------------------- the whole flow


class _Capture(logging.Handler):
    """Every record, formatted as a real handler would (uvicorn's for the access log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.names: set[str] = set()
        self._plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self._access = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s")

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self._access if record.name == "uvicorn.access" else self._plain
        self.lines.append(formatter.format(record))
        self.names.add(record.name)


@contextmanager
def _every_logger_at_debug() -> Iterator[_Capture]:
    capture = _Capture()
    names = [None, "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi",
             "sqlalchemy.engine", "patron", "httpx", *logging.root.manager.loggerDict]  # fmt: skip
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.propagate)
        logger.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(capture)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(capture)  # uvicorn's own configuration stops it propagating
    access.propagate = False
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        access.removeHandler(capture)
        for name, (level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(db: Database) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(db), host="127.0.0.1", port=port, log_level="debug", access_log=True,
        log_config=None, lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _collapse(line: str) -> str:
    """Digits with the separators between them dropped, and URL escapes undone."""
    line = line.replace("%2B", "+").replace("%2b", "+").replace("%40", "@").replace("%20", " ")
    return re.sub(r"(?<=\d)[\s\-.+()]+(?=\d)", "", line)


def test_no_log_line_carries_a_phone_or_an_email(db: Database, tmp_path: Path) -> None:
    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海一店")
        )
    )
    key = make_api_key(db)
    members = tmp_path / "members.csv"
    write_csv(
        members,
        ["手机号", "姓名", "邮箱"],
        [[OTHER_PHONE, "司马相如", "xiangru.sima@example.org"], ["158 8765 432", "坏号码", ""]],
    )
    with _every_logger_at_debug() as capture:
        with (
            _server(db) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client,
        ):
            signed = client.post(
                "/api/v1/customers",
                json={"identities": {"phone": PHONE, "email": EMAIL}, "name": "欧阳娜娜"},
            )
            assert signed.status_code == 201, signed.text
            for phone in (PHONE, "+86 139 1234 5678", "+86" + PHONE):
                found = client.get("/api/v1/customers/lookup", params={"phone": phone})
                assert found.status_code == 200, found.text
            assert (
                client.get("/api/v1/customers/lookup", params={"email": EMAIL}).status_code == 200
            )
            bad = client.post("/api/v1/customers", json={"identities": {"phone": "1391234567"}})
            assert bad.status_code == 422
            missing = client.get("/api/v1/customers/lookup", params={"phone": "13900000000"})
            assert missing.status_code == 404
            order = client.post(
                "/api/v1/orders",
                json=order_body("LOG-1", customer={"phone": PHONE, "member_card": "VIP-9"}),
            )
            assert order.status_code == 201, order.text
            other = client.post("/api/v1/customers", json={"identities": {"member_card": "VIP-7"}})
            merged = client.post(
                f"/api/v1/customers/{signed.json()['id']}/merge",
                json={"other_id": other.json()["id"], "reason": f"客户 {PHONE} 来电确认同一人"},
            )
            assert merged.status_code == 201, merged.text
        summary = run_import(
            db=db, kind="customers", path=members, options=ImportOptions(source="crm-export")
        )
        assert (summary.rows_accepted, summary.rows_rejected) == (1, 1)

    assert "uvicorn.access" in capture.names and "sqlalchemy.engine.Engine" in capture.names
    assert any("/api/v1/customers/lookup?phone=[phone]" in line for line in capture.lines)
    for line in capture.lines:
        flat = _collapse(line)
        for phone in (PHONE, OTHER_PHONE, "1391234567", "13900000000", "158876543"):
            assert phone not in flat, line
        for email in (EMAIL, "xiangru.sima@example.org"):
            assert email not in flat.lower(), line
