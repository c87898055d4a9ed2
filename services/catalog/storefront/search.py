"""The hub's catalogue, searched: French full text over the products on sale, filters, sorts and
pages, alike on SQLite (FTS5) and PostgreSQL (the `french` text search configuration).

The catalogue is the table of catalogue entries, one per product on sale (tables.py); the words
are folded in Python (search_text.py) for the index and the query alike, so accents, case and
plurals match the same way on both engines. Every write that changes what a product shows calls
``reindex_products`` (or ``reindex_shop``) in its own transaction: the catalogue changes when the
product does, never before nor after.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    Subquery,
    bindparam,
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
    # Bound so that it stays a database INTEGER on either engine (2**63 crashed SQLite).
    offset: int = Field(default=0, ge=0, le=2**31 - 1)

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


@dataclass(frozen=True)
class ShownVariant:
    id: UUID
    label: str
    sku: str
    price_cents: int
    available: bool
    stock_available: int
    member_price_cents: int | None


@dataclass(frozen=True)
class ShownProduct:
    """A product of a page of the catalogue, read as columns: the search API's answer."""

    id: UUID
    shop_id: UUID
    name: str
    description: str
    unit: str
    vat_rate_bps: int
    tags: list[str]
    categories: list[str]
    variants: list[ShownVariant]  # in the order they were added, on sale or not

    @property
    def price_cents(self) -> int:
        return headline(self.variants)[0]

    @property
    def stock_available(self) -> int:
        return headline(self.variants)[1]


@dataclass(frozen=True)
class ShownPage:
    total: int
    products: list[ShownProduct]


@dataclass(frozen=True)
class PageShape:
    """What the statements of a search look like, whatever the values they run with. Building
    a statement costs more processor time than SQLite takes to run it, so statements are built
    once per shape (a few dozen in all) and run with the values of each search."""

    engine: str
    order: Sort
    searched: bool
    shop: bool
    category: bool
    min_price: bool
    max_price: bool
    in_stock: bool


@dataclass(frozen=True, eq=False)
class PageStatements:
    """A shape's page of matches as a subquery, for a statement that reads what is shown of
    them: ``rows`` has ``product_id``, the keys the page is sorted by (``order`` sorts that
    statement alike) and, when ``counted``, ``total``: how many match in all. ``count`` counts
    them when the page does not."""

    rows: Subquery
    order: list[ColumnElement]
    counted: bool
    count: Select


@dataclass(frozen=True)
class PageQuery:
    """The page a search asks for: the statements of its shape, and the values to run any
    statement built on them with."""

    criteria: SearchCriteria
    shape: PageShape
    params: dict[str, object]

    @property
    def statements(self) -> PageStatements:
        return page_statements(self.shape)


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
    page = page_query(session, criteria)
    if page is None:
        return Found(0, [])
    rows = (await session.execute(_ids(page.shape), page.params)).all()
    counted = rows[0][1] if rows and page.statements.counted else None
    return Found(await total(session, page, counted), [row[0] for row in rows])


@functools.cache
def _ids(shape: PageShape) -> Select:
    """The page's product ids, and its ``total`` when it counts."""
    statements = page_statements(shape)
    return (select(statements.rows.c.product_id, *page_total(statements))
            .order_by(*statements.order))


async def find_shown(session: AsyncSession, criteria: SearchCriteria) -> ShownPage:
    """The page of products ``criteria`` asks for, with what the search API shows of them, and
    how many match in all."""
    page = page_query(session, criteria)
    if page is None:
        return ShownPage(0, [])
    products, counted = await _shown(session, page)
    return ShownPage(await total(session, page, counted), products)


@functools.cache
def _shown_statement(shape: PageShape) -> Select:
    """The page's products: a row per variant, the product's categories gathered in a column;
    and the page's ``total``."""
    page = page_statements(shape)
    categories = (select(func.aggregate_strings(ProductCategory.category, ","))
                  .where(ProductCategory.product_id == Product.id).scalar_subquery())
    return (select(Product.id, Product.shop_id, Product.name, Product.description, Product.unit,
                   Product.vat_rate_bps, Product.tags, categories,
                   ProductVariant.id, ProductVariant.label, ProductVariant.sku,
                   ProductVariant.price_cents, ProductVariant.available,
                   ProductVariant.on_hand - ProductVariant.reserved,
                   ProductVariant.member_price_cents, *page_total(page))
            .select_from(page.rows)
            .join(Product, Product.id == page.rows.c.product_id)
            .join(ProductVariant, ProductVariant.product_id == Product.id)
            .order_by(*page.order, ProductVariant.position))


async def _shown(session: AsyncSession, page: PageQuery) -> tuple[list[ShownProduct], int | None]:
    """The page's products, in one statement (this is the search API's hot path); and the
    page's ``total``."""
    rows = (await session.execute(_shown_statement(page.shape), page.params)).all()
    products: dict[UUID, tuple] = {}
    variants: dict[UUID, list[ShownVariant]] = {}
    for row in rows:
        products.setdefault(row[0], row[:8])
        variants.setdefault(row[0], []).append(ShownVariant(*row[8:15]))
    shown = [ShownProduct(*product[:7], _split(product[7]), variants[product_id])
             for product_id, product in products.items()]
    return shown, rows[0][15] if rows and page.statements.counted else None


def _split(categories: str | None) -> list[str]:
    """The categories gathered by aggregate_strings, in order (slugs have no comma)."""
    return sorted(categories.split(",")) if categories else []


def page_query(session: AsyncSession, criteria: SearchCriteria) -> PageQuery | None:
    """The page ``criteria`` asks for, to be joined to what is shown of it. None when the words
    cannot match anything (only punctuation or stop words)."""
    engine = _engine(session)
    params: dict[str, object] = {"hub_id": criteria.hub_id, "limit": criteria.limit,
                                 "offset": criteria.offset}
    if criteria.searched:
        words = query_terms(criteria.q)
        if not words:
            return None
        params["words"] = ts_query(words) if engine == "postgresql" else fts5_match(words)
    optional = {"shop_id": criteria.shop_id, "category": criteria.category,
                "min_price": criteria.min_price_cents, "max_price": criteria.max_price_cents}
    params.update((name, value) for name, value in optional.items() if value is not None)
    shape = PageShape(engine, criteria.order, criteria.searched, "shop_id" in params,
                      "category" in params, "min_price" in params, "max_price" in params,
                      criteria.in_stock)
    return PageQuery(criteria, shape, params)


@functools.cache
def page_statements(shape: PageShape) -> PageStatements:
    """The statements of ``shape``, built on its first search."""
    query, rank = _matching(shape)
    keys = _keys(shape.order, rank)
    counted = rank is not None  # every match is ranked before the page is cut: count them then
    columns = [key.label(f"key_{number}") for number, (key, _) in enumerate(keys)]
    if counted:
        columns.append(func.count().over().label("total"))
    rows = (query.add_columns(*columns).order_by(*_order(shape.order, rank))
            .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
            .subquery("page"))
    order = [rows.c[f"key_{number}"].desc() if descending else rows.c[f"key_{number}"]
             for number, (_, descending) in enumerate(keys)]
    return PageStatements(rows, order, counted,
                          select(func.count()).select_from(query.subquery()))


def page_total(page: PageStatements) -> list[ColumnElement]:
    """The column to read ``total`` from, when the page counts."""
    return [page.rows.c.total] if page.counted else []


async def total(session: AsyncSession, page: PageQuery, counted: int | None) -> int:
    """How many match in all: ``counted`` (the page's total, None when it had no row or did
    not count), else counted now."""
    if counted is not None:
        return counted
    if page.statements.counted and not page.criteria.offset:
        return 0  # a page counted, empty from the start: nothing matches
    return (await session.execute(page.statements.count, page.params)).scalar_one()


def _matching(shape: PageShape) -> tuple[Select, ColumnElement | None]:
    """The entries that match, and how well (lower is better) when words are searched."""
    matching = select(CatalogueEntry.product_id).where(*_filters(shape))
    if not shape.searched:
        return matching, None
    return _full_text(shape.engine, matching)


def _filters(shape: PageShape) -> list[ColumnElement[bool]]:
    filters = [CatalogueEntry.hub_id == bindparam("hub_id")]
    if shape.shop:
        filters.append(CatalogueEntry.shop_id == bindparam("shop_id"))
    if shape.category:
        filters.append(col(CatalogueEntry.product_id).in_(
            select(ProductCategory.product_id)
            .where(ProductCategory.category == bindparam("category"))))
    if shape.min_price:
        filters.append(CatalogueEntry.price_cents >= bindparam("min_price"))
    if shape.max_price:
        filters.append(CatalogueEntry.price_cents <= bindparam("max_price"))
    if shape.in_stock:
        # Read live, not from the entry: reservations move stock without touching the catalogue.
        filters.append(exists().where(
            ProductVariant.product_id == CatalogueEntry.product_id, col(ProductVariant.available),
            ProductVariant.on_hand > ProductVariant.reserved))
    return filters


def _full_text(engine: str, matching: Select) -> tuple[Select, ColumnElement]:
    """``matching`` narrowed to the entries with every word, and how well each matches (lower
    is better)."""
    words = bindparam("words", type_=String)
    if engine == "postgresql":
        document = literal_column("catalogue_entries.document")
        query = func.to_tsquery(literal_column("'french'"), words)
        return matching.where(document.op("@@")(query)), -func.ts_rank(document, query)
    # The full-text matches first, once: left to itself, SQLite's planner may walk the hub's
    # entries and ask the FTS5 index about each in turn, a hundred times slower.
    index = table("catalogue_entries_fts", column("rowid"))
    fts = literal_column("catalogue_entries_fts")
    matched = (select(index.c.rowid.label("id"), func.bm25(fts, *_FTS5_WEIGHTS).label("rank"))
               .where(fts.op("MATCH")(words))
               .cte("matched").prefix_with("MATERIALIZED"))
    return matching.join(matched, matched.c.id == CatalogueEntry.id), matched.c.rank


def _order(sort: Sort, rank: ColumnElement | None) -> list:
    return [key.desc() if descending else key for key, descending in _keys(sort, rank)]


def _keys(sort: Sort, rank: ColumnElement | None) -> list[tuple[ColumnElement, bool]]:
    """What ``sort`` sorts by, in turn, and whether descending."""
    ties = [(CatalogueEntry.name_key, False), (CatalogueEntry.product_id, False)]
    match sort:
        case Sort.RELEVANCE:
            return [(rank, False), *ties]
        case Sort.PRICE_ASC:
            return [(CatalogueEntry.price_cents, False), *ties]
        case Sort.PRICE_DESC:
            return [(CatalogueEntry.price_cents, True), *ties]
        case Sort.NEWEST:
            return [(CatalogueEntry.listed_at, True), *ties]
        case Sort.NAME:
            return ties


def _engine(session: AsyncSession) -> str:
    return session.bind.dialect.name
