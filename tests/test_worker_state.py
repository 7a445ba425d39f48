"""The worker's table value: what is stored for a ticket reads back the same."""

import json
from pathlib import Path

import orjson

from service.core.ticket import Ticket
from service.policyfile import load_policies
from service.wire import decode
from service.worker import state

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
    assert restored.log == ticket.log
    assert restored.published.keys() == ticket.published.keys()
    assert state.index(grown).partition == 3
