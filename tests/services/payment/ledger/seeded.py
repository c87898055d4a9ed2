"""One hub's first months, known to the cent: two shops, payments either side of a month end
(in Paris time), a fee, refunds, transfers and a reversal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

from libs.auth.tokens import Principal
from libs.contracts.payment import (
    ProcessorFeeCharged,
    RefundIssued,
    ShopShare,
    TransferMade,
    TransferReversed,
)
from tests.services.payment.ledger.support import happened, open_hub, open_shop, paid, person
from tests.services.payment.support import PaymentService, platform_admin


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@dataclass
class Seeded:
    hub_id: UUID = field(default_factory=uuid4)
    bakery: UUID = field(default_factory=uuid4)
    cheese: UUID = field(default_factory=uuid4)
    first_order: UUID = field(default_factory=uuid4)
    second_order: UUID = field(default_factory=uuid4)
    baker: Principal = field(default_factory=lambda: person("Alice"))
    cheesemaker: Principal = field(default_factory=lambda: person("Bruno"))
    hub_admin: Principal = field(default_factory=lambda: person("Hélène"))
    admin: Principal = field(default_factory=platform_admin)


async def seed(payments: PaymentService) -> Seeded:
    """February (Paris): the first order, 20 € of bread and 10 € of cheese, 8 % commission, a
    0,69 € fee. March: the second order (30 min after midnight on 1 March in Paris, still
    February in UTC), 15 € of bread; 5 € of the first bread refunded; both bread shares
    transferred. April: the second bread share refunded in full, its transfer taken back."""
    s = Seeded()
    await open_hub(payments, s.hub_id, "La Fabrique du Centre", s.hub_admin)
    await open_shop(payments, s.bakery, s.hub_id, "Boulangerie du Port", s.baker)
    await open_shop(payments, s.cheese, s.hub_id, "Fromagerie Le Trégor", s.cheesemaker)

    first = paid(s.hub_id, (s.bakery, 2000, 160), (s.cheese, 1000, 80), order_id=s.first_order)
    second = paid(s.hub_id, (s.bakery, 1500, 120), order_id=s.second_order)
    await happened(payments, first, utc(2026, 2, 10, 9, 0))
    await happened(payments, ProcessorFeeCharged(payment_id=first.payment_id,
                                                 order_id=s.first_order, fee_cents=69),
                   utc(2026, 2, 10, 9, 0, 5))
    await happened(payments, second, utc(2026, 2, 28, 23, 30))
    await happened(payments, RefundIssued(
        refund_id=uuid4(), payment_id=first.payment_id, order_id=s.first_order,
        shop_id=s.bakery, amount_cents=500,
        shares=[ShopShare(shop_id=s.bakery, amount_cents=500, commission_cents=40)],
    ), utc(2026, 3, 5, 15, 0))
    await happened(payments, TransferMade(
        transfer_id=uuid4(), payment_id=first.payment_id, order_id=s.first_order,
        shop_id=s.bakery, amount_cents=1380, provider_reference="tr_1"), utc(2026, 3, 10, 10, 0))
    second_transfer = TransferMade(
        transfer_id=uuid4(), payment_id=second.payment_id, order_id=s.second_order,
        shop_id=s.bakery, amount_cents=1380, provider_reference="tr_2")
    await happened(payments, second_transfer, utc(2026, 3, 20, 10, 0))
    await happened(payments, RefundIssued(
        refund_id=uuid4(), payment_id=second.payment_id, order_id=s.second_order,
        shop_id=s.bakery, amount_cents=1500,
        shares=[ShopShare(shop_id=s.bakery, amount_cents=1500, commission_cents=120)],
    ), utc(2026, 4, 2, 8, 0))
    await happened(payments, TransferReversed(
        reversal_id=uuid4(), transfer_id=second_transfer.transfer_id,
        payment_id=second.payment_id, order_id=s.second_order, shop_id=s.bakery,
        amount_cents=1380), utc(2026, 4, 3, 8, 0))
    return s
