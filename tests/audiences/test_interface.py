from patron import audiences
from patron.audiences import service
from patron.audiences.schemas import AudienceCreate
from patron.core.db import Database
from tests.helpers import ACTOR, post_order, sign_up


def test_member_ids_of_a_saved_audience_on_the_analytics_store(db: Database) -> None:
    a = sign_up(
        db, phone="13800000001", gender="female", birthday="1990-01-01", city="上海", tags=["vip"]
    )
    b = sign_up(db, phone="13800000002", gender="male", city="北京")
    post_order(db, "o1", customer={"phone": "13800000001"})
    audiences.refresh_audience_store(db=db)
    aud = db.write(
        lambda s: service.create_audience(
            session=s,
            actor=ACTOR,
            audience_in=AudienceCreate.model_validate(
                {
                    "name": "x",
                    "definition": {
                        "match": "any",
                        "conditions": [
                            {"kind": "tag", "tags": ["vip"]},
                            {"kind": "profile", "attribute": "city", "values": ["北京"]},
                        ],
                    },
                }
            ),
        )
    )
    ids = db.read(lambda s: audiences.member_ids(session=s, audience_id=aud.id))
    assert ids == [a, b]
    aud2 = db.write(
        lambda s: service.create_audience(
            session=s,
            actor=ACTOR,
            audience_in=AudienceCreate.model_validate(
                {
                    "name": "y",
                    "definition": {
                        "conditions": [
                            {"kind": "purchases", "op": "gte", "value": 1},
                            {"kind": "profile", "attribute": "age_band", "values": ["35_44"]},
                        ]
                    },
                }
            ),
        )
    )
    assert db.read(lambda s: audiences.member_ids(session=s, audience_id=aud2.id)) == [a]
