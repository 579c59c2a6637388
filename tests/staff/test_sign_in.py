"""Staff sign-in in the console: sessions, CSRF, lock-out, sign-out, password change."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from patron.audit import service as audit
from patron.core.actor import system_actor
from patron.core.db import Database
from patron.staff import service as staff
from patron.staff.roles import Role
from patron.staff.schemas import StaffCreate
from patron.web.security import SESSION_COOKIE, limiter
from tests.web.helpers.app import lent_app

PASSWORD = "correct-horse-9"


def make_staff(db: Database, username: str = "alice", role: Role = Role.ADMIN) -> int:
    staff_in = StaffCreate.model_validate(
        {"username": username, "display_name": username.title(), "password": PASSWORD, "role": role}
    )
    return db.write(
        lambda s: staff.create_staff(session=s, staff_in=staff_in, actor=system_actor())
    ).id


@pytest.fixture
def browser(db: Database) -> Iterator[TestClient]:
    limiter.reset()
    with lent_app(db) as app, TestClient(app, raise_server_exceptions=False) as client:
        yield client


def sign_in(client: TestClient, username: str = "alice", password: str = PASSWORD) -> str:
    """Sign in through the form; the CSRF token of the new session."""
    response = client.post(
        "/sign-in", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/account/password")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_the_console_sends_a_stranger_to_sign_in(browser: TestClient) -> None:
    response = browser.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/"


def test_signing_in_sets_a_protected_cookie_and_opens_the_console(
    db: Database, browser: TestClient
) -> None:
    make_staff(db)
    response = browser.post(
        "/sign-in",
        data={"username": "Alice", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = browser.get("/")
    assert home.status_code == 200 and "alice (admin)" in home.text
    assert browser.get("/api/v1/me").json()["role"] == "admin"


def test_a_wrong_password_says_nothing_about_which_part_was_wrong(
    db: Database, browser: TestClient
) -> None:
    make_staff(db)
    wrong = browser.post("/sign-in", data={"username": "alice", "password": "nope-nope-1"})
    unknown = browser.post("/sign-in", data={"username": "bob", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    assert SESSION_COOKIE not in browser.cookies


def test_five_failures_lock_the_account_even_against_the_right_password(
    db: Database, browser: TestClient
) -> None:
    make_staff(db)
    for _ in range(5):
        browser.post("/sign-in", data={"username": "alice", "password": "wrong-pass-1"})
    locked = browser.post("/sign-in", data={"username": "alice", "password": PASSWORD})
    assert locked.status_code == 401 and "锁定" in locked.text  # every failure says how it goes
    failures = db.read(lambda s: audit.list_audit(session=s, action="sign_in_failed")).items
    assert len(failures) == 6
    assert any(f.details.get("locked") for f in failures)
    assert failures[0].details["why"] == "locked"  # the log knows; the page does not say


def test_lock_out_does_not_tell_which_user_names_exist(db: Database, browser: TestClient) -> None:
    make_staff(db)
    answers = {}
    for username in ("alice", "nobody-here"):
        for _ in range(6):
            last = browser.post("/sign-in", data={"username": username, "password": "wrong-1"})
        answers[username] = (last.status_code, _error_text(last.text))
    # the locked account and the name nobody has read alike, right password or not
    right = browser.post("/sign-in", data={"username": "alice", "password": PASSWORD})
    assert (
        answers["alice"] == answers["nobody-here"] == (right.status_code, _error_text(right.text))
    )


def _error_text(html: str) -> str:
    match = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    assert match, html
    return match.group(1).strip()


def test_a_form_post_without_the_csrf_token_is_refused(db: Database, browser: TestClient) -> None:
    make_staff(db)
    token = sign_in(browser)
    change = {"current_password": PASSWORD, "new_password": "another-pass-2"}
    assert browser.post("/account/password", data=change).status_code == 403
    assert browser.post("/api/v1/me/password", json=change).status_code == 403
    ok = browser.post("/account/password", data={**change, "csrf_token": token})
    assert ok.status_code == 200 and 'id="done"' in ok.text


def test_changing_the_password_keeps_this_session_and_the_new_password_works(
    db: Database, browser: TestClient
) -> None:
    make_staff(db)
    token = sign_in(browser)
    weak = browser.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers={"x-csrf-token": token},
    )
    assert weak.status_code == 422 and weak.json()["detail"][0]["field"] == "new_password"
    done = browser.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "another-pass-2"},
        headers={"x-csrf-token": token},
    )
    assert done.status_code == 204
    assert browser.get("/api/v1/me").status_code == 200
    browser.cookies.clear()
    sign_in(browser, password="another-pass-2")


def test_signing_out_ends_the_session_for_good(db: Database, browser: TestClient) -> None:
    make_staff(db)
    token = sign_in(browser)
    cookie = browser.cookies[SESSION_COOKIE]
    out = browser.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    browser.cookies.set(SESSION_COOKIE, cookie)  # a copied cookie is no good either
    assert browser.get("/api/v1/me").status_code == 401


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(
    db: Database, browser: TestClient
) -> None:
    from patron.staff.schemas import StaffUpdate

    user_id = make_staff(db, "carol", Role.ANALYST)
    sign_in(browser, "carol")
    db.write(
        lambda s: staff.update_staff(
            session=s, staff_id=user_id, staff_in=StaffUpdate(is_active=False), actor=system_actor()
        )
    )
    assert browser.get("/api/v1/me").status_code == 401
    again = browser.post("/sign-in", data={"username": "carol", "password": PASSWORD})
    assert again.status_code == 401


def test_sign_in_attempts_from_one_address_are_rate_limited(
    db: Database, browser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.core.settings import get_settings

    monkeypatch.setenv("PATRON_SIGN_IN_RATE_PER_MINUTE", "3")
    get_settings.cache_clear()
    statuses = [
        browser.post("/sign-in", data={"username": "x", "password": "y-y-y-y-y-1"}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_a_sign_in_link_never_sends_anyone_off_site(db: Database, browser: TestClient) -> None:
    make_staff(db)
    response = browser.post(
        "/sign-in",
        data={"username": "alice", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_passwords_are_stored_as_argon2id_hashes(db: Database) -> None:
    from sqlalchemy import select

    from patron.staff.models import StaffUser

    make_staff(db)
    stored = db.read(lambda s: s.scalar(select(StaffUser.password_hash)))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_every_response_carries_the_security_headers(browser: TestClient) -> None:
    response = browser.get("/sign-in")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
