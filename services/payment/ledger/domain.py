"""The ledger's rules, free of I/O: the chart of accounts, a journal transaction that balances or
does not exist, the transaction each money movement makes, and what statements and reports make
of the postings (docs/ledger.md has the why of each account and sign).

A posting's ``amount_cents`` is signed: a debit is positive, a credit negative, so a transaction
balances when its amounts sum to zero and an account's balance is the sum of its postings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from libs.auth.tokens import Principal
from libs.contracts.payment import (
    MembershipFeePaid,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
    TransferMade,
    TransferReversed,
)
from libs.kit.months import Month

PARIS = ZoneInfo("Europe/Paris")

PROCESSOR = "processor"
"""The platform's cash held at the payment processor (asset, debit balance)."""
PLATFORM_COMMISSION = "platform:commission"
"""What the platform earned in commission (income, credit balance)."""
PLATFORM_FEES = "platform:fees"
"""What the processor kept of payments; the platform bears it (expense, debit balance)."""
SUSPENSE = "suspense"
"""Money an event moved without saying whose it is (clearing, should stay at zero)."""

SHOP_PREFIX = "shop:"
PAYABLE_SUFFIX = ":payable"
HUB_PREFIX = "hub:"
MEMBERSHIP_FEES_SUFFIX = ":membership_fees"


def hub_membership_fees(hub_id: UUID) -> str:
    """The membership fees the platform collected for the hub (liability, credit balance)."""
    return f"{HUB_PREFIX}{hub_id}{MEMBERSHIP_FEES_SUFFIX}"


def shop_payable(shop_id: UUID) -> str:
    """What the platform owes the shop (liability, credit balance)."""
    return f"{SHOP_PREFIX}{shop_id}{PAYABLE_SUFFIX}"


def shop_of_payable(account: str) -> UUID | None:
    if account.startswith(SHOP_PREFIX) and account.endswith(PAYABLE_SUFFIX):
        return UUID(account[len(SHOP_PREFIX):-len(PAYABLE_SUFFIX)])
    return None


class PostingKind(StrEnum):
    """Why a posting moved money; statements and reports add up postings by kind."""

    COLLECTION = "collection"
    SALE = "sale"
    COMMISSION = "commission"
    FEE = "fee"
    REFUND = "refund"
    COMMISSION_RETURNED = "commission_returned"
    TRANSFER = "transfer"
    REVERSAL = "reversal"
    UNALLOCATED = "unallocated"
    MEMBERSHIP_FEE = "membership_fee"


class TransactionKind(StrEnum):
    PAYMENT = "payment"
    MEMBERSHIP_FEE = "membership_fee"
    FEE = "fee"
    REFUND = "refund"
    TRANSFER = "transfer"
    REVERSAL = "reversal"


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    kind: PostingKind
    amount_cents: int

    @property
    def debit_cents(self) -> int:
        return max(self.amount_cents, 0)

    @property
    def credit_cents(self) -> int:
        return max(-self.amount_cents, 0)


def debit(account: str, kind: PostingKind, cents: int) -> Posting:
    return Posting(account, kind, cents)


def credit(account: str, kind: PostingKind, cents: int) -> Posting:
    return Posting(account, kind, -cents)


class UnbalancedTransaction(ValueError):
    """A journal transaction whose debits and credits differ: it cannot be written."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One money movement in the journal: postings that sum to zero, none of them empty.

    ``key`` names the movement itself (the payment, the refund, the transfer...), so the same
    movement reported twice is written once. A membership fee's movements have no order."""

    key: str
    kind: TransactionKind
    occurred_at: datetime
    payment_id: UUID
    order_id: UUID | None
    hub_id: UUID | None
    postings: tuple[Posting, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("a transaction happens at an aware time")
        if len(self.postings) < 2:
            raise UnbalancedTransaction(f"{self.key}: a transaction moves money between accounts")
        if any(posting.amount_cents == 0 for posting in self.postings):
            raise UnbalancedTransaction(f"{self.key}: a posting of nothing")
        total = sum(posting.amount_cents for posting in self.postings)
        if total != 0:
            raise UnbalancedTransaction(f"{self.key}: debits and credits differ by {total} cents")


def _journal(key: str, kind: TransactionKind, occurred_at: datetime, payment_id: UUID,
             order_id: UUID | None, hub_id: UUID | None, postings: Iterable[Posting]
             ) -> Transaction | None:
    """The transaction of the postings that move something; None when nothing moved."""
    moving = tuple(posting for posting in postings if posting.amount_cents != 0)
    if not moving:
        return None
    return Transaction(key, kind, occurred_at, payment_id, order_id, hub_id, moving)


# --- each money movement's transaction -----------------------------------------------------


def payment_transaction(paid: PaymentSucceeded, occurred_at: datetime) -> Transaction | None:
    """The resident's money is in: each shop is owed its share, less the commission the
    platform keeps of it."""
    postings = [debit(PROCESSOR, PostingKind.COLLECTION, paid.amount_cents)]
    for share in paid.shares:
        payable = shop_payable(share.shop_id)
        postings += [
            credit(payable, PostingKind.SALE, share.amount_cents),
            debit(payable, PostingKind.COMMISSION, share.commission_cents),
            credit(PLATFORM_COMMISSION, PostingKind.COMMISSION, share.commission_cents),
        ]
    unallocated = paid.amount_cents - sum(share.amount_cents for share in paid.shares)
    postings.append(credit(SUSPENSE, PostingKind.UNALLOCATED, unallocated))
    return _journal(f"payment:{paid.payment_id}", TransactionKind.PAYMENT, occurred_at,
                    paid.payment_id, paid.order_id, paid.hub_id, postings)


def membership_fee_transaction(paid: MembershipFeePaid, occurred_at: datetime
                               ) -> Transaction | None:
    """A resident's membership fee is in: all of it is the hub's, with no commission."""
    return _journal(f"membership_fee:{paid.payment_id}", TransactionKind.MEMBERSHIP_FEE,
                    occurred_at, paid.payment_id, None, paid.hub_id, [
                        debit(PROCESSOR, PostingKind.MEMBERSHIP_FEE, paid.amount_cents),
                        credit(hub_membership_fees(paid.hub_id), PostingKind.MEMBERSHIP_FEE,
                               paid.amount_cents),
                    ])


def fee_transaction(charged: ProcessorFeeCharged, occurred_at: datetime, hub_id: UUID | None
                    ) -> Transaction | None:
    return _journal(f"fee:{charged.payment_id}", TransactionKind.FEE, occurred_at,
                    charged.payment_id, charged.order_id, hub_id, [
                        debit(PLATFORM_FEES, PostingKind.FEE, charged.fee_cents),
                        credit(PROCESSOR, PostingKind.FEE, charged.fee_cents),
                    ])


def refund_transaction(refunded: RefundIssued, occurred_at: datetime, hub_id: UUID | None
                       ) -> Transaction | None:
    """The money goes back out of each share it is taken from; the platform gives back the
    commission it had kept on it."""
    postings = [credit(PROCESSOR, PostingKind.REFUND, refunded.amount_cents)]
    for share in refunded.shares:
        payable = shop_payable(share.shop_id)
        postings += [
            debit(payable, PostingKind.REFUND, share.amount_cents),
            credit(payable, PostingKind.COMMISSION_RETURNED, share.commission_cents),
            debit(PLATFORM_COMMISSION, PostingKind.COMMISSION_RETURNED, share.commission_cents),
        ]
    unallocated = refunded.amount_cents - sum(share.amount_cents for share in refunded.shares)
    postings.append(debit(SUSPENSE, PostingKind.UNALLOCATED, unallocated))
    return _journal(f"refund:{refunded.refund_id}", TransactionKind.REFUND, occurred_at,
                    refunded.payment_id, refunded.order_id, hub_id, postings)


def transfer_transaction(made: TransferMade, occurred_at: datetime, hub_id: UUID | None
                         ) -> Transaction | None:
    return _journal(f"transfer:{made.transfer_id}", TransactionKind.TRANSFER, occurred_at,
                    made.payment_id, made.order_id, hub_id, [
                        debit(shop_payable(made.shop_id), PostingKind.TRANSFER, made.amount_cents),
                        credit(PROCESSOR, PostingKind.TRANSFER, made.amount_cents),
                    ])


def reversal_transaction(reversed_: TransferReversed, occurred_at: datetime, hub_id: UUID | None
                         ) -> Transaction | None:
    return _journal(f"reversal:{reversed_.reversal_id}", TransactionKind.REVERSAL, occurred_at,
                    reversed_.payment_id, reversed_.order_id, hub_id, [
                        debit(PROCESSOR, PostingKind.REVERSAL, reversed_.amount_cents),
                        credit(shop_payable(reversed_.shop_id), PostingKind.REVERSAL,
                               reversed_.amount_cents),
                    ])


def balances(transactions: Iterable[Transaction]) -> dict[str, int]:
    """Every account's balance, debit positive."""
    totals: dict[str, int] = defaultdict(int)
    for transaction in transactions:
        for posting in transaction.postings:
            totals[posting.account] += posting.amount_cents
    return dict(totals)


# --- periods -------------------------------------------------------------------------------


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """A calendar year in Europe/Paris, as UTC instants: [start, end)."""
    return Month(year, 1).starts_at, Month(year + 1, 1).starts_at


def quarter_of(moment: datetime) -> int:
    return (moment.astimezone(PARIS).month - 1) // 3 + 1


# --- what statements and reports make of postings ------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One posting with what the report needs of its transaction."""

    occurred_at: datetime
    transaction_kind: TransactionKind
    order_id: UUID | None
    hub_id: UUID | None
    account: str
    kind: PostingKind
    amount_cents: int


def owed(amount_cents: int) -> int:
    """A payable's postings as what the platform owes: a credit raises it."""
    return -amount_cents


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement of a shop's payable, each part as a positive amount; ``net_cents`` is what
    it changed in what the shop is owed, ``balance_cents`` what it is owed after it."""

    occurred_at: datetime
    kind: TransactionKind
    order_id: UUID
    gross_cents: int
    commission_cents: int
    refund_cents: int
    commission_returned_cents: int
    transfer_cents: int
    reversal_cents: int
    net_cents: int
    balance_cents: int


@dataclass(frozen=True, slots=True)
class Statement:
    shop_id: UUID
    month: Month
    opening_cents: int
    lines: tuple[StatementLine, ...]
    closing_cents: int

    def total(self, part: str) -> int:
        return sum(getattr(line, part) for line in self.lines)


_STATEMENT_PARTS = {
    PostingKind.SALE: "gross_cents",
    PostingKind.COMMISSION: "commission_cents",
    PostingKind.REFUND: "refund_cents",
    PostingKind.COMMISSION_RETURNED: "commission_returned_cents",
    PostingKind.TRANSFER: "transfer_cents",
    PostingKind.REVERSAL: "reversal_cents",
}


def statement(shop_id: UUID, month: Month, opening_cents: int,
              movements: Iterable[tuple[int, Entry]], closing_cents: int) -> Statement:
    """The shop's month: one line per transaction (``movements`` are its payable's postings of
    the month, by transaction id, in journal order)."""
    grouped: dict[int, list[Entry]] = defaultdict(list)
    for transaction_id, entry in movements:
        grouped[transaction_id].append(entry)
    lines, balance = [], opening_cents
    for entries in grouped.values():
        parts = dict.fromkeys(_STATEMENT_PARTS.values(), 0)
        for entry in entries:
            parts[_STATEMENT_PARTS[entry.kind]] += abs(entry.amount_cents)
        net = sum(owed(entry.amount_cents) for entry in entries)
        balance += net
        first = entries[0]
        lines.append(StatementLine(first.occurred_at, first.transaction_kind, first.order_id,
                                   net_cents=net, balance_cents=balance, **parts))
    return Statement(shop_id, month, opening_cents, tuple(lines), closing_cents)


@dataclass
class CommissionLine:
    """The platform's takings at one hub in one month."""

    hub_id: UUID | None
    month: Month
    gross_cents: int = 0
    refunded_cents: int = 0
    commission_cents: int = 0
    commission_returned_cents: int = 0
    fees_cents: int = 0
    membership_fees_cents: int = 0
    """Collected for the hub: not the platform's, so not in ``net_cents``."""

    @property
    def net_cents(self) -> int:
        return self.commission_cents - self.commission_returned_cents - self.fees_cents


def commission_report(entries: Iterable[Entry]) -> list[CommissionLine]:
    """Per hub and month (of the movement, in Europe/Paris): what residents paid and got back,
    the commission kept and given back, the processor's fees, and what the platform is left
    with; and the membership fees it collected for the hub."""
    lines: dict[tuple[UUID | None, Month], CommissionLine] = {}
    for entry in entries:
        month = Month.of(entry.occurred_at)
        line = lines.setdefault((entry.hub_id, month), CommissionLine(entry.hub_id, month))
        if entry.account == PROCESSOR and entry.kind == PostingKind.COLLECTION:
            line.gross_cents += entry.amount_cents
        elif entry.account == PROCESSOR and entry.kind == PostingKind.REFUND:
            line.refunded_cents -= entry.amount_cents
        elif entry.account == PROCESSOR and entry.kind == PostingKind.MEMBERSHIP_FEE:
            line.membership_fees_cents += entry.amount_cents
        elif entry.account == PLATFORM_COMMISSION and entry.kind == PostingKind.COMMISSION:
            line.commission_cents -= entry.amount_cents
        elif entry.account == PLATFORM_COMMISSION:
            line.commission_returned_cents += entry.amount_cents
        elif entry.account == PLATFORM_FEES:
            line.fees_cents += entry.amount_cents
    return sorted(lines.values(), key=lambda line: (line.month, str(line.hub_id)))


QUARTERS = (1, 2, 3, 4)


@dataclass
class SellerQuarter:
    """DAC7's figures for one seller in one quarter: the consideration for its sales (less
    refunds), the commission the platform withheld (less what it gave back), and the number of
    sales."""

    gross_cents: int = 0
    fees_cents: int = 0
    sales: int = 0

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.fees_cents


@dataclass
class SellerYear:
    shop_id: UUID
    year: int
    quarters: dict[int, SellerQuarter] = field(
        default_factory=lambda: {quarter: SellerQuarter() for quarter in QUARTERS})

    def total(self) -> SellerQuarter:
        return SellerQuarter(
            gross_cents=sum(q.gross_cents for q in self.quarters.values()),
            fees_cents=sum(q.fees_cents for q in self.quarters.values()),
            sales=sum(q.sales for q in self.quarters.values()),
        )


_DAC7_GROSS = {PostingKind.SALE: 1, PostingKind.REFUND: -1}
_DAC7_FEES = {PostingKind.COMMISSION: 1, PostingKind.COMMISSION_RETURNED: -1}


def dac7_sellers(year: int, entries: Iterable[Entry]) -> list[SellerYear]:
    """Each shop's year by quarter, from its payable's postings: amounts in the quarter they
    moved; a sale counts in the quarter it was paid, unless its share was refunded in full
    (``entries`` include the later refunds of the year's sales)."""
    start, end = year_bounds(year)
    sellers: dict[UUID, SellerYear] = {}
    sold: dict[tuple[UUID, UUID], tuple[int, int]] = {}
    refunded: dict[tuple[UUID, UUID], int] = defaultdict(int)
    for entry in entries:
        shop_id = shop_of_payable(entry.account)
        if shop_id is None:
            continue
        if entry.kind == PostingKind.REFUND:
            refunded[(shop_id, entry.order_id)] += entry.amount_cents
        if not start <= entry.occurred_at < end:
            continue
        quarter = sellers.setdefault(shop_id, SellerYear(shop_id, year)).quarters[
            quarter_of(entry.occurred_at)]
        quarter.gross_cents += _DAC7_GROSS.get(entry.kind, 0) * abs(entry.amount_cents)
        quarter.fees_cents += _DAC7_FEES.get(entry.kind, 0) * abs(entry.amount_cents)
        if entry.kind == PostingKind.SALE:
            amount, at = sold.get((shop_id, entry.order_id), (0, quarter_of(entry.occurred_at)))
            sold[(shop_id, entry.order_id)] = (amount - entry.amount_cents, at)
    for (shop_id, order_id), (amount, quarter) in sold.items():
        if refunded[(shop_id, order_id)] < amount:
            sellers[shop_id].quarters[quarter].sales += 1
    return list(sellers.values())


# --- who may read what ---------------------------------------------------------------------


def may_read_statements(principal: Principal, owner_id: UUID | None,
                        admins_of_its_hub: Iterable[UUID]) -> bool:
    """The shop's owner, its hub's admins and the platform's admins."""
    return (principal.is_platform_admin or principal.user_id == owner_id
            or principal.user_id in set(admins_of_its_hub))
