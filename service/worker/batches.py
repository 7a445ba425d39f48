"""Input batches straight from the consumer, under Faust's partition assignment.

Faust hands every message one at a time through its consumer's drain loop (a
``wait_first`` per message: four tasks), the conductor and a stream: a Faust agent doing
nothing tops out at 13,500-15,700 events/s on the 2-core development machine, below the
worker's goal of 15,000 with the engine's work on top. So the worker takes what the
consumer fetched as a batch, runs it through the step and commits its offsets itself once
every output and changelog record is acked. Faust keeps the rest: the consumer group and
its assignor (co-partitioning the input, due and changelog topics), table recovery and
standbys (their records still take Faust's own per-message path, below), the web server,
timers and the producer of due commands.

What this relies on in faust-streaming 0.15.3's internals (``tests/integration/
test_batches.py`` fails if one of them changes):

- ``faust.transport.drivers.aiokafka.Transport.Consumer`` is the class the app's consumer
  is made of, and ``App.transport`` can be set before it is first used.
- The Fetcher service runs ``Consumer._drain_messages(fetcher)`` as its only task, until
  the consumer or the fetcher stops; it is stopped (cancelled) on shutdown.
- ``Consumer._wait_next_records(timeout)`` waits while the flow is stopped (a rebalance),
  then returns ``(records by TP, active partitions)`` fetched through the consumer thread
  for the active (assigned, not paused) partitions; recovery pauses the partitions it
  restores. ``records`` may hold ``None`` when the consumer stops.
- ``Consumer.perform_seek()`` seeks every assigned partition back to its committed offset
  (what Faust's ``getmany`` does when the flow stopped while it fetched); it is called once
  the batch in flight is delivered and committed (``settled``), else it would be read again.
- ``Consumer._commit(offsets)`` commits the given next offsets (it returns False when the
  group already rebalanced) and Faust's own committer commits nothing of these topics,
  because no message of them is ever acked through ``Consumer.ack``.
- ``Consumer._to_message``, ``callback``, ``_read_offset``, ``suspend_flow`` and
  ``wait_first``: the per-message path of other topics, as in Faust's ``_drain_messages``.
- The app's ``on_partitions_revoked`` signal is sent during a rebalance before the new
  assignment, after ``stop_flow``: the worker waits there for the batches in flight.
- Outside this module: the RocksDB store's ``_db_for_partition(partition)`` (``app`` reads
  a ticket from its partition's database only).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal, cast

from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from mode import Service

from service.worker.step import Record

log = logging.getLogger(__name__)
Outcome = Literal["taken", "drop", "stop"]
Commit = Callable[[], Awaitable[bool]]
BatchHandler = Callable[[Sequence[Record], int, Commit], Awaitable[Outcome]]
"""Takes a batch of consumer records, the consumer generation they were fetched in, and
the call that commits their offsets (once its outputs are acked): ``taken``; ``drop``
when it must be read again (the group rebalanced meanwhile): the positions go back to the
committed offsets; ``stop`` when the worker stops (this batch is not committed)."""


class BatchConsumer(driver.Consumer):
    taken: dict[TP, tuple[int, float]]
    """Per input partition: the offset after the last record handed to the worker, and when
    (``time.monotonic``); ``Progress`` compares it with the fetch position."""

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._taken().pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _taken(self) -> dict[TP, tuple[int, float]]:
        if not hasattr(self, "taken"):
            self.taken = {}
        return self.taken

    async def _drain_messages(self, fetcher: Any) -> None:
        """Replaces Faust's per-message drain loop (see the module docstring)."""
        transport = cast("BatchTransport", self.transport)
        consumer_stopped = cast(Service, self)._stopped.is_set
        fetcher_stopped = cast(Service, fetcher)._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                records, active = await self._wait_next_records(1.0)
                generation = self.app.consumer_generation_id
                if self.should_stop:
                    return
                if not records:
                    continue
                if not self.flow_active:  # a rebalance began while fetching
                    await self._seek_back(transport)
                    continue
                if not await self._take(records, active, transport, generation):
                    return
                await asyncio.sleep(0)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _take(
        self,
        records: Mapping[TP, list[Any]],
        active: set[TP] | None,
        transport: "BatchTransport",
        generation: int,
    ) -> bool:
        """One fetch: other topics one by one (Faust's path), ours as one batch to the
        handler. False when the worker is stopping."""
        batch: list[Any] = []
        offsets: dict[TP, int] = {}
        for tp, found in records.items():
            if not found:
                continue
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                await self._rewind(tp, found[0].offset)
                continue
            if tp.topic in transport.topics:
                batch += found
                offsets[tp] = found[-1].offset + 1
                self._taken()[tp] = (offsets[tp], time.monotonic())
            else:
                await self._one_by_one(tp, found)
        if not batch:
            return True
        assert transport.handler is not None
        outcome = await transport.handler(batch, generation, partial(self._commit_batch, offsets))
        if outcome == "drop":  # not taken: the positions go back to the committed offsets
            await self._seek_back(transport)
        return outcome != "stop"

    async def _rewind(self, tp: TP, offset: int) -> None:
        """Records of ``tp`` were fetched but are not to be taken now (its partition paused,
        or not active yet at this instant of a rebalance): put the position back to the
        first of them, so they are fetched again rather than dropped with the position
        past them (Faust's own loop drops them; ``Progress`` seeks back in that case)."""
        try:
            await self.seek(tp, offset)
        except Exception as error:  # revoked meanwhile: its next owner reads from the commit
            log.info("not rewinding %s[%d] to %d: %r", tp.topic, tp.partition, offset, error)

    async def _seek_back(self, transport: "BatchTransport") -> None:
        """Back to the committed offsets, once the batch in flight is committed (else it
        would be read again)."""
        if transport.settled is not None:
            await transport.settled()
        try:
            await self.perform_seek()
        except Exception as error:  # the rebalance seeks again before resuming
            log.warning("seeking back to the committed offsets failed: %r", error)

    async def _commit_batch(self, offsets: dict[TP, int]) -> bool:
        try:
            if await self._commit(offsets):
                return True
            log.warning("offsets of a batch not committed (rebalanced): it is read again")
        except Exception as error:  # stopping: it is read again after the restart
            log.warning("offsets of a batch not committed (%r): it is read again", error)
        return False

    async def _one_by_one(self, tp: TP, records: list[Any]) -> None:
        """What Faust's drain loop does with each message (table recovery, standbys)."""
        for record in records:
            message = self._to_message(tp, record)
            read = self._read_offset[tp]
            if read is None or message.offset >= read:
                await self.wait_first(self.callback(message), self.suspend_flow.wait())
                self._read_offset[tp] = message.offset


class BatchTransport(driver.Transport):
    """Faust's aiokafka transport whose consumer hands ``topics`` over in batches."""

    Consumer = BatchConsumer
    topics: frozenset[str] = frozenset()
    handler: BatchHandler | None = None
    settled: Callable[[], Awaitable[None]] | None = None  # the batches in flight are done


def batch_transport(
    app: Any,
    topics: Sequence[str],
    handler: BatchHandler,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> BatchTransport:
    """Make ``app``'s consumer hand ``topics`` to ``handler`` in batches; call before the
    app first uses its transport (before it starts)."""
    if getattr(app, "_transport", None) is not None:
        raise RuntimeError("the app's transport is already in use")
    transport = BatchTransport(app.conf.broker_consumer, app)
    transport.topics = frozenset(topics)
    transport.handler = handler
    transport.settled = settled
    app.transport = transport
    return transport
