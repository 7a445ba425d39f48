"""Smoke test of the local Kafka broker: produce 100 keyed messages and read them back."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

try:
    from tests.integration.kafka_broker import acreate_topics, adelete_topics, ensure_broker
except ImportError:  # tests/integration collected as a rootdir-less directory
    from kafka_broker import (  # type: ignore[no-redef]
        acreate_topics,
        adelete_topics,
        ensure_broker,
    )

MESSAGES = 100
PARTITIONS = 3


async def _roundtrip(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    await acreate_topics(bootstrap, {topic: PARTITIONS})
    await acreate_topics(bootstrap, {topic: PARTITIONS})  # idempotent

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = [
            await producer.send(topic, key=f"key-{i}".encode(), value=f"value-{i}".encode())
            for i in range(MESSAGES)
        ]
        metadata = await asyncio.gather(*sends)
    finally:
        await producer.stop()
    assert {m.partition for m in metadata} == set(range(PARTITIONS)), "keys spread over partitions"

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-reader",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        async with asyncio.timeout(60):
            while len(received) < MESSAGES:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key] = record.value
    finally:
        await consumer.stop()
    return received


@pytest.mark.integration
def test_produce_and_consume_100_keyed_messages() -> None:
    bootstrap = ensure_broker()
    topic = f"it-broker-smoke-{uuid.uuid4().hex[:8]}"

    try:
        received = asyncio.run(_roundtrip(bootstrap, topic))
    finally:
        asyncio.run(adelete_topics(bootstrap, [topic]))

    assert len(received) == MESSAGES
    assert received == {f"key-{i}".encode(): f"value-{i}".encode() for i in range(MESSAGES)}
