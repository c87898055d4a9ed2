"""Telling a payment service about shops, hubs and money movements at given times, and reading
its ledger back."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from libs.auth.tokens import Principal
from libs.contracts import Event
from libs.contracts.catalog import ShopOpened
from libs.contracts.payment import PaymentSucceeded, ShopShare
from libs.contracts.pickup import HubOpened, HubStaffAssigned
from tests.services.payment.ledger.histories import History
from tests.services.payment.support import PaymentService


def person(name: str) -> Principal:
    return Principal(user_id=uuid4(), email=f"{name.lower()}@example.org", name=name,
                     roles=frozenset({"resident"}))


async def happened(payments: PaymentService, event: Event, at: datetime) -> None:
    """``event`` delivered to the service as its producer published it at ``at``."""
    envelope = event.envelope(correlation_id="ledger").model_copy(update={"occurred_at": at})
    await payments.deliver(envelope)


async def replay(payments: PaymentService, history: History) -> None:
    for happening in history.happenings:
        await payments.deliver(happening.envelope())


async def open_hub(payments: PaymentService, hub_id: UUID, name: str, admin: Principal) -> None:
    await payments.feed(HubOpened(hub_id=hub_id, name=name, town="Lannion", address="1 rue"))
    await payments.feed(HubStaffAssigned(hub_id=hub_id, user_id=admin.user_id, email=admin.email,
                                         role="admin"))


async def open_shop(payments: PaymentService, shop_id: UUID, hub_id: UUID, name: str,
                    owner: Principal) -> None:
    await payments.feed(ShopOpened(shop_id=shop_id, hub_id=hub_id, name=name,
                                   owner_id=owner.user_id, owner_email=owner.email))


def paid(hub_id: UUID, *shares: tuple[UUID, int, int], order_id: UUID | None = None
         ) -> PaymentSucceeded:
    """A payment of (shop, amount, commission) shares."""
    parts = [ShopShare(shop_id=shop, amount_cents=amount, commission_cents=commission)
             for shop, amount, commission in shares]
    return PaymentSucceeded(payment_id=uuid4(), order_id=order_id or uuid4(), hub_id=hub_id,
                            amount_cents=sum(p.amount_cents for p in parts),
                            commission_cents=sum(p.commission_cents for p in parts), shares=parts)
