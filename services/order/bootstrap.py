"""The order service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.order import api
from services.order.subscriptions import SUBSCRIPTIONS
from services.order.tables import OrderTable


class OrderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_ORDER_", extra="ignore")


SERVICE_SETTINGS = OrderSettings

SERVICE = ServiceDefinition(
    name="order",
    prefix="/orders",
    metadata=OrderTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router],
)


def build(settings: OrderSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or OrderSettings(), bus)
