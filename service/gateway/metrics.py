"""Prometheus metrics of the gateway. Labels take only configured source names and kinds, and
a fixed set of outcomes: nothing a request sends can add a label value."""

from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

OUTCOMES = ("accepted", "ignored", "dead_letter", "unauthorized", "too_large", "unavailable")
PRODUCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


class GatewayMetrics:
    def __init__(self, sources: Iterable[Named], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sla_gateway_requests",
            "Webhook deliveries by source, kind and outcome (unknown_source: no such source)",
            ["source", "kind", "outcome"],
            registry=r,
        )
        self.signature_failures = Counter(
            "sla_gateway_signature_failures",
            "Deliveries refused with 401: signature or token missing, wrong or stale",
            ["source", "kind"],
            registry=r,
        )
        self.mapping_failures = Counter(
            "sla_gateway_mapping_failures",
            "Verified deliveries that could not be mapped and went to the dead-letter topic",
            ["source", "kind"],
            registry=r,
        )
        self.events = Counter(
            "sla_gateway_events_produced",
            "Input events produced to Kafka and acknowledged",
            ["source", "kind"],
            registry=r,
        )
        self.produce_seconds = Histogram(
            "sla_gateway_produce_seconds",
            "Time Kafka took to acknowledge a delivery's records",
            buckets=PRODUCE_BUCKETS,
            registry=r,
        )
        self.requests.labels("", "", "unknown_source")
        for source in sources:  # at 0 from the start, so rate() sees the first increment
            for outcome in OUTCOMES:
                self.requests.labels(source.name, source.kind, outcome)
            for counter in (self.signature_failures, self.mapping_failures, self.events):
                counter.labels(source.name, source.kind)
