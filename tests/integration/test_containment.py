"""No record the broker refuses stops the worker; a stalled worker says so; SIGTERM ends it.

Real broker, real worker process. A topic the worker writes to is created beforehand with
a ``max.message.bytes`` that makes the broker refuse what the worker sends. A second broker
of the module's own, frozen (SIGSTOP) or stopped under a worker, stands for an unreachable
cluster without touching the shared one. (``min.insync.replicas`` above the replication
factor does not stall a producer on this Kafka 4.3 single-node broker: it accepts.)
"""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from tests.integration.kafka_broker import REPO_ROOT, _run_script, acreate_topics
from tests.integration.worker_process import (
    Received,
    Tickets,
    WorkerProcess,
    collect,
    parse,
    produce,
    produce_many,
    run,
)

pytestmark = pytest.mark.integration
SESSION_TIMEOUT = 6.0  # WorkerProcess's SLA_SESSION_TIMEOUT
STOP_DEADLINE = SESSION_TIMEOUT + 10


async def _create_topic(bootstrap: str, name: str, partitions: int, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
    finally:
        await admin.close()
    await acreate_topics(bootstrap, {name: partitions})  # waits for the partition leaders


def _wait_for(worker: WorkerProcess, status: int, seconds: float) -> tuple[float, object]:
    """Poll /readyz until it answers ``status``: (seconds it took, the body)."""
    started = time.monotonic()
    code, body = 0, None
    while time.monotonic() - started < seconds:
        code, body = worker.get("/readyz")
        if code == status:
            return time.monotonic() - started, body
        time.sleep(0.2)
    consumed = worker.metric("sla_timer_events_consumed_total")
    raise AssertionError(
        f"/readyz not {status} after {seconds}s ({code} {body!r}, {consumed} consumed): "
        f"{worker.log_tail()}"
    )


def _stop_timed(worker: WorkerProcess) -> tuple[float, int | None]:
    """SIGTERM, then wait for the exit: (seconds, exit code), killing it after the deadline."""
    assert worker.process is not None
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    try:
        code = worker.process.wait(STOP_DEADLINE + 5)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(10)
        return time.monotonic() - started, None
    return time.monotonic() - started, code


def test_a_record_the_broker_refuses_is_dead_lettered_and_every_other_ticket_goes_on(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data")
    events_topic = worker.topic("sla-events")
    run(_create_topic(bootstrap, events_topic, 2, **{"max.message.bytes": "4000"}))
    worker.start()
    try:
        tickets = Tickets()
        names = [f"N{n}" for n in range(100)]
        huge = tickets.event("HUGE", "ticket_created", attributes={"notes": "x" * 4_000})
        messages = [(t.encode(), tickets.event(t, "ticket_created")) for t in names[:50]]
        # Its SLA events copy the attributes: over the topic's 4,000 bytes (a value may hold
        # 4,096 characters).
        messages += [(b"HUGE", huge)]
        messages += [(t.encode(), tickets.event(t, "ticket_created")) for t in names[50:]]

        async def scenario() -> list[Received]:
            topics = [events_topic, worker.topic("sla-breaches"), worker.topic("ticket-events-dlq")]
            collecting = asyncio.create_task(collect(worker.bootstrap, topics, seconds=11))
            await asyncio.sleep(1.0)
            await produce(worker.bootstrap, worker.topic("ticket-events"), messages)
            return await collecting

        received = run(scenario())
        refused_count = worker.metric("sla_timer_events_invalid_total", reason="refused")
        assert worker.get("/readyz")[0] == 200
    finally:
        worker.stop()
    partition_of = {t: DefaultPartitioner()(t.encode(), [0, 1], [0, 1]) for t in [*names, "HUGE"]}
    assert [t for t in names if partition_of[t] == partition_of["HUGE"]]  # neighbours
    assert {partition_of[t] for t in names} == {0, 1}
    by_topic: dict[str, list[Received]] = {}
    for r in received:
        by_topic.setdefault(r.topic.removeprefix(f"{worker.name}-"), []).append(r)
    # every normal ticket's breach, once and on time, on both input partitions
    breaches = [r for r in by_topic.get("sla-breaches", []) if r.body["ticket_id"] != "HUGE"]
    seen = Counter((r.body["ticket_id"], r.body["metric"]) for r in breaches)
    assert seen == {(t, m): 1 for t in names for m in ("first_response", "resolution")}
    for breach in breaches:
        assert breach.at - parse(breach.body["occurred_at"]) < timedelta(seconds=2), breach.body
    # the rest of HUGE's batch was written: every normal ticket's clocks started
    started = Counter(
        r.body["ticket_id"]
        for r in by_topic[events_topic.removeprefix(f"{worker.name}-")]
        if r.body["type"] == "sla.started"
    )
    assert started == {t: 2 for t in names}
    # HUGE's breaches fit the breach topic: containment is per record, not per ticket
    assert {
        r.body["metric"] for r in by_topic["sla-breaches"] if r.body["ticket_id"] == "HUGE"
    } == {
        "first_response",
        "resolution",
    }
    letters = [r for r in by_topic["ticket-events-dlq"]]
    assert letters and refused_count == len(letters)
    for letter in letters:
        body = letter.body
        assert (
            body["reason"]
            == f"refused by Kafka: MessageSizeTooLargeError writing to {events_topic}"
        )
        assert (body["topic"], body["key"], body["original"]) == (events_topic, "HUGE", None)
        assert body["partition"] == partition_of["HUGE"] and body["size"] > 4_000
        assert len(json.dumps(body)) < 1_000  # the dead letter is small: not the value


def _broker_pid(bootstrap: str) -> int:
    port = int(bootstrap.rsplit(":", 1)[1])
    return int((REPO_ROOT / ".local" / "kafka" / f"data-{port}" / "broker.pid").read_text())


@contextmanager
def _frozen(bootstrap: str) -> Iterator[None]:
    """The broker stopped (SIGSTOP): connections stay open, nothing answers."""
    pid = _broker_pid(bootstrap)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _busy_worker(second_broker: str, policy_dir: Path, tmp_path: Path) -> WorkerProcess:
    """A worker on the second broker, taking a long input backlog: it is sending a batch,
    or about to, at any moment of the next seconds."""
    worker = WorkerProcess(policy_dir, tmp_path / "data", extra_env={"SLA_STALL_TIMEOUT": "3s"})
    worker.bootstrap = second_broker
    worker.start()
    later = Tickets(base=datetime.now(UTC) + timedelta(hours=1))
    backlog = [(f"B{n}".encode(), later.event(f"B{n}", "ticket_created")) for n in range(40_000)]
    run(produce_many(worker.bootstrap, worker.topic("ticket-events"), backlog))
    deadline = time.monotonic() + 30
    while worker.metric("sla_timer_events_consumed_total") < 500:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.1)
    return worker


def test_readyz_is_503_while_the_worker_is_stalled_with_input_waiting_and_200_after(
    second_broker: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = _busy_worker(second_broker, policy_dir, tmp_path)
    try:
        with _frozen(worker.bootstrap):
            frozen_at = time.monotonic()
            _, body = _wait_for(worker, 503, seconds=15)
            stalled_after = time.monotonic() - frozen_at
        assert isinstance(body, str)  # WorkerProcess.get reads an error reply as text
        reply = json.loads(body)
        assert reply["status"] == "stalled" and reply["reason"], reply
        assert stalled_after >= 2.5, reply  # not before SLA_STALL_TIMEOUT (3 s)
        _wait_for(worker, 200, seconds=30)  # the broker answers again: progress resumes
        consumed = worker.metric("sla_timer_events_consumed_total")
        time.sleep(2)
        assert worker.metric("sla_timer_events_consumed_total") > consumed or consumed >= 40_000
    finally:
        worker.stop(how=signal.SIGKILL)


def test_sigterm_ends_a_worker_stuck_on_a_frozen_broker_within_the_deadline(
    second_broker: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = _busy_worker(second_broker, policy_dir, tmp_path)
    try:
        with _frozen(worker.bootstrap):
            # Stuck on the frozen broker: wait until /readyz says so, or 10 s at most. That
            # it says so is the readiness test's to check; here it only paces the SIGTERM,
            # and in one CI run of eight it stayed 200 for 15 s (cause not found yet).
            started = time.monotonic()
            while worker.get("/readyz")[0] != 503 and time.monotonic() - started < 10:
                time.sleep(0.2)
            seconds, code = _stop_timed(worker)
    finally:
        worker.stop(how=signal.SIGKILL)
    assert code is not None and seconds < STOP_DEADLINE, (seconds, worker.log_tail())


def test_sigterm_ends_a_worker_whose_broker_is_gone_within_the_deadline(
    second_broker: str, policy_dir: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(policy_dir, tmp_path / "data")
    worker.bootstrap = second_broker
    worker.start()
    try:
        tickets = Tickets()
        messages = [(t.encode(), tickets.event(t, "ticket_created")) for t in ("U1", "U2")]
        run(produce(worker.bootstrap, worker.topic("ticket-events"), messages))
        run(collect(worker.bootstrap, [worker.topic("sla-events")], seconds=1.5))
        port = int(second_broker.rsplit(":", 1)[1])
        down = _run_script("down", port, timeout=60)
        assert down.returncode == 0, down.stdout + down.stderr
        time.sleep(4)  # the breaches (3 s) fall due: their due commands have nowhere to go
        seconds, code = _stop_timed(worker)
    finally:
        worker.stop(how=signal.SIGKILL)
    assert code is not None and seconds < STOP_DEADLINE, (seconds, worker.log_tail())
