"""Event type → the payment service's handlers."""

SUBSCRIPTIONS: dict = {}
