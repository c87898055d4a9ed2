"""Event type → the pickup service's handlers."""

SUBSCRIPTIONS: dict = {}
