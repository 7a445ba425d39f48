"""Read a whole SLA events topic once: every partition from its beginning to the end offset
it had when the read started, then stop (later messages wait for the next report)."""

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from service.connection import Connection
from service.core.errors import SlaTimerError
from service.handshake import LoginRefused, check_login

from .read import Ledger, decode_sla_event

STALL_SECONDS = 30.0
"""Give up when no message arrives for this long while some partition is still behind."""


class TopicError(SlaTimerError):
    """The topic cannot be read (no broker, no such topic, no progress)."""


def read_topic(topic: str, kafka: Connection, ledger: Ledger) -> list[str]:
    """Give the topic's SLA events to ``ledger`` in offset order; return a problem naming
    partition and offset for each message that is not an SLA event."""
    try:
        return asyncio.run(_read(topic, kafka, ledger))
    except KafkaError as error:
        raise TopicError(f"{kafka.describe()}: {error}") from None
    except LoginRefused as refused:
        raise TopicError(str(refused)) from None


async def _read(topic: str, kafka: Connection, ledger: Ledger) -> list[str]:
    unreachable = await check_login(kafka)
    if unreachable is not None:
        raise TopicError(f"Kafka did not answer ({kafka.describe()}): {unreachable}")
    partitions = [TopicPartition(topic, p) for p in await _partitions(topic, kafka)]
    consumer = AIOKafkaConsumer(
        **kafka.client_options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp, offset in (await consumer.beginning_offsets(partitions)).items():
            consumer.seek(tp, offset)  # at once: an asynchronous reset could land after ``ends``
        return await _consume(consumer, topic, ends, ledger)
    finally:
        await consumer.stop()


async def _partitions(topic: str, kafka: Connection) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        [found] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if found["error_code"] != 0 or not found["partitions"]:
        raise TopicError(f"topic {topic!r} does not exist on {kafka.brokers}")
    return sorted(partition["partition"] for partition in found["partitions"])


async def _consume(
    consumer: AIOKafkaConsumer, topic: str, ends: dict[TopicPartition, int], ledger: Ledger
) -> list[str]:
    problems: list[str] = []
    behind = {tp for tp in ends if await consumer.position(tp) < ends[tp]}
    while behind:
        batches = await consumer.getmany(*behind, timeout_ms=int(STALL_SECONDS * 1000))
        if not batches:
            raise TopicError(f"topic {topic!r}: no message for {STALL_SECONDS:.0f}s")
        for tp, messages in batches.items():
            for message in messages:
                if message.offset >= ends[tp]:
                    break  # published after the read started
                try:
                    ledger.take(decode_sla_event(message.value or b""))
                except ValueError as error:
                    where = f"{topic} partition {tp.partition} offset {message.offset}"
                    problems.append(f"{where}: {error}")
            if await consumer.position(tp) >= ends[tp]:
                behind.discard(tp)
    return problems
