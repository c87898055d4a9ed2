"""The order service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import Periodic, ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.order import api, pages
from services.order.subscriptions import SUBSCRIPTIONS
from services.order.tables import OrderTable
from services.order.use_cases import expire_unpaid_orders, measure_waiting_sagas


class OrderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_ORDER_", extra="ignore")

    payment_delay_s: float = Field(default=900, gt=0, description="Time a resident has to pay.")
    sweep_interval_s: float = Field(default=5, gt=0,
                                    description="How often unpaid orders past their delay are "
                                                "cancelled.")
    saga_watch_interval_s: float = Field(default=15, gt=0,
                                         description="How often the age of the oldest order "
                                                     "waiting on the saga is measured.")


SERVICE_SETTINGS = OrderSettings

SERVICE = ServiceDefinition(
    name="order",
    prefix="/orders",
    metadata=OrderTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router],
    periodic=[Periodic(every_s=lambda settings: settings.sweep_interval_s,
                       run=expire_unpaid_orders),
              Periodic(every_s=lambda settings: settings.saga_watch_interval_s,
                       run=measure_waiting_sagas)],
)


def build(settings: OrderSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or OrderSettings(), bus)
