"""Money after the payment, with the simulated provider: commission rates per hub and shop, the
shops' payout accounts, one transfer per shop once the order is completed (held until its account
can be paid), refunds taken out of the shops' shares and reversed after a transfer, the hub's
no-show policy, and the processor's fee. Every amount is checked against the ledger's equation:
for each shop, transfers − reversals = share − commission − refunded + commission given back."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from uuid import uuid4

from sqlalchemy import update

from libs.contracts.payment import (
    PaymentSucceeded,
    PayoutAccountUpdated,
    ProcessorFeeCharged,
    RefundIssued,
    ShopShare,
    TransferMade,
    TransferReversed,
)
from libs.contracts.pickup import NoShowRecorded
from services.payment import use_cases
from services.payment.domain import ProviderRefused
from services.payment.providers import SimulatedProvider
from services.payment.tables import PayoutAccount
from tests.services.payment.support import (
    basket,
    hub_admin_of,
    platform_admin,
    resident,
    shop_owner,
)


async def ledger_equation(service) -> dict:
    """For each shop: (transfers − reversals, share − commission − refunded + given back)."""
    sent, owed = defaultdict(int), defaultdict(int)
    for event in await service.events(TransferMade):
        sent[event.shop_id] += event.amount_cents
    for event in await service.events(TransferReversed):
        sent[event.shop_id] -= event.amount_cents
    for event in await service.events(PaymentSucceeded):
        for share in event.shares:
            owed[share.shop_id] += share.amount_cents - share.commission_cents
    for event in await service.events(RefundIssued):
        for share in event.shares:
            owed[share.shop_id] -= share.amount_cents - share.commission_cents
    return {shop: (sent[shop], owed[shop]) for shop in owed}


async def test_each_shop_is_sent_its_share_less_commission_once_the_order_is_completed(
    payments_on_each_database,
):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    owners = [await service.payable_shop(order, shop) for shop in order.shops]
    payment_id = await service.pay(order)
    assert await service.events(TransferMade) == []

    completion = await service.feed(order.completed())
    transfers = {t.shop_id: t for t in await service.events(TransferMade)}
    assert {shop: t.amount_cents for shop, t in transfers.items()} == {first: 920, second: 215}
    assert {t.payment_id for t in transfers.values()} == {payment_id}
    assert transfers[first].provider_reference == f"sim_tr_{transfers[first].transfer_id.hex}"
    [(envelope, _), _] = await service.published(TransferMade)
    assert envelope.causation_id == str(completion.event_id)

    await service.deliver(completion)
    await service.feed(order.completed())
    await service.sync()
    assert len(await service.events(TransferMade)) == 2
    [listed] = await service.transfers(first, owners[0])
    assert (listed["status"], listed["amount_cents"], listed["reversed_cents"]) == ("made", 920, 0)
    assert await ledger_equation(service) == {first: (920, 920), second: (215, 215)}


async def test_a_shop_without_a_payable_account_is_sent_its_share_once_it_has_one(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    await payments.pay(order)
    await payments.feed(order.completed())
    [held] = await payments.transfers(shop, owner)
    assert (held["status"], held["amount_cents"]) == ("held", None)

    opened = await payments.open_payout_account(shop, owner)
    assert opened.status_code == 200, opened.text
    assert opened.json()["onboarding_url"] == f"/payments/shops/{shop}/payouts/onboarding"
    await payments.sync()
    assert await payments.events(TransferMade) == []

    assert (await payments.onboard(shop, owner)).status_code == 303
    [made] = await payments.events(TransferMade)
    assert (made.shop_id, made.amount_cents) == (shop, 920)
    reference = opened.json()["account_reference"]
    assert await payments.events(PayoutAccountUpdated) == [
        PayoutAccountUpdated(shop_id=shop, account_reference=reference, details_submitted=False,
                             payouts_enabled=False),
        PayoutAccountUpdated(shop_id=shop, account_reference=reference, details_submitted=True,
                             payouts_enabled=True),
    ]
    again = await payments.open_payout_account(shop, owner)
    assert again.json() == {"shop_id": str(shop), "account_reference": reference,
                            "details_submitted": True, "payouts_enabled": True,
                            "onboarding_url": None}
    assert len(await payments.events(PayoutAccountUpdated)) == 2


async def test_only_the_owner_completes_the_payout_account_the_hubs_admin_may_open_it(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)

    opened = await payments.open_payout_account(shop, admin)
    assert opened.status_code == 200, opened.text
    assert (opened.json()["payouts_enabled"], opened.json()["onboarding_url"]) == (False, None)
    assert (await payments.onboard(shop, admin)).status_code == 403
    assert (await payments.open_payout_account(shop, owner)).json()["onboarding_url"] == (
        f"/payments/shops/{shop}/payouts/onboarding")
    assert [event.payouts_enabled for event in await payments.events(PayoutAccountUpdated)] == [False]


async def test_refunds_before_completion_are_deducted_and_nothing_is_sent_for_nothing(payments):
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    for shop in order.shops:
        await payments.payable_shop(order, shop)
    payment_id = await payments.pay(order)

    missing = await payments.ask_refund(payment_id, admin, "manque-1", shop_id=str(first),
                                        amount_cents=100)
    assert missing.status_code == 201, missing.text
    await payments.feed(order.part_cancelled(second, 234))
    await payments.feed(order.completed())

    refunds = await payments.events(RefundIssued)
    # The platform keeps 8 % of what is left of each share: 72 of 900 (8 back), 0 of 0 (19 back).
    assert [r.shares for r in refunds] == [[ShopShare(shop_id=first, amount_cents=100,
                                                      commission_cents=8)],
                                           [ShopShare(shop_id=second, amount_cents=234,
                                                      commission_cents=19)]]
    assert [(t.shop_id, t.amount_cents) for t in await payments.events(TransferMade)] == [
        (first, 828)]
    assert [t["status"] for t in await payments.transfers(second, admin)] == ["not_needed"]
    assert await payments.events(TransferReversed) == []
    assert await ledger_equation(payments) == {first: (828, 828), second: (0, 0)}


async def test_a_refund_after_the_transfer_takes_back_the_shops_net_part(
    payments_on_each_database,
):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await service.feed(made_admin)
    for shop in order.shops:
        await service.payable_shop(order, shop)
    payment_id = await service.pay(order)
    await service.feed(order.completed())

    missing = await service.ask_refund(payment_id, admin, "manque-1", shop_id=str(first),
                                       amount_cents=250)
    assert missing.status_code == 201, missing.text
    assert missing.json()["status"] == "issued"
    [refund] = await service.events(RefundIssued)
    assert (refund.shop_id, refund.amount_cents, refund.shares) == (
        first, 250, [ShopShare(shop_id=first, amount_cents=250, commission_cents=20)])
    [(envelope, reversal)] = await service.published(TransferReversed)
    first_transfer = next(t for t in await service.events(TransferMade) if t.shop_id == first)
    assert (reversal.transfer_id, reversal.shop_id, reversal.amount_cents) == (
        first_transfer.transfer_id, first, 230)
    assert reversal.order_id == order.order_id
    assert envelope.correlation_id == "saga-1"

    await service.sync()
    assert len(await service.events(TransferReversed)) == 1
    [listed] = await service.transfers(first, admin)
    assert (listed["amount_cents"], listed["reversed_cents"]) == (920, 230)
    assert await ledger_equation(service) == {first: (690, 690), second: (215, 215)}


async def test_the_ledger_equation_holds_whatever_the_rates_and_roundings(payments):
    order = basket(1999, 333, 1)
    shops = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    for shop in shops:
        await payments.payable_shop(order, shop)
    await payments.client.put(f"/payments/api/v1/hubs/{order.hub_id}/commission",
                              json={"bps": 755}, headers=payments.headers(admin))
    await payments.client.put(f"/payments/api/v1/shops/{shops[2]}/commission",
                              json={"bps": 5000}, headers=payments.headers(admin))
    payment_id = await payments.pay(order)

    for key, shop, cents in (("a", shops[0], 3), ("b", shops[1], 111)):
        asked = await payments.ask_refund(payment_id, admin, key, shop_id=str(shop),
                                          amount_cents=cents)
        assert asked.status_code == 201, asked.text
    await payments.feed(order.completed())
    for key, shop, cents in (("c", shops[0], 997), ("d", shops[1], 1), ("e", shops[2], 1),
                             ("f", shops[0], 999)):
        asked = await payments.ask_refund(payment_id, admin, key, shop_id=str(shop),
                                          amount_cents=cents)
        assert asked.status_code == 201, asked.text

    equation = await ledger_equation(payments)
    assert all(sent == owed for sent, owed in equation.values()), equation
    assert equation[shops[0]] == (0, 0)  # all of it back: the transfer taken back in full
    [succeeded] = await payments.events(PaymentSucceeded)
    assert {s.shop_id: s.commission_cents for s in succeeded.shares} == {
        shops[0]: 151, shops[1]: 25, shops[2]: 1}  # 150.92, 25.14, 0.5: each rounded half up


async def test_rates_are_set_per_hub_with_a_shop_override_by_the_hubs_admins(payments):
    order = basket(1000, 1000)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    for shop in order.shops:
        await payments.feed(order.shop_opened(shop, shop_owner()))
    hub_path = f"/payments/api/v1/hubs/{order.hub_id}"

    terms = await payments.client.get(f"{hub_path}/terms", headers=payments.headers(admin))
    assert terms.json() == {"hub_id": str(order.hub_id), "commission_bps": 800,
                            "no_show_refund_bps": 0}
    hub_rate = await payments.client.put(f"{hub_path}/commission", json={"bps": 1000},
                                         headers=payments.headers(admin))
    assert hub_rate.status_code == 200, hub_rate.text
    assert hub_rate.json()["commission_bps"] == 1000
    shop_rate = await payments.client.put(f"/payments/api/v1/shops/{second}/commission",
                                          json={"bps": 500},
                                          headers=payments.headers(platform_admin()))
    assert shop_rate.json() == {"shop_id": str(second), "hub_id": str(order.hub_id),
                                "commission_bps": 500}

    await payments.pay(order)
    [succeeded] = await payments.events(PaymentSucceeded)
    assert {s.shop_id: s.commission_cents for s in succeeded.shares} == {first: 100, second: 50}
    assert succeeded.commission_cents == 150


async def test_only_the_hubs_admins_set_rates_and_only_within_bounds(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    _, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    hub_path = f"/payments/api/v1/hubs/{order.hub_id}"

    for who in (owner, resident("Camille"), hub_admin_of(uuid4())[0]):
        for path in (f"{hub_path}/commission", f"/payments/api/v1/shops/{shop}/commission",
                     f"{hub_path}/no-show-refund"):
            refused = await payments.client.put(path, json={"bps": 0},
                                                headers=payments.headers(who))
            assert refused.status_code == 403, (path, refused.text)
    admin = platform_admin()
    for body in ({"bps": 5001}, {"bps": -1}, {}, {"bps": 800, "shop_id": str(shop)}):
        invalid = await payments.client.put(f"{hub_path}/commission", json=body,
                                            headers=payments.headers(admin))
        assert invalid.status_code == 422, body
    policy = await payments.client.put(f"{hub_path}/no-show-refund", json={"bps": 10_001},
                                       headers=payments.headers(admin))
    assert policy.status_code == 422
    unknown = await payments.client.put(f"/payments/api/v1/shops/{uuid4()}/commission",
                                        json={"bps": 500}, headers=payments.headers(admin))
    assert unknown.status_code == 404
    anonymous = await payments.client.put(f"{hub_path}/commission", json={"bps": 500})
    assert anonymous.status_code == 401
    terms = await payments.client.get(f"{hub_path}/terms", headers=payments.headers(admin))
    assert terms.json()["commission_bps"] == 800


async def test_a_missing_item_refund_is_made_once_per_idempotency_key(payments):
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    payment_id = await payments.open(order)

    unpaid = await payments.ask_refund(payment_id, admin, "k0", shop_id=str(first),
                                       amount_cents=100)
    assert unpaid.status_code == 409
    await payments.simulate(payment_id, "succeeded", order.buyer)

    first_ask = await payments.ask_refund(payment_id, admin, "k1", shop_id=str(first),
                                          amount_cents=300)
    assert first_ask.status_code == 201, first_ask.text
    body = first_ask.json()
    assert (body["shop_id"], body["amount_cents"], body["status"], body["reason"]) == (
        str(first), 300, "issued", "article manquant")
    repeated = await payments.ask_refund(payment_id, admin, "k1", shop_id=str(first),
                                         amount_cents=300)
    assert (repeated.status_code, repeated.json()["id"]) == (200, body["id"])
    reused = await payments.ask_refund(payment_id, admin, "k1", shop_id=str(first),
                                       amount_cents=200)
    assert reused.status_code == 409
    too_much = await payments.ask_refund(payment_id, admin, "k2", shop_id=str(second),
                                         amount_cents=235)
    assert too_much.status_code == 409
    assert "234 cents" in too_much.json()["error"]["message"]
    elsewhere = await payments.ask_refund(payment_id, admin, "k3", shop_id=str(uuid4()),
                                          amount_cents=1)
    assert elsewhere.status_code == 422
    for who in (order.buyer, shop_owner(), hub_admin_of(uuid4())[0]):
        assert (await payments.ask_refund(payment_id, who, "k4", shop_id=str(first),
                                          amount_cents=1)).status_code == 403
    unknown = await payments.ask_refund(uuid4(), admin, "k5", shop_id=str(first), amount_cents=1)
    assert unknown.status_code == 404
    no_key = await payments.client.post(f"/payments/api/v1/payments/{payment_id}/refunds",
                                        json={"shop_id": str(first), "amount_cents": 1,
                                              "reason": "manque"},
                                        headers=payments.headers(admin))
    assert no_key.status_code == 422
    assert [(r.shop_id, r.amount_cents) for r in await payments.events(RefundIssued)] == [
        (first, 300)]
    assert (await payments.get(payment_id, order.buyer)).json()["refunded_cents"] == 300


async def no_show(service, order) -> None:
    async with service.runtime.unit_of_work() as uow:
        await use_cases.refund_after_no_show(order.order_id, uow)
    await service.runtime.settle()


async def test_a_no_show_keeps_the_money_unless_the_hubs_policy_gives_some_back(payments):
    kept = basket(1000)
    await payments.pay(kept)
    await no_show(payments, kept)
    assert await payments.events(RefundIssued) == []

    order = basket(1001, 500, hub_id=kept.hub_id)
    first, second = order.shops
    payment_id = await payments.pay(order)
    await payments.feed(order.part_cancelled(second, 100))
    policy = await payments.client.put(f"/payments/api/v1/hubs/{order.hub_id}/no-show-refund",
                                       json={"bps": 5000},
                                       headers=payments.headers(platform_admin()))
    assert policy.json()["no_show_refund_bps"] == 5000
    await no_show(payments, order)
    await no_show(payments, order)

    _, refund = await payments.events(RefundIssued)
    # Half of what is left of each share, rounded half up: 500.5 → 501 and 200.
    assert (refund.payment_id, refund.shop_id, refund.amount_cents) == (payment_id, None, 701)
    assert {s.shop_id: s.amount_cents for s in refund.shares} == {first: 501, second: 200}


async def test_after_a_no_show_the_shops_are_paid_what_the_policy_leaves_them(payments):
    order = basket(1000, 500)
    first, second = order.shops
    for shop in order.shops:
        await payments.payable_shop(order, shop)
    await payments.pay(order)
    await payments.client.put(f"/payments/api/v1/hubs/{order.hub_id}/no-show-refund",
                              json={"bps": 5000}, headers=payments.headers(platform_admin()))

    await payments.feed(NoShowRecorded(order_id=order.order_id, hub_id=order.hub_id,
                                       shop_ids=list(order.shops)))
    await payments.sync()

    [refund] = await payments.events(RefundIssued)
    assert {s.shop_id: s.amount_cents for s in refund.shares} == {first: 500, second: 250}
    assert {t.shop_id for t in await payments.events(TransferMade)} == {first, second}
    equation = await ledger_equation(payments)
    assert all(sent == owed for sent, owed in equation.values()), equation
    assert equation[first][1] == 1000 - 80 - (500 - 40)


async def test_the_simulated_provider_charges_a_fee_once_per_payment(payments):
    order = basket(1000, 234)
    payment_id = await payments.pay(order)
    await payments.sync()

    assert await payments.events(ProcessorFeeCharged) == [
        ProcessorFeeCharged(payment_id=payment_id, order_id=order.order_id, fee_cents=44)]
    # Marked on the payment, so that the provider step's rounds no longer look at it.
    assert (await payments.payment_of(order.order_id)).fee_recorded


async def test_only_the_owner_and_the_hubs_admins_open_a_shops_payout_account(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    path = f"/payments/api/v1/shops/{shop}/payout-account"

    assert (await payments.client.get(path, headers=payments.headers(owner))).status_code == 404
    for stranger in (resident("Camille"), hub_admin_of(uuid4())[0]):
        assert (await payments.open_payout_account(shop, stranger)).status_code == 403
        assert (await payments.client.get(path, headers=payments.headers(stranger))
                ).status_code == 403
    assert (await payments.open_payout_account(uuid4(), platform_admin())).status_code == 404
    assert (await payments.client.post(path)).status_code == 401
    assert await payments.events(PayoutAccountUpdated) == []

    opened = await payments.open_payout_account(shop, admin)
    assert opened.status_code == 200, opened.text
    read = await payments.client.get(path, headers=payments.headers(owner))
    assert read.json() == {**opened.json(), "onboarding_url": None}
    assert (read.json()["details_submitted"], read.json()["payouts_enabled"]) == (False, False)


class RefusingProvider(SimulatedProvider):
    """Refuses payout accounts and transfers for good."""

    async def open_payout_account(self, shop):
        raise ProviderRefused("country not supported")

    async def transfer(self, transfer):
        raise ProviderRefused("the account was closed")


class FlakyTransfers(SimulatedProvider):
    """Loses the first answer to each transfer (the transfer may well have been made)."""

    def __init__(self) -> None:
        self.asked: list = []

    async def transfer(self, transfer):
        self.asked.append(transfer)
        if len(self.asked) == 1:
            raise ConnectionError("no answer")
        return await super().transfer(transfer)


async def test_a_transfer_whose_answer_was_lost_is_asked_again_the_same_and_made_once(payments):
    order = basket(1000)
    [shop] = order.shops
    await payments.payable_shop(order, shop)
    await payments.pay(order)
    provider = payments.runtime.adapters["provider"] = FlakyTransfers()

    await payments.feed(order.completed())
    assert await payments.events(TransferMade) == []
    await payments.sync()
    await payments.sync()
    [made] = await payments.events(TransferMade)
    first, again = provider.asked
    assert first == again  # same transfer id, amount and destination: the same idempotency key
    assert (made.transfer_id, made.amount_cents) == (first.transfer_id, 920)


async def test_what_the_provider_refuses_for_good_is_kept_aside(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = await payments.payable_shop(order, shop)
    await payments.pay(order)
    payments.runtime.adapters["provider"] = RefusingProvider()

    await payments.feed(order.completed())
    await payments.sync()
    assert await payments.events(TransferMade) == []
    [listed] = await payments.transfers(shop, owner)
    assert (listed["status"], listed["amount_cents"]) == ("refused", 920)

    other = basket(500)
    [new_shop] = other.shops
    await payments.feed(other.shop_opened(new_shop, owner))
    refused = await payments.open_payout_account(new_shop, owner)
    assert refused.status_code == 409
    assert "country not supported" in refused.json()["error"]["message"]


async def test_a_held_transfer_is_sent_by_the_next_sync_once_its_account_can_be_paid(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    await payments.open_payout_account(shop, owner)
    await payments.pay(order)
    await payments.feed(order.completed())
    # Enabled while the completion was being applied: neither saw the other.
    async with payments.runtime.database.sessions() as session, session.begin():
        await session.execute(update(PayoutAccount).values(details_submitted=True,
                                                           payouts_enabled=True))
    assert await payments.events(TransferMade) == []

    await payments.sync()
    assert [(t.shop_id, t.amount_cents) for t in await payments.events(TransferMade)] == [
        (shop, 920)]


async def test_refunds_racing_the_completion_are_deducted_or_taken_back_exactly_once(
    payments_on_each_database,
):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await service.feed(made_admin)
    for shop in order.shops:
        await service.payable_shop(order, shop)
    payment_id = await service.pay(order)

    asked = await asyncio.gather(
        service.feed(order.completed()),
        service.ask_refund(payment_id, admin, "a", shop_id=str(first), amount_cents=250),
        service.ask_refund(payment_id, admin, "b", shop_id=str(first), amount_cents=101),
        service.ask_refund(payment_id, admin, "c", shop_id=str(second), amount_cents=34),
        service.sync(),
        service.sync(),
    )
    assert [answer.status_code for answer in asked[1:4]] == [201, 201, 201]
    await service.sync()
    await service.sync()

    assert len(await service.events(TransferMade)) == 2
    assert len(await service.events(RefundIssued)) == 3
    equation = await ledger_equation(service)
    assert all(sent == owed for sent, owed in equation.values()), equation
    # 649 left of 1000 keeps 52 (51.92); 200 left of 234 keeps 16.
    assert equation == {first: (597, 597), second: (184, 184)}
