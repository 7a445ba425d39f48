"""The worker's batches under Faust's assignment (``service.worker.batches``): what it
relies on in Faust's internals is still there, and offsets are committed only once a
batch's outputs and changelog records are acked, so a SIGKILL loses nothing and the next
worker reads again from the committed offsets."""

import inspect
import signal
import time
from collections import Counter
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores import rocksdb
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as driver

from service.core.engine import ticket_key
from service.worker.batches import BatchConsumer, BatchTransport
from tests.integration.worker_process import (
    Tickets,
    WorkerProcess,
    collect,
    produce_many,
    run,
)

pytestmark = pytest.mark.integration
TICKETS = 30_000


def test_the_faust_internals_the_batches_rely_on_are_there() -> None:
    assert BatchTransport.Consumer is BatchConsumer
    assert isinstance(faust.App.transport, property) and faust.App.transport.fset is not None
    assert issubclass(BatchConsumer, driver.Consumer)
    fetcher = inspect.getsource(faust_consumer.Fetcher)
    assert "consumer._drain_messages(self)" in fetcher  # the Fetcher's one task
    base = driver.Consumer
    expected = {
        "_drain_messages": ["self", "fetcher"],
        "_wait_next_records": ["self", "timeout"],
        "perform_seek": ["self"],
        "_commit": ["self", "offsets"],
        "_to_message": ["self", "tp", "record"],
        "wait_first": ["self", "coros", "timeout"],
    }
    for name, parameters in expected.items():
        assert list(inspect.signature(getattr(base, name)).parameters) == parameters, name
    db_for_partition = inspect.signature(rocksdb.Store._db_for_partition)
    assert list(db_for_partition.parameters) == ["self", "partition"]
    for attribute in ("_read_offset", "_buffered_partitions", "flow_active", "suspend_flow"):
        assert attribute in inspect.getsource(faust_consumer.Consumer), attribute


async def _committed(worker: WorkerProcess, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=worker.bootstrap, group_id=worker.name, enable_auto_commit=False
    )
    await consumer.start()
    try:
        topic = worker.topic("ticket-events")
        found = {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
        return {p: offset or 0 for p, offset in found.items()}
    finally:
        await consumer.stop()


async def _inputs(worker: WorkerProcess) -> list[tuple[int, int, str]]:
    """(partition, offset, ticket id) of every input message."""
    consumer = AIOKafkaConsumer(
        worker.topic("ticket-events"),
        bootstrap_servers=worker.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[int, int, str]] = []
    try:
        while len(found) < TICKETS:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                found += [(tp.partition, r.offset, (r.key or b"").decode()) for r in records]
    finally:
        await consumer.stop()
    return found


async def _changelog_keys(worker: WorkerProcess) -> set[bytes]:
    consumer = AIOKafkaConsumer(
        f"{worker.name}-tickets-changelog",
        bootstrap_servers=worker.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    keys: set[bytes] = set()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                return keys
            keys |= {r.key for records in batch.values() for r in records if r.key}
    finally:
        await consumer.stop()


def test_a_worker_killed_mid_stream_loses_no_breach_and_the_next_reads_from_the_commit(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data")
    worker.start()
    tickets = Tickets()
    names = [f"K{n}" for n in range(TICKETS)]
    messages = [(t.encode(), tickets.event(t, "ticket_created")) for t in names]
    run(produce_many(worker.bootstrap, worker.topic("ticket-events"), messages))
    deadline = time.monotonic() + 60
    while worker.metric("sla_timer_events_consumed_total") < TICKETS // 4:
        assert time.monotonic() < deadline, "the worker did not start consuming"
        time.sleep(0.05)
    worker.stop(signal.SIGKILL)
    committed = run(_committed(worker, 2))
    done_before = sum(committed.values())
    assert 0 < done_before < TICKETS, "killed mid-stream"
    # Every input before a committed offset has its outputs and its changelog value.
    started = run(collect(worker.bootstrap, [worker.topic("sla-events")], seconds=4))
    published = Counter(r.body["ticket_id"] for r in started if r.body["type"] == "sla.started")
    stored = run(_changelog_keys(worker))
    inputs = run(_inputs(worker))
    before = [t for partition, offset, t in inputs if offset < committed[partition]]
    assert len(before) == done_before
    assert all(published[t] == 2 for t in before)
    assert all(ticket_key("default", t).encode() in stored for t in before)

    time.sleep(7)  # the killed member's session (6 s) ends: one assignment, no rebalance
    again = WorkerProcess(policy_dir, tmp_path / "data", name=worker.name)
    again.start()
    try:
        breaches = run(collect(worker.bootstrap, [worker.topic("sla-breaches")], seconds=20))
        consumed = again.metric("sla_timer_events_consumed_total")
    finally:
        again.stop()
    assert consumed == TICKETS - done_before  # exactly what followed the committed offsets
    ids = {}
    for breach in breaches:
        ids.setdefault((breach.body["ticket_id"], breach.body["metric"]), set()).add(
            breach.body["event_id"]
        )
    assert set(ids) == {(t, m) for t in names for m in ("first_response", "resolution")}
    assert all(len(found) == 1 for found in ids.values())  # a repeat has the same id
