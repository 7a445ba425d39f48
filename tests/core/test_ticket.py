"""Input handling and late data (docs/events.md, docs/semantics.md): order, duplicates, held
events, retractions."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.engine import Engine
from service.core.events import SlaEvent, SlaEventType, TicketEvent

from ..scenario import History, brief, local, run
from .streams import standing
from .test_clocks import POLICIES, ticket


def _conversation() -> History:
    history = ticket()
    history.add("2026-01-12 10:00", "agent_reply")
    history.add("2026-01-12 11:00", "customer_reply")
    history.add("2026-01-12 12:00", "status_change", status="pending")
    history.add("2026-01-13 09:00", "status_change", status="open")
    history.add("2026-01-13 10:00", "agent_reply")
    history.add("2026-01-14 11:00", "status_change", status="solved")
    return history


def net(published: list[SlaEvent]) -> list[tuple[str, ...]]:
    """What a consumer holds after applying retractions, in a comparable form."""
    return sorted(brief(standing(published)))


def _all_at_once(events: list[TicketEvent], until: str) -> list[tuple[str, ...]]:
    """Deliver every event before the clock moves, then advance to ``until``."""
    engine = Engine(POLICIES)
    out = []
    for event in events:
        out += engine.receive(event, local("2000-01-01 00:00"))
    out += engine.advance(local(until))
    return net(out)


def test_events_apply_in_event_time_whatever_the_arrival_order() -> None:
    events = _conversation().events
    expected = _all_at_once(events, "2026-01-30 00:00")
    assert _all_at_once(list(reversed(events)), "2026-01-30 00:00") == expected


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_shuffled_input_gives_the_same_output(rng: random.Random) -> None:
    events = _conversation().events
    shuffled = events[:]
    rng.shuffle(shuffled)
    assert _all_at_once(shuffled, "2026-01-30 00:00") == _all_at_once(events, "2026-01-30 00:00")


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_shuffled_stream_with_a_moving_clock_converges_to_the_in_order_outcome(
    rng: random.Random,
) -> None:
    """Each arrival moves the clock to the latest event time, as replay does; retractions
    must undo exactly what the late events disprove."""
    events = _conversation().events
    shuffled = events[:]
    rng.shuffle(shuffled)
    moving = net(run(POLICIES, shuffled, until="2026-01-30 00:00"))
    assert moving == net(run(POLICIES, events, until="2026-01-30 00:00"))


def test_a_duplicate_event_id_changes_nothing() -> None:
    history = ticket()
    reply = history.add("2026-01-12 10:00", "agent_reply")
    once = run(POLICIES, history.events, until="2026-01-30 00:00")
    twice = run(POLICIES, [*history.events, reply, history.events[0]], until="2026-01-30 00:00")
    assert brief(twice) == brief(once)


def test_events_before_ticket_created_are_held_until_it_arrives() -> None:
    history = ticket()
    history.add("2026-01-12 10:00", "agent_reply")
    created, reply = history.events
    engine = Engine(POLICIES)
    assert engine.receive(reply, reply.occurred_at) == []
    out = engine.receive(created, reply.occurred_at)
    assert brief(out) == [
        ("started", "first_response", "Fri 2026-01-09 16:00"),
        ("started", "resolution", "Fri 2026-01-09 16:00"),
        ("met", "first_response", "Mon 2026-01-12 10:00"),
    ]


def test_late_reply_retracts_a_published_breach() -> None:
    history = ticket()
    reply = history.add("2026-01-13 15:30", "agent_reply")  # before the Tue 16:00 deadline
    created = history.events[0]
    engine = Engine(POLICIES)
    engine.receive(created, created.occurred_at)
    published = engine.advance(local("2026-01-13 17:00"))
    breach = next(e for e in published if e.type is SlaEventType.BREACH)
    out = engine.receive(reply, local("2026-01-13 17:00"))
    assert [(e.type, e.retracted_event_id) for e in out] == [
        (SlaEventType.RETRACTED, breach.event_id),
        (SlaEventType.MET, None),
    ]


def test_late_event_that_changes_nothing_publishes_nothing_again() -> None:
    history = ticket()
    history.add("2026-01-12 10:00", "agent_reply")
    note = history.add("2026-01-12 09:30", "customer_reply")
    first = run(POLICIES, history.events[:2])
    engine = Engine(POLICIES)
    for event in history.events[:2]:
        engine.receive(event, event.occurred_at)
    assert engine.receive(note, local("2026-01-12 10:00")) == []
    assert first  # the two events did publish


def test_same_input_yields_the_same_event_ids() -> None:
    events = _conversation().events
    first = [e.event_id for e in run(POLICIES, events, until="2026-01-30 00:00")]
    second = [e.event_id for e in run(POLICIES, events, until="2026-01-30 00:00")]
    assert first == second
    assert len(set(first)) == len(first)


def test_clock_advanced_in_steps_or_at_once_publishes_the_same() -> None:
    created = ticket().events[0]
    stepwise, at_once = Engine(POLICIES), Engine(POLICIES)
    out_steps = stepwise.receive(created, created.occurred_at)
    for hour in range(0, 24 * 10, 7):
        out_steps += stepwise.advance(created.occurred_at + hour * 3_600_000_000)
    out_once = at_once.receive(created, created.occurred_at)
    out_once += at_once.advance(created.occurred_at + 238 * 3_600_000_000)
    assert brief(out_steps) == brief(out_once)
