"""The catalog service's JSON API, under /catalog/api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.catalog import use_cases
from services.catalog.domain import (
    NewProduct,
    ProductChanges,
    ShopDetails,
    StockAdjustmentRequest,
    VariantChanges,
    VariantDetails,
)
from services.catalog.storefront import search
from services.catalog.storefront.search import SearchCriteria
from services.catalog.tables import ProductVariant
from services.catalog.use_cases import ProductView

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


class VariantOut(BaseModel):
    id: UUID
    label: str
    sku: str
    price_cents: int
    member_price_cents: int | None = Field(description="What the hub's members pay instead; "
                                                       "null: no member price.")
    stock_available: int = Field(description="Units on hand not reserved for orders in progress.")


class ProductOut(BaseModel):
    """A product as residents see it: its variants on sale."""

    id: UUID
    shop_id: UUID
    name: str
    price_cents: int = Field(description="The lowest price of its variants on sale (of all its "
                                         "variants when none is).")
    stock_available: int = Field(description="The units available of all its variants on sale.")
    description: str
    unit: str = Field(description="piece, kg or litre.")
    vat_rate_bps: int = Field(description="VAT rate in basis points: 550 is 5.5 %.")
    categories: list[str]
    tags: list[str]
    variants: list[VariantOut]

    @classmethod
    def of(cls, view: ProductView) -> ProductOut:
        return cls(**_product_fields(view), variants=[
            VariantOut(id=v.id, label=v.label, sku=v.sku, price_cents=v.price_cents,
                       member_price_cents=v.member_price_cents,
                       stock_available=v.stock_available)
            for v in view.variants if v.available])


class OwnedVariantOut(VariantOut):
    """A variant as the shop's owner sees it: on sale or not, and where its units are."""

    product_id: UUID
    available: bool
    stock_on_hand: int
    stock_reserved: int

    @classmethod
    def of(cls, variant: ProductVariant) -> OwnedVariantOut:
        return cls(id=variant.id, product_id=variant.product_id, label=variant.label,
                   sku=variant.sku, price_cents=variant.price_cents,
                   member_price_cents=variant.member_price_cents,
                   stock_available=variant.stock_available, available=variant.available,
                   stock_on_hand=variant.on_hand, stock_reserved=variant.reserved)


class OwnedProductOut(ProductOut):
    """A product as its owner sees it: on sale or not, with every variant."""

    available: bool
    variants: list[OwnedVariantOut]

    @classmethod
    def of(cls, view: ProductView) -> OwnedProductOut:
        return cls(**_product_fields(view), available=view.product.available,
                   variants=[OwnedVariantOut.of(variant) for variant in view.variants])


def _product_fields(view: ProductView) -> dict:
    product = view.product
    return {"id": product.id, "shop_id": product.shop_id, "name": product.name,
            "price_cents": view.price_cents, "stock_available": view.stock_available,
            "description": product.description, "unit": product.unit,
            "vat_rate_bps": product.vat_rate_bps, "categories": view.categories,
            "tags": product.tags}


class StockAdjustmentOut(BaseModel):
    id: UUID
    variant_id: UUID
    delta: int
    reason: str
    on_hand_after: int
    by_user_id: UUID
    by_email: str
    at: datetime


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


@router.post("/shops/{shop_id}/products", status_code=201, response_model=OwnedProductOut)
async def list_product(shop_id: UUID, new: NewProduct, principal: CurrentUser, runtime: Runtime):
    """The shop's owner only. Either ``variants`` (1 to 20, each its own label and SKU; a SKU is
    made when none is given), or ``price_cents`` and ``stock`` for a product sold one way."""
    return OwnedProductOut.of(await use_cases.list_product(runtime, principal, shop_id, new))


@router.patch("/products/{product_id}", response_model=OwnedProductOut)
async def change_product(product_id: UUID, changes: ProductChanges, principal: CurrentUser,
                         runtime: Runtime):
    """The shop's owner only; prices and stock are the variants'."""
    return OwnedProductOut.of(await use_cases.change_product(runtime, principal, product_id, changes))


@router.post("/products/{product_id}/variants", status_code=201, response_model=OwnedVariantOut)
async def add_variant(product_id: UUID, details: VariantDetails, principal: CurrentUser,
                      runtime: Runtime):
    """The shop's owner only; 409 when the label or the SKU is taken, or 20 variants exist."""
    view = await use_cases.add_variant(runtime, principal, product_id, details)
    return OwnedVariantOut.of(view.variants[-1])


@router.patch("/variants/{variant_id}", response_model=OwnedVariantOut)
async def change_variant(variant_id: UUID, changes: VariantChanges, principal: CurrentUser,
                         runtime: Runtime):
    """The shop's owner only; 409 when the label or the SKU is taken; 422 when the member price
    would not be below the price (``member_price_cents: null`` takes it away)."""
    _, variant = await use_cases.change_variant(runtime, principal, variant_id, changes)
    return OwnedVariantOut.of(variant)


@router.post("/variants/{variant_id}/stock-adjustments", status_code=201,
             response_model=StockAdjustmentOut)
async def adjust_stock(variant_id: UUID, adjustment: StockAdjustmentRequest,
                       principal: CurrentUser, runtime: Runtime):
    """The shop's owner only: ``delta`` units in (> 0) or out (< 0), and why; 409 when the units
    on hand would fall below those reserved for orders in progress."""
    return await use_cases.adjust_stock(runtime, principal, variant_id, adjustment)


@router.get("/variants/{variant_id}/stock-adjustments", response_model=list[StockAdjustmentOut])
async def stock_history(variant_id: UUID, principal: CurrentUser, runtime: Runtime):
    """The shop's owner only: every adjustment of the variant's stock, newest first."""
    return await use_cases.stock_history(runtime, principal, variant_id)


# --- the hub's catalogue, searched (services/catalog/storefront/search.py) ------------------------------


@router.get("/products", response_model=list[ProductOut])
async def search_products(criteria: Annotated[SearchCriteria, Query()], runtime: Runtime
                          ) -> Response:
    """The hub's products on sale, one page of them; ``X-Total-Count`` tells how many match in
    all. ``q``: every word must be found in the name, the shop's name, the description, the
    categories, tags or variants, whatever the accents, case, plurals or feminine endings
    ("pâtés" finds "Pâté de campagne"; a word the stemmer does not change also finds longer
    ones: "choco" finds "chocolat"). Filters: ``shop_id``, ``category`` (a slug), a price range
    on the price shown (the lowest on sale), ``in_stock``. ``sort``: ``relevance`` (the default
    with ``q``), ``name`` (the default without), ``price_asc``, ``price_desc``, ``newest``."""
    async with runtime.database.read_sessions() as session:
        page = await search.find_shown(session, criteria)
    # Serialised here, once: FastAPI would validate the models all over again.
    return Response(_PRODUCTS.dump_json([_product_out(product) for product in page.products]),
                    media_type="application/json", headers={"X-Total-Count": str(page.total)})


_PRODUCTS = TypeAdapter(list[ProductOut])


def _product_out(product: search.ShownProduct) -> ProductOut:
    return ProductOut(
        id=product.id, shop_id=product.shop_id, name=product.name,
        price_cents=product.price_cents, stock_available=product.stock_available,
        description=product.description, unit=product.unit, vat_rate_bps=product.vat_rate_bps,
        categories=product.categories, tags=product.tags,
        variants=[VariantOut(id=v.id, label=v.label, sku=v.sku, price_cents=v.price_cents,
                             member_price_cents=v.member_price_cents,
                             stock_available=v.stock_available)
                  for v in product.variants if v.available])
