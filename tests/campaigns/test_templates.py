"""Templates: their variables checked, a preview with a real customer's masked profile, the
SMS length and segment count, and a test send to a member of staff's own address."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from patron.campaigns import templates
from patron.campaigns.schemas import TrialSendIn
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.settings import Settings
from tests.campaigns.helpers import EMAIL, SMS, make_template
from tests.engagement.stand_ins import StandIns
from tests.helpers import ACTOR, add_store, reachable_customer


def test_an_unknown_variable_or_an_sms_without_the_way_out_is_refused_at_its_field(
    db: Database,
) -> None:
    with pytest.raises(InvalidInput) as unknown:
        make_template(db, {**EMAIL, "text_zh": "{{ phone }} 您好"})
    assert unknown.value.facts["field"] == "text_zh"
    with pytest.raises(InvalidInput) as no_way_out:
        make_template(db, {**SMS, "text_zh": "全场8折"})
    assert no_way_out.value.message_code == "sms_needs_opt_out"


def test_sms_length_counts_the_signature_and_splits_long_texts_in_parts_of_67() -> None:
    assert templates.sms_length("好" * 64, "南京路店").model_dump() == {
        "characters": 70,
        "segments": 1,
    }
    assert templates.sms_length("好" * 65, "南京路店").segments == 2
    assert templates.sms_length("好" * 200).segments == 3


def test_the_preview_fills_a_real_customer_masked(db: Database) -> None:
    add_store(db, "SH01", "上海南京路店")
    cid = reachable_customer(db, store="SH01", name="王小明")
    sms = make_template(db, SMS)

    preview = db.read(
        lambda s: templates.preview_template(session=s, template_id=sms.id, customer_id=cid)
    )

    assert preview.text.startswith("王**您好，凭券CP-****全场8折")
    assert "王小明" not in preview.text
    assert preview.sms is not None and preview.sms.segments == 1


def test_a_test_send_reaches_the_staff_members_own_address(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    configure()
    email = make_template(db, EMAIL)
    outcome = db.write(
        lambda s: templates.send_test_message(
            session=s,
            template_id=email.id,
            send_in=TrialSendIn(to="marketer@shop.example.cn", language="en"),
            actor=ACTOR,
        )
    )
    assert outcome == "sent"
    (mail,) = servers.smtp.delivered
    assert mail.to == ["marketer@shop.example.cn"]
    assert mail.message["Subject"] == "王**, 20% off on members' day"
