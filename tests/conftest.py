"""Suite-wide fixtures: real Kafka, PostgreSQL and stripe-mock (see tests/support/services.py)."""

pytest_plugins = ["tests.support.services"]
