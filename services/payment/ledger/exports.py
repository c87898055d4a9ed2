"""The ledger's CSV files, as French spreadsheets open them: ``;``-separated, UTF-8 with a BOM,
amounts in euros with a decimal comma (``-3,20``), times in Europe/Paris with their offset."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from libs.kit.i18n import N_
from services.payment.ledger.domain import (
    PARIS,
    QUARTERS,
    SellerQuarter,
    Statement,
    TransactionKind,
)
from services.payment.ledger.use_cases import CommissionReport, SellerReport

# French in the CSV (a data format); the statement page shows them in the reader's language.
OPERATION_WORDS = {
    TransactionKind.PAYMENT: N_("vente"),
    TransactionKind.REFUND: N_("remboursement"),
    TransactionKind.TRANSFER: N_("virement"),
    TransactionKind.REVERSAL: N_("reprise sur virement"),
    TransactionKind.FEE: N_("frais de paiement"),
}

STATEMENT_COLUMNS = ("date", "operation", "commande", "brut", "commission", "remboursement",
                     "commission_rendue", "virement", "reprise_virement", "net", "solde")
COMMISSION_COLUMNS = ("tiers_lieu_id", "tiers_lieu", "mois", "brut", "rembourse", "commission",
                      "commission_rendue", "frais_paiement", "net", "adhesions")
DAC7_PARTS = ("brut", "commissions", "net", "ventes")


def euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def local_iso(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="seconds")


def statement_csv(statement: Statement) -> str:
    """The opening balance, one row per movement, the closing balance."""
    month = statement.month
    rows = [[local_iso(month.starts_at), "solde d'ouverture", *[""] * 8,
             euros(statement.opening_cents)]]
    for line in statement.lines:
        rows.append([
            local_iso(line.occurred_at), OPERATION_WORDS[line.kind], str(line.order_id),
            *(euros(cents) for cents in (
                line.gross_cents, line.commission_cents, line.refund_cents,
                line.commission_returned_cents, line.transfer_cents, line.reversal_cents,
                line.net_cents, line.balance_cents)),
        ])
    rows.append([local_iso(month.ends_at), "solde de clôture", *[""] * 8,
                 euros(statement.closing_cents)])
    return _csv(STATEMENT_COLUMNS, rows)


def commission_csv(report: CommissionReport) -> str:
    return _csv(COMMISSION_COLUMNS, ([
        str(line.hub_id or ""), report.hub_names.get(line.hub_id, ""), str(line.month),
        *(euros(cents) for cents in (
            line.gross_cents, line.refunded_cents, line.commission_cents,
            line.commission_returned_cents, line.fees_cents, line.net_cents,
            line.membership_fees_cents)),
    ] for line in report.lines))


def dac7_csv(year: int, sellers: Iterable[SellerReport]) -> str:
    """One row per shop with activity in the year: per quarter (t1..t4) and for the year, the
    gross consideration less refunds, the commissions withheld, the net paid or credited to the
    shop, and its number of sales."""
    periods = [f"t{quarter}" for quarter in QUARTERS] + ["annee"]
    columns = ("boutique_id", "boutique", "annee",
               *(f"{part}_{period}" for period in periods for part in DAC7_PARTS))
    return _csv(columns, ([
        str(report.seller.shop_id), report.shop_name or "", str(year),
        *(value for quarter in [*report.seller.quarters.values(), report.seller.total()]
          for value in _dac7_figures(quarter)),
    ] for report in sellers))


def _dac7_figures(quarter: SellerQuarter) -> list[str]:
    return [euros(quarter.gross_cents), euros(quarter.fees_cents), euros(quarter.net_cents),
            str(quarter.sales)]


def _csv(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    out = io.StringIO(newline="")
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def statement_filename(shop_id: UUID, statement: Statement) -> str:
    return f"releve-{shop_id}-{statement.month}.csv"
