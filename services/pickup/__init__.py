"""Pickup: hubs (tiers-lieux), opening hours, collection slots, drop-offs and hand-overs."""
