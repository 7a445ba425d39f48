"""The worker's batch sender against the real broker: placement, order and offsets."""

import asyncio
import socket
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.worker.outbox import FlushStopped, Outbox
from service.worker.producer import ProducerSlot
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
    slot = ProducerSlot(
        lambda: AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    )
    producer = await slot.get()
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
        flushed = await outbox.flush(slot)
    finally:
        await slot.stop(timeout=10)
    assert flushed.refused == []
    last = flushed.last_offsets

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


async def _small_topic(bootstrap: str, partitions: int, max_bytes: int) -> str:
    """A topic whose brokers refuse record batches over ``max_bytes``."""
    name = f"outbox-small-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": str(max_bytes)})
        await admin.create_topics([topic])
    finally:
        await admin.close()
    await acreate_topics(bootstrap, {name: partitions})  # waits for the leaders
    return name


def _slot(bootstrap: str) -> ProducerSlot:
    return ProducerSlot(
        lambda: AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    )


async def _refusal_scenario(bootstrap: str) -> None:
    small = await _small_topic(bootstrap, 2, max_bytes=2_000)
    other = f"outbox-other-{uuid.uuid4().hex[:8]}"
    await acreate_topics(bootstrap, {other: 1})
    slot = _slot(bootstrap)
    try:
        outbox = Outbox()
        serials = {}
        # One record batch per partition: the big records make the broker refuse all of it.
        for name in ("a", "b", "BIG1", "c", "d", "BIG2", "e"):
            size = 5_000 if name.startswith("BIG") else 10
            serials[name] = outbox.add(small, name.encode(), name.encode() * size, partition=0)
        for n in range(5):
            outbox.add(small, b"p1", f"{n}".encode(), partition=1)
        outbox.add(other, b"x", b"fine", partition=0)
        flushed = await asyncio.wait_for(outbox.flush(slot), timeout=30)
        # The same producer slot goes on: the refusals left no sequence-number gap behind.
        after = Outbox()
        last = after.add(small, b"after", b"after", partition=0)
        then = await asyncio.wait_for(after.flush(slot), timeout=30)
    finally:
        await slot.stop(timeout=10)
    refused = {r.key: r for r in flushed.refused}
    assert set(refused) == {b"BIG1", b"BIG2"}
    for name in ("BIG1", "BIG2"):
        record = refused[name.encode()]
        assert (record.topic, record.partition, record.size) == (small, 0, 4 * 5_000)
        assert record.error_name == "MessageSizeTooLargeError"
        assert record.serial == serials[name]
        assert record.serial not in flushed.offsets
    assert then.refused == [] and then.offsets[last] >= 0
    written = await _read_all(bootstrap, small, 2)
    # the others of partition 0 are written once each, in their order, at the offsets said
    assert [key for _, key, _ in written[0]] == [b"a", b"b", b"c", b"d", b"e", b"after"]
    for offset, key, _ in written[0][:-1]:
        assert flushed.offsets[serials[key.decode()]] == offset
    assert [value for _, _, value in written[1]] == [b"0", b"1", b"2", b"3", b"4"]
    assert (await _read_all(bootstrap, other, 1))[0][0][2] == b"fine"
    assert flushed.last_offsets[(small, 0)] == written[0][-2][0]


def test_records_the_broker_refuses_are_returned_and_the_rest_of_the_partition_is_written(
    bootstrap: str,
) -> None:
    asyncio.run(_refusal_scenario(bootstrap))


async def _stop_scenario() -> float:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    slot = ProducerSlot(
        lambda: AIOKafkaProducer(bootstrap_servers=nowhere, enable_idempotence=True)
    )
    outbox = Outbox()
    outbox.add("anything", b"k", b"v", partition=0)
    deadline = time.monotonic() + 3
    started = time.monotonic()
    with pytest.raises(FlushStopped):
        await asyncio.wait_for(outbox.flush(slot, lambda: time.monotonic() > deadline), 30)
    assert outbox.last_error is not None  # what it was retrying on
    await slot.stop(timeout=5)
    return time.monotonic() - started


def test_a_flush_retrying_an_unreachable_broker_gives_up_when_told_to_stop() -> None:
    assert asyncio.run(_stop_scenario()) < 4.5
