"""The real services the suite runs against answer: Kafka, PostgreSQL and stripe-mock."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.services import asyncpg_dsn
from tests.support.waiting import eventually


async def _has_topic(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic in await admin.list_topics()


@pytest.mark.kafka
async def test_kafka_answers_metadata_and_round_trips_a_record(kafka_bootstrap_servers):
    topic = f"local-services.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        # The broker's metadata cache learns of the topic a moment after the controller.
        await eventually(lambda: _has_topic(admin, topic), timeout=30, message=f"topic {topic}")
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"bonjour", key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.offset) == (b"k", b"bonjour", sent.offset)


@pytest.mark.postgres
async def test_postgres_answers_select_1(postgres_url):
    assert postgres_url.startswith("postgresql+asyncpg://")
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        assert await connection.fetchval("select 1") == 1
    finally:
        await connection.close()


@pytest.mark.postgres
async def test_fresh_database_is_empty_and_dropped_afterwards(postgres_url, fresh_postgres_url):
    name = fresh_postgres_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(asyncpg_dsn(fresh_postgres_url))
    try:
        assert await connection.fetchval("select current_database()") == name
        assert await connection.fetchval("select count(*) from pg_tables where schemaname = 'public'") == 0
        await connection.execute("create table t (id int)")
    finally:
        await connection.close()


@pytest.mark.stripe
async def test_stripe_mock_creates_a_payment_intent(stripe_api_base):
    async with httpx.AsyncClient(base_url=stripe_api_base, timeout=10) as client:
        response = await client.post(
            "/v1/payment_intents",
            data={"amount": "1000", "currency": "eur"},
            headers={"Authorization": "Bearer sk_test_123"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["id"].startswith("pi_")
