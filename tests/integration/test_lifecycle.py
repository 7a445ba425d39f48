"""docs/worker.md on the real broker: a chatty ticket does not hold up the others, a finished
ticket leaves memory and is forgotten after SLA_RETENTION, refused events are dead letters."""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.worker_process import (
    Tickets,
    WorkerProcess,
    parse,
    produce,
    produce_and_collect,
    run,
)

pytestmark = pytest.mark.integration


async def changelog_records(worker: WorkerProcess, key: bytes) -> list[bytes | None]:
    """Every changelog value written for ``key`` (None for a tombstone), from the start."""
    consumer = AIOKafkaConsumer(
        f"{worker.name}-tickets-changelog",
        bootstrap_servers=worker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[bytes | None] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                found += [r.value for r in records if r.key == key]
    finally:
        await consumer.stop()
    return found


def test_a_25000_event_ticket_does_not_hold_up_100_tickets_that_breach(
    worker: WorkerProcess,
) -> None:
    tickets = Tickets()
    others = [(f"T{n}".encode(), tickets.event(f"T{n}", "ticket_created")) for n in range(100)]
    loop = [(b"LOOP", tickets.event("LOOP", "ticket_created"))]
    loop += [
        (b"LOOP", tickets.event("LOOP", "customer_reply", after=i / 1e4)) for i in range(25_000)
    ]

    received = run(produce_and_collect(worker, ["sla-breaches"], others, 25, loop))
    breaches = {r.body["ticket_id"]: r for r in received if r.body["metric"] == "first_response"}
    assert {f"T{n}" for n in range(100)} <= set(breaches)
    late = max(r.at - parse(r.body["occurred_at"]) for t, r in breaches.items() if t != "LOOP")
    assert late < timedelta(seconds=5), late
    values = run(changelog_records(worker, b"default\x1fLOOP"))
    assert max(len(v or b"") for v in values) < 64 * 1024  # bounded, not 1 MB and growing


def test_a_finished_ticket_is_forgotten_after_its_retention_and_leaves_memory(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    # Until then it is one of the settled tickets kept in memory (the step's unit tests
    # show one leaving memory once enough others were written after it).
    worker = WorkerProcess(policy_dir, tmp_path / "data", extra_env={"SLA_RETENTION": "10s"})
    worker.start()
    try:
        tickets = Tickets()
        messages = [
            (b"F", tickets.event("F", "ticket_created")),
            (b"F", tickets.event("F", "agent_reply", after=0.2)),
            (b"F", tickets.event("F", "status_change", after=0.4, status="solved")),
        ]
        run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
        deadline = time.monotonic() + 15
        while worker.get("/tickets/default/F")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.get("/tickets/default/F")[0] == 200
        deadline = time.monotonic() + 60
        while worker.get("/tickets/default/F")[0] != 404 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker.get("/tickets/default/F")[0] == 404
        values = run(changelog_records(worker, b"default\x1fF"))
        assert values and values[-1] is None  # a tombstone: compaction drops the ticket
        time.sleep(11)  # gauges are recounted every 10 s
        assert worker.metric("sla_timer_tickets") == 0  # it left memory
    finally:
        worker.stop()


def test_an_event_dated_before_what_a_ticket_kept_is_a_too_late_dead_letter(
    worker: WorkerProcess,
) -> None:
    tickets = Tickets()
    messages = [(b"M", tickets.event("M", "ticket_created"))]
    messages += [
        (b"M", tickets.event("M", "customer_reply", after=1 + i / 100)) for i in range(300)
    ]
    messages += [(b"M", tickets.event("M", "agent_reply", after=0.5))]  # before the snapshot

    dead = run(produce_and_collect(worker, ["ticket-events-dlq"], messages, 10))
    assert len(dead) == 1
    assert dead[0].body["reason"].startswith("too late")
    assert json.loads(dead[0].body["original"])["type"] == "agent_reply"


def test_events_of_a_ticket_never_created_end_as_no_ticket_dead_letters_after_the_hold(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data", extra_env={"SLA_HOLD": "2s"})
    worker.start()
    try:
        tickets = Tickets()
        messages = [
            (b"GHOST", tickets.event("GHOST", "customer_reply")),
            (b"GHOST", tickets.event("GHOST", "agent_reply", after=0.5)),
        ]

        dead = run(produce_and_collect(worker, ["ticket-events-dlq"], messages, 12))
        assert sorted(json.loads(d.body["original"])["event_id"] for d in dead) == [
            "GHOST-1",
            "GHOST-2",
        ]
        assert all(d.body["reason"].startswith("no ticket") for d in dead)
        assert worker.metric("sla_timer_events_invalid_total", reason="no_ticket") == 2
        assert worker.get("/tickets/default/GHOST")[0] == 404  # forgotten with its events
    finally:
        worker.stop()
