"""Records a batch produces, sent to Kafka as one record batch per topic partition.

aiokafka's ``send`` costs a future and a trip through its accumulator per record; the
worker sends hundreds of records per batch (outputs, dead letters, changelog), so it builds
record batches itself (``create_batch``/``send_batch``, aiokafka's public batch API) and
waits for one acknowledgement per partition. Keyed records without a partition go where
Kafka's default partitioner (murmur2 of the key, as in aiokafka and the Java client) puts
them, so consumers see one ticket's events in one partition, in order.

A failed send is judged by ``producer.classify``: retried, sent with a new producer, or
refused for good.

A refused record batch fails as a whole, so a batch refused with more than one record is
sent again as two batches, each halved again if refused, down to single records: only the
guilty records are refused, the others of the partition are written, in their order. A
refusal also leaves the idempotent producer's sequence numbers of that partition ahead of
what the broker appended (every later batch would fail with ``OutOfOrderSequenceNumber``),
so they are set back (``_rewind``) before the next round, or the producer is replaced.
"""

import asyncio
import functools
import itertools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from service.worker.producer import ProducerSlot, classify

log = logging.getLogger(__name__)
_partitioner = DefaultPartitioner()
_groups = itertools.count(1)
_T = TypeVar("_T")
_POLL = 0.2  # seconds between looks at ``stopping`` while waiting on Kafka
_FIRST_DELAY, _MAX_DELAY = 0.5, 10.0


class FlushStopped(Exception):
    """``flush`` gave up because the worker is stopping; nothing is known to be written."""


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes | None  # None: a tombstone
    serial: int = 0  # the number ``Outbox.add`` returned for it


@dataclass(frozen=True, slots=True)
class Refused:
    """A record the broker will never accept."""

    serial: int
    topic: str
    partition: int  # -1 when it could not be placed
    key: bytes | None
    size: int  # of the value, in bytes
    error: BaseException

    @property
    def error_name(self) -> str:
        return type(self.error).__name__


@dataclass
class Flushed:
    offsets: dict[int, int]  # serial -> offset, for each record written
    refused: list[Refused]
    last_offsets: dict[tuple[str, int], int]  # (topic, partition) -> last offset written


def _never() -> bool:
    return False


@dataclass
class Outbox:
    """Records by (topic, partition); ``flush`` sends them all and says, per record, at
    which offset it was written or why it was refused."""

    records: dict[tuple[str, int | None], list[Record]] = field(
        default_factory=lambda: defaultdict(list)
    )
    count: int = 0
    last_error: BaseException | None = None  # of the latest failed send, while flushing
    attempts: int = 0  # sending rounds so far
    _delay: float = _FIRST_DELAY

    def add(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> int:
        """Queue a record; returns its serial number (the key of ``Flushed.offsets``)."""
        serial = self.count
        self.count += 1
        self.records[(topic, partition)].append(Record(key, value, serial))
        return serial

    def __len__(self) -> int:
        return self.count

    async def flush(
        self, producers: ProducerSlot, stopping: Callable[[], bool] = _never
    ) -> Flushed:
        """Send every record; retry what may succeed later (with backoff) until it is
        acknowledged; return the offsets of the records written and the records refused.
        Raises ``FlushStopped`` as soon as ``stopping()`` is true while Kafka is waited for.
        """
        self._delay = _FIRST_DELAY
        refused: list[Refused] = []
        placed: dict[tuple[str, int], list[_Entry]] = defaultdict(list)
        for (topic, partition), records in self.records.items():
            if partition is not None:
                placed[(topic, partition)] += [_Entry(r) for r in records]
                continue
            partitions = await self._retrying(
                functools.partial(_partitions, producers, topic), stopping
            )
            if isinstance(partitions, BaseException):  # refused: an invalid topic...
                refused += [_refusal(topic, -1, r, partitions) for r in records]
                continue
            for record in records:
                chosen = _partitioner(record.key, partitions, partitions)
                placed[(topic, chosen)].append(_Entry(record))
        offsets: dict[int, int] = {}
        pending = {where: entries for where, entries in placed.items() if entries}
        while pending:
            self.attempts += 1
            producer = await self._retrying(producers.get, stopping)
            if isinstance(producer, BaseException):
                producers.spoiled = True
                continue
            sequences = _sequences(producer, pending)
            sent = {
                where: await _until(_send(producer, where, entries), stopping)
                for where, entries in pending.items()
            }
            waiting = [f for batches in sent.values() for f, _ in batches if f is not None]
            await _until(_settled(waiting), stopping)
            again: dict[tuple[str, int], list[_Entry]] = {}
            backoff = False
            for where, batches in sent.items():
                outcome = _settle(where, batches, offsets)
                refused += outcome.refused
                if outcome.again:
                    again[where] = outcome.again
                if outcome.error is not None:
                    self.last_error = outcome.error
                    kind = classify(outcome.error)
                    if kind == "renew" or (
                        kind == "refused" and not _rewind(producer, where, sequences, outcome)
                    ):
                        producers.spoiled = True
                    backoff = backoff or kind != "refused"
            if again and backoff:
                await self._backoff(f"sending to {len(again)} partitions", stopping)
            pending = again
        last: dict[tuple[str, int], int] = {}
        for where, entries in placed.items():
            written = [offsets[e.record.serial] for e in entries if e.record.serial in offsets]
            if written:
                last[where] = max(written)
        return Flushed(offsets, refused, last)

    async def _retrying(
        self, call: Callable[[], Awaitable[_T]], stopping: Callable[[], bool]
    ) -> _T | BaseException:
        """``call()`` until it succeeds (with backoff); the error if it is refused for good."""
        while True:
            try:
                return await _until(call(), stopping)
            except FlushStopped:
                raise
            except Exception as error:
                if classify(error) == "refused":
                    return error
                self.last_error = error
                await self._backoff("talking to Kafka", stopping)

    async def _backoff(self, what: str, stopping: Callable[[], bool]) -> None:
        log.error("%s failed (%r); retry in %.1fs", what, self.last_error, self._delay)
        await _until(asyncio.sleep(self._delay), stopping)
        self._delay = min(self._delay * 2, _MAX_DELAY)


def _sequences(producer: AIOKafkaProducer, pending: Iterable[tuple[str, int]]) -> dict[Any, int]:
    """The idempotent producer's next sequence number of each partition, before a round."""
    manager = getattr(producer, "_txn_manager", None)
    if manager is None or not hasattr(manager, "_sequence_numbers"):
        return {}
    return {where: manager.sequence_number(TopicPartition(*where)) for where in pending}


def _rewind(
    producer: AIOKafkaProducer,
    where: tuple[str, int],
    sequences: dict[Any, int],
    outcome: "_Outcome",
) -> bool:
    """After a refusal, set the partition's next sequence number to what the broker expects:
    the one before the round plus the records it acknowledged (a refused batch and the ones
    after it were not appended). aiokafka 0.14 has no public call for it, so this reaches
    into its transaction manager; False (the producer is then replaced) when it cannot."""
    manager = getattr(producer, "_txn_manager", None)
    if where not in sequences or manager is None:
        return False
    manager._sequence_numbers[TopicPartition(*where)] = sequences[where] + outcome.written
    return True


async def _partitions(producers: ProducerSlot, topic: str) -> list[int]:
    producer = await producers.get()
    return sorted(await producer.partitions_for(topic))


@dataclass(slots=True)
class _Entry:
    record: Record
    group: int = 0  # isolating a refusal: only entries of one group share a record batch


_Batches = list[tuple["asyncio.Future[Any] | None", list[_Entry]]]


@dataclass
class _Outcome:
    again: list[_Entry] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    error: BaseException | None = None  # the first failure of the partition
    written: int = 0  # records the broker acknowledged


def _settle(where: tuple[str, int], batches: _Batches, offsets: dict[int, int]) -> _Outcome:
    """Sort a partition's batches after a round: written, refused, or to send again."""
    topic, partition = where
    outcome = _Outcome()
    for future, entries in batches:
        error = _error_of(future)
        if error is None and future is not None:
            base = future.result().offset  # a batch's metadata: the offset of its first record
            for n, entry in enumerate(entries):
                offsets[entry.record.serial] = base + n
            outcome.written += len(entries)
            continue
        error = error or kafka.KafkaError("not sent")
        if outcome.error is not None:
            outcome.again += entries  # after the partition's first failure: judged next round
            continue
        outcome.error = error
        if classify(error) != "refused":
            outcome.again += entries
        elif len(entries) == 1:
            record = entries[0].record
            log.error(
                "Kafka refused a record of %d bytes for %s[%d]: %r",
                len(record.value or b""),
                topic,
                partition,
                error,
            )
            outcome.refused.append(_refusal(topic, partition, record, error))
        else:
            # Isolate: each half in record batches of its own, halved again if refused.
            half = len(entries) // 2
            first, second = next(_groups), next(_groups)
            outcome.again += [_Entry(e.record, first) for e in entries[:half]]
            outcome.again += [_Entry(e.record, second) for e in entries[half:]]
    return outcome


def _error_of(future: "asyncio.Future[Any] | None") -> BaseException | None:
    if future is None:
        return None
    error: BaseException | None = (
        kafka.KafkaError("cancelled") if future.cancelled() else future.exception()
    )
    return error


def _refusal(topic: str, partition: int, record: Record, error: BaseException) -> Refused:
    return Refused(record.serial, topic, partition, record.key, len(record.value or b""), error)


async def _send(
    producer: AIOKafkaProducer, where: tuple[str, int], entries: list[_Entry]
) -> _Batches:
    """The entries as record batches (a new one whenever one is full, and one per entry sent
    group). A batch that could not be handed to the producer gets a failed future, and so
    do the ones after it (the partition's order is kept)."""
    topic, partition = where
    batches: _Batches = []
    failed: BaseException | None = None

    async def submit(batch: Any, members: list[_Entry]) -> None:
        nonlocal failed
        if failed is None:
            try:
                future = await producer.send_batch(batch, topic, partition=partition)
                batches.append((future, members))
                return
            except Exception as error:  # not handed over
                failed = error
        batches.append((_failed(failed), members))

    batch, members = producer.create_batch(), list[_Entry]()
    for entry in entries:
        record = entry.record
        if members and entry.group != members[-1].group:
            await submit(batch, members)
            batch, members = producer.create_batch(), []
        if batch.append(key=record.key, value=record.value, timestamp=None) is None:
            if members:  # full: a new batch, where a first record always fits
                await submit(batch, members)
                batch, members = producer.create_batch(), []
            if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                error = kafka.RecordTooLargeError(f"{len(record.value or b'')} bytes fit no batch")
                batches.append((_failed(error), [entry]))
                batch = producer.create_batch()
                continue
        members.append(entry)
    if members:
        await submit(batch, members)
    return batches


def _failed(error: BaseException) -> "asyncio.Future[Any]":
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    future.exception()  # retrieved: no "never retrieved" warning
    return future


async def _settled(futures: list["asyncio.Future[Any]"]) -> None:
    if futures:
        await asyncio.wait(futures)


async def _until(work: Coroutine[Any, Any, _T] | Awaitable[_T], stopping: Callable[[], bool]) -> _T:
    """Await ``work``, looking at ``stopping`` every _POLL seconds; FlushStopped if it is."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=_POLL)
        if done:
            return task.result()
        if stopping():
            task.cancel()
            raise FlushStopped("the worker is stopping")
