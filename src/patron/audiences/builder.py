"""The console builder's state: a definition as the form holds it while it is edited.

The builder's form names each box by the node's place, ``r`` for the root group and
``r.0.2`` for the third item of the first: ``type.r.0`` (group or cond), ``match.r.0`` for a
group, ``kind.r.0.2``, ``op.r.0.2``, ``values.r.0.2`` … for a condition. The state is parsed
from those boxes, changed by one action (add a condition or a group to a group, remove a
node), rendered again (places re-numbered), and turned into a definition for the count and
the save. Amounts are typed in yuan and kept in fen. Pure: no database, no web.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.audiences.schemas import Definition, Group

ROOT = "r"
# The boxes a condition may have; which a kind uses is in KIND_BOXES.
BOXES = (
    "kind",
    "attribute",
    "op",
    "values",
    "value",
    "value_to",
    "date",
    "days",
    "measure",
    "within_last_days",
    "since",
    "until",
    "category",
    "sku",
    "store_id",
    "field",
    "channel",
    "purpose",
)
_DATED = ("op", "date", "days")
KIND_BOXES: dict[str, tuple[str, ...]] = {
    "profile": ("attribute", "op", "values"),
    "signed_up": _DATED,
    "custom_field": ("field", "op", "value", "value_to", "values"),
    "tag": ("op", "values"),
    "segment": ("op", "values"),
    "stage": ("op", "values"),
    "churn_band": ("op", "values"),
    "clv": ("op", "value", "value_to"),
    "tier": ("op", "values"),
    "points": ("op", "value", "value_to"),
    "purchases": (
        "measure",
        "op",
        "value",
        "value_to",
        "within_last_days",
        "since",
        "until",
        "category",
        "sku",
        "store_id",
    ),
    "consent": ("channel", "purpose", "op"),
    "first_purchase": _DATED,
    "last_purchase": _DATED,
}
_OPS = {
    "set": ("in", "not_in"),
    "profile": ("in", "not_in", "is_set", "is_not_set"),
    "tag": ("has_any", "has_all", "has_none"),
    "consent": ("allowed", "not_allowed"),
    "number": ("gte", "gt", "eq", "ne", "lt", "lte", "between"),
    "dated": ("within_last_days", "more_than_days_ago", "before", "after"),
    "custom_field": (
        "eq",
        "ne",
        "contains",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "before",
        "after",
        "in",
        "not_in",
        "is_set",
        "is_not_set",
    ),
}
_KIND_OPS = {
    "profile": "profile",
    "signed_up": "dated",
    "custom_field": "custom_field",
    "tag": "tag",
    "segment": "set",
    "stage": "set",
    "churn_band": "set",
    "clv": "number",
    "tier": "set",
    "points": "number",
    "purchases": "number",
    "consent": "consent",
    "first_purchase": "dated",
    "last_purchase": "dated",
}
# The comparisons each kind offers, the first the default.
OPS_OF_KIND: dict[str, tuple[str, ...]] = {kind: _OPS[name] for kind, name in _KIND_OPS.items()}


# Boxes holding several values (a multiple select, or text split at commas).
LISTS = ("values",)
DEFAULT_KIND = "tag"

Node = dict[str, Any]


def new_condition(kind: str = DEFAULT_KIND) -> Node:
    return {"type": "cond", "kind": kind, "boxes": {"op": OPS_OF_KIND[kind][0]}}


def new_group(match: str = "all") -> Node:
    return {"type": "group", "match": match, "children": [new_condition()]}


def empty_state() -> Node:
    return {"type": "group", "match": "all", "children": []}


def _place(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in path.split(".")[1:])


def _split(texts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for text in texts:
        for part in text.replace("，", ",").split(","):
            if part.strip():
                out.append(part.strip())
    return out


def parse_state(form: Mapping[str, list[str]]) -> Node:
    """The tree the form's boxes describe (``form``: box name → its values, in order)."""
    paths = sorted(
        (key.removeprefix("type.") for key in form if key.startswith("type.r.")), key=_place
    )
    root = empty_state()
    root["match"] = _first(form, f"match.{ROOT}") or "all"
    nodes: dict[str, Node] = {ROOT: root}
    for path in paths:
        parent = nodes.get(path.rsplit(".", 1)[0])
        if parent is None or parent["type"] != "group":
            continue
        if _first(form, f"type.{path}") == "group":
            node: Node = {
                "type": "group",
                "match": _first(form, f"match.{path}") or "all",
                "children": [],
            }
        else:
            kind = _first(form, f"kind.{path}")
            kind = kind if kind in KIND_BOXES else DEFAULT_KIND
            boxes: dict[str, Any] = {}
            for box in KIND_BOXES.get(kind, ()):
                if box in LISTS:
                    boxes[box] = _split(form.get(f"{box}.{path}", []))
                else:
                    boxes[box] = _first(form, f"{box}.{path}") or ""
            if kind in OPS_OF_KIND and boxes.get("op") not in OPS_OF_KIND[kind]:
                boxes["op"] = OPS_OF_KIND[kind][0]  # the kind changed: its first comparison
            node = {"type": "cond", "kind": kind, "boxes": boxes}
        nodes[path] = node
        parent["children"].append(node)
    return root


def _first(form: Mapping[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0].strip()


def _find(root: Node, path: str) -> Node | None:
    node = root
    for index in _place(path):
        children = node.get("children") or []
        if index >= len(children):
            return None
        node = children[index]
    return node


def apply_action(root: Node, action: str) -> Node:
    """``add-cond:<group>``, ``add-group:<group>`` or ``remove:<node>``; others do nothing."""
    verb, _, path = action.partition(":")
    if not path.startswith(ROOT):
        return root
    if verb in ("add-cond", "add-group"):
        group = _find(root, path)
        if group is not None and group["type"] == "group":
            group["children"].append(new_condition() if verb == "add-cond" else new_group())
    elif verb == "remove" and path != ROOT:
        parent_path, _, index = path.rpartition(".")
        parent = _find(root, parent_path)
        if parent is not None and index.isdigit() and int(index) < len(parent["children"]):
            del parent["children"][int(index)]
    return root


def _fen(text: str) -> Any:
    """Yuan as typed → fen; what does not read as yuan is passed on for the schema to
    refuse at its field."""
    clean = text.replace(",", "").lstrip("¥￥").strip()
    try:
        return int(Decimal(clean) * 100)
    except (InvalidOperation, ValueError):
        return clean


def _condition(node: Node) -> dict[str, Any]:
    kind = node["kind"]
    out: dict[str, Any] = {"kind": kind}
    money = kind == "clv" or (kind == "purchases" and node["boxes"].get("measure") == "net_fen")
    for box, value in node["boxes"].items():
        if value in ("", []):
            continue
        if kind == "tag" and box == "values":
            out["tags"] = value
        elif money and box in ("value", "value_to"):
            out[box] = _fen(value)
        else:
            out[box] = value
    return out


def to_definition(root: Node) -> dict[str, Any]:
    """The definition (as JSON, for ``Definition.model_validate``) the tree describes."""

    def walk(node: Node) -> dict[str, Any]:
        if node["type"] == "group":
            return {
                "kind": "group",
                "match": node["match"],
                "conditions": [walk(child) for child in node["children"]],
            }
        return _condition(node)

    out = walk(root)
    out.pop("kind")
    return out


def from_definition(definition: Definition) -> Node:
    """The builder's tree of a saved definition (amounts back in yuan)."""

    def walk(item: Any) -> Node:
        if isinstance(item, Group):
            return {
                "type": "group",
                "match": item.match,
                "children": [walk(child) for child in item.conditions],
            }
        data = item.model_dump(mode="json")
        kind = data["kind"]
        money = kind == "clv" or (kind == "purchases" and data.get("measure") == "net_fen")
        boxes: dict[str, Any] = {}
        for box in KIND_BOXES.get(kind, ()):
            value = data.get("tags" if kind == "tag" and box == "values" else box)
            if box in LISTS:
                boxes[box] = [str(v) for v in value or []]
            elif value is None:
                boxes[box] = ""
            elif money and box in ("value", "value_to"):
                boxes[box] = str(Decimal(value) / 100)
            else:
                boxes[box] = str(value)
        return {"type": "cond", "kind": kind, "boxes": boxes}

    return walk(definition)


def error_place(field: str) -> tuple[str, str]:
    """Where in the builder a definition's error belongs: (node place, box), from its dotted
    field (``conditions.0.group.conditions.1.tag.tags.0`` → ``("r.0.1", "values")``)."""
    parts = field.split(".")
    if parts and parts[0] == "definition":
        parts = parts[1:]
    path = ROOT
    i = 0
    while i + 1 < len(parts) and parts[i] == "conditions" and parts[i + 1].isdigit():
        path += f".{parts[i + 1]}"
        i += 2
        if i < len(parts) and (parts[i] in KIND_BOXES or parts[i] == "group"):
            i += 1
    box = parts[i] if i < len(parts) else ""
    return path, "values" if box == "tags" else box
