"""docs/events.md, docs/semantics.md as properties over generated ticket histories.

Each history is replayed twice: in event-time order, and in an arrival order where about
a quarter of the events come up to 40 hours late, with the clock at the latest time seen
(as replay and the worker run). Net of retractions, both must publish the same events
field by field, and neither may reuse an id. Histories run over the five seed contracts
and over a synthetic policy that uses every option the policy files have.
"""

import os
import random
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.engine import Engine
from service.core.events import EventType, SlaEvent, TicketEvent
from service.core.instant import HOUR, MINUTE, Instant
from service.core.policy import PolicySet
from service.policyfile import load_policies, load_policy_text

from ..scenario import local
from .streams import assert_consistent_ids, net

SEEDS = load_policies(Path(__file__).parents[2] / "deploy" / "policies")
EVERY_OPTION = load_policy_text(
    """
calendars:
  office:
    timezone: America/New_York
    hours: {mon-fri: ["09:00-12:00", "13:00-17:00"], sat: ["22:00-02:00"]}
    holidays: {country: US, dates: ["2026-01-14"]}
    overrides: {"2026-01-16": ["10:00-11:00"]}
  always: {timezone: UTC, hours: 24x7}
policies:
  - name: gold
    match: {tenant: synthetic, plan: gold}
    calendar: office
    pause_statuses: [pending, on_hold]
    resolved_statuses: [solved, closed]
    clocks:
      - metric: first_response
        pausable: false
        on_target_change: restart
        targets:
          - {match: {priority: urgent}, breach_after: 1h, calendar: always, warn_at: [50%, "-10m"]}
          - {match: {priority: [high, normal]}, breach_after: 4h, warn_at: [2h, 90%]}
      - metric: next_response
        targets: [{breach_after: 2h, warn_at: ["-30m"]}]
      - metric: periodic_update
        pausable: false
        targets: [{match: {priority: urgent}, breach_after: 3h, calendar: always}]
      - metric: resolution
        on_reopen: new_cycle
        targets:
          - {match: {priority: urgent}, breach_after: 6h, warn_at: [75%]}
          - {match: {category: billing}, breach_after: 1d, warn_at: [4h]}
      - metric: triage
        start_on:
          - {type: ticket_created, attributes: {category: billing}}
          - {type: attribute_change, changes: {priority: urgent}}
        stop_on:
          - {type: status_change, status: [pending]}
          - {type: agent_reply, public: true}
        targets: [{breach_after: 90m, warn_at: [50%]}]
  - name: silver
    match: {tenant: synthetic}
    calendar: office
    pause_statuses: [pending]
    resolved_statuses: [solved]
    clocks:
      - metric: first_response
        targets:
          - {match: {priority: urgent}, breach_after: 2h, warn_at: [75%]}
          - {breach_after: 1d}
      - metric: resolution
        on_reopen: resume
        on_target_change: recompute
        targets:
          - {match: {priority: [urgent, high]}, breach_after: 8h, warn_at: ["-1h"]}
          - {match: {category: billing}, breach_after: 2d, calendar: always}
"""
)

# Attribute values each tenant's policies read (deploy/policies/*.yaml headers), with ""
# to blank one and make its target disappear.
TENANTS: dict[str, dict[str, list[object]]] = {
    "westock": {
        "tier": ["essential", "scale", ""],
        "category": ["general", "product", "payment", "technical", "buyer_ready_report"],
    },
    "istockist": {"priority": ["critical", "medium", "low"], "priority_set_by": ["support"]},
    "saleslayer": {
        "account_type": ["enterprise", "premium", "starter", "solution_partner"],
        "team": ["", "customer_success"],
    },
    "commerceup": {"priority": ["C1", "C2", "C3", "C4"], "subject": ["System Down", "help"]},
    "liveagent": {"support_plan": ["dedicated", "basic"], "severity": [1, 2, 3, 5]},
    "synthetic": {
        "plan": ["gold", "silver"],
        "priority": ["urgent", "high", "normal"],
        "category": ["billing", "other"],
    },
}
STATUSES = ["open", "pending", "on_hold", "solved", "closed", "waiting_on_client", "new"]
START = local("2026-01-09 08:00")  # a Friday: weekends, a holiday and overrides follow
STEP = 15 * MINUTE  # a coarse grid, so events fall on openings, closings and deadlines


@dataclass(frozen=True)
class Delivery:
    in_order: list[TicketEvent]
    late: list[TicketEvent]
    until: Instant


@st.composite
def ticket_events(draw: st.DrawFn, number: int, max_events: int = 14) -> list[TicketEvent]:
    tenant = draw(st.sampled_from(sorted(TENANTS)))
    values = TENANTS[tenant]
    ticket = f"T{number}"

    def attributes() -> dict[str, object]:
        keys = draw(st.lists(st.sampled_from(sorted(values)), min_size=1, unique=True))
        return {key: draw(st.sampled_from(values[key])) for key in keys}

    created_at = START + draw(st.integers(0, 8)) * STEP
    events = [
        TicketEvent(
            f"{ticket}-0",
            EventType.TICKET_CREATED,
            ticket,
            created_at,
            tenant,
            attributes=attributes(),
            status=draw(st.sampled_from(["new", "new", "open", "solved"])),
        )
    ]
    for index in range(1, draw(st.integers(0, max_events)) + 1):
        kind = draw(st.sampled_from(list(EventType)))
        at = created_at + draw(st.integers(-2, 6 * 24 * 4)) * STEP
        fields: dict[str, object] = {}
        if kind is EventType.TICKET_CREATED or kind is EventType.ATTRIBUTE_CHANGE:
            fields = {"attributes": attributes()}
        elif kind is EventType.STATUS_CHANGE:
            fields = {"status": draw(st.sampled_from(STATUSES))}
        elif kind in (EventType.AGENT_REPLY, EventType.FIRST_RESPONSE):
            fields = {"automated": draw(st.booleans().filter(lambda _: True))}
            if kind is EventType.AGENT_REPLY:
                fields["public"] = draw(st.sampled_from([True, True, False]))
        events.append(TicketEvent(f"{ticket}-{index}", kind, ticket, at, tenant, **fields))  # type: ignore[arg-type]
    return events


@st.composite
def deliveries(draw: st.DrawFn, max_events: int = 14) -> Delivery:
    tickets = draw(st.integers(1, 2))
    events = [e for n in range(tickets) for e in draw(ticket_events(n, max_events))]
    rng = random.Random(draw(st.integers(0, 2**32)))
    # A quarter of the events arrive up to 40 hours after they happened.
    arrival = {
        e.event_id: e.occurred_at + (rng.randint(1, 40 * 4) * STEP if rng.random() < 0.25 else 0)
        for e in events
    }
    late = sorted(events, key=lambda e: arrival[e.event_id])
    position = {e.event_id: n for n, e in enumerate(late)}
    # In order: by event time; ties in the order the late delivery has them (docs/events.md).
    in_order = sorted(events, key=lambda e: (e.occurred_at, position[e.event_id]))
    until = max(e.occurred_at for e in events) + draw(st.integers(0, 10 * 24)) * HOUR
    return Delivery(in_order, late, until)


def deliver(policies: PolicySet, events: list[TicketEvent], until: Instant) -> list[SlaEvent]:
    """Each event with the clock at the latest time seen (replay's clock), then ``until``."""
    engine, out, clock = Engine(policies), [], events[0].occurred_at
    for event in events:
        clock = max(clock, event.occurred_at)
        out += engine.receive(event, clock)
        out += engine.advance(clock)
    return out + engine.advance(until)


def _run_both(policies: PolicySet, delivery: Delivery) -> None:
    in_order = deliver(policies, delivery.in_order, delivery.until)
    late = deliver(policies, delivery.late, delivery.until)
    assert_consistent_ids(in_order)
    assert_consistent_ids(late)
    assert net(late) == net(in_order)


PROPERTY = settings(
    max_examples=int(os.environ.get("SLA_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(deliveries())
def test_late_arrival_publishes_what_in_order_delivery_does_on_the_seed_contracts(
    delivery: Delivery,
) -> None:
    _run_both(SEEDS, delivery)


@PROPERTY
@given(deliveries())
def test_late_arrival_publishes_what_in_order_delivery_does_with_every_option(
    delivery: Delivery,
) -> None:
    _run_both(EVERY_OPTION, delivery)


@settings(max_examples=150, deadline=None)
@given(deliveries(), st.randoms(use_true_random=False))
def test_every_event_delivered_twice_changes_nothing(
    delivery: Delivery, rng: random.Random
) -> None:
    for policies in (SEEDS, EVERY_OPTION):
        once = deliver(policies, delivery.late, delivery.until)
        twice = list(delivery.late)
        for event in delivery.late:  # each copy somewhere after its original
            twice.insert(rng.randint(twice.index(event) + 1, len(twice)), event)
        assert deliver(policies, twice, delivery.until) == once
