"""Event type → the order service's handlers."""

SUBSCRIPTIONS: dict = {}
