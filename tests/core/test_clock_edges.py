"""docs/semantics.md at its edges, on the seed contracts: reopen after a cancellation, targets that
change while a ticket is resolved or disappear and come back, clocks owed on a resolved
ticket, a deadline reached at the very instant of a pause, and ``first_response`` as the
first reply for every clock."""

from pathlib import Path
from zoneinfo import ZoneInfo

from service.core.events import SlaEvent
from service.core.instant import HOUR
from service.policyfile import load_policies

from ..scenario import NEW_YORK, History, brief, run

SEEDS = load_policies(Path(__file__).parents[2] / "deploy" / "policies")
MADRID = ZoneInfo("Europe/Madrid")
KOLKATA = ZoneInfo("Asia/Kolkata")
BRATISLAVA = ZoneInfo("Europe/Bratislava")


def of(out: list[SlaEvent], metric: str, zone: ZoneInfo = NEW_YORK) -> list[tuple[str, ...]]:
    return [event for event in brief(out, zone) if event[1] == metric]


def westock_payment() -> History:
    history = History(tenant="westock")
    history.add(
        "2026-01-12 09:00",
        "ticket_created",
        attributes={"tier": "essential", "category": "payment"},
    )
    return history


def test_reopen_does_not_resume_a_resolution_cycle_cancelled_before_it_was_solved() -> None:
    history = westock_payment()
    history.add("2026-01-12 10:00", "attribute_change", attributes={"category": "general"})
    history.add("2026-01-12 11:00", "status_change", status="solved")
    history.add("2026-01-12 12:00", "status_change", status="open")
    out = run(SEEDS, history.events, until="2026-02-28 00:00")
    assert of(out, "resolution") == [
        ("started", "resolution", "Mon 2026-01-12 09:00"),
        ("cancelled", "resolution", "Mon 2026-01-12 10:00"),
    ]


def test_target_changed_while_solved_applies_when_the_ticket_reopens() -> None:
    history = westock_payment()
    history.add("2026-01-12 10:00", "status_change", status="solved")
    history.add("2026-01-12 10:30", "attribute_change", attributes={"category": "technical"})
    history.add("2026-01-12 11:00", "status_change", status="open")
    out = run(SEEDS, history.events, until="2026-02-28 00:00")
    resumed = next(e for e in out if e.type == "sla.resumed" and e.metric == "resolution")
    assert resumed.target == 48 * HOUR
    # 1 h counted before the solve, 47 to go from Monday 11:00 (MLK Day, the 19th, closed);
    # the payment target would have breached on Thursday the 15th at 10:00.
    assert [e for e in of(out, "resolution") if e[0] == "breach"] == [
        ("breach", "resolution", "Wed 2026-01-21 10:00")
    ]


def test_resolution_target_that_disappears_and_comes_back_runs_again() -> None:
    history = westock_payment()
    history.add("2026-01-12 10:00", "attribute_change", attributes={"category": "general"})
    history.add("2026-01-12 11:00", "attribute_change", attributes={"category": "payment"})
    out = run(SEEDS, history.events, until="2026-02-28 00:00")
    resolution = [e for e in out if e.metric == "resolution"]
    assert [(e.type, e.cycle) for e in resolution[:3]] == [
        ("sla.started", 1),
        ("sla.cancelled", 1),
        ("sla.started", 2),
    ]
    # Recompute: the new cycle counts from the ticket's creation, as one set late would.
    assert resolution[2].elapsed == 2 * HOUR
    assert ("breach", "resolution", "Wed 2026-01-14 17:00") in of(out, "resolution")


def test_first_response_owed_again_when_the_account_type_comes_back() -> None:
    history = History(tenant="saleslayer", zone=MADRID)
    history.add("2026-01-12 09:00", "ticket_created", attributes={"account_type": "premium"})
    history.add(
        "2026-01-12 09:30", "attribute_change", attributes={"account_type": "solution_partner"}
    )
    history.add("2026-01-12 10:30", "attribute_change", attributes={"account_type": "premium"})
    out = run(SEEDS, history.events, until="2026-02-28 00:00", zone=MADRID)
    first = [(e.type, e.cycle) for e in out if e.metric == "first_response"]
    assert first[:3] == [("sla.started", 1), ("sla.cancelled", 1), ("sla.started", 2)]
    assert ("sla.breach", 2) in first


def test_blanking_the_tier_for_five_minutes_does_not_end_the_first_response_for_good() -> None:
    history = westock_payment()
    history.add("2026-01-12 10:00", "attribute_change", attributes={"tier": ""})
    history.add("2026-01-12 10:05", "attribute_change", attributes={"tier": "essential"})
    out = run(SEEDS, history.events, until="2026-02-28 00:00")
    assert ("breach", "first_response", "Tue 2026-01-13 17:00") in of(out, "first_response")


def solved_then_enterprise() -> History:
    """Sales Layer: no first response owed (solution partner), solved, then enterprise."""
    history = History(tenant="saleslayer", zone=MADRID)
    history.add(
        "2026-01-12 09:00", "ticket_created", attributes={"account_type": "solution_partner"}
    )
    history.add("2026-01-12 10:00", "status_change", status="solved")
    history.add("2026-01-12 11:00", "attribute_change", attributes={"account_type": "enterprise"})
    return history


def test_no_first_response_clock_starts_on_a_solved_ticket() -> None:
    history = solved_then_enterprise()
    out = run(SEEDS, history.events, until="2026-02-28 00:00", zone=MADRID)
    assert of(out, "first_response") == []


def test_first_response_is_owed_again_when_a_solved_ticket_reopens_unanswered() -> None:
    history = solved_then_enterprise()
    history.add("2026-01-12 12:00", "status_change", status="open")
    out = run(SEEDS, history.events, until="2026-02-28 00:00", zone=MADRID)
    started = next(e for e in out if e.metric == "first_response")
    assert brief([started], MADRID) == [("started", "first_response", "Mon 2026-01-12 12:00")]
    # Recompute from creation: the hour the ticket was open before it was solved counts.
    assert started.elapsed == 1 * HOUR


def test_workaround_clock_does_not_start_on_a_ticket_created_solved() -> None:
    history = History(tenant="commerceup", zone=KOLKATA)
    history.add(
        "2026-01-12 11:00",
        "ticket_created",
        status="solved",
        attributes={"subject": "System Down since noon"},
    )
    out = run(SEEDS, history.events, until="2026-02-28 00:00", zone=KOLKATA)
    assert of(out, "c1_workaround") == []


def test_workaround_clock_does_not_start_when_a_solved_ticket_is_raised_to_c1() -> None:
    history = History(tenant="commerceup", zone=KOLKATA)
    history.add("2026-01-12 11:00", "ticket_created", attributes={"priority": "C3"})
    history.add("2026-01-12 11:30", "agent_reply")
    history.add("2026-01-12 12:00", "status_change", status="solved")
    history.add("2026-01-12 13:00", "attribute_change", attributes={"priority": "C1"})
    out = run(SEEDS, history.events, until="2026-02-28 00:00", zone=KOLKATA)
    assert of(out, "c1_workaround") == []


def test_deadline_reached_at_the_instant_the_ticket_pauses_breaches_then() -> None:
    history = westock_payment()
    history.add("2026-01-12 09:10", "agent_reply")
    history.add("2026-01-14 17:00", "status_change", status="pending")  # 24 business hours
    history.add("2026-01-14 20:00", "status_change", status="open")
    out = run(SEEDS, history.events, until="2026-02-28 00:00")
    assert ("breach", "resolution", "Wed 2026-01-14 17:00") in of(out, "resolution")
    assert not [e for e in of(out, "resolution") if e[0] == "breach" and e[2].endswith("20:00")]


def test_warning_reached_at_the_instant_the_ticket_pauses_fires_then() -> None:
    history = westock_payment()
    history.add("2026-01-12 09:10", "agent_reply")
    history.add("2026-01-14 11:00", "status_change", status="pending")  # 75% of 24 h: 18 h
    history.add("2026-01-14 20:00", "status_change", status="open")
    out = run(SEEDS, history.events, until="2026-01-14 23:00")
    assert ("warning", "resolution", "Wed 2026-01-14 11:00", "75%") in of(out, "resolution")


def test_first_response_event_starts_the_periodic_update_clock() -> None:
    history = History(tenant="liveagent", zone=BRATISLAVA)
    history.add(
        "2026-01-12 10:00",
        "ticket_created",
        attributes={"support_plan": "dedicated", "severity": 1},
    )
    history.add("2026-01-12 10:20", "first_response")
    out = run(SEEDS, history.events, until="2026-01-12 18:00", zone=BRATISLAVA)
    assert of(out, "periodic_update", BRATISLAVA) == [
        ("started", "periodic_update", "Mon 2026-01-12 10:20"),
        ("breach", "periodic_update", "Mon 2026-01-12 14:20"),
    ]


def test_downgrade_after_the_critical_warning_fires_the_medium_warning_too() -> None:
    dublin = ZoneInfo("Europe/Dublin")
    history = History(tenant="istockist", zone=dublin)
    history.add("2026-01-12 09:00", "ticket_created", attributes={"priority": "critical"})
    history.add("2026-01-12 12:30", "attribute_change", attributes={"priority": "medium"})
    out = run(SEEDS, history.events, until="2026-01-12 18:00", zone=dublin)
    assert [e for e in of(out, "first_response", dublin) if e[0] == "warning"] == [
        ("warning", "first_response", "Mon 2026-01-12 12:00", "75%"),  # 3 of 4 hours
        ("warning", "first_response", "Mon 2026-01-12 15:00", "75%"),  # 6 of 8 hours
    ]
