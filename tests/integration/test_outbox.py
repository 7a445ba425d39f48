"""The worker's batch sender against the real broker: placement, order and offsets."""

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.worker.outbox import Outbox
from tests.integration.kafka_broker import acreate_topics


async def _read_all(bootstrap: str, topic: str, partitions: int) -> dict[int, list[tuple]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: dict[int, list[tuple]] = {p: [] for p in range(partitions)}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                found[tp.partition] += [(r.offset, r.key, r.value) for r in records]
        return found
    finally:
        await consumer.stop()


async def _scenario(bootstrap: str) -> None:
    keyed, pinned = f"outbox-keyed-{uuid.uuid4().hex[:8]}", f"outbox-pinned-{uuid.uuid4().hex[:8]}"
    await acreate_topics(bootstrap, {keyed: 3, pinned: 2})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        # aiokafka's own send decides where keyed records go: the outbox must agree with it.
        reference = {}
        for n in range(20):
            metadata = await (await producer.send(keyed, b"probe", key=f"T-{n}".encode()))
            reference[f"T-{n}".encode()] = metadata.partition
        outbox = Outbox()
        for round_ in range(3):
            for n in range(20):
                outbox.add(keyed, f"T-{n}".encode(), f"{round_}".encode())
        big = b"x" * 700_000  # two of these do not fit one batch of 1 MiB
        for n in range(5):
            outbox.add(pinned, b"k", big + str(n).encode(), partition=1)
        last = await outbox.flush(producer)
    finally:
        await producer.stop()

    keyed_records = await _read_all(bootstrap, keyed, 3)
    for partition, records in keyed_records.items():
        written = [(key, value) for _, key, value in records if value != b"probe"]
        assert all(reference[key] == partition for key, _ in written)
        for key in {key for key, _ in written}:  # one ticket's records, in the order added
            assert [v for k, v in written if k == key] == [b"0", b"1", b"2"]
        if written:
            assert last[(keyed, partition)] == records[-1][0]
    pinned_records = await _read_all(bootstrap, pinned, 2)
    assert pinned_records[0] == []
    assert [value[-1:] for _, _, value in pinned_records[1]] == [b"0", b"1", b"2", b"3", b"4"]
    assert last[(pinned, 1)] == pinned_records[1][-1][0]


def test_outbox_places_keyed_records_like_kafka_and_reports_last_offsets(bootstrap: str) -> None:
    asyncio.run(_scenario(bootstrap))
