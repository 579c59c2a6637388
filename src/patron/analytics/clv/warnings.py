"""Model warnings: English text for logs and the API, and a code with its numbers so a page
can say the same thing in its own language.

A ``ModelWarning`` is a ``str`` (the English sentence), so code that reads warnings as text
keeps working; ``code`` and ``numbers`` ride along, and ``to_json`` gives all three.
"""

from __future__ import annotations

from typing import Any


class ModelWarning(str):
    """An English warning sentence carrying its ``code`` and the ``numbers`` in it."""

    code: str
    numbers: dict[str, Any]

    def __new__(cls, code: str, text: str, **numbers: Any) -> ModelWarning:
        warning = super().__new__(cls, text)
        warning.code = code
        warning.numbers = {k: _plain(v) for k, v in numbers.items()}
        return warning

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "numbers": dict(self.numbers), "text": str(self)}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4)
    return value


def warning_json(warning: str) -> dict[str, Any]:
    """A warning as JSON: its code and numbers when it has them, else code ``text``."""
    if isinstance(warning, ModelWarning):
        return warning.to_json()
    return {"code": "text", "numbers": {}, "text": str(warning)}
