"""Re-targeting (docs/semantics.md, target change): after an attribute change, each open cycle
takes the target its rule selects now. ``recompute`` keeps the cycle's start and the time it
counted, ``restart`` cancels it and starts a new one; a cycle no target applies to any more is
cancelled."""

from .cycle import Cycle
from .events import SlaEvent, TicketEvent
from .policy import ClockRule, OnTargetChange
from .transitions import ClockState


def retarget_all(clocks: ClockState, event: TicketEvent) -> list[SlaEvent]:
    """Each open cycle under its own rule (the policy is unchanged)."""
    out: list[SlaEvent] = []
    for cycle in list(clocks.cycles.values()):
        if cycle.is_open:
            out += retarget(clocks, cycle, cycle.rule, event)
    return out


def retarget(
    clocks: ClockState, cycle: Cycle, rule: ClockRule, event: TicketEvent
) -> list[SlaEvent]:
    """One open cycle under ``rule`` (its own, or the same metric's in another policy)."""
    assert clocks.policy is not None
    target = rule.select_target(clocks.facts)
    if target is cycle.target and rule is cycle.rule:
        return []
    if target is None:
        return clocks.cancel(cycle, event)
    if rule.on_target_change is OnTargetChange.RESTART:
        return clocks.cancel(cycle, event) + clocks.start(rule, event)
    cycle.retarget(event.occurred_at, target, rule, clocks.policy)
    return []
