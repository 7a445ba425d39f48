"""Prometheus metrics of the worker (SPEC §7). No label carries a ticket id."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
PROCESSING_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1)


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
        self.lateness = Histogram(
            "sla_timer_timer_lateness_seconds",
            "Warnings and breaches: emitted_at minus the instant they are about",
            ["type"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.processing = Histogram(
            "sla_timer_processing_seconds",
            "Time to process one input message or due command",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.ready = Gauge("sla_timer_ready", "1 once tables are recovered", registry=r)
