"""The builder's form state, without a database: boxes → tree → definition and back."""

from __future__ import annotations

from patron.audiences import builder
from patron.audiences.schemas import Definition

NESTED = {
    "match": "any",
    "conditions": [
        {"kind": "tag", "op": "has_all", "tags": ["vip", "student"]},
        {
            "kind": "group",
            "match": "all",
            "conditions": [
                {"kind": "clv", "op": "gte", "value": 123_450},
                {
                    "kind": "purchases",
                    "measure": "net_fen",
                    "op": "between",
                    "value": 100,
                    "value_to": 500_000,
                    "within_last_days": 30,
                },
                {"kind": "last_purchase", "op": "before", "date": "2026-03-01"},
            ],
        },
    ],
}


def _boxes(state: builder.Node) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {"match.r": [state["match"]]}

    def walk(node: builder.Node, place: str) -> None:
        for i, child in enumerate(node["children"]):
            here = f"{place}.{i}"
            form[f"type.{here}"] = [child["type"]]
            if child["type"] == "group":
                form[f"match.{here}"] = [child["match"]]
                walk(child, here)
            else:
                form[f"kind.{here}"] = [child["kind"]]
                for box, value in child["boxes"].items():
                    form[f"{box}.{here}"] = value if isinstance(value, list) else [value]

    walk(state, "r")
    return form


def test_a_saved_definition_goes_through_the_form_unchanged() -> None:
    definition = Definition.model_validate(NESTED)
    state = builder.from_definition(definition)
    assert state["children"][1]["children"][0]["boxes"]["value"] == "1234.5"  # yuan on screen
    again = builder.to_definition(builder.parse_state(_boxes(state)))
    assert Definition.model_validate(again) == definition


def test_actions_add_and_remove_nodes_and_renumber() -> None:
    state = builder.from_definition(Definition.model_validate(NESTED))
    builder.apply_action(state, "add-cond:r.1")
    assert len(state["children"][1]["children"]) == 4
    builder.apply_action(state, "add-group:r")
    assert state["children"][2]["type"] == "group" and len(state["children"][2]["children"]) == 1
    builder.apply_action(state, "remove:r.0")
    assert [c["type"] for c in state["children"]] == ["group", "group"]
    builder.apply_action(state, "remove:r")  # the root stays
    builder.apply_action(state, "remove:r.9")  # nothing there
    assert len(state["children"]) == 2


def test_a_changed_kind_starts_from_its_first_comparison() -> None:
    form = {"type.r.0": ["cond"], "kind.r.0": ["segment"], "op.r.0": ["has_all"]}
    state = builder.parse_state(form)
    assert state["children"][0]["boxes"]["op"] == "in"


def test_errors_are_placed_at_their_node_and_box() -> None:
    assert builder.error_place("definition.conditions.1.group.conditions.0.tag.tags.0") == (
        "r.1.0",
        "values",
    )
    assert builder.error_place("conditions.0.points.value_to") == ("r.0", "value_to")
    assert builder.error_place("conditions.0") == ("r.0", "")
