"""One batch of the worker, without Kafka: input messages in, the records to publish out.

``Step.run`` decodes each message, hands it to the engine (a due command advances the
partition's due tickets), and returns a ``Plan``: the records of the batch in the order
they are queued (the SLA events, each warning and breach also on its alert topic; then the
dead letters; then one changelog value per changed ticket and a tombstone per forgotten
one), with what each record carries. The shell sends the plan, waits for every ack, and
only then writes the local store and commits the input offsets (``app``); what the plan
decides is tested here without a broker.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.core.engine import Changes, Engine, ticket_key
from service.core.errors import InvalidEvent
from service.core.events import SlaEvent, SlaEventType, TicketEvent
from service.core.instant import Instant
from service.letter import dead_letter_body
from service.settings import Settings
from service.wire import decoded as wire_decoded
from service.wire import encode_json
from service.worker import state
from service.worker.compliance import LiveCompliance
from service.worker.deadletter import held_dead_letter
from service.worker.metrics import Metrics
from service.worker.outbox import Outbox

log = logging.getLogger(__name__)
HELD_TOO_LONG = "no ticket: its ticket_created did not come within SLA_HOLD"


class Record(Protocol):
    """An input record as the step reads it (aiokafka's ``ConsumerRecord`` is one)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Message:
    """An input record built by hand (tests)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Topics:
    """Where the step's records go."""

    events: str
    warnings: str
    breaches: str
    dead_letters: str
    changelog: str
    due: str

    @classmethod
    def of(cls, settings: Settings, changelog: str) -> "Topics":
        return cls(
            settings.events_topic,
            settings.warnings_topic,
            settings.breaches_topic,
            settings.dead_letter_topic,
            changelog,
            settings.due_topic,
        )


@dataclass
class Plan:
    """A batch's records, and for each serial what it carries."""

    outbox: Outbox = field(default_factory=Outbox)
    events: dict[int, SlaEvent] = field(default_factory=dict)  # serial -> the SLA event
    values: dict[int, tuple[int, bytes, bytes | None]] = field(default_factory=dict)
    due_partitions: set[int] = field(default_factory=set)  # due commands taken
    consumed: dict[str, int] = field(default_factory=dict)  # input events by type
    size: int = 0  # messages in the batch
    now: Instant = 0

    def records(self) -> Iterator[tuple[str, int | None, bytes | None, bytes | None]]:
        """(topic, partition or None, key, value) of every record, in the order queued."""
        queued = [
            (record.serial, topic, partition, record.key, record.value)
            for (topic, partition), records in self.outbox.records.items()
            for record in records
        ]
        for _, topic, partition, key, value in sorted(queued, key=lambda row: row[0]):
            yield topic, partition, key, value


class Step:
    def __init__(
        self,
        engine: Engine,
        topics: Topics,
        metrics: Metrics,
        compliance: LiveCompliance,
        grace: Instant = 0,
    ) -> None:
        self.engine = engine
        self.topics = topics
        self.metrics = metrics
        self.compliance = compliance
        self.grace = grace
        self.log_json = state.LogJson()  # of the tickets in memory

    def run(self, messages: Sequence[Record], now: Instant) -> Plan:
        """Apply a batch read at wall-clock ``now``; the engine's clock is ``now`` less
        the grace (docs/worker.md: SLA_GRACE)."""
        plan = Plan(now=now, size=len(messages))
        horizon = now - self.grace
        out: list[SlaEvent] = []
        dead: list[tuple[bytes | None, bytes]] = []
        # Every message is decoded first, then applied: each loop runs hot in the caches
        # (the decoder and the engine in turn, not both for every message).
        due = self.topics.due
        # a tombstone (no value) is invalid too
        decoded = [None if m.topic == due else wire_decoded(m.value or b"") for m in messages]
        for message, event in zip(messages, decoded, strict=True):
            try:
                out += self._apply(message, event, horizon, plan, dead)
            except Exception as error:  # the worker never stops on data: dead-letter it
                log.exception("failed to process %s", _coordinates(message))
                self.metrics.invalid.labels("internal_error").inc()
                dead.append(dead_letter(message, f"internal error: {error!r}", now))
        changes = self.engine.take_changes(horizon)
        out = changes.owed + out
        for event in changes.expired:
            self.metrics.invalid.labels("no_ticket").inc()
            key = ticket_key(event.tenant, event.ticket_id).encode()
            dead.append((key, held_dead_letter(event, HELD_TOO_LONG, now)))
        self._publish(plan, out, dead)
        self._write(plan, out, changes)
        return plan

    def _apply(
        self,
        message: Record,
        event: TicketEvent | Exception | None,
        horizon: Instant,
        plan: Plan,
        dead: list[tuple[bytes | None, bytes]],
    ) -> list[SlaEvent]:
        if message.topic == self.topics.due:
            plan.due_partitions.add(message.partition)
            return self.engine.advance(horizon, message.partition)
        if isinstance(event, InvalidEvent):
            self.metrics.invalid.labels(event.kind).inc()
            dead.append(dead_letter(message, event.reason, plan.now))
            return []
        if not isinstance(event, TicketEvent):
            raise event if event is not None else AssertionError("not decoded")
        plan.consumed[event.type.value] = plan.consumed.get(event.type.value, 0) + 1
        try:
            return self.engine.receive(event, horizon, message.partition)
        except InvalidEvent as error:  # too late, no ticket, attributes: as it was
            self.metrics.invalid.labels(error.kind).inc()
            dead.append(dead_letter(message, error.reason, plan.now))
            return []

    def _publish(
        self, plan: Plan, out: list[SlaEvent], dead: list[tuple[bytes | None, bytes]]
    ) -> None:
        outbox, topics = plan.outbox, self.topics
        for event in out:
            body = state.right_sized(encode_json(event, plan.now))  # held until acked
            key = event.ticket_id.encode()  # as the input topics are keyed
            plan.events[outbox.add(topics.events, key, body)] = event
            if event.type is SlaEventType.WARNING:
                plan.events[outbox.add(topics.warnings, key, body)] = event
            elif event.type is SlaEventType.BREACH:
                plan.events[outbox.add(topics.breaches, key, body)] = event
        for dead_key, letter in dead:
            outbox.add(topics.dead_letters, dead_key, letter)

    def _write(self, plan: Plan, out: list[SlaEvent], changes: Changes) -> None:
        """One changelog value per changed ticket, a tombstone per forgotten one."""
        # Only a published event can change what a ticket counts for (core.compliance).
        touched = {ticket_key(e.tenant, e.ticket_id) for e in out}
        for key in changes.evicted:  # a ticket forgotten and created again: a new log
            self.log_json.forget(key)
        for written in changes.written:
            if written.key in touched:
                self.compliance.set(written.key, written.ticket.outcomes())
            outcomes = self.compliance.by_ticket.get(written.key, ())
            value = state.dump(
                written.ticket, written.partition, outcomes, self.log_json, written.forget_at
            )
            self._changelog(plan, written.partition, written.key, value)
        for key, partition in changes.forgotten:
            self._changelog(plan, partition, key, None)
        for key in changes.evicted:
            self.log_json.forget(key)
            self.compliance.forget(key)

    def _changelog(self, plan: Plan, partition: int, key: str, value: bytes | None) -> None:
        raw = key.encode()
        serial = plan.outbox.add(self.topics.changelog, raw, value, partition)
        plan.values[serial] = (partition, raw, value)

    def reset(self) -> None:
        """Everything held in memory is forgotten (a rebalance)."""
        self.log_json.forget()


def dead_letter(message: Record, reason: str, now: Instant) -> tuple[bytes | None, bytes]:
    value = message.value if isinstance(message.value, bytes) else b""
    body = dead_letter_body(
        value, message.key, reason, message.topic, message.partition, message.offset, now
    )
    return message.key, body


def _coordinates(message: Record) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"
