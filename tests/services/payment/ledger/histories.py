"""Histories of money movements as the payment service reports them, drawn by hypothesis, and
what the ledger must make of them worked out directly from the events (the brief's formulas)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import strategies as st

from libs.contracts import Envelope, Event
from libs.contracts.payment import (
    MembershipFeePaid,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
    ShopShare,
    TransferMade,
    TransferReversed,
)

STARTS_AT = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
fresh_ids = st.builds(uuid4)


@dataclass(frozen=True)
class Happening:
    event: Event
    at: datetime

    def envelope(self) -> Envelope:
        return self.event.envelope(correlation_id="ledger").model_copy(
            update={"occurred_at": self.at})


@dataclass
class History:
    hub_id: UUID
    shops: list[UUID]
    happenings: list[Happening] = field(default_factory=list)

    def events(self, kind: type[Event]) -> list:
        return [h.event for h in self.happenings if isinstance(h.event, kind)]

    def owed_to(self, shop_id: UUID) -> int:
        """Its parts − commission − refunded share + commission given back − transfers +
        reversals."""
        owed = 0
        for paid in self.events(PaymentSucceeded):
            owed += sum(s.amount_cents - s.commission_cents for s in paid.shares
                        if s.shop_id == shop_id)
        for refunded in self.events(RefundIssued):
            owed -= sum(s.amount_cents - s.commission_cents for s in refunded.shares
                        if s.shop_id == shop_id)
        owed -= sum(t.amount_cents for t in self.events(TransferMade) if t.shop_id == shop_id)
        owed += sum(r.amount_cents for r in self.events(TransferReversed) if r.shop_id == shop_id)
        return owed

    def commission(self) -> int:
        """Commissions − commission given back."""
        kept = sum(s.commission_cents for p in self.events(PaymentSucceeded) for s in p.shares)
        back = sum(s.commission_cents for r in self.events(RefundIssued) for s in r.shares)
        return kept - back

    def membership_fees(self) -> int:
        """What residents paid to join the hub: all of it the hub's."""
        return sum(m.amount_cents for m in self.events(MembershipFeePaid))

    def processor(self) -> int:
        """Cash at the processor: payments + membership fees − fees − refunds − transfers +
        reversals."""
        return (sum(p.amount_cents for p in self.events(PaymentSucceeded))
                + self.membership_fees()
                - sum(f.fee_cents for f in self.events(ProcessorFeeCharged))
                - sum(r.amount_cents for r in self.events(RefundIssued))
                - sum(t.amount_cents for t in self.events(TransferMade))
                + sum(r.amount_cents for r in self.events(TransferReversed)))

    def fees(self) -> int:
        return sum(f.fee_cents for f in self.events(ProcessorFeeCharged))

    def unallocated(self) -> int:
        """What payments took in beyond their shares, less what refunds gave back beyond theirs."""
        paid = sum(p.amount_cents - sum(s.amount_cents for s in p.shares)
                   for p in self.events(PaymentSucceeded))
        refunded = sum(r.amount_cents - sum(s.amount_cents for s in r.shares)
                       for r in self.events(RefundIssued))
        return paid - refunded

    def sales_by_shop(self) -> dict[UUID, int]:
        sales: dict[UUID, int] = defaultdict(int)
        for paid in self.events(PaymentSucceeded):
            for share in paid.shares:
                sales[share.shop_id] += 1
        return sales


amounts = st.integers(min_value=0, max_value=50_000)
extra = st.one_of(st.just(0), st.integers(min_value=1, max_value=500))


@st.composite
def histories(draw, max_steps: int = 25) -> History:
    """Payments of one to three shops' shares, with fees, refunds of parts of shares, transfers
    and reversals of them, and residents' membership fees to the hub (with their processor fees),
    days or weeks apart (over month ends and daylight-saving changes)."""
    history = History(hub_id=draw(fresh_ids),
                      shops=draw(st.lists(fresh_ids, min_size=1, max_size=3)))
    payments: list[PaymentSucceeded | MembershipFeePaid] = []
    transfers: list[TransferMade] = []
    charged: set[UUID] = set()
    at = STARTS_AT
    for _ in range(draw(st.integers(min_value=1, max_value=max_steps))):
        at += timedelta(minutes=draw(st.integers(min_value=0, max_value=60 * 24 * 25)))
        step = draw(st.sampled_from(["pay", "pay", "fee", "refund", "transfer", "reversal",
                                     "membership"]))
        event: Event | None = None
        if step == "membership":
            event = MembershipFeePaid(
                payment_id=draw(fresh_ids), membership_id=draw(fresh_ids),
                hub_id=history.hub_id, resident_id=draw(fresh_ids),
                amount_cents=draw(st.integers(1, 10_000)))
            payments.append(event)
        elif step == "pay" or not payments:
            event = draw(_payment(history))
            payments.append(event)
        else:
            paid = draw(st.sampled_from(payments))
            if step == "fee" and paid.payment_id not in charged:
                charged.add(paid.payment_id)
                event = ProcessorFeeCharged(payment_id=paid.payment_id,
                                            order_id=getattr(paid, "order_id", None),
                                            membership_id=getattr(paid, "membership_id", None),
                                            fee_cents=draw(st.integers(0, 400)))
            elif step == "refund" and isinstance(paid, PaymentSucceeded):
                event = draw(_refund(paid))
            elif step == "transfer" and isinstance(paid, PaymentSucceeded) and paid.shares:
                event = TransferMade(
                    transfer_id=draw(fresh_ids), payment_id=paid.payment_id,
                    order_id=paid.order_id, shop_id=draw(st.sampled_from(paid.shares)).shop_id,
                    amount_cents=draw(st.integers(1, 50_000)), provider_reference="tr_test")
                transfers.append(event)
            elif step == "reversal" and transfers:
                made = draw(st.sampled_from(transfers))
                event = TransferReversed(
                    reversal_id=draw(fresh_ids), transfer_id=made.transfer_id,
                    payment_id=made.payment_id, order_id=made.order_id, shop_id=made.shop_id,
                    amount_cents=draw(st.integers(1, made.amount_cents)))
        if event is not None:
            history.happenings.append(Happening(event, at))
    return history


@st.composite
def _payment(draw, history: History) -> PaymentSucceeded:
    shops = draw(st.lists(st.sampled_from(history.shops), min_size=1, max_size=3, unique=True))
    shares = []
    for shop_id in shops:
        amount = draw(amounts)
        shares.append(ShopShare(shop_id=shop_id, amount_cents=amount,
                                commission_cents=draw(st.integers(0, amount))))
    return PaymentSucceeded(
        payment_id=draw(fresh_ids), order_id=draw(fresh_ids), hub_id=history.hub_id,
        amount_cents=sum(s.amount_cents for s in shares) + draw(extra),
        commission_cents=sum(s.commission_cents for s in shares), shares=shares)


@st.composite
def _refund(draw, paid: PaymentSucceeded) -> RefundIssued | None:
    shares = [ShopShare(shop_id=share.shop_id, amount_cents=draw(st.integers(0, share.amount_cents)),
                        commission_cents=draw(st.integers(0, share.commission_cents)))
              for share in draw(st.lists(st.sampled_from(paid.shares), max_size=3, unique=True))]
    amount = sum(s.amount_cents for s in shares) + draw(extra)
    if amount == 0:
        return None
    return RefundIssued(refund_id=draw(fresh_ids), payment_id=paid.payment_id,
                        order_id=paid.order_id, amount_cents=amount, shares=shares)
