"""Records a batch produces, sent to Kafka as one record batch per topic partition.

aiokafka's ``send`` costs a future and a trip through its accumulator per record; the
worker sends hundreds of records per batch (outputs, dead letters, changelog), so it builds
record batches itself (``create_batch``/``send_batch``, aiokafka's public batch API) and
waits for one acknowledgement per partition. Keyed records without a partition go where
Kafka's default partitioner (murmur2 of the key, as in aiokafka and the Java client) puts
them, so consumers see one ticket's events in one partition, in order.
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

log = logging.getLogger(__name__)
_partitioner = DefaultPartitioner()


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes | None  # None: a tombstone


@dataclass
class Outbox:
    """Records by (topic, partition); ``flush`` sends them all and returns, per topic
    partition, the offset of each record in the order added."""

    records: dict[tuple[str, int | None], list[Record]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        self.records[(topic, partition)].append(Record(key, value))

    def __len__(self) -> int:
        return sum(len(records) for records in self.records.values())

    async def flush(self, producer: AIOKafkaProducer) -> dict[tuple[str, int], int]:
        """Send everything, retrying what fails until it is acknowledged; return the offset
        of the last record written to each (topic, partition)."""
        placed: dict[tuple[str, int], list[Record]] = defaultdict(list)
        for (topic, partition), records in self.records.items():
            if partition is not None:
                placed[(topic, partition)] += records
                continue
            partitions = sorted(await producer.partitions_for(topic))
            for record in records:
                chosen = _partitioner(record.key, partitions, partitions)
                placed[(topic, chosen)].append(record)
        last_offsets: dict[tuple[str, int], int] = {}
        delay = 0.5
        pending = dict(placed)
        while pending:
            sent = {where: await _send(producer, where, pending[where]) for where in pending}
            failed: dict[tuple[str, int], list[Record]] = {}
            for where, batches in sent.items():
                results = await asyncio.gather(*(f for f, _ in batches), return_exceptions=True)
                errors = [r for r in results if isinstance(r, BaseException)]
                last = results[-1]
                if errors or isinstance(last, BaseException):
                    failed[where] = pending[where]
                    log.error("sending to %s failed (%r); retry in %.1fs", where, errors[0], delay)
                else:  # a batch's metadata carries the offset of its first record
                    last_offsets[where] = last.offset + batches[-1][1] - 1
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            pending = failed
        return last_offsets


async def _send(
    producer: AIOKafkaProducer, where: tuple[str, int], records: list[Record]
) -> list[tuple["asyncio.Future[RecordMetadata]", int]]:
    """The records as record batches (a new one whenever one is full): (future, count)."""
    topic, partition = where
    batches = []
    batch, count = producer.create_batch(), 0
    for record in records:
        while batch.append(key=record.key, value=record.value, timestamp=None) is None:
            if count == 0:
                size = len(record.value or b"")
                raise ValueError(f"a record of {size} bytes does not fit a batch")
            batches.append((await producer.send_batch(batch, topic, partition=partition), count))
            batch, count = producer.create_batch(), 0
        count += 1
    if count:
        batches.append((await producer.send_batch(batch, topic, partition=partition), count))
    return batches
