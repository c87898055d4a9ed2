"""A little of each service's world (a hub, a shop, a product, an order, a payment...), so the
fuzzed requests name things that exist and reach the handlers instead of stopping at 404.

Each ``seed_<service>`` runs on the event loop that serves the service's app, with an httpx client
on it, and returns the ids it made by path or query parameter name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx

from libs.auth.tokens import Principal, TokenIssuer
from libs.kit.runtime import ServiceRuntime
from tests.services.catalog.support import Catalog
from tests.services.order.conftest import OrderService, open_town, place
from tests.services.payment.support import PaymentService, basket, resident
from tests.services.pickup.conftest import Pickup


@dataclass
class World:
    """What a service holds after its seed: ids by parameter name, and the platform admin the
    fuzzed requests are sent as (an account of its own where the service keeps accounts)."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    admin: Principal = field(default_factory=lambda: Principal(
        user_id=uuid4(), email="admin@adopte.test", name="Admin", roles=frozenset({"platform_admin"})))


Seed = Callable[[httpx.AsyncClient, ServiceRuntime, TokenIssuer], Awaitable[World]]


async def seed_accounts(client: httpx.AsyncClient, _: ServiceRuntime, __: TokenIssuer) -> World:
    signed_up = await client.post("/accounts/api/v1/users", json={
        "email": "admin@adopte.test", "password": "fuzzing-admin-password", "name": "Admin"})
    assert signed_up.status_code == 201, signed_up.text
    admin = Principal(user_id=UUID(signed_up.json()["id"]), email="admin@adopte.test", name="Admin",
                      roles=frozenset({"platform_admin"}))
    return World(admin=admin)


async def seed_catalog(client: httpx.AsyncClient, runtime: ServiceRuntime, issuer: TokenIssuer
                       ) -> World:
    catalog = Catalog(client, runtime, issuer)
    owner = await catalog.register("fournil@adopte.test", "resident")
    hub_id = await catalog.open_hub()
    shop = await catalog.open_shop(hub_id, owner)
    product = await catalog.list_product(shop, owner)
    return World(ids={"hub_id": [str(hub_id)], "shop_id": [shop["id"]], "product_id": [product["id"]],
                      "variant_id": [product["variants"][0]["id"]]})


async def seed_order(client: httpx.AsyncClient, runtime: ServiceRuntime, issuer: TokenIssuer
                     ) -> World:
    service = OrderService(client, runtime, issuer)
    town = await open_town(service)
    placed = await place(service, town, bread=1, tomme=1)
    assert placed.status_code == 202, placed.text
    return World(ids={"hub_id": [str(town.hub_id)], "order_id": [placed.json()["id"]],
                      "shop_id": [str(town.bakery.id), str(town.cheese.id)],
                      "slot_id": [str(town.slot_id)],
                      "product_id": [str(town.bakery.product("Pain de campagne"))]})


async def seed_payment(client: httpx.AsyncClient, runtime: ServiceRuntime, issuer: TokenIssuer
                       ) -> World:
    payments = PaymentService(client, runtime, issuer)
    order = basket(1250, 890)
    for shop_id in order.shops:
        await payments.feed(order.shop_opened(shop_id, resident("Owner")))
    payment_id = await payments.pay(order)
    return World(ids={"payment_id": [str(payment_id)], "hub_id": [str(order.hub_id)],
                      "shop_id": [str(shop_id) for shop_id in order.shops]})


async def seed_pickup(client: httpx.AsyncClient, runtime: ServiceRuntime, _: TokenIssuer) -> World:
    pickup = Pickup(client, runtime)
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id)
    order_id = await pickup.confirmed_order(hub_id, [uuid4()], slot=slot)
    return World(ids={"hub_id": [hub_id], "slot_id": [slot["id"]], "order_id": [str(order_id)]})


async def seed_nothing(*_) -> World:
    return World()


SEEDS: dict[str, Seed] = {"accounts": seed_accounts, "catalog": seed_catalog, "order": seed_order,
                          "payment": seed_payment, "pickup": seed_pickup, "notification": seed_nothing}
