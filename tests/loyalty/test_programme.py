"""The programme's terms: built-in until changed; changes saved as versions, audited, in force
for the next order, over the API and the console; nobody can drop a tier members hold."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from patron.audit import service as audit
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.loyalty import programme, rules
from patron.loyalty.accounts import get_programme
from patron.loyalty.points import list_lots
from patron.loyalty.schemas import CommitIn
from patron.loyalty.terms import ProgrammeTerms, ProgrammeUpdate
from patron.loyalty.till import commit_order
from patron.staff.roles import Role
from tests.helpers import ACTOR, post_order
from tests.loyalty.helpers import TUESDAY, member
from tests.web.helpers.api import api_client
from tests.web.helpers.console import console, make_shop, text_of


def _update(**changes: Any) -> ProgrammeUpdate:
    terms = ProgrammeTerms().model_dump()
    return ProgrammeUpdate.model_validate({**terms, "reason": "spring terms", **changes})


def _save(db: Database, update_in: ProgrammeUpdate) -> int:
    return db.write(
        lambda s: programme.update(session=s, update_in=update_in, actor=ACTOR, now=TUESDAY)
    ).version


def _buy(db: Database, customer_id: int, key: str, fen: int) -> int:
    """Post and commit an order under the terms in force; the points it earned."""
    post_order(
        db,
        key,
        customer={"id": customer_id},
        lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": fen}],
        at=TUESDAY,
    )
    commit_in = CommitIn(source="pos-test", external_id=key)
    done = db.write(lambda s: commit_order(session=s, commit_in=commit_in, now=TUESDAY))
    return done.points_earned


def test_the_built_in_terms_are_in_force_until_someone_changes_them(db: Database) -> None:
    terms = db.read(programme.read)
    assert (terms.version, terms.changed_by, terms.reason) == (0, None, None)
    assert (
        terms.model_dump(include=set(ProgrammeTerms.model_fields)) == ProgrammeTerms().model_dump()
    )
    assert db.read(get_programme) == rules.Programme()
    assert db.read(programme.history) == []


def test_new_terms_are_in_force_for_the_next_order_and_kept_with_who_and_why(
    db: Database,
) -> None:
    customer = member(db)
    assert _buy(db, customer, "O-1", 10_000) == 100  # 1 point a yuan, built in

    version = _save(db, _update(earn_points_per_yuan=3, expiry_days=180))
    assert version == 1
    assert _buy(db, customer, "O-2", 10_000) == 300
    lots = db.read(lambda s: list_lots(session=s, customer_id=customer))
    newest = max(lots, key=lambda lot: lot.id)
    assert newest.expires_at - newest.earned_at == timedelta(days=180)

    terms = db.read(programme.read)
    assert (terms.version, terms.earn_points_per_yuan, terms.changed_by, terms.reason) == (
        1,
        3,
        ACTOR.name,
        "spring terms",
    )
    [change] = db.read(programme.history)
    assert change.changed == ["earn_points_per_yuan", "expiry_days"]
    entries = db.read(lambda s: audit.list_audit(session=s, action="loyalty.programme.update"))
    [entry] = entries.items
    assert entry.reason == "spring terms"
    assert entry.details == {"changed": ["earn_points_per_yuan", "expiry_days"], "from_version": 0}


def test_history_names_each_change_against_the_terms_before_it(db: Database) -> None:
    _save(db, _update(member_weekdays=[5, 6]))
    tiers = ProgrammeTerms().model_dump()["tiers"]
    tiers[2]["discount_bp"] = 800
    tiers.append(dict(tiers[3], code="diamond", name="钻石", rank=4, min_spend_fen=10_000_000))
    _save(db, _update(member_weekdays=[5, 6], tiers=tiers, reason="钻石卡"))
    newest, first = db.read(programme.history)
    assert (newest.version, newest.reason) == (2, "钻石卡")
    assert newest.changed == ["tiers.gold.discount_bp", "tiers.diamond (added)"]
    assert first.changed == ["member_weekdays"]
    assert [t.code for t in db.read(get_programme).tiers][-1] == "diamond"


def test_a_tier_members_hold_cannot_be_dropped_and_nothing_is_saved(db: Database) -> None:
    customer = member(db)
    _buy(db, customer, "O-1", 5_000)  # opens the account at the lowest tier
    tiers = ProgrammeTerms().model_dump()["tiers"]
    renamed = [dict(tiers[0], code="basic", name="普通会员"), *tiers[1:]]
    with pytest.raises(InvalidInput) as refused:
        _save(db, _update(tiers=renamed))
    assert refused.value.field == "tiers" and refused.value.facts["tier"] == "member"
    assert db.read(programme.read).version == 0
    # Renaming it (same code) and dropping a tier nobody holds are fine.
    kept = [dict(tiers[0], name="普通会员"), *tiers[1:3]]
    assert _save(db, _update(tiers=kept)) == 1
    assert db.read(get_programme).tier("member").name == "普通会员"


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ([{"code": "a", "name": "A", "rank": 0}, {"code": "a", "name": "B", "rank": 1}], "tiers.1.code"),
        ([{"code": "a", "name": "A", "rank": 0}, {"code": "b", "name": "B", "rank": 0}], "tiers.1.rank"),
        ([{"code": "a", "name": "A", "rank": 0, "min_spend_fen": 100}], "tiers.0.min_spend_fen"),
        (
            [
                {"code": "a", "name": "A", "rank": 0},
                {"code": "b", "name": "B", "rank": 2, "min_spend_fen": 500},
                {"code": "c", "name": "C", "rank": 1, "min_spend_fen": 900},
            ],
            "tiers.1.min_spend_fen",
        ),
        ([], "tiers"),
    ],
)  # fmt: skip
def test_tiers_must_climb_from_a_free_starting_tier(tiers: list[Any], field: str) -> None:
    from patron.web.errors import validation_items

    with pytest.raises(ValidationError) as bad:
        _update(tiers=tiers)
    assert validation_items(bad.value.errors())[0]["field"] == field


def test_other_processes_see_a_change_within_seconds_and_ledger_writes_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.read(programme.current).earn_points_per_yuan == 1  # kept here
    # Saved by another server process: this one is not told.
    monkeypatch.setattr(programme, "forget", lambda: None)
    _save(db, _update(earn_points_per_yuan=2))
    assert db.read(programme.current).earn_points_per_yuan == 1  # a till's quote
    assert db.read(lambda s: programme.current(s, fresh=True)).earn_points_per_yuan == 2
    _save(db, _update(earn_points_per_yuan=3))
    assert db.read(programme.current).earn_points_per_yuan == 2  # within 10 s
    monkeypatch.setattr(programme, "PROGRAMME_SECONDS", 0.0)  # ... and once they are past
    assert db.read(programme.current).earn_points_per_yuan == 3


# ------------------------------------------------------------------------------- over HTTP


def test_the_terms_over_the_api(db: Database) -> None:
    with api_client(db) as api:
        terms = api.get("/api/v1/loyalty/programme").json()
        assert terms["version"] == 0 and terms["redeem_points_per_yuan"] == 100
        body = {k: v for k, v in terms.items() if k not in ("version", "changed_at", "changed_by")}
        changed = api.put(
            "/api/v1/loyalty/programme", json={**body, "redeem_points_per_yuan": 50, "reason": "x"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 1 and changed.json()["redeem_points_per_yuan"] == 50
        bad = api.put(
            "/api/v1/loyalty/programme", json={**body, "max_redeem_share_bp": 12_000, "reason": "x"}
        )
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "max_redeem_share_bp"
        no_reason = api.put("/api/v1/loyalty/programme", json={**body, "reason": ""})
        assert no_reason.json()["detail"][0]["field"] == "reason"
        [change] = api.get("/api/v1/loyalty/programme/history").json()
        assert change["changed"] == ["redeem_points_per_yuan"]
    with api_client(db, role=Role.SERVICE_AGENT) as till:
        assert till.get("/api/v1/loyalty/programme").status_code == 200
        assert (
            till.put("/api/v1/loyalty/programme", json={**body, "reason": "x"}).status_code == 403
        )


def _form(html: str) -> dict[str, Any]:
    """The change form as the page fills it: its boxes' names and values (tier rows as lists)."""
    form = re.search(r'<form method="post" action="/loyalty/programme".*?</form>', html, re.DOTALL)
    assert form, "no change form"
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name:
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                data.setdefault(name.group(1), []).append(value.group(1) if value else "on")
            continue
        key, text = name.group(1), value.group(1) if value else ""
        if key.startswith("tier_"):
            data.setdefault(key, []).append(text)
        else:
            data[key] = text
    for area in re.findall(
        r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form.group(0), re.DOTALL
    ):
        data[area[0]] = area[1]
    data["tier_basis"] = "spend"
    return data


def test_a_manager_changes_the_terms_on_the_programme_page(db: Database) -> None:
    shop = make_shop(db)
    with console(shop.db) as (client, csrf):
        page = client.get("/loyalty")
        assert page.status_code == 200 and 'id="programme-form"' in page.text
        assert "内置条款" in text_of(page.text)
        form = _form(page.text)
        assert form["earn_points_per_yuan"] == "1" and form["max_redeem_share"] == "50"
        assert form["tier_code"] == ["member", "silver", "gold", "platinum", ""]
        form |= {"earn_points_per_yuan": "2", "member_weekdays": ["5"], "csrf_token": csrf}
        form["tier_discount"][2] = "8"  # gold: 8 % off
        form["tier_code"][4], form["tier_name"][4] = "diamond", "钻石"
        form["tier_min_spend"][4], form["tier_min_points"][4] = "100000", "100000"
        form["category_multipliers"] = "生鲜/水果 = 1.5\n"

        no_reason = client.post("/loyalty/programme", data=form, follow_redirects=False)
        assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text

        saved = client.post(
            "/loyalty/programme", data={**form, "reason": "冬季会员日"}, follow_redirects=False
        )
        assert saved.status_code == 303, saved.text
        after = client.get(saved.headers["location"])
        assert 'id="saved"' in after.text and "冬季会员日" in text_of(after.text)
    programme_now = db.read(get_programme)
    assert programme_now.earn_points_per_yuan == 2
    assert programme_now.member_weekdays == frozenset({5})
    assert programme_now.tier("gold").discount_bp == 800
    assert programme_now.tier("diamond").min_spend_fen == 10_000_000
    assert programme_now.category_multipliers_bp == {"生鲜/水果": 15_000}


def test_the_change_form_marks_the_bad_box_and_saves_nothing(db: Database) -> None:
    shop = make_shop(db)
    with console(shop.db) as (client, csrf):
        form = _form(client.get("/loyalty").text) | {"csrf_token": csrf, "reason": "x"}
        form["tier_min_spend"][2] = "1000"  # gold below silver's 2,000
        form["sku_multipliers"] = "SKU-1 two"
        bad = client.post("/loyalty/programme", data=form)
        assert bad.status_code == 422
        assert 'id="sku_multipliers-error"' in bad.text
        form["sku_multipliers"] = ""
        bad = client.post("/loyalty/programme", data=form)
        assert bad.status_code == 422
        row_error = re.search(r'id="tier-2-error">(.*?)<', bad.text)
        assert row_error and "升级消费" in row_error.group(1)
        assert 'value="1000"' in bad.text  # what was typed is kept
    assert db.read(programme.read).version == 0


def test_roles_without_loyalty_manage_see_the_terms_but_no_form(db: Database) -> None:
    shop = make_shop(db)
    with console(shop.db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        page = client.get("/loyalty")
        assert page.status_code == 200
        assert 'id="terms"' in page.text and 'id="programme-form"' not in page.text


def test_the_page_names_each_change_in_words() -> None:
    from patron.loyalty.pages.programme import change_labels

    changed = ["earn_points_per_yuan", "tier_basis", "tier_window_days", "tiers.gold.discount_bp"]
    assert change_labels([*changed, "tiers.vip (added)"]) == [  # in the default zh-CN
        "每实付 1 元得积分",
        "等级评定依据",
        "gold · 优惠",
        "新增等级 vip",
    ]


def test_terms_edited_from_an_older_version_are_refused_not_overwritten(db: Database) -> None:
    from patron.core.errors import Conflict

    _save(db, _update(expected_version=0, earn_points_per_yuan=2))
    with pytest.raises(Conflict) as stale:  # edited from version 0, but 1 is in force now
        _save(db, _update(expected_version=0, expiry_days=30))
    assert stale.value.facts["version"] == 1
    assert db.read(programme.read).expiry_days == 365
    with api_client(db) as api:
        body = _update(expected_version=0).model_dump(mode="json")
        refused = api.put("/api/v1/loyalty/programme", json=body)
        assert refused.status_code == 409, refused.text
    shop = make_shop(db)
    with console(shop.db) as (client, csrf):
        form = _form(client.get("/loyalty").text) | {"csrf_token": csrf, "reason": "x"}
        assert form["expected_version"] == "1"
        _save(db, _update(expected_version=1, earn_points_per_yuan=3))  # someone else
        late = client.post("/loyalty/programme", data=form)
        assert late.status_code == 422 and "第 2 版" in _text_of_id(late.text, "form-error")
    assert db.read(programme.read).earn_points_per_yuan == 3


def _text_of_id(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.DOTALL)
    assert match, f"no element #{element_id}"
    return match.group(1)


def test_a_partial_put_is_refused_naming_a_missing_term(db: Database) -> None:
    with api_client(db) as api:
        partial = api.put(
            "/api/v1/loyalty/programme", json={"earn_points_per_yuan": 2, "reason": "x"}
        )
        assert partial.status_code == 422
        assert partial.json()["detail"][0]["field"] == "return_window_days"
    assert db.read(programme.read).version == 0


def test_tiers_sent_out_of_order_are_kept_lowest_first(db: Database) -> None:
    tiers = list(reversed(ProgrammeTerms().model_dump()["tiers"]))
    _save(db, _update(tiers=tiers))
    assert [t.code for t in db.read(programme.read).tiers] == [
        "member",
        "silver",
        "gold",
        "platinum",
    ]
    assert db.read(get_programme).tiers[0].code == "member"


def test_the_form_keeps_names_with_spaces_a_zero_multiplier_and_marks_list_boxes(
    db: Database,
) -> None:
    shop = make_shop(db)
    with console(shop.db) as (client, csrf):
        form = _form(client.get("/loyalty").text) | {"csrf_token": csrf, "reason": "x"}
        too_much = client.post(
            "/loyalty/programme", data=form | {"category_multipliers": "生鲜 = 1000"}
        )
        assert too_much.status_code == 422
        assert 'id="category_multipliers-error"' in too_much.text
        no_cap = client.post("/loyalty/programme", data=form | {"max_redeem_share": ""})
        assert no_cap.status_code == 422 and 'id="max_redeem_share-error"' in no_cap.text
        form["tier_multiplier"][0] = "0"  # the starting tier earns nothing
        saved = client.post(
            "/loyalty/programme",
            data=form | {"excluded_categories": "Fresh Food, 烟草/香烟"},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
    now = db.read(get_programme)
    assert now.excluded_categories == frozenset({"Fresh Food", "烟草/香烟"})
    assert now.tier("member").points_multiplier_bp == 0
