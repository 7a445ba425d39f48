"""The Faust worker: the engine on live Kafka traffic.

One agent consumes the input topics and an internal due topic, co-partitioned with them,
so every change to a ticket happens in the agent, in order with the ticket's events, and
the table write lands in the changelog partition of the ticket's events. A periodic timer
looks at per-partition heaps of due instants (warnings, deadlines) and sends a due command
keyed by the ticket to the due topic's partition of that ticket; the agent then advances
the ticket. Tickets live in memory for the partitions this worker owns; the table holds
what cannot be derived (see ``state``) and is read back after a restart or rebalance.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from aiokafka import AIOKafkaProducer
from faust import Stream
from faust.types import TP, EventT, StoreT, StreamT

from service.core.due import DueHeap
from service.core.errors import InvalidEvent
from service.core.events import SlaEvent, SlaEventType
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket
from service.letter import dead_letter_body
from service.settings import Settings
from service.wire import decode, encode_json
from service.worker import state
from service.worker.changelog import ChangelogRecord, PreloadingTable, apply_to_store
from service.worker.compliance import LiveCompliance
from service.worker.deadletter import held_dead_letter, refused_dead_letter
from service.worker.http import register_views
from service.worker.loginwatch import LoginWatch, faust_credentials
from service.worker.metrics import Metrics
from service.worker.outbox import Flushed, FlushStopped, Outbox, ProducerSlot, Refused
from service.worker.progress import Progress

log = logging.getLogger(__name__)
_GAUGE_SECONDS = 10.0  # how often the open-clock and lag gauges are recounted
# Faust hands the agent up to BATCH_MAX messages at a time, or what came within BATCH_WITHIN
# seconds: each changed ticket is then written once per batch, and sends are awaited together.
BATCH_MAX = 1000
BATCH_WITHIN = 0.02
Clock = Callable[[], Instant]
ROCKSDB_WRITE_BUFFER = 8 * 1024 * 1024  # bytes per memtable of each partition's database


def wall_clock() -> Instant:
    """The one place the worker reads the wall clock."""
    return time.time_ns() // 1000


class SlaWorker:
    def __init__(self, settings: Settings, policies: PolicySet, clock: Clock = wall_clock) -> None:
        self.settings = settings
        self.policies = policies
        self.clock = clock
        self.metrics = Metrics()
        self.metrics.start_at_zero(policies)
        self.tickets: dict[str, Ticket] = {}  # by table key, for the partitions owned here
        self.heaps: dict[int, DueHeap[str]] = {}  # ticket keys by due instant, per partition
        self.ready = False
        self.compliance = LiveCompliance(policies, self.metrics)
        self._commanded: set[int] = set()  # partitions with a due command on its way
        self._read: dict[TP, int] = {}  # last input offset processed, for the lag gauge
        self._next_gauge = 0.0
        self._producers = ProducerSlot(self._new_producer)
        self.stopping = False  # set on SIGTERM (main): a flush waiting on Kafka gives up
        self.progress = Progress(settings.stall_timeout / 1e6, settings.input_topics)
        self.login = LoginWatch(settings.kafka)
        logging.getLogger("aiokafka").addHandler(self.login)
        self._log_json = state.LogJson()  # of the tickets in memory
        self._compliance_changed = False
        self.app = self._app()
        self.table = self.app.Table(
            "tickets",
            default=None,
            key_type=bytes,  # bytes make Faust use the raw codec, changelog included
            value_type=bytes,
            partitions=settings.partitions,
            on_recover=self._on_recovered,
            bootstrap=settings.kafka,  # PreloadingTable reads a long backlog in bulk
            # RocksDB's default memtables (64 MB, up to 3, per partition) held what a worker
            # wrote about finished tickets in memory: 1.6 KB of RSS per finished ticket.
            options={"write_buffer_size": ROCKSDB_WRITE_BUFFER},
        )
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.source = self.app.topic(*settings.input_topics, settings.due_topic, **raw)
        self.due = self.app.topic(settings.due_topic, **raw)
        self.app.agent(self.source, name="tickets")(self._consume)
        self.app.timer(settings.tick_seconds)(self._tick)
        self.app.timer(1.0)(self._check_progress)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self.app.on_before_shutdown.connect(self._stop_producer)
        register_views(self)

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
            # Faust's default of 0 sends about one produce request per changelog write;
            # 5 ms batched them and lifted table-writing agents 1.4x here (kafka_baselines).
            producer_linger=0.005,
            broker_session_timeout=s.session_timeout / 1e6,
            broker_heartbeat_interval=max(1.0, s.session_timeout / 3e6),
        )

    # -- the agent ------------------------------------------------------------------------

    async def _consume(self, stream: StreamT[bytes]) -> None:
        # Faust acknowledges a batch's messages only when the next batch is asked for, so
        # offsets are committed after the batch's table writes and outputs were acked.
        async for batch in cast(Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN):
            started = time.perf_counter()
            try:
                await self._process(batch)
            except FlushStopped:  # stopping: the batch stays unacked, the agent ends
                log.warning("stopping with a batch of %d messages not delivered", len(batch))
                return
            self.progress.batch_done(batch)
            self.metrics.processing.observe(time.perf_counter() - started)
            self.metrics.batch_size.observe(len(batch))

    async def _process(self, batch: Sequence[EventT[bytes]]) -> None:
        """Apply a batch to the tickets, then write each changed ticket once and publish."""
        now = self.clock()
        horizon = now - self.settings.grace
        work = _Batch()
        for event in batch:
            try:
                self._apply(event, horizon, work)
            except Exception as error:  # the worker never stops on data: dead-letter it
                log.exception("failed to process %s", _coordinates(event))
                self.metrics.invalid.labels("internal_error").inc()
                work.dead.append(self._dead_letter(event, f"internal error: {error!r}", now))
        for key in work.dirty:
            ticket = self.tickets.get(key)
            if ticket is not None and ticket.is_settled:
                work.forget_at[key] = horizon + self.settings.retention
        await self._deliver(work, now)
        for key, partition in work.dirty.items():
            ticket = self.tickets.get(key)
            if ticket is None:
                continue
            if key in work.forget_at:  # nothing left to count: it leaves memory (SPEC §8)
                self._schedule(partition, key, work.forget_at[key])
                self._evict(key, ticket)
            else:
                self._schedule(partition, key, self._due_of(ticket))
        for key, _ in work.forgotten:
            forgotten = self.tickets.get(key)
            if forgotten is not None:
                self._evict(key, forgotten)

    def _due_of(self, ticket: Ticket) -> Instant | None:
        """The next instant the ticket needs the agent: a warning or deadline, or the end of
        the hold of events whose ticket_created has not come."""
        if not ticket.is_created:
            since = ticket.held_since
            return since + self.settings.hold if since is not None else None
        return ticket.next_due

    def _evict(self, key: str, ticket: Ticket) -> None:
        del self.tickets[key]
        self._log_json.forget(ticket)
        self.compliance.forget(key)

    def _apply(self, event: EventT[bytes], horizon: Instant, work: "_Batch") -> None:
        message = event.message
        partition = message.partition
        if message.topic == self.settings.due_topic:
            # A due command: advance every ticket of the partition whose instant has come.
            self._commanded.discard(partition)
            heap = self.heaps.get(partition)
            for key in heap.pop_due(horizon) if heap is not None else ():
                self._due(key, partition, horizon, work)
            return
        self._read[message.tp] = message.offset
        try:
            ticket_event = decode(message.value or b"")  # a tombstone is invalid too
        except InvalidEvent as error:
            self.metrics.invalid.labels(error.kind).inc()
            work.dead.append(self._dead_letter(event, error.reason, self.clock()))
            return
        self.metrics.consumed.labels(ticket_event.type.value).inc()
        key = state.table_key(ticket_event.tenant, ticket_event.ticket_id)
        ticket, out = self._ticket(key, horizon)
        work.out += out
        if ticket is None:
            ticket = Ticket(self.policies, ticket_event.tenant, ticket_event.ticket_id)
        try:
            work.out += ticket.receive(ticket_event, horizon)
        except InvalidEvent as error:  # too late, no ticket, attributes: the ticket is as it was
            self.metrics.invalid.labels(error.kind).inc()
            work.dead.append(self._dead_letter(event, error.reason, self.clock()))
            return
        self.tickets[key] = ticket
        work.dirty[key] = partition

    def _due(self, key: str, partition: int, horizon: Instant, work: "_Batch") -> None:
        """A ticket's instant has come: fire what is due, give up events held too long, or
        forget a ticket whose retention ended."""
        ticket, out = self._ticket(key, horizon)
        if ticket is None:
            return
        work.out += out
        if out:  # restored under changed policies: what it published is written
            work.dirty[key] = partition
        if ticket.is_created and not ticket.is_settled:
            work.out += ticket.advance(horizon)
            work.dirty[key] = partition
            return
        if ticket.is_created:
            if key in work.dirty:  # touched in this batch: written, its retention starts again
                return
            due = self._forget_at(key)
            if due is None or due > horizon:  # written again since: its time is later
                self._schedule(partition, key, due)
                self._evict(key, ticket)
                return
        else:
            due = self._due_of(ticket)
            if due is not None and due > horizon:
                self._schedule(partition, key, due)
                return
            for held in ticket.expire_held():
                self.metrics.invalid.labels("no_ticket").inc()
                reason = "no ticket: its ticket_created did not come within SLA_HOLD"
                work.dead.append((key.encode(), held_dead_letter(held, reason, self.clock())))
        work.dirty.pop(key, None)
        work.forgotten.append((key, partition))

    def _forget_at(self, key: str) -> Instant | None:
        raw = self.table.get(key.encode())
        stored = state.index(raw) if raw is not None else None
        return stored.forget_at if stored is not None else None

    def _ticket(self, key: str, horizon: Instant) -> tuple[Ticket | None, list[SlaEvent]]:
        """The ticket from memory, or from the table (restoring its clocks) after a restart
        or once it left memory; None for a ticket never seen or forgotten."""
        ticket = self.tickets.get(key)
        if ticket is not None:
            return ticket, []
        # The agent's task has no current Faust event (take_events drains the stream in a
        # task of its own), so the RocksDB store looks the key up in every partition's db.
        raw = self.table.get(key.encode())
        stored = state.index(raw) if raw is not None else None
        ticket = state.load(raw, self.policies) if raw is not None and stored else None
        if ticket is None or stored is None:
            return None, []
        self.tickets[key] = ticket
        self.compliance.recall(key, stored.outcomes)
        return ticket, ticket.restore(horizon)

    async def _deliver(self, work: "_Batch", now: Instant) -> None:
        """Send the batch's outputs and changelog records, wait for every ack, then write
        the local store. A send that may succeed later is retried, so the batch is never
        acked half done; a record Kafka refuses for good becomes a dead letter instead."""
        outbox = Outbox()
        events: dict[int, SlaEvent] = {}  # outbox serial -> the SLA event it carries
        for sla_event in work.out:
            body = encode_json(sla_event, now)
            ticket_id = sla_event.ticket_id.encode()
            events[outbox.add(self.settings.events_topic, ticket_id, body)] = sla_event
            if sla_event.type is SlaEventType.WARNING:
                events[outbox.add(self.settings.warnings_topic, ticket_id, body)] = sla_event
            elif sla_event.type is SlaEventType.BREACH:
                events[outbox.add(self.settings.breaches_topic, ticket_id, body)] = sla_event
        for raw_key, body in work.dead:
            outbox.add(self.settings.dead_letter_topic, raw_key, body)
        # Only a published event can change what a ticket counts for (core.compliance).
        touched = {state.table_key(e.tenant, e.ticket_id) for e in work.out}
        if touched:
            self.compliance.update(self.tickets, touched)
            self._compliance_changed = True
        changelog = self.table.changelog_topic.get_topic_name()
        values: dict[int, tuple[int, bytes, bytes | None]] = {}  # serial -> partition, key, value
        for key, partition in work.dirty.items():
            ticket = self.tickets.get(key)
            if ticket is not None:
                outcomes = self.compliance.by_ticket.get(key, ())
                forget_at = work.forget_at.get(key)
                value = state.dump(ticket, partition, outcomes, self._log_json, forget_at)
                serial = outbox.add(changelog, key.encode(), value, partition)
                values[serial] = (partition, key.encode(), value)
        for key, partition in work.forgotten:  # a tombstone: compaction drops the ticket
            serial = outbox.add(changelog, key.encode(), None, partition)
            values[serial] = (partition, key.encode(), None)
        if not len(outbox):
            return
        flushed = await self._flush(outbox)
        refused = {r.serial for r in flushed.refused}
        for sla_event in {id(e): e for s, e in events.items() if s not in refused}.values():
            self._count(sla_event, now)
        if flushed.refused:
            await self._contain(flushed.refused, now)
        # What Faust does for a standby replica: the values with their changelog offsets,
        # once the changelog has them. A refused value was not stored: the store keeps the
        # ticket's previous value, as the changelog does.
        apply_to_store(
            cast(StoreT[bytes, bytes], self.table.data),
            (
                ChangelogRecord(TP(changelog, p), flushed.offsets[serial], key, value)
                for serial, (p, key, value) in values.items()
                if serial in flushed.offsets
            ),
        )

    async def _flush(self, outbox: Outbox) -> Flushed:
        self.progress.flush_begins(outbox)
        try:
            return await outbox.flush(
                self._producers, lambda: self.stopping or self.app.should_stop
            )
        finally:
            self.progress.flush_ends()

    async def _contain(self, refused: list[Refused], now: Instant) -> None:
        """Records Kafka refused for good: a small dead letter each (coordinates and size,
        not the value); one refused too is logged and dropped."""
        letters = Outbox()
        for record in refused:
            reason = f"refused by Kafka: {record.error_name} writing to {record.topic}"
            log.error(
                "%s[%d], key %r, %d bytes: %r%s",
                reason,
                record.partition,
                record.key,
                record.size,
                record.error,
                " (the ticket's state was not stored)"
                if record.topic.endswith("-changelog")
                else "",
            )
            self.metrics.invalid.labels("refused").inc()
            body = refused_dead_letter(
                reason, record.topic, record.partition, record.key, record.size, now
            )
            letters.add(self.settings.dead_letter_topic, record.key, body)
        for dropped in (await self._flush(letters)).refused:
            log.error("dead letter refused too, dropped: %r (%r)", dropped.key, dropped.error)
            self.metrics.invalid.labels("dead_letter_refused").inc()

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
        await self._producers.stop(timeout=5.0)

    async def _check_progress(self) -> None:
        await self.progress.check(self.ready, self.app.consumer)
        await self.login.check(self.ready and self.progress.stalled is None)

    def _count(self, sla_event: SlaEvent, now: Instant) -> None:
        kind = sla_event.type.value
        self.metrics.sla_events.labels(kind, sla_event.policy, sla_event.metric).inc()
        if sla_event.type in (SlaEventType.WARNING, SlaEventType.BREACH):
            self.metrics.lateness.labels(kind).observe(max(0, now - sla_event.occurred_at) / 1e6)

    def _dead_letter(
        self, event: EventT[bytes], reason: str, now: Instant
    ) -> tuple[bytes | None, bytes]:
        message = event.message
        value = message.value if isinstance(message.value, bytes) else b""
        key = message.key if isinstance(message.key, bytes) else None
        body = dead_letter_body(
            value, key, reason, message.topic, message.partition, message.offset, now
        )
        return key, body

    # -- timers -------------------------------------------------------------------------

    def _schedule(self, partition: int, key: str, due: Instant | None) -> None:
        self.heaps.setdefault(partition, DueHeap()).schedule(key, due)

    async def _tick(self) -> None:
        """Ask the agent to advance a partition whose earliest warning or deadline has come:
        one due command per partition, however many of its tickets are due."""
        if not self.ready:
            return
        horizon = self.clock() - self.settings.grace
        for partition, heap in self.heaps.items():
            due = heap.earliest()
            if due is not None and due <= horizon and partition not in self._commanded:
                self._commanded.add(partition)  # until the agent has taken the command
                try:
                    await self.due.send(key=b"", value=b"", partition=partition)
                except Exception:  # Kafka unreachable: the next tick tries again
                    log.exception("could not send the due command of partition %d", partition)
                    self._commanded.discard(partition)
        if self._compliance_changed:  # the gauges follow within a tick
            self._compliance_changed = False
            self.compliance.export(self.clock())
        if time.monotonic() >= self._next_gauge:
            self._next_gauge = time.monotonic() + _GAUGE_SECONDS
            self._gauge()

    def _gauge(self) -> None:
        """Count open cycles by state: a walk over every ticket held, so not on every tick."""
        counts: dict[str, int] = {}
        for ticket in self.tickets.values():
            if ticket.clocks is not None:
                for cycle in ticket.clocks.cycles.values():
                    if cycle.is_open:
                        counts[cycle.state] = counts.get(cycle.state, 0) + 1
        for name in ("running", "paused", "breached"):
            self.metrics.open_clocks.labels(name).set(counts.get(name, 0))
        self.metrics.tickets.set(len(self.tickets))
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
        self.ready = False
        self.metrics.ready.set(0)
        self.tickets.clear()
        self._log_json.forget()
        self.heaps.clear()
        self._commanded.clear()
        self._read.clear()
        self.metrics.consumer_lag.clear()
        self.compliance.clear()

    async def _on_recovered(self) -> None:
        """Tables are complete: rebuild the due heaps of the partitions owned here."""
        owned = self._owned_partitions()
        self.heaps = {partition: DueHeap() for partition in owned}
        self.compliance.clear()
        versions = {policy.version for policy in self.policies.policies}
        for raw_key, raw in self.table.items():
            stored = state.index(raw)
            if stored is not None and stored.partition in owned:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                due = stored.next_due if stored.forget_at is None else stored.forget_at
                if not versions.issuperset(stored.versions):
                    due = 0  # its open cycles' policies changed: planned again at once
                self._schedule(stored.partition, key, due)
                self.compliance.count(stored.outcomes)
        self.compliance.export(self.clock())
        self.ready = True
        self.metrics.ready.set(1)
        self.metrics.preloaded.set(cast(PreloadingTable, self.table).preloaded)
        due_later = sum(len(heap) for heap in self.heaps.values())
        log.info("recovered: %d partitions, %d clocks due later", len(owned), due_later)


@dataclass(slots=True)
class _Batch:
    """What one batch changed: tickets to write, events to publish, dead letters."""

    dirty: dict[str, int] = field(default_factory=dict)  # ticket key -> partition
    out: list[SlaEvent] = field(default_factory=list)
    dead: list[tuple[bytes | None, bytes]] = field(default_factory=list)  # key, body
    forget_at: dict[str, Instant] = field(default_factory=dict)  # settled tickets written
    forgotten: list[tuple[str, int]] = field(default_factory=list)  # key, partition


def _coordinates(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"
