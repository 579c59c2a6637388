"""The catalogue as the till reads it: category paths kept for a few seconds in this process."""

from __future__ import annotations

import pytest

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.db import Database


def _upsert(db: Database, **paths: str) -> None:
    products_in = [
        ProductIn.model_validate({"sku": sku, "name": sku, "category_path": path})
        for sku, path in paths.items()
    ]
    db.write(lambda s: catalog.upsert_products(session=s, products_in=products_in))


def _till(db: Database, *skus: str) -> dict[str, str]:
    return db.quick_read(lambda s: catalog.till_category_paths(session=s, skus=list(skus)))


def test_the_till_sees_this_process_s_catalogue_changes_at_once(db: Database) -> None:
    _upsert(db, APPLE="fresh/fruit", SOAP="home/cleaning")
    assert _till(db, "APPLE", "SOAP", "NEW") == {
        "APPLE": "fresh/fruit",
        "SOAP": "home/cleaning",
        "NEW": "",  # not in the catalogue (yet)
    }
    _upsert(db, APPLE="fresh/imported", NEW="snacks")
    assert _till(db, "APPLE", "SOAP", "NEW") == {
        "APPLE": "fresh/imported",
        "SOAP": "home/cleaning",
        "NEW": "snacks",
    }
    # An order's commit never reads the till's copy.
    assert db.read(lambda s: catalog.category_paths(session=s, skus=["APPLE"])) == {
        "APPLE": "fresh/imported"
    }


def test_another_process_s_change_reaches_the_till_within_the_cache_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upsert(db, APPLE="fresh/fruit")
    assert _till(db, "APPLE") == {"APPLE": "fresh/fruit"}
    # Another server process changes the product: this process's copy is not told.
    with monkeypatch.context() as m:
        m.setattr(catalog, "forget_till_categories", lambda: None)
        _upsert(db, APPLE="wallet")
    assert _till(db, "APPLE") == {"APPLE": "fresh/fruit"}  # the copy, still fresh enough
    assert db.read(lambda s: catalog.category_paths(session=s, skus=["APPLE"])) == {
        "APPLE": "wallet"
    }
    monkeypatch.setattr(catalog, "TILL_CATEGORY_SECONDS", 0.0)  # that time has passed
    assert _till(db, "APPLE") == {"APPLE": "wallet"}


def test_the_till_reads_a_shop_s_usual_goods_again_in_one_query(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upsert(db, APPLE="fresh/fruit", SOAP="home/cleaning", TEA="drinks")
    asked: list[set[str]] = []
    read = catalog.category_paths

    def counted(*, session: object, skus: list[str]) -> dict[str, str]:
        asked.append(set(skus))
        return read(session=session, skus=skus)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "category_paths", counted)
    assert _till(db, "APPLE") == {"APPLE": "fresh/fruit"}
    assert _till(db, "SOAP", "APPLE") == {"SOAP": "home/cleaning", "APPLE": "fresh/fruit"}
    assert _till(db, "APPLE", "SOAP") == {"APPLE": "fresh/fruit", "SOAP": "home/cleaning"}
    assert asked == [{"APPLE"}, {"SOAP"}]  # each SKU read once while the reading is fresh
    with monkeypatch.context() as m:
        m.setattr(catalog, "TILL_CATEGORY_SECONDS", 0.0)  # the reading has run out
        assert _till(db, "TEA") == {"TEA": "drinks"}
    # One query read the quote's SKU and every SKU of the last reading again …
    assert asked[2:] == [{"APPLE", "SOAP", "TEA"}]
    # … so all of them are fresh at once.
    assert _till(db, "APPLE", "SOAP", "TEA") == {
        "APPLE": "fresh/fruit",
        "SOAP": "home/cleaning",
        "TEA": "drinks",
    }
    assert len(asked) == 3
