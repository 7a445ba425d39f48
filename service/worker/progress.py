"""Is the worker making progress? /readyz answers 503 when it is not.

The worker is stalled when, for longer than ``SLA_STALL_TIMEOUT``:

- a flush (the sends of one batch) has been waiting on Kafka, or
- no batch completed while an owned input partition has messages waiting (lag: the end
  offset minus the next offset to process).

An idle worker (no input waiting) is not stalled however long it has been since its last
batch. ``check`` runs on a timer, so /readyz only reads the verdict.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from faust.types import TP

from service.worker.outbox import Outbox

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, stall_timeout: float, input_topics: Iterable[str]) -> None:
        self.stall_timeout = stall_timeout
        self.input_topics = frozenset(input_topics)
        self.progress_at = time.monotonic()  # the last batch done (or the start, or ready)
        self.next_offsets: dict[TP, int] = {}  # next input offset to process, per partition
        self.flushing: Outbox | None = None
        self.flush_started = 0.0
        self.stalled: str | None = None  # why, when stalled
        self._was_ready = False

    def batch_done(self, last_offsets: Mapping[TP, int]) -> None:
        """A batch completed; ``last_offsets``: the last offset it took, by partition."""
        self.progress_at = time.monotonic()
        for tp, offset in last_offsets.items():
            if tp.topic in self.input_topics:
                self.next_offsets[tp] = offset + 1

    def flush_begins(self, outbox: Outbox) -> None:
        self.flushing, self.flush_started = outbox, time.monotonic()

    def flush_ends(self) -> None:
        self.flushing = None

    async def check(self, ready: bool, consumer: Any) -> None:
        """Decide whether the worker is stalled (``self.stalled``); log each change."""
        now = time.monotonic()
        if ready and not self._was_ready:
            self.progress_at = max(self.progress_at, now)  # recovery is not a stall
        self._was_ready = ready
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
            position = self.next_offsets.get(tp)
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
