"""What the catalog does with product photos and with a shop's own photo: check who asks and
whether there is room, process the upload (in a thread), store its images, record the photo;
list them; replace or remove them.

The images are stored before the photo is recorded, and deleted again when the record is refused,
so a recorded photo always has its images; a photo removed loses its images once the removal has
committed (a failure there leaves unreachable files, never a photo without images)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.kit.errors import NotFound
from libs.kit.runtime import RuntimeWork, ServiceRuntime
from services.catalog.photos.rules import (
    MAX_PHOTOS_PER_PRODUCT,
    PhotoKeys,
    PhotoLimits,
    ProcessedPhoto,
    check_room_for_photo,
    photo_keys,
    process_photo,
)
from services.catalog.photos.storage import PhotoStorage
from services.catalog.shops import audit
from services.catalog.tables import Product, ProductPhoto, Shop, ShopPhoto
from services.catalog.use_cases import require_running

log = logging.getLogger(__name__)

# Decoding a large picture takes a few hundred megabytes for a moment: a few at a time only.
_DECODING = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class PhotoView:
    """A photo as pages and the API show it: where to read its picture and its thumbnail."""

    id: UUID
    product_id: UUID
    url: str
    thumbnail_url: str
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    added_at: datetime


@dataclass(frozen=True)
class ShopPicture:
    """The shop's own photo as pages and the API show it."""

    id: UUID
    shop_id: UUID
    url: str
    thumbnail_url: str
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    added_at: datetime


@dataclass(frozen=True)
class ShopPhotos:
    """The photos of a shop's products, and how many more of what kind its owner may add."""

    by_product: dict[UUID, list[PhotoView]]
    max_per_product: int
    max_megabytes: float

    def of(self, product_id: UUID) -> list[PhotoView]:
        return self.by_product.get(product_id, [])


def photo_storage(runtime: ServiceRuntime) -> PhotoStorage:
    return runtime.adapters["photos"]


def photo_limits(runtime: ServiceRuntime) -> PhotoLimits:
    return PhotoLimits(max_bytes=runtime.settings.photo_max_bytes,
                       max_pixels=runtime.settings.photo_max_pixels)


async def add_photo(runtime: ServiceRuntime, principal: Principal, product_id: UUID,
                    upload: bytes) -> PhotoView:
    """The shop's owner adds a photo to a product (``MAX_PHOTOS_PER_PRODUCT`` at most)."""
    async with runtime.database.sessions() as session:
        await _product_with_room(session, principal, product_id)  # refused before the work
    async with _stored_images(runtime, upload) as (photo_id, images), \
            runtime.unit_of_work() as uow:
        # Locked: concurrent uploads to one product count its photos one after the other.
        product = await _product_with_room(uow.session, principal, product_id, lock=True)
        photo = ProductPhoto(id=photo_id, product_id=product.id, shop_id=product.shop_id,
                             **images, added_by=principal.user_id, added_at=datetime.now(UTC))
        uow.session.add(photo)
        audit.record(uow.session, await uow.session.get(Shop, product.shop_id), principal,
                     "photo_added", f"Photo ajoutée : {product.name}",
                     {"product_id": product.id, "photo_id": photo.id})
    return view_of(photo, photo_storage(runtime))


async def photos_of_product(runtime: ServiceRuntime, product_id: UUID) -> list[PhotoView]:
    async with runtime.database.sessions() as session:
        if await session.get(Product, product_id) is None:
            raise NotFound(f"no product {product_id}")
        photos = await _photos(session, [product_id])
    return [view_of(photo, photo_storage(runtime)) for photo in photos]


async def shop_photos(runtime: ServiceRuntime, product_ids: Sequence[UUID]) -> ShopPhotos:
    """The photos of each of a shop's products, for its back office page."""
    async with runtime.database.sessions() as session:
        photos = await _photos(session, product_ids)
    by_product: dict[UUID, list[PhotoView]] = {}
    for photo in photos:
        by_product.setdefault(photo.product_id, []).append(view_of(photo, photo_storage(runtime)))
    return ShopPhotos(by_product, MAX_PHOTOS_PER_PRODUCT,
                      max_megabytes=runtime.settings.photo_max_bytes / 2**20)


async def remove_photo(runtime: ServiceRuntime, principal: Principal, photo_id: UUID) -> None:
    """The shop's owner removes a photo; its images go once the removal has committed."""
    async with runtime.unit_of_work() as uow:
        photo = await uow.session.get(ProductPhoto, photo_id)
        if photo is None:
            raise NotFound(f"no photo {photo_id}")
        shop = await uow.session.get(Shop, photo.shop_id)
        await require_running(uow.session, principal, shop)
        await uow.session.delete(photo)
        audit.record(uow.session, shop, principal, "photo_removed", "Photo retirée",
                     {"product_id": photo.product_id, "photo_id": photo.id})
        uow.after_commit(_deletion_of([photo.original_key, photo.thumbnail_key]))


async def set_shop_photo(runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
                         upload: bytes) -> ShopPicture:
    """Whoever runs the shop gives it its photo, or a new one in place of the old, whose images
    go once the change has committed."""
    async with runtime.database.sessions() as session:
        await _run_shop(session, principal, shop_id)  # refused before the work
    async with _stored_images(runtime, upload) as (photo_id, images), \
            runtime.unit_of_work() as uow:
        # Locked: of concurrent uploads, each replaces the one committed before it.
        shop = await _run_shop(uow.session, principal, shop_id, lock=True)
        replaced = await uow.session.get(ShopPhoto, shop_id)
        if replaced is not None:
            await uow.session.delete(replaced)
            await uow.session.flush()
            uow.after_commit(_deletion_of([replaced.original_key, replaced.thumbnail_key]))
        photo = ShopPhoto(id=photo_id, shop_id=shop.id, **images, added_by=principal.user_id,
                          added_at=datetime.now(UTC))
        uow.session.add(photo)
        audit.record(uow.session, shop, principal, "shop_photo_set",
                     "Photo de la boutique " + ("remplacée" if replaced else "ajoutée"),
                     {"photo_id": photo.id,
                      "replaced_photo_id": replaced.id if replaced else None})
    return shop_picture_of(photo, photo_storage(runtime))


async def remove_shop_photo(runtime: ServiceRuntime, principal: Principal, shop_id: UUID) -> None:
    """Whoever runs the shop takes its photo down; its images go once that has committed."""
    async with runtime.unit_of_work() as uow:
        shop = await _run_shop(uow.session, principal, shop_id, lock=True)
        photo = await uow.session.get(ShopPhoto, shop_id)
        if photo is None:
            raise NotFound(f"the shop {shop_id} has no photo")
        await uow.session.delete(photo)
        audit.record(uow.session, shop, principal, "shop_photo_removed",
                     "Photo de la boutique retirée", {"photo_id": photo.id})
        uow.after_commit(_deletion_of([photo.original_key, photo.thumbnail_key]))


async def shop_picture(runtime: ServiceRuntime, shop_id: UUID) -> ShopPicture | None:
    async with runtime.database.sessions() as session:
        pictures = await shop_pictures(session, photo_storage(runtime), [shop_id])
    return pictures.get(shop_id)


async def shop_pictures(session: AsyncSession, storage: PhotoStorage,
                        shop_ids: Sequence[UUID]) -> dict[UUID, ShopPicture]:
    """The photos of those of ``shop_ids`` that have one, in one query."""
    photos = await session.exec(select(ShopPhoto).where(col(ShopPhoto.shop_id).in_(shop_ids)))
    return {photo.shop_id: shop_picture_of(photo, storage) for photo in photos}


def shop_picture_of(photo: ShopPhoto, storage: PhotoStorage) -> ShopPicture:
    return ShopPicture(id=photo.id, shop_id=photo.shop_id, url=storage.url(photo.original_key),
                       thumbnail_url=storage.url(photo.thumbnail_key), width=photo.width,
                       height=photo.height, thumbnail_width=photo.thumbnail_width,
                       thumbnail_height=photo.thumbnail_height, added_at=photo.added_at)


def view_of(photo: ProductPhoto, storage: PhotoStorage) -> PhotoView:
    return PhotoView(id=photo.id, product_id=photo.product_id, url=storage.url(photo.original_key),
                     thumbnail_url=storage.url(photo.thumbnail_key), width=photo.width,
                     height=photo.height, thumbnail_width=photo.thumbnail_width,
                     thumbnail_height=photo.thumbnail_height, added_at=photo.added_at)


@contextlib.asynccontextmanager
async def _stored_images(runtime: ServiceRuntime, upload: bytes
                         ) -> AsyncIterator[tuple[UUID, dict]]:
    """An upload checked, re-encoded and stored under a new photo id, with what its record
    says of its images; the images go again if recording the photo fails."""
    processed = await asyncio.to_thread(_processed, upload, photo_limits(runtime))
    storage = photo_storage(runtime)
    photo_id = uuid4()
    keys = photo_keys(photo_id)
    try:
        await _store(storage, keys, processed)
        yield photo_id, _kept(keys, processed)
    except Exception:
        await _discard(storage, keys.all())
        raise


async def _store(storage: PhotoStorage, keys: PhotoKeys, processed: ProcessedPhoto) -> None:
    await asyncio.gather(
        storage.put(keys.original, processed.original.data, processed.content_type),
        storage.put(keys.thumbnail, processed.thumbnail.data, processed.content_type),
    )


def _kept(keys: PhotoKeys, processed: ProcessedPhoto) -> dict:
    """What a photo's record says of its images, whatever it is the photo of."""
    return {"original_key": keys.original, "thumbnail_key": keys.thumbnail,
            "content_type": processed.content_type, "width": processed.original.width,
            "height": processed.original.height, "thumbnail_width": processed.thumbnail.width,
            "thumbnail_height": processed.thumbnail.height}


def _processed(upload: bytes, limits: PhotoLimits) -> ProcessedPhoto:
    with _DECODING:
        return process_photo(upload, limits)


async def _discard(storage: PhotoStorage, keys: list[str]) -> None:
    """Deletes the images of a photo that was not recorded, keeping the reason it was not."""
    try:
        await storage.delete(keys)
    except Exception:
        log.exception("could not delete the images of a photo not recorded", extra={"keys": keys})


def _deletion_of(keys: list[str]) -> RuntimeWork:
    async def delete_images(runtime: ServiceRuntime) -> None:
        await photo_storage(runtime).delete(keys)

    return delete_images


async def _photos(session: AsyncSession, product_ids: Sequence[UUID]) -> list[ProductPhoto]:
    rows = await session.exec(
        select(ProductPhoto).where(col(ProductPhoto.product_id).in_(product_ids))
        .order_by(ProductPhoto.added_at, ProductPhoto.id)
    )
    return list(rows.all())


async def _run_shop(session: AsyncSession, principal: Principal, shop_id: UUID, *,
                    lock: bool = False) -> Shop:
    query = select(Shop).where(Shop.id == shop_id)
    if lock:
        query = query.with_for_update()
    shop = (await session.exec(query)).first()
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    await require_running(session, principal, shop)
    return shop


async def _product_with_room(session: AsyncSession, principal: Principal, product_id: UUID, *,
                             lock: bool = False) -> Product:
    query = select(Product).where(Product.id == product_id)
    if lock:
        query = query.with_for_update()
    product = (await session.exec(query)).first()
    if product is None:
        raise NotFound(f"no product {product_id}")
    await require_running(session, principal, await session.get(Shop, product.shop_id))
    photos = await session.exec(
        select(func.count()).select_from(ProductPhoto).where(ProductPhoto.product_id == product_id))
    check_room_for_photo(photos.one())
    return product

