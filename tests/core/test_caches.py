"""Every module cache registers itself, and one call empties them all."""

from __future__ import annotations

from patron.core import caches
from patron.core.actor import Actor, system_actor

EVERY_CACHE = {
    "catalog.stores",
    "catalog.till_categories",
    "loyalty.programme",
    "loyalty.till_promotions",
    "staff.api_keys",
    "web.dashboard",
}


def test_every_module_cache_of_the_application_has_registered() -> None:
    import patron.web.app  # noqa: F401  (the whole application, as a server loads it)

    assert set(caches.registered()) >= EVERY_CACHE


def test_one_call_empties_every_registered_cache() -> None:
    from patron.catalog import service as catalog
    from patron.staff import service as staff

    catalog._store_cache["probe"] = (0.0, {})
    staff._key_cache["probe"] = (0.0, staff_actor())
    emptied: list[str] = []
    caches.register("tests.probe", lambda: emptied.append("probe"))
    try:
        caches.clear_all()
    finally:
        caches.register("tests.probe", lambda: None)
    assert emptied == ["probe"]
    assert "probe" not in catalog._store_cache and "probe" not in staff._key_cache


def staff_actor() -> Actor:
    return system_actor("tests")
