"""What people read about an error comes from its code, through one table (web/messages.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from patron.core.errors import InvalidInput
from patron.loyalty.exceptions import CouponLimitReached
from patron.web import i18n
from patron.web.messages import MESSAGES, message_for, message_line

SRC = Path(__file__).parents[2] / "src" / "patron"


@pytest.fixture
def chinese() -> Iterator[None]:
    i18n.use_language(i18n.language_for("zh") or i18n.DEFAULT)
    yield
    i18n.use_language(i18n.DEFAULT)


def _codes_raised() -> dict[str, str]:
    """Every message code the source raises with (message_code=..., rule_error(...),
    FormError(field, code)), with where."""
    found: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            literals = []
            if name == "rule_error" and node.args:
                literals.append(node.args[0])
            if name == "FormError" and len(node.args) > 1:
                literals.append(node.args[1])
            literals += [k.value for k in node.keywords if k.arg == "message_code"]
            for literal in literals:
                if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                    found.setdefault(literal.value, f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_every_code_the_code_raises_with_has_a_message() -> None:
    raised = _codes_raised()
    assert len(raised) > 30
    missing = {code: where for code, where in raised.items() if code not in MESSAGES}
    assert not missing, f"add these codes to web/messages.py: {missing}"


def test_a_refusal_is_said_from_its_code_and_facts_in_the_readers_language(chinese: None) -> None:
    refusal = CouponLimitReached("customer already holds 1 of 'C20'", limit=1)
    assert message_for(refusal) == "该会员已达此模板的限领数量（1）"
    i18n.use_language(i18n.language_for("en") or i18n.DEFAULT)
    assert message_for(refusal) == ("this member already holds as many as the template allows (1)")


def test_rewording_the_english_message_keeps_the_translation(chinese: None) -> None:
    before = InvalidInput("until", "is before the first day", message_code="range_reversed")
    after = InvalidInput("until", "ends before it starts", message_code="range_reversed")
    assert message_for(before) == message_for(after) == "早于开始日期"


def test_the_command_line_names_the_field_before_the_message(chinese: None) -> None:
    weak = InvalidInput(
        "password", "must be at least 12 characters", message_code="password_too_short", n=12
    )
    assert message_line(weak).startswith("password: ") and "12" in message_line(weak)


def test_a_list_with_too_few_items_is_told_its_number_not_characters(chinese: None) -> None:
    from pydantic import BaseModel, Field, ValidationError

    from patron.web.forms import field_errors

    class Picks(BaseModel):
        one: list[int] = Field(min_length=1)
        three: list[int] = Field(min_length=3)

    with pytest.raises(ValidationError) as caught:
        Picks(one=[], three=[1])
    assert field_errors(caught.value) == {"one": "必填", "three": "至少 3 项"}
