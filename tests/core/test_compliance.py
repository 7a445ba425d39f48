"""docs/semantics.md compliance: each cycle counts once, by its net published outcome, per calendar
month of the outcome in the cycle calendar's zone; attainment = met / (met + breached)."""

import random
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.compliance import Outcome, Row, Tally, month_of, outcomes, verdicts
from service.core.engine import Engine
from service.core.events import SlaEvent, SlaEventType
from service.core.instant import Instant, to_datetime

from ..scenario import NEW_YORK, History, local
from .test_clocks import POLICIES, ticket

ZONES: dict[str, tzinfo] = {"office": NEW_YORK, "always": UTC}


def zone_of(calendar: str) -> tzinfo:
    return ZONES[calendar]


def sla(
    kind: str,
    when: str,
    *,
    ticket: str = "T1",
    metric: str = "first_response",
    cycle: int = 1,
    policy: str = "support",
    calendar: str = "office",
    deadline: Instant | None = None,
    excluded: bool = False,
) -> SlaEvent:
    at = local(when)
    return SlaEvent(
        event_id=f"{ticket}/{metric}/{cycle}/{kind}/{when}",
        type=SlaEventType(f"sla.{kind}"),
        tenant="acme",
        ticket_id=ticket,
        policy=policy,
        policy_version="0" * 12,
        metric=metric,
        cycle=cycle,
        calendar=calendar,
        target=0,
        deadline=deadline,
        occurred_at=at,
        elapsed=0,
        attributes={},
        compliance_excluded=excluded,
    )


def met(month: str, policy: str = "support", metric: str = "first_response") -> Outcome:
    return Outcome(policy, metric, month, met=True)


def breached(month: str, policy: str = "support", metric: str = "first_response") -> Outcome:
    return Outcome(policy, metric, month, met=False)


# -- which cycles count, and in which month --------------------------------------------------


def test_a_met_cycle_counts_as_met_in_the_month_of_its_met() -> None:
    events = [sla("started", "2026-01-30 10:00"), sla("met", "2026-02-02 09:30")]
    assert outcomes(events, zone_of) == [met("2026-02")]


def test_met_at_2330_new_york_on_march_31_counts_in_march_there_and_april_in_utc() -> None:
    # 2024-03-31 23:30 EDT is 2024-04-01 03:30 UTC.
    new_york = [sla("met", "2024-03-31 23:30")]
    utc = [sla("met", "2024-03-31 23:30", calendar="always")]
    assert outcomes(new_york, zone_of) == [met("2024-03")]
    assert outcomes(utc, zone_of) == [met("2024-04")]


def test_breach_then_stopped_counts_once_as_breached_in_the_month_of_the_breach() -> None:
    deadline = local("2026-01-30 16:00")
    events = [
        sla("started", "2026-01-28 10:00"),
        sla("breach", "2026-01-30 16:00", deadline=deadline),
        sla("stopped", "2026-02-03 11:00", deadline=deadline),
    ]
    [verdict] = verdicts(events, zone_of)
    assert verdict.outcome == breached("2026-01")
    assert verdict.event.type is SlaEventType.STOPPED
    assert verdict.at == deadline


def test_a_stopped_whose_breach_is_not_at_hand_counts_at_its_deadline() -> None:
    events = [sla("stopped", "2026-02-03 11:00", deadline=local("2026-01-30 16:00"))]
    assert outcomes(events, zone_of) == [breached("2026-01")]


def test_a_breach_not_yet_stopped_counts_as_breached() -> None:
    events = [sla("started", "2026-01-28 10:00"), sla("breach", "2026-01-30 16:00")]
    assert outcomes(events, zone_of) == [breached("2026-01")]


def test_pausing_a_breached_cycle_leaves_it_breached() -> None:
    events = [
        sla("breach", "2026-01-30 16:00"),
        sla("paused", "2026-02-02 10:00"),
        sla("resumed", "2026-02-03 10:00"),
        sla("paused", "2026-02-04 10:00"),
    ]
    assert outcomes(events, zone_of) == [breached("2026-01")]


@pytest.mark.parametrize(
    "kinds",
    [
        ["started"],
        ["started", "warning", "paused"],
        ["started", "paused", "resumed"],
        ["started", "cancelled"],
        ["started", "met", "resumed"],  # reopened: the met no longer stands
    ],
)
def test_cycles_without_a_standing_outcome_are_not_counted(kinds: list[str]) -> None:
    events = [sla(kind, f"2026-01-{12 + day} 10:00") for day, kind in enumerate(kinds)]
    assert outcomes(events, zone_of) == []


def test_a_reopened_cycle_counts_by_its_next_outcome() -> None:
    met_again = [
        sla("met", "2026-01-30 10:00"),
        sla("resumed", "2026-01-30 15:00"),
        sla("met", "2026-02-02 10:00"),
    ]
    breached_after = [*met_again[:2], sla("breach", "2026-02-03 10:00")]
    assert outcomes(met_again, zone_of) == [met("2026-02")]
    assert outcomes(breached_after, zone_of) == [breached("2026-02")]


def test_excluded_cycles_are_not_counted_and_the_newest_event_says_so() -> None:
    excluded_breach = [sla("breach", "2026-01-30 16:00", excluded=True)]
    learnt_later = [
        sla("breach", "2026-01-30 16:00"),
        sla("stopped", "2026-02-03 11:00", deadline=local("2026-01-30 16:00"), excluded=True),
    ]
    no_longer = [
        sla("started", "2026-01-29 10:00", excluded=True),
        sla("met", "2026-01-30 10:00"),
    ]
    assert outcomes(excluded_breach, zone_of) == []
    assert outcomes(learnt_later, zone_of) == []
    assert outcomes(no_longer, zone_of) == [met("2026-01")]


def test_a_breach_under_one_policy_stopped_under_another_counts_once_for_the_last() -> None:
    events = [
        sla("breach", "2026-01-30 16:00", policy="basic"),
        sla("stopped", "2026-02-03 11:00", policy="premium", deadline=local("2026-01-30 16:00")),
    ]
    assert outcomes(events, zone_of) == [breached("2026-01", policy="premium")]


def test_cycles_count_apart_by_ticket_metric_and_cycle_number() -> None:
    events = [
        sla("met", "2026-01-12 10:00", ticket="T1"),
        sla("met", "2026-01-12 10:00", ticket="T2"),
        sla("breach", "2026-01-13 10:00", ticket="T2", metric="resolution"),
        sla("breach", "2026-01-14 10:00", ticket="T2", metric="next_response", cycle=1),
        sla("met", "2026-01-15 10:00", ticket="T2", metric="next_response", cycle=2),
    ]
    assert sorted(outcomes(events, zone_of), key=repr) == sorted(
        [
            met("2026-01"),
            met("2026-01"),
            breached("2026-01", metric="resolution"),
            breached("2026-01", metric="next_response"),
            met("2026-01", metric="next_response"),
        ],
        key=repr,
    )


def test_the_outcome_is_read_in_event_time_whatever_order_events_are_given_in() -> None:
    # A consumer may hold a reopen's met republished after a later-dated event.
    events = [sla("met", "2026-02-02 10:00"), sla("resumed", "2026-01-30 15:00")]
    events.insert(0, sla("met", "2026-01-30 10:00"))
    assert outcomes(list(reversed(events)), zone_of) == [met("2026-02")]


# -- with the engine: Ticket.published is net of retractions ---------------------------------


def _published(history: History, until: str, late: int | None = None) -> list[SlaEvent]:
    """Deliver the history (event ``late`` last) with the clock at the latest time seen."""
    events = history.events[:]
    if late is not None:
        events.append(events.pop(late))
    engine, clock = Engine(POLICIES), events[0].occurred_at
    for event in events:
        clock = max(clock, event.occurred_at)
        engine.receive(event, clock)
    engine.advance(local(until))
    [ticket_state] = engine.tickets.values()
    return list(ticket_state.published.values())


def _policy_zone(calendar: str) -> tzinfo:
    return POLICIES.calendars[calendar].zone


def test_a_retracted_breach_followed_by_a_met_counts_as_met() -> None:
    history = ticket()  # created Fri 2026-01-09 16:00; first response due Tue 2026-01-13 16:00
    history.add("2026-01-13 15:00", "agent_reply")  # before the deadline, but arrives late
    history.add("2026-01-14 10:00", "customer_reply")  # moves the clock past the deadline
    published = _published(history, until="2026-01-14 12:00", late=1)
    kinds = {(e.metric, e.type) for e in published}
    # The breach was published, then retracted: neither it nor the retraction stays.
    assert ("first_response", SlaEventType.BREACH) not in kinds
    assert not any(e.type is SlaEventType.RETRACTED for e in published)
    assert outcomes(published, _policy_zone) == [met("2026-01")]


def test_an_answer_after_the_deadline_counts_one_breach_in_the_deadline_month() -> None:
    history = ticket()
    history.add("2026-02-03 10:00", "agent_reply")
    published = _published(history, until="2026-02-04 00:00")
    first, resolution = verdicts(published, _policy_zone)
    assert first.outcome == breached("2026-01")
    assert (first.event.type, first.at) == (SlaEventType.STOPPED, local("2026-01-13 16:00"))
    assert resolution.outcome == breached("2026-01", metric="resolution")  # 24h, still open


def _conversation() -> History:
    history = ticket()
    history.add("2026-01-12 10:00", "agent_reply")
    history.add("2026-01-12 11:00", "customer_reply")
    history.add("2026-01-12 12:00", "status_change", status="pending")
    history.add("2026-01-13 09:00", "status_change", status="open")
    history.add("2026-01-14 11:00", "agent_reply")
    history.add("2026-01-15 11:00", "status_change", status="solved")
    history.add("2026-01-30 11:00", "status_change", status="open")
    history.add("2026-02-02 11:00", "status_change", status="solved")
    return history


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_late_arrivals_converge_to_the_compliance_of_the_in_order_stream(
    rng: random.Random,
) -> None:
    """Whatever order the events arrive in (retractions undoing what late ones disprove),
    the net published set counts the same outcomes as the in-order stream."""
    in_order = _conversation()
    expected = outcomes(_published(in_order, until="2026-02-10 00:00"), _policy_zone)
    shuffled = _conversation()
    rng.shuffle(shuffled.events)
    assert outcomes(_published(shuffled, until="2026-02-10 00:00"), _policy_zone) == expected
    assert expected  # the conversation has outcomes: this compares something


# -- the tally ------------------------------------------------------------------------------


def test_rows_count_met_and_breached_with_their_attainment() -> None:
    tally = Tally()
    tally.add([met("2026-01")] * 3 + [breached("2026-01"), met("2026-02")])
    tally.add([breached("2026-01", metric="resolution")])
    assert tally.rows() == [
        Row("support", "first_response", "2026-01", met=3, breached=1),
        Row("support", "first_response", "2026-02", met=1, breached=0),
        Row("support", "resolution", "2026-01", met=0, breached=1),
    ]
    assert [row.attainment for row in tally.rows()] == [0.75, 1.0, 0.0]


def test_removing_what_was_never_added_fails_and_changes_nothing() -> None:
    tally = Tally()
    tally.add([met("2026-01")])
    with pytest.raises(ValueError, match="never added"):
        tally.remove([met("2026-01"), breached("2026-01")])
    assert tally.rows() == [Row("support", "first_response", "2026-01", met=1, breached=0)]


@pytest.mark.parametrize(
    ("met_count", "breached_count", "target", "meets"),
    [
        (49, 1, 0.98, True),  # exactly 98%: 0.98 as a float is a hair below 0.98
        (9, 1, 0.9, True),  # exactly 90%: 0.9 as a float is a hair above 0.9
        (124, 1, 0.992, True),  # 99.2%
        (123, 1, 0.992, False),  # 99.19...%
        (0, 3, 0.5, False),
    ],
)
def test_attainment_meets_a_target_exactly_as_written(
    met_count: int, breached_count: int, target: float, meets: bool
) -> None:
    assert Row("p", "m", "2026-01", met_count, breached_count).meets(target) is meets


outcome_lists = st.lists(
    st.builds(
        Outcome,
        policy=st.sampled_from(["westock-essential", "istockist"]),
        metric=st.sampled_from(["first_response", "resolution"]),
        month=st.sampled_from(["2026-01", "2026-02", "2026-03"]),
        met=st.booleans(),
    ),
    max_size=30,
)


@given(outcome_lists, outcome_lists)
def test_adding_then_removing_a_tickets_outcomes_leaves_the_others(
    kept: list[Outcome], passing: list[Outcome]
) -> None:
    tally, alone = Tally(), Tally()
    alone.add(kept)
    tally.add(passing)
    tally.add(kept)
    tally.remove(passing)
    assert tally.rows() == alone.rows()
    tally.remove(kept)
    assert tally.rows() == []


@given(st.lists(outcome_lists, max_size=8), st.randoms(use_true_random=False))
def test_the_order_tickets_are_tallied_in_does_not_matter(
    tickets: list[list[Outcome]], rng: random.Random
) -> None:
    forward, shuffled = Tally(), Tally()
    for found in tickets:
        forward.add(found)
    rng.shuffle(tickets)
    for found in tickets:
        shuffled.add(found)
    rows = forward.rows()
    assert rows == shuffled.rows()
    everything = [outcome for found in tickets for outcome in found]
    assert sum(row.met for row in rows) == sum(outcome.met for outcome in everything)
    assert sum(row.met + row.breached for row in rows) == len(everything)


ZONE_NAMES = ["America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]


@settings(max_examples=300)
@given(
    instant=st.integers(1_700_000_000_000_000, 1_900_000_000_000_000),
    zone=st.sampled_from(ZONE_NAMES),
)
def test_the_cached_month_is_the_month_of_the_instant_itself(instant: int, zone: str) -> None:
    local_time = to_datetime(instant).astimezone(ZoneInfo(zone))
    assert month_of(instant, ZoneInfo(zone)) == f"{local_time.year:04d}-{local_time.month:02d}"
