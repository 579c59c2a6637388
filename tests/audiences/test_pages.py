"""The audience console: the list with counts (a store manager's stores only), the builder's
add/remove of conditions and groups, its live count and errors, saving."""

from __future__ import annotations

from patron.audiences import builder, service
from patron.core.db import Database
from patron.staff.roles import Role
from tests.audiences.helpers import build_shop
from tests.web.helpers.console import console, text_of


def _form(state: builder.Node, csrf: str, **extra: str) -> dict[str, list[str]]:
    """The boxes the builder would post for ``state``."""
    form: dict[str, list[str]] = {"csrf_token": [csrf], "match.r": [state["match"]]}

    def walk(node: builder.Node, place: str) -> None:
        for i, child in enumerate(node["children"]):
            here = f"{place}.{i}"
            if child["type"] == "group":
                form[f"type.{here}"] = ["group"]
                form[f"match.{here}"] = [child["match"]]
                walk(child, here)
            else:
                form[f"type.{here}"] = ["cond"]
                form[f"kind.{here}"] = [child["kind"]]
                for box, value in child["boxes"].items():
                    form[f"{box}.{here}"] = value if isinstance(value, list) else [value]

    walk(state, "r")
    for key, value in extra.items():
        form[key] = [value]
    return form


def test_the_builder_adds_and_removes_conditions_and_groups_and_counts_live(
    db: Database,
) -> None:
    build_shop(db, analytics_run=False)
    with console(db, "mia", Role.MARKETER) as (client, csrf):
        page = client.get("/audiences/new")
        assert page.status_code == 200, page.text
        assert 'id="builder"' in page.text and "添加条件" in page.text
        state = builder.empty_state()
        state["children"].append(builder.new_condition("tag"))
        state["children"][0]["boxes"]["values"] = ["vip"]
        added = client.post("/audiences/builder", data=_form(state, csrf, action="add-group:r"))
        assert added.status_code == 200, added.text
        assert 'name="type.r.1" value="group"' in added.text
        assert 'name="kind.r.1.0"' in added.text  # the new group holds one condition
        assert 'id="live-count">—' in added.text  # its condition has no tag yet
        removed = client.post("/audiences/builder", data=_form(state, csrf, action="remove:r.0"))
        assert 'name="kind.r.0"' not in removed.text
        counted = client.post("/audiences/builder/count", data=_form(state, csrf))
        assert 'id="live-count">2<' in counted.text  # alice and bob
        state["children"].append(builder.new_condition("points"))
        state["children"][1]["boxes"].update({"op": "between", "value": "1"})
        wrong = client.post("/audiences/builder/count", data=_form(state, csrf))
        assert 'data-place="r.1/value_to"' in wrong.text
        assert "请填写范围的上限" in wrong.text
        state["children"].pop()
        saved = client.post(
            "/audiences/save",
            data=_form(state, csrf, name="贵宾客户", description="打了 vip 标签"),
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
        listing = client.get("/audiences")
        assert "贵宾客户" in listing.text
        assert text_of(listing.text).count(" 2 ") >= 1
    saved_audience = db.read(lambda s: service.list_audiences(session=s))[0]
    assert saved_audience.definition.model_dump()["conditions"][0]["tags"] == ["vip"]


def test_a_store_manager_sees_counts_for_their_stores_and_no_builder(db: Database) -> None:
    shop = build_shop(db, analytics_run=False)
    from patron.audiences.schemas import AudienceCreate, Definition
    from tests.helpers import ACTOR

    definition = Definition.model_validate({"conditions": [{"kind": "tag", "tags": ["vip"]}]})
    db.write(
        lambda s: service.create_audience(
            session=s, audience_in=AudienceCreate(name="贵宾", definition=definition), actor=ACTOR
        )
    )
    with console(db, "sam", Role.STORE_MANAGER, stores=["BJ01"]) as (client, _):
        listing = client.get("/audiences")
        assert listing.status_code == 200
        assert '<td class="num count">1</td>' in listing.text  # bob only
        assert "/audiences/new" not in listing.text
        assert client.get("/audiences/new").status_code == 403
    assert shop.bob
