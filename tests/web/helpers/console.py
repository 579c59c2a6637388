"""Helpers for console page tests: a browser-like client, staff, a two-store shop."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core import caches
from patron.core.actor import system_actor
from patron.core.db import Database
from patron.staff import service as staff
from patron.staff.roles import Role
from patron.staff.schemas import StaffCreate
from patron.web.security import limiter
from tests.helpers import post_order, sign_up
from tests.web.helpers.app import lent_app

PASSWORD = "correct-horse-9"
HTML = {"accept": "text/html"}
# Two days in March 2026, business days in Shanghai (UTC+8).
DAY1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 March in Shanghai
DAY2 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 on 2 March


@dataclass(frozen=True)
class Shop:
    """Stores A and B; 王小明 (A, two orders), 李华 (B, one order), one walk-in sale at A."""

    db: Database
    a_customer: int
    b_customer: int
    a_phone: str = "+8613800138000"
    b_phone: str = "+8613900139000"
    a_card: str = "VIP-A-0001"


def make_shop(db: Database) -> Shop:
    for code, name, city in (("A01", "上海一店", "上海"), ("B01", "杭州一店", "杭州")):
        db.write(
            lambda s, c=code, n=name, city=city: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n, city=city)
            )
        )
    a = sign_up(
        db,
        phone="+8613800138000",
        member_card="VIP-A-0001",
        name="王小明",
        city="上海",
        home_store_code="A01",
    )
    b = sign_up(db, phone="+8613900139000", name="李华", city="杭州", home_store_code="B01")
    line = {"sku": "SKU-1", "name": "苹果", "quantity": 2, "unit_price_fen": 1500}
    post_order(db, "A-1", store_code="A01", customer={"id": a}, lines=[line], at=DAY1)
    post_order(db, "A-2", store_code="A01", customer={"id": a}, at=DAY2)
    post_order(db, "A-3", store_code="A01", at=DAY2)  # a walk-in: no customer
    post_order(db, "B-1", store_code="B01", customer={"id": b}, at=DAY1)
    return Shop(db=db, a_customer=a, b_customer=b)


def make_staff(
    db: Database, username: str, role: Role = Role.ADMIN, stores: list[str] | None = None
) -> int:
    staff_in = StaffCreate.model_validate(
        {
            "username": username,
            "display_name": username.title(),
            "password": PASSWORD,
            "role": role,
            "store_codes": stores or [],
        }
    )
    return db.write(
        lambda s: staff.create_staff(session=s, staff_in=staff_in, actor=system_actor("tests"))
    ).id


@dataclass
class Console:
    """A signed-in browser: the client and the session's CSRF token."""

    client: TestClient
    csrf: str

    def get(self, path: str, **kwargs: object) -> object:
        return self.client.get(path, headers=HTML, **kwargs)  # type: ignore[arg-type]


def sign_in(client: TestClient, username: str) -> str:
    response = client.post(
        "/sign-in", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/account/password")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


@contextmanager
def console(
    db: Database, username: str = "boss", role: Role = Role.ADMIN, stores: list[str] | None = None
) -> Iterator[tuple[TestClient, str]]:
    """A client signed in as a new member of staff with ``role``; yields (client, csrf token)."""
    limiter.reset()
    caches.clear_all()
    make_staff(db, username, role, stores)
    with lent_app(db) as app, TestClient(app, raise_server_exceptions=False) as client:
        client.headers["accept"] = "text/html"
        yield client, sign_in(client, username)


def text_of(html: str) -> str:
    """The page's text without tags, for "does it say …" checks."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
