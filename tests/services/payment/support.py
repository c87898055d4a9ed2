"""A payment service running in-process for tests: its API through httpx, the order events fed
straight to its runtime, its provider step's clock stopped (the test syncs when it wants), and
what it published read from its outbox."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
from sqlalchemy import select

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts import Envelope, Event, registry
from libs.contracts.catalog import ShopOpened
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderLine,
    OrderPart,
    OrderPartCancelled,
    PaymentRequested,
)
from libs.contracts.payment import ShopShare
from libs.contracts.pickup import HubStaffAssigned
from libs.kit.runtime import ServiceRuntime
from libs.messaging.port import Record
from services.payment import use_cases
from services.payment.bootstrap import PaymentSettings
from services.payment.main import create_app
from services.payment.tables import Payment
from tests.support.csrf import csrf_ready

STRIPE_TEST_KEY = "sk_test_123"
WEBHOOK_SECRET = "whsec_test_adopte"


def resident(name: str = "Lou") -> Principal:
    return Principal(user_id=uuid4(), email=f"{name.lower()}@example.org", name=name,
                     roles=frozenset({"resident"}))


def platform_admin() -> Principal:
    return Principal(user_id=uuid4(), email="admin@example.org", name="Admin",
                     roles=frozenset({"resident", "platform_admin"}))


def shop_owner(name: str = "Yann") -> Principal:
    return resident(name)


def hub_admin_of(hub_id: UUID) -> tuple[Principal, HubStaffAssigned]:
    """A hub admin, and the event that makes them one."""
    admin = resident("Maëlle")
    return admin, HubStaffAssigned(hub_id=hub_id, user_id=admin.user_id, email=admin.email,
                                   role="admin")


@dataclass(frozen=True)
class Basket:
    """An order of shops' parts, as the order service asks for its payment."""

    order_id: UUID
    buyer: Principal
    parts: dict[UUID, int]
    hub_id: UUID = field(default_factory=uuid4)

    @property
    def total_cents(self) -> int:
        return sum(self.parts.values())

    @property
    def shops(self) -> list[UUID]:
        return list(self.parts)

    def payment_requested(self) -> PaymentRequested:
        return PaymentRequested(
            order_id=self.order_id, hub_id=self.hub_id, resident_id=self.buyer.user_id,
            total_cents=self.total_cents, pay_by=datetime.now(UTC) + timedelta(minutes=15),
            parts=[_part(shop_id, cents) for shop_id, cents in self.parts.items()],
        )

    def cancelled(self) -> OrderCancelled:
        return OrderCancelled(order_id=self.order_id, reason="délai de paiement dépassé")

    def part_cancelled(self, shop_id: UUID, amount_cents: int) -> OrderPartCancelled:
        return OrderPartCancelled(order_id=self.order_id, shop_id=shop_id,
                                  amount_cents=amount_cents, lines=[], reason="rupture")

    def completed(self) -> OrderCompleted:
        return OrderCompleted(order_id=self.order_id, completed_at=datetime.now(UTC))

    def shop_opened(self, shop_id: UUID, owner: Principal) -> ShopOpened:
        return ShopOpened(shop_id=shop_id, hub_id=self.hub_id, name="Boulangerie Le Fournil",
                          owner_id=owner.user_id, owner_email=owner.email)

    def shares(self, bps: int = 800) -> list[ShopShare]:
        """The shares PaymentSucceeded reports, every shop at ``bps``, by shop id."""
        return [ShopShare(shop_id=shop, amount_cents=cents,
                          commission_cents=(cents * bps + 5_000) // 10_000)
                for shop, cents in sorted(self.parts.items())]


def basket(*part_cents: int, buyer: Principal | None = None, hub_id: UUID | None = None
           ) -> Basket:
    return Basket(uuid4(), buyer or resident(), {uuid4(): cents for cents in part_cents},
                  hub_id or uuid4())


def _part(shop_id: UUID, cents: int) -> OrderPart:
    line = OrderLine(product_id=uuid4(), variant_id=uuid4(), shop_id=shop_id,
                     name="Pain de campagne", variant_label="", quantity=1, unit_price_cents=cents)
    return OrderPart(shop_id=shop_id, total_cents=cents, lines=[line])


@dataclass
class PaymentService:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    issuer: TokenIssuer

    async def feed(self, event: Event, correlation_id: str = "saga-1") -> Envelope:
        """``event`` delivered, and the work its handler left for after its commit (the provider
        step for its payment) done."""
        envelope = event.envelope(correlation_id=correlation_id)
        await self.deliver(envelope)
        await self.runtime.settle()
        return envelope

    async def deliver(self, envelope: Envelope) -> None:
        """One delivery of ``envelope``, as the bus would make it (again, if it already did); the
        work left for after its commit may still be running."""
        await self.runtime.handle(Record(registry.lookup(envelope.type, envelope.version).topic,
                                         partition=0, offset=0, key=envelope.key,
                                         value=envelope.to_bytes()))

    async def sync(self) -> None:
        """One run of the provider step over every payment, as its clock would make it."""
        await use_cases.sync_with_provider(self.runtime)

    async def open(self, order: Basket) -> UUID:
        """The order's payment, requested and opened with the provider; its id."""
        await self.feed(order.payment_requested())
        return (await self.payment_of(order.order_id)).id

    async def payment_of(self, order_id: UUID) -> Payment | None:
        async with self.runtime.database.sessions() as session:
            found = await session.execute(select(Payment).where(Payment.order_id == order_id))
            return found.scalars().first()

    async def published(self, kind: type[Event] | None = None) -> list[tuple[Envelope, Event]]:
        """What the service published, oldest first, with the envelopes."""
        outbox = self.runtime.definition.metadata.tables["outbox"]
        async with self.runtime.database.sessions() as session:
            rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).scalars()
            decoded = [registry.decode_bytes(raw) for raw in rows]
        return [(envelope, event) for envelope, event in decoded
                if kind is None or isinstance(event, kind)]

    async def events(self, kind: type[Event]) -> list[Event]:
        return [event for _, event in await self.published(kind)]

    def headers(self, principal: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(principal)}"}

    def session(self, principal: Principal) -> dict[str, str]:
        """Headers of a browser signed in with the session cookie."""
        return {"Cookie": f"adopte_session={self.issuer.issue(principal)}"}

    async def simulate(self, payment_id: UUID, outcome: str, principal: Principal
                       ) -> httpx.Response:
        return await self.client.post(f"/payments/api/v1/payments/{payment_id}/simulate",
                                      json={"outcome": outcome}, headers=self.headers(principal))

    async def get(self, payment_id: UUID, principal: Principal) -> httpx.Response:
        return await self.client.get(f"/payments/api/v1/payments/{payment_id}",
                                     headers=self.headers(principal))

    async def pay(self, order: Basket) -> UUID:
        """The order's payment, opened and paid with the simulated provider; its id."""
        payment_id = await self.open(order)
        paid = await self.simulate(payment_id, "succeeded", order.buyer)
        assert paid.status_code == 200, paid.text
        return payment_id

    async def open_payout_account(self, shop_id: UUID, principal: Principal) -> httpx.Response:
        return await self.client.post(f"/payments/api/v1/shops/{shop_id}/payout-account",
                                      headers=self.headers(principal))

    async def onboard(self, shop_id: UUID, principal: Principal) -> httpx.Response:
        """The owner's click through the simulated provider's onboarding page."""
        return await self.client.post(f"/payments/shops/{shop_id}/payouts/onboarding",
                                      headers=self.session(principal))

    async def payable_shop(self, order: Basket, shop_id: UUID) -> Principal:
        """``shop_id`` known to the service, with a payout account that can be paid; its owner."""
        owner = shop_owner()
        await self.feed(order.shop_opened(shop_id, owner))
        assert (await self.open_payout_account(shop_id, owner)).status_code == 200
        assert (await self.onboard(shop_id, owner)).status_code == 303
        return owner

    async def transfers(self, shop_id: UUID, principal: Principal) -> list[dict]:
        answer = await self.client.get(f"/payments/api/v1/shops/{shop_id}/transfers",
                                       headers=self.headers(principal))
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def ask_refund(self, payment_id: UUID, principal: Principal, key: str, **body
                         ) -> httpx.Response:
        return await self.client.post(f"/payments/api/v1/payments/{payment_id}/refunds",
                                      json={"reason": "article manquant", **body},
                                      headers={**self.headers(principal), "Idempotency-Key": key})


@contextlib.asynccontextmanager
async def running_payment(settings: PaymentSettings, *, retry_clock: bool = False
                          ) -> AsyncIterator[PaymentService]:
    """The service, whose provider step runs after each handler's commit but retries only when
    the test says (``sync``), unless its clock is left running."""
    app = create_app(settings)
    if not retry_clock:
        runtime = app.state.runtime
        runtime.definition = replace(runtime.definition, periodic=())
    private_key, _ = settings.jwt_key_files()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://payment")) as client:
            yield PaymentService(client, app.state.runtime, TokenIssuer(private_key.read_text()))


def payment_settings(tmp_path, **overrides) -> PaymentSettings:
    return PaymentSettings(data_dir=tmp_path, outbox_relay=False, **overrides)


def stripe_settings(tmp_path, api_base: str, **overrides) -> PaymentSettings:
    return payment_settings(tmp_path, provider="stripe", stripe_api_key=STRIPE_TEST_KEY,
                          stripe_api_base=api_base, stripe_webhook_secret=WEBHOOK_SECRET,
                          **overrides)


def intent_event(kind: str, payment_id: UUID | str, **intent: object) -> str:
    """A Stripe event about a PaymentIntent of ours, as Stripe's webhook sends it."""
    return json.dumps({
        "id": f"evt_{uuid4().hex[:24]}", "object": "event", "type": kind,
        "api_version": "2024-06-20", "created": int(time.time()),
        "data": {"object": {"id": "pi_3TestIntent", "object": "payment_intent", "amount": 1234,
                            "metadata": {"payment_id": str(payment_id)}, **intent}},
    })


def account_event(account_id: str, *, event_id: str | None = None, **account: object) -> str:
    """Stripe's ``account.updated`` about a shop's Connect account."""
    return json.dumps({
        "id": event_id or f"evt_{uuid4().hex[:24]}", "object": "event", "type": "account.updated",
        "api_version": "2024-06-20", "created": int(time.time()),
        "data": {"object": {"id": account_id, "object": "account", "type": "express",
                            "details_submitted": False, "payouts_enabled": False, **account}},
    })


def stripe_signature(payload: str, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
