"""The worker's metrics: known label sets are exported at 0 before anything happens, so a
rate() over them sees the first event (Prometheus cannot rate a series that starts at 1)."""

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from faust.stores.rocksdb import RocksDBOptions
from prometheus_client import generate_latest

from service.core.compliance import Outcome
from service.core.instant import from_datetime
from service.policyfile import load_policies
from service.worker.app import TABLE_OPTIONS
from service.worker.changelog import rocksdb_memory
from service.worker.compliance import LiveCompliance, exported_months
from service.worker.metrics import Metrics

POLICIES = load_policies(Path(__file__).parent.parent / "deploy" / "policies")


def test_breach_warning_and_met_series_of_every_policy_and_metric_start_at_zero() -> None:
    metrics = Metrics()
    metrics.start_at_zero(POLICIES)
    text = generate_latest(metrics.registry).decode()
    for policy in POLICIES.policies:
        for rule in policy.clocks:
            for kind in ("sla.breach", "sla.warning", "sla.met"):
                series = (
                    f'sla_timer_sla_events_total{{metric="{rule.metric}",'
                    f'policy="{policy.name}",type="{kind}"}} 0.0'
                )
                assert series in text
    assert 'sla_timer_events_invalid_total{reason="internal_error"} 0.0' in text
    assert 'sla_timer_timer_lateness_seconds_count{type="sla.breach"} 0.0' in text


def test_a_thousand_tickets_dated_a_year_apart_make_at_most_fourteen_month_series() -> None:
    metrics = Metrics()
    compliance = LiveCompliance(POLICIES, metrics)
    for year in range(1990, 2990):
        compliance.set(f"t{year}", [Outcome("westock-essential", "resolution", f"{year}-06", True)])
    compliance.export(from_datetime(datetime(2026, 11, 30, tzinfo=UTC)))
    text = generate_latest(metrics.registry).decode()
    months = set(re.findall(r'sla_timer_compliance_attainment_ratio\{.*month="(\d{4}-\d\d)"', text))
    assert months == {"2026-06"}
    assert exported_months(from_datetime(datetime(2026, 1, 15, tzinfo=UTC))) == (
        "2025-01",
        "2026-02",
    )


def test_rocksdb_memory_sums_what_every_open_partition_database_counts(tmp_path: Path) -> None:
    options = RocksDBOptions(**TABLE_OPTIONS)  # the worker's table options
    store = SimpleNamespace(_dbs={p: options.open(tmp_path / f"tickets-{p}.db") for p in (0, 1)})
    empty = rocksdb_memory(store)
    for db in store._dbs.values():
        db.put(b"westock\x1fT-1", b"x" * 100_000)
    found = rocksdb_memory(store)
    for db in store._dbs.values():
        db.close()
    assert set(found) == {"memtables", "block_cache", "table_readers"}
    assert found["memtables"] >= empty["memtables"] + 2 * 100_000  # both memtables hold it
    assert rocksdb_memory(object()) == dict.fromkeys(found, 0)  # the memory store: none
