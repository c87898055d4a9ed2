"""The payment service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.payment import api
from services.payment.subscriptions import SUBSCRIPTIONS
from services.payment.tables import PaymentTable


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_PAYMENT_", extra="ignore")


SERVICE_SETTINGS = PaymentSettings

SERVICE = ServiceDefinition(
    name="payment",
    prefix="/payments",
    metadata=PaymentTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router],
)


def build(settings: PaymentSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or PaymentSettings(), bus)
