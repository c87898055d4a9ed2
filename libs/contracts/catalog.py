"""Events the catalog service publishes: shops, products, and stock reserved for orders."""

from __future__ import annotations

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


class ProductEvent(Event, abstract=True):
    topic = "catalog.product"
    key_field = "product_id"


class ProductListed(ProductEvent):
    product_id: UUID
    shop_id: UUID
    hub_id: UUID
    name: str = Field(max_length=200)
    price_cents: int = Field(ge=0)


class ProductChanged(ProductEvent):
    """The name, price or availability a basket is priced with changed."""

    product_id: UUID
    shop_id: UUID
    hub_id: UUID
    name: str = Field(max_length=200)
    price_cents: int = Field(ge=0)
    available: bool


class ReservedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
    quantity: int = Field(gt=0)


class ShortLine(BaseModel):
    """Why a line could not be reserved, in words a resident can read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
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
