"""The worker's metrics: known label sets are exported at 0 before anything happens, so a
rate() over them sees the first event (Prometheus cannot rate a series that starts at 1)."""

from pathlib import Path

from prometheus_client import generate_latest

from service.policyfile import load_policies
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
