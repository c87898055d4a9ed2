"""Every table the catalog service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class CatalogTable(SQLModel, registry=registry()):
    """Base of the catalog service's tables; its metadata is the catalog database."""


class KnownHub(CatalogTable, table=True):
    """The hubs shops can join, as the pickup service announced them."""

    __tablename__ = "known_hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)


class KnownUser(CatalogTable, table=True):
    """The accounts, as the accounts service announced them: a shop is given to one by e-mail."""

    __tablename__ = "known_users"

    id: UUID = Field(primary_key=True)
    email: str = Field(max_length=320, unique=True)


class HubAdmin(CatalogTable, table=True):
    """Who runs which hub, as the pickup service announced it: they may open shops there."""

    __tablename__ = "hub_admins"

    hub_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)


class Shop(CatalogTable, table=True):
    __tablename__ = "shops"

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    owner_id: UUID = Field(index=True)
    owner_email: str = Field(max_length=320)
    opened_at: datetime = Field(sa_type=UtcDateTime)


class Product(CatalogTable, table=True):
    """A product and its stock: ``on_hand`` units in the shop, ``reserved`` of them held for
    orders in progress. The constraint is the last line of defence against overselling."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("reserved >= 0 and reserved <= on_hand", name="stock_never_oversold"),
    )

    id: UUID = Field(primary_key=True)
    shop_id: UUID = Field(foreign_key="shops.id", index=True)
    name: str = Field(max_length=200)
    search_name: str = Field(max_length=200)
    price_cents: int
    available: bool = True
    on_hand: int
    reserved: int = 0
    listed_at: datetime = Field(sa_type=UtcDateTime)

    @property
    def stock_available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class Reservation(CatalogTable, table=True):
    """Units of one product held for one order, until released or sold."""

    __tablename__ = "reservations"

    order_id: UUID = Field(primary_key=True)
    product_id: UUID = Field(primary_key=True, foreign_key="products.id")
    shop_id: UUID = Field(index=True)
    quantity: int
    status: str = Field(max_length=20)
    reserved_at: datetime = Field(sa_type=UtcDateTime)


outbox = outbox_table(CatalogTable.metadata)
inbox = inbox_table(CatalogTable.metadata)
