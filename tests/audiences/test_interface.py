"""What other domains call: member_ids, count_members and get_audience, evaluated at the
time they are asked for (a campaign's send), on the analytics store as last refreshed."""

from __future__ import annotations

from patron import audiences
from patron.audiences import service
from patron.audiences.schemas import AudienceCreate, Definition
from patron.core.db import Database
from tests.audiences.helpers import NOW, build_shop, day
from tests.helpers import ACTOR, post_order


def _save(db: Database, name: str, definition: dict[str, object]) -> int:
    audience_in = AudienceCreate(name=name, definition=Definition.model_validate(definition))
    return db.write(
        lambda s: service.create_audience(session=s, audience_in=audience_in, actor=ACTOR)
    ).id


def test_an_audience_is_evaluated_again_at_send_time(db: Database) -> None:
    shop = build_shop(db, analytics_run=False)
    recent = _save(
        db,
        "bought in the last 30 days",
        {"conditions": [{"kind": "purchases", "op": "gte", "value": 1, "within_last_days": 30}]},
    )
    read = db.read(lambda s: audiences.get_audience(session=s, audience_id=recent))
    assert read is not None and read.name == "bought in the last 30 days"
    assert read.definition.conditions[0].kind == "purchases"
    assert db.read(lambda s: audiences.get_audience(session=s, audience_id=recent + 99)) is None

    def members(now: object) -> list[int]:
        return db.read(lambda s: audiences.member_ids(session=s, audience_id=recent, now=now))

    assert members(NOW) == [shop.alice, shop.carol]
    assert members(day(20)) == [shop.alice, shop.bob]  # as it stood on day 20
    post_order(db, "D1", customer={"id": shop.dave}, store_code="SH01", at=day(59))
    assert members(NOW) == [shop.alice, shop.carol]  # the store is as last refreshed
    audiences.refresh_audience_store(db=db)
    assert members(NOW) == [shop.alice, shop.carol, shop.dave]
    assert db.read(lambda s: audiences.count_members(session=s, audience_id=recent, now=NOW)) == 3


def test_before_any_extract_an_audience_has_no_members(db: Database) -> None:
    everyone = _save(db, "everyone", {"conditions": []})
    assert db.read(lambda s: audiences.member_ids(session=s, audience_id=everyone)) == []
    assert db.read(lambda s: audiences.count_members(session=s, audience_id=everyone)) == 0
