"""The hub's catalogue, searched: French full text over the products on sale, filters, sorts and
pages, alike on SQLite (FTS5) and PostgreSQL (the `french` text search configuration).

The catalogue is the table of catalogue entries, one per product on sale (tables.py); the words
are folded in Python (search_text.py) for the index and the query alike, so accents, case and
plurals match the same way on both engines. Every write that changes what a product shows calls
``reindex_products`` (or ``reindex_shop``) in its own transaction: the catalogue changes when the
product does, never before nor after.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    column,
    delete,
    exists,
    func,
    literal_column,
    table,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalog.domain import CATEGORIES, Category, PriceCents, ShopStatus, headline
from services.catalog.storefront.search_text import (
    QueryTerm,
    folded,
    fts5_match,
    query_terms,
    terms,
    ts_query,
)
from services.catalog.tables import CatalogueEntry, Product, ProductCategory, ProductVariant, Shop

MAX_LIMIT = 100
MAX_QUERY = 200
# Relevance weights of the words in the name, the shop's name and the details, in that order.
_FTS5_WEIGHTS = (10.0, 4.0, 1.0)
_CHUNK = 500  # products reindexed per statement: well under either engine's parameter limit


class Sort(StrEnum):
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NAME = "name"
    NEWEST = "newest"


class SearchCriteria(BaseModel):
    """What a resident asks of a hub's catalogue. Every word of ``q`` must match (accents, case
    and plurals aside); the price is the one a product is shown with, its lowest on sale."""

    model_config = ConfigDict(str_strip_whitespace=True)

    hub_id: UUID
    q: str | None = Field(default=None, max_length=MAX_QUERY)
    shop_id: UUID | None = None
    category: Category | None = Field(default=None, description="A category's slug.")
    min_price_cents: PriceCents | None = None
    max_price_cents: PriceCents | None = None
    in_stock: bool = Field(default=False, description="Only products with units available.")
    sort: Sort | None = Field(default=None,
                              description="relevance when q is given, name otherwise.")
    limit: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT,
                       description="At most 100, and 100 when not given.")
    offset: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _price_range(self) -> SearchCriteria:
        if (self.min_price_cents is not None and self.max_price_cents is not None
                and self.min_price_cents > self.max_price_cents):
            raise ValueError("min_price_cents is above max_price_cents")
        return self

    @property
    def searched(self) -> bool:
        return bool(self.q)

    @property
    def order(self) -> Sort:
        if self.sort is None or (self.sort == Sort.RELEVANCE and not self.searched):
            return Sort.RELEVANCE if self.searched else Sort.NAME
        return self.sort


@dataclass(frozen=True)
class Found:
    """One page of what matched, best first, and how many matched in all."""

    total: int
    product_ids: list[UUID]


# --- keeping the catalogue in step ---------------------------------------------------------


async def reindex_products(session: AsyncSession, product_ids: Collection[UUID]) -> None:
    """Brings the products' entries in line with the products, in the caller's transaction: an
    entry as the product now shows, or none when it is not on sale (withdrawn, or no variant on
    sale). Call it after any change to a product, its variants or its categories."""
    await session.flush()
    distinct = list(dict.fromkeys(product_ids))
    for start in range(0, len(distinct), _CHUNK):
        await _reindex(session, distinct[start:start + _CHUNK])


async def reindex_shop(session: AsyncSession, shop_id: UUID) -> None:
    """Brings the shop's words in its products' entries in line with the shop (its name)."""
    shop = await session.get(Shop, shop_id)
    await session.execute(
        update(CatalogueEntry)
        .where(CatalogueEntry.hub_id == shop.hub_id, CatalogueEntry.shop_id == shop_id)
        .values(shop_terms=_shop_terms(shop)))


async def _reindex(session: AsyncSession, product_ids: list[UUID]) -> None:
    products = (await session.exec(select(Product).where(col(Product.id).in_(product_ids)))).all()
    # Read under a share lock on PostgreSQL: a shop renamed meanwhile waits for this transaction
    # (and then rewrites these entries too), or this one reads the new name.
    shops = {shop.id: shop for shop in (await session.exec(
        select(Shop).where(col(Shop.id).in_({p.shop_id for p in products}))
        .with_for_update(read=True))).all()}
    variants: dict[UUID, list[ProductVariant]] = {product_id: [] for product_id in product_ids}
    for variant in (await session.exec(
            select(ProductVariant).where(col(ProductVariant.product_id).in_(product_ids))
            .order_by(ProductVariant.position))).all():
        variants[variant.product_id].append(variant)
    categories: dict[UUID, list[str]] = {product_id: [] for product_id in product_ids}
    for link in (await session.exec(
            select(ProductCategory).where(col(ProductCategory.product_id).in_(product_ids)))).all():
        categories[link.product_id].append(link.category)
    entries = [
        entry for product in products
        if (entry := _entry(product, shops[product.shop_id], variants[product.id],
                            categories[product.id])) is not None
    ]
    on_sale = {entry["product_id"] for entry in entries}
    await session.execute(delete(CatalogueEntry).where(
        col(CatalogueEntry.product_id).in_([pid for pid in product_ids if pid not in on_sale])))
    if entries:
        await session.execute(_upsert(session, entries))


def _entry(product: Product, shop: Shop, variants: Sequence[ProductVariant],
           categories: Sequence[str]) -> dict | None:
    on_sale = [variant for variant in variants if variant.available]
    if not product.available or not on_sale or shop.status != ShopStatus.ACTIVE:
        return None
    details = [product.description, *(CATEGORIES.get(c, c) for c in categories), *product.tags,
               *(variant.label for variant in on_sale)]
    return {
        "product_id": product.id, "hub_id": shop.hub_id, "shop_id": shop.id,
        "price_cents": headline(variants)[0], "listed_at": product.listed_at,
        "name_key": folded(product.name)[:200], "name_terms": terms(product.name),
        "shop_terms": _shop_terms(shop), "detail_terms": terms(*details),
    }


def _shop_terms(shop: Shop) -> str:
    return terms(shop.name)


def _upsert(session: AsyncSession, entries: list[dict]) -> Insert:
    insert = postgresql.insert if _engine(session) == "postgresql" else sqlite.insert
    statement = insert(CatalogueEntry.__table__).values(entries)
    kept = {"id", "product_id"}
    return statement.on_conflict_do_update(
        index_elements=["product_id"],
        set_={name: statement.excluded[name] for name in entries[0] if name not in kept},
    )


# --- finding -------------------------------------------------------------------------------


async def find(session: AsyncSession, criteria: SearchCriteria) -> Found:
    """The page of products ``criteria`` asks for, and how many match in all."""
    matching = _matching(session, criteria)
    if matching is None:
        return Found(0, [])
    query, rank = matching
    if rank is not None:
        # Every match is ranked before the page is cut: counting them on the way is free.
        rows = (await session.execute(
            _page(criteria, query.add_columns(func.count().over()), rank))).all()
        if rows or not criteria.offset:  # a page past the end has no row to tell the total
            return Found(rows[0][1] if rows else 0, [product_id for product_id, _ in rows])
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    return Found(total, list((await session.exec(_page(criteria, query, rank))).all()))


async def first(session: AsyncSession, criteria: SearchCriteria) -> list[UUID]:
    """The page of products ``criteria`` asks for, without counting them all."""
    matching = _matching(session, criteria)
    if matching is None:
        return []
    return list((await session.exec(_page(criteria, *matching))).all())


def _matching(session: AsyncSession, criteria: SearchCriteria
              ) -> tuple[Select, ColumnElement | None] | None:
    """The entries that match, and how well (lower is better) when words are searched; None
    when the words cannot match anything (only punctuation or stop words)."""
    matching = select(CatalogueEntry.product_id).where(*_filters(criteria))
    if not criteria.searched:
        return matching, None
    words = query_terms(criteria.q)
    return _full_text(session, matching, words) if words else None


def _page(criteria: SearchCriteria, matching: Select, rank: ColumnElement | None) -> Select:
    return (matching.order_by(*_order(criteria.order, rank))
            .limit(criteria.limit).offset(criteria.offset))


def _filters(criteria: SearchCriteria) -> list[ColumnElement[bool]]:
    filters = [CatalogueEntry.hub_id == criteria.hub_id]
    if criteria.shop_id is not None:
        filters.append(CatalogueEntry.shop_id == criteria.shop_id)
    if criteria.category is not None:
        filters.append(col(CatalogueEntry.product_id).in_(
            select(ProductCategory.product_id).where(ProductCategory.category == criteria.category)))
    if criteria.min_price_cents is not None:
        filters.append(CatalogueEntry.price_cents >= criteria.min_price_cents)
    if criteria.max_price_cents is not None:
        filters.append(CatalogueEntry.price_cents <= criteria.max_price_cents)
    if criteria.in_stock:
        # Read live, not from the entry: reservations move stock without touching the catalogue.
        filters.append(exists().where(
            ProductVariant.product_id == CatalogueEntry.product_id, col(ProductVariant.available),
            ProductVariant.on_hand > ProductVariant.reserved))
    return filters


def _full_text(session: AsyncSession, matching: Select, words: list[QueryTerm]
               ) -> tuple[Select, ColumnElement]:
    """``matching`` narrowed to the entries with every word, and how well each matches (lower
    is better)."""
    if _engine(session) == "postgresql":
        document = literal_column("catalogue_entries.document")
        query = func.to_tsquery(literal_column("'french'"), ts_query(words))
        return matching.where(document.op("@@")(query)), -func.ts_rank(document, query)
    # The full-text matches first, once: left to itself, SQLite's planner may walk the hub's
    # entries and ask the FTS5 index about each in turn, a hundred times slower.
    index = table("catalogue_entries_fts", column("rowid"))
    fts = literal_column("catalogue_entries_fts")
    matched = (select(index.c.rowid.label("id"), func.bm25(fts, *_FTS5_WEIGHTS).label("rank"))
               .where(fts.op("MATCH")(fts5_match(words)))
               .cte("matched").prefix_with("MATERIALIZED"))
    return matching.join(matched, matched.c.id == CatalogueEntry.id), matched.c.rank


def _order(sort: Sort, rank: ColumnElement | None) -> list:
    ties = [CatalogueEntry.name_key, CatalogueEntry.product_id]
    match sort:
        case Sort.RELEVANCE:
            return [rank, *ties]
        case Sort.PRICE_ASC:
            return [CatalogueEntry.price_cents, *ties]
        case Sort.PRICE_DESC:
            return [col(CatalogueEntry.price_cents).desc(), *ties]
        case Sort.NEWEST:
            return [col(CatalogueEntry.listed_at).desc(), *ties]
        case Sort.NAME:
            return ties


def _engine(session: AsyncSession) -> str:
    return session.bind.dialect.name
