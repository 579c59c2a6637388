"""Correction through the request queue: an identifier corrected with its history (the old
value sealed, who, when, which request) and an audited before-image; a value that belongs to
another customer refused with a clear error naming them, never merged silently."""

from __future__ import annotations

from patron.audit import service as audit
from patron.audit.models import AuditEntry
from patron.core.db import Database
from patron.customers import service as customers
from patron.staff.roles import Role
from tests.helpers import sign_up
from tests.privacy.helpers import file_request
from tests.web.helpers.api import api_client


def test_a_phone_and_an_email_are_corrected_with_history_and_a_taken_one_is_refused(
    db: Database,
) -> None:
    asks = sign_up(db, phone="13800138000", email="old@example.com", name="王小明")
    other = sign_up(db, phone="13900139000", name="李四")
    request = file_request(db, asks, kind="correction")
    access = file_request(db, asks, kind="access")
    with api_client(db, role=Role.PRIVACY_OFFICER) as client:
        where = f"/api/v1/privacy/requests/{request.id}/correct"
        phone = client.post(where, json={"kind": "phone", "value": "138 0013 8111"})
        assert phone.status_code == 201, phone.text
        assert phone.json()["old_value"] == "138****8000"  # masked in the history
        assert phone.json()["request_id"] == request.id
        email = client.post(where, json={"kind": "email", "value": "New@Example.com"})
        assert email.status_code == 201, email.text

        taken = client.post(where, json={"kind": "phone", "value": "13900139000"})
        assert taken.status_code == 409
        assert str(other) in taken.text and "merge" in taken.text
        unchanged = client.post(where, json={"kind": "phone", "value": "13800138111"})
        assert unchanged.status_code == 422 and "value" in unchanged.text
        wrong = client.post(
            f"/api/v1/privacy/requests/{access.id}/correct",
            json={"kind": "phone", "value": "13700137000"},
        )
        assert wrong.status_code == 409

        history = client.get(f"/api/v1/privacy/customers/{asks}/corrections").json()
        assert [h["kind"] for h in history] == ["email", "phone"]
        assert client.get(f"/api/v1/privacy/requests/{request.id}").json()["status"] == (
            "in_progress"
        )

    # the new values find the customer, the old ones no longer do; the other is untouched
    found = db.read(
        lambda s: customers.lookup_customer(session=s, kind="phone", value="13800138111")
    )
    assert found is not None and found.id == asks
    by_mail = db.read(
        lambda s: customers.lookup_customer(session=s, kind="email", value="new@example.com")
    )
    assert by_mail is not None and by_mail.id == asks
    assert (
        db.read(lambda s: customers.lookup_customer(session=s, kind="phone", value="13800138000"))
        is None
    )
    still = db.read(lambda s: customers.get_customer(session=s, customer_id=other))
    assert still is not None and still.merged_into_id is None
    # the audit log keeps each before-image, encrypted, readable through the service
    entries = db.read(
        lambda s: audit.list_audit(session=s, action="customer.identity.correct")
    ).items
    assert len(entries) == 2
    images = db.read(lambda s: [s.get(AuditEntry, e.id).before_image for e in entries])  # type: ignore[union-attr]
    assert {"phone": "+8613800138000"} in images and {"email": "old@example.com"} in images
