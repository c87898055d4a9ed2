"""Event type → the accounts service's handlers."""

SUBSCRIPTIONS: dict = {}
