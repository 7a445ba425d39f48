"""Is the worker making progress? /readyz answers 503 when it is not; and an input
partition whose fetched messages were never delivered is read again.

The worker is stalled when, for longer than ``SLA_STALL_TIMEOUT``:

- a flush (the sends of one batch) has been waiting on Kafka, or
- no batch completed while an owned input partition has messages waiting (lag: the end
  offset minus the next offset to process).

An idle worker (no input waiting) is not stalled however long it has been since its last
batch. ``check`` runs on a timer, so /readyz only reads the verdict.

Faust's consumer can drop records it fetched when a rebalance interrupts their delivery
(the flow stopped, the generation changed, the partition was not active yet at that
instant), with the fetch position already past them: they would wait for the next restart.
It happened to the worker that took over a killed worker's partitions, one run in five
(tests/integration/test_failover.py: the replies sent after the kill were never applied).
So ``check`` also looks, for each owned input partition that handed nothing over for
``GAP_SECONDS``, whether the consumer's position is past the next offset to take (the one
after the last handed over, else the group's committed offset, else the partition's first)
and seeks back to it (``repairs`` counts it; the log says which partition).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from faust.types import TP

from service.worker.outbox import Outbox

log = logging.getLogger(__name__)

Committed = Callable[[set[TP]], Awaitable[dict[TP, int]]]
"""The consumer group's committed offsets of some partitions (-1: none)."""

GAP_SECONDS = 5.0
"""How long an input partition may deliver nothing with the consumer's position past the next
offset to process before it is sought back (a slow batch delays, a seek re-reads: harmless,
input events are idempotent)."""


class Progress:
    def __init__(
        self,
        stall_timeout: float,
        input_topics: Iterable[str],
        committed: Committed | None = None,
    ) -> None:
        self.stall_timeout = stall_timeout
        self.committed = committed
        self.input_topics = frozenset(input_topics)
        self.progress_at = time.monotonic()  # the last batch done (or the start, or ready)
        self.next_offsets: dict[TP, int] = {}  # next input offset to process, per partition
        self.flushing: Outbox | None = None
        self.flush_started = 0.0
        self.stalled: str | None = None  # why, when stalled
        self.repairs = 0  # input partitions sought back to messages never delivered
        self._was_ready = False
        self._ready_at = 0.0
        self._sought_at: dict[TP, float] = {}  # when the repair last sought a partition
        self._start_offsets: dict[TP, int] = {}  # where reading began at the assignment

    def batch_done(self, last_offsets: Mapping[TP, int]) -> None:
        """A batch completed; ``last_offsets``: the last offset it took, by partition."""
        self.progress_at = time.monotonic()
        for tp, offset in last_offsets.items():
            if tp.topic in self.input_topics:
                self.next_offsets[tp] = offset + 1

    def forget(self) -> None:
        """Partitions were revoked: what was processed of them is the group's to say now."""
        self.next_offsets.clear()
        self._sought_at.clear()
        self._start_offsets.clear()

    def flush_begins(self, outbox: Outbox) -> None:
        self.flushing, self.flush_started = outbox, time.monotonic()

    def flush_ends(self) -> None:
        self.flushing = None

    async def check(self, ready: bool, consumer: Any) -> None:
        """Decide whether the worker is stalled (``self.stalled``); log each change."""
        now = time.monotonic()
        if ready and not self._was_ready:
            self.progress_at = max(self.progress_at, now)  # recovery is not a stall
            self._ready_at = now
        self._was_ready = ready
        if ready:
            await self._repair(consumer, now)
        reason = None
        if ready:
            reason = self._flush_reason(now)
            if reason is None and now - self.progress_at > self.stall_timeout:
                reason = await self._lag_reason(consumer, now)
        if reason != self.stalled:
            if reason is not None:
                log.error("not ready: %s", reason)
            elif self.stalled is not None:
                log.warning("ready again: progress resumed")
        self.stalled = reason

    async def _repair(self, consumer: Any, now: float) -> None:
        """Seek back each input partition whose position passed records never handed over.

        What was handed over is the consumer's ``taken`` (the batch consumer's: the offset
        after the last record given to the worker, and when), not what batches completed:
        a first batch can take longer than ``GAP_SECONDS`` on a loaded machine."""
        taken: dict[TP, tuple[int, float]] = getattr(consumer, "taken", {})
        quiet: list[tuple[TP, int | None, float]] = []
        for tp in consumer.assignment():
            if tp.topic not in self.input_topics:
                continue
            expected, moved = taken.get(tp, (None, self._ready_at))
            moved = max(moved, self._sought_at.get(tp, 0.0))
            if now - moved >= GAP_SECONDS:
                quiet.append((tp, expected, moved))
        unknown = {tp for tp, expected, _ in quiet if expected is None}
        await self._learn_start_offsets(consumer, unknown - self._start_offsets.keys())
        for tp, handed_over, moved in quiet:
            expected = self._start_offsets.get(tp) if handed_over is None else handed_over
            position = await _ask(consumer.position(tp))
            if expected is None or position is None or position <= expected:
                continue
            log.error(
                "input %s[%d]: the consumer is at offset %d but offset %d was never handed "
                "over (nothing for %.0f s): seeking back to %d",
                tp.topic, tp.partition, position, expected, now - moved, expected,
            )  # fmt: skip
            await consumer.seek(tp, expected)
            self._sought_at[tp] = now
            self.repairs += 1

    async def _learn_start_offsets(self, consumer: Any, tps: set[TP]) -> None:
        """Where reading of ``tps`` began at their assignment: the group's committed offset,
        or the partition's first offset when the group has none. One question to the broker
        for all of them, asked once per assignment."""
        if not tps or self.committed is None:
            return
        committed = await _ask(self.committed(tps), timeout=10.0)
        if committed is None:
            return
        found = {tp: offset for tp, offset in committed.items() if offset >= 0}
        uncommitted = tps - found.keys()
        if uncommitted:
            earliest = await _ask(consumer.earliest_offsets(*uncommitted), timeout=10.0)
            found.update(earliest or {})
        self._start_offsets.update((tp, found[tp]) for tp in tps if tp in found)

    def _flush_reason(self, now: float) -> str | None:
        outbox = self.flushing
        if outbox is None or now - self.flush_started <= self.stall_timeout:
            return None
        error = f" (last error: {outbox.last_error!r})" if outbox.last_error else ""
        return (
            f"the sends of a batch have waited on Kafka for {now - self.flush_started:.0f} s{error}"
        )

    async def _lag_reason(self, consumer: Any, now: float) -> str | None:
        tps = [tp for tp in consumer.assignment() if tp.topic in self.input_topics]
        if not tps:
            return None
        # The broker's end offsets: the consumer's own are stale when it does not fetch.
        ends = dict(await _ask(consumer.highwaters(*tps)) or {})
        if not ends:
            for tp in tps:
                try:
                    ends[tp] = consumer.highwater(tp)
                except Exception:  # unknown before the first fetch
                    continue
        waiting: list[tuple[int, TP]] = []
        for tp in tps:
            position = self.next_offsets.get(tp, self._start_offsets.get(tp))
            if position is None:
                position = await _ask(consumer.position(tp))
            end = ends.get(tp)
            if position is not None and end is not None and end > position:
                waiting.append((end - position, tp))
        if not waiting:
            return None
        behind, tp = max(waiting)
        return (
            f"no batch completed for {now - self.progress_at:.0f} s while {behind} input "
            f"messages wait on {tp.topic}[{tp.partition}]"
        )


async def _ask(question: Awaitable[Any], timeout: float = 0.8) -> Any:
    """The answer, or None if there is none within ``timeout`` (the question is abandoned:
    a Kafka call through Faust's consumer thread may not end when cancelled)."""
    task = asyncio.ensure_future(question)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        task.add_done_callback(_consume_outcome)
        return None
    return None if task.cancelled() or task.exception() else task.result()


def _consume_outcome(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "never retrieved" warning
