"""The catalog service's JSON API, under /catalog/api/v1."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.catalog import use_cases
from services.catalog.domain import NewProduct, ProductChanges, ShopDetails
from services.catalog.tables import Product

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class KnownHubOut(BaseModel):
    id: UUID
    name: str
    town: str


class ShopSummaryOut(BaseModel):
    id: UUID
    hub_id: UUID
    name: str


class ShopOut(ShopSummaryOut):
    owner_id: UUID
    owner_email: str


class ProductOut(BaseModel):
    id: UUID
    shop_id: UUID
    name: str
    price_cents: int
    stock_available: int

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(id=product.id, shop_id=product.shop_id, name=product.name,
                   price_cents=product.price_cents, stock_available=product.stock_available)


class OwnedProductOut(ProductOut):
    """A product as its owner sees it: on sale or not, and where its units are."""

    available: bool
    stock_on_hand: int
    stock_reserved: int

    @classmethod
    def of(cls, product: Product) -> OwnedProductOut:
        return cls(**ProductOut.of(product).model_dump(), available=product.available,
                   stock_on_hand=product.on_hand, stock_reserved=product.reserved)


@router.get("/hubs", response_model=list[KnownHubOut])
async def list_hubs(runtime: Runtime):
    """The hubs shops can join."""
    return await use_cases.list_known_hubs(runtime)


@router.post("/shops", status_code=201, response_model=ShopOut)
async def open_shop(details: ShopDetails, principal: CurrentUser, runtime: Runtime):
    """Platform administrators, and administrators of the hub; the owner needs an account."""
    return await use_cases.open_shop(runtime, principal, details)


@router.get("/shops", response_model=list[ShopSummaryOut])
async def list_shops(runtime: Runtime, hub_id: UUID | None = None):
    return await use_cases.list_shops(runtime, hub_id)


@router.post("/shops/{shop_id}/products", status_code=201, response_model=ProductOut)
async def list_product(shop_id: UUID, new: NewProduct, principal: CurrentUser, runtime: Runtime):
    """The shop's owner only."""
    return ProductOut.of(await use_cases.list_product(runtime, principal, shop_id, new))


@router.patch("/products/{product_id}", response_model=OwnedProductOut)
async def change_product(product_id: UUID, changes: ProductChanges, principal: CurrentUser,
                         runtime: Runtime):
    """The shop's owner only; ``stock`` sets the units on hand, never below those reserved."""
    return OwnedProductOut.of(await use_cases.change_product(runtime, principal, product_id, changes))


@router.get("/products", response_model=list[ProductOut])
async def search_products(hub_id: UUID, runtime: Runtime,
                          q: Annotated[str | None, Query(max_length=200)] = None):
    """The hub's products on sale; ``q`` matches inside names, ignoring case and accents."""
    return [ProductOut.of(product) for product in await use_cases.search_products(runtime, hub_id, q)]
