"""Stores and products over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from patron.catalog import service
from patron.catalog.exceptions import StoreNotFound
from patron.catalog.schemas import ProductIn, ProductRead, StoreCreate, StoreRead
from patron.core.errors import NotFound
from patron.core.schemas import MAX_ID, Schema
from patron.web.deps import Db

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class ProductsIn(Schema):
    products: list[ProductIn] = Field(min_length=1, max_length=5000)


class ProductUpsertRead(Schema):
    created: int
    updated: int
    unchanged: int


@router.get("/stores", response_model=list[StoreRead])
def list_stores(db: Db) -> list[StoreRead]:
    return db.read(lambda s: service.list_stores(session=s))


@router.post("/stores", response_model=StoreRead, status_code=201)
def create_store(store_in: StoreCreate, db: Db) -> StoreRead:
    return db.write(lambda s: service.create_store(session=s, store_in=store_in))


@router.get("/stores/{code}", response_model=StoreRead)
def get_store(code: str, db: Db) -> StoreRead:
    store = db.read(lambda s: service.get_store_by_code(session=s, code=code))
    if store is None:
        raise StoreNotFound(f"no store with code {code!r}")
    return store


@router.put("/products", response_model=ProductUpsertRead)
def upsert_products(products_in: ProductsIn, db: Db) -> ProductUpsertRead:
    result = db.write(
        lambda s: service.upsert_products(session=s, products_in=products_in.products)
    )
    return ProductUpsertRead(
        created=result.created, updated=result.updated, unchanged=result.unchanged
    )


@router.get("/products", response_model=list[ProductRead])
def list_products(
    db: Db,
    category: Annotated[
        str | None, Query(description="Category path prefix, e.g. 生鲜/水果")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[ProductRead]:
    return db.read(
        lambda s: service.list_products(
            session=s, category_prefix=category, limit=limit, after_id=after_id
        )
    )


@router.get("/products/{sku}", response_model=ProductRead)
def get_product(sku: str, db: Db) -> ProductRead:
    product = db.read(lambda s: service.get_product_by_sku(session=s, sku=sku))
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}")
    return product
