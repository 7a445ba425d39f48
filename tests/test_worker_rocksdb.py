"""The worker's RocksDB ticket table: the block cache of each partition's database is capped
(Faust's default is 2 GiB each), by ``SLA_ROCKSDB_BLOCK_CACHE_MIB``. No broker: building the
worker builds Faust's store, which opens a partition's database when asked."""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faust.stores.rocksdb import DEFAULT_BLOCK_CACHE_SIZE

from service.core.errors import SlaTimerError
from service.policyfile import load_policies
from service.settings import Settings
from service.worker.app import TABLE_OPTIONS, SlaWorker

POLICIES = load_policies(Path(__file__).parents[1] / "deploy" / "policies")
MIB = 2**20


@pytest.fixture
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Faust's RocksDB store of a worker built with the environment ``request.param``."""
    settings = Settings.from_env({"SLA_DATA_DIR": str(tmp_path), **request.param})
    worker = SlaWorker(settings, POLICIES)
    store = worker.table.data
    yield store
    for db in store._dbs.values():
        db.close()
    logging.getLogger("aiokafka").removeHandler(worker.login)


@pytest.mark.parametrize(
    ("store", "capacity"),
    [({}, 16 * MIB), ({"SLA_ROCKSDB_BLOCK_CACHE_MIB": "8"}, 8 * MIB)],
    indirect=["store"],
)
def test_each_partition_database_opens_with_the_configured_block_cache(
    store: Any, capacity: int
) -> None:
    assert store.rocksdb_options.block_cache_size == capacity
    assert store.rocksdb_options.write_buffer_size == TABLE_OPTIONS["write_buffer_size"]
    db = store._db_for_partition(0)  # as the worker opens it (Faust's own method)
    assert db.property_int_value("rocksdb.block-cache-capacity") == capacity
    assert capacity < DEFAULT_BLOCK_CACHE_SIZE


def test_the_default_options_carry_the_default_block_cache() -> None:
    """What memory_bench and the RocksDB memory test open their databases with."""
    assert TABLE_OPTIONS["block_cache_size"] == Settings.from_env({}).rocksdb_block_cache


@pytest.mark.parametrize("text", ["0", "lots", "65537", "16MiB"])
def test_a_block_cache_that_is_not_a_whole_number_of_mib_is_refused(text: str) -> None:
    with pytest.raises(SlaTimerError) as error:
        Settings.from_env({"SLA_ROCKSDB_BLOCK_CACHE_MIB": text})
    assert f"SLA_ROCKSDB_BLOCK_CACHE_MIB={text!r}: use a whole number from 1 to 65536" in str(
        error.value
    )
