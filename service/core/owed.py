"""Owed clocks (docs/semantics.md): a first response or resolution the ticket is owed and that
is not running starts, after a re-target, a policy switch or a reopen. It is owed when no
target matched until now (the category was set after creation), when the one that ran was
cancelled and a target applies again, or when the ticket reopened unanswered. Nothing starts
on a resolved ticket.

Under ``restart`` it starts at the event; under ``recompute`` it counts from the start of the
clock, as if it had run all along.
"""

from .cycle import Cycle
from .events import SlaEvent, TicketEvent
from .policy import ClockRule, Metric, OnTargetChange
from .transitions import ClockState


def start_owed(clocks: ClockState, event: TicketEvent) -> list[SlaEvent]:
    """Start each first response or resolution owed and not running, if a target applies."""
    if clocks.policy is None or clocks.resolved:
        return []
    out: list[SlaEvent] = []
    for rule in clocks.policy.clocks:
        if rule.metric == Metric.FIRST_RESPONSE:
            owed = not clocks.first_responded
        else:
            owed = rule.metric == Metric.RESOLUTION
        current = clocks.cycles.get(rule.metric)
        if not owed or (current is not None and current.is_open):
            continue
        if rule.select_target(clocks.facts) is None:
            continue
        if rule.on_target_change is OnTargetChange.RESTART:
            out += clocks.start(rule, event)
        else:
            out += _start_recomputed(clocks, rule, current, event)
    return out


def _start_recomputed(
    clocks: ClockState, rule: ClockRule, previous: Cycle | None, event: TicketEvent
) -> list[SlaEvent]:
    """``recompute`` for a clock that starts at creation: the cycle keeps the start of the
    clock (the ticket's creation, or the start of the cycle that ended) and counts the
    business time the ticket was open (and, if pausable, not paused) since then."""
    assert clocks.policy is not None and clocks.created_at is not None
    target = rule.select_target(clocks.facts)
    assert target is not None
    origin = previous.started_at if previous is not None else clocks.created_at
    at, counted = event.occurred_at, 0
    statuses = clocks.statuses
    bounds = [*statuses[1:], (at, clocks.status)]
    for (start, status), (end, _) in zip(statuses, bounds, strict=True):
        paused = rule.pausable and status in clocks.policy.pause_statuses
        if end > origin and not paused and not clocks.is_resolved(status):
            counted += target.calendar.between(max(start, origin), min(end, at))
    number = previous.number + 1 if previous is not None else 1
    cycle = Cycle(rule, clocks.policy, number, target, origin, at, counted)
    return clocks.open_cycle(cycle, event)
