"""The accounts service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.accounts import api, pages
from services.accounts.signing import TokenSigner
from services.accounts.subscriptions import SUBSCRIPTIONS
from services.accounts.tables import AccountsTable


class AccountsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_ACCOUNTS_", extra="ignore")

    # Browsers send a Secure cookie over HTTPS only; plain-http local use turns this off.
    cookie_secure: bool = True
    access_token_ttl_minutes: int = Field(default=12 * 60, ge=1)
    # Sign-in throttling (domain.ThrottleRule): an account after a few failures, a network
    # address after many (a tiers-lieu's residents may share one behind its Wi-Fi).
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_s: int = Field(default=15 * 60, ge=1)
    login_lockout_s: int = Field(default=5 * 60, ge=1)


SERVICE_SETTINGS = AccountsSettings

SERVICE = ServiceDefinition(
    name="accounts",
    prefix="/accounts",
    metadata=AccountsTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router, pages.router],
)


def build(settings: AccountsSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    settings = settings or AccountsSettings()
    signer = TokenSigner(settings.jwt_key_files,
                         ttl=timedelta(minutes=settings.access_token_ttl_minutes))
    return build_runtime(SERVICE, settings, bus, adapters={"tokens": signer})
