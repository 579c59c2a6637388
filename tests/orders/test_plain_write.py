"""A single post's plain write (orders/intake.plain_record_order) stores what record_order
stores: the same posts, once with the process's copies kept (the plain write) and once
with them emptied before each post (record_order), end in the same answers and rows."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from patron.core import caches
from patron.core.db import Database
from tests.web.helpers.api import order_body, reveal

ORDERED = ("2026-03-01T10:00:00+08:00", "2026-02-01T10:00:00+08:00")


def _identifiers(run: str) -> tuple[str, str, str]:
    digit = "12"[run == "S"]
    return f"1391234{digit}000", f"CARD-{run}", f"{run.lower()}@example.cn"


def _posts(run: str) -> list[dict[str, Any]]:
    """Anonymous, a new phone, the same phone again (earlier: its sign-up moves back), a
    new card with that phone (a profile changed: not the plain write's), a new e-mail."""
    phone, card, mail = _identifiers(run)
    customers: list[dict[str, Any] | None] = [
        None,
        {"phone": phone},
        {"phone": phone},
        {"phone": phone, "member_card": card},
        {"member_card": card},
        {"email": mail},
    ]
    return [
        order_body(f"{run}{n}", source=f"pos-{run}", store_code="SH01", customer=customer,
                   ordered_at=ORDERED[n == 2])
        for n, customer in enumerate(customers)
    ]  # fmt: skip


def _facts(api: TestClient, db: Database, run: str, answers: list[dict[str, Any]]) -> list[Any]:
    """What each post stored, with ids replaced by their place among the run's."""
    ids: dict[int, int] = {}
    phone, card, mail = _identifiers(run)
    names = {f"+86{phone}": "phone", card: "card", mail: "mail"}
    facts = []
    for answer in answers:
        customer_id = answer.pop("customer_id")
        for key in ("id", "created_at", "source", "external_id"):
            answer.pop(key)
        customer = None
        if customer_id is not None:
            shown = reveal(api, customer_id)
            customer = (
                ids.setdefault(customer_id, len(ids)),
                shown["signed_up_at"],
                shown["signup_channel"],
                shown["home_store_code"],
                sorted((i["kind"], names.get(i["value"], i["value"])) for i in shown["identities"]),
            )
        facts.append((answer, customer))
    with db.engine.connect() as conn:
        kinds = conn.execute(
            text(
                "SELECT type, count(*) FROM event WHERE CAST(properties AS TEXT) LIKE :run GROUP BY type"
            ),
            {"run": f'%"pos-{run}"%'},
        ).all()
    facts.append(sorted(tuple(row) for row in kinds))
    return facts


def test_the_plain_write_stores_what_record_order_stores(api: TestClient, db: Database) -> None:
    store = {"code": "SH01", "name": "上海一店", "kind": "physical"}
    assert api.post("/api/v1/stores", json=store).status_code == 201
    assert api.post("/api/v1/orders", json=order_body("WARM", store_code="SH01")).status_code == 201
    runs = {}
    for run, keep in (("P", True), ("S", False)):
        answers = []
        for body in _posts(run):
            if not keep:
                caches.clear_all()  # no kept store: record_order writes it
            response = api.post("/api/v1/orders", json=body)
            assert response.status_code == 201, response.text
            answers.append(response.json())
        runs[run] = _facts(api, db, run, answers)
    assert runs["P"] == runs["S"]
