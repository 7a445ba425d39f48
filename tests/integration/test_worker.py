"""The streaming worker on the real broker: timers, topics, dead letters, HTTP, restarts."""

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.core.engine import Engine, ticket_key
from service.policyfile import load_policies
from service.views import ticket_state
from service.wire import decode, parse_timestamp
from tests.integration.worker_process import (
    Received,
    Tickets,
    WorkerProcess,
    collect,
    parse,
    produce,
    produce_and_collect,
    produce_many,
    run,
)

pytestmark = pytest.mark.integration


async def produce_then_collect(
    worker: WorkerProcess, messages: list[tuple[bytes, bytes]], seconds: float
) -> list[Received]:
    topics = ["sla-events", "sla-warnings", "sla-breaches"]
    return await produce_and_collect(worker, topics, messages, seconds)


def test_warnings_and_breaches_arrive_once_on_time_with_no_further_events(
    worker: WorkerProcess,
) -> None:
    tickets = Tickets()
    messages = [
        (b"A", tickets.event("A", "ticket_created")),  # never answered
        (b"B", tickets.event("B", "ticket_created")),
        (b"B", tickets.event("B", "agent_reply", after=0.5)),  # first response met
        (b"C", tickets.event("C", "ticket_created")),
        (b"C", tickets.event("C", "status_change", after=0.5, status="solved")),  # all stopped
    ]
    received = run(produce_then_collect(worker, messages, seconds=11))
    alerts = [r for r in received if r.topic != worker.topic("sla-events")]
    seen = Counter(
        (r.topic.rsplit("-", 1)[-1], r.body["ticket_id"], r.body["metric"]) for r in alerts
    )
    assert seen == {
        ("warnings", "A", "first_response"): 1,
        ("breaches", "A", "first_response"): 1,
        ("breaches", "A", "resolution"): 1,
        ("breaches", "B", "resolution"): 1,
    }
    for alert in alerts:  # each within 2 s of its instant, emitted and received
        instant = parse(alert.body["occurred_at"])
        assert parse(alert.body["emitted_at"]) - instant < timedelta(seconds=2)
        assert alert.at - instant < timedelta(seconds=2), alert.body
    events = Counter(
        (r.body["ticket_id"], r.body["type"], r.body["metric"])
        for r in received
        if r.topic == worker.topic("sla-events")
    )
    assert events[("B", "sla.met", "first_response")] == 1
    assert events[("C", "sla.met", "resolution")] == 1
    assert events[("C", "sla.cancelled", "first_response")] == 1
    assert max(events.values()) == 1


def test_malformed_messages_go_to_the_dead_letter_topic_and_the_rest_is_processed(
    worker: WorkerProcess,
) -> None:
    tickets = Tickets()
    bad = [
        b"not json",
        b"[1,2]",
        b'{"type": "ticket_created"}',
        tickets.event("X", "ticket_deleted"),
        tickets.event("Y", "ticket_created").replace(b"Z", b""),
    ]
    good = [tickets.event(f"G{i}", "ticket_created") for i in range(3)]
    messages = [
        (b"k", good[0]),
        *[(b"k", body) for body in bad[:3]],
        (b"k", good[1]),
        *[(b"k", body) for body in bad[3:]],
        (b"k", good[2]),
    ]
    run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
    dead = run(collect(worker.bootstrap, [worker.topic("ticket-events-dlq")], seconds=4))
    assert sorted(d.body["original"].encode() for d in dead) == sorted(bad)
    for letter in dead:
        assert letter.body["reason"]
        assert letter.body["topic"] == worker.topic("ticket-events")
        assert isinstance(letter.body["partition"], int) and isinstance(letter.body["offset"], int)
    reasons = {d.body["original"]: d.body["reason"] for d in dead}
    assert reasons["not json"].startswith("not JSON")
    assert "is not an event type" in reasons[bad[3].decode()]
    assert "RFC 3339" in reasons[bad[4].decode()]
    status, metrics = worker.get("/metrics")
    assert status == 200
    assert 'sla_timer_events_invalid_total{reason="not_json"} 1.0' in metrics
    assert 'sla_timer_events_invalid_total{reason="unknown_type"} 1.0' in metrics
    assert 'sla_timer_events_consumed_total{type="ticket_created"} 3.0' in metrics
    for i in range(3):
        assert worker.get(f"/tickets/default/G{i}")[0] == 200


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "kill"])
def test_every_breach_arrives_exactly_once_across_a_restart(
    worker: WorkerProcess, how: signal.Signals
) -> None:
    tickets = Tickets()
    messages = [(t.encode(), tickets.event(t, "ticket_created")) for t in ("R1", "R2", "R3")]
    run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
    before = run(collect(worker.bootstrap, [worker.topic("sla-events")], seconds=1.2))
    started = [r for r in before if r.body["type"] == "sla.started"]
    assert len(started) == 6  # both clocks of three tickets, before the stop
    worker.stop(how)
    worker.start()
    received = run(collect(worker.bootstrap, [worker.topic("sla-breaches")], seconds=9))
    breaches = Counter((r.body["ticket_id"], r.body["metric"]) for r in received)
    assert breaches == {
        (t, m): 1 for t in ("R1", "R2", "R3") for m in ("first_response", "resolution")
    }
    assert len({r.body["event_id"] for r in received}) == 6


def test_ticket_state_over_http_matches_the_engine_on_the_same_events(
    worker: WorkerProcess,
) -> None:
    tickets = Tickets()
    history = [
        tickets.event("H", "ticket_created", after=-100, attributes={"priority": "high"}),
        tickets.event("H", "status_change", after=-90, status="pending"),
        tickets.event("H", "status_change", after=-85, status="open"),
        tickets.event("H", "agent_reply", after=-80),
    ]
    run(produce(worker.bootstrap, worker.topic("ticket-events"), [(b"H", e) for e in history]))
    status, body = 0, None
    for _ in range(50):
        status, body = worker.get("/tickets/default/H")
        if status == 200 and body["events"] == len(history):
            break
        run(asyncio.sleep(0.1))
    assert status == 200
    engine = Engine(load_policies(worker.policy_dir))
    for raw in history:
        event = decode(raw)
        engine.receive(event, event.occurred_at)
    as_of = parse_timestamp(body["as_of"])
    engine.advance(as_of)
    expected = ticket_state(engine.tickets[ticket_key("default", "H")], as_of)
    assert body == expected


def test_grace_holds_breaches_back_so_a_late_reply_prevents_them(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data", extra_env={"SLA_GRACE": "2s"})
    worker.start()
    try:
        tickets = Tickets()
        created = [(t.encode(), tickets.event(t, "ticket_created")) for t in ("G1", "G2")]
        # G2's reply happened at 2.5 s, before its 3 s deadline, but reaches Kafka at about 4 s.
        late_reply = (b"G2", tickets.event("G2", "agent_reply", after=2.5))

        async def scenario() -> list[Received]:
            topics = [worker.topic("sla-events")]
            collecting = asyncio.create_task(collect(worker.bootstrap, topics, seconds=8))
            await produce(worker.bootstrap, worker.topic("ticket-events"), created)
            await asyncio.sleep(4 - (datetime.now(UTC) - tickets.base).total_seconds())
            await produce(worker.bootstrap, worker.topic("ticket-events"), [late_reply])
            return await collecting

        received = run(scenario())
    finally:
        worker.stop()
    kinds = Counter((r.body["ticket_id"], r.body["type"], r.body["metric"]) for r in received)
    assert kinds[("G1", "sla.breach", "first_response")] == 1
    assert kinds[("G2", "sla.met", "first_response")] == 1
    assert ("G2", "sla.breach", "first_response") not in kinds
    assert not [r for r in received if r.body["type"] == "sla.retracted"]
    breach = next(
        r
        for r in received
        if r.body["type"] == "sla.breach" and r.body["metric"] == "first_response"
    )
    waited = parse(breach.body["emitted_at"]) - parse(breach.body["occurred_at"])
    assert timedelta(seconds=2) <= waited < timedelta(seconds=4)


def _compliance(worker: WorkerProcess) -> dict[tuple[str, str, str], float]:
    """sla_timer_compliance_* series from /metrics: (name, metric, outcome or '') -> value."""
    return {
        (sample.name, sample.labels.get("metric", ""), sample.labels.get("outcome", "")): (
            sample.value
        )
        for sample in worker.samples()
        if sample.name.startswith("sla_timer_compliance_") and sample.labels
    }


def test_compliance_gauges_count_met_and_breached_cycles_and_survive_lost_local_state(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    tickets = Tickets()
    messages = [
        (b"A", tickets.event("A", "ticket_created")),  # both clocks breach
        (b"B", tickets.event("B", "ticket_created")),
        (b"B", tickets.event("B", "agent_reply", after=0.5)),  # first response met
        (b"C", tickets.event("C", "ticket_created")),
        (b"C", tickets.event("C", "status_change", after=0.5, status="solved")),
    ]
    run(produce_then_collect(worker, messages, seconds=9))
    expected = {
        ("sla_timer_compliance_cycles", "first_response", "met"): 1.0,  # B
        ("sla_timer_compliance_cycles", "first_response", "breached"): 1.0,  # A
        ("sla_timer_compliance_attainment_ratio", "first_response", ""): 0.5,
        ("sla_timer_compliance_cycles", "resolution", "met"): 1.0,  # C (its first response
        ("sla_timer_compliance_cycles", "resolution", "breached"): 2.0,  # was cancelled)
        ("sla_timer_compliance_attainment_ratio", "resolution", ""): pytest.approx(1 / 3),
    }
    assert _compliance(worker) == expected
    # A new worker with empty local state rebuilds the tally from the table's changelog.
    worker.stop()
    fresh = WorkerProcess(worker.policy_dir, tmp_path / "fresh-data", name=worker.name)
    fresh.start()
    try:
        assert _compliance(fresh) == expected
    finally:
        fresh.stop()


def test_a_worker_with_empty_local_state_bulk_loads_a_long_changelog_and_goes_on(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    quiet = Tickets(base=datetime.now(UTC) + timedelta(hours=1))  # deadlines far off
    count = 12_000  # 6,000 changelog records per partition: above the bulk-load threshold
    messages = [(f"Q{n}".encode(), quiet.event(f"Q{n}", "ticket_created")) for n in range(count)]
    messages.append((b"SOON", Tickets().event("SOON", "ticket_created", after=3)))
    run(produce_many(worker.bootstrap, worker.topic("ticket-events"), messages))
    deadline = time.monotonic() + 60
    while worker.metric("sla_timer_events_consumed_total") < count + 1:
        assert time.monotonic() < deadline, "the first worker did not take every event"
        time.sleep(0.5)
    _, before = worker.get("/tickets/default/Q7")
    worker.stop()

    fresh = WorkerProcess(worker.policy_dir, tmp_path / "fresh-data", name=worker.name)
    fresh.start()
    try:
        # Ready can come before the group gives it the partitions (the stopped worker's
        # leaving may still be pending on a loaded machine): wait for them, then it loads.
        deadline = time.monotonic() + 60
        while fresh.metric("sla_timer_changelog_preloaded_records") < count:
            assert time.monotonic() < deadline, fresh.log_tail()
            time.sleep(0.5)
        _, after = fresh.get("/tickets/default/Q7")
        assert {**after, "as_of": None} == {**before, "as_of": None}
        reply = (b"Q7", quiet.event("Q7", "agent_reply", after=1))  # within its 3 s
        run(produce(fresh.bootstrap, fresh.topic("ticket-events"), [reply]))
        received = run(collect(fresh.bootstrap, [fresh.topic("sla-events")], seconds=8))
    finally:
        fresh.stop()
    q7 = Counter(
        (r.body["type"], r.body["metric"]) for r in received if r.body["ticket_id"] == "Q7"
    )
    assert q7 == {  # what the first worker published, and the met: nothing twice
        ("sla.started", "first_response"): 1,
        ("sla.started", "resolution"): 1,
        ("sla.met", "first_response"): 1,
    }
    soon = [r for r in received if r.body["ticket_id"] == "SOON" and r.body["type"] == "sla.breach"]
    # due instants survive too: each clock breaches once, whichever worker it fell to
    assert sorted(r.body["metric"] for r in soon) == ["first_response", "resolution"]


def test_a_second_worker_takes_over_partitions_and_every_breach_still_arrives_once(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    tickets = Tickets()
    names = [f"RB{n}" for n in range(20)]
    messages = [(t.encode(), tickets.event(t, "ticket_created", after=1)) for t in names]
    run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
    second = WorkerProcess(worker.policy_dir, tmp_path / "second-data", name=worker.name)
    second.start()  # joins the group while the clocks run: the partitions are shared out
    try:
        received = run(collect(worker.bootstrap, [worker.topic("sla-breaches")], seconds=14))
        owners = [w for w in (worker, second) if w.metric("sla_timer_tickets") > 0]
    finally:
        second.stop()
    breaches = Counter((r.body["ticket_id"], r.body["metric"]) for r in received)
    assert breaches == {(t, m): 1 for t in names for m in ("first_response", "resolution")}
    assert len(owners) == 2  # each worker held tickets of its own partitions
