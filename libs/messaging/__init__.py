"""The event backbone: one bus port, a Kafka and an embedded adapter, the outbox and the inbox."""
