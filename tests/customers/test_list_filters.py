"""Every filter the customer list offers narrows it; a filter it does not offer is refused
by name, never ignored."""

from __future__ import annotations

from typing import Any

import pytest

from patron.core.db import Database
from tests.helpers import T0, add_store, sign_up
from tests.web.helpers.api import api_client, error_fields


def _people(db: Database) -> dict[str, int]:
    add_store(db, "SH01", "上海一店")
    add_store(db, "BJ01", "北京一店")
    return {
        "ann": sign_up(
            db, phone="13800000011", name="王芳", gender="female", city="上海",
            home_store_code="SH01", tags=["vip"], signup_channel="wechat",
            signed_up_at=T0,
        ),
        "ben": sign_up(
            db, phone="13800000012", name="李强", gender="male", city="北京",
            home_store_code="BJ01", signup_channel="pos", signed_up_at=T0.replace(month=4),
        ),
        "cat": sign_up(db, phone="13800000013", gender="other", signed_up_at=T0.replace(month=5)),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["ann", "ben", "cat"]),
        ({"q": "王芳"}, ["ann"]),
        ({"city": "北京"}, ["ben"]),
        ({"gender": "female"}, ["ann"]),
        ({"gender": "other"}, ["cat"]),
        ({"home_store_code": "SH01"}, ["ann"]),
        ({"home_store_code": "XX99"}, []),
        ({"tag": "vip"}, ["ann"]),
        ({"signup_channel": "pos"}, ["ben"]),
        ({"signed_up_from": "2026-04-01T00:00:00+00:00"}, ["ben", "cat"]),
        ({"signed_up_to": "2026-04-01T00:00:00+00:00"}, ["ann"]),
        ({"status": "merged"}, []),
        ({"gender": "male", "city": "上海"}, []),
    ],
)
def test_each_filter_narrows_the_list(
    db: Database, params: dict[str, Any], expected: list[str]
) -> None:
    people = _people(db)
    names = {v: k for k, v in people.items()}
    with api_client(db) as admin:
        response = admin.get("/api/v1/customers", params=params)
        assert response.status_code == 200, response.text
        assert sorted(names[c["id"]] for c in response.json()["items"]) == expected


def test_limit_and_cursor_page_through_the_list(db: Database) -> None:
    people = _people(db)
    with api_client(db) as admin:
        first = admin.get("/api/v1/customers", params={"limit": 2}).json()
        assert [c["id"] for c in first["items"]] == [people["cat"], people["ben"]]
        rest = admin.get(
            "/api/v1/customers", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert [c["id"] for c in rest["items"]] == [people["ann"]]


def test_a_filter_the_list_does_not_offer_is_refused_by_name(db: Database) -> None:
    _people(db)
    with api_client(db) as admin:
        assert error_fields(admin.get("/api/v1/customers", params={"age": "30"})) == ["age"]
        assert error_fields(admin.get("/api/v1/customers", params={"gender": "f"})) == ["gender"]
