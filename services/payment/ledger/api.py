"""The ledger in the payment service's JSON API (under /payments/api/v1): shops' monthly
statements, the platform's commission report, the trial balance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from libs.auth.web import CurrentUser, PlatformAdmin
from libs.kit.app import Runtime
from libs.kit.months import Month
from services.payment.ledger import use_cases
from services.payment.ledger.domain import TransactionKind

router = APIRouter(prefix="/api/v1", tags=["ledger"])

Year = Annotated[int, Query(ge=2000, le=2999, description="A calendar year, in Europe/Paris.")]


class StatementLineOut(BaseModel):
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


class StatementOut(BaseModel):
    shop_id: UUID
    shop_name: str | None
    month: str
    opening_cents: int
    lines: list[StatementLineOut]
    closing_cents: int


class CommissionLineOut(BaseModel):
    hub_id: UUID | None
    hub_name: str | None
    month: str
    gross_cents: int
    refunded_cents: int
    commission_cents: int
    commission_returned_cents: int
    fees_cents: int
    net_cents: int
    membership_fees_cents: int = Field(description="Membership fees collected for the hub: "
                                                   "not the platform's, not in net_cents.")


class AccountBalanceOut(BaseModel):
    account: str
    balance_cents: int


@router.get("/shops/{shop_id}/statements/{month}", response_model=StatementOut)
async def get_statement(shop_id: UUID, month: str, runtime: Runtime, principal: CurrentUser):
    """The shop's statement for ``month`` (YYYY-MM, Europe/Paris): what the platform owed it at
    the start, each movement, what it owes it at the end. The shop's owner, its hub's admins and
    platform admins (403 for anyone else; 404 for a shop unknown here; 422 for no month)."""
    found = await use_cases.shop_statement(runtime, principal, shop_id, Month.parse(month))
    statement = found.statement
    return StatementOut(shop_id=shop_id, shop_name=found.shop_name, month=str(statement.month),
                        opening_cents=statement.opening_cents, closing_cents=statement.closing_cents,
                        lines=[StatementLineOut.model_validate(line, from_attributes=True)
                               for line in statement.lines])


@router.get("/reports/commission", response_model=list[CommissionLineOut])
async def get_commission_report(year: Year, runtime: Runtime, _: PlatformAdmin):
    """Per hub and month of ``year``: paid by residents, refunded to them, the commission kept
    and given back, the processor's fees, and the platform's net; and the membership fees
    collected for the hub (platform admins)."""
    report = await use_cases.platform_commission(runtime, year)
    return [CommissionLineOut(hub_id=line.hub_id, hub_name=report.hub_names.get(line.hub_id),
                              month=str(line.month), gross_cents=line.gross_cents,
                              refunded_cents=line.refunded_cents,
                              commission_cents=line.commission_cents,
                              commission_returned_cents=line.commission_returned_cents,
                              fees_cents=line.fees_cents, net_cents=line.net_cents,
                              membership_fees_cents=line.membership_fees_cents)
            for line in report.lines]


@router.get("/ledger/balances", response_model=list[AccountBalanceOut])
async def get_trial_balance(runtime: Runtime, _: PlatformAdmin):
    """Every account of the ledger and its balance, debit positive: they sum to zero
    (platform admins)."""
    return [AccountBalanceOut(account=account, balance_cents=balance)
            for account, balance in await use_cases.trial_balance(runtime)]
