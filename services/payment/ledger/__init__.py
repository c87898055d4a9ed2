"""The ledger: double entry for every money movement, statements and reports (docs/ledger.md)."""
