"""Whatever ``decode`` accepts, the engine can run and the outputs can be written.

Events are generated with extreme values on purpose (integers of any size, long and odd text,
lone surrogates, timestamps from year 1 to 9999 and at the edges of the supported range) and
sent as text or as bytes. Each one is either refused with ``InvalidEvent`` or goes through an
engine with the seed policies and one with a synthetic policy that has every kind of clock;
every SLA event the engines produce is then encoded as the worker and replay write it.
"""

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.engine import Engine
from service.core.errors import InvalidEvent
from service.core.events import TicketEvent
from service.core.instant import DAY, Instant, from_datetime
from service.core.policy import PolicySet
from service.policyfile import load_policies, load_policy_text
from service.wire import EARLIEST, END, decode, encode_json
from service.worker import state

ROOT = Path(__file__).parents[1]
EVERY_CLOCK = """
calendars:
  office:
    timezone: America/New_York
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: {country: US}
  always: {timezone: UTC, hours: 24x7}
policies:
  - name: every-clock
    calendar: office
    pause_statuses: [pending]
    clocks:
      - metric: first_response
        targets:
          - {match: {priority: high}, breach_after: 1h, warn_at: ["50%"], calendar: always}
          - {breach_after: 4h, warn_at: ["75%", "-30m"]}
      - {metric: next_response, targets: [{breach_after: 2h, warn_at: [1h]}]}
      - {metric: periodic_update, pausable: false, targets: [{breach_after: 1d}]}
      - metric: resolution
        on_target_change: restart
        on_reopen: new_cycle
        targets:
          - {match: {priority: high}, breach_after: 8h, calendar: always}
          - {breach_after: 2d, warn_at: ["90%"]}
      - metric: workaround
        start_on: [{type: ticket_created}]
        stop_on: [{type: attribute_change, changes: {priority: low}}]
        targets: [{breach_after: 6h, calendar: always}]
"""
TENANTS = ["default", "westock", "commerceup", "istockist", "liveagent", "saleslayer"]
KEYS = ["priority", "tier", "category", "severity", "support_plan", "account_type", "subject"]
WORDS = ["high", "low", "C1", "C2", "essential", "scale", "dedicated", "product", "1", "3"]
STATUSES = ["new", "open", "pending", "waiting_on_client", "solved", "closed"]
TYPES = [
    "ticket_created",
    "first_response",
    "agent_reply",
    "customer_reply",
    "status_change",
    "attribute_change",
]


@cache
def engines_policies() -> tuple[PolicySet, PolicySet]:
    return load_policies(ROOT / "deploy" / "policies"), load_policy_text(EVERY_CLOCK)


# Any code point, lone surrogates included (hypothesis leaves them out unless asked).
odd_text = st.text(st.characters(codec=None, categories=None), max_size=30)
long_text = st.builds(lambda c, n: c * n, st.characters(codec=None), st.integers(0, 5000))
texts = st.one_of(st.sampled_from(WORDS), odd_text, long_text)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 2**63, 2**64, -(2**64)]),
    st.floats(),
)
values = st.one_of(texts, numbers, st.booleans())
keys = st.one_of(st.sampled_from(KEYS), odd_text, long_text)
attributes = st.dictionaries(keys, values, max_size=70)


def near(instant: Instant) -> st.SearchStrategy[Instant]:
    return st.integers(min_value=instant - 2 * DAY, max_value=instant + 2 * DAY)


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 text around the edges of the supported range, in 2026, or in any year."""
    choice = draw(st.integers(0, 3))
    if choice == 3:  # any year, written out directly: no datetime arithmetic can overflow
        year = draw(st.integers(1, 9999))
        sign = draw(st.sampled_from("+-"))
        offset = draw(st.integers(0, 23 * 60 + 59))
        return (
            f"{year:04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}T"
            f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:"
            f"{draw(st.integers(0, 59)):02d}{sign}{offset // 60:02d}:{offset % 60:02d}"
        )
    around = [EARLIEST, END, from_datetime(datetime(2026, 3, 1, tzinfo=UTC))][choice]
    instant = draw(near(around))
    zone = timezone(timedelta(minutes=draw(offsets)))
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=instant)
    return moment.astimezone(zone).isoformat()


@st.composite
def events(draw: st.DrawFn, ticket: str, tenant: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    body: dict[str, Any] = {
        "event_id": draw(st.one_of(st.uuids().map(str), odd_text)),
        "type": kind,
        "ticket_id": ticket,
        "tenant": tenant,
        "occurred_at": draw(timestamps()),
    }
    if kind in ("ticket_created", "attribute_change"):
        body["attributes"] = draw(attributes)
    if kind == "status_change":
        body["status"] = draw(st.one_of(st.sampled_from(STATUSES), odd_text))
        body["reason"] = draw(st.one_of(st.none(), texts))
    if kind in ("agent_reply", "first_response"):
        body["automated"] = draw(st.booleans())
    if kind == "agent_reply":
        body["public"] = draw(st.booleans())
    return body


def wire(body: dict[str, Any], form: int) -> str | bytes:
    """The event as a message: escaped ASCII, raw UTF-8 text, or bytes (lone surrogates
    written as their would-be UTF-8 bytes, which are not UTF-8)."""
    if form == 0:
        return json.dumps(body)
    text = json.dumps(body, ensure_ascii=False)
    return text if form == 1 else text.encode("utf-8", "surrogatepass")


@st.composite
def histories(draw: st.DrawFn) -> list[str | bytes]:
    tickets = draw(st.lists(st.one_of(st.sampled_from(["T1", "T2"]), odd_text), min_size=1))
    tenant = draw(st.one_of(st.sampled_from(TENANTS), odd_text))
    created = draw(events(tickets[0], tenant)) | {"type": "ticket_created", "attributes": {}}
    created["attributes"] = draw(attributes)
    rest = draw(st.lists(events(draw(st.sampled_from(tickets)), tenant), max_size=8))
    forms = st.integers(0, 2)
    return [wire(body, draw(forms)) for body in [created, *rest]]


def accepted(raw: str | bytes) -> TicketEvent | None:
    try:
        return decode(raw)
    except InvalidEvent:
        return None


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(histories())
def test_whatever_decodes_runs_through_the_engine_and_encodes(history: list[str | bytes]) -> None:
    for policies in engines_policies():
        engine, clock, outputs = Engine(policies), None, []
        for raw in history:
            event = accepted(raw)
            if event is None:
                continue
            clock = event.occurred_at if clock is None else max(clock, event.occurred_at)
            try:
                outputs += engine.receive(event, clock)
            except InvalidEvent as refused:  # a ticket's own limits (docs/worker.md), never a crash
                assert refused.kind in ("too_late", "no_ticket", "attributes")
            outputs += engine.advance(clock)
        if clock is not None:
            clock += 400 * DAY  # past every deadline and warning of these policies
            outputs += engine.advance(clock)
        for sla_event in outputs:
            body = orjson.loads(encode_json(sla_event, clock or sla_event.occurred_at))
            assert body["ticket_id"] == sla_event.ticket_id
        for ticket in engine.tickets.values():  # and the worker can store and read it back
            back = state.load(state.dump(ticket, 0), policies)
            assert back is not None and back.restore(clock or 0) == []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(events("T1", "default"), st.integers(0, 2))
def test_an_accepted_event_is_within_every_limit(body: dict[str, Any], form: int) -> None:
    event = accepted(wire(body, form))
    if event is None:
        return
    assert EARLIEST <= event.occurred_at < END
    for text in (event.event_id, event.ticket_id, event.tenant):
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)
    encoded = orjson.dumps(dict(event.attributes))  # raises on >64-bit ints and surrogates
    assert len(encoded) <= 16 * 1024
    assert all(abs(v) < 2**53 for v in event.attributes.values() if type(v) is int), (
        event.attributes
    )
