"""docs/worker.md on the real broker: policies changed between restarts take effect at once."""

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.worker_process import Tickets, WorkerProcess, collect, parse, produce, run

pytestmark = pytest.mark.integration

POLICY = """
calendars:
  always: {{timezone: UTC, hours: 24x7}}
policies:
  - name: live
    calendar: always
    clocks:
      - {{metric: first_response, targets: [{{breach_after: {target}}}]}}
"""


def test_a_target_cut_from_an_hour_to_15s_fires_after_the_restart_not_at_the_old_deadline(
    bootstrap: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "live.yaml").write_text(POLICY.format(target="1h"))
    worker = WorkerProcess(policies, tmp_path / "data")
    worker.start()
    tickets = Tickets()
    names = [f"P{n}" for n in range(50)]
    try:
        messages = [(t.encode(), tickets.event(t, "ticket_created")) for t in names]
        run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
        deadline = time.monotonic() + 30
        while worker.metric("sla_timer_events_consumed_total") < 50:
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
        time.sleep(1.0)  # the batch's table writes
    finally:
        worker.stop()
    (policies / "live.yaml").write_text(POLICY.format(target="15s"))
    worker.start()
    try:
        topic = worker.topic("sla-breaches")
        received = run(asyncio.wait_for(collect(worker.bootstrap, [topic], seconds=30), 60))
    finally:
        worker.stop()
    breaches = [r for r in received if r.body["metric"] == "first_response"]
    assert sorted(r.body["ticket_id"] for r in breaches) == sorted(names)  # once each
    for breach in breaches:  # on the new target, at the instant it was reached
        assert breach.body["target_seconds"] == 15
        assert parse(breach.body["occurred_at"]) - tickets.base < timedelta(seconds=16)
