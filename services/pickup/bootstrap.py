"""The pickup service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.pickup import api, pages
from services.pickup.subscriptions import SUBSCRIPTIONS
from services.pickup.tables import PickupTable


class PickupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_PICKUP_", extra="ignore")


SERVICE_SETTINGS = PickupSettings

SERVICE = ServiceDefinition(
    name="pickup",
    prefix="/pickup",
    metadata=PickupTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router],
)


def build(settings: PickupSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or PickupSettings(), bus)
