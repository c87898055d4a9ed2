"""The ledger's tables, in the payment service's database: the journal, and the hubs' names for
its reports and the hub of each payment (shops and hub admins come from the service's own read
models)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.payment.tables import PaymentTable


class JournalTransaction(PaymentTable, table=True):
    """One money movement. ``id`` is its place in the journal; ``natural_key`` names the
    movement (``payment:<id>``, ``refund:<id>``...) so that it is written once, whichever event
    reports it. ``order_id`` is None for a membership fee's movements."""

    __tablename__ = "ledger_transactions"

    id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(max_length=100, unique=True)
    event_id: UUID | None = Field(default=None, unique=True)
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_type=UtcDateTime, index=True)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    payment_id: UUID = Field(index=True)
    order_id: UUID | None = Field(default=None, index=True)
    hub_id: UUID | None = Field(default=None, index=True)


class JournalPosting(PaymentTable, table=True):
    """One side of a transaction: debit when ``amount_cents`` is positive, credit when it is
    negative; a transaction's postings sum to zero."""

    __tablename__ = "ledger_postings"
    __table_args__ = (CheckConstraint("amount_cents <> 0", name="ledger_posting_moves_money"),)

    id: int | None = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledger_transactions.id", index=True)
    account: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=30)
    amount_cents: int = Field(sa_type=BigInteger)


class LedgerPayment(PaymentTable, table=True):
    """The hub of each payment that succeeded, even one that moved nothing: the movements that
    follow it (fees, refunds, transfers) do not name it."""

    __tablename__ = "ledger_payments"

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)


class LedgerHub(PaymentTable, table=True):
    """A hub (HubOpened): its name on the commission report."""

    __tablename__ = "ledger_hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)
