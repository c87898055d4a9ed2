"""The catalog service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.catalog import api, pages
from services.catalog.subscriptions import SUBSCRIPTIONS
from services.catalog.tables import CatalogTable


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_CATALOG_", extra="ignore")


SERVICE_SETTINGS = CatalogSettings

SERVICE = ServiceDefinition(
    name="catalog",
    prefix="/catalog",
    metadata=CatalogTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router],
)


def build(settings: CatalogSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or CatalogSettings(), bus)
