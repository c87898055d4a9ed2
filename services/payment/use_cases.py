"""What the payment service does: load, change, write the outbox, commit.

Event handlers and requests only record what was decided (a payment to open, one to call off, a
refund due, a shop's transfer owed). The provider step, ``sync_with_provider``, then makes the
provider match, outside any database transaction, and writes each result with its event. It runs
for the payment at hand as soon as a handler's transaction has committed (``uow.after_commit``)
and at once after a request that left it work; and for every payment on the service's clock, to
retry what failed.

Every amount that moves is decided under the payment's row lock, so that a refund's cents are
either deducted from its shop's transfer or taken back from it by a reversal, exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from uuid import UUID, uuid4

from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.base import Event
from libs.contracts.catalog import ShopOpened
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderLinesCancelled,
    OrderPartCancelled,
    PaymentRequested,
)
from libs.contracts.payment import (
    MembershipFeeFailed,
    MembershipFeePaid,
    PaymentFailed,
    PaymentStarted,
    PaymentSucceeded,
    PayoutAccountUpdated,
    ProcessorFeeCharged,
    RefundIssued,
    ShopShare,
    TransferMade,
    TransferReversed,
)
from libs.contracts.pickup import HubStaffAssigned, MembershipFeeRequested, NoShowRecorded
from libs.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.payment.domain import (
    Outcome,
    PaymentProvider,
    PaymentStatus,
    PayoutAccountState,
    ProviderNotice,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderReversal,
    ProviderShop,
    ProviderTransfer,
    RefundStatus,
    ReversalStatus,
    TransferStatus,
    adjustment_refund_id,
    commission_bps_for,
    commission_cents,
    commission_given_back,
    ensure_simulatable,
    is_overdue,
    lines_refund_id,
    may_complete_payout_account,
    may_manage_shop,
    may_pay_membership,
    may_run_hub,
    may_see,
    no_show_refund_id,
    no_show_refund_shares,
    part_refund_id,
    refund_shares,
    reversal_cents,
    reversal_id,
    status_after_order_cancelled,
    status_after_outcome,
    transfer_cents,
    transfer_id,
    whole_refund_id,
)
from services.payment.ledger.tables import LedgerHub
from services.payment.providers import StripeProvider
from services.payment.tables import (
    HubAdmin,
    HubTerms,
    Payment,
    PayoutAccount,
    ProcessorFee,
    ProviderNoticeSeen,
    Refund,
    RefundShare,
    Reversal,
    Share,
    Shop,
    Transfer,
)

log = logging.getLogger(__name__)

PROVIDER_BATCH = 100
SIMULATED_REFUSAL = "paiement refusé (simulation)"
OVERDUE = "délai de paiement dépassé"
PAYMENT_NOTICES = {"payment_intent.succeeded", "payment_intent.payment_failed"}
ACCOUNT_NOTICE = "account.updated"


def provider_of(runtime: ServiceRuntime) -> PaymentProvider:
    return runtime.adapters["provider"]


# --- what the other services tell us (inside the inbox transaction: no provider call here)


async def record_shop(opened: ShopOpened, uow: UnitOfWork) -> None:
    """A shop, its hub and its owner: who may open its payout account, and its hub's rate."""
    shop = await uow.session.get(Shop, opened.shop_id)
    if shop is None:
        uow.session.add(Shop(id=opened.shop_id, hub_id=opened.hub_id, name=opened.name,
                             owner_id=opened.owner_id, owner_email=opened.owner_email))
        return
    shop.hub_id, shop.name = opened.hub_id, opened.name
    shop.owner_id, shop.owner_email = opened.owner_id, opened.owner_email


async def record_hub_staff(assigned: HubStaffAssigned, uow: UnitOfWork) -> None:
    """A hub's admins set its rates and refund what went missing; its desk staff do not."""
    key = (assigned.hub_id, assigned.user_id)
    known = await uow.session.get(HubAdmin, key)
    if assigned.role == "admin" and known is None:
        uow.session.add(HubAdmin(hub_id=assigned.hub_id, user_id=assigned.user_id))
    elif assigned.role != "admin" and known is not None:
        await uow.session.delete(known)


async def record_payment_request(requested: PaymentRequested, uow: UnitOfWork) -> None:
    """The order asks for its basket's payment; the provider step opens it. Each shop's share
    and its commission rate are fixed now, at checkout."""
    now = _now()
    payment = Payment(
        id=uuid4(), order_id=requested.order_id, hub_id=requested.hub_id,
        resident_id=requested.resident_id, amount_cents=requested.total_cents,
        currency=requested.currency, pay_by=requested.pay_by, status=PaymentStatus.PENDING,
        correlation_id=uow.correlation_id, caused_by=_cause(uow), created_at=now, updated_at=now,
    )
    if not await _insert_new_payment(uow.session, payment, "order_id"):
        return
    if sum(part.total_cents for part in requested.parts) != requested.total_cents:
        log.warning("the parts of order %s do not add up to its total", requested.order_id)
    rates = await _commission_rates(uow.session, requested.hub_id,
                                    [part.shop_id for part in requested.parts])
    shares = []
    for part in requested.parts:
        bps = commission_bps_for(rates.get(part.shop_id), rates.get(requested.hub_id),
                                 uow.settings.commission_bps)
        shares.append(Share(payment_id=payment.id, shop_id=part.shop_id,
                            amount_cents=part.total_cents, commission_bps=bps,
                            commission_cents=commission_cents(part.total_cents, bps)))
    uow.session.add_all(shares)
    _open_after_commit(uow, payment, [_shop_share(share) for share in
                                      sorted(shares, key=lambda share: share.shop_id)])


async def record_membership_fee_request(requested: MembershipFeeRequested, uow: UnitOfWork
                                        ) -> None:
    """A resident joins a hub with a fee: one payment, for the hub, with no shares and no
    commission; the provider step opens it, the overdue sweep calls it off after ``pay_by``."""
    now = _now()
    payment = Payment(
        id=uuid4(), membership_id=requested.membership_id, hub_id=requested.hub_id,
        resident_id=requested.resident_id, amount_cents=requested.amount_cents,
        currency=requested.currency, pay_by=requested.pay_by, status=PaymentStatus.PENDING,
        correlation_id=uow.correlation_id, caused_by=_cause(uow), created_at=now, updated_at=now,
    )
    if await _insert_new_payment(uow.session, payment, "membership_id"):
        _open_after_commit(uow, payment)


async def _insert_new_payment(session: AsyncSession, payment: Payment, purpose: str) -> bool:
    """Writes ``payment`` unless its order or membership (the ``purpose`` column) already has
    one; False then. On PostgreSQL a concurrent request for the same purpose waits for the
    first, then writes nothing."""
    written = await session.execute(
        conflict_insert(session, Payment).values(payment.model_dump())
        .on_conflict_do_nothing(index_elements=[purpose]).returning(Payment.id))
    return written.first() is not None


async def _commission_rates(session: AsyncSession, hub_id: UUID, shop_ids: list[UUID]
                            ) -> dict[UUID, int | None]:
    """The hub's own commission rate and its shops', by id, read in one statement (no shop has
    its hub's id: both are random UUIDs); absent where there is no row."""
    rows = await session.execute(
        select(HubTerms.hub_id, HubTerms.commission_bps).where(HubTerms.hub_id == hub_id)
        .union_all(select(Shop.id, Shop.commission_bps).where(Shop.id.in_(shop_ids))))
    return dict(rows.all())


async def call_off_payment(cancelled: OrderCancelled, uow: UnitOfWork) -> None:
    """The order is undone: a payment not made is cancelled, one made is refunded in full (less
    what its cancelled parts already got back)."""
    payment = await _lock_order_payment(uow.session, cancelled.order_id)
    if payment is None:
        return
    payment.order_cancelled, payment.updated_at = True, _now()
    status = status_after_order_cancelled(payment.status)
    if status is not None:
        payment.status = status
    elif payment.status == PaymentStatus.SUCCEEDED:
        await _refund_what_is_left(uow, payment)
    _sync_after_commit(uow, payment.id)


async def refund_cancelled_part(cancelled: OrderPartCancelled, uow: UnitOfWork) -> None:
    """A shop's part is gone: its amount goes back, as soon as the money is in."""
    await _refund_shop(uow, cancelled, lambda payment: part_refund_id(payment.id,
                                                                      cancelled.shop_id))


async def refund_cancelled_lines(cancelled: OrderLinesCancelled, uow: UnitOfWork) -> None:
    """A shop withdrew some units of its part: their amount goes back out of its share, once
    per withdrawal (each is its own event)."""
    await _refund_shop(uow, cancelled, lambda payment: lines_refund_id(payment.id,
                                                                     uow.cause.event_id))


async def _refund_shop(uow: UnitOfWork, cancelled: OrderPartCancelled | OrderLinesCancelled,
                       refund_id: Callable[[Payment], UUID]) -> None:
    """Gives back ``cancelled.amount_cents`` out of its shop's share, up to what is left of it;
    after the shop's transfer was fixed, the provider step reverses the shop's net part."""
    payment = await _lock_order_payment(uow.session, cancelled.order_id)
    if payment is None or payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return
    left = await _left_by_shop(uow.session, payment.id)
    await _promise_refund(uow, payment, refund_id(payment),
                          refund_shares(cancelled.amount_cents, left, cancelled.shop_id),
                          shop_id=cancelled.shop_id, reason=cancelled.reason)
    _sync_after_commit(uow, payment.id)


async def pay_shops(completed: OrderCompleted, uow: UnitOfWork) -> None:
    """The resident has the goods: each shop is owed its share, less commission and refunds.
    A shop whose payout account cannot be paid yet waits (``held``)."""
    await _pay_shops_for(uow, completed.order_id)


async def _pay_shops_for(uow: UnitOfWork, order_id: UUID) -> None:
    session = uow.session
    payment = await _lock_order_payment(session, order_id)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return
    known = set((await session.exec(
        select(Transfer.shop_id).where(Transfer.payment_id == payment.id))).all())
    owed = [share for share in await _shares(session, payment.id) if share.shop_id not in known]
    if owed:
        refunded = await _refunded_by_shop(session, payment.id)
        accounts = {account.shop_id: account for account in (await session.exec(
            select(PayoutAccount).where(PayoutAccount.shop_id.in_(
                [share.shop_id for share in owed])))).all()}
        for share in owed:
            transfer = Transfer(id=transfer_id(payment.id, share.shop_id), payment_id=payment.id,
                                order_id=payment.order_id, shop_id=share.shop_id,
                                status=TransferStatus.HELD, caused_by=_cause(uow),
                                created_at=_now())
            session.add(transfer)
            _fix_transfer(transfer, share, refunded.get(share.shop_id, 0),
                          accounts.get(share.shop_id))
    _sync_after_commit(uow, payment.id)


async def refund_after_no_show(order_id: UUID, uow: UnitOfWork) -> None:
    """The resident never came: the hub's policy says how much of each shop's share goes back
    (``no_show_refund_bps``: 0 keeps it all). For pickup's no-show event's handler."""
    payment = await _lock_order_payment(uow.session, order_id)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return
    hub = await uow.session.get(HubTerms, payment.hub_id)
    bps = (hub.no_show_refund_bps if hub and hub.no_show_refund_bps is not None
           else uow.settings.no_show_refund_bps)
    left = await _left_by_shop(uow.session, payment.id)
    await _promise_refund(uow, payment, no_show_refund_id(payment.id),
                          no_show_refund_shares(left, bps), reason="absent au retrait")
    _sync_after_commit(uow, payment.id)


async def refund_no_show(event: NoShowRecorded, uow: UnitOfWork) -> None:
    """The hub's policy gives back part of the money; the shops keep the rest, which is paid
    to them as if the order had been collected (the refund, once issued, is reversed out of
    their transfers like any refund after a transfer)."""
    await refund_after_no_show(event.order_id, uow)
    await _pay_shops_for(uow, event.order_id)


def _sync_after_commit(uow: UnitOfWork, payment_id: UUID) -> None:
    """The provider step for this payment, once the handler's transaction has committed."""
    uow.after_commit(partial(sync_with_provider, payment_id=payment_id))


def _open_after_commit(uow: UnitOfWork, payment: Payment,
                       shares: list[ShopShare] | None = None) -> None:
    """The provider step for a payment just requested, once its request has committed: opening
    it, with what the request wrote at hand (``_open`` re-reads the payment under its lock)."""
    uow.after_commit(partial(_open_requested, payment=payment, shares=shares))


async def _open_requested(runtime: ServiceRuntime, payment: Payment,
                          shares: list[ShopShare] | None) -> None:
    await _attempt(_open(runtime, provider_of(runtime), payment, shares), "open payment",
                   payment.id)


async def call_off_overdue_memberships(runtime: ServiceRuntime, now: datetime | None = None
                                       ) -> None:
    """Membership fees still unpaid after their ``pay_by``: each called off in its own
    transaction (``MembershipFeeFailed``), then its payment cancelled at the provider."""
    now = now or _now()
    async with runtime.database.sessions() as session:
        overdue = (await session.exec(
            select(Payment.id).where(Payment.membership_id.is_not(None),
                                     Payment.status == PaymentStatus.PENDING,
                                     Payment.pay_by <= now)
            .order_by(Payment.pay_by).limit(PROVIDER_BATCH))).all()
    for payment_id in overdue:
        async with _payment_work(runtime, payment_id) as (uow, payment):
            if not is_overdue(payment.status, payment.pay_by, now):
                continue
            payment.status, payment.failure_reason = PaymentStatus.CANCELLED, OVERDUE
            payment.updated_at = _now()
            await _emit_caused(uow, _failed(payment, OVERDUE), payment.caused_by)
        await sync_with_provider(runtime, payment_id)


# --- requests: payments and refunds


async def get_payment(runtime: ServiceRuntime, payment_id: UUID, principal: Principal) -> Payment:
    async with runtime.database.sessions() as session:
        payment = await session.get(Payment, payment_id)
    return _visible(payment, payment_id, principal)


async def membership_payment(runtime: ServiceRuntime, membership_id: UUID,
                             principal: Principal) -> tuple[Payment, LedgerHub | None]:
    """The payment of a membership fee, its resident's only, and its hub (None until this service
    has heard of it)."""
    async with runtime.database.sessions() as session:
        payment = (await session.exec(
            select(Payment).where(Payment.membership_id == membership_id))).first()
        if payment is None or not may_pay_membership(principal, payment.resident_id):
            raise NotFound(f"no payment for membership {membership_id}")
        return payment, await session.get(LedgerHub, payment.hub_id)


async def simulate_outcome(runtime: ServiceRuntime, payment_id: UUID, outcome: Outcome,
                           principal: Principal) -> Payment:
    """The resident pays, or is refused, with the simulated provider."""
    if provider_of(runtime).name != "simulated":
        raise NotFound("payments are simulated only with the simulated provider")
    async with _payment_work(runtime, payment_id) as (uow, payment):
        _visible(payment, payment_id, principal)
        ensure_simulatable(payment.status, opened=payment.provider_reference is not None)
        await _apply_outcome(uow, payment, outcome, SIMULATED_REFUSAL)
    await sync_with_provider(runtime, payment.id)  # its fee, and a refund it made due, at once
    return payment


async def ask_refund(runtime: ServiceRuntime, payment_id: UUID, shop_id: UUID,
                     amount_cents: int, reason: str, idempotency_key: str,
                     principal: Principal) -> tuple[Refund, bool]:
    """A hub admin gives back part of a shop's share (an item was missing); the same
    Idempotency-Key gives the same refund. Returns it, and whether this request made it."""
    refund_id = adjustment_refund_id(payment_id, idempotency_key)
    async with _payment_work(runtime, payment_id) as (uow, payment):
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        if not may_run_hub(principal, await _hub_admins(uow.session, payment.hub_id)):
            raise Forbidden("only the hub's admins refund part of an order")
        known = await uow.session.get(Refund, refund_id)
        if known is None:
            await _ask_adjustment(uow, payment, refund_id, shop_id, amount_cents, reason)
    if known is not None:
        if (known.shop_id, known.amount_cents) != (shop_id, amount_cents):
            raise Conflict("this Idempotency-Key was used for another refund")
        return known, False
    await sync_with_provider(runtime, payment_id)
    async with runtime.database.sessions() as session:
        return await session.get(Refund, refund_id), True


async def _ask_adjustment(uow: UnitOfWork, payment: Payment, refund_id: UUID, shop_id: UUID,
                          amount_cents: int, reason: str) -> None:
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict(f"this payment is {payment.status}: only money taken can be refunded")
    left = await _left_by_shop(uow.session, payment.id)
    if shop_id not in left:
        raise Unprocessable(f"shop {shop_id} has no share in this payment")
    if amount_cents > left[shop_id]:
        raise Conflict(f"only {left[shop_id]} cents of this shop's share are left to refund")
    await _promise_refund(uow, payment, refund_id, {shop_id: amount_cents}, shop_id=shop_id,
                          reason=reason)


# --- requests: commission rates and the hub's no-show policy


async def hub_terms(runtime: ServiceRuntime, hub_id: UUID, principal: Principal) -> dict:
    async with runtime.database.sessions() as session:
        if not may_run_hub(principal, await _hub_admins(session, hub_id)):
            raise Forbidden("only the hub's admins read its terms")
        return _terms_view(runtime, hub_id, await session.get(HubTerms, hub_id))


async def set_hub_terms(runtime: ServiceRuntime, hub_id: UUID, principal: Principal,
                        **terms: int) -> dict:
    """Sets the hub's ``commission_bps`` or ``no_show_refund_bps`` (for orders checked out from
    now on, and no-shows from now on)."""
    async with runtime.unit_of_work() as uow:
        if not may_run_hub(principal, await _hub_admins(uow.session, hub_id)):
            raise Forbidden("only the hub's admins set its terms")
        known = await uow.session.get(HubTerms, hub_id)
        if known is None:
            known = HubTerms(hub_id=hub_id)
            uow.session.add(known)
        for name, value in terms.items():
            setattr(known, name, value)
    return _terms_view(runtime, hub_id, known)


async def set_shop_commission(runtime: ServiceRuntime, shop_id: UUID, bps: int,
                              principal: Principal) -> Shop:
    """The shop's own rate, over its hub's, for orders checked out from now on."""
    async with runtime.unit_of_work() as uow:
        shop = await _known_shop(uow.session, shop_id)
        if not may_run_hub(principal, await _hub_admins(uow.session, shop.hub_id)):
            raise Forbidden("only the hub's admins set a shop's commission")
        shop.commission_bps = bps
    return shop


def _terms_view(runtime: ServiceRuntime, hub_id: UUID, terms: HubTerms | None) -> dict:
    settings = runtime.settings
    return {
        "hub_id": hub_id,
        "commission_bps": commission_bps_for(None, terms and terms.commission_bps,
                                             settings.commission_bps),
        "no_show_refund_bps": (terms.no_show_refund_bps
                               if terms and terms.no_show_refund_bps is not None
                               else settings.no_show_refund_bps),
    }


# --- requests: payout accounts and transfers


async def shop_payouts(runtime: ServiceRuntime, shop_id: UUID, principal: Principal
                       ) -> tuple[Shop, PayoutAccount | None, list[Transfer]]:
    """The shop, its payout account if it has one, and its transfers, newest first."""
    async with runtime.database.sessions() as session:
        shop = await _managed_shop(session, shop_id, principal)
        account = await session.get(PayoutAccount, shop_id)
        transfers = (await session.exec(
            select(Transfer).where(Transfer.shop_id == shop_id)
            .order_by(Transfer.created_at.desc())
        )).all()
    return shop, account, list(transfers)


async def reversed_cents(runtime: ServiceRuntime, transfer_ids: list[UUID]) -> dict[UUID, int]:
    async with runtime.database.sessions() as session:
        rows = await session.exec(
            select(Reversal.transfer_id, func.sum(Reversal.amount_cents))
            .where(Reversal.transfer_id.in_(transfer_ids), Reversal.status == ReversalStatus.MADE)
            .group_by(Reversal.transfer_id)
        )
        return dict(rows.all())


async def open_payout_account(runtime: ServiceRuntime, shop_id: UUID, principal: Principal,
                              back_url: str) -> tuple[PayoutAccount, str | None]:
    """Opens the shop's payout account with the provider if it has none; returns it, with the
    link where its owner completes it (None once it can be paid, and for anyone but its owner)."""
    provider = provider_of(runtime)
    async with runtime.database.sessions() as session:
        shop = await _managed_shop(session, shop_id, principal)
        account = await session.get(PayoutAccount, shop_id)
    try:
        if account is None:
            state = await provider.open_payout_account(
                ProviderShop(shop.id, shop.name, shop.owner_email))
            account = await _record_account(runtime, shop_id, provider.name, state)
        if account.payouts_enabled or not may_complete_payout_account(principal, shop.owner_id):
            return account, None
        return account, await provider.onboarding_link(account.reference, shop_id, uuid4(),
                                                       back_url)
    except ProviderRefused as refusal:
        raise Conflict(f"the payment provider refused: {refusal}") from refusal


async def finish_simulated_onboarding(runtime: ServiceRuntime, shop_id: UUID,
                                      principal: Principal) -> PayoutAccount:
    """The shop's owner went through the simulated provider's onboarding: it can be paid."""
    if provider_of(runtime).name != "simulated":
        raise NotFound("onboarding is simulated only with the simulated provider")
    async with runtime.unit_of_work() as uow:
        await _completing_owner_shop(uow.session, shop_id, principal)
        account = await _locked_account(uow.session, PayoutAccount.shop_id == shop_id)
        if account is None:
            raise Conflict("this shop has no payout account yet: open it first")
        await _apply_account_state(uow, account, PayoutAccountState(
            account.reference, details_submitted=True, payouts_enabled=True))
    await sync_with_provider(runtime)  # its held transfers, at once
    return account


async def _record_account(runtime: ServiceRuntime, shop_id: UUID, provider: str,
                          state: PayoutAccountState) -> PayoutAccount:
    try:
        async with runtime.unit_of_work() as uow:
            now = _now()
            account = PayoutAccount(shop_id=shop_id, provider=provider, reference=state.reference,
                                    details_submitted=state.details_submitted,
                                    payouts_enabled=state.payouts_enabled,
                                    created_at=now, updated_at=now)
            uow.session.add(account)
            await uow.session.flush()
            await uow.emit(_account_updated(account))
        return account
    except IntegrityError:  # a concurrent request recorded it first: the same account
        async with runtime.database.sessions() as session:
            return await session.get(PayoutAccount, shop_id)


async def _apply_account_state(uow: UnitOfWork, account: PayoutAccount,
                               state: PayoutAccountState) -> bool:
    if (account.details_submitted, account.payouts_enabled) == (
            state.details_submitted, state.payouts_enabled):
        return False
    account.details_submitted, account.payouts_enabled = (state.details_submitted,
                                                          state.payouts_enabled)
    account.updated_at = _now()
    await uow.emit(_account_updated(account))
    return True


def _account_updated(account: PayoutAccount) -> PayoutAccountUpdated:
    return PayoutAccountUpdated(shop_id=account.shop_id, account_reference=account.reference,
                                details_submitted=account.details_submitted,
                                payouts_enabled=account.payouts_enabled)


# --- Stripe's webhook


async def record_provider_notice(runtime: ServiceRuntime, payload: bytes,
                                 signature: str | None) -> bool:
    """Applies what Stripe's webhook reports, once per Stripe event; False when it changed
    nothing (a redelivery, a type we do not follow, an object that is not ours).

    Deliveries come in any order, so the state applied is Stripe's: a failure is checked
    against the intent as it is now (a later attempt may have gone through), an account is
    re-read. A success stands as reported: Stripe never takes one back."""
    provider = provider_of(runtime)
    if not isinstance(provider, StripeProvider):
        raise NotFound("this service does not use Stripe: it has no Stripe webhook")
    notice = provider.read_notice(payload, signature)
    async with runtime.database.sessions() as session:
        if await session.get(ProviderNoticeSeen, notice.event_id) is not None:
            return False
    if notice.kind in PAYMENT_NOTICES:
        outcome = (Outcome.SUCCEEDED if notice.kind == "payment_intent.succeeded"
                   else await provider.payment_outcome(notice.object_id))
        apply = partial(_apply_payment_notice, notice=notice, outcome=outcome)
    elif notice.kind == ACCOUNT_NOTICE:
        state = await provider.read_account(notice.object_id)
        apply = partial(_apply_account_notice, state=state)
    else:
        apply = None
    try:
        async with runtime.unit_of_work() as uow:
            uow.session.add(ProviderNoticeSeen(event_id=notice.event_id, kind=notice.kind[:100],
                                               received_at=_now()))
            await uow.session.flush()
            applied = apply is not None and await apply(uow)
    except IntegrityError:  # the same event, delivered twice at once
        return False
    if applied:
        await sync_with_provider(runtime)  # a refund, a fee or transfers it made due, at once
    return applied


async def _apply_payment_notice(uow: UnitOfWork, notice: ProviderNotice,
                                outcome: Outcome | None) -> bool:
    condition = (Payment.id == notice.payment_id if notice.payment_id is not None
                 else Payment.provider_reference == notice.object_id)
    payment = (await uow.session.exec(select(Payment).where(condition).with_for_update())).first()
    if payment is None or outcome is None:
        return False
    uow.correlation_id = payment.correlation_id
    return await _apply_outcome(uow, payment, outcome, notice.reason)


async def _apply_account_notice(uow: UnitOfWork, state: PayoutAccountState) -> bool:
    account = await _locked_account(uow.session, PayoutAccount.reference == state.reference)
    return account is not None and await _apply_account_state(uow, account, state)


# --- shared by handlers and requests


def _visible(payment: Payment | None, payment_id: UUID, principal: Principal) -> Payment:
    # Someone else's payment is as good as absent: its existence is nobody else's business.
    if payment is None or not may_see(principal, payment.resident_id):
        raise NotFound(f"no payment {payment_id}")
    return payment


async def _apply_outcome(uow: UnitOfWork, payment: Payment, outcome: Outcome, reason: str,
                         shares: list[ShopShare] | None = None) -> bool:
    """Moves the payment as the provider's verdict says; False when it changes nothing.
    ``shares`` are the order payment's, when the caller has them (they never change)."""
    status = status_after_outcome(payment.status, outcome)
    if status is None:
        return False
    if status == PaymentStatus.FAILED:
        payment.status, payment.failure_reason, payment.updated_at = status, reason, _now()
        await uow.emit(_failed(payment, reason))
        return True
    if payment.membership_id is not None:
        # Money taken is the hub's even after the fee was called off: the membership follows it.
        payment.status, payment.commission_cents, payment.updated_at = status, 0, _now()
        await uow.emit(MembershipFeePaid(
            payment_id=payment.id, membership_id=payment.membership_id, hub_id=payment.hub_id,
            resident_id=payment.resident_id, amount_cents=payment.amount_cents))
        return True
    if shares is None:  # read before the payment changes: its row is written once
        shares = [_shop_share(share) for share in await _shares(uow.session, payment.id)]
    payment.status, payment.updated_at = status, _now()
    payment.commission_cents = sum(share.commission_cents for share in shares)
    await uow.emit(PaymentSucceeded(
        payment_id=payment.id, order_id=payment.order_id, hub_id=payment.hub_id,
        amount_cents=payment.amount_cents, commission_cents=payment.commission_cents,
        shares=shares,
    ))
    if payment.order_cancelled:
        await _refund_what_is_left(uow, payment)
    return True


async def _refund_what_is_left(uow: UnitOfWork, payment: Payment) -> None:
    left = await _left_by_shop(uow.session, payment.id)
    await _promise_refund(uow, payment, whole_refund_id(payment.id),
                          refund_shares(payment.amount_cents, left))


async def _promise_refund(uow: UnitOfWork, payment: Payment, refund_id: UUID,
                          shares: dict[UUID, int], *, shop_id: UUID | None = None,
                          reason: str | None = None) -> None:
    """Makes a refund of ``shares`` (cents per shop) due, once per cause. The caller holds the
    payment's row lock and took the shares out of what is left of each shop's, so two causes
    cannot both count the same cents."""
    if not shares or await uow.session.get(Refund, refund_id) is not None:
        return
    uow.session.add(Refund(id=refund_id, payment_id=payment.id, shop_id=shop_id,
                           amount_cents=sum(shares.values()), status=RefundStatus.DUE,
                           reason=reason, caused_by=_cause(uow), asked_at=_now()))
    await uow.session.flush()
    for shop, cents in shares.items():
        uow.session.add(RefundShare(refund_id=refund_id, shop_id=shop, amount_cents=cents))


def _fix_transfer(transfer: Transfer, share: Share, refunded_cents: int,
                  account: PayoutAccount | None) -> None:
    """Fixes a held transfer's amount once its shop's account can be paid (or at once when
    nothing is owed), given what issued refunds took out of the share; the caller holds the
    payment's row lock."""
    amount = transfer_cents(share.amount_cents, share.commission_bps, refunded_cents)
    if amount == 0:
        transfer.status, transfer.amount_cents = TransferStatus.NOT_NEEDED, 0
        return
    if account is not None and account.payouts_enabled:
        transfer.status, transfer.amount_cents = TransferStatus.DUE, amount
        transfer.destination = account.reference


# --- the provider step (outside any transaction)


async def sync_with_provider(runtime: ServiceRuntime, payment_id: UUID | None = None) -> None:
    """Opens requested payments, cancels called-off ones, learns the fees on those paid, gives
    back due refunds, and sends the shops their transfers and reversals, at the provider: every
    payment's, or only ``payment_id``'s. Each call is safe to repeat (idempotency keys from our
    ids) and its result is written only if nobody wrote it first, so replicas and retries agree;
    a call that fails is made again at the next sync."""
    provider = provider_of(runtime)
    async with runtime.database.sessions() as session:
        work = await (_work_on_every_payment(session) if payment_id is None
                      else _work_on_payment(session, payment_id))
    for payment in work.to_open:
        await _attempt(_open(runtime, provider, payment), "open payment", payment.id)
    for payment in work.to_cancel:
        await _attempt(_cancel(runtime, provider, payment), "cancel payment", payment.id)
    for payment in work.to_charge:
        await _attempt(_charge_fee(runtime, provider, payment), "processor fee", payment.id)
    for refund, payment in work.to_refund:
        await _attempt(_give_back(runtime, provider, refund, payment), "refund", refund.id)
    for transfer in work.to_fix:
        await _attempt(_fix_held(runtime, transfer), "fix transfer", transfer.id)
    if work.money_to_move:
        await _send_transfers(runtime, provider, payment_id)


@dataclass
class _ProviderWork:
    """What the provider step has to do. ``money_to_move`` is False when no transfer nor
    reversal can be due (the one payment synced has no refund, transfer or reversal waiting)."""

    to_open: list[Payment] = field(default_factory=list)
    to_cancel: list[Payment] = field(default_factory=list)
    to_charge: list[Payment] = field(default_factory=list)
    to_refund: list[tuple[Refund, Payment]] = field(default_factory=list)
    to_fix: list[Transfer] = field(default_factory=list)
    money_to_move: bool = True


_TO_OPEN = and_(Payment.status == PaymentStatus.PENDING, Payment.provider_reference.is_(None))
_TO_CANCEL = and_(Payment.status == PaymentStatus.CANCELLED,
                  Payment.provider_reference.is_not(None),
                  Payment.provider_cancelled_at.is_(None))
_MONEY_IN = and_(Payment.status == PaymentStatus.SUCCEEDED,
                 Payment.provider_reference.is_not(None))
_FEE_UNKNOWN = and_(_MONEY_IN, ~Payment.fee_recorded)
_MONEY_TO_MOVE = and_(_MONEY_IN, or_(
    select(Refund.id).where(Refund.payment_id == Payment.id,
                            Refund.status == RefundStatus.DUE).exists(),
    select(Transfer.id).where(Transfer.payment_id == Payment.id,
                              Transfer.status.in_((TransferStatus.HELD, TransferStatus.DUE)))
    .exists(),
    select(Reversal.id).join(Transfer, Transfer.id == Reversal.transfer_id)
    .where(Transfer.payment_id == Payment.id, Reversal.status == ReversalStatus.DUE).exists(),
))


async def _work_on_every_payment(session: AsyncSession) -> _ProviderWork:
    return _ProviderWork(
        to_open=await _first(session, None, select(Payment).where(_TO_OPEN)
                             .order_by(Payment.created_at)),
        to_cancel=await _first(session, None, select(Payment).where(_TO_CANCEL)
                               .order_by(Payment.updated_at)),
        to_charge=await _first(session, None, select(Payment).where(_FEE_UNKNOWN)
                               .order_by(Payment.updated_at)),
        to_refund=await _first(session, None, _refunds_due()),
        to_fix=await _first(session, None, _held_transfers_payable()),
    )


async def _work_on_payment(session: AsyncSession, payment_id: UUID) -> _ProviderWork:
    """One payment's work: the payment and what its state calls for, in one statement; its
    refunds and transfers only when some wait."""
    found = (await session.execute(
        select(Payment, _TO_OPEN, _TO_CANCEL, _FEE_UNKNOWN, _MONEY_TO_MOVE)
        .where(Payment.id == payment_id))).first()
    if found is None:
        return _ProviderWork(money_to_move=False)
    payment, to_open, to_cancel, fee_unknown, money_to_move = found
    work = _ProviderWork(to_open=[payment] if to_open else [],
                         to_cancel=[payment] if to_cancel else [],
                         to_charge=[payment] if fee_unknown else [],
                         money_to_move=bool(money_to_move))
    if money_to_move:
        work.to_refund = await _first(session, payment_id, _refunds_due())
        work.to_fix = await _first(session, payment_id, _held_transfers_payable())
    return work


def _refunds_due():
    return (_paid(select(Refund, Payment), Refund).where(Refund.status == RefundStatus.DUE)
            .order_by(Refund.asked_at))


def _held_transfers_payable():
    return (_paid(select(Transfer), Transfer)
            .join(PayoutAccount, PayoutAccount.shop_id == Transfer.shop_id)
            .where(Transfer.status == TransferStatus.HELD, PayoutAccount.payouts_enabled)
            .order_by(Transfer.created_at))


async def _send_transfers(runtime: ServiceRuntime, provider: PaymentProvider,
                          payment_id: UUID | None) -> None:
    """Due transfers, then the reversals of transfers made (those just made included)."""
    async with runtime.database.sessions() as session:
        to_send = await _first(session, payment_id, _paid(select(Transfer, Payment), Transfer)
                               .where(Transfer.status == TransferStatus.DUE)
                               .order_by(Transfer.created_at))
    for transfer, payment in to_send:
        await _attempt(_transfer(runtime, provider, transfer, payment), "transfer", transfer.id)
    async with runtime.database.sessions() as session:
        to_reverse = await _first(session, payment_id, _paid(select(Reversal, Transfer), Transfer)
                                  .join(Reversal, Reversal.transfer_id == Transfer.id)
                                  .where(Reversal.status == ReversalStatus.DUE,
                                         Transfer.status == TransferStatus.MADE)
                                  .order_by(Reversal.created_at))
    for reversal, transfer in to_reverse:
        await _attempt(_reverse(runtime, provider, reversal, transfer), "reversal", reversal.id)


async def _open(runtime: ServiceRuntime, provider: PaymentProvider, payment: Payment,
                shares: list[ShopShare] | None = None) -> None:
    """Opens the payment with the provider; ``shares``, when the caller has them, spare reading
    them again if it is taken at once."""
    try:
        reference = await provider.create_payment(_provider_payment(payment))
    except ProviderRefused as refusal:
        await _fail_unopened(runtime, payment.id, f"paiement refusé par le prestataire : {refusal}")
        return
    paid_at_once = (payment.order_id is not None and provider.name == "simulated"
                    and runtime.settings.simulated_payments_succeed_at_once)
    # The simulated fee is known at once: written with the success, not by a later step.
    fee = (await provider.processor_fee(_provider_payment(payment), reference)
           if paid_at_once else None)
    async with _payment_work(runtime, payment.id) as (uow, current):
        if current.provider_reference is not None:
            return
        if current.status == PaymentStatus.PENDING and current.order_id is not None:
            await _emit_caused(uow, PaymentStarted(
                payment_id=current.id, order_id=current.order_id,
                amount_cents=current.amount_cents, provider=provider.name,
            ), current.caused_by)
            if fee is not None:
                await _apply_outcome(uow, current, Outcome.SUCCEEDED, reason="", shares=shares)
                uow.session.add(ProcessorFee(payment_id=current.id, fee_cents=fee,
                                             recorded_at=_now()))
                current.fee_recorded = True
                await _emit_caused(uow, _fee_charged(current, fee), current.caused_by)
        current.provider, current.provider_reference = provider.name, reference
        current.updated_at = _now()


async def _fail_unopened(runtime: ServiceRuntime, payment_id: UUID, reason: str) -> None:
    async with _payment_work(runtime, payment_id) as (uow, payment):
        if payment.status != PaymentStatus.PENDING or payment.provider_reference is not None:
            return
        payment.status, payment.failure_reason = PaymentStatus.FAILED, reason
        payment.updated_at = _now()
        await _emit_caused(uow, _failed(payment, reason), payment.caused_by)


async def _cancel(runtime: ServiceRuntime, provider: PaymentProvider, payment: Payment) -> None:
    try:
        await provider.cancel_payment(payment.provider_reference, payment.id)
    except ProviderRefused as refusal:
        # Most likely the resident paid just before: the provider's verdict will say so, and a
        # payment that succeeds after its order was cancelled is refunded.
        log.warning("the provider kept payment %s open: %s", payment.id, refusal)
    async with runtime.database.sessions() as session, session.begin():
        await session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.provider_cancelled_at.is_(None))
            .values(provider_cancelled_at=_now())
        )


async def _charge_fee(runtime: ServiceRuntime, provider: PaymentProvider, payment: Payment
                      ) -> None:
    fee = await provider.processor_fee(_provider_payment(payment), payment.provider_reference)
    async with runtime.unit_of_work() as uow:
        uow.correlation_id = payment.correlation_id
        # The fee's row is its own guard: no amount is decided here, so no lock on the payment.
        written = await uow.session.execute(
            conflict_insert(uow.session, ProcessorFee)
            .values(payment_id=payment.id, fee_cents=fee, recorded_at=_now())
            .on_conflict_do_nothing(index_elements=["payment_id"])
            .returning(ProcessorFee.payment_id))
        if written.first() is not None:
            await uow.session.execute(
                update(Payment).where(Payment.id == payment.id).values(fee_recorded=True))
            await _emit_caused(uow, _fee_charged(payment, fee), payment.caused_by)


def _fee_charged(payment: Payment, fee: int) -> ProcessorFeeCharged:
    return ProcessorFeeCharged(payment_id=payment.id, order_id=payment.order_id,
                               membership_id=payment.membership_id, fee_cents=fee)


async def _give_back(runtime: ServiceRuntime, provider: PaymentProvider, refund: Refund,
                     payment: Payment) -> None:
    request = ProviderRefund(refund.id, payment.id, payment.order_id, refund.shop_id,
                             payment.provider_reference, refund.amount_cents)
    try:
        reference = await provider.refund(request)
    except ProviderRefused as refusal:
        await _refuse(runtime, Refund, refund.id, RefundStatus.DUE, RefundStatus.REFUSED,
                      str(refusal))
        return
    async with _payment_work(runtime, payment.id) as (uow, current):
        due = await uow.session.get(Refund, refund.id)
        if due.status != RefundStatus.DUE:
            return
        shares = await _settle_refund_shares(uow, current, due)
        due.status, due.provider_reference, due.issued_at = RefundStatus.ISSUED, reference, _now()
        current.refunded_cents += due.amount_cents
        current.updated_at = _now()
        await _emit_caused(uow, RefundIssued(
            refund_id=due.id, payment_id=current.id, order_id=current.order_id,
            shop_id=due.shop_id, amount_cents=due.amount_cents, shares=shares,
        ), due.caused_by)


async def _settle_refund_shares(uow: UnitOfWork, payment: Payment, refund: Refund
                                ) -> list[ShopShare]:
    """The commission given back on each shop's part of a refund being issued, and the
    reversal of that shop's transfer when its amount was fixed before this refund."""
    settled = []
    parts = (await uow.session.exec(
        select(RefundShare).where(RefundShare.refund_id == refund.id)
        .order_by(RefundShare.shop_id))).all()
    before = await _refunded_by_shop(uow.session, payment.id)
    for part in parts:
        share = await uow.session.get(Share, (payment.id, part.shop_id))
        part.commission_back_cents = commission_given_back(
            share.amount_cents, share.commission_bps, before.get(part.shop_id, 0),
            part.amount_cents)
        settled.append(ShopShare(shop_id=part.shop_id, amount_cents=part.amount_cents,
                                 commission_cents=part.commission_back_cents))
        transfer = await uow.session.get(Transfer, transfer_id(payment.id, part.shop_id))
        taken_back = reversal_cents(part.amount_cents, part.commission_back_cents)
        if (transfer is not None and taken_back > 0
                and transfer.status in (TransferStatus.DUE, TransferStatus.MADE)):
            uow.session.add(Reversal(
                id=reversal_id(refund.id, part.shop_id), transfer_id=transfer.id,
                refund_id=refund.id, shop_id=part.shop_id, amount_cents=taken_back,
                status=ReversalStatus.DUE, caused_by=refund.caused_by, created_at=_now()))
    return settled


async def _fix_held(runtime: ServiceRuntime, transfer: Transfer) -> None:
    async with _payment_work(runtime, transfer.payment_id) as (uow, _):
        held = await uow.session.get(Transfer, transfer.id)
        if held.status == TransferStatus.HELD:
            share = await uow.session.get(Share, (held.payment_id, held.shop_id))
            refunded = await _refunded_by_shop(uow.session, held.payment_id)
            _fix_transfer(held, share, refunded.get(held.shop_id, 0),
                          await uow.session.get(PayoutAccount, held.shop_id))


async def _transfer(runtime: ServiceRuntime, provider: PaymentProvider, transfer: Transfer,
                    payment: Payment) -> None:
    request = ProviderTransfer(transfer.id, payment.id, payment.order_id, transfer.shop_id,
                               transfer.destination, transfer.amount_cents, payment.currency)
    try:
        reference = await provider.transfer(request)
    except ProviderRefused as refusal:
        await _refuse(runtime, Transfer, transfer.id, TransferStatus.DUE, TransferStatus.REFUSED,
                      str(refusal))
        return
    async with _payment_work(runtime, payment.id) as (uow, current):
        due = await uow.session.get(Transfer, transfer.id)
        if due.status != TransferStatus.DUE:
            return
        due.status, due.provider_reference, due.made_at = TransferStatus.MADE, reference, _now()
        await _emit_caused(uow, TransferMade(
            transfer_id=due.id, payment_id=current.id, order_id=current.order_id,
            shop_id=due.shop_id, amount_cents=due.amount_cents, provider_reference=reference,
        ), due.caused_by)


async def _reverse(runtime: ServiceRuntime, provider: PaymentProvider, reversal: Reversal,
                   transfer: Transfer) -> None:
    request = ProviderReversal(reversal.id, reversal.refund_id, reversal.shop_id,
                               transfer.provider_reference, reversal.amount_cents)
    try:
        reference = await provider.reverse(request)
    except ProviderRefused as refusal:
        await _refuse(runtime, Reversal, reversal.id, ReversalStatus.DUE,
                      ReversalStatus.REFUSED, str(refusal))
        return
    async with _payment_work(runtime, transfer.payment_id) as (uow, current):
        due = await uow.session.get(Reversal, reversal.id)
        if due.status != ReversalStatus.DUE:
            return
        due.status, due.provider_reference, due.made_at = ReversalStatus.MADE, reference, _now()
        await _emit_caused(uow, TransferReversed(
            reversal_id=due.id, transfer_id=transfer.id, payment_id=current.id,
            order_id=current.order_id, shop_id=due.shop_id, amount_cents=due.amount_cents,
        ), due.caused_by)


async def _refuse(runtime: ServiceRuntime, table: type, row_id: UUID, due: str, refused: str,
                  reason: str) -> None:
    """The provider said no for good: the row waits for someone to look at it."""
    log.error("the provider refused %s %s: %s", table.__tablename__, row_id, reason)
    async with runtime.database.sessions() as session, session.begin():
        await session.execute(
            update(table).where(table.id == row_id, table.status == due)
            .values(status=refused, failure_reason=reason[:500])
        )


async def _attempt(step: Awaitable[None], what: str, subject: UUID) -> None:
    try:
        await step
    except Exception:
        # One payment the provider cannot serve now must not hold up the others.
        log.warning("%s %s failed; tried again at the next sync", what, subject, exc_info=True)


# --- helpers


@asynccontextmanager
async def _payment_work(runtime: ServiceRuntime, payment_id: UUID
                        ) -> AsyncIterator[tuple[UnitOfWork, Payment | None]]:
    """One transaction on one payment, its row locked; its events join the payment's saga."""
    async with runtime.unit_of_work() as uow:
        payment = (await uow.session.exec(
            select(Payment).where(Payment.id == payment_id).with_for_update()
        )).first()
        if payment is not None:
            uow.correlation_id = payment.correlation_id
        yield uow, payment


async def _lock_order_payment(session: AsyncSession, order_id: UUID) -> Payment | None:
    return (await session.exec(
        select(Payment).where(Payment.order_id == order_id).with_for_update()
    )).first()


async def _locked_account(session: AsyncSession, condition) -> PayoutAccount | None:
    return (await session.exec(select(PayoutAccount).where(condition).with_for_update())).first()


async def _shares(session: AsyncSession, payment_id: UUID) -> list[Share]:
    return list((await session.exec(
        select(Share).where(Share.payment_id == payment_id).order_by(Share.shop_id))).all())


def _shop_share(share: Share) -> ShopShare:
    return ShopShare(shop_id=share.shop_id, amount_cents=share.amount_cents,
                     commission_cents=share.commission_cents)


async def _left_by_shop(session: AsyncSession, payment_id: UUID) -> dict[UUID, int]:
    """What is left of each shop's share once the refunds already promised are deducted."""
    promised = dict((await session.exec(
        select(RefundShare.shop_id, func.sum(RefundShare.amount_cents))
        .join(Refund, Refund.id == RefundShare.refund_id)
        .where(Refund.payment_id == payment_id, Refund.status != RefundStatus.REFUSED)
        .group_by(RefundShare.shop_id)
    )).all())
    return {share.shop_id: share.amount_cents - promised.get(share.shop_id, 0)
            for share in await _shares(session, payment_id)}


async def _refunded_by_shop(session: AsyncSession, payment_id: UUID) -> dict[UUID, int]:
    """What refunds issued so far gave back out of each shop's share (absent: nothing)."""
    return dict((await session.exec(
        select(RefundShare.shop_id, func.sum(RefundShare.amount_cents))
        .join(Refund, Refund.id == RefundShare.refund_id)
        .where(Refund.payment_id == payment_id, Refund.status == RefundStatus.ISSUED)
        .group_by(RefundShare.shop_id)
    )).all())


async def _hub_admins(session: AsyncSession, hub_id: UUID) -> set[UUID]:
    return set((await session.exec(select(HubAdmin.user_id).where(HubAdmin.hub_id == hub_id)))
               .all())


async def _known_shop(session: AsyncSession, shop_id: UUID) -> Shop:
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    return shop


async def _managed_shop(session: AsyncSession, shop_id: UUID, principal: Principal) -> Shop:
    """The shop, when ``principal`` is its owner or runs its hub."""
    shop = await _known_shop(session, shop_id)
    if not may_manage_shop(principal, shop.owner_id, await _hub_admins(session, shop.hub_id)):
        raise Forbidden("only the shop's owner and its hub's admins manage its payouts")
    return shop


async def _completing_owner_shop(session: AsyncSession, shop_id: UUID, principal: Principal) -> Shop:
    shop = await _known_shop(session, shop_id)
    if not may_complete_payout_account(principal, shop.owner_id):
        raise Forbidden("only the shop's owner completes its payout account")
    return shop


async def simulated_onboarding(runtime: ServiceRuntime, shop_id: UUID,
                               principal: Principal) -> tuple[Shop, PayoutAccount | None]:
    """The shop and its account, for its owner's simulated onboarding page."""
    if provider_of(runtime).name != "simulated":
        raise NotFound("onboarding is simulated only with the simulated provider")
    async with runtime.database.sessions() as session:
        shop = await _completing_owner_shop(session, shop_id, principal)
        return shop, await session.get(PayoutAccount, shop_id)


def _paid(statement, table):
    """``statement`` on ``table``'s rows of payments the provider has taken the money for."""
    return statement.select_from(table).join(Payment, Payment.id == table.payment_id).where(
        _MONEY_IN)


def _provider_payment(payment: Payment) -> ProviderPayment:
    return ProviderPayment(payment.id, payment.order_id, payment.amount_cents, payment.currency,
                           payment.membership_id)


def _failed(payment: Payment, reason: str) -> PaymentFailed | MembershipFeeFailed:
    """What the payment's requester hears when it fails: the order, or the membership."""
    if payment.membership_id is not None:
        return MembershipFeeFailed(payment_id=payment.id, membership_id=payment.membership_id,
                                   reason=reason)
    return PaymentFailed(payment_id=payment.id, order_id=payment.order_id, reason=reason)


async def _first(session: AsyncSession, payment_id: UUID | None, statement) -> list:
    """The first batch of what ``statement`` selects, of one payment when ``payment_id`` is given."""
    if payment_id is not None:
        statement = statement.where(Payment.id == payment_id)
    return list((await session.exec(statement.limit(PROVIDER_BATCH))).all())


async def _emit_caused(uow: UnitOfWork, fact: Event, caused_by: str | None) -> None:
    """Emits on behalf of the event that asked for this work before the provider was called."""
    await uow.outbox.add(uow.session, fact, correlation_id=uow.correlation_id,
                         causation_id=caused_by)


def _cause(uow: UnitOfWork) -> str | None:
    return str(uow.cause.event_id) if uow.cause is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
