"""The accounts service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.accounts import api
from services.accounts.subscriptions import SUBSCRIPTIONS
from services.accounts.tables import AccountsTable


class AccountsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_ACCOUNTS_", extra="ignore")


SERVICE_SETTINGS = AccountsSettings

SERVICE = ServiceDefinition(
    name="accounts",
    prefix="/accounts",
    metadata=AccountsTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router],
)


def build(settings: AccountsSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    return build_runtime(SERVICE, settings or AccountsSettings(), bus)
