"""The notification service running in-process, sending to a real SMTP server (aiosmtpd) and a
real HTTP SMS gateway (a small http.server), fed the events other services would publish."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID, uuid4

import httpx
import pytest
from sqlmodel import select

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts import Event
from libs.contracts.accounts import ContactPreferencesChanged, UserRegistered
from libs.contracts.catalog import ShopOpened
from libs.contracts.order import OrderConfirmed, OrderLine, OrderPart, OrderPlaced
from libs.contracts.pickup import HubOpened, PickupScheduled, SlotOpened
from libs.kit.runtime import ServiceRuntime
from libs.messaging.port import Record
from services.notification.bootstrap import NotificationSettings
from services.notification.main import create_app
from services.notification.tables import SentMessage
from tests.support import smtp
from tests.support.smtp import SmtpServer

smtp_server = smtp.smtp_server  # the fixture, for every test here

GATEWAY_TOKEN = "gateway-secret"
HUB = {"name": "La Fabrique du Centre", "town": "Lannion", "address": "2 rue des Augustins"}
SLOT_START = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 17:00 in Paris


@dataclass
class SmsGateway:
    """What the gateway received: each request's headers and JSON body."""

    url: str
    requests: list[dict] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if gateway.fail_next > 0:
                gateway.fail_next -= 1
                self.send_response(503)
            else:
                gateway.requests.append({"path": self.path, "body": body,
                                         "authorization": self.headers["Authorization"]})
                self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Town:
    """A hub, a slot, two shops and their owners, a resident: what an order's messages name."""

    hub_id: UUID = field(default_factory=uuid4)
    slot_id: UUID = field(default_factory=uuid4)
    bakery_id: UUID = field(default_factory=uuid4)
    cheese_id: UUID = field(default_factory=uuid4)
    baker_id: UUID = field(default_factory=uuid4)
    cheesemaker_id: UUID = field(default_factory=uuid4)
    resident_id: UUID = field(default_factory=uuid4)
    resident_email: str = "camille@example.org"

    def parts(self) -> list[OrderPart]:
        bread = OrderLine(product_id=uuid4(), variant_id=uuid4(), shop_id=self.bakery_id,
                          name="Pain de campagne", variant_label="1 kg", quantity=2,
                          unit_price_cents=450)
        cheese = OrderLine(product_id=uuid4(), variant_id=uuid4(), shop_id=self.cheese_id,
                           name="Tomme de Bretagne", variant_label="", quantity=1,
                           unit_price_cents=1290)
        return [OrderPart(shop_id=self.bakery_id, total_cents=900, lines=[bread]),
                OrderPart(shop_id=self.cheese_id, total_cents=1290, lines=[cheese])]


class Notification:
    def __init__(self, client: httpx.AsyncClient, runtime: ServiceRuntime) -> None:
        self.client = client
        self.runtime = runtime
        private_path, _ = runtime.settings.jwt_key_files()
        principal = Principal(user_id=uuid4(), email="admin@example.org", name="Admin",
                              roles=frozenset({"resident", "platform_admin"}))
        self.admin = {"Authorization": f"Bearer {TokenIssuer(private_path.read_text()).issue(principal)}"}

    async def feed(self, event: Event, *, occurred_at: datetime | None = None) -> None:
        envelope = event.envelope(correlation_id="t")
        if occurred_at is not None:
            envelope = envelope.model_copy(update={"occurred_at": occurred_at})
        await self.runtime.handle(Record(event.topic, partition=0, offset=0, key=event.key,
                                         value=envelope.to_bytes()))

    async def feed_together(self, *events: Event) -> None:
        """In one transaction, as a consumer hands over a batch of records."""
        await self.runtime.handle_batch([
            Record(event.topic, partition=0, offset=offset, key=event.key,
                   value=event.envelope(correlation_id="t").to_bytes())
            for offset, event in enumerate(events)])

    async def messages(self, **where) -> list[SentMessage]:
        query = select(SentMessage).order_by(SentMessage.created_at)
        for name, value in where.items():
            query = query.where(getattr(SentMessage, name) == value)
        async with self.runtime.database.sessions() as session:
            return list((await session.exec(query)).all())

    async def open_town(self, town: Town, *, locale: str = "fr", phone: str | None = None,
                        sms_opt_in: bool = False) -> None:
        await self.feed(HubOpened(hub_id=town.hub_id, **HUB))
        await self.feed(SlotOpened(slot_id=town.slot_id, hub_id=town.hub_id, starts_at=SLOT_START,
                                   ends_at=SLOT_START + timedelta(hours=2), capacity=10,
                                   label="Dégustation de fromages"))
        for shop_id, name, owner_id, email in (
                (town.bakery_id, "Boulangerie Le Fournil", town.baker_id, "fournil@example.org"),
                (town.cheese_id, "Fromagerie Kerbriant", town.cheesemaker_id,
                 "kerbriant@example.org")):
            await self.feed(UserRegistered(user_id=owner_id, email=email, name=name,
                                           roles=["resident"]))
            await self.feed(ShopOpened(shop_id=shop_id, hub_id=town.hub_id, name=name,
                                       owner_id=owner_id, owner_email=email))
        await self.feed(UserRegistered(user_id=town.resident_id, email=town.resident_email,
                                       name="Camille Le Bihan", roles=["resident"]))
        if locale != "fr" or phone or sms_opt_in:
            await self.feed(ContactPreferencesChanged(user_id=town.resident_id, locale=locale,
                                                      phone=phone, sms_opt_in=sms_opt_in))

    async def confirm_order(self, town: Town, order_id: UUID | None = None,
                            code: str = "K7Q2PM") -> UUID:
        order_id = order_id or uuid4()
        parts = town.parts()
        total = sum(part.total_cents for part in parts)
        await self.feed(OrderPlaced(order_id=order_id, hub_id=town.hub_id, slot_id=town.slot_id,
                                    resident_id=town.resident_id,
                                    resident_email=town.resident_email, parts=parts,
                                    total_cents=total))
        await self.feed(OrderConfirmed(order_id=order_id, hub_id=town.hub_id,
                                       slot_id=town.slot_id, resident_id=town.resident_id,
                                       parts=parts, total_cents=total))
        await self.feed(PickupScheduled(order_id=order_id, hub_id=town.hub_id,
                                        slot_id=town.slot_id, code=code))
        return order_id


@asynccontextmanager
async def running_notification(settings: NotificationSettings) -> AsyncIterator[Notification]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
            yield Notification(client, app.state.runtime)


def fast_settings(tmp_path, smtp: SmtpServer | None, gateway: SmsGateway | None = None,
                  **overrides) -> NotificationSettings:
    """Retries within a fraction of a second, so tests see them."""
    return NotificationSettings(
        data_dir=tmp_path, bus="embedded", database_url=overrides.pop("database_url", None),
        smtp_host=smtp.host if smtp else "", smtp_port=smtp.port if smtp else 25,
        smtp_security="none", sms_gateway_url=gateway.url if gateway else "",
        sms_gateway_token=GATEWAY_TOKEN, public_url="https://adopte.example",
        delivery_every_s=0.05, retry_base_s=0.05, retry_max_s=0.2, **overrides)


@pytest.fixture
async def town() -> Town:
    return Town()


@pytest.fixture
async def notification(tmp_path, smtp_server, sms_gateway) -> AsyncIterator[Notification]:
    async with running_notification(fast_settings(tmp_path, smtp_server, sms_gateway)) as running:
        yield running


@pytest.fixture
async def notification_on_each_database(tmp_path, database_url, smtp_server, sms_gateway
                                        ) -> AsyncIterator[Notification]:
    settings = fast_settings(tmp_path, smtp_server, sms_gateway, database_url=database_url)
    async with running_notification(settings) as running:
        yield running
