"""Residents' membership of a hub (« adhésion »): the hub's terms, joining (free, or with a fee
the payment service takes), the member card, leaving, expiry and renewal, and the desk's check."""
