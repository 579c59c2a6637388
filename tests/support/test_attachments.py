"""Photos on tickets: the type read from the bytes, the size capped, kept under the data
directory, given only to those who may see the ticket."""

from __future__ import annotations

import pytest

from patron.core.db import Database
from patron.core.settings import get_settings
from patron.support.exceptions import AttachmentRefused, TicketNotFound
from patron.support.tickets import attachments
from patron.support.tickets.schemas import AttachmentRead
from tests.helpers import ACTOR, add_store
from tests.support.helpers import open_ticket, store_actor

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _attach(db: Database, ticket_id: int, content: bytes, name: str = "破损.png") -> AttachmentRead:
    return db.write(
        lambda s: attachments.add_attachment(
            session=s, ticket_id=ticket_id, file_name=name, content=content, actor=ACTOR
        )
    )


def test_a_photo_is_kept_under_the_data_directory_by_its_hash(db: Database) -> None:
    ticket = open_ticket(db)
    added = db.write(
        lambda s: attachments.add_attachment(
            session=s, ticket_id=ticket.id, file_name="../../etc/破损.jpg", content=JPEG,
            actor=ACTOR,
        )
    )  # fmt: skip
    assert added.content_type == "image/jpeg" and added.file_name == "破损.jpg"
    photo = db.read(
        lambda s: attachments.get_attachment(
            session=s, ticket_id=ticket.id, attachment_id=added.id, actor=ACTOR
        )
    )
    assert photo.path.is_relative_to(get_settings().data_dir)
    assert photo.path.read_bytes() == JPEG


@pytest.mark.parametrize(
    "content",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",  # a script can hide in an SVG
        b"MZ\x90\x00" + b"\x00" * 32,  # a program named .png
        b"",
        PNG + b"\x00" * attachments.MAX_BYTES,  # too large
    ],
)
def test_a_file_that_is_not_a_small_photo_is_refused(db: Database, content: bytes) -> None:
    ticket = open_ticket(db)
    with pytest.raises(AttachmentRefused) as refused:
        _attach(db, ticket.id, content)
    assert refused.value.field == "file"


def test_another_stores_cashier_cannot_fetch_the_photo(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    add_store(db, "BJ01", "王府井店")
    ticket = open_ticket(db, store_code="SH01")
    added = _attach(db, ticket.id, PNG)
    stranger = store_actor(db, "BJ01")
    with pytest.raises(TicketNotFound):
        db.read(
            lambda s: attachments.get_attachment(
                session=s, ticket_id=ticket.id, attachment_id=added.id, actor=stranger
            )
        )
