"""Sending a batch's plan: every record acked (or refused for good) before the local store
is written and the input offsets are committed.

A send that may succeed later is retried (``outbox``), so a batch is never acked half
done; a record Kafka refuses for good becomes a small dead letter instead; a dead letter
refused too is logged and dropped. Only the changelog values Kafka acked are written to
the local store, with their offsets, so store and changelog stay equal.
"""

import logging
from collections.abc import Callable, Iterable

from service.core.events import SlaEvent, SlaEventType
from service.core.instant import Instant
from service.worker.deadletter import refused_dead_letter
from service.worker.metrics import Metrics
from service.worker.outbox import Flushed, Outbox, Refused
from service.worker.producer import ProducerSlot
from service.worker.progress import Progress
from service.worker.step import Plan

log = logging.getLogger(__name__)
Acked = tuple[int, int, bytes, bytes | None]
"""A changelog value Kafka acked: partition, offset, key, value (None: a tombstone)."""
StoreWriter = Callable[[Iterable[Acked]], None]


class Delivery:
    def __init__(
        self,
        producers: ProducerSlot,
        metrics: Metrics,
        progress: Progress,
        dead_letter_topic: str,
        stopping: Callable[[], bool],
    ) -> None:
        self.producers = producers
        self.metrics = metrics
        self.progress = progress
        self.dead_letter_topic = dead_letter_topic
        self.stopping = stopping

    async def deliver(self, plan: Plan, write_store: StoreWriter) -> None:
        """Send the plan's records and wait for every ack; then count what was published
        and write the acked changelog values to the store. ``FlushStopped`` when the
        worker stops meanwhile (nothing is known to be written)."""
        if len(plan.outbox):
            await self._send(plan, write_store)
        for kind, count in plan.consumed.items():  # counted once delivered, per batch
            self.metrics.consumed.labels(kind).inc(count)

    async def _send(self, plan: Plan, write_store: StoreWriter) -> None:
        flushed = await self._flush(plan.outbox)
        refused = {r.serial for r in flushed.refused}
        published = {id(e): e for s, e in plan.events.items() if s not in refused}
        self._count(published.values(), plan.now)
        if flushed.refused:
            await self._contain(flushed.refused, plan.now)
        # What Faust does for a standby replica: the values with their changelog offsets,
        # once the changelog has them. A refused value was not stored: the store keeps the
        # ticket's previous value, as the changelog does.
        write_store(
            (partition, flushed.offsets[serial], key, value)
            for serial, (partition, key, value) in plan.values.items()
            if serial in flushed.offsets
        )

    async def _flush(self, outbox: Outbox) -> Flushed:
        self.progress.flush_begins(outbox)
        try:
            return await outbox.flush(self.producers, self.stopping)
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
            letters.add(self.dead_letter_topic, record.key, body)
        for dropped in (await self._flush(letters)).refused:
            log.error("dead letter refused too, dropped: %r (%r)", dropped.key, dropped.error)
            self.metrics.invalid.labels("dead_letter_refused").inc()

    def _count(self, events: Iterable[SlaEvent], now: Instant) -> None:
        """Count what was published, a label set at a time (``labels`` costs 5 us)."""
        counts: dict[tuple[str, str, str], int] = {}
        late: dict[str, list[float]] = {}
        for event in events:
            labels = (event.type.value, event.policy, event.metric)
            counts[labels] = counts.get(labels, 0) + 1
            if event.type in (SlaEventType.WARNING, SlaEventType.BREACH):
                late.setdefault(labels[0], []).append(max(0, now - event.occurred_at) / 1e6)
        for labels, count in counts.items():
            self.metrics.sla_events.labels(*labels).inc(count)
        for kind, seconds in late.items():
            histogram = self.metrics.lateness.labels(kind)
            for value in seconds:
                histogram.observe(value)
