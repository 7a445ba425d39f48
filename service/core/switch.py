"""Policy switches (docs/semantics.md): an attribute change makes another policy (or none)
match the ticket. A metric both policies have keeps its cycle, re-targeted under the new
policy's rule; a metric the new policy lacks is cancelled."""

from .events import SlaEvent, TicketEvent
from .policy import Policy
from .retarget import retarget
from .transitions import ClockState


def switch_policy(clocks: ClockState, policy: Policy | None, event: TicketEvent) -> list[SlaEvent]:
    """Put the ticket under ``policy``: its open cycles re-targeted or cancelled."""
    clocks.policy = policy
    rules = {rule.metric: rule for rule in policy.clocks} if policy else {}
    out: list[SlaEvent] = []
    for metric, cycle in list(clocks.cycles.items()):
        if not cycle.is_open:
            continue
        if metric in rules:
            out += retarget(clocks, cycle, rules[metric], event)
        else:
            out += clocks.cancel(cycle, event)
    return out
