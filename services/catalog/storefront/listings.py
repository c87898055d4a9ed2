"""The catalogue as residents see it on the public pages: a hub's shops and its latest products,
a page of a search, a shop's shelves. Read only; what matches, and in what order, is search.py's."""

from __future__ import annotations

import math
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.kit.errors import NotFound
from libs.kit.runtime import ServiceRuntime
from services.catalog.domain import UNITS, ShopStatus
from services.catalog.photos.use_cases import photo_storage
from services.catalog.storefront import search
from services.catalog.storefront.search import SearchCriteria, Sort
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
    page: ListingPage


def criteria_for(hub_id: UUID, *, page: int = 1, **asked) -> SearchCriteria:
    """The criteria of page ``page`` (from 1) of the public pages' lists."""
    return SearchCriteria(hub_id=hub_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **asked)


async def hub_front(runtime: ServiceRuntime, hub_id: UUID,
                    searched: SearchCriteria | None = None) -> HubFront:
    """The hub and its shops, with the page of the search ``searched`` when one is asked for,
    else with its latest products in stock."""
    newest = SearchCriteria(hub_id=hub_id, in_stock=True, sort=Sort.NEWEST, limit=FEATURED)
    async with runtime.database.sessions() as session:
        hub = await _hub(session, hub_id)
        cards = [ShopCard(*row) for row in await session.exec(
            select(Shop.id, Shop.name).where(Shop.hub_id == hub_id, Shop.status == ShopStatus.ACTIVE)
            .order_by(Shop.name))]
        if searched is None:
            latest = await _listings(runtime, session, await search.first(session, newest))
            return HubFront(hub, cards, featured=latest, results=None)
        return HubFront(hub, cards, featured=[], results=await _page(runtime, session, searched))


async def shop_front(runtime: ServiceRuntime, shop_id: UUID, *, page: int = 1, **asked
                     ) -> ShopFront:
    """A shop, its hub, and a page of its products on sale."""
    async with runtime.database.sessions() as session:
        found = (await session.exec(
            select(Shop, KnownHub).join(KnownHub, KnownHub.id == Shop.hub_id)
            .where(Shop.id == shop_id, Shop.status == ShopStatus.ACTIVE))).first()
        if found is None:
            raise NotFound(f"no open shop {shop_id}")  # a draft or suspended shop has no window
        shop, hub = found
        criteria = criteria_for(hub.id, shop_id=shop.id, page=page, **asked)
        return ShopFront(shop, hub, await _page(runtime, session, criteria))


async def _page(runtime: ServiceRuntime, session: AsyncSession,
                criteria: SearchCriteria) -> ListingPage:
    found = await search.find(session, criteria)
    return ListingPage(criteria, found.total,
                       await _listings(runtime, session, found.product_ids))


async def _listings(runtime: ServiceRuntime, session: AsyncSession,
                    product_ids: list[UUID]) -> list[Listing]:
    """The products of ``product_ids`` as listings, in that order: a row per variant on sale,
    read as columns, not objects (this is the public pages' hot path)."""
    if not product_ids:
        return []
    rows = await session.exec(
        select(Product.id, Product.name, Product.description, Product.unit, Shop.id, Shop.name,
               ProductVariant.id, ProductVariant.label, ProductVariant.price_cents,
               ProductVariant.on_hand - ProductVariant.reserved)
        .join(Shop, Shop.id == Product.shop_id)
        .join(ProductVariant, and_(ProductVariant.product_id == Product.id,
                                   col(ProductVariant.available)))
        .where(col(Product.id).in_(product_ids)).order_by(ProductVariant.position))
    products: dict[UUID, tuple] = {}
    offers: dict[UUID, list[Offer]] = {product_id: [] for product_id in product_ids}
    for row in rows:
        products[row[0]] = row[:6]
        offers[row[0]].append(Offer(*row[6:]))
    thumbnails = await _thumbnails(runtime, session, product_ids)
    return [Listing(*products[product_id], offers[product_id], thumbnails.get(product_id))
            for product_id in product_ids if product_id in products]


async def _thumbnails(runtime: ServiceRuntime, session: AsyncSession,
                      product_ids: list[UUID]) -> dict[UUID, Thumbnail]:
    """The thumbnail of each product's first photo, for those with one."""
    photos = await session.exec(
        select(ProductPhoto.product_id, ProductPhoto.thumbnail_key, ProductPhoto.thumbnail_width,
               ProductPhoto.thumbnail_height)
        .where(col(ProductPhoto.product_id).in_(product_ids))
        .order_by(ProductPhoto.added_at, ProductPhoto.id))
    storage = photo_storage(runtime)
    thumbnails: dict[UUID, Thumbnail] = {}
    for product_id, key, width, height in photos:
        thumbnails.setdefault(product_id, Thumbnail(storage.url(key), width, height))
    return thumbnails


async def _hub(session: AsyncSession, hub_id: UUID) -> KnownHub:
    hub = await session.get(KnownHub, hub_id)
    if hub is None:
        raise NotFound(f"no hub {hub_id}")
    return hub
