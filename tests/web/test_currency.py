"""The shop's currency is a setting (ISO 4217, CNY by default), shown with its sign."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from patron.core.db import Database
from patron.core.money import format_fen
from patron.core.settings import Settings, get_settings
from tests.web.helpers.console import console, make_shop


def test_amounts_carry_the_shops_currency_sign(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_CURRENCY", "gbp")
    get_settings.cache_clear()
    make_shop(db)

    with console(db) as (client, _csrf):
        page = client.get("/", params={"from": "2026-03-01", "to": "2026-03-02"})

    assert get_settings().currency == "GBP"
    assert "£" in page.text and "¥" not in page.text
    assert format_fen(-1250, "GBP") == "-£12.50" and format_fen(123450) == "¥1,234.50"


@pytest.mark.parametrize(("code", "said"), [("XYZ", "unknown currency"), ("JPY", "no cents")])
def test_a_currency_patron_cannot_keep_is_refused_naming_it(code: str, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        Settings(currency=code)
