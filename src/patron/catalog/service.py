"""Stores and products."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import ScalarSelect, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from patron.catalog.exceptions import ProductNotFound, StoreCodeTaken, StoreNotFound
from patron.catalog.models import Product, Store, StoreKind
from patron.catalog.schemas import ProductIn, ProductRead, StoreCreate, StoreRead
from patron.core import caches
from patron.core.db import core_rows, database_key
from patron.core.settings import get_settings

_CHANNEL_OF_KIND = {
    StoreKind.PHYSICAL: "pos",
    StoreKind.ONLINE: "online",
    StoreKind.MINI_PROGRAM: "mini_program",
}


def channel_for_store_kind(kind: str) -> str:
    """The sales channel an order has when its source does not say."""
    return _CHANNEL_OF_KIND.get(StoreKind(kind), "other")


def create_store(*, session: Session, store_in: StoreCreate) -> StoreRead:
    if session.scalar(select(Store.id).where(Store.code == store_in.code)) is not None:
        raise StoreCodeTaken(f"store code {store_in.code!r} is taken", code=store_in.code)
    store = Store(**store_in.model_dump())
    session.add(store)
    session.flush()
    _stores_changed(session)
    return StoreRead.model_validate(store)


def upsert_store(*, session: Session, store_in: StoreCreate) -> StoreRead:
    store = session.scalar(select(Store).where(Store.code == store_in.code))
    if store is None:
        return create_store(session=session, store_in=store_in)
    for key, value in store_in.model_dump(exclude={"code"}).items():
        setattr(store, key, value)
    session.flush()
    _stores_changed(session)
    return StoreRead.model_validate(store)


def get_store_by_code(*, session: Session, code: str) -> StoreRead | None:
    store = session.scalar(select(Store).where(Store.code == code))
    return StoreRead.model_validate(store) if store else None


def get_store_by_code_or_raise(*, session: Session, code: str) -> StoreRead:
    store = get_store_by_code(session=session, code=code)
    if store is None:
        raise StoreNotFound(f"no store with code {code!r}", code=code)
    return store


def find_store(*, session: Session, code_or_name: str) -> StoreRead | None:
    """The store an export names: by its code, else by its name (when one store has it)."""
    text = code_or_name.strip()
    if not text:
        return None
    store = session.scalar(select(Store).where(Store.code == text))
    if store is None:
        named = list(session.scalars(select(Store).where(Store.name == text).limit(2)))
        store = named[0] if len(named) == 1 else None
    return StoreRead.model_validate(store) if store else None


_NOT_IN_CODE = re.compile(r"[^\w\-]+")


def create_store_named(*, session: Session, name: str) -> StoreRead:
    """A store an export names and Patron lacks, made as the file names it: the name as it
    is, the code the name without spaces and punctuation (made unique), in the shop's zone."""
    name = name.strip()[:120]
    base = _NOT_IN_CODE.sub("", name)[:28] or "STORE"
    code, n = base, 1
    while session.scalar(select(Store.id).where(Store.code == code)) is not None:
        n += 1
        code = f"{base}-{n}"
    return create_store(
        session=session,
        store_in=StoreCreate(code=code, name=name or code, timezone=get_settings().timezone),
    )


def get_store(*, session: Session, store_id: int) -> StoreRead | None:
    store = session.get(Store, store_id)
    return StoreRead.model_validate(store) if store else None


def list_stores(*, session: Session) -> list[StoreRead]:
    return [
        StoreRead.model_validate(s) for s in session.scalars(select(Store).order_by(Store.code))
    ]


def store_codes_by_id(*, session: Session) -> dict[int, str]:
    return {sid: code for sid, code in session.execute(select(Store.id, Store.code))}


def stores_by_code(*, session: Session, codes: set[str] | None = None) -> dict[str, StoreRead]:
    """Stores by code: all of them, or only ``codes``.

    Every posted order needs its store, and stores seldom change, so the answer comes from
    a per-database cache, read again after ``_STORE_CACHE_SECONDS``, when a code is missing
    (a store added by another process), or after this process changed a store.
    """
    if codes is None:
        return {s.code: s for s in list_stores(session=session)}
    if not codes:
        return {}
    key = database_key(session)
    cached = _store_cache.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] > _STORE_CACHE_SECONDS or not codes <= cached[1].keys():
        stores = {s.code: s for s in list_stores(session=session)}
        # A store made in this very transaction may yet be rolled back: don't keep it.
        if not session.info.get(_STORES_CHANGED):
            _store_cache[key] = (now, stores)
    else:
        stores = cached[1]
    return {code: stores[code] for code in codes if code in stores}


def kept_store(database: str, code: str) -> StoreRead | None:
    """The store ``code`` from this process's copy of the stores (:func:`stores_by_code`)
    of the database keyed ``database`` (``core/db.database_key``) while it is fresh, read
    without a session; None when it is not kept (then :func:`stores_by_code` reads it)."""
    cached = _store_cache.get(database)
    if cached is None or time.monotonic() - cached[0] > _STORE_CACHE_SECONDS:
        return None
    return cached[1].get(code)


def clear_store_cache() -> None:
    _store_cache.clear()


def store_table() -> Table:
    """The store table, for other domains' read queries that show a store code."""
    return cast(Table, Store.__table__)


_STORE_CACHE_SECONDS = 30.0
caches.register("catalog.stores", clear_store_cache, max_age_s=_STORE_CACHE_SECONDS)
_STORES_CHANGED = "patron_stores_changed"
_store_cache: dict[str, tuple[float, dict[str, StoreRead]]] = {}


def _stores_changed(session: Session) -> None:
    session.info[_STORES_CHANGED] = True
    clear_store_cache()


def ensure_default_store(*, session: Session) -> StoreRead:
    """The store orders go to when they name none: a one-shop retailer never has to set one up."""
    code = get_settings().default_store_code
    store = stores_by_code(session=session, codes={code}).get(code)
    if store is not None:
        return store
    try:
        return create_store(
            session=session,
            store_in=StoreCreate(code=code, name="主店", timezone=get_settings().timezone),
        )
    except StoreCodeTaken:
        # Another request made it between our two reads; theirs is the one.
        return get_store_by_code_or_raise(session=session, code=code)


@dataclass(frozen=True, slots=True)
class ProductUpsertResult:
    created: int
    updated: int
    unchanged: int


_PRODUCT_FIELDS = (
    "name",
    "category_path",
    "brand",
    "list_price_fen",
    "shelf_life_days",
    "warranty_months",
)


def upsert_products(*, session: Session, products_in: Sequence[ProductIn]) -> ProductUpsertResult:
    """Create or update products by SKU; the last of repeated SKUs wins."""
    latest = {p.sku: p for p in products_in}
    existing: dict[str, Product] = {}
    skus = list(latest)
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        for product in session.scalars(select(Product).where(Product.sku.in_(chunk))):
            existing[product.sku] = product
    created = updated = unchanged = 0
    for sku, product_in in latest.items():
        values = product_in.model_dump(include=set(_PRODUCT_FIELDS))
        found = existing.get(sku)
        if found is None:
            session.add(Product(sku=sku, **values))
            created += 1
        elif any(getattr(found, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(found, k, v)
            updated += 1
        else:
            unchanged += 1
    session.flush()
    if created or updated:
        forget_till_categories()
    return ProductUpsertResult(created=created, updated=updated, unchanged=unchanged)


def get_product_by_sku(*, session: Session, sku: str) -> ProductRead | None:
    product = session.scalar(select(Product).where(Product.sku == sku))
    return ProductRead.model_validate(product) if product else None


def shelf_lives(*, session: Session, skus: Sequence[str]) -> dict[str, int]:
    """The shelf life in days of each of ``skus`` that has one."""
    wanted = sorted(set(skus))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 1_000):
        rows = session.execute(
            select(Product.sku, Product.shelf_life_days).where(
                Product.sku.in_(wanted[start : start + 1_000]),
                Product.shelf_life_days.is_not(None),
                Product.shelf_life_days > 0,
            )
        )
        found.update({sku: int(days or 0) for sku, days in rows})
    return found


def get_product_by_sku_or_raise(*, session: Session, sku: str) -> ProductRead:
    product = get_product_by_sku(session=session, sku=sku)
    if product is None:
        raise ProductNotFound(f"no product with SKU {sku!r}", sku=sku)
    return product


def product_name_of(sku: Any) -> ScalarSelect[str]:
    """The name of the product whose SKU is ``sku`` (a column of another domain's query),
    as a correlated subquery: other domains' reads show product names in their one
    statement without touching the catalogue's table (NULL for an unknown SKU)."""
    return select(Product.name).where(Product.sku == sku).scalar_subquery()


def skus_in_category(prefix: str) -> Select[str]:
    """The SKUs of products in category ``prefix`` or below it (a path such as 食品/烘焙),
    as a subquery for other domains' reads."""
    path = prefix.strip("/")
    return select(Product.sku).where(
        (Product.category_path == path) | Product.category_path.startswith(path + "/")
    )


def category_paths(*, session: Session, skus: Sequence[str]) -> dict[str, str]:
    """Each SKU's category path, in one query ("" for a SKU the catalogue does not know)."""
    wanted = set(skus)
    if not wanted:
        return {}
    found: dict[str, str] = dict(
        core_rows(session, _categories_statement(), {"skus": list(wanted)}).all()
    )
    return {sku: found.get(sku, "") for sku in wanted}


# The till prices every basket by its products' categories, and a product's category rarely
# changes, so the paths it reads are kept in this process for TILL_CATEGORY_SECONDS, per
# database. This process forgets them as soon as it writes the catalogue; another process's
# change reaches quotes here within that time. Committing an order reads them afresh.
TILL_CATEGORY_SECONDS = 10.0
_TILL_CATEGORY_LIMIT = 200_000  # SKUs per database before the whole cache starts over
# At most this many SKUs of the last reading are read again together when it runs out.
_TILL_CATEGORY_RENEW = 2_000
# Per database: when the reading began, and each SKU's path read since.
_till_categories: dict[str, tuple[float, dict[str, str]]] = {}


def till_category_paths(*, session: Session, skus: Sequence[str]) -> dict[str, str]:
    """``category_paths`` for a till's quote: from this process's recent reads where they
    are fresh, one query for the rest.

    The paths kept for a database are one reading: every SKU's copy counts from when the
    reading began, never from later (so none is older than ``TILL_CATEGORY_SECONDS``), and
    when the reading runs out, the next quote's query reads its SKUs again with the quote's
    own, up to ``_TILL_CATEGORY_RENEW`` of them. A shop's usual goods then cost one query
    every ``TILL_CATEGORY_SECONDS``, not one each time some SKU's own copy ran out (a third
    of the quotes at 200 requests/s, when each SKU kept its own time)."""
    now = time.monotonic()
    key = database_key(session)
    wanted = set(skus)
    held = _till_categories.get(key)
    if held is None or now - held[0] >= TILL_CATEGORY_SECONDS:
        again = held[1].keys() if held is not None and len(held[1]) <= _TILL_CATEGORY_RENEW else ()
        paths = category_paths(session=session, skus=list(wanted.union(again)))
        _till_categories[key] = (now, paths)
        return {sku: paths[sku] for sku in wanted}
    began, paths = held
    missing = [sku for sku in wanted if sku not in paths]
    if missing:
        fresh = category_paths(session=session, skus=missing)
        if len(paths) + len(fresh) > _TILL_CATEGORY_LIMIT:
            _till_categories[key] = (began, fresh)  # the whole cache starts over
            paths = {**paths, **fresh}
        else:
            paths.update(fresh)
    return {sku: paths[sku] for sku in wanted}


def forget_till_categories() -> None:
    _till_categories.clear()


caches.register("catalog.till_categories", forget_till_categories, max_age_s=TILL_CATEGORY_SECONDS)


@cache
def _categories_statement() -> Select[str, str]:
    # Built once: the till prices every basket through this.
    return select(Product.sku, Product.category_path).where(
        Product.sku.in_(bindparam("skus", expanding=True))
    )


def list_products(
    *, session: Session, category_prefix: str | None = None, limit: int = 100, after_id: int = 0
) -> list[ProductRead]:
    query = select(Product).where(Product.id > after_id).order_by(Product.id).limit(limit)
    if category_prefix:
        prefix = category_prefix.strip("/")
        query = query.where(
            (Product.category_path == prefix) | Product.category_path.startswith(prefix + "/")
        )
    return [ProductRead.model_validate(p) for p in session.scalars(query)]
