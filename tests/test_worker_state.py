"""The worker's table value: what is stored for a ticket reads back the same."""

import json
import random
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.engine import Engine, ticket_key
from service.core.errors import InvalidEvent
from service.core.events import EventType, SlaEvent, TicketEvent
from service.core.instant import SECOND
from service.core.ticket import Ticket
from service.policyfile import load_policies
from service.wire import decode
from service.worker import state

from .core.test_arrival_order import EVERY_OPTION, START, Delivery, deliveries
from .core.test_bounded_history import small_limits

POLICIES = load_policies(Path(__file__).parent.parent / "deploy" / "policies")


def _event(number: int, kind: str, minute: int, **fields: object) -> bytes:
    body = {
        "event_id": f"e{number}",
        "type": kind,
        "tenant": "westock",
        "ticket_id": "W-1",
        "occurred_at": f"2026-03-02T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
        **fields,
    }
    return json.dumps(body).encode()


def test_a_log_serialized_as_it_grows_equals_the_whole_log_serialized_at_once() -> None:
    ticket = Ticket(POLICIES, "westock", "W-1")
    cache = state.LogJson()
    script = [
        ("ticket_created", 0, {"attributes": {"tier": "essential", "category": "general"}}),
        ("agent_reply", 30, {}),
        ("customer_reply", 45, {}),
        ("agent_reply", 20, {}),  # dated before the last one: a late arrival, refolded
        ("status_change", 90, {"status": "solved"}),
    ]
    for number, (kind, minute, fields) in enumerate(script):
        event = decode(_event(number, kind, minute, **fields))
        ticket.receive(event, event.occurred_at)
        grown = state.dump(ticket, 3, log=cache)
        assert orjson.loads(grown) == orjson.loads(state.dump(ticket, 3))
    restored = state.load(grown, POLICIES)
    assert restored is not None
    assert restored.log == ticket.log
    assert restored.published.keys() == ticket.published.keys()
    stored = state.index(grown)
    assert stored is not None and stored.partition == 3


def _conversation(count: int) -> list[TicketEvent]:
    """A long ticket: replies both ways and the status going pending and open again."""
    created = TicketEvent(
        "c",
        EventType.TICKET_CREATED,
        "W-1",
        START,
        "westock",
        {"tier": "essential", "category": "payment"},
    )
    steps = [("customer_reply", None), ("status_change", "pending"), ("agent_reply", None)]
    steps += [("status_change", "open")]
    events = [created]
    for n in range(1, count + 1):
        kind, status = steps[n % len(steps)]
        at = START + n * SECOND
        events.append(
            TicketEvent(f"e-{n:06d}", EventType(kind), "W-1", at, "westock", status=status)
        )
    return events


def test_stored_bytes_per_write_stay_flat_as_a_ticket_grows() -> None:
    """docs/worker.md: the value written on each event does not grow with the ticket's history."""
    sizes = {}
    ticket, cache = Ticket(POLICIES, "westock", "W-1"), state.LogJson()
    for number, event in enumerate(_conversation(25_000)):
        ticket.receive(event, event.occurred_at)
        if number in (100, 1_000, 25_000):
            sizes[number] = len(state.dump(ticket, 0, log=cache))
    assert sizes[25_000] <= sizes[1_000] * 1.1
    assert sizes[25_000] < 32 * 1024


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(deliveries(max_events=40), st.randoms(use_true_random=False))
def test_stored_and_read_back_at_any_point_a_ticket_publishes_the_same(
    delivery: Delivery, rng: random.Random
) -> None:
    """A worker that stores every ticket after each event and reads some back (a restart,
    a ticket that left memory) publishes exactly what one that never stored them does."""
    with small_limits():
        for policies in (POLICIES, EVERY_OPTION):
            kept, stored = Engine(policies), Engine(policies)
            expected, actual, clock = [], [], delivery.late[0].occurred_at
            for event in delivery.late:
                clock = max(clock, event.occurred_at)
                expected += _receive(kept, event, clock)
                actual += _receive(stored, event, clock)
                key = ticket_key(event.tenant, event.ticket_id)
                if key in stored.tickets and rng.random() < 0.3:
                    raw = state.dump(stored.tickets[key], 0)
                    back = state.load(raw, policies)
                    assert back is not None
                    stored.tickets[key] = back
                    actual += back.restore(clock)
            expected += kept.advance(delivery.until)
            actual += _advance_all(stored, delivery.until)
            assert _by_ticket(actual) == _by_ticket(expected)


def _by_ticket(events: list[SlaEvent]) -> list[tuple[str, str, str]]:
    """Ids and types per ticket, in the order each ticket published them."""
    return sorted(((e.ticket_id, e.event_id, e.type) for e in events), key=lambda r: r[0])


def _receive(engine: Engine, event: TicketEvent, clock: int) -> list[SlaEvent]:
    try:
        return engine.receive(event, clock) + engine.advance(clock)
    except InvalidEvent:
        return engine.advance(clock)


def _advance_all(engine: Engine, until: int) -> list[SlaEvent]:
    """Every ticket to ``until`` (a ticket read back is not in the engine's due heap)."""
    out: list[SlaEvent] = []
    for ticket in engine.tickets.values():
        out += ticket.advance(until)
    return out
