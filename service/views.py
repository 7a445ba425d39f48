"""What ``GET /tickets/{tenant}/{ticket_id}`` answers: every clock of a ticket, at an instant."""

from typing import Any

from service.core.cycle import Cycle
from service.core.instant import Instant, format_instant, to_seconds
from service.core.ticket import Ticket


def ticket_state(ticket: Ticket, now: Instant) -> dict[str, Any]:
    clocks = ticket.clocks
    body: dict[str, Any] = {
        "tenant": ticket.tenant,
        "ticket_id": ticket.ticket_id,
        "as_of": format_instant(now),
        "events": len(ticket.log),
        "created": clocks is not None and clocks.created_at is not None,
    }
    if clocks is None:
        return {**body, "status": None, "policy": None, "clocks": []}
    policy = clocks.policy
    return {
        **body,
        "status": clocks.status,
        "attributes": dict(clocks.attributes),
        "policy": policy.name if policy else None,
        "policy_version": policy.version if policy else None,
        "clocks": [clock_state(cycle, now) for cycle in clocks.cycles.values()],
    }


def clock_state(cycle: Cycle, now: Instant) -> dict[str, Any]:
    at = cycle.closed_at if cycle.closed_at is not None else now
    elapsed = cycle.elapsed(at)
    deadline = cycle.deadline()
    return {
        "metric": cycle.metric,
        "cycle": cycle.number,
        "state": cycle.state,
        "breached": cycle.breached,
        "policy": cycle.policy.name,
        "policy_version": cycle.policy.version,
        "calendar": cycle.target.calendar.name,
        "started_at": format_instant(cycle.started_at),
        "target_seconds": to_seconds(cycle.target.breach_after),
        "deadline": format_instant(deadline) if deadline is not None else None,
        "elapsed_business_seconds": to_seconds(elapsed),
        "remaining_business_seconds": to_seconds(cycle.remaining(at)),
        "closed_at": format_instant(cycle.closed_at) if cycle.closed_at is not None else None,
    }
