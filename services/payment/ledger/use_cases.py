"""What the ledger does: write each money movement the payment service reports into the journal
(inside the inbox transaction of its event), keep the hubs' names, and read statements and
reports back."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.selectable import ScalarSelect
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.payment import (
    MembershipFeePaid,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
    TransferMade,
    TransferReversed,
)
from libs.contracts.pickup import HubOpened
from libs.kit.errors import Forbidden, NotFound
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.payment.ledger.domain import (
    PLATFORM_COMMISSION,
    PLATFORM_FEES,
    PROCESSOR,
    SHOP_PREFIX,
    CommissionLine,
    Entry,
    Month,
    PostingKind,
    SellerYear,
    Statement,
    Transaction,
    TransactionKind,
    commission_report,
    dac7_sellers,
    fee_transaction,
    may_read_statements,
    membership_fee_transaction,
    owed,
    payment_transaction,
    refund_transaction,
    reversal_transaction,
    shop_payable,
    statement,
    transfer_transaction,
    year_bounds,
)
from services.payment.ledger.tables import (
    JournalPosting,
    JournalTransaction,
    LedgerHub,
    LedgerPayment,
)
from services.payment.tables import HubAdmin, Shop

log = logging.getLogger(__name__)


# --- money movements (inside the inbox transaction of the payment service's own events) ----


async def post_payment_to_ledger(paid: PaymentSucceeded, uow: UnitOfWork) -> None:
    await _upsert(uow.session, LedgerPayment, paid.payment_id, hub_id=paid.hub_id)
    await _post(uow, payment_transaction(paid, _occurred_at(uow)))


async def post_membership_fee_to_ledger(paid: MembershipFeePaid, uow: UnitOfWork) -> None:
    await _upsert(uow.session, LedgerPayment, paid.payment_id, hub_id=paid.hub_id)
    await _post(uow, membership_fee_transaction(paid, _occurred_at(uow)))


async def post_fee_to_ledger(charged: ProcessorFeeCharged, uow: UnitOfWork) -> None:
    await _post(uow, fee_transaction(charged, _occurred_at(uow), None),
                hub_id=_hub_of_payment(charged.payment_id))


async def post_refund_to_ledger(refunded: RefundIssued, uow: UnitOfWork) -> None:
    await _post(uow, refund_transaction(refunded, _occurred_at(uow), None),
                hub_id=_hub_of_payment(refunded.payment_id))


async def post_transfer_to_ledger(made: TransferMade, uow: UnitOfWork) -> None:
    await _post(uow, transfer_transaction(made, _occurred_at(uow), None),
                hub_id=_hub_of_payment(made.payment_id))


async def post_reversal_to_ledger(reversed_: TransferReversed, uow: UnitOfWork) -> None:
    await _post(uow, reversal_transaction(reversed_, _occurred_at(uow), None),
                hub_id=_hub_of_payment(reversed_.payment_id))


async def _post(uow: UnitOfWork, transaction: Transaction | None,
                hub_id: ScalarSelect | None = None) -> None:
    """Writes the transaction once: the inbox stops the same event twice, the natural key the
    same movement reported by another event. ``hub_id``, when given, is what the row gets
    instead of the transaction's (an expression the insert evaluates)."""
    if transaction is None:
        return
    session = uow.session
    written = await session.execute(
        conflict_insert(session, JournalTransaction).values(
            natural_key=transaction.key, event_id=uow.cause.event_id if uow.cause else None,
            kind=transaction.kind, occurred_at=transaction.occurred_at, recorded_at=_now(),
            payment_id=transaction.payment_id, order_id=transaction.order_id,
            hub_id=transaction.hub_id if hub_id is None else hub_id,
        ).on_conflict_do_nothing(index_elements=["natural_key"]).returning(JournalTransaction.id))
    transaction_id = written.scalar()
    if transaction_id is None:
        log.info("ledger: %s is already in the journal", transaction.key)
        return
    # Their ids are not needed back: one executemany, no RETURNING.
    await session.execute(JournalPosting.__table__.insert(), [
        {"transaction_id": transaction_id, "account": posting.account, "kind": posting.kind,
         "amount_cents": posting.amount_cents} for posting in transaction.postings])


def _hub_of_payment(payment_id: UUID) -> ScalarSelect:
    """The hub its success named, read by the statement that needs it: a payment's events share
    its key, so its success is known before anything that follows it."""
    return (select(LedgerPayment.hub_id).where(LedgerPayment.id == payment_id)
            .scalar_subquery())


def _occurred_at(uow: UnitOfWork) -> datetime:
    return uow.cause.occurred_at if uow.cause is not None else _now()


# --- the hubs' names (shops and hub admins are the payment service's read models) ---------


async def record_hub(opened: HubOpened, uow: UnitOfWork) -> None:
    await _upsert(uow.session, LedgerHub, opened.hub_id, name=opened.name, town=opened.town)


async def _upsert(session: AsyncSession, model: type, row_id: UUID, **values) -> None:
    """The row ``row_id`` with ``values``, written or rewritten in one statement."""
    await session.execute(
        conflict_insert(session, model).values(id=row_id, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values))


# --- statements and reports ----------------------------------------------------------------


@dataclass(frozen=True)
class ShopStatement:
    statement: Statement
    shop_name: str | None


async def shop_statement(runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
                         month: Month) -> ShopStatement:
    """The shop's month: what it was owed at the start, every movement, what it is owed at the
    end (the shop's owner, its hub's admins, platform admins)."""
    account = shop_payable(shop_id)
    async with runtime.database.sessions() as session:
        shop = await _readable_shop(session, principal, shop_id)
        opening = await _owed_before(session, account, month.starts_at)
        closing = await _owed_before(session, account, month.ends_at)
        movements = await _entries(session, JournalPosting.account == account,
                                   _during(month.starts_at, month.ends_at))
    return ShopStatement(statement(shop_id, month, opening, movements, closing),
                         shop.name if shop else None)


async def _readable_shop(session: AsyncSession, principal: Principal, shop_id: UUID
                         ) -> Shop | None:
    """The shop, if the principal may read its statements; None for a shop only the journal
    knows of (its ShopOpened not yet here), which only platform admins may read."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        if principal.is_platform_admin and await _has_postings(session, shop_payable(shop_id)):
            return None
        raise NotFound(f"no shop {shop_id}")
    admins = (await session.exec(
        select(HubAdmin.user_id).where(HubAdmin.hub_id == shop.hub_id))).all()
    if not may_read_statements(principal, shop.owner_id, admins):
        raise Forbidden("only the shop's owner, its hub's admins and platform admins may read "
                        "its statements")
    return shop


async def _has_postings(session: AsyncSession, account: str) -> bool:
    found = await session.exec(select(JournalPosting.id).where(JournalPosting.account == account)
                               .limit(1))
    return found.first() is not None


async def _owed_before(session: AsyncSession, account: str, moment: datetime) -> int:
    total = await session.exec(
        select(func.coalesce(func.sum(JournalPosting.amount_cents), 0))
        .select_from(JournalPosting)
        .join(JournalTransaction, JournalTransaction.id == JournalPosting.transaction_id)
        .where(JournalPosting.account == account, JournalTransaction.occurred_at < moment))
    return owed(int(total.one()))


def _during(start: datetime, end: datetime):
    return and_(col(JournalTransaction.occurred_at) >= start,
                col(JournalTransaction.occurred_at) < end)


async def _entries(session: AsyncSession, *conditions) -> list[tuple[int, Entry]]:
    """Postings with their transaction's facts, in journal order, by transaction id."""
    rows = await session.exec(
        select(JournalTransaction.id, JournalTransaction.occurred_at, JournalTransaction.kind,
               JournalTransaction.order_id, JournalTransaction.hub_id, JournalPosting.account,
               JournalPosting.kind, JournalPosting.amount_cents)
        .select_from(JournalPosting)
        .join(JournalTransaction, JournalTransaction.id == JournalPosting.transaction_id)
        .where(*conditions)
        .order_by(JournalTransaction.occurred_at, JournalTransaction.id, JournalPosting.id))
    return [(transaction_id, Entry(occurred_at, TransactionKind(kind), order_id, hub_id, account,
                                   PostingKind(posting_kind), int(amount)))
            for transaction_id, occurred_at, kind, order_id, hub_id, account, posting_kind, amount
            in rows.all()]


@dataclass(frozen=True)
class CommissionReport:
    year: int
    lines: list[CommissionLine]
    hub_names: dict[UUID, str]

    def total(self, part: str) -> int:
        return sum(getattr(line, part) for line in self.lines)


async def platform_commission(runtime: ServiceRuntime, year: int) -> CommissionReport:
    """The platform's takings per hub and month of the year (platform admins: the caller
    checks)."""
    takings = or_(
        col(JournalPosting.account).in_([PLATFORM_COMMISSION, PLATFORM_FEES]),
        and_(JournalPosting.account == PROCESSOR,
             col(JournalPosting.kind).in_([PostingKind.COLLECTION, PostingKind.REFUND,
                                           PostingKind.MEMBERSHIP_FEE])))
    async with runtime.database.sessions() as session:
        entries = await _entries(session, takings, _during(*year_bounds(year)))
        hubs = (await session.exec(select(LedgerHub.id, LedgerHub.name))).all()
    return CommissionReport(year, commission_report(entry for _, entry in entries), dict(hubs))


@dataclass(frozen=True)
class SellerReport:
    seller: SellerYear
    shop_name: str | None


async def dac7_report(runtime: ServiceRuntime, year: int) -> list[SellerReport]:
    """Each shop's year by quarter, as EU platform reporting (DAC7) asks for it (platform
    admins: the caller checks). Refunds made after the year still decide whether a sale of the
    year counts."""
    in_year = _during(*year_bounds(year))
    on_a_shop = col(JournalPosting.account).startswith(SHOP_PREFIX)
    orders_sold_in_year = (
        select(JournalTransaction.order_id).select_from(JournalPosting)
        .join(JournalTransaction, JournalTransaction.id == JournalPosting.transaction_id)
        .where(on_a_shop, JournalPosting.kind == PostingKind.SALE, in_year))
    async with runtime.database.sessions() as session:
        entries = await _entries(session, on_a_shop, or_(in_year, and_(
            JournalPosting.kind == PostingKind.REFUND,
            col(JournalTransaction.order_id).in_(orders_sold_in_year))))
        names = dict((await session.exec(select(Shop.id, Shop.name))).all())
    reports = [SellerReport(seller, names.get(seller.shop_id))
               for seller in dac7_sellers(year, (entry for _, entry in entries))]
    return sorted(reports, key=lambda report: (report.shop_name or "", str(report.seller.shop_id)))


async def trial_balance(runtime: ServiceRuntime) -> Sequence[tuple[str, int]]:
    """Every account and its balance (debit positive): they sum to zero."""
    async with runtime.database.sessions() as session:
        rows = await session.exec(
            select(JournalPosting.account, func.sum(JournalPosting.amount_cents))
            .group_by(JournalPosting.account).order_by(JournalPosting.account))
        return [(account, int(balance)) for account, balance in rows.all()]


def _now() -> datetime:
    return datetime.now(UTC)
