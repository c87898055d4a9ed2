"""A catalog service running in-process for tests: its API through httpx, the events other
services would send fed straight to its runtime, and the events it wrote read from its outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx
from sqlalchemy import select

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts import Envelope, Event, registry
from libs.contracts.accounts import UserRegistered
from libs.contracts.order import OrderLine, OrderPart, OrderPlaced
from libs.contracts.pickup import HubOpened, HubStaffAssigned
from libs.kit.runtime import ServiceRuntime
from libs.messaging.port import Record
from services.catalog.bootstrap import CatalogSettings
from services.catalog.main import create_app
from services.catalog.tables import ProductVariant
from tests.support.csrf import csrf_ready


@dataclass
class Catalog:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    issuer: TokenIssuer

    async def feed(self, event: Event) -> Envelope:
        envelope = event.envelope(correlation_id="t")
        await self.deliver(envelope)
        return envelope

    async def deliver(self, envelope: Envelope) -> None:
        """One delivery of ``envelope``, as the bus would make it (again, if it already did)."""
        await self.runtime.handle(Record(registry.lookup(envelope.type, envelope.version).topic,
                                         partition=0, offset=0, key=envelope.key,
                                         value=envelope.to_bytes()))

    async def events(self, kind: type[Event] | None = None) -> list[Event]:
        """What the catalog published, oldest first."""
        outbox = self.runtime.definition.metadata.tables["outbox"]
        async with self.runtime.database.sessions() as session:
            rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).scalars()
            decoded = [registry.decode_bytes(raw)[1] for raw in rows]
        return [event for event in decoded if kind is None or isinstance(event, kind)]

    async def stock(self, product: dict, variant: int = 0) -> tuple[int, int]:
        """(on hand, reserved) of a variant of ``product`` (its first), as stored."""
        async with self.runtime.database.sessions() as session:
            stored = await session.get(ProductVariant, UUID(product["variants"][variant]["id"]))
            return stored.on_hand, stored.reserved

    def headers(self, principal: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(principal)}"}

    def session_cookie(self, principal: Principal) -> dict[str, str]:
        return {"Cookie": f"adopte_session={self.issuer.issue(principal)}"}

    # --- the world around the catalog, as its events describe it ---

    async def register(self, email: str, *roles: str) -> Principal:
        person = Principal(user_id=uuid4(), email=email, name=email.split("@")[0],
                           roles=frozenset(roles or ("resident",)))
        await self.feed(UserRegistered(user_id=person.user_id, email=email, name=person.name,
                                       roles=sorted(person.roles)))
        return person

    async def open_hub(self, name: str = "Le Grenier Partagé", town: str = "Paimpol") -> UUID:
        hub_id = uuid4()
        await self.feed(HubOpened(hub_id=hub_id, name=name, town=town, address="3 place du Martray"))
        return hub_id

    async def assign(self, person: Principal, hub_id: UUID, role: str = "admin") -> None:
        await self.feed(HubStaffAssigned(hub_id=hub_id, user_id=person.user_id, email=person.email,
                                         role=role))

    async def open_shop(self, hub_id: UUID, owner: Principal, name: str = "Boulangerie Le Fournil"
                        ) -> dict:
        admin = Principal(user_id=uuid4(), email="admin@adopte.test", name="Admin",
                          roles=frozenset({"platform_admin"}))
        opened = await self.client.post(
            "/catalog/api/v1/shops", headers=self.headers(admin),
            json={"hub_id": str(hub_id), "name": name, "owner_email": owner.email},
        )
        assert opened.status_code == 201, opened.text
        return opened.json()

    async def list_product(self, shop: dict, owner: Principal, name: str = "Pain de campagne",
                           price_cents: int = 450, stock: int = 10) -> dict:
        listed = await self.client.post(
            f"/catalog/api/v1/shops/{shop['id']}/products", headers=self.headers(owner),
            json={"name": name, "price_cents": price_cents, "stock": stock},
        )
        assert listed.status_code == 201, listed.text
        return listed.json()

    async def products(self, hub_id: UUID, q: str | None = None) -> list[dict]:
        params = {"hub_id": str(hub_id)} | ({"q": q} if q is not None else {})
        found = await self.client.get("/catalog/api/v1/products", params=params)
        assert found.status_code == 200, found.text
        return found.json()


def variant_of(product: dict, label: str) -> dict:
    """``product`` to be ordered in its variant labelled ``label`` (else, its first variant)."""
    return {**product, "variant": next(v for v in product["variants"] if v["label"] == label)}


def order_placed(hub_id: UUID, lines: Iterable[tuple[dict, int]]) -> OrderPlaced:
    """An order for ``(product, quantity)`` lines, split into one part per shop."""
    parts: dict[str, list[OrderLine]] = {}
    for product, quantity in lines:
        variant = product.get("variant") or product["variants"][0]
        parts.setdefault(product["shop_id"], []).append(OrderLine(
            product_id=product["id"], variant_id=variant["id"], shop_id=product["shop_id"],
            name=product["name"], variant_label=variant["label"], quantity=quantity,
            unit_price_cents=variant["price_cents"],
        ))
    order_parts = [
        OrderPart(shop_id=shop_id, lines=part_lines,
                  total_cents=sum(line.quantity * line.unit_price_cents for line in part_lines))
        for shop_id, part_lines in parts.items()
    ]
    return OrderPlaced(order_id=uuid4(), hub_id=hub_id, slot_id=uuid4(), resident_id=uuid4(),
                       resident_email="resident@adopte.test", parts=order_parts,
                       total_cents=sum(part.total_cents for part in order_parts))


@contextlib.asynccontextmanager
async def running_catalog(settings: CatalogSettings) -> AsyncIterator[Catalog]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: ServiceRuntime = app.state.runtime
        private_key, _ = settings.jwt_key_files()
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://catalog")) as client:
            yield Catalog(client, runtime, TokenIssuer(private_key.read_text()))
