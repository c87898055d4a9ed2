"""The order service in-process for tests: its app and runtime on a real database (no relay, so
its outbox stays put to be read), the events of other services fed to it as a consumer would,
tokens for the people of a small town, and a hub with two shops."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts import Event, registry
from libs.contracts.catalog import ProductChanged, ProductListed, ProductVariant, ShopOpened
from libs.contracts.payment import PaymentSucceeded, RefundIssued
from libs.contracts.pickup import HubOpened, HubStaffAssigned, SlotOpened
from libs.kit.runtime import ServiceRuntime
from libs.messaging.port import Record
from services.order.bootstrap import OrderSettings
from services.order.main import create_app
from tests.support.csrf import csrf_ready

_offsets = itertools.count()


@dataclass
class OrderService:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    issuer: TokenIssuer

    async def feed(self, event: Event) -> None:
        """Deliver ``event`` as the service's consumer would, behind its inbox."""
        await self.deliver(event.envelope(correlation_id="test").to_bytes(), event)

    async def deliver(self, raw: bytes, event: Event) -> None:
        await self.runtime.handle(Record(event.topic, partition=0, offset=next(_offsets),
                                         key=event.key, value=raw))

    async def published(self, event_type: type[Event] | None = None) -> list[Event]:
        """The events the service wrote to its outbox, oldest first."""
        table = self.runtime.outbox.table
        async with self.runtime.database.sessions() as session:
            rows = (await session.execute(select(table.c.envelope).order_by(table.c.id))).all()
        events = [registry.decode_bytes(row.envelope)[1] for row in rows]
        return [e for e in events if event_type is None or isinstance(e, event_type)]

    def auth(self, person: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(person)}"}


@contextlib.asynccontextmanager
async def running_order_service(tmp_path, database_url: str | None = None, **settings):
    options = {"data_dir": tmp_path, "outbox_relay": False, "sweep_interval_s": 3600, **settings}
    if database_url:
        options["database_url"] = database_url
    app = create_app(OrderSettings(**options))
    runtime: ServiceRuntime = app.state.runtime
    async with app.router.lifespan_context(app):
        private_key, _ = runtime.settings.jwt_key_files()
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://hub")) as client:
            yield OrderService(client, runtime, TokenIssuer(private_key.read_text()))


@pytest.fixture
async def service(tmp_path):
    async with running_order_service(tmp_path) as running:
        yield running


def person(name: str, *roles: str) -> Principal:
    return Principal(user_id=uuid.uuid4(), email=f"{name.lower()}@adopte.test", name=name,
                     roles=frozenset(roles or {"resident"}))


@dataclass
class Shop:
    id: uuid.UUID
    name: str
    owner: Principal
    products: dict[str, ProductListed] = field(default_factory=dict)
    """Name → the product as the catalog listed it (sold one way: one variant)."""

    def product(self, name: str) -> uuid.UUID:
        return self.products[name].product_id

    def variant(self, name: str) -> uuid.UUID:
        return self.products[name].variants[0].variant_id


@dataclass
class Town:
    """A hub with its staff, a slot tomorrow, two shops and their products; and a hub nearby."""

    hub_id: uuid.UUID
    slot_id: uuid.UUID
    slot_starts_at: datetime
    bakery: Shop
    cheese: Shop
    staff: Principal
    other_hub_id: uuid.UUID
    other_staff: Principal
    other_product_id: uuid.UUID
    resident: Principal = field(default_factory=lambda: person("Lou"))
    neighbour: Principal = field(default_factory=lambda: person("Max"))
    admin: Principal = field(default_factory=lambda: person("Admin", "platform_admin"))

    def basket(self, **quantities: int) -> dict:
        """A request body: quantities by product key (bread, baguette, tomme)."""
        return {"hub_id": str(self.hub_id), "slot_id": str(self.slot_id),
                "lines": [{"product_id": str(PRODUCTS[key](self)), "quantity": quantity}
                          for key, quantity in quantities.items()]}


PRODUCTS = {
    "bread": lambda town: town.bakery.product("Pain de campagne"),
    "baguette": lambda town: town.bakery.product("Baguette"),
    "tomme": lambda town: town.cheese.product("Tomme de Bretagne"),
}


async def open_town(service: OrderService) -> Town:
    hub_id, other_hub_id = uuid.uuid4(), uuid.uuid4()
    await service.feed(HubOpened(hub_id=hub_id, name="La Fabrique", town="Lannion",
                                 address="12 rue des Halles"))
    await service.feed(HubOpened(hub_id=other_hub_id, name="Le Grenier", town="Paimpol",
                                 address="3 place du Martray"))
    staff, other_staff = person("Camille"), person("Dominique")
    await service.feed(HubStaffAssigned(hub_id=hub_id, user_id=staff.user_id, email=staff.email,
                                        role="staff"))
    await service.feed(HubStaffAssigned(hub_id=other_hub_id, user_id=other_staff.user_id,
                                        email=other_staff.email, role="admin"))
    starts = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    slot_id = uuid.uuid4()
    await service.feed(SlotOpened(slot_id=slot_id, hub_id=hub_id, starts_at=starts,
                                  ends_at=starts + timedelta(hours=2), capacity=10))
    bakery = await open_shop(service, hub_id, "Boulangerie Le Fournil",
                             {"Pain de campagne": 420, "Baguette": 110})
    cheese = await open_shop(service, hub_id, "Fromagerie du Trégor", {"Tomme de Bretagne": 1290})
    elsewhere = await open_shop(service, other_hub_id, "Épicerie du Port", {"Sardines": 350})
    return Town(hub_id=hub_id, slot_id=slot_id, slot_starts_at=starts, bakery=bakery,
                cheese=cheese, staff=staff, other_hub_id=other_hub_id, other_staff=other_staff,
                other_product_id=elsewhere.product("Sardines"))


async def open_shop(service: OrderService, hub_id: uuid.UUID, name: str,
                    prices: dict[str, int]) -> Shop:
    shop = Shop(uuid.uuid4(), name, person(name.split()[-1]))
    await service.feed(ShopOpened(shop_id=shop.id, hub_id=hub_id, name=name,
                                  owner_id=shop.owner.user_id, owner_email=shop.owner.email))
    for product_name, price in prices.items():
        shop.products[product_name] = product_listed(shop.id, hub_id, product_name, [("", price)])
        await service.feed(shop.products[product_name])
    return shop


def product_listed(shop_id: uuid.UUID, hub_id: uuid.UUID, name: str,
                   variants: list[tuple[str, int]], **fields) -> ProductListed:
    """A product the catalog announced, sold in (label, price) variants."""
    return ProductListed(
        product_id=fields.pop("product_id", uuid.uuid4()), shop_id=shop_id, hub_id=hub_id,
        name=name, description="", unit="piece", vat_rate_bps=550, categories=[],
        available=True,
        variants=[ProductVariant(variant_id=uuid.uuid4(), label=label, sku=f"SKU-{label or 'U'}",
                                 price_cents=price, available=True) for label, price in variants],
        **fields)


def product_changed(listed: ProductListed, **changes) -> ProductChanged:
    """The product as ``listed`` announced it, with ``changes``."""
    return ProductChanged(**{**listed.model_dump(), **changes})


@pytest.fixture
async def town(service) -> Town:
    return await open_town(service)


async def place(service: OrderService, town: Town, *, who: Principal | None = None,
                key: str | None = None, **quantities: int) -> httpx.Response:
    headers = {**service.auth(who or town.resident),
               "Idempotency-Key": key or uuid.uuid4().hex}
    return await service.client.post("/orders/api/v1/orders", json=town.basket(**quantities),
                                     headers=headers)


async def read_order(service: OrderService, order_id, who: Principal) -> httpx.Response:
    return await service.client.get(f"/orders/api/v1/orders/{order_id}", headers=service.auth(who))


def payment_succeeded(order_id, payment_id, amount_cents: int) -> PaymentSucceeded:
    """The payment service's word that the order is paid (its shares are none of order's business)."""
    return PaymentSucceeded(payment_id=payment_id, order_id=order_id, hub_id=uuid.uuid4(),
                            amount_cents=amount_cents, commission_cents=0, shares=[])


def refund_issued(order_id, payment_id, amount_cents: int) -> RefundIssued:
    return RefundIssued(refund_id=uuid.uuid4(), payment_id=payment_id, order_id=order_id,
                        amount_cents=amount_cents, shares=[])
