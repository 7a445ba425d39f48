"""Kafka throughput baselines on the local broker: what one process can consume per second.

One run, against the real broker on 127.0.0.1:9092 (started by ``deploy/kafka/kafka.sh`` when it
is not running):

1. creates a fresh topic ``bench-input-<random>`` with P partitions and produces N JSON events
   (~150 bytes, keyed by ticket id, 20,000 tickets) with aiokafka, batched with linger;
2. reads the whole topic with a raw aiokafka consumer (``getmany`` batches, and one message at a
   time), ``orjson.loads`` on every value;
3. runs Faust agents in this process (``await app.start()``, fresh app id and data dir per run,
   web server off) over the same topic: one without a table, then one writing a table entry per
   event (key: ticket id, value: the event's bytes) with ``store="rocksdb://"`` and with
   ``store="memory://"``, each iterating values and iterating ``stream.events()``, and again with
   Faust's ``producer_linger`` at 5 ms instead of its default 0 (the changelog producer then
   batches instead of sending about one produce request per table write);
4. deletes the topics it created, Faust's changelog and assignor topics included, and Faust's
   consumer groups.

Rates are events per second: for the raw consumer from its first fetch to the N-th record, for
Faust from the first event the agent sees to the N-th (the time from ``app.start()`` to the
first event, group join included, is printed separately). Each Faust row also checks the table's
key count and the changelog's record count (one record per write). Run::

    .venv/bin/python -m tests.bench.kafka_baselines [--events 200000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DeleteGroupsRequest

from tests.integration.kafka_broker import acreate_topics, ensure_broker

TICKETS = 20_000
EVENT_TYPES = ("ticket_created", "agent_reply", "customer_reply", "pending", "open", "solved")
TENANTS = ("westock", "istockist", "saleslayer", "commerceup", "liveagent")
SEND_CHUNK = 20_000
# Notes for this machine (NOTES-faust-kafka.md): ~80-byte JSON, json.loads.
NOTES_RAW = (144_000, 225_000)
NOTES_FAUST_TABLE = 2_800


@dataclass
class Result:
    """One measured consumer: how many events, over how long, after how much startup."""

    name: str
    events: int
    seconds: float
    startup: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """Counts processed events; records the first and last times; fires when the target is hit."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.done = asyncio.Event()

    def begin(self) -> None:
        """Start the clock now rather than at the first record."""
        self.first = time.perf_counter()

    def tick(self, n: int = 1) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.count += n
        if self.count >= self.target and not self.done.is_set():
            self.last = now
            self.done.set()

    def elapsed(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first


# --- events and producing ---------------------------------------------------------------------


def events(count: int, seed: int = 7) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` pairs: JSON events of about 150 bytes keyed by ticket id."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        ticket = f"T-{rng.randrange(TICKETS)}"
        minute = rng.randrange(60 * 24 * 30)
        event = {
            "event_id": f"e-{number}",
            "type": rng.choice(EVENT_TYPES),
            "ticket_id": ticket,
            "tenant": rng.choice(TENANTS),
            "occurred_at": f"2026-01-{5 + minute // 1440:02d}T{minute // 60 % 24:02d}:"
            f"{minute % 60:02d}:00Z",
            "channel": "email",
            "agent_id": f"a-{rng.randrange(500)}",
        }
        yield ticket.encode(), orjson.dumps(event)


async def produce(bootstrap: str, topic: str, count: int, timeout: float) -> Result:
    """Send ``count`` events as fast as aiokafka batches them; wait for every ack."""
    payload = list(events(count))
    size = sum(len(value) for _, value in payload) / count
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=256 * 1024,
        request_timeout_ms=int(timeout * 1000),
    )
    await producer.start()
    try:
        started = time.perf_counter()
        await asyncio.wait_for(_send_all(producer, topic, payload), timeout)
        took = time.perf_counter() - started
    finally:
        await producer.stop()
    return Result("aiokafka producer", count, took, notes=[f"{size:.0f} B/event avg"])


async def _send_all(
    producer: AIOKafkaProducer, topic: str, payload: list[tuple[bytes, bytes]]
) -> None:
    for start in range(0, len(payload), SEND_CHUNK):
        futures = [
            await producer.send(topic, value=value, key=key)
            for key, value in payload[start : start + SEND_CHUNK]
        ]
        await asyncio.gather(*futures)


# --- raw aiokafka consumer --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def assigned_consumer(
    bootstrap: str, topic: str, partitions: int
) -> AsyncIterator[AIOKafkaConsumer]:
    """A group-less consumer assigned every partition of ``topic``, at the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        assignment = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        yield consumer
    finally:
        await consumer.stop()


async def topic_size(bootstrap: str, topic: str, partitions: int) -> int:
    async with assigned_consumer(bootstrap, topic, partitions) as consumer:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return sum(ends.values())


async def raw_batches(bootstrap: str, topic: str, partitions: int, count: int) -> Progress:
    progress = Progress(count)
    async with assigned_consumer(bootstrap, topic, partitions) as consumer:
        progress.begin()
        while not progress.done.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                progress.tick(len(records))
    return progress


async def raw_one_by_one(bootstrap: str, topic: str, partitions: int, count: int) -> Progress:
    progress = Progress(count)
    async with assigned_consumer(bootstrap, topic, partitions) as consumer:
        progress.begin()
        async for record in consumer:
            orjson.loads(record.value)
            progress.tick()
            if progress.done.is_set():
                break
    return progress


async def measure_raw(
    name: str,
    consume: Callable[[str, str, int, int], Awaitable[Progress]],
    bootstrap: str,
    topic: str,
    partitions: int,
    count: int,
    timeout: float,
) -> Result:
    progress = await asyncio.wait_for(consume(bootstrap, topic, partitions, count), timeout)
    return Result(name, progress.count, progress.elapsed())


# --- Faust agents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaustVariant:
    name: str
    store: str | None  # None: no table
    use_events: bool
    linger: float = 0.0  # Faust's producer_linger (seconds); its default is 0


FAUST_VARIANTS = (
    FaustVariant("faust, no table", None, False),
    FaustVariant("faust + table rocksdb, values", "rocksdb://", False),
    FaustVariant("faust + table rocksdb, events()", "rocksdb://", True),
    FaustVariant("faust + table memory, values", "memory://", False),
    FaustVariant("faust + table memory, events()", "memory://", True),
    FaustVariant("faust + table rocksdb, values, linger 5ms", "rocksdb://", False, 0.005),
    FaustVariant("faust + table memory, values, linger 5ms", "memory://", False, 0.005),
)


def faust_app(
    app_id: str, bootstrap: str, variant: FaustVariant, datadir: Path, partitions: int
) -> faust.App:
    return faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store=variant.store or "memory://",
        datadir=str(datadir),
        producer_linger=variant.linger,
        topic_partitions=partitions,
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
    )


def attach_agent(
    app: faust.App, variant: FaustVariant, topic_name: str, partitions: int, progress: Progress
) -> Any:
    """One agent on ``topic_name``: decode each value, optionally store it under its ticket."""
    topic = app.topic(
        topic_name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    table = None
    if variant.store is not None:
        schema = faust.Schema(
            key_type=str, value_type=bytes, key_serializer="json", value_serializer="raw"
        )
        table = app.Table("last_event", schema=schema, partitions=partitions)

    async def values(stream: Any) -> None:
        async for value in stream:
            ticket = orjson.loads(value)["ticket_id"]
            if table is not None:
                table[ticket] = value
            progress.tick()

    async def events(stream: Any) -> None:
        async for event in stream.events():
            ticket = orjson.loads(event.value)["ticket_id"]
            if table is not None:
                table[ticket] = event.value
            progress.tick()

    app.agent(topic, name="bench")(events if variant.use_events else values)
    return table


async def measure_faust(
    variant: FaustVariant, bootstrap: str, topic: str, partitions: int, count: int, timeout: float
) -> tuple[Result, str]:
    """Start a fresh app in this process, wait for ``count`` events, stop it. Returns the app id."""
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    progress = Progress(count)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="faust-bench-") as folder:
        app = faust_app(app_id, bootstrap, variant, Path(folder), partitions)
        table = attach_agent(app, variant, topic, partitions, progress)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(app.start(), 60)
            await asyncio.wait_for(progress.done.wait(), timeout)
            if table is not None:
                notes.append(f"table {len(table):,} keys")
        except TimeoutError:
            notes.append(f"TIMED OUT at {progress.count:,} events")
        finally:
            stopping = time.perf_counter()
            await asyncio.wait_for(app.stop(), 60)
            notes.append(f"stop {time.perf_counter() - stopping:.1f}s")
    if table is not None:
        changelog = await topic_size(bootstrap, f"{app_id}-last_event-changelog", partitions)
        notes.append(f"changelog {changelog:,} records")
    startup = (progress.first - started) if progress.first is not None else None
    return Result(variant.name, progress.count, progress.elapsed(), startup, notes), app_id


# --- topics -----------------------------------------------------------------------------------


async def delete_topics(bootstrap: str, input_topic: str, app_ids: list[str]) -> list[str]:
    """Delete the input topic and every topic Faust created for the given app ids."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = [
            name
            for name in await admin.list_topics()
            if name == input_topic or any(name.startswith(f"{app_id}-") for app_id in app_ids)
        ]
        if names:
            await admin.delete_topics(names, timeout_ms=30_000)
        await _delete_groups(admin, app_ids)
        return names
    finally:
        await admin.close()


async def _delete_groups(admin: AIOKafkaAdminClient, groups: list[str]) -> None:
    """Best effort: aiokafka 0.14's admin client has no public DeleteGroups call."""
    for group in groups:
        try:
            node = await admin.find_coordinator(group)
            await admin._send_request_to_node(node, DeleteGroupsRequest([group]))
        except Exception as exc:
            print(f"could not delete consumer group {group}: {exc!r}")


# --- report -----------------------------------------------------------------------------------


def print_table(produced: Result, results: list[Result], baseline: Result) -> None:
    print()
    print(f"produce: {produced.rate:,.0f} events/s ({'; '.join(produced.notes)})")
    print(f"{'measurement':<44} {'events':>9} {'seconds':>8} {'events/s':>10} {'vs raw':>8}  notes")
    for result in results:
        ratio = f"{result.rate / baseline.rate:>7.3f}x" if baseline.rate else "      -"
        notes = list(result.notes)
        if result.startup is not None:
            notes.insert(0, f"first event {result.startup:.1f}s after start()")
        print(
            f"{result.name:<44} {result.events:>9,} {result.seconds:>8.2f} {result.rate:>10,.0f} "
            f"{ratio}  {'; '.join(notes)}"
        )
    print(
        f"\nNOTES-faust-kafka.md on this machine: raw consumer "
        f"{NOTES_RAW[0]:,}-{NOTES_RAW[1]:,}/s, "
        f"Faust agent with one table write per event {NOTES_FAUST_TABLE:,}/s."
    )


async def run(args: argparse.Namespace, bootstrap: str) -> None:
    topic = f"bench-input-{uuid.uuid4().hex[:8]}"
    app_ids: list[str] = []
    await acreate_topics(bootstrap, {topic: args.partitions})
    print(f"topic {topic}: {args.partitions} partitions, {args.events:,} events")
    try:
        produced = await produce(bootstrap, topic, args.events, args.timeout)
        stored = await topic_size(bootstrap, topic, args.partitions)
        print(f"produced {produced.rate:,.0f} events/s ({stored:,} records in the topic)")
        raw = await measure_raw(
            "raw aiokafka getmany + orjson",
            raw_batches,
            bootstrap,
            topic,
            args.partitions,
            args.events,
            args.timeout,
        )
        print(f"  {raw.name}: {raw.rate:,.0f} events/s")
        results = [raw]
        one = await measure_raw(
            "raw aiokafka async for + orjson",
            raw_one_by_one,
            bootstrap,
            topic,
            args.partitions,
            args.events,
            args.timeout,
        )
        print(f"  {one.name}: {one.rate:,.0f} events/s")
        results.append(one)
        for variant in FAUST_VARIANTS:
            if args.only and not any(word in variant.name for word in args.only):
                continue
            result, app_id = await measure_faust(
                variant, bootstrap, topic, args.partitions, args.events, args.timeout
            )
            app_ids.append(app_id)
            print(f"  {result.name}: {result.rate:,.0f} events/s")
            results.append(result)
        print_table(produced, results, raw)
    finally:
        deleted = await delete_topics(bootstrap, topic, app_ids)
        print(f"\ndeleted topics: {', '.join(sorted(deleted)) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed for each measurement"
    )
    parser.add_argument(
        "--only", nargs="*", help="run only the Faust variants whose name contains one of these"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    bootstrap = ensure_broker()
    asyncio.run(run(args, bootstrap))


if __name__ == "__main__":
    main()
