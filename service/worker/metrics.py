"""Prometheus metrics of the worker (docs/worker.md). No label carries a ticket id."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.core.events import EventType, SlaEventType
from service.core.policy import PolicySet
from service.wire import INVALID_KINDS

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
PROCESSING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


# The kinds of InvalidEvent: what decode refuses (service.wire), what a ticket refuses
# (docs/worker.md), and the worker's own (refused: a record Kafka refused for good, dead-lettered;
# dead_letter_refused: its dead letter refused too, dropped). A label set is exported at 0
# from the start, so rate() and increase() see the first increment.
INVALID_REASONS = (
    *INVALID_KINDS,
    *("too_late", "no_ticket", "attributes", "internal_error"),
    *("refused", "dead_letter_refused"),
)
_ALERTS = (SlaEventType.WARNING, SlaEventType.BREACH)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter(
            "sla_timer_events_consumed", "Input events consumed, by type", ["type"], registry=r
        )
        self.invalid = Counter(
            "sla_timer_events_invalid",
            "Input messages refused and sent to the dead-letter topic, by kind of problem",
            ["reason"],
            registry=r,
        )
        self.sla_events = Counter(
            "sla_timer_sla_events",
            "SLA events published, by type, policy and metric",
            ["type", "policy", "metric"],
            registry=r,
        )
        self.open_clocks = Gauge(
            "sla_timer_open_clocks",
            "Open clock cycles held by this worker, by state",
            ["state"],
            registry=r,
        )
        self.tickets = Gauge(
            "sla_timer_tickets", "Tickets held in memory by this worker", registry=r
        )
        self.rocksdb_memory = Gauge(
            "sla_timer_rocksdb_memory_bytes",
            "Memory RocksDB counts for the table's partition databases, by kind",
            ["kind"],
            registry=r,
        )
        self.lateness = Histogram(
            "sla_timer_timer_lateness_seconds",
            "Warnings and breaches: emitted_at minus the instant they are about",
            ["type"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.processing = Histogram(
            "sla_timer_processing_seconds",
            "Time to process one batch of input messages and due commands, sends included",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "sla_timer_batch_size",
            "Messages per batch taken from the input and due topics",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.ready = Gauge("sla_timer_ready", "1 once tables are recovered", registry=r)
        self.preloaded = Gauge(
            "sla_timer_changelog_preloaded_records",
            "Changelog records bulk-loaded into the local store before Faust's recovery",
            registry=r,
        )
        self.input_rewinds = Counter(
            "sla_timer_input_rewinds",
            "Input partitions sought back to messages fetched but never delivered",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "sla_timer_consumer_lag",
            "Input messages not yet processed (end offset minus position), by owned partition",
            ["topic", "partition"],
            registry=r,
        )
        # Compliance (docs/semantics.md): cycles per policy, metric and calendar month (in the
        # policy calendar's zone, by the instant of each cycle's outcome). Counts are exported
        # so several workers can be summed; the ratio is this worker's own.
        self.compliance_cycles = Gauge(
            "sla_timer_compliance_cycles",
            "Cycles counted for compliance by this worker, by outcome (met or breached)",
            ["policy", "metric", "month", "outcome"],
            registry=r,
        )
        self.compliance_attainment = Gauge(
            "sla_timer_compliance_attainment_ratio",
            "met / (met + breached) of this worker's cycles, per policy, metric and month",
            ["policy", "metric", "month"],
            registry=r,
        )
        self.compliance_target = Gauge(
            "sla_timer_compliance_target_ratio",
            "The policy's compliance.target as a ratio (policies that set one)",
            ["policy"],
            registry=r,
        )

    def start_at_zero(self, policies: PolicySet) -> None:
        """Export the label sets known in advance, at 0."""
        for event_type in EventType:
            self.consumed.labels(event_type.value)
        for reason in INVALID_REASONS:
            self.invalid.labels(reason)
        for kind in _ALERTS:
            self.lateness.labels(kind.value)
        for policy in policies.policies:
            for rule in policy.clocks:
                for kind in (*_ALERTS, SlaEventType.MET):
                    self.sla_events.labels(kind.value, policy.name, rule.metric)
