"""The catalogue as residents see it on the public pages: a hub's shops and its latest products,
a page of a search, a shop's shelves. Read only; what matches, and in what order, is search.py's."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Select, and_, exists, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.kit.errors import NotFound
from libs.kit.runtime import ServiceRuntime
from services.catalog.domain import UNITS, ShopStatus
from services.catalog.photos.use_cases import ShopPicture, photo_storage, shop_pictures
from services.catalog.storefront import search
from services.catalog.storefront.search import PageQuery, PageShape, SearchCriteria, Sort
from services.catalog.tables import KnownHub, Product, ProductPhoto, ProductVariant, Shop

FEATURED = 12
PAGE_SIZE = 24


@dataclass(frozen=True)
class Thumbnail:
    """Where a product's first photo is read in small, and its size in pixels."""

    url: str
    width: int
    height: int


@dataclass(frozen=True)
class Offer:
    """A variant on sale, as a listing shows it."""

    id: UUID
    label: str
    price_cents: int
    units: int  # available: on hand and not reserved
    member_price_cents: int | None


@dataclass(frozen=True)
class Listing:
    """A product on a public page: its shop, its variants on sale, and its first photo."""

    id: UUID
    name: str
    description: str
    unit: str
    shop_id: UUID
    shop_name: str
    offers: list[Offer]
    thumbnail: Thumbnail | None

    @property
    def price_cents(self) -> int:
        return min((offer.price_cents for offer in self.offers), default=0)

    @property
    def prices_vary(self) -> bool:
        return len({offer.price_cents for offer in self.offers}) > 1

    @property
    def member_price_cents(self) -> int | None:
        """The lowest price a member of the hub pays for it, when it has a member price."""
        return min((offer.member_price_cents for offer in self.offers
                    if offer.member_price_cents is not None), default=None)

    @property
    def member_prices_vary(self) -> bool:
        return len({offer.member_price_cents for offer in self.offers}) > 1

    @property
    def units(self) -> int:
        return sum(offer.units for offer in self.offers)

    @property
    def per(self) -> str | None:
        """What the price is for, when not by the piece; variants with labels ("500 g") say it
        themselves."""
        if self.unit == "piece" or self.labels:
            return None
        return UNITS.get(self.unit, self.unit)

    @property
    def labels(self) -> list[str]:
        return [offer.label for offer in self.offers if offer.label]

    @property
    def in_stock(self) -> Offer | None:
        """The first variant with units available, the one "Commander" points at."""
        return next((offer for offer in self.offers if offer.units > 0), None)


@dataclass(frozen=True)
class ListingPage:
    """One page of products that ``criteria`` asks for, and how many there are in all."""

    criteria: SearchCriteria
    total: int
    listings: list[Listing]

    @property
    def number(self) -> int:
        return self.criteria.offset // self.criteria.limit + 1

    @property
    def count(self) -> int:
        return max(math.ceil(self.total / self.criteria.limit), 1)


@dataclass(frozen=True)
class ShopCard:
    """A shop on its hub's page."""

    id: UUID
    name: str
    photo: ShopPicture | None


@dataclass(frozen=True)
class HubFront:
    """A hub's page: its shops, and either its latest products in stock or a page of a search."""

    hub: KnownHub
    shops: list[ShopCard]
    featured: list[Listing]
    results: ListingPage | None


@dataclass(frozen=True)
class ShopFront:
    shop: Shop
    hub: KnownHub
    photo: ShopPicture | None
    page: ListingPage


def criteria_for(hub_id: UUID, *, page: int = 1, **asked) -> SearchCriteria:
    """The criteria of page ``page`` (from 1) of the public pages' lists."""
    return SearchCriteria(hub_id=hub_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **asked)


async def hub_front(runtime: ServiceRuntime, session: AsyncSession, hub_id: UUID,
                    searched: SearchCriteria | None = None) -> HubFront:
    """The hub and its shops, with the page of the search ``searched`` when one is asked for,
    else with its latest products in stock."""
    newest = SearchCriteria(hub_id=hub_id, in_stock=True, sort=Sort.NEWEST, limit=FEATURED)
    hub = await _hub(session, hub_id)
    shops = (await session.exec(
        select(Shop.id, Shop.name).where(Shop.hub_id == hub_id, Shop.status == ShopStatus.ACTIVE)
        .order_by(Shop.name))).all()
    pictures = await shop_pictures(session, photo_storage(runtime), [id_ for id_, _ in shops])
    cards = [ShopCard(id_, name, pictures.get(id_)) for id_, name in shops]
    if searched is None:
        latest, _ = await _listings(runtime, session, search.page_query(session, newest))
        return HubFront(hub, cards, featured=latest, results=None)
    return HubFront(hub, cards, featured=[], results=await _page(runtime, session, searched))


async def shop_front(runtime: ServiceRuntime, shop_id: UUID, *, page: int = 1, **asked
                     ) -> ShopFront:
    """A shop, its hub, and a page of its products on sale."""
    async with runtime.database.read_sessions() as session:
        found = (await session.exec(
            select(Shop, KnownHub).join(KnownHub, KnownHub.id == Shop.hub_id)
            .where(Shop.id == shop_id, Shop.status == ShopStatus.ACTIVE))).first()
        if found is None:
            raise NotFound(f"no open shop {shop_id}")  # a draft or suspended shop has no window
        shop, hub = found
        criteria = criteria_for(hub.id, shop_id=shop.id, page=page, **asked)
        pictures = await shop_pictures(session, photo_storage(runtime), [shop.id])
        return ShopFront(shop, hub, pictures.get(shop.id), await _page(runtime, session, criteria))


async def _page(runtime: ServiceRuntime, session: AsyncSession,
                criteria: SearchCriteria) -> ListingPage:
    page = search.page_query(session, criteria)
    if page is None:
        return ListingPage(criteria, 0, [])
    listings, counted = await _listings(runtime, session, page)
    return ListingPage(criteria, await search.total(session, page, counted), listings)


async def _listings(runtime: ServiceRuntime, session: AsyncSession, page: PageQuery | None
                    ) -> tuple[list[Listing], int | None]:
    """The products of ``page`` as listings, in its order, in one statement (this is the public
    pages' hot path); and the page's ``total``."""
    if page is None:
        return [], None
    rows = (await session.execute(_listing_statement(page.shape), page.params)).all()
    storage = photo_storage(runtime)
    products: dict[UUID, tuple] = {}
    offers: dict[UUID, list[Offer]] = {}
    for row in rows:
        if row[0] not in products:
            key, width, height = row[6:9]
            thumbnail = Thumbnail(storage.url(key), width, height) if key is not None else None
            products[row[0]] = (*row[:6], thumbnail)
        offers.setdefault(row[0], []).append(Offer(*row[9:14]))
    listings = [Listing(*product[:6], offers[product_id], product[6])
                for product_id, product in products.items()]
    return listings, rows[0][14] if rows and page.statements.counted else None


@functools.cache
def _listing_statement(shape: PageShape) -> Select:
    """A row per variant on sale of the page's products, with its product, shop and first
    photo, read as columns, not objects; built once per shape (see search.PageShape)."""
    page = search.page_statements(shape)
    later = aliased(ProductPhoto)
    first_photo = and_(ProductPhoto.product_id == Product.id, ~exists().where(
        later.product_id == ProductPhoto.product_id,
        tuple_(later.added_at, later.id) < tuple_(ProductPhoto.added_at, ProductPhoto.id)))
    return (select(Product.id, Product.name, Product.description, Product.unit, Shop.id,
                   Shop.name, ProductPhoto.thumbnail_key, ProductPhoto.thumbnail_width,
                   ProductPhoto.thumbnail_height,
                   ProductVariant.id, ProductVariant.label, ProductVariant.price_cents,
                   ProductVariant.on_hand - ProductVariant.reserved,
                   ProductVariant.member_price_cents, *search.page_total(page))
            .select_from(page.rows)
            .join(Product, Product.id == page.rows.c.product_id)
            .join(Shop, Shop.id == Product.shop_id)
            .join(ProductVariant, and_(ProductVariant.product_id == Product.id,
                                       col(ProductVariant.available)))
            .outerjoin(ProductPhoto, first_photo)
            .order_by(*page.order, ProductVariant.position))


async def _hub(session: AsyncSession, hub_id: UUID) -> KnownHub:
    hub = await session.get(KnownHub, hub_id)
    if hub is None:
        raise NotFound(f"no hub {hub_id}")
    return hub
