"""Payment: payments, commission, refunds, payouts and the ledger."""
