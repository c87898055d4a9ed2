"""Accounts: users, their global roles and access tokens."""
