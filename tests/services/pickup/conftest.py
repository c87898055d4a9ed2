"""A running pickup service for tests: its app on httpx, tokens for any role, and the events it
is fed and those it wrote to its outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts import Event, registry
from libs.contracts.accounts import UserRegistered
from libs.contracts.order import OrderConfirmed, OrderLine, OrderPart, OrderPlaced
from libs.contracts.pickup import PickupScheduled
from libs.kit.runtime import ServiceRuntime
from libs.messaging.port import Record
from services.pickup.bootstrap import PickupSettings
from services.pickup.main import create_app
from services.pickup.tables import outbox
from tests.support.csrf import csrf_ready

HUB = {"name": "Le Grenier Partagé", "town": "Paimpol", "address": "3 place du Martray"}


class Pickup:
    """The service under test, and what a test needs to drive it."""

    def __init__(self, client: httpx.AsyncClient, runtime: ServiceRuntime) -> None:
        self.client = client
        self.runtime = runtime
        private_path, _ = runtime.settings.jwt_key_files()
        self.issuer = TokenIssuer(private_path.read_text())
        self.admin = self.headers(roles={"platform_admin"})

    def token(self, *, user_id: UUID | None = None, email: str = "someone@example.org",
              roles: set[str] | None = None) -> str:
        principal = Principal(user_id=user_id or uuid4(), email=email, name="Someone",
                              roles=frozenset(roles or {"resident"}))
        return self.issuer.issue(principal)

    def headers(self, **who) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**who)}"}

    async def feed(self, event: Event) -> None:
        """Deliver an event as another service would publish it."""
        await self.runtime.handle(Record(event.topic, partition=0, offset=0, key=event.key,
                                         value=event.envelope(correlation_id="t").to_bytes()))

    async def published(self, *types: type[Event]) -> list[Event]:
        async with self.runtime.database.sessions() as session:
            rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).all()
        events = [registry.decode_bytes(row.envelope)[1] for row in rows]
        return [event for event in events if not types or isinstance(event, types)]

    async def register(self, email: str, name: str = "Camille") -> UUID:
        user_id = uuid4()
        await self.feed(UserRegistered(user_id=user_id, email=email, name=name,
                                       roles=["resident"]))
        return user_id

    async def open_hub(self) -> str:
        response = await self.client.post("/pickup/api/v1/hubs", json=HUB, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def hub_member(self, hub_id: str, role: str = "staff") -> dict[str, str]:
        """Headers of a new account made ``role`` of the hub."""
        email = f"{uuid4().hex[:8]}@tiers-lieu.example"
        user_id = await self.register(email)
        response = await self.client.post(f"/pickup/api/v1/hubs/{hub_id}/staff",
                                          json={"email": email, "role": role}, headers=self.admin)
        assert response.status_code == 201, response.text
        return self.headers(user_id=user_id, email=email)

    async def open_slot(self, hub_id: str, *, capacity: int = 5,
                        starts_at: datetime | None = None) -> dict:
        starts_at = starts_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        response = await self.client.post(
            f"/pickup/api/v1/hubs/{hub_id}/slots", headers=self.admin,
            json={"starts_at": starts_at.isoformat(),
                  "ends_at": (starts_at + timedelta(hours=1)).isoformat(), "capacity": capacity})
        assert response.status_code == 201, response.text
        return response.json()

    async def confirmed_order(self, hub_id: str, shop_ids: list[UUID], *,
                              slot: dict | None = None) -> UUID:
        """An order placed on a slot, then paid: the hub expects one part per shop."""
        slot = slot or await self.open_slot(hub_id)
        order_id = uuid4()
        parts = [part_of(shop_id) for shop_id in shop_ids]
        await self.feed(placed(order_id, hub_id, slot["id"], parts))
        await self.feed(OrderConfirmed(order_id=order_id, hub_id=hub_id, slot_id=slot["id"],
                                       resident_id=uuid4(), parts=parts,
                                       total_cents=sum(p.total_cents for p in parts)))
        return order_id

    async def code_of(self, order_id: UUID) -> str:
        scheduled = [e for e in await self.published(PickupScheduled) if e.order_id == order_id]
        return scheduled[0].code


def part_of(shop_id: UUID, cents: int = 1250) -> OrderPart:
    line = OrderLine(product_id=uuid4(), variant_id=uuid4(), shop_id=shop_id,
                     name="Pain de campagne", variant_label="", quantity=1, unit_price_cents=cents)
    return OrderPart(shop_id=shop_id, total_cents=cents, lines=[line])


def placed(order_id: UUID, hub_id: str, slot_id: str, parts: list[OrderPart] | None = None
           ) -> OrderPlaced:
    parts = parts or [part_of(uuid4())]
    return OrderPlaced(order_id=order_id, hub_id=hub_id, slot_id=slot_id, resident_id=uuid4(),
                       resident_email="resident@example.org", parts=parts,
                       total_cents=sum(p.total_cents for p in parts))


@contextlib.asynccontextmanager
async def running_pickup(tmp_path, database_url: str | None = None) -> AsyncIterator[Pickup]:
    settings = PickupSettings(data_dir=tmp_path, database_url=database_url, bus="embedded",
                              outbox_relay=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://hub")) as client:
            yield Pickup(client, app.state.runtime)


@pytest.fixture
async def pickup(tmp_path) -> AsyncIterator[Pickup]:
    """On SQLite, for what does not depend on the database engine."""
    async with running_pickup(tmp_path) as service:
        yield service


@pytest.fixture
async def pickup_on_each_engine(tmp_path, database_url) -> AsyncIterator[Pickup]:
    """On SQLite and on PostgreSQL, for what concurrency could break."""
    async with running_pickup(tmp_path, database_url) as service:
        yield service
