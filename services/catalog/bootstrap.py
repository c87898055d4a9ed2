"""The catalog service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.catalog import api, pages
from services.catalog.csv_catalogue import api as csv_api
from services.catalog.csv_catalogue import pages as csv_pages
from services.catalog.photos import api as photo_api
from services.catalog.photos import pages as photo_pages
from services.catalog.photos.storage import FolderStorage, PhotoStorage, S3Storage
from services.catalog.shops import api as shop_api
from services.catalog.shops import pages as shop_pages
from services.catalog.storefront import pages as public_pages
from services.catalog.storefront.kept import KeptHubPages
from services.catalog.subscriptions import SUBSCRIPTIONS
from services.catalog.tables import CatalogTable
from services.catalog.use_cases import lock_stock_of_batch


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_CATALOG_", extra="ignore")

    # Product photos: where they are kept (services/catalog/photos/storage.py), and what is accepted.
    photo_storage: Literal["folder", "s3"] = "folder"
    photo_max_bytes: int = Field(default=5 * 2**20, gt=0, description="The heaviest photo accepted.")
    photo_max_pixels: int = Field(
        default=40_000_000, gt=0,
        description="The most pixels a photo may have; it is refused before it is decoded.")
    photo_folder: Path | None = Field(default=None, description="<data_dir>/media when unset.")
    photo_public_url: str | None = Field(
        default=None, description="Where browsers read the photos: /catalog/media (folder) or the "
                                  "bucket's address, <endpoint>/<bucket> (s3), when unset.")
    photo_s3_bucket: str = ""
    photo_s3_endpoint_url: str | None = Field(default=None, description="AWS S3 when unset.")
    photo_s3_region: str = "us-east-1"
    photo_s3_access_key_id: SecretStr = Field(
        default=SecretStr(""), description="boto3's own credential chain when unset.")
    photo_s3_secret_access_key: SecretStr = SecretStr("")

    # Set it true wherever the payment service runs Stripe: shops are then paid out through
    # their payout accounts, and one that cannot be paid yet must not take orders.
    require_payout_account: bool = Field(
        default=False,
        description="A shop goes live only once its payout account can be paid "
                    "(PayoutAccountUpdated.payouts_enabled); true wherever payments go through "
                    "Stripe. A shop opened for an account then starts as a draft.")

    @model_validator(mode="after")
    def _photo_bucket_is_named(self) -> CatalogSettings:
        if self.photo_storage == "s3" and not self.photo_s3_bucket:
            raise ValueError("the s3 photo storage needs photo_s3_bucket")
        return self


SERVICE_SETTINGS = CatalogSettings

SERVICE = ServiceDefinition(
    name="catalog",
    prefix="/catalog",
    metadata=CatalogTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router, photo_api.router, photo_pages.router, public_pages.router,
             csv_api.router, csv_pages.router, shop_api.router,
             shop_pages.router],
    batch_locks=lock_stock_of_batch,
    middleware=[KeptHubPages],
)


def photo_storage_for(settings: CatalogSettings) -> PhotoStorage:
    if settings.photo_storage == "s3":
        return S3Storage(
            bucket=settings.photo_s3_bucket, endpoint_url=settings.photo_s3_endpoint_url,
            region=settings.photo_s3_region,
            access_key_id=settings.photo_s3_access_key_id.get_secret_value() or None,
            secret_access_key=settings.photo_s3_secret_access_key.get_secret_value() or None,
            public_url=settings.photo_public_url,
        )
    return FolderStorage(settings.photo_folder or settings.data_dir / "media",
                         public_url=settings.photo_public_url or "/catalog/media")


def build(settings: CatalogSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    settings = settings or CatalogSettings()
    return build_runtime(SERVICE, settings, bus, adapters={"photos": photo_storage_for(settings)})
