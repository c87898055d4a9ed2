"""Every table the catalog service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    Index,
    Table,
    Text,
    UniqueConstraint,
    event,
)
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
    # None while the shop awaits the invited person's account (owner_email names them).
    owner_id: UUID | None = Field(default=None, index=True)
    owner_email: str = Field(max_length=320)
    opened_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(default="active", max_length=20)
    description: str = Field(default="", max_length=2000)
    address: str = Field(default="", max_length=300)
    opening_hours: str = Field(default="", max_length=200)
    trade_category: str | None = Field(default=None, max_length=50)
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=30)
    # Where the shop stands with its payout account, as the payment service announced it.
    payouts_enabled: bool = False
    payout_details_submitted: bool = False


class ShopPhoto(CatalogTable, table=True):
    """The shop's photo, shown on its window and its hub's page: its picture and thumbnail in
    the photo storage, under these keys. A shop has one at most; a new one replaces it."""

    __tablename__ = "shop_photos"

    shop_id: UUID = Field(primary_key=True, foreign_key="shops.id")
    id: UUID = Field(unique=True)
    original_key: str = Field(max_length=200)
    thumbnail_key: str = Field(max_length=200)
    content_type: str = Field(max_length=50)
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    added_by: UUID
    added_at: datetime = Field(sa_type=UtcDateTime)


class Product(CatalogTable, table=True):
    """What a shop sells; its prices and stock are its variants'."""

    __tablename__ = "products"

    id: UUID = Field(primary_key=True)
    shop_id: UUID = Field(foreign_key="shops.id", index=True)
    name: str = Field(max_length=200)
    search_name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    unit: str = Field(default="piece", max_length=10)
    vat_rate_bps: int
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    available: bool = True
    listed_at: datetime = Field(sa_type=UtcDateTime)


class ProductCategory(CatalogTable, table=True):
    """A product in one of the platform's categories (domain.CATEGORIES)."""

    __tablename__ = "product_categories"

    product_id: UUID = Field(primary_key=True, foreign_key="products.id")
    category: str = Field(primary_key=True, max_length=40, index=True)


class ProductVariant(CatalogTable, table=True):
    """One way a product is sold, and its stock: ``on_hand`` units in the shop, ``reserved`` of
    them held for orders in progress. The constraint is the last line of defence against
    overselling; a SKU names one variant of the shop."""

    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("reserved >= 0 and reserved <= on_hand", name="stock_never_oversold"),
        UniqueConstraint("shop_id", "sku", name="one_sku_per_shop"),
    )

    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(foreign_key="products.id", index=True)
    shop_id: UUID = Field(foreign_key="shops.id")
    label: str = Field(max_length=50)
    sku: str = Field(max_length=64)
    price_cents: int
    member_price_cents: int | None = None  # what the hub's members pay instead, below the price
    available: bool = True
    on_hand: int
    reserved: int = 0
    position: int  # variants are shown in the order they were added
    # Counts the changes of the stock (StockLevelChanged.revision): set by the same statement
    # that changes on_hand or reserved, so concurrent changes each get their own.
    stock_revision: int = 1

    @property
    def stock_available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class StockAdjustment(CatalogTable, table=True):
    """Units in or out of a variant's stock by hand, who did it and why, and what was left."""

    __tablename__ = "stock_adjustments"

    id: UUID = Field(primary_key=True)
    variant_id: UUID = Field(foreign_key="product_variants.id", index=True)
    shop_id: UUID = Field(index=True)
    delta: int
    reason: str = Field(max_length=200)
    on_hand_after: int
    by_user_id: UUID
    by_email: str = Field(max_length=320)
    at: datetime = Field(sa_type=UtcDateTime, index=True)


class AuditEntry(CatalogTable, table=True):
    """One change to a shop or its catalogue: who made it, whether for the shop (the hub's
    association or a platform administrator acting on its behalf), what, and when."""

    __tablename__ = "shop_audit"

    id: UUID = Field(primary_key=True)
    shop_id: UUID = Field(index=True)
    by_user_id: UUID
    by_email: str = Field(max_length=320)
    on_behalf: bool
    action: str = Field(max_length=50)
    summary: str = Field(max_length=500)
    changes: dict = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(sa_type=UtcDateTime, index=True)


class Reservation(CatalogTable, table=True):
    """Units of one variant held for one order, until released or sold."""

    __tablename__ = "reservations"

    order_id: UUID = Field(primary_key=True)
    variant_id: UUID = Field(primary_key=True, foreign_key="product_variants.id")
    product_id: UUID
    shop_id: UUID = Field(index=True)
    quantity: int
    status: str = Field(max_length=20)
    reserved_at: datetime = Field(sa_type=UtcDateTime)


class ProductPhoto(CatalogTable, table=True):
    """A photo of a product: its picture and thumbnail in the photo storage, under these keys."""

    __tablename__ = "product_photos"

    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(foreign_key="products.id", index=True)
    shop_id: UUID = Field(index=True)
    original_key: str = Field(max_length=200)
    thumbnail_key: str = Field(max_length=200)
    content_type: str = Field(max_length=50)
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    added_by: UUID
    added_at: datetime = Field(sa_type=UtcDateTime)



# --- the public catalogue, as search reads it (services/catalog/storefront/search.py keeps it in step) -----


class CatalogueEntry(CatalogTable, table=True):
    """A product on sale, as the hub's catalogue lists and searches it: the words it is found by,
    folded by storefront/search_text.py, and what lists are filtered and sorted by. A full-text index over
    the words follows the rows by itself (see _FULL_TEXT_INDEX below)."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (
        Index("catalogue_entries_newest", "hub_id", "listed_at"),
        Index("catalogue_entries_by_price", "hub_id", "price_cents"),
        Index("catalogue_entries_by_name", "hub_id", "name_key"),
        Index("catalogue_entries_by_shop", "hub_id", "shop_id", "name_key"),
    )

    id: int | None = Field(default=None, primary_key=True)  # the full-text index's row id
    product_id: UUID = Field(foreign_key="products.id", ondelete="CASCADE", unique=True)
    hub_id: UUID
    shop_id: UUID
    price_cents: int  # the price the product is shown with: its lowest on sale
    listed_at: datetime = Field(sa_type=UtcDateTime)
    name_key: str = Field(max_length=200)  # folded, for sorting by name
    name_terms: str = Field(sa_type=Text)
    shop_terms: str = Field(sa_type=Text)
    detail_terms: str = Field(sa_type=Text)


# SQLite: an FTS5 table over the entries' words, kept in step by triggers. PostgreSQL: a tsvector
# of them in the `french` configuration, generated with each row, and its GIN index. The name
# weighs most, then the shop, then the details (description, categories, tags, variants).
_FULL_TEXT_INDEX = {
    "sqlite": [
        """CREATE VIRTUAL TABLE catalogue_entries_fts USING fts5(
               name_terms, shop_terms, detail_terms, content='catalogue_entries',
               content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER catalogue_entries_fts_insert AFTER INSERT ON catalogue_entries BEGIN
               INSERT INTO catalogue_entries_fts (rowid, name_terms, shop_terms, detail_terms)
               VALUES (new.id, new.name_terms, new.shop_terms, new.detail_terms);
           END""",
        """CREATE TRIGGER catalogue_entries_fts_delete AFTER DELETE ON catalogue_entries BEGIN
               INSERT INTO catalogue_entries_fts
                   (catalogue_entries_fts, rowid, name_terms, shop_terms, detail_terms)
               VALUES ('delete', old.id, old.name_terms, old.shop_terms, old.detail_terms);
           END""",
        """CREATE TRIGGER catalogue_entries_fts_update
               AFTER UPDATE OF name_terms, shop_terms, detail_terms ON catalogue_entries BEGIN
               INSERT INTO catalogue_entries_fts
                   (catalogue_entries_fts, rowid, name_terms, shop_terms, detail_terms)
               VALUES ('delete', old.id, old.name_terms, old.shop_terms, old.detail_terms);
               INSERT INTO catalogue_entries_fts (rowid, name_terms, shop_terms, detail_terms)
               VALUES (new.id, new.name_terms, new.shop_terms, new.detail_terms);
           END""",
    ],
    "postgresql": [
        """ALTER TABLE catalogue_entries ADD COLUMN document tsvector GENERATED ALWAYS AS (
               setweight(to_tsvector('french', name_terms), 'A')
               || setweight(to_tsvector('french', shop_terms), 'B')
               || setweight(to_tsvector('french', detail_terms), 'C')) STORED""",
        "CREATE INDEX catalogue_entries_document ON catalogue_entries USING gin (document)",
    ],
}


def _with_full_text_index(table: Table) -> None:
    for dialect, statements in _FULL_TEXT_INDEX.items():
        for statement in statements:
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))
    event.listen(table, "before_drop",
                 DDL("DROP TABLE IF EXISTS catalogue_entries_fts").execute_if(dialect="sqlite"))


_with_full_text_index(CatalogueEntry.__table__)

outbox = outbox_table(CatalogTable.metadata)
inbox = inbox_table(CatalogTable.metadata)
