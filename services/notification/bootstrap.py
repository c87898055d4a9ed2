"""The notification service's composition root: settings and adapters, nothing connected yet."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from libs.kit.runtime import Periodic, ServiceDefinition, ServiceRuntime, build_runtime
from libs.kit.settings import ServiceSettings
from libs.messaging.port import EventBus
from services.notification import api, use_cases
from services.notification.domain import EmailSender, SmsSender
from services.notification.senders import ConsoleSms, HttpSmsGateway, MailFolder, SmtpEmailSender
from services.notification.subscriptions import SUBSCRIPTIONS
from services.notification.tables import NotificationTable


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADOPTE_NOTIFICATION_", extra="ignore")

    smtp_host: str = Field(default="", description="Empty: e-mails are written as .eml files "
                                                   "under <data_dir>/outbox-mail instead.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    mail_from: str = "Adopte mon commerçant <ne-pas-repondre@adopte-mon-commercant.fr>"
    sms_gateway_url: str = Field(default="", description="Empty: SMS are logged, not sent.")
    sms_gateway_token: SecretStr = SecretStr("")
    public_url: str = Field(default="http://127.0.0.1:8000",
                            description="Where the site is, for the links in messages.")
    delivery_every_s: float = Field(default=15.0, gt=0)
    retry_base_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)
    claim_lease_s: float = Field(default=300.0, gt=0,
                                 description="Longer than any one send may take.")
    stale_after_h: float = Field(default=48.0, gt=0,
                                 description="Older events feed the read models only.")


SERVICE_SETTINGS = NotificationSettings

SERVICE = ServiceDefinition(
    name="notification",
    prefix="/notifications",
    metadata=NotificationTable.metadata,
    subscriptions=SUBSCRIPTIONS,
    routers=[api.router],
    periodic=[Periodic(every_s=lambda settings: settings.delivery_every_s,
                       run=use_cases.deliver_due)],
)


def email_sender(settings: NotificationSettings) -> EmailSender:
    if not settings.smtp_host:
        return MailFolder(settings.data_dir / "outbox-mail")
    return SmtpEmailSender(host=settings.smtp_host, port=settings.smtp_port,
                           security=settings.smtp_security, username=settings.smtp_username,
                           password=settings.smtp_password.get_secret_value(),
                           timeout_s=settings.smtp_timeout_s)


def sms_sender(settings: NotificationSettings) -> SmsSender:
    if not settings.sms_gateway_url:
        return ConsoleSms()
    return HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_token.get_secret_value())


def build(settings: NotificationSettings | None = None, bus: EventBus | None = None
          ) -> ServiceRuntime:
    settings = settings or NotificationSettings()
    return build_runtime(SERVICE, settings, bus,
                         adapters={"email": email_sender(settings), "sms": sms_sender(settings)})
