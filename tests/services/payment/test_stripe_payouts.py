"""Stripe Connect against stripe-mock: the shops' Express accounts and onboarding links, the
processor's fee from the charge's balance transaction, transfers and their reversals, each call
with an idempotency key derived from our ids; and Stripe's webhook taken once per event, in any
order, trusting Stripe's current state over the order of deliveries."""

from __future__ import annotations

import time
from urllib.parse import parse_qs
from uuid import uuid4

import pytest

from libs.contracts.payment import (
    PaymentFailed,
    PaymentSucceeded,
    PayoutAccountUpdated,
    ProcessorFeeCharged,
    RefundIssued,
    TransferMade,
    TransferReversed,
)
from services.payment.domain import (
    Outcome,
    PayoutAccountState,
    ProviderPayment,
    ProviderReversal,
    ProviderShop,
    ProviderTransfer,
)
from services.payment.providers import StripeProvider
from tests.services.payment.support import (
    STRIPE_TEST_KEY,
    WEBHOOK_SECRET,
    account_event,
    basket,
    hub_admin_of,
    intent_event,
    running_payment,
    shop_owner,
    stripe_settings,
    stripe_signature,
)

pytestmark = [
    pytest.mark.stripe,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]


class StripeAsItIsNow(StripeProvider):
    """Stripe through stripe-mock, except that re-reading an account or an intent answers what
    the test says Stripe holds now (stripe-mock answers the same fixture whatever happened)."""

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        self.enabled_accounts: set[str] = set()
        self.succeeded_intents: set[str] = set()

    async def read_account(self, reference: str) -> PayoutAccountState:
        state = await super().read_account(reference)  # the call is still made
        enabled = reference in self.enabled_accounts
        return PayoutAccountState(state.reference, details_submitted=enabled,
                                  payouts_enabled=enabled)

    async def payment_outcome(self, reference: str) -> Outcome | None:
        outcome = await super().payment_outcome(reference)
        return Outcome.SUCCEEDED if reference in self.succeeded_intents else outcome


def wire_log(provider: StripeProvider) -> list[tuple[str, str, str | None, dict]]:
    """Every request the provider sends from now on: (method, path, idempotency key, form)."""
    sent = []

    async def record(request):
        sent.append((request.method, request.url.path, request.headers.get("idempotency-key"),
                     parse_qs(request.content.decode())))

    # Listening on the wire, below stripe's client, is the only way to see what it sent.
    provider._http._client_async.event_hooks["request"] = [record]
    return sent


@pytest.fixture
async def stripe_provider(stripe_api_base):
    provider = StripeProvider(api_key=STRIPE_TEST_KEY, api_base=stripe_api_base,
                              webhook_secret=WEBHOOK_SECRET)
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def stripe_payments(tmp_path, stripe_api_base):
    async with running_payment(stripe_settings(tmp_path, stripe_api_base)) as running:
        stripe = StripeAsItIsNow(api_key=STRIPE_TEST_KEY, api_base=stripe_api_base,
                                 webhook_secret=WEBHOOK_SECRET)
        await stripe.start()
        running.runtime.adapters["provider"] = stripe
        try:
            yield running, stripe
        finally:
            await stripe.stop()


async def post_notice(service, payload: str, signature: str | None = None):
    return await service.client.post(
        "/payments/api/v1/stripe/webhook", content=payload,
        headers={"Content-Type": "application/json",
                 "Stripe-Signature": signature or stripe_signature(payload)})


async def test_connect_calls_against_stripe_mock_carry_keys_from_our_ids(stripe_provider):
    sent = wire_log(stripe_provider)
    shop = ProviderShop(uuid4(), "Boulangerie Le Fournil", "fournil@example.org")
    account = await stripe_provider.open_payout_account(shop)
    assert account.reference.startswith("acct_")
    assert (account.details_submitted, account.payouts_enabled) == (False, False)
    link_id = uuid4()
    link = await stripe_provider.onboarding_link(account.reference, shop.shop_id, link_id,
                                                 "https://hub.example/payments/shops/x/payouts")
    assert link.startswith("https://")
    transfer = ProviderTransfer(uuid4(), uuid4(), uuid4(), shop.shop_id, account.reference, 920,
                                "eur")
    made = await stripe_provider.transfer(transfer)
    assert made.startswith("tr_")
    reversal = ProviderReversal(uuid4(), uuid4(), shop.shop_id, made, 230)
    assert (await stripe_provider.reverse(reversal)).startswith("trr_")
    read = await stripe_provider.read_account(account.reference)
    assert read.reference == account.reference

    (_, account_path, account_key, opened), (_, _, link_key, linked), \
        (_, transfer_path, transfer_key, sent_transfer), \
        (_, reversal_path, reversal_key, sent_reversal), (read_method, _, read_key, _) = sent
    assert account_path == "/v1/accounts" and account_key == f"account-{shop.shop_id}"
    assert opened["type"] == ["express"] and opened["country"] == ["FR"]
    assert opened["capabilities[transfers][requested]"] == ["true"]
    assert opened["metadata[shop_id]"] == [str(shop.shop_id)]
    assert link_key == f"account-link-{shop.shop_id}-{link_id}"
    assert linked["type"] == ["account_onboarding"]
    assert linked["account"] == [account.reference]
    assert transfer_path == "/v1/transfers"
    assert transfer_key == f"transfer-{transfer.payment_id}-{shop.shop_id}"
    assert sent_transfer["amount"] == ["920"] and sent_transfer["currency"] == ["eur"]
    assert sent_transfer["destination"] == [account.reference]
    assert sent_transfer["transfer_group"] == [str(transfer.order_id)]
    assert reversal_path == f"/v1/transfers/{made}/reversals"
    assert reversal_key == f"reversal-{reversal.refund_id}-{shop.shop_id}"
    assert sent_reversal["amount"] == ["230"]
    assert (read_method, read_key) == ("GET", None)  # a read changes nothing


async def test_a_retried_call_sends_the_same_key_so_stripe_makes_one_object(stripe_provider):
    sent = wire_log(stripe_provider)
    shop = ProviderShop(uuid4(), "Fromagerie du Trégor", "tregor@example.org")
    transfer = ProviderTransfer(uuid4(), uuid4(), uuid4(), shop.shop_id, "acct_123", 500, "eur")
    reversal = ProviderReversal(uuid4(), uuid4(), shop.shop_id, "tr_123", 100)
    for _ in range(2):
        await stripe_provider.open_payout_account(shop)
        await stripe_provider.transfer(transfer)
        await stripe_provider.reverse(reversal)

    keys = [key for _, _, key, _ in sent]
    assert keys[:3] == keys[3:]
    assert all(keys) and len(set(keys)) == 3


async def test_the_fee_is_read_from_the_charges_balance_transaction(stripe_provider):
    sent = wire_log(stripe_provider)
    payment = ProviderPayment(uuid4(), uuid4(), 1234, "eur")
    intent = await stripe_provider.create_payment(payment)

    fee = await stripe_provider.processor_fee(payment, intent)
    assert fee == 0  # stripe-mock's fixture charges no fee
    _, (method, path, _, _) = sent
    assert (method, path) == ("GET", f"/v1/payment_intents/{intent}")
    assert await stripe_provider.payment_outcome(intent) == Outcome.FAILED  # never paid


async def test_a_two_shop_order_is_paid_out_and_a_later_refund_reversed_through_stripe(
    stripe_payments,
):
    service, stripe = stripe_payments
    order = basket(1000, 234)
    first, second = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await service.feed(made_admin)
    accounts = {}
    for shop in order.shops:
        owner = shop_owner()
        await service.feed(order.shop_opened(shop, owner))
        opened = await service.open_payout_account(shop, owner)
        assert opened.status_code == 200, opened.text
        assert opened.json()["onboarding_url"].startswith("https://")
        accounts[shop] = opened.json()["account_reference"]
        stripe.enabled_accounts.add(accounts[shop])
        notice = await post_notice(service, account_event(accounts[shop], payouts_enabled=True))
        assert notice.json() == {"applied": True}
    payment_id = await service.open(order)
    paid = intent_event("payment_intent.succeeded", payment_id)
    assert (await post_notice(service, paid)).json() == {"applied": True}
    assert await service.events(ProcessorFeeCharged) == [
        ProcessorFeeCharged(payment_id=payment_id, order_id=order.order_id, fee_cents=0)]

    await service.feed(order.completed())
    transfers = {t.shop_id: t for t in await service.events(TransferMade)}
    assert {shop: t.amount_cents for shop, t in transfers.items()} == {first: 920, second: 215}
    assert all(t.provider_reference.startswith("tr_") for t in transfers.values())

    missing = await service.ask_refund(payment_id, admin, "manque-1", shop_id=str(second),
                                       amount_cents=100)
    assert missing.status_code == 201, missing.text
    [refund] = await service.events(RefundIssued)
    assert [(s.shop_id, s.amount_cents, s.commission_cents) for s in refund.shares] == [
        (second, 100, 8)]  # 19 on 234, 11 on the 134 left
    [reversal] = await service.events(TransferReversed)
    assert (reversal.transfer_id, reversal.amount_cents) == (transfers[second].transfer_id, 92)
    assert [e.payouts_enabled for e in await service.events(PayoutAccountUpdated)] == [
        False, True, False, True]


async def test_a_redelivered_notice_is_acknowledged_and_changes_nothing(stripe_payments):
    service, stripe = stripe_payments
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await service.feed(order.shop_opened(shop, owner))
    account = (await service.open_payout_account(shop, owner)).json()["account_reference"]
    stripe.enabled_accounts.add(account)
    payload = account_event(account, event_id="evt_once", payouts_enabled=True)
    assert (await post_notice(service, payload)).json() == {"applied": True}

    sent = wire_log(stripe)
    stripe.enabled_accounts.clear()  # were it applied again, the account would be disabled
    again = await post_notice(service, payload)
    assert again.status_code == 200
    assert again.json() == {"applied": False}
    assert sent == []  # not even re-read
    [_, enabled] = await service.events(PayoutAccountUpdated)
    assert enabled.payouts_enabled


async def test_a_failure_delivered_after_the_success_does_not_undo_it(stripe_payments):
    service, _ = stripe_payments
    order = basket(1234)
    payment_id = await service.open(order)
    paid = intent_event("payment_intent.succeeded", payment_id)
    refused = intent_event("payment_intent.payment_failed", payment_id,
                           last_payment_error={"message": "Your card was declined."})

    assert (await post_notice(service, paid)).status_code == 200
    late = await post_notice(service, refused)
    assert (late.status_code, late.json()) == (200, {"applied": False})
    assert len(await service.events(PaymentSucceeded)) == 1
    assert await service.events(PaymentFailed) == []
    assert (await service.get(payment_id, order.buyer)).json()["status"] == "succeeded"


async def test_a_failure_reported_after_a_later_attempt_succeeded_counts_as_the_success(
    stripe_payments,
):
    service, stripe = stripe_payments
    order = basket(1234)
    payment_id = await service.open(order)
    stripe.succeeded_intents.add("pi_3TestIntent")  # the resident's second card went through

    refused = intent_event("payment_intent.payment_failed", payment_id)
    assert (await post_notice(service, refused)).json() == {"applied": True}
    assert await service.events(PaymentFailed) == []
    assert [e.payment_id for e in await service.events(PaymentSucceeded)] == [payment_id]


async def test_an_account_notice_is_checked_against_the_account_as_stripe_holds_it(
    stripe_payments,
):
    service, stripe = stripe_payments
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await service.feed(order.shop_opened(shop, owner))
    account = (await service.open_payout_account(shop, owner)).json()["account_reference"]
    payment_id = await service.open(order)
    await post_notice(service, intent_event("payment_intent.succeeded", payment_id))
    await service.feed(order.completed())

    # Sent before the account was disabled again, delivered after: Stripe says "not enabled".
    stale = await post_notice(service, account_event(account, payouts_enabled=True))
    assert stale.json() == {"applied": False}
    assert await service.events(TransferMade) == []

    stripe.enabled_accounts.add(account)
    earlier = await post_notice(service, account_event(account, payouts_enabled=False))
    assert earlier.json() == {"applied": True}  # delivered late, but Stripe says enabled now
    [made] = await service.events(TransferMade)
    assert (made.shop_id, made.amount_cents) == (shop, 920)


async def test_signed_notices_of_other_types_or_not_ours_are_acknowledged_and_ignored(
    stripe_payments,
):
    service, _ = stripe_payments
    for payload in (account_event("acct_not_ours", payouts_enabled=True),
                    intent_event("charge.dispute.created", uuid4()),
                    intent_event("payment_intent.succeeded", uuid4())):
        answer = await post_notice(service, payload)
        assert (answer.status_code, answer.json()) == (200, {"applied": False})
    stale = account_event("acct_not_ours")
    old = await post_notice(service, stale, stripe_signature(stale, at=int(time.time()) - 301))
    assert old.status_code == 400
    assert await service.events(PayoutAccountUpdated) == []


async def test_notices_signed_by_the_connect_endpoint_are_verified_with_its_own_secret(
    tmp_path, stripe_api_base,
):
    settings = stripe_settings(tmp_path, stripe_api_base,
                               stripe_connect_webhook_secret="whsec_connect")
    async with running_payment(settings) as service:
        payload = account_event("acct_elsewhere", payouts_enabled=True)
        for secret, status in (("whsec_connect", 200), (WEBHOOK_SECRET, 200),
                               ("whsec_forged", 400)):
            answer = await post_notice(service, payload, stripe_signature(payload, secret=secret))
            assert answer.status_code == status, secret
