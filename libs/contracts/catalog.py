"""Events the catalog service publishes: shops, products, and stock reserved for orders."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from libs.contracts.base import Event


class ShopEvent(Event, abstract=True):
    topic = "catalog.shop"
    key_field = "shop_id"


class ShopOpened(ShopEvent):
    """A shop joined a hub; its owner may now list products and prepare its parts of orders."""

    shop_id: UUID
    hub_id: UUID
    name: str = Field(max_length=200)
    owner_id: UUID
    owner_email: str = Field(max_length=320)



class ShopStatusChanged(ShopEvent):
    """A shop opened for business (``active``), or not yet or no longer (``draft``,
    ``suspended``): only an active shop's products are offered and may be ordered."""

    shop_id: UUID
    hub_id: UUID
    status: Literal["draft", "active", "suspended"]


Unit = Literal["piece", "kg", "litre"]
VatRateBps = Literal[210, 550, 1000, 2000]


class ProductEvent(Event, abstract=True):
    topic = "catalog.product"
    key_field = "product_id"


class ProductVariant(BaseModel):
    """One way a product is sold ("250 g", "500 g"), with its own price; its label may be empty
    when the product needs no other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant_id: UUID
    label: str = Field(max_length=50)
    sku: str = Field(max_length=64)
    price_cents: int = Field(ge=0)
    available: bool
    # The hub's members pay this instead (a solidarity or member rate); None: no member price.
    member_price_cents: int | None = Field(default=None, ge=0)


class ProductState(ProductEvent, abstract=True):
    """A product as it is offered, with every variant of it."""

    product_id: UUID
    shop_id: UUID
    hub_id: UUID
    name: str = Field(max_length=200)
    description: str = Field(max_length=2000)
    unit: Unit
    vat_rate_bps: VatRateBps
    categories: list[str]
    available: bool
    variants: list[ProductVariant] = Field(min_length=1)


class ProductListed(ProductState):
    """A new product on the shop's shelves."""


class ProductChanged(ProductState):
    """The product as it now is: its details, its availability, or a variant added or changed."""


class StockLevelChanged(ProductEvent):
    """How many of a variant can still be ordered changed: stock adjusted or imported, reserved
    for an order, released or sold. ``revision`` grows with every change of the variant's
    stock, so a reader keeps the highest it has seen whatever order events reach it in."""

    product_id: UUID
    variant_id: UUID
    shop_id: UUID
    hub_id: UUID
    available: int = Field(ge=0)
    revision: int = Field(ge=1)


class ReservedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
    variant_id: UUID
    quantity: int = Field(gt=0)


class ShortLine(BaseModel):
    """Why a line could not be reserved, in words a resident can read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
    variant_id: UUID
    requested: int = Field(gt=0)
    available: int = Field(ge=0)
    reason: str


class ReservationEvent(Event, abstract=True):
    topic = "catalog.reservation"
    key_field = "order_id"


class StockReserved(ReservationEvent):
    """Every line of the order is set aside; nobody else can buy those units."""

    order_id: UUID
    lines: list[ReservedLine]


class StockReservationFailed(ReservationEvent):
    """Nothing was reserved: at least one line could not be had."""

    order_id: UUID
    shortages: list[ShortLine]


class StockReleased(ReservationEvent):
    """Units reserved for the order went back on sale (the order or a part of it was cancelled)."""

    order_id: UUID
    lines: list[ReservedLine]
