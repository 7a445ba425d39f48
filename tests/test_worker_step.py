"""The worker's batch step without a broker: what a batch publishes, retracts, dead-letters,
writes and deletes, and in which order. The table is a dict the tests write the acked
changelog values to, as the shell does once Kafka acked them."""

import json

import orjson
import pytest

from service.core.engine import Engine, Lifecycle, ticket_key
from service.core.instant import HOUR, MINUTE, SECOND, Instant, format_instant
from service.core.policy import PolicySet
from service.policyfile import load_policies
from service.wire import codec
from service.worker.compliance import LiveCompliance
from service.worker.metrics import Metrics
from service.worker.step import Message, Plan, Step, Topics
from service.worker.tickets import StoredTickets, recover

POLICY = """
calendars:
  always: {timezone: UTC, hours: 24x7}
policies:
  - name: live
    calendar: always
    clocks:
      - {metric: first_response, targets: [{breach_after: 1h, warn_at: ["50%"]}]}
      - {metric: resolution, targets: [{breach_after: 4h}]}
"""
T0 = 1_772_442_000 * SECOND  # 2026-03-02T09:00:00Z
TOPICS = Topics("events", "warnings", "breaches", "dlq", "tickets-changelog", "due")
RETENTION, HOLD = 35 * 24 * HOUR, 24 * HOUR


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("policies")
    (folder / "live.yaml").write_text(POLICY)
    return load_policies(folder)


class Worker:
    """A step over a dict standing in for the table; ``offset`` numbers the input."""

    def __init__(
        self, policies: PolicySet, table: dict[bytes, bytes] | None = None, keep: int = 0
    ) -> None:
        self.table: dict[bytes, bytes] = {} if table is None else table
        compliance = LiveCompliance(policies, Metrics())
        stored = StoredTickets(self.table, policies, compliance)
        engine = Engine(policies, Lifecycle(RETENTION, HOLD, keep), stored.load)
        self.engine = engine
        recover(engine, stored, range(4))  # as a worker does once the table is complete
        self.step = Step(engine, TOPICS, Metrics(), compliance)
        self.offset = 0

    def run(self, messages: list[Message], now: Instant, acked: bool = True) -> Plan:
        plan = self.step.run(messages, now)
        if acked:  # the shell writes the store once Kafka acked the changelog
            for _, key, value in plan.values.values():
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
        return plan

    def event(
        self, ticket: str, kind: str, at: Instant, partition: int = 0, **more: object
    ) -> Message:
        self.offset += 1
        body = {
            "event_id": f"{ticket}-{kind}-{at}",
            "type": kind,
            "ticket_id": ticket,
            "occurred_at": format_instant(at),
            **more,
        }
        return Message(
            "ticket-events", partition, self.offset, ticket.encode(), json.dumps(body).encode()
        )

    def due(self, partition: int = 0) -> Message:
        return Message("due", partition, 0, b"", b"")


def published(plan: Plan, topic: str = "events") -> list[tuple[str, str, str]]:
    """(type, metric, event_id) of the records on ``topic``, in order."""
    found = []
    for record_topic, _, _, value in plan.records():
        if record_topic == topic and value is not None:
            body = orjson.loads(value)
            found.append((body["type"], body["metric"], body["event_id"]))
    return found


def kinds(plan: Plan, topic: str = "events") -> list[tuple[str, str]]:
    return [(kind, metric) for kind, metric, _ in published(plan, topic)]


def test_a_created_ticket_publishes_its_started_clocks_then_writes_its_value_once(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    plan = worker.run([worker.event("A", "ticket_created", T0, partition=3)], T0)
    assert kinds(plan) == [("sla.started", "first_response"), ("sla.started", "resolution")]
    topics = [(topic, partition) for topic, partition, _, _ in plan.records()]
    assert topics == [("events", None), ("events", None), ("tickets-changelog", 3)]
    assert list(worker.table) == [ticket_key("default", "A").encode()]


def test_a_due_command_publishes_the_warning_and_the_breach_also_on_their_alert_topics(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("A", "ticket_created", T0)], T0)
    plan = worker.run([worker.due()], T0 + HOUR)
    assert kinds(plan) == [("sla.warning", "first_response"), ("sla.breach", "first_response")]
    assert published(plan, "warnings") == published(plan)[:1]
    assert published(plan, "breaches") == published(plan)[1:]
    written = [topic for topic, _, _, _ in plan.records() if topic == "tickets-changelog"]
    assert written == ["tickets-changelog"]  # after the events, once
    assert plan.due_partitions == {0}


def test_a_breach_published_and_stored_is_not_published_again_after_a_restart(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    created = worker.event("A", "ticket_created", T0)
    worker.run([created], T0)
    worker.run([worker.due()], T0 + HOUR)
    # Restart before the offsets were committed: the same messages are read again.
    again = Worker(policies, worker.table)
    plan = again.run([created, again.due()], T0 + HOUR + MINUTE)
    assert published(plan) == []
    later = again.run([again.due()], T0 + 4 * HOUR)
    assert kinds(later) == [("sla.breach", "resolution")]


def test_a_breach_whose_value_was_not_acked_is_published_again_with_the_same_id(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("A", "ticket_created", T0)], T0)
    first = worker.run([worker.due()], T0 + HOUR, acked=False)  # the worker died in the flush
    again = Worker(policies, worker.table)
    second = again.run([again.due()], T0 + HOUR)
    assert published(second) == published(first)  # same content, same event ids


def test_a_restored_ticket_publishes_what_fell_due_while_no_worker_ran(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("A", "ticket_created", T0)], T0)
    again = Worker(policies, worker.table)
    plan = again.run([again.event("A", "customer_reply", T0 + 2 * HOUR)], T0 + 2 * HOUR)
    assert kinds(plan) == [("sla.warning", "first_response"), ("sla.breach", "first_response")]


def test_a_late_reply_retracts_the_breach_it_disproves_before_publishing_the_met(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("A", "ticket_created", T0)], T0)
    breach = worker.run([worker.due()], T0 + HOUR)
    breach_id = published(breach)[-1][2]
    plan = worker.run([worker.event("A", "agent_reply", T0 + 50 * MINUTE)], T0 + HOUR + MINUTE)
    assert kinds(plan) == [("sla.retracted", "first_response"), ("sla.met", "first_response")]
    retraction = next(
        orjson.loads(v) for t, _, _, v in plan.records() if t == "events" and v is not None
    )
    assert retraction["retracted_event_id"] == breach_id
    assert published(plan, "breaches") == []  # a retraction is on the events topic only


def test_malformed_and_refused_messages_are_dead_lettered_and_the_rest_goes_on(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    bad = Message("ticket-events", 1, 41, b"k", b"not json")
    plan = worker.run([bad, worker.event("A", "ticket_created", T0)], T0)
    letters = [orjson.loads(v) for t, _, _, v in plan.records() if t == "dlq" and v is not None]
    assert [(d["topic"], d["partition"], d["offset"]) for d in letters] == [
        ("ticket-events", 1, 41)
    ]
    assert letters[0]["reason"].startswith("not JSON")
    assert kinds(plan) == [("sla.started", "first_response"), ("sla.started", "resolution")]
    order = [topic for topic, _, _, _ in plan.records()]
    assert order == ["events", "events", "dlq", "tickets-changelog"]


def test_every_failing_message_of_a_batch_is_dead_lettered_in_input_order(
    policies: PolicySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch is decoded first, then applied: a message the decoder refuses, one that
    # breaks it (an internal error) and one the engine refuses still come out in the
    # order they came in, and the valid messages between them are applied.
    worker = Worker(policies)
    real_decode = codec.decode

    def decode(raw: bytes) -> object:
        if raw == b"boom":
            raise RuntimeError("decoder bug")
        return real_decode(raw)

    monkeypatch.setattr(codec, "decode", decode)

    def big(ticket: str, prefix: str, minute: int) -> Message:
        text = {f"{prefix}{n}": "v" * 4000 for n in range(3)}
        return worker.event(ticket, "attribute_change", T0 + minute * MINUTE, attributes=text)

    batch = [
        worker.event("A", "ticket_created", T0),
        Message("ticket-events", 0, 50, b"k", b"boom"),
        worker.event("B", "ticket_created", T0),
        Message("ticket-events", 0, 51, b"k", b"not json"),
        big("A", "x", 1),
        big("A", "y", 2),
        big("A", "z", 3),  # 36 KB of attributes: over the ticket's 32 KB
        worker.event("C", "agent_reply", T0, partition=2),  # held: no ticket yet
        Message("ticket-events", 0, 52, b"k", None),  # a tombstone
    ]
    plan = worker.run(batch, T0)
    letters = [orjson.loads(v) for t, _, _, v in plan.records() if t == "dlq" and v is not None]
    assert [(d["offset"], d["reason"].split(":")[0]) for d in letters] == [
        (50, "internal error"),
        (51, "not JSON"),
        (worker.offset - 1, "attributes too large"),
        (52, "not JSON"),
    ]
    assert "decoder bug" in letters[0]["reason"]
    started = {ticket for ticket, _ in _started(plan)}
    assert started == {"A", "B"}


def _started(plan: Plan) -> list[tuple[str, str]]:
    found = []
    for topic, _, _, value in plan.records():
        if topic == "events" and value is not None:
            body = orjson.loads(value)
            if body["type"] == "sla.started":
                found.append((body["ticket_id"], body["metric"]))
    return found


def test_a_solved_ticket_leaves_memory_and_is_deleted_after_its_retention(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("A", "ticket_created", T0)], T0)
    worker.run([worker.event("A", "status_change", T0 + MINUTE, status="solved")], T0 + MINUTE)
    key = ticket_key("default", "A")
    assert key not in worker.engine.tickets
    stored = orjson.loads(worker.table[key.encode()])
    assert stored["forget_at"] == T0 + MINUTE + RETENTION
    assert worker.run([worker.due()], T0 + MINUTE + RETENTION - 1).values == {}
    plan = worker.run([worker.due()], T0 + MINUTE + RETENTION)
    assert list(plan.records()) == [("tickets-changelog", 0, key.encode(), None)]
    assert worker.table == {}


def test_events_held_for_a_ticket_never_created_are_dead_lettered_after_the_hold(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    held = worker.run([worker.event("H", "agent_reply", T0)], T0)
    assert published(held) == [] and len(held.values) == 1  # held, and stored
    plan = worker.run([worker.due()], T0 + HOLD)
    letters = [orjson.loads(v) for t, _, _, v in plan.records() if t == "dlq" and v is not None]
    assert [d["reason"] for d in letters] == [
        "no ticket: its ticket_created did not come within SLA_HOLD"
    ]
    assert json.loads(letters[0]["original"])["type"] == "agent_reply"
    key = ticket_key("default", "H").encode()
    assert [r for r in plan.records() if r[0] == "tickets-changelog"] == [
        ("tickets-changelog", 0, key, None)
    ]


def test_a_ticket_forgotten_and_created_again_in_one_batch_is_written_not_deleted(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    worker.run([worker.event("H", "agent_reply", T0)], T0)
    created = worker.event("H", "ticket_created", T0 + HOLD)
    plan = worker.run([worker.due(), created], T0 + HOLD)
    changelog = [value for topic, _, _, value in plan.records() if topic == "tickets-changelog"]
    assert len(changelog) == 1 and changelog[0] is not None
    assert orjson.loads(changelog[0])["log"][0][2]["type"] == "ticket_created"
    assert kinds(plan) == [("sla.started", "first_response"), ("sla.started", "resolution")]


def test_a_redelivered_event_changes_nothing_and_publishes_nothing(
    policies: PolicySet,
) -> None:
    worker = Worker(policies)
    created = worker.event("A", "ticket_created", T0)
    worker.run([created], T0)
    plan = worker.run([created], T0 + MINUTE)
    assert published(plan) == []


def test_settled_tickets_stay_in_memory_while_among_the_most_recently_written(
    policies: PolicySet,
) -> None:
    worker = Worker(policies, keep=2)
    for name in ("A", "B", "C"):
        worker.run([worker.event(name, "ticket_created", T0)], T0)
    solved = T0 + MINUTE
    for name in ("A", "B"):
        worker.run([worker.event(name, "status_change", solved, status="solved")], solved)
    held = {key.split("\x1f")[1] for key in worker.engine.tickets}
    assert held == {"A", "B", "C"}  # two settled kept, and the open one
    worker.run([worker.event("C", "status_change", solved, status="solved")], solved)
    assert {key.split("\x1f")[1] for key in worker.engine.tickets} == {"B", "C"}
    later = solved + MINUTE
    worker.run([worker.event("A", "status_change", later, status="closed")], later)
    assert {key.split("\x1f")[1] for key in worker.engine.tickets} == {"A", "C"}  # read back
