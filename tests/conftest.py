"""Suite-wide fixtures: real Kafka, PostgreSQL and stripe-mock (see tests/support/services.py),
and a service database on SQLite and on PostgreSQL (tests/support/databases.py)."""

pytest_plugins = ["tests.support.services", "tests.support.databases"]
