"""The Faust worker: the composition root, and the Faust wiring around the batch step.

The consumer hands the input topics and an internal due topic, co-partitioned with them,
to ``_take_batch`` in batches (``batches``): every change to a ticket happens there, in
order with the ticket's events, and the changelog write lands in the partition of the
ticket's events. A batch runs through the step (``step``), its records are sent and acked
(``delivery``), the local store written, and only then its input offsets committed. A
periodic timer looks at the engine's per-partition heaps of due instants (warnings,
deadlines, ends of hold and retention) and sends a due command to the due topic's
partition; the step then advances that partition's due tickets. Tickets live in the
engine's memory for the partitions this worker owns; the table holds what cannot be
derived (see ``state``) and is read back after a restart or rebalance (``tickets``).
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import faust
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP, StoreT

from service.core.engine import Engine, Lifecycle
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.settings import Settings
from service.worker.batches import Commit, Outcome, batch_transport
from service.worker.changelog import (
    ChangelogRecord,
    PreloadingTable,
    apply_to_store,
    rocksdb_memory,
)
from service.worker.compliance import LiveCompliance
from service.worker.delivery import Acked, Delivery
from service.worker.http import Views, register_views
from service.worker.loginwatch import LoginWatch, faust_credentials
from service.worker.metrics import Metrics
from service.worker.outbox import FlushStopped
from service.worker.producer import ProducerSlot
from service.worker.progress import Progress
from service.worker.step import Plan, Record, Step, Topics
from service.worker.tickets import PartitionReader, StoredTickets, recover, ticket_finder

log = logging.getLogger(__name__)
_GAUGE_SECONDS = 10.0  # how often the open-clock and lag gauges are recounted
# Records per fetch, so per batch: each changed ticket is written once per batch, and the
# sends of a batch are awaited together.
BATCH_MAX = 5000
Clock = Callable[[], Instant]
ROCKSDB_WRITE_BUFFER = 8 * 1024 * 1024  # bytes per memtable of each partition's database
# RocksDB's default memtables (64 MB, up to 3, per partition) held what a worker wrote about
# finished tickets in memory: 1.6 KB of RSS per finished ticket. Faust's block cache is 2 GiB
# per partition database, an LRU cache that fills with what is read back (reloaded tickets,
# recovery): capped by SLA_ROCKSDB_BLOCK_CACHE_MIB (default 16 MiB, about the stored values
# of 25,000 open tickets). Faust's other defaults stand (``faust.stores.rocksdb.RocksDBOptions``);
# tests/bench/memory_bench.py opens its databases with these options.
TABLE_OPTIONS: dict[str, Any] = {
    "write_buffer_size": ROCKSDB_WRITE_BUFFER,
    "block_cache_size": Settings.rocksdb_block_cache,  # the default; table_options sets it
}


def table_options(settings: Settings) -> dict[str, Any]:
    """The ticket table's store options: ``TABLE_OPTIONS`` with the configured block cache,
    in a new dict (Faust's store takes keys out of the one it is given)."""
    return {**TABLE_OPTIONS, "block_cache_size": settings.rocksdb_block_cache}


# Settled tickets kept in memory, the most recently written (a few KB each: docs/benchmarks.md).
# Measured on the worker benchmark: 0 made the step reload a ticket for one event in 13
# (a ticket answered and waiting on the customer has nothing to count) and cost a third
# of its throughput; 1,000 took that away.
KEEP_SETTLED = 1000


def wall_clock() -> Instant:
    """The one place the worker reads the wall clock."""
    return time.time_ns() // 1000


class SlaWorker:
    def __init__(self, settings: Settings, policies: PolicySet, clock: Clock = wall_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.metrics.start_at_zero(policies)
        self.compliance = LiveCompliance(policies, self.metrics)
        self.ready = False
        self.stopping = False  # set on SIGTERM (main): a flush waiting on Kafka gives up
        self.progress = Progress(
            settings.stall_timeout / 1e6, settings.input_topics, self._committed_offsets
        )
        self.login = LoginWatch(settings.kafka)
        logging.getLogger("aiokafka").addHandler(self.login)
        self._commanded: set[int] = set()  # partitions with a due command on its way
        self._read: dict[TP, int] = {}  # last input offset processed, for the lag gauge
        self._inputs = frozenset(settings.input_topics)
        self._next_gauge = 0.0
        self.app = self._app()
        topics = [*settings.input_topics, settings.due_topic]
        batch_transport(self.app, topics, self._take_batch, self._settled)  # before it is used
        self._batch_lock = asyncio.Lock()  # a rebalance waits for the batch in flight
        self._delivering: asyncio.Future[bool] | None = None  # the last batch's delivery
        self._stopped = False  # a delivery gave up: the worker is stopping
        self.table = self._table()
        self.stored = StoredTickets(
            cast(Any, self.table), policies, self.compliance, self._partition_reader()
        )
        lifecycle = Lifecycle(settings.retention, settings.hold, KEEP_SETTLED)
        self.engine = Engine(policies, lifecycle, self.stored.load)
        changelog = self.table.changelog_topic.get_topic_name()
        step_topics = Topics.of(settings, changelog)
        self.step = Step(self.engine, step_topics, self.metrics, self.compliance, settings.grace)
        self.delivery = Delivery(
            ProducerSlot(self._new_producer),
            self.metrics,
            self.progress,
            settings.dead_letter_topic,
            lambda: self.stopping or self.app.should_stop,
        )
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        # Subscribed, not consumed by an agent: acks off, so Faust's committer and its
        # idle-stream warnings leave these topics to the batches.
        self.source = self.app.topic(*topics, acks=False, **raw)
        self.app.topics.add(self.source)
        self.due = self.app.topic(settings.due_topic, **raw)
        self.app.timer(settings.tick_seconds)(self._tick)
        self.app.timer(1.0)(self._check_progress)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self.app.on_before_shutdown.connect(self._stop_producer)
        views = Views(
            find_ticket=ticket_finder(self.engine, self.stored, self._horizon),
            clock=clock,
            is_ready=lambda: self.ready,
            stalled=lambda: self.progress.stalled,
            registry=self.metrics.registry,
            http_token=settings.http_token,
        )
        register_views(self.app, views)

    def _app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=[f"kafka://{broker}" for broker in s.brokers.split(",")],
            broker_credentials=faust_credentials(s.kafka),
            topic_replication_factor=s.replication_factor,
            store=s.store_url,
            datadir=str(s.data_dir),
            topic_partitions=s.partitions,
            web_host=s.web_host,
            web_port=s.web_port,
            web_bind=s.web_host,  # Faust binds 0.0.0.0 unless told
            web_tables_enabled=False,  # and would serve table contents
            Table=PreloadingTable,
            consumer_auto_offset_reset="earliest",
            broker_max_poll_records=BATCH_MAX,
            # Faust's default of 0 sends about one produce request per changelog write;
            # 5 ms batched them and lifted table-writing agents 1.4x here (kafka_baselines).
            producer_linger=0.005,
            broker_session_timeout=s.session_timeout / 1e6,
            broker_heartbeat_interval=max(1.0, s.session_timeout / 3e6),
        )

    def _table(self) -> PreloadingTable:
        return cast(
            PreloadingTable,
            self.app.Table(
                "tickets",
                default=None,
                key_type=bytes,  # bytes make Faust use the raw codec, changelog included
                value_type=bytes,
                partitions=self.settings.partitions,
                on_recover=self._on_recovered,
                bootstrap=self.settings.kafka,  # PreloadingTable reads a long backlog in bulk
                options=table_options(self.settings),
            ),
        )

    def _partition_reader(self) -> PartitionReader | None:
        """With RocksDB, a key is looked up in its partition's database only: Faust's
        ``get`` outside an agent's event looks in every one (``Store._db_for_partition``
        is Faust's own, see ``batches``)."""
        if self.settings.store_url.startswith("memory"):
            return None
        store = cast(Any, self.table.data)
        return lambda key, partition: store._db_for_partition(partition).get(key)

    def _horizon(self) -> Instant:
        return self.clock() - self.settings.grace

    # -- the batches ----------------------------------------------------------------------

    async def _take_batch(
        self, records: Sequence[Record], generation: int, commit: Commit
    ) -> Outcome:
        """A batch of consumer records fetched in consumer ``generation``: the step runs
        now; its plan is delivered, then the offsets committed, while the next batch is
        fetched and stepped, which then waits for that delivery before its own starts
        (deliveries and commits keep batch order, and at most two plans are held)."""
        async with self._batch_lock:
            if self._stopped:
                return "stop"
            if generation != self.app.consumer_generation_id or not self.ready:
                return "drop"  # rebalanced since the fetch: read again from the commit
            started = time.perf_counter()
            plan = self.step.run(records, self.clock())
            self.stored.pending.update((key, value) for _, key, value in plan.values.values())
            self._commanded -= plan.due_partitions
            last = _last_offsets(records)
            self._read.update((tp, o) for tp, o in last.items() if tp.topic in self._inputs)
            # One delivery in flight at most: the previous batch's, while this one stepped.
            if self._delivering is not None and not await self._delivering:
                return "stop"  # it was not delivered: the worker is stopping
            self._delivering = asyncio.ensure_future(self._deliver(plan, last, commit, started))
            return "taken"

    async def _settled(self) -> None:
        """The batch in flight is delivered and committed (or given up)."""
        if self._delivering is not None:
            await asyncio.wait({self._delivering})

    async def _deliver(
        self, plan: Plan, last: dict[TP, int], commit: Commit, started: float
    ) -> bool:
        """Deliver a plan, then commit its offsets. False if it was not delivered."""
        try:
            await self.delivery.deliver(plan, self._write_store)
        except FlushStopped:  # stopping: this batch and the ones after stay uncommitted
            log.warning("stopping with a batch of %d records not delivered", len(plan.outbox))
            self._stopped = True
            return False
        finally:
            for _, key, value in plan.values.values():
                if self.stored.pending.get(key, self) is value:
                    del self.stored.pending[key]
        await commit()
        self.progress.batch_done(last)
        self.metrics.processing.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(plan.size)
        return True

    def _write_store(self, acked: Iterable[Acked]) -> None:
        changelog = self.table.changelog_topic.get_topic_name()
        apply_to_store(
            cast(StoreT[bytes, bytes], self.table.data),
            (ChangelogRecord(TP(changelog, p), offset, k, v) for p, offset, k, v in acked),
        )

    def _new_producer(self) -> AIOKafkaProducer:
        """The worker's own producer for batches (Faust's sends one record at a time)."""
        return AIOKafkaProducer(
            **self.settings.kafka.client_options(),
            acks="all",
            enable_idempotence=True,  # a retried batch is not written twice
            linger_ms=0,  # the batches are built already
            max_batch_size=1024 * 1024,
            max_request_size=4 * 1024 * 1024,
        )

    async def _stop_producer(self, sender: Any, /, *args: Any, **kw: Any) -> None:
        # What it could not deliver was not acked either: abandoned, read again after restart.
        logging.getLogger("aiokafka").removeHandler(self.login)
        await self.delivery.producers.stop(timeout=5.0)

    async def _committed_offsets(self, tps: set[TP]) -> dict[TP, int]:
        """The consumer group's committed offsets of ``tps`` (-1 for none), from the broker."""
        admin = AIOKafkaAdminClient(**self.settings.kafka.client_options())
        await admin.start()
        try:
            found = await admin.list_consumer_group_offsets(
                self.settings.app_id,
                partitions=[TopicPartition(tp.topic, tp.partition) for tp in tps],
            )
        finally:
            await admin.close()
        return {TP(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}

    async def _check_progress(self) -> None:
        repairs = self.progress.repairs
        await self.progress.check(self.ready, self.app.consumer)
        self.metrics.input_rewinds.inc(self.progress.repairs - repairs)
        await self.login.check(self.ready and self.progress.stalled is None)

    # -- timers -------------------------------------------------------------------------

    async def _tick(self) -> None:
        """Ask for a partition to be advanced when its earliest instant has come: one due
        command per partition, however many of its tickets are due."""
        if not self.ready:
            return
        horizon = self._horizon()
        for partition in list(self.engine.heaps):
            due = self.engine.earliest(partition)
            if due is not None and due <= horizon and partition not in self._commanded:
                self._commanded.add(partition)  # until the step has taken the command
                try:
                    await self.due.send(key=b"", value=b"", partition=partition)
                except Exception:  # Kafka unreachable: the next tick tries again
                    log.exception("could not send the due command of partition %d", partition)
                    self._commanded.discard(partition)
        if self.compliance.changed:  # the gauges follow within a tick
            self.compliance.export(self.clock())
        if time.monotonic() >= self._next_gauge:
            self._next_gauge = time.monotonic() + _GAUGE_SECONDS
            self._gauge()

    def _gauge(self) -> None:
        """Count open cycles by state (a walk over every ticket held, so not on every tick),
        the tickets and RocksDB's memory, and the lag."""
        counts: dict[str, int] = {}
        for ticket in self.engine.tickets.values():
            if ticket.clocks is not None:
                for cycle in ticket.clocks.cycles.values():
                    if cycle.is_open:
                        counts[cycle.state] = counts.get(cycle.state, 0) + 1
        for name in ("running", "paused", "breached"):
            self.metrics.open_clocks.labels(name).set(counts.get(name, 0))
        self.metrics.tickets.set(len(self.engine.tickets))
        for kind, found in rocksdb_memory(self.table.data).items():
            self.metrics.rocksdb_memory.labels(kind).set(found)
        consumer = self.app.consumer
        for tp, offset in self._read.items():
            behind = max(0, consumer.highwater(tp) - offset - 1)
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)

    # -- rebalancing ---------------------------------------------------------------------

    def _owned_partitions(self) -> set[int]:
        topics = {*self.settings.input_topics, self.settings.due_topic}
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in topics}

    async def _on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kw: Any) -> None:
        """Forget what may now belong to another worker; the table brings it back."""
        async with self._batch_lock:  # the batches in flight are delivered and committed
            self.ready = False
            if self._delivering is not None:
                await self._delivering
        self.metrics.ready.set(0)
        self.engine.reset()
        self.step.reset()
        self._commanded.clear()
        self._read.clear()
        self.progress.forget()
        self.metrics.consumer_lag.clear()
        self.compliance.clear()

    async def _on_recovered(self) -> None:
        """Tables are complete: rebuild the due heaps of the partitions owned here."""
        owned = self._owned_partitions()
        recover(self.engine, self.stored, owned)
        self.compliance.export(self.clock())
        self.ready = True
        self.metrics.ready.set(1)
        self.metrics.preloaded.set(self.table.preloaded)
        due_later = sum(len(heap) for heap in self.engine.heaps.values())
        log.info("recovered: %d partitions, %d clocks due later", len(owned), due_later)


def _last_offsets(records: Sequence[Record]) -> dict[TP, int]:
    """The last offset of each partition a batch holds (it holds them in order)."""
    last: dict[tuple[str, int], int] = {}
    for record in records:
        last[(record.topic, record.partition)] = record.offset
    return {TP(topic, partition): offset for (topic, partition), offset in last.items()}
