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
from collections.abc import Callable
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT

from service.core.due import DueHeap
from service.core.errors import InvalidEvent
from service.core.events import SlaEvent, SlaEventType
from service.core.instant import Instant, format_instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket
from service.settings import Settings
from service.wire import decode, encode_json
from service.worker import state
from service.worker.http import register_views
from service.worker.metrics import Metrics

log = logging.getLogger(__name__)
_GAUGE_SECONDS = 10.0  # how often the open-clock gauges are recounted
Clock = Callable[[], Instant]


def wall_clock() -> Instant:
    """The one place the worker reads the wall clock."""
    return time.time_ns() // 1000


class SlaWorker:
    def __init__(self, settings: Settings, policies: PolicySet, clock: Clock = wall_clock) -> None:
        self.settings = settings
        self.policies = policies
        self.clock = clock
        self.metrics = Metrics()
        self.tickets: dict[str, Ticket] = {}  # by table key, for the partitions owned here
        self.heaps: dict[int, DueHeap[str]] = {}  # ticket keys by due instant, per partition
        self.ready = False
        self._next_gauge = 0.0
        self.app = self._app()
        self.table = self.app.Table(
            "tickets",
            default=None,
            key_type=bytes,  # bytes make Faust use the raw codec, changelog included
            value_type=bytes,
            partitions=settings.partitions,
            on_recover=self._on_recovered,
        )
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.source = self.app.topic(*settings.input_topics, settings.due_topic, **raw)
        self.due = self.app.topic(settings.due_topic, **raw)
        self.events_out = self.app.topic(settings.events_topic, **raw)
        self.warnings_out = self.app.topic(settings.warnings_topic, **raw)
        self.breaches_out = self.app.topic(settings.breaches_topic, **raw)
        self.dead_letters = self.app.topic(settings.dead_letter_topic, **raw)
        self.app.agent(self.source, name="tickets")(self._consume)
        self.app.timer(settings.tick_seconds)(self._tick)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        register_views(self)

    def _app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=[f"kafka://{broker}" for broker in s.brokers.split(",")],
            store=s.store_url,
            datadir=str(s.data_dir),
            topic_partitions=s.partitions,
            web_host=s.web_host,
            web_port=s.web_port,
            web_bind=s.web_host,  # Faust binds 0.0.0.0 unless told
            web_tables_enabled=False,  # and would serve table contents
            consumer_auto_offset_reset="earliest",
            # Faust's default of 0 sends about one produce request per changelog write;
            # 5 ms batched them and lifted table-writing agents 1.4x here (kafka_baselines).
            producer_linger=0.005,
            broker_session_timeout=s.session_timeout / 1e6,
            broker_heartbeat_interval=max(1.0, s.session_timeout / 3e6),
        )

    # -- the agent ------------------------------------------------------------------------

    async def _consume(self, stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                await self._handle(event)
            except Exception as error:  # the worker never stops on data: dead-letter it
                log.exception("failed to process %s", _coordinates(event))
                await self._dead_letter(event, f"internal error: {type(error).__name__}: {error}")
                self.metrics.invalid.labels("internal_error").inc()
            self.metrics.processing.observe(time.perf_counter() - started)

    async def _handle(self, event: EventT[bytes]) -> None:
        message = event.message
        now = self.clock()
        horizon = now - self.settings.grace
        partition = message.partition
        if message.topic == self.settings.due_topic:
            key = bytes(message.key or b"").decode()
            ticket, out = self._ticket(key, horizon)
            if ticket is None:
                return
            out += ticket.advance(horizon)
        else:
            try:
                ticket_event = decode(message.value or b"")  # a tombstone is invalid too
            except InvalidEvent as error:
                self.metrics.invalid.labels(error.kind).inc()
                await self._dead_letter(event, error.reason)
                return
            self.metrics.consumed.labels(ticket_event.type.value).inc()
            key = state.table_key(ticket_event.tenant, ticket_event.ticket_id)
            ticket, out = self._ticket(key, horizon)
            if ticket is None:
                ticket = self.tickets[key] = Ticket(
                    self.policies, ticket_event.tenant, ticket_event.ticket_id
                )
            out += ticket.receive(ticket_event, horizon)
        await self._publish(out, now)
        self.table[key.encode()] = state.dump(ticket, partition)
        self._schedule(partition, key, ticket.next_due)

    def _ticket(self, key: str, horizon: Instant) -> tuple[Ticket | None, list[SlaEvent]]:
        """The ticket from memory, or from the table (restoring its clocks) after a restart."""
        ticket = self.tickets.get(key)
        if ticket is not None:
            return ticket, []
        raw = self.table.get(key.encode())
        if raw is None:
            return None, []
        ticket = self.tickets[key] = state.load(raw, self.policies)
        return ticket, ticket.restore(horizon)

    async def _publish(self, out: list[SlaEvent], now: Instant) -> None:
        for sla_event in out:
            body = encode_json(sla_event, now)
            key = sla_event.ticket_id.encode()
            await self.events_out.send(key=key, value=body)
            if sla_event.type is SlaEventType.WARNING:
                await self.warnings_out.send(key=key, value=body)
            elif sla_event.type is SlaEventType.BREACH:
                await self.breaches_out.send(key=key, value=body)
            self._count(sla_event, now)

    def _count(self, sla_event: SlaEvent, now: Instant) -> None:
        kind = sla_event.type.value
        self.metrics.sla_events.labels(kind, sla_event.policy, sla_event.metric).inc()
        if sla_event.type in (SlaEventType.WARNING, SlaEventType.BREACH):
            self.metrics.lateness.labels(kind).observe(max(0, now - sla_event.occurred_at) / 1e6)

    async def _dead_letter(self, event: EventT[bytes], reason: str) -> None:
        message = event.message
        value = message.value if isinstance(message.value, bytes) else b""
        body = {
            "reason": reason,
            "original": value.decode("utf-8", errors="replace"),
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": (message.key or b"").decode("utf-8", errors="replace")
            if isinstance(message.key, bytes)
            else None,
            "failed_at": format_instant(self.clock()),
        }
        await self.dead_letters.send(key=message.key, value=orjson.dumps(body))

    # -- timers -------------------------------------------------------------------------

    def _schedule(self, partition: int, key: str, due: Instant | None) -> None:
        self.heaps.setdefault(partition, DueHeap()).schedule(key, due)

    async def _tick(self) -> None:
        """Send a due command for every ticket whose next warning or deadline has come."""
        if not self.ready:
            return
        horizon = self.clock() - self.settings.grace
        for partition, heap in self.heaps.items():
            for key in heap.pop_due(horizon):  # the agent schedules the ticket's next due
                await self.due.send(key=key.encode(), value=b"", partition=partition)
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

    # -- rebalancing ---------------------------------------------------------------------

    def _owned_partitions(self) -> set[int]:
        topics = {*self.settings.input_topics, self.settings.due_topic}
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in topics}

    async def _on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kw: Any) -> None:
        """Forget what may now belong to another worker; the table brings it back."""
        self.ready = False
        self.metrics.ready.set(0)
        self.tickets.clear()
        self.heaps.clear()

    async def _on_recovered(self) -> None:
        """Tables are complete: rebuild the due heaps of the partitions owned here."""
        owned = self._owned_partitions()
        self.heaps = {partition: DueHeap() for partition in owned}
        for raw_key, raw in self.table.items():
            stored = state.index(raw)
            if stored.partition in owned and stored.next_due is not None:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                self._schedule(stored.partition, key, stored.next_due)
        self.ready = True
        self.metrics.ready.set(1)
        due_later = sum(len(heap) for heap in self.heaps.values())
        log.info("recovered: %d partitions, %d clocks due later", len(owned), due_later)


def _coordinates(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"
