"""SLA clocks (docs/semantics.md), one behaviour per test, on a 9-5 New York office calendar."""

from service.core.instant import HOUR
from service.policyfile import load_policy_text

from ..scenario import History, brief, run, show

OFFICE = """
calendars:
  office:
    timezone: America/New_York
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: {country: US}
  always: {timezone: UTC, hours: 24x7}
"""

POLICIES = load_policy_text(
    OFFICE
    + """
policies:
  - name: support
    calendar: office
    pause_statuses: [pending]
    resolved_statuses: [solved, closed]
    clocks:
      - metric: first_response
        pausable: false
        targets:
          - {match: {priority: critical}, breach_after: 1h, calendar: always, warn_at: [50%]}
          - {breach_after: 2d, warn_at: [8h, "-1h"]}
      - metric: next_response
        targets: [{breach_after: 4h}]
      - metric: periodic_update
        targets: [{match: {priority: critical}, breach_after: 4h, calendar: always}]
      - metric: resolution
        targets:
          - {match: {priority: critical}, breach_after: 4h, calendar: always}
          - {match: {priority: high}, breach_after: 8h}
          - {breach_after: 24h}
"""
)


def ticket(**attributes: object) -> History:
    history = History()
    history.add(
        "2026-01-09 16:00", "ticket_created", attributes=attributes or {"priority": "normal"}
    )
    return history


def test_ticket_created_friday_4pm_first_response_breaches_tuesday_4pm() -> None:
    out = brief(run(POLICIES, ticket().events, until="2026-01-13 16:00"))
    assert ("breach", "first_response", "Tue 2026-01-13 16:00") in out
    assert ("warning", "first_response", "Mon 2026-01-12 16:00", "8h") in out
    assert ("warning", "first_response", "Tue 2026-01-13 15:00", "-1h") in out


def test_first_agent_reply_before_deadline_is_met_and_stops_warnings() -> None:
    history = ticket()
    history.add("2026-01-12 10:00", "agent_reply")
    out = brief(run(POLICIES, history.events, until="2026-01-20 00:00"))
    assert ("met", "first_response", "Mon 2026-01-12 10:00") in out
    assert not [e for e in out if e[1] == "first_response" and e[0] in ("warning", "breach")]


def test_automated_or_private_replies_never_stop_a_response_clock() -> None:
    history = ticket()
    history.add("2026-01-09 17:01", "first_response", automated=True)
    history.add("2026-01-12 09:30", "agent_reply", automated=True)
    history.add("2026-01-12 09:45", "agent_reply", public=False)
    out = brief(run(POLICIES, history.events, until="2026-01-13 16:00"))
    assert ("breach", "first_response", "Tue 2026-01-13 16:00") in out
    assert not [e for e in out if e[0] == "met"]


def test_first_response_stopped_after_breach_is_reported_stopped() -> None:
    history = ticket()
    history.add("2026-01-14 09:00", "first_response")
    out = brief(run(POLICIES, history.events))
    assert out[-1] == ("stopped", "first_response", "Wed 2026-01-14 09:00")


def test_reply_exactly_at_the_deadline_comes_after_the_breach() -> None:
    """docs/semantics.md: a deadline reached at the very instant of an event is reached; the event
    applies after it (as a pause or a resolve at that instant does)."""
    history = ticket()
    history.add("2026-01-13 16:00", "agent_reply")
    out = brief(run(POLICIES, history.events))
    assert out[-2:] == [
        ("breach", "first_response", "Tue 2026-01-13 16:00"),
        ("stopped", "first_response", "Tue 2026-01-13 16:00"),
    ]


def test_reply_a_second_before_the_deadline_is_met() -> None:
    history = ticket()
    history.add("2026-01-13 15:59:59", "agent_reply")
    out = brief(run(POLICIES, history.events))
    assert ("met", "first_response", "Tue 2026-01-13 15:59") in out
    assert not [e for e in out if e[0] == "breach"]


def test_critical_ticket_counts_around_the_clock() -> None:
    out = run(POLICIES, ticket(priority="critical").events, until="2026-01-10 00:00")
    breaches = {e.metric: show(e.occurred_at) for e in out if e.type == "sla.breach"}
    assert breaches == {
        "first_response": "Fri 2026-01-09 17:00",
        "resolution": "Fri 2026-01-09 20:00",
    }


def test_pending_pauses_resolution_but_not_an_unpausable_first_response() -> None:
    history = ticket()
    history.add("2026-01-12 10:00", "status_change", status="pending")
    history.add("2026-01-12 14:00", "status_change", status="open")
    out = run(POLICIES, history.events, until="2026-01-20 00:00")
    breaches = {e.metric: show(e.deadline) for e in out if e.type == "sla.breach"}
    # resolution: 24h from Fri 16:00 is Wed 16:00; paused 4 business hours moves it to Thu 12:00.
    assert breaches == {
        "first_response": "Tue 2026-01-13 16:00",
        "resolution": "Thu 2026-01-15 12:00",
    }
    paused = [e for e in out if e.type == "sla.paused"]
    assert [(e.metric, e.elapsed) for e in paused] == [("resolution", 2 * HOUR)]


def test_created_in_a_pause_status_starts_paused() -> None:
    history = History()
    history.add("2026-01-12 09:00", "ticket_created", status="pending")
    history.add("2026-01-12 13:00", "status_change", status="open")
    out = run(POLICIES, history.events, until="2026-01-20 00:00")
    breach = next(e for e in out if e.type == "sla.breach" and e.metric == "resolution")
    assert show(breach.occurred_at) == "Thu 2026-01-15 13:00"


def test_next_response_starts_on_customer_reply_after_first_response() -> None:
    history = ticket()
    history.add("2026-01-12 09:00", "customer_reply")  # before any response: first response owes it
    history.add("2026-01-12 10:00", "agent_reply")
    history.add("2026-01-12 11:00", "customer_reply")
    history.add("2026-01-12 11:30", "customer_reply")  # a cycle is already running
    history.add("2026-01-12 13:00", "agent_reply")
    history.add("2026-01-12 16:00", "customer_reply")
    out = brief(
        e
        for e in run(POLICIES, history.events, until="2026-01-20 00:00")
        if e.metric == "next_response"
    )
    assert out == [
        ("started", "next_response", "Mon 2026-01-12 11:00"),
        ("met", "next_response", "Mon 2026-01-12 13:00"),
        ("started", "next_response", "Mon 2026-01-12 16:00"),
        ("breach", "next_response", "Tue 2026-01-13 12:00"),
    ]


def test_periodic_update_restarts_with_every_public_reply() -> None:
    history = ticket(priority="critical")
    history.add("2026-01-09 16:30", "agent_reply")
    history.add("2026-01-09 19:00", "agent_reply")
    out = [
        e
        for e in run(POLICIES, history.events, until="2026-01-10 00:00")
        if e.metric == "periodic_update"
    ]
    assert [(e.type, e.cycle, show(e.occurred_at)) for e in out] == [
        ("sla.started", 1, "Fri 2026-01-09 16:30"),
        ("sla.met", 1, "Fri 2026-01-09 19:00"),
        ("sla.started", 2, "Fri 2026-01-09 19:00"),
        ("sla.breach", 2, "Fri 2026-01-09 23:00"),
    ]


def test_resolving_before_a_first_response_cancels_it() -> None:
    history = ticket()
    history.add("2026-01-12 10:00", "status_change", status="solved")
    out = brief(run(POLICIES, history.events, until="2026-01-20 00:00"))
    assert ("cancelled", "first_response", "Mon 2026-01-12 10:00") in out
    assert ("met", "resolution", "Mon 2026-01-12 10:00") in out
    assert not [e for e in out if e[0] in ("breach", "warning")]


def test_reopen_resumes_resolution_with_its_elapsed_time() -> None:
    history = ticket()
    history.add("2026-01-09 16:30", "agent_reply")
    history.add("2026-01-12 13:00", "status_change", status="solved")  # 5h counted
    history.add("2026-01-14 09:00", "status_change", status="open")
    out = [
        e
        for e in run(POLICIES, history.events, until="2026-01-20 00:00")
        if e.metric == "resolution"
    ]
    assert [(e.type, e.cycle, show(e.occurred_at), e.elapsed // HOUR) for e in out] == [
        ("sla.started", 1, "Fri 2026-01-09 16:00", 0),
        ("sla.met", 1, "Mon 2026-01-12 13:00", 5),
        ("sla.resumed", 1, "Wed 2026-01-14 09:00", 5),
        ("sla.breach", 1, "Fri 2026-01-16 12:00", 24),
    ]


def test_a_ticket_solved_while_pending_resumes_once_when_it_reopens() -> None:
    history = ticket()
    history.add("2026-01-09 16:30", "agent_reply")
    history.add("2026-01-12 11:00", "status_change", status="pending")  # 3h counted
    history.add("2026-01-12 13:00", "status_change", status="solved")
    history.add("2026-01-14 09:00", "status_change", status="open")
    out = [
        e
        for e in run(POLICIES, history.events, until="2026-01-20 00:00")
        if e.metric == "resolution"
    ]
    assert [(e.type, show(e.occurred_at), e.elapsed // HOUR) for e in out] == [
        ("sla.started", "Fri 2026-01-09 16:00", 0),
        ("sla.paused", "Mon 2026-01-12 11:00", 3),
        ("sla.met", "Mon 2026-01-12 13:00", 3),
        ("sla.resumed", "Wed 2026-01-14 09:00", 3),
        ("sla.breach", "Fri 2026-01-16 14:00", 24),
    ]


def test_a_ticket_solved_while_pending_and_reopened_pending_resumes_then_pauses() -> None:
    history = ticket()
    history.add("2026-01-09 16:30", "agent_reply")
    history.add("2026-01-12 11:00", "status_change", status="pending")
    history.add("2026-01-12 13:00", "status_change", status="solved")
    history.add("2026-01-14 09:00", "status_change", status="pending")
    out = [
        (e.type, show(e.occurred_at))
        for e in run(POLICIES, history.events, until="2026-01-20 00:00")
        if e.metric == "resolution"
    ]
    assert out[-2:] == [
        ("sla.resumed", "Wed 2026-01-14 09:00"),
        ("sla.paused", "Wed 2026-01-14 09:00"),
    ]


def test_reopen_with_new_cycle_starts_counting_from_zero() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: cycles
    calendar: office
    clocks:
      - {metric: resolution, on_reopen: new_cycle, targets: [{breach_after: 2h}]}
"""
    )
    history = ticket()
    history.add("2026-01-12 09:00", "status_change", status="solved")
    history.add("2026-01-12 10:00", "status_change", status="open")
    out = [
        (e.type, e.cycle, show(e.occurred_at))
        for e in run(policies, history.events, until="2026-01-20 00:00")
    ]
    assert out == [
        ("sla.started", 1, "Fri 2026-01-09 16:00"),
        ("sla.met", 1, "Mon 2026-01-12 09:00"),
        ("sla.started", 2, "Mon 2026-01-12 10:00"),
        ("sla.breach", 2, "Mon 2026-01-12 12:00"),
    ]


def test_priority_downgrade_recomputes_with_the_new_target() -> None:
    history = ticket(priority="high")  # 8h resolution: Tue 15:00
    history.add("2026-01-12 10:00", "attribute_change", attributes={"priority": "normal"})
    out = [
        e
        for e in run(POLICIES, history.events, until="2026-01-30 00:00")
        if e.metric == "resolution"
    ]
    assert [(e.type, show(e.occurred_at), e.cycle) for e in out] == [
        ("sla.started", "Fri 2026-01-09 16:00", 1),
        ("sla.breach", "Wed 2026-01-14 16:00", 1),  # 24h from the same start
    ]


def test_upgrade_past_the_new_target_breaches_at_the_change() -> None:
    history = ticket()  # 24h resolution; 6h counted by Mon 14:00
    history.add("2026-01-12 14:00", "attribute_change", attributes={"priority": "critical"})
    out = [
        e
        for e in run(POLICIES, history.events, until="2026-01-30 00:00")
        if e.metric == "resolution"
    ]
    breach = next(e for e in out if e.type == "sla.breach")
    assert show(breach.occurred_at) == "Mon 2026-01-12 14:00"
    assert breach.calendar == "always"


def test_restart_on_target_change_starts_a_fresh_cycle() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: restarting
    calendar: office
    clocks:
      - metric: resolution
        on_target_change: restart
        targets: [{match: {priority: high}, breach_after: 2h}, {breach_after: 8h}]
"""
    )
    history = ticket(priority="high")
    history.add("2026-01-12 09:30", "attribute_change", attributes={"priority": "normal"})
    out = [
        (e.type, e.cycle, show(e.occurred_at))
        for e in run(policies, history.events, until="2026-01-30 00:00")
    ]
    assert out == [
        ("sla.started", 1, "Fri 2026-01-09 16:00"),
        ("sla.cancelled", 1, "Mon 2026-01-12 09:30"),
        ("sla.started", 2, "Mon 2026-01-12 09:30"),
        ("sla.breach", 2, "Tue 2026-01-13 09:30"),
    ]


def test_each_warning_fires_once_per_cycle() -> None:
    history = ticket()
    history.add("2026-01-12 16:30", "status_change", status="pending")
    history.add("2026-01-12 16:45", "status_change", status="open")
    out = [
        e.threshold
        for e in run(POLICIES, history.events, until="2026-01-20 00:00")
        if e.type == "sla.warning"
    ]
    assert out == ["8h", "-1h"]


def test_custom_clock_runs_between_its_start_and_stop_conditions() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: workaround
    calendar: office
    clocks:
      - metric: workaround
        start_on: [{type: ticket_created}]
        stop_on: [{type: attribute_change, attributes: {priority: [high, normal]}}]
        targets: [{breach_after: 6h, calendar: always, warn_at: [2h]}]
"""
    )
    history = ticket(priority="critical")
    history.add("2026-01-09 19:00", "attribute_change", attributes={"priority": "high"})
    out = brief(run(policies, history.events, until="2026-01-30 00:00"))
    assert out == [
        ("started", "workaround", "Fri 2026-01-09 16:00"),
        ("warning", "workaround", "Fri 2026-01-09 18:00", "2h"),
        ("met", "workaround", "Fri 2026-01-09 19:00"),
    ]


def test_attribute_change_to_another_policy_moves_the_clocks() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: vip
    match: {plan: vip}
    calendar: always
    clocks: [{metric: resolution, targets: [{breach_after: 2h}]}]
  - name: standard
    calendar: office
    clocks:
      - {metric: first_response, targets: [{breach_after: 8h}]}
      - {metric: resolution, targets: [{breach_after: 40h}]}
"""
    )
    history = ticket(plan="basic")
    history.add("2026-01-09 20:00", "attribute_change", attributes={"plan": "vip"})
    out = [
        (e.type, e.metric, e.policy, show(e.occurred_at))
        for e in run(policies, history.events, until="2026-01-30 00:00")
    ]
    assert out == [
        ("sla.started", "first_response", "standard", "Fri 2026-01-09 16:00"),
        ("sla.started", "resolution", "standard", "Fri 2026-01-09 16:00"),
        ("sla.cancelled", "first_response", "standard", "Fri 2026-01-09 20:00"),
        # 1h counted in office hours, then 1h more around the clock.
        ("sla.breach", "resolution", "vip", "Fri 2026-01-09 21:00"),
    ]


def test_ticket_no_policy_matches_has_no_clocks() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: only-vip
    match: {plan: vip}
    calendar: office
    clocks: [{metric: resolution, targets: [{breach_after: 1h}]}]
"""
    )
    assert run(policies, ticket(plan="basic").events, until="2026-01-30 00:00") == []


def test_met_event_reports_elapsed_and_deadline() -> None:
    history = ticket()
    history.add("2026-01-12 11:00", "agent_reply")
    met = next(e for e in run(POLICIES, history.events) if e.type == "sla.met")
    assert met.elapsed == 3 * HOUR
    assert show(met.deadline) == "Tue 2026-01-13 16:00"
    assert met.caused_by == "T1-2"


CATEGORIES = load_policy_text(
    OFFICE
    + """
policies:
  - name: by-category
    calendar: office
    pause_statuses: [pending]
    clocks:
      - metric: resolution
        targets: [{match: {category: payment}, breach_after: 8h, warn_at: ["75%"]}]
      - metric: first_response
        on_target_change: restart
        targets: [{match: {category: payment}, breach_after: 2h}]
"""
)


def test_target_appearing_later_starts_an_owed_clock_counting_from_creation() -> None:
    history = History()
    history.add("2026-01-12 09:00", "ticket_created", attributes={"category": "unknown"})
    history.add("2026-01-12 10:00", "status_change", status="pending")
    history.add("2026-01-12 11:00", "status_change", status="open")
    history.add("2026-01-12 12:00", "attribute_change", attributes={"category": "payment"})
    out = run(CATEGORIES, history.events, until="2026-01-20 00:00")
    resolution = [
        (e.type, show(e.occurred_at), e.elapsed // HOUR) for e in out if e.metric == "resolution"
    ]
    # 1h open before the pause, paused 10-11, 1h more: 2h counted at 12:00; 8h at Tue 10:00.
    assert resolution == [
        ("sla.started", "Mon 2026-01-12 12:00", 2),
        ("sla.warning", "Mon 2026-01-12 16:00", 6),
        ("sla.breach", "Tue 2026-01-13 10:00", 8),
    ]
    # ``restart`` starts the owed clock at the change instead.
    response = next(e for e in out if e.metric == "first_response" and e.type == "sla.breach")
    assert show(response.occurred_at) == "Mon 2026-01-12 14:00"


def test_warning_of_a_new_target_fires_after_a_recompute() -> None:
    history = ticket(priority="high")
    history.add("2026-01-12 10:00", "agent_reply")
    history.add("2026-01-12 14:00", "attribute_change", attributes={"priority": "normal"})
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: retarget
    calendar: office
    clocks:
      - metric: resolution
        targets:
          - {match: {priority: high}, breach_after: 8h, warn_at: ["50%"]}
          - {breach_after: 16h, warn_at: ["50%"]}
"""
    )
    warnings = [
        show(e.occurred_at)
        for e in run(policies, history.events, until="2026-01-30 00:00")
        if e.type == "sla.warning"
    ]
    # 50% of 8h: 1h on Friday + 3h, Mon 12:00; after the downgrade 50% of 16h: Mon 16:00.
    assert warnings == ["Mon 2026-01-12 12:00", "Mon 2026-01-12 16:00"]


def test_custom_clock_can_start_when_an_attribute_becomes_a_value() -> None:
    policies = load_policy_text(
        OFFICE
        + """
policies:
  - name: escalations
    calendar: office
    clocks:
      - metric: escalation
        start_on:
          - {type: ticket_created, attributes: {priority: critical}}
          - {type: attribute_change, changes: {priority: critical}}
        stop_on: [{type: attribute_change, changes: {priority: [high, normal]}}]
        targets: [{breach_after: 2h, calendar: always}]
"""
    )
    history = ticket(priority="normal")
    history.add("2026-01-09 17:00", "attribute_change", attributes={"priority": "critical"})
    history.add("2026-01-09 18:00", "attribute_change", attributes={"subject": "still broken"})
    history.add("2026-01-09 18:30", "attribute_change", attributes={"priority": "high"})
    out = brief(run(policies, history.events, until="2026-01-30 00:00"))
    assert out == [
        ("started", "escalation", "Fri 2026-01-09 17:00"),
        ("met", "escalation", "Fri 2026-01-09 18:30"),
    ]
