"""The ticket table's changelog: writing acked records to the local store, and a table that
reads a long changelog backlog in bulk before Faust's recovery.

Faust restores a table one changelog record at a time, through its per-message consumer
path: about 6,400 records/s here, so 1,000,000 tickets took 175 s. When a partition is
assigned whose local store is far behind its changelog (a new machine, a lost volume),
this table first reads the backlog with a plain aiokafka consumer in batches of thousands
and writes it with ``Store.apply_changelog_batch`` - the call Faust's own recovery uses,
which also records the persisted offset - so Faust's recovery, which starts at the
persisted offset, only has the tail left. A store that persists nothing (memory) is left
to Faust.
"""

import logging
import time
from collections.abc import Iterable
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faust.types import TP, EventT, StoreT

from service.connection import Connection

log = logging.getLogger(__name__)
BACKLOG = 5_000  # records behind a partition's local store: fewer are left to Faust
FETCH_RECORDS = 5_000
ROCKSDB_MEMORY = {
    "memtables": "rocksdb.size-all-mem-tables",
    "block_cache": "rocksdb.block-cache-usage",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}
"""What RocksDB holds in memory for a database, by kind -> the property that counts it."""


class PreloadingTable(faust.Table[bytes, bytes]):
    """``faust.Table`` plus ``bootstrap``: how to reach the brokers to read a backlog from
    (None = never)."""

    def __init__(self, *args: Any, bootstrap: Connection | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bootstrap = bootstrap
        self.preloaded = 0  # records read in bulk since the worker started

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        if self.bootstrap and self.app.conf.store.scheme != "memory":
            changelog = self.changelog_topic.get_topic_name()
            actives = [tp for tp in self.app.assignor.assigned_actives() if tp.topic == changelog]
            if actives:
                await self._preload(actives)

    async def _preload(self, tps: list[TP]) -> None:
        store = cast(StoreT[bytes, bytes], self.data)
        assert self.bootstrap is not None
        consumer = AIOKafkaConsumer(
            **self.bootstrap.client_options(),
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(tp.topic, tp.partition) for tp in tps]
            ends = await consumer.end_offsets(partitions)
            todo = {}
            for tp in partitions:
                persisted = store.persisted_offset(TP(tp.topic, tp.partition))
                start = 0 if persisted is None else persisted + 1
                if ends[tp] - start > BACKLOG:
                    todo[tp] = start
            if not todo:
                return
            started, count = time.monotonic(), 0
            consumer.assign(list(todo))
            for tp, start in todo.items():
                consumer.seek(tp, start)
            remaining = set(todo)
            while remaining:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
                for records in fetched.values():
                    apply_to_store(store, (ChangelogRecord.of(r) for r in records))
                    count += len(records)
                    self.preloaded += len(records)
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
            log.info(
                "preloaded %d changelog records of %d partitions in %.1f s",
                count,
                len(todo),
                time.monotonic() - started,
            )
        finally:
            await consumer.stop()


class ChangelogRecord:
    """A changelog record as ``Store.apply_changelog_batch`` reads it (``event.message.*``)."""

    __slots__ = ("key", "offset", "tp", "value")

    def __init__(self, tp: TP, offset: int, key: bytes | None, value: bytes | None) -> None:
        self.tp = tp
        self.offset = offset
        self.key = key
        self.value = value

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> "ChangelogRecord":
        return cls(TP(record.topic, record.partition), record.offset, record.key, record.value)

    @property
    def message(self) -> "ChangelogRecord":
        return self

    @property
    def partition(self) -> int:
        return self.tp.partition


def apply_to_store(store: StoreT[bytes, bytes], records: Iterable[ChangelogRecord]) -> None:
    """Write values and their changelog offsets, one write batch per partition: what Faust
    does for a standby replica or a recovering table."""
    store.apply_changelog_batch([cast(EventT[bytes], r) for r in records], _same, _same)


def _same(value: Any) -> Any:
    return value


def rocksdb_memory(store: object) -> dict[str, int]:
    """Bytes RocksDB counts in memory, by kind (``ROCKSDB_MEMORY``), summed over the store's
    open partition databases (Faust's ``Store._dbs``, rocksdict); zeros for another store."""
    dbs: dict[int, Any] = getattr(store, "_dbs", None) or {}
    return {
        kind: sum(db.property_int_value(name) or 0 for db in dbs.values())
        for kind, name in ROCKSDB_MEMORY.items()
    }
