"""The payment service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import Periodic, ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.payment import api, membership_pages, pages, use_cases
from services.payment.domain import FULL_BPS, MAX_COMMISSION_BPS, PaymentProvider
from services.payment.ledger import api as ledger_api
from services.payment.ledger import pages as ledger_pages
from services.payment.ledger import tables as ledger_tables  # noqa: F401 (create_all makes them)
from services.payment.providers import SimulatedProvider, StripeProvider
from services.payment.subscriptions import SUBSCRIPTIONS
from services.payment.tables import PaymentTable


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_PAYMENT_", extra="ignore")

    provider: Literal["simulated", "stripe"] = "simulated"
    commission_bps: int = Field(default=800, ge=0, le=MAX_COMMISSION_BPS,
                                description="The commission where neither hub nor shop has its own.")
    no_show_refund_bps: int = Field(default=0, ge=0, le=FULL_BPS,
                                    description="What a no-show gets back where its hub has no "
                                                "policy of its own (0: the shops keep it all).")
    stripe_api_key: SecretStr = SecretStr("")
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_connect_webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="The signing secret of the Connect webhook endpoint "
                                           "(account.updated), when it is not the same endpoint.")
    provider_sync_every_s: float = Field(
        default=2.0, gt=0, description="How often the provider step retries what it could not do "
                                       "(it also runs as soon as a handler leaves it work)."
    )

    simulated_payments_succeed_at_once: bool = Field(
        default=False, description="The simulated provider takes every order's payment as soon "
                                   "as it opens it, as if the resident paid then (benchmarks).")

    membership_sweep_every_s: float = Field(
        default=5.0, gt=0, description="How often membership fees unpaid after their pay_by "
                                       "are called off."
    )

    @model_validator(mode="after")
    def _stripe_is_configured(self) -> PaymentSettings:
        if self.provider == "stripe" and not (
            self.stripe_api_key.get_secret_value() and self.stripe_webhook_secret.get_secret_value()
        ):
            raise ValueError("the stripe provider needs stripe_api_key and stripe_webhook_secret")
        return self


SERVICE_SETTINGS = PaymentSettings

SERVICE = ServiceDefinition(
    name="payment",
    prefix="/payments",
    metadata=PaymentTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router, pages.payouts_router, membership_pages.router,
             ledger_api.router, ledger_pages.router],
    periodic=[Periodic(every_s=lambda settings: settings.provider_sync_every_s,
                       run=use_cases.sync_with_provider),
              Periodic(every_s=lambda settings: settings.membership_sweep_every_s,
                       run=use_cases.call_off_overdue_memberships)],
)


def provider_for(settings: PaymentSettings) -> PaymentProvider:
    if settings.provider == "stripe":
        return StripeProvider(
            api_key=settings.stripe_api_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
            connect_webhook_secret=settings.stripe_connect_webhook_secret.get_secret_value(),
        )
    return SimulatedProvider()


def build(settings: PaymentSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    settings = settings or PaymentSettings()
    return build_runtime(SERVICE, settings, bus,
                         adapters={"provider": provider_for(settings)})
