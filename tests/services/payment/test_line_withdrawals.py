"""A shop withdrew some units of its part (OrderLinesCancelled): their amount goes back out of
that shop's share, once per withdrawal, with the commission on it; the shop's transfer is that
much smaller, or, if it was already fixed, the shop's net part is reversed."""

from __future__ import annotations

from uuid import UUID

from libs.contracts.order import OrderLine, OrderLinesCancelled
from libs.contracts.payment import RefundIssued, ShopShare, TransferMade, TransferReversed
from tests.services.payment.support import Basket, basket, hub_admin_of
from tests.services.payment.test_payouts import ledger_equation


def lines_cancelled(order: Basket, shop_id: UUID, *units: tuple[int, int]) -> OrderLinesCancelled:
    """``units``: (quantity, unit price) of each line withdrawn."""
    lines = [OrderLine(product_id=shop_id, variant_id=shop_id, shop_id=shop_id, name="Baguette",
                       variant_label="", quantity=quantity, unit_price_cents=price)
             for quantity, price in units]
    return OrderLinesCancelled(order_id=order.order_id, shop_id=shop_id,
                               amount_cents=sum(q * p for q, p in units), lines=lines,
                               reason="farine épuisée")


async def test_each_withdrawal_is_refunded_once_out_of_its_shops_share(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    for shop in order.shops:
        await service.payable_shop(order, shop)
    await service.pay(order)

    withdrawal = await service.feed(lines_cancelled(order, first, (1, 110)))
    await service.deliver(withdrawal)
    await service.feed(lines_cancelled(order, first, (2, 110)))
    await service.feed(order.completed())

    refunds = await service.events(RefundIssued)
    # 8 % of 1000 is 80, of 890 is 71 (71.2), of 670 is 54 (53.6): 9 then 17 given back.
    assert [(r.shop_id, r.amount_cents, r.shares) for r in refunds] == [
        (first, 110, [ShopShare(shop_id=first, amount_cents=110, commission_cents=9)]),
        (first, 220, [ShopShare(shop_id=first, amount_cents=220, commission_cents=17)])]
    assert sorted((t.shop_id, t.amount_cents) for t in await service.events(TransferMade)) == \
        sorted([(first, 670 - 54), (second, 234 - 19)])
    assert await service.events(TransferReversed) == []
    assert await ledger_equation(service) == {first: (616, 616), second: (215, 215)}


async def test_a_withdrawal_never_refunds_more_than_is_left_of_the_share(payments):
    order = basket(1000, 234)
    first, second = order.shops
    await payments.pay(order)

    await payments.feed(order.part_cancelled(second, 200))
    await payments.feed(lines_cancelled(order, second, (1, 110)))

    assert [r.amount_cents for r in await payments.events(RefundIssued)] == [200, 34]


async def test_a_withdrawal_after_the_transfer_takes_back_the_shops_net_part(
    payments_on_each_database,
):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await service.feed(made_admin)
    for shop in order.shops:
        await service.payable_shop(order, shop)
    await service.pay(order)
    await service.feed(order.completed())

    await service.feed(lines_cancelled(order, first, (1, 250)))

    [refund] = await service.events(RefundIssued)
    assert refund.shares == [ShopShare(shop_id=first, amount_cents=250, commission_cents=20)]
    [reversal] = await service.events(TransferReversed)
    assert (reversal.shop_id, reversal.amount_cents) == (first, 230)
    [listed] = await service.transfers(first, admin)
    assert (listed["amount_cents"], listed["reversed_cents"]) == (920, 230)
    assert await ledger_equation(service) == {first: (690, 690), second: (215, 215)}
